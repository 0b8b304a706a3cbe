"""Trace tools: `ackcheck minimize` (delta debugging) and `ackcheck export --itf`.

minimize
    ddmin (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input")
    over the trace's action list. A candidate subsequence is replayed on the model from
    the initial state; actions that are no longer enabled where they come are skipped; the
    candidate is kept if the *same invariant* still breaks. Only that invariant is judged
    (another one breaking earlier does not end the replay). The kept trace is the executed
    actions up to the violation, so every step of the result is enabled and
    `replay_on_model` reaches the recorded violation at the recorded (last) step.
    Useful for traces that did not come from BFS (fuzz, broker chaos runs, hand-made);
    a BFS trace is already a shortest one.

export --itf
    The Informal Trace Format of Apalache and Quint
    (https://apalache-mc.org/docs/adr/015adr-trace.html): `{"#meta", "vars", "states"}`,
    one state per trace step with `"#meta": {"index": k}`. Integers are
    `{"#bigint": "n"}`, lists are JSON arrays (ITF sequences), the ISR, ELR and in-flight
    records are `{"#set": [...]}` (they are sets), and structures are ITF records (JSON
    objects). Variables: the observation's fields (`leader`, `leader_epoch`, `isr`,
    `elr`, `replicas`, `producer`, `in_flight`, `ack_isr_sizes`, `consumer`,
    `committed_log`), `action` - the action that led to the state as an ITF variant
    `{"tag": name, "value": {args}}` (`init` for step 0) - and `mbt::actionTaken` (the
    action name, as Quint's model-based-testing traces carry it). The run's config and
    the violation are in the top-level `#meta`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ackcheck.checker.engine import model_for
from ackcheck.checker.options import ArgumentParser
from ackcheck.invariants.catalogue import BY_ID, Judge
from ackcheck.model.protocol import ActionError, Model
from ackcheck.traces.format import (
    Action,
    Trace,
    TraceError,
    action_to_json,
    load_trace,
    observation_to_json,
)
from ackcheck.traces.settings import Config, ConfigError, config_from_dict

# ============================================================================ minimize


@dataclass
class Minimized:
    trace: Trace
    original_steps: int
    tests: int  # candidate replays tried
    seconds: float


class _Oracle:
    """Replays candidate action lists, judging one invariant; memoizes outcomes."""

    def __init__(self, config: Config, invariant_id: str):
        self.invariant_id = invariant_id
        invs = [BY_ID[invariant_id]]
        self.model: Model = model_for(config, invs)
        self.judge = Judge(invs, config)
        self.tests = 0
        self._memo: dict[tuple, list[Action] | None] = {}

    def __call__(self, actions: Sequence[Action]) -> list[Action] | None:
        """The executed prefix up to the violation, or None if the invariant holds."""
        key = tuple(actions)
        if key in self._memo:
            return self._memo[key]
        self.tests += 1
        model, judge = self.model, self.judge
        s = model.init()
        done: list[Action] = []
        out = None
        if judge.initial(s):
            out = done
        else:
            for a in key:
                try:
                    t = model.step(s, a)
                except ActionError:
                    continue  # disabled here: dropped
                done.append(a)
                if judge(s, t):
                    out = done
                    break
                s = t
        self._memo[key] = out
        return out


def ddmin(actions: list[Action], test: Callable[[Sequence[Action]], list[Action] | None],
          *, max_tests: int | None = None, counter: Callable[[], int] | None = None) -> list[Action]:
    """Zeller's ddmin. `test` returns the (possibly shorter) failing list, or None."""
    first = test(actions)
    if first is None:
        raise ValueError("the full action list does not fail")
    items = first
    n = 2
    while len(items) >= 2:
        if max_tests is not None and counter is not None and counter() >= max_tests:
            break
        size = len(items)
        chunk = -(-size // n)
        subsets = [items[i:i + chunk] for i in range(0, size, chunk)]
        reduced = None
        for sub in subsets:  # reduce to a subset
            r = test(sub)
            if r is not None:
                reduced, n = r, 2
                break
        if reduced is None and len(subsets) > 2:
            for i in range(len(subsets)):  # reduce to a complement
                comp = [a for j, s in enumerate(subsets) if j != i for a in s]
                r = test(comp)
                if r is not None:
                    reduced, n = r, max(n - 1, 2)
                    break
        elif reduced is None:  # two subsets: complements are the subsets themselves
            pass
        if reduced is not None:
            items = reduced
            continue
        if n >= size:
            break
        n = min(size, 2 * n)
    return items


def minimize_trace(trace: Trace, *, invariant_id: str | None = None, max_tests: int = 20000) -> Minimized:
    """Shorten `trace` while `invariant_id` (default: the trace's) still breaks."""
    t0 = time.perf_counter()
    if invariant_id is None:
        if trace.violation is None:
            raise TraceError("$.violation: the trace records no violation to keep (give --invariant)")
        invariant_id = trace.violation.invariant
    if invariant_id not in BY_ID:
        raise TraceError(f"$.violation.invariant: unknown invariant {invariant_id!r}")
    try:
        config = config_from_dict(trace.config)
    except ConfigError as e:
        raise TraceError(f"$.config: {e}") from None
    oracle = _Oracle(config, invariant_id)
    if oracle(trace.actions) is None:
        raise TraceError(f"replaying the trace on the model does not break {invariant_id}")
    kept = ddmin(list(trace.actions), oracle, max_tests=max_tests, counter=lambda: oracle.tests)
    out = build_trace(config, kept, invariant_id)
    return Minimized(out, len(trace.steps) - 1, oracle.tests, time.perf_counter() - t0)


def build_trace(config: Config, actions: Sequence[Action], invariant_id: str) -> Trace:
    """A trace of `actions` (all enabled) judged on `invariant_id` only, up to its violation."""
    from ackcheck.checker.fuzz import trace_from_actions

    return trace_from_actions(config, actions, [invariant_id])


def main_minimize(argv: list[str]) -> int:
    from ackcheck.traces.render import summary_lines

    p = ArgumentParser(prog="ackcheck minimize", description=(
        "Shorten a trace by delta debugging (ddmin) over its actions: keep removing actions while "
        "replaying the rest on the model (skipping actions no longer enabled) still breaks the same "
        "invariant. For traces from fuzz, broker chaos runs or hand-made ones; BFS traces are "
        "already shortest. Exit 0: minimized (written); 2: bad input or the trace does not break "
        "its invariant on the model."))
    p.add_argument("trace", metavar="TRACE.json")
    p.add_argument("--out", metavar="FILE", help="where to write the shorter trace (default: TRACE.min.json)")
    p.add_argument("--invariant", metavar="ID", help="the invariant to keep broken (default: the trace's)")
    p.add_argument("--max-tests", type=int, default=20000, metavar="N",
                   help="stop after N candidate replays (default 20000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.max_tests < 1:
        raise ConfigError("--max-tests: expected a positive integer")
    trace = load_trace(args.trace)
    try:
        m = minimize_trace(trace, invariant_id=args.invariant, max_tests=args.max_tests)
    except TraceError as e:
        raise TraceError(f"{args.trace}: {e}") from None
    out = args.out or str(Path(args.trace).with_suffix("")) + ".min.json"
    try:
        m.trace.write(out)
    except OSError as e:
        raise ConfigError(f"--out {out}: {e.strerror}") from None
    v = m.trace.violation
    steps = len(m.trace.steps) - 1
    if args.json:
        print(json.dumps({
            "input": args.trace, "out": out, "original_steps": m.original_steps, "steps": steps,
            "invariant": v.invariant, "message": v.message, "violation_step": v.step,
            "tests": m.tests, "seconds": round(m.seconds, 3), "trace": m.trace.as_dict(),
        }, indent=1))
        return 0
    print(f"minimized {args.trace}: {m.original_steps} -> {steps} steps "
          f"({m.tests} replays, {m.seconds:.2f}s); {v.invariant} still violated at step {v.step}")
    print("\n".join(summary_lines(m.trace, limit=40)))
    print(f"written to {out} (ackcheck view {out})")
    return 0


# ============================================================================== ITF

ITF_SETS = frozenset({"isr", "elr", "in_flight"})
ITF_VARS = ("action", "mbt::actionTaken", "leader", "leader_epoch", "isr", "elr", "replicas", "producer",
            "in_flight", "ack_isr_sizes", "consumer", "committed_log")


def itf_value(v, key: str | None = None):
    """A JSON value of an observation -> its ITF encoding."""
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, int):
        return {"#bigint": str(v)}
    if isinstance(v, (list, tuple)):
        items = [itf_value(x) for x in v]
        if key in ITF_SETS:
            return {"#set": items}
        return items
    if isinstance(v, dict):
        return {k: itf_value(x, k) for k, x in v.items()}
    raise TypeError(f"cannot encode {type(v).__name__} in ITF")


def itf_action(action) -> dict:
    if action is None:
        return {"tag": "init", "value": {}}
    d = action_to_json(action)
    name = d.pop("name")
    return {"tag": name, "value": {k: itf_value(v) for k, v in d.items()}}


def trace_to_itf(trace: Trace, *, source: str | None = None) -> dict:
    states = []
    for k, (action, obs) in enumerate(trace.steps):
        o = observation_to_json(obs)
        o.pop("lag", None)  # derived from the other fields
        st: dict = {"#meta": {"index": k}}
        st["action"] = itf_action(action)
        st["mbt::actionTaken"] = "init" if action is None else action[0]
        for var in ITF_VARS[2:]:
            st[var] = itf_value(o[var], var)
        if trace.violation is not None and trace.violation.step == k:
            st["#meta"]["violation"] = trace.violation.invariant
        states.append(st)
    meta = {
        "format": "ITF",
        "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
        "source": source or "ackcheck",
        "description": "ackcheck trace of one Kafka partition (export --itf)",
        "ackcheck": {"trace-format-version": 1, "config": trace.config,
                     "violation": trace.violation.as_dict() if trace.violation else None},
    }
    return {"#meta": meta, "vars": list(ITF_VARS), "states": states}


def main_export(argv: list[str]) -> int:
    p = ArgumentParser(prog="ackcheck export", description=(
        "Export a trace to another format. --itf: the Informal Trace Format of Apalache and Quint "
        "(one ITF state per step; integers as {\"#bigint\": ...}; ISR/ELR/in-flight as sets)."))
    p.add_argument("trace", metavar="TRACE.json")
    p.add_argument("--itf", action="store_true", help="ITF JSON (the only format so far; required)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    args = p.parse_args(argv)
    if not args.itf:
        raise ConfigError("ackcheck export: choose a format: --itf")
    trace = load_trace(args.trace)
    text = json.dumps(trace_to_itf(trace, source=str(args.trace)), indent=1) + "\n"
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--out {args.out}: {e.strerror}") from None
        print(f"ITF trace ({len(trace.steps)} states) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


__all__ = ["Minimized", "ddmin", "main_export", "main_minimize", "minimize_trace", "trace_to_itf"]
