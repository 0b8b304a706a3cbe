"""Entry points shared by the CLI, the audit, the corpus and the tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from ackcheck.checker.engines.explore import explore
from ackcheck.checker.engines.result import Result, Stats
from ackcheck.invariants.catalogue import BY_ID, Invariant, Judge, select
from ackcheck.model.protocol import ActionError, Model, action_str
from ackcheck.model.state import observe
from ackcheck.traces.format import Trace, TraceError, Violation
from ackcheck.traces.settings import Config, ConfigError, config_from_dict


def model_for(config: Config, invariants: list[Invariant], *, lean: bool = False, reduction: bool = True) -> Model:
    """The model for checking `invariants`: the consumer only if one reads it; with `lean`,
    only the ghost history they read (for exhaustive search; traces are rebuilt in full);
    with `reduction`, the seen-set key forgets finished batches' bookkeeping (Model.abstract;
    a lean model forgets it in its states, "Eagerly")."""
    return Model(config, consumer=any(inv.needs_consumer for inv in invariants),
                 ghosts={g for inv in invariants for g in inv.ghosts} if lean else None, reduction=reduction,
                 eager=lean)


def check_invariant_ids(ids: list[str] | None, *, liveness: bool = False) -> None:
    """ConfigError for an unknown id; liveness properties (invariants/liveness.py) only
    where the caller can judge them (`liveness=True`: check, replay)."""
    from ackcheck.invariants.liveness import LIVENESS_BY_ID
    from ackcheck.traces.settings import suggest

    for i in ids or []:
        if i in LIVENESS_BY_ID and not liveness:
            raise ConfigError(f"--invariant {i}: a liveness property, checked on the full state graph by "
                              "`ackcheck check` only (docs/liveness.md)")
        if i not in BY_ID and i not in LIVENESS_BY_ID:
            known = {**BY_ID, **LIVENESS_BY_ID}
            raise ConfigError(f"--invariant {i}: unknown invariant{suggest(i, known)} (see `ackcheck invariants`)")


def run_check(config: Config, invariant_ids: list[str] | None = None, *, progress: bool = False,
              symmetry: bool = True, workers: int = 1, cluster: str | None = None,
              checkpoint: str | None = None, resume: str | None = None, checkpoint_every: float = 60.0,
              memory_limit: int | None = None, reduction: bool = True, sleep_sets: bool = True) -> Result:
    """Exhaustive BFS of `config` within its bounds, checking the selected invariants
    (with broker symmetry reduction unless `symmetry=False`), in `workers` processes or on
    the Dask cluster at `cluster`, with checkpoints, within `memory_limit` bytes of resident
    memory past which the frontier spills to disk (checker/engines/explore.py). `reduction=False`
    keeps the bookkeeping of finished batches in the seen-set key (Model.abstract): the same
    verdicts and shortest lengths, more states (for comparison). `sleep_sets=False` takes every
    transition (the same states, counts, verdicts and traces; for comparison)."""
    check_invariant_ids(invariant_ids, liveness=True)
    from ackcheck.checker.engines.liveness import is_liveness, run_with_liveness
    from ackcheck.invariants.witnesses import Watcher

    if any(is_liveness(i) for i in invariant_ids or []):  # liveness: on the full state graph
        return run_with_liveness(config, invariant_ids, progress=progress, symmetry=symmetry)
    invs = select(invariant_ids, config)
    model = model_for(config, invs, lean=True, reduction=reduction)
    watch = Watcher([inv.id for inv in invs], config)  # vacuity witnesses
    opts = dict(symmetry=symmetry, watch=watch, workers=workers, cluster=cluster, checkpoint=checkpoint,
                resume=resume, checkpoint_every=checkpoint_every, memory_limit=memory_limit, sleep_sets=sleep_sets)
    if not progress:
        result = explore(model, invs, **opts)
    else:
        result = _with_progress(lambda cb: explore(model, invs, progress=cb, **opts))
    if result.violation is None:
        result.warnings = [*result.warnings, *watch.warnings()]  # (the search may have warned too)
    return result


def _plain_progress_seconds() -> float:
    """Seconds between progress lines when stderr is not a terminal (a CI log): 5, or
    ACKCHECK_PROGRESS_EVERY (a bad value falls back to 5 - progress is never worth an error)."""
    try:
        every = float(os.environ.get("ACKCHECK_PROGRESS_EVERY", "5"))
    except ValueError:
        return 5.0
    return every if every > 0 else 5.0


def _with_progress(fn):
    """A rich status line on stderr for runs longer than a second."""
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover
        return fn(None)
    import resource

    console = Console(stderr=True)

    def line(stats: Stats, frontier: int) -> str:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        per = f", {rss / stats.distinct_states:,.0f} B/state (peak RSS)" if stats.workers == 1 else ""
        # (mid-level: how many of the deepest level's states have been expanded so far)
        level = f" ({stats.level_expanded:,} of its {stats.level_size:,} expanded)" if stats.level_expanded else ""
        return (f"{stats.distinct_states:,} distinct states, depth {stats.max_depth}{level}, frontier {frontier:,}, "
                f"{stats.seconds:.1f}s, {stats.states_per_second:,.0f} states/s, {stats.workers} worker"
                f"{'s' if stats.workers != 1 else ''}{per}")

    if not console.is_terminal:
        last = [0.0]
        every = _plain_progress_seconds()

        def plain(stats: Stats, frontier: int) -> None:
            if stats.seconds - last[0] >= every:
                last[0] = stats.seconds
                print(f"... {line(stats, frontier)}", file=sys.stderr)
        return fn(plain)
    status = None

    def update(stats: Stats, frontier: int) -> None:
        nonlocal status
        text = f"exploring: {line(stats, frontier)} (Ctrl-C stops with the stats so far)"
        if status is None:
            status = console.status(text)
            status.start()
        else:
            status.update(text)

    try:
        return fn(update)
    finally:
        if status is not None:
            status.stop()


@dataclass
class Replay:
    """The outcome of replaying a trace's actions on the model."""

    ok: bool  # every action was enabled
    violation: tuple[str, str, int] | None  # (invariant, message, step) first reached
    mismatch: str | None  # first observation that differs from the trace's, if any
    steps: list  # [(action, observation)] as the model produced them
    error: str | None = None


def judged_run(config: Config, actions, invariant_ids: list[str] | None = None):
    """The one replay-and-judge loop: run `actions` on the model from its initial state and
    judge every step as the explorer does. Yields (k, action, state) for step k (k = 0 is the
    initial state, action None) together with the first violation found at that step, as
    (k, action, state, violation-or-None); raises ActionError for an action not enabled."""
    invs = select(invariant_ids or None, config)
    judge = Judge(invs, config)
    model = model_for(config, invs)
    s = model.init()
    yield 0, None, s, judge.initial(s)
    for k, a in enumerate(actions, 1):
        t = model.step(s, a)
        yield k, a, t, judge(s, t)
        s = t


def trace_from_actions(config: Config, actions, invariant_ids: list[str] | None = None,
                       *, stop_at_violation: bool = True) -> Trace:
    """The trace `actions` produce on the model (ActionError if one is not enabled): every
    state observed, every step judged, the first violation recorded (and the run stopped
    there unless `stop_at_violation=False`)."""
    trace = Trace(config=config.as_dict(), steps=[])
    for k, a, s, v in judged_run(config, actions, invariant_ids):
        trace.steps.append((a, observe(s)))
        if v and trace.violation is None:
            trace.violation = Violation(v[0], v[1], k)
            if stop_at_violation:
                break
    return trace


def replay_on_model(trace: Trace, invariant_ids: list[str] | None = None, config: Config | None = None) -> Replay:
    """Execute a trace's actions on the model, judge every step, compare observations."""
    if config is None:
        try:
            config = config_from_dict(trace.config)
        except ConfigError as e:
            raise TraceError(f"$.config: {e}") from None
    if invariant_ids is None and trace.violation is not None:
        invariant_ids = [trace.violation.invariant] if trace.violation.invariant in BY_ID else None
    steps: list = []
    mismatch = violation = None
    run = judged_run(config, [a for a, _ in trace.steps[1:]], invariant_ids)
    k, action = 0, None
    try:
        for k, action, s, v in run:
            obs = observe(s)
            if mismatch is None and k < len(trace.steps) and obs != trace.steps[k][1]:
                mismatch = ("step 0: the initial state differs from the model's" if k == 0 else
                            f"step {k} ({action_str(action)}): the model's observation differs from the trace's")
            if v and violation is None:
                violation = (v[0], v[1], k)
            steps.append((action, obs))
    except ActionError as e:
        return Replay(False, violation, mismatch, steps, error=f"step {k + 1}: {e}")
    return Replay(True, violation, mismatch, steps)
