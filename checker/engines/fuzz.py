"""Hypothesis stateful exploration of the model: the `fuzz` engine.

`machine_for(config)` builds a `hypothesis.stateful.RuleBasedStateMachine` from the
model itself - there is no second copy of the semantics:

- one *rule* per action family (FAMILIES: producer, broker_produce, fetch, isr, metadata,
  controller, crash, network, healing, consumer). Its precondition is "the family has an
  enabled action in the current state"; the rule draws one of those enabled actions
  (shrinking towards the first, in the model's fixed successor order) and takes the
  model's own next state for it, exactly as the BFS explorer does. Fine-grained families
  make Hypothesis' swarm testing useful: an execution that disables `fetch` or `healing`
  reaches the lone-leader states where acknowledged data is lost much sooner;
- two Hypothesis *invariants*, `state_invariants` (the selected state invariants of
  `invariants/` on the current state) and `step_invariants` (the step invariants on the
  last transition), each in the catalogue's order - the order `Judge` (BFS, replay) uses,
  so all engines name the same invariant;
- a `quiescent` rule, enabled only when nothing else is (every record acknowledged,
  everything replicated, no perturbation budget left): Hypothesis needs some rule.

The config's bounds still bound every perturbation (the model only enables a crash while
the crash budget lasts); Hypothesis' `stateful_step_count` bounds an execution's length
(and `max_depth`, if the config sets it). Every action taken is recorded, so a failure
becomes an ackcheck trace (`trace_from_actions`) that `ackcheck view` renders and
`replay_on_model` reproduces at the same step.

In a user's test suite::

    from ackcheck.checker.engines.fuzz import machine_for
    from ackcheck.traces.settings import Setting, build_config

    config = build_config([Setting("acks", "all", "test"), Setting("min.insync.replicas", "2", "test")],
                          bounds={"max_records": 3, "max_crashes": 2})
    TestMyCluster = machine_for(config).TestCase      # collected by pytest / unittest
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.control import current_build_context, note
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ackcheck.checker.engines.check import check_invariant_ids, model_for, trace_from_actions
from ackcheck.checker.engines.interrupts import give_back_sigint, take_sigint
from ackcheck.checker.engines.result import Result, Stats
from ackcheck.invariants.catalogue import Judge, select
from ackcheck.model.protocol import Model, action_str
from ackcheck.model.state import observe
from ackcheck.traces.format import ACTIONS, Action, Trace
from ackcheck.traces.perturbations import fuzz_families
from ackcheck.traces.settings import Config

# Action families: one Hypothesis rule each. Every action name of traces/format.py ACTIONS
# belongs to exactly one; a name added to the model later lands in "other" until it is
# placed here (tests/test_fuzz.py checks the mapping covers ACTIONS). The actions that only
# spend a perturbation budget are added to their family from traces/perturbations.py.
FAMILIES: dict[str, tuple[str, ...]] = fuzz_families({
    "producer": ("producer_send", "producer_receive", "producer_timeout", "producer_expire"),
    "broker_produce": ("broker_handle_produce",),
    "fetch": ("follower_fetch", "leader_handle_delayed_fetch"),
    "isr": ("leader_shrink_isr", "controller_alter_partition"),
    "metadata": ("broker_learn",),
    "controller": ("controller_elect",),
    "crash": (),
    "network": (),
    "healing": ("restart", "flush"),
    "consumer": ("consumer_poll", "consumer_reset"),
    "other": (),
})
# Perturbation families are held back for the first `warmup` actions of an execution (a
# number Hypothesis draws per execution, 0..WARMUP_MAX, shrinking to 0) unless nothing else
# is enabled. Without it the fault budget is nearly always spent in the first few steps,
# before any record is in flight, and interleavings such as "acknowledged, then the
# leader crashes" are rare; a search parameter, like swarm testing's, not semantics.
PERTURBATIONS = ("crash", "network")
WARMUP_MAX = 20
FAMILY_OF: dict[str, str] = {name: fam for fam, names in FAMILIES.items() for name in names}

# Hypothesis settings for the CLI and the agreement tests (the TestCase of a user's suite
# gets the same, with the step count left at Hypothesis' default unless given).
DEFAULT_EXAMPLES = 300
DEFAULT_STEPS = 60


def fuzz_settings(examples: int = DEFAULT_EXAMPLES, steps: int = DEFAULT_STEPS, *, quiet: bool = True,
                  **overrides) -> settings:
    kw = {
        "max_examples": examples,
        "stateful_step_count": steps,
        "database": None,  # a run is a function of config, seed and budgets; no hidden replay
        "deadline": None,
        "suppress_health_check": list(HealthCheck),
        "print_blob": False,
        "report_multiple_bugs": False,
        # no explain phase: it re-runs variations of the failure and costs seconds
        "phases": (Phase.explicit, Phase.generate, Phase.shrink),
    }
    if quiet:
        kw["verbosity"] = Verbosity.quiet
    kw.update(overrides)
    return settings(**kw)


class InvariantViolation(AssertionError):
    """Raised by the machine when an invariant breaks; carries what a trace needs."""

    def __init__(self, invariant_id: str, message: str, step: int, actions: tuple[Action, ...],
                 config: Config, invariant_ids: tuple[str, ...]):
        self.invariant = invariant_id
        self.message = message
        self.step = step
        self.actions = actions
        self.config = config
        self.invariant_ids = invariant_ids
        super().__init__(f"{invariant_id} violated after {step} steps: {message}")

    def trace(self) -> Trace:
        return trace_from_actions(self.config, self.actions, list(self.invariant_ids))


class ShrinkingTimeUp(KeyboardInterrupt):
    """Raised by the machine when the shrinking budget of `run_fuzz` is spent. Hypothesis
    aborts a run on KeyboardInterrupt without taking it for a failure or retrying it (its
    documented behaviour), so this stops shrinking with public means only; `run_fuzz`
    catches it (before a real Ctrl-C) and reports the shortest failure seen."""


@dataclass
class Collector:
    """Statistics over every execution Hypothesis runs (for the CLI and the bench)."""

    track_states: bool = True
    examples: int = 0
    steps: int = 0
    idle_steps: int = 0  # quiescent: nothing enabled
    max_depth: int = 0
    fingerprints: set = field(default_factory=set)
    started: float = field(default_factory=time.perf_counter)
    # shrinking budget: from the first failure on, Hypothesis shrinks until this deadline;
    # then the machine stops the run (ShrinkingTimeUp) and the shortest failure seen is kept
    shrink_seconds: float | None = None
    shrink_deadline: float | None = None
    shortest_failure: InvariantViolation | None = None
    # Ctrl-C seen (run_fuzz's handler): raised again at the next example or step, since a
    # KeyboardInterrupt that lands in a garbage-collector callback (Hypothesis keeps one) is
    # printed and dropped by the interpreter, and the run would go on to its last example
    ctrl_c: bool = False

    def failed(self, failure: InvariantViolation) -> None:
        if self.shortest_failure is None:
            if self.shrink_seconds is not None:
                self.shrink_deadline = time.perf_counter() + self.shrink_seconds
        elif len(failure.actions) >= len(self.shortest_failure.actions):
            return
        self.shortest_failure = failure

    def check_stop(self) -> None:
        """At each execution's start: Ctrl-C seen, or the shrinking budget spent."""
        if self.ctrl_c:
            raise KeyboardInterrupt
        if self.shrink_deadline is not None and time.perf_counter() > self.shrink_deadline:
            raise ShrinkingTimeUp()

    def stats(self) -> Stats:
        return Stats(distinct_states=len(self.fingerprints) if self.track_states else 0,
                     transitions=self.steps, max_depth=self.max_depth,
                     seconds=time.perf_counter() - self.started, complete=False)


class ModelMachine(RuleBasedStateMachine):
    """Base class; `machine_for` derives one per config with its rules and invariants."""

    config: Config
    model: Model
    invariant_ids: tuple[str, ...] = ()
    collector: Collector | None = None
    trace_out: str | None = None

    def __init__(self):
        super().__init__()
        self.warmup = 0  # drawn by the `warm_up` initialize rule
        self.state = self.model.init()
        self.prev = None  # the state before the last action (None at the start)
        self.actions: list[Action] = []
        self.idle = False  # the last rule run changed nothing (quiescent)
        self.enabled: dict[str, list] = {}
        self._refresh()
        c = self.collector
        if c is not None:
            c.check_stop()
            c.examples += 1
            if c.track_states:
                c.fingerprints.add(hash(self.state))

    # -- the model's enabled actions, grouped by family (computed once per state)
    def _refresh(self) -> None:
        groups: dict[str, list] = {}
        depth = self.config.bounds.max_depth
        if not depth or len(self.actions) < depth:
            for a, t in self.model.successors(self.state):
                fam = FAMILY_OF.get(a[0], "other")
                g = groups.get(fam)
                if g is None:
                    groups[fam] = [(a, t)]
                else:
                    g.append((a, t))
        if len(self.actions) < self.warmup and len(groups) > sum(1 for f in PERTURBATIONS if f in groups):
            for f in PERTURBATIONS:
                groups.pop(f, None)
        self.enabled = groups

    def _take(self, family: str, data) -> None:
        choices = self.enabled[family]
        n = len(choices)
        action, nxt = choices[data.draw(_index(n)) if n > 1 else 0]
        self.prev, self.state = self.state, nxt
        self.actions.append(action)
        self.idle = False
        c = self.collector
        if c is not None:
            if c.ctrl_c:
                raise KeyboardInterrupt
            c.steps += 1
            c.max_depth = max(c.max_depth, len(self.actions))
            if c.track_states:
                c.fingerprints.add(hash(nxt))
        self._refresh()

    def _fail(self, inv_id: str, msg: str) -> None:
        err = InvariantViolation(inv_id, msg, len(self.actions), tuple(self.actions), self.config,
                                 self.invariant_ids)
        if self.collector is not None:
            self.collector.failed(err)
        if _is_final():
            from ackcheck.traces.render import describe_action

            note("ackcheck actions:\n" + "\n".join(
                f"  {k:>3}. {action_str(a):<34} {describe_action(a)}" for k, a in enumerate(self.actions, 1)))
            if self.trace_out:
                err.trace().write(self.trace_out)
                note(f"ackcheck trace written to {self.trace_out} (ackcheck view {self.trace_out})")
        raise err

    @precondition(lambda self: not self.enabled)
    @rule()
    def quiescent(self) -> None:
        """Nothing is enabled (or max_depth reached): the execution just stutters."""
        self.idle = True
        if self.collector is not None:
            self.collector.idle_steps += 1

    def current_observation(self):
        return observe(self.state)

    def trace(self) -> Trace:
        """The execution so far as an ackcheck trace."""
        return trace_from_actions(self.config, self.actions, list(self.invariant_ids))


def _is_final() -> bool:
    try:
        return current_build_context().is_final
    except InvalidArgument:  # not under Hypothesis (the machine driven by hand)
        return False


# The rule's choice among its family's n enabled actions: one draw of integers(0, n - 1),
# shrinking towards 0 (the first enabled action in the model's order). The exact range
# matters: Hypothesis then sees every distinct choice sequence as distinct and does not
# regenerate executions it has already run (a wide range reduced modulo n ran the same
# executions over and over and found the last-replica-standing and min-ISR-1 losses several
# times slower, for ~15% more steps per second).
_INDEX: dict[int, st.SearchStrategy] = {}


def _index(n: int) -> st.SearchStrategy:
    s = _INDEX.get(n)
    if s is None:
        s = _INDEX[n] = st.integers(0, n - 1)
    return s


def _family_rule(family: str):
    def take(self, data) -> None:
        self._take(family, data)

    # named before decorating: Hypothesis records the function (its name shows in reports)
    take.__name__ = take.__qualname__ = family
    take.__doc__ = f"one enabled action of the {family} family: {', '.join(FAMILIES[family]) or 'unmapped'}"
    return precondition(lambda self: family in self.enabled)(rule(data=st.data())(take))


def _warm_up_rule(most: int):
    def warm_up(self, warmup: int) -> None:
        """How many actions this execution takes before perturbations may start."""
        self.warmup = warmup
        self._refresh()

    return initialize(warmup=st.integers(0, most))(warm_up)


def _state_invariants(checks):
    @invariant()
    def state_invariants(self) -> None:
        """The state invariants of invariants/ on the current state (catalogue order)."""
        if self.idle:
            return
        s, cfg = self.state, self.config
        for inv_id, check in checks:
            msg = check(s, cfg)
            if msg:
                self._fail(inv_id, msg)

    return state_invariants


def _step_invariants(checks):
    @invariant()
    def step_invariants(self) -> None:
        """The step invariants of invariants/ on the last transition (catalogue order)."""
        if self.idle or self.prev is None:
            return
        p, s, cfg = self.prev, self.state, self.config
        for inv_id, check in checks:
            msg = check(p, s, cfg)
            if msg:
                self._fail(inv_id, msg)

    return step_invariants


def machine_for(config: Config, invariant_ids: Iterable[str] | None = None, *,
                trace_out: str | Path | None = None, steps: int | None = None,
                examples: int | None = None) -> type[ModelMachine]:
    """A RuleBasedStateMachine subclass exploring `config` within its bounds.

    `invariant_ids`: the invariants to check (default: every one that applies, as in
    `ackcheck check`). `trace_out`: on a failure, write the shrunk counterexample there as
    an ackcheck trace. `.TestCase` is a unittest.TestCase for pytest; its Hypothesis
    settings (no database, no deadline, health checks off) can be replaced by assigning
    `Machine.TestCase.settings = hypothesis.settings(...)`.
    """
    ids = list(invariant_ids) if invariant_ids else None
    check_invariant_ids(ids)
    invs = select(ids, config)
    judge = Judge(invs, config)
    model = model_for(config, invs)
    ns: dict = {
        "config": config,
        "model": model,
        "invariant_ids": tuple(inv.id for inv in invs),
        "trace_out": str(trace_out) if trace_out else None,
        "__doc__": f"ackcheck model of {_describe(config)}; invariants: {', '.join(i.id for i in invs)}",
        "__module__": __name__,
    }
    # a rule per family the model can produce: "consumer" only when a selected invariant
    # looks at the consumer, "other" only for action names not placed in FAMILIES
    for fam in FAMILIES:
        if fam == "consumer" and not model.with_consumer:
            continue
        if fam == "other" and all(name in FAMILY_OF for name in ACTIONS):
            continue
        ns[fam] = _family_rule(fam)
    if WARMUP_MAX:
        ns["warm_up"] = _warm_up_rule(WARMUP_MAX)

    # Two Hypothesis invariants, each running its list in catalogue order. Hypothesis runs
    # invariants sorted by name ("state_..." before "step_..."), which is Judge's order
    # (state checks, then step checks): every engine names the same invariant. (One
    # Hypothesis invariant per catalogue entry costs ~40% more per step.)
    if judge.state_checks:
        ns["state_invariants"] = _state_invariants(tuple(judge.state_checks))
    if judge.step_checks:
        ns["step_invariants"] = _step_invariants(tuple(judge.step_checks))
    cls = type("AckcheckMachine", (ModelMachine,), ns)
    # For a user's suite: Hypothesis' example database stays on (a failure replays first
    # on the next run), the rest as the CLI runs it.
    cls.TestCase.settings = settings(
        max_examples=examples if examples is not None else 100,
        stateful_step_count=steps if steps is not None else DEFAULT_STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    return cls


def _describe(config: Config) -> str:
    return (f"kafka {config.kafka_version} acks={config.acks} RF={config.replication_factor} "
            f"min.insync.replicas={config.min_insync_replicas}")


# ------------------------------------------------------------------------ traces
# ------------------------------------------------------------------------ runner
@dataclass
class FuzzResult(Result):
    executions: int = 0  # executions Hypothesis ran (generation and shrinking)
    idle_steps: int = 0  # quiescent steps (nothing enabled)


def run_fuzz(config: Config, invariant_ids: list[str] | None = None, *, examples: int = DEFAULT_EXAMPLES,
             steps: int = DEFAULT_STEPS, seed: int = 0, track_states: bool = True,
             shrink_seconds: float | None = None, shrink: bool = True) -> FuzzResult:
    """Run the machine under Hypothesis; a failure is shrunk and returned as a trace.

    Deterministic for a given seed (no example database, derandomized by the seed) as
    long as shrinking ends before `shrink_seconds` (Hypothesis' own cap is 300 s).
    `shrink=False` reports the first failing execution as found (for benchmarks and tests
    of `ackcheck minimize`)."""
    check_invariant_ids(invariant_ids)
    machine = machine_for(config, invariant_ids)
    collector = Collector(track_states=track_states)
    machine.collector = collector
    hypothesis_seed(seed)(machine)
    result = FuzzResult("fuzz", config, list(machine.invariant_ids))
    collector.shrink_seconds = shrink_seconds
    found = None

    def on_ctrl_c(signum, frame):  # (in front of the handler that was there, called as before)
        collector.ctrl_c = True
        if previous is signal.default_int_handler:
            raise KeyboardInterrupt
        previous(signum, frame)

    previous = take_sigint(on_ctrl_c, over_others=True)
    try:
        kw = {} if shrink else {"phases": (Phase.explicit, Phase.generate)}
        run_state_machine_as_test(machine, settings=fuzz_settings(examples, steps, **kw))
    except InvariantViolation as e:
        found = e
    except ShrinkingTimeUp:
        found = collector.shortest_failure
    except KeyboardInterrupt:
        result.interrupted = True
        found = collector.shortest_failure  # (Ctrl-C while shrinking: the shortest failure so far)
    finally:
        give_back_sigint(previous)
    if found is not None:
        trace = found.trace()
        result.trace = trace
        v = trace.violation
        if v is None:  # cannot happen: the machine and the replay judge alike
            raise RuntimeError(f"fuzz found {found} but its replay does not break any invariant")
        result.violation = (v.invariant, v.message)
    result.stats = collector.stats()
    result.executions = collector.examples
    result.idle_steps = collector.idle_steps
    return result


__all__ = [
    "FAMILIES",
    "FuzzResult",
    "InvariantViolation",
    "ModelMachine",
    "fuzz_settings",
    "machine_for",
    "run_fuzz",
]
