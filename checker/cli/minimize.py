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
from pathlib import Path

from ackcheck.checker.cli.options import ArgumentParser
from ackcheck.checker.engines.minimize import minimize_trace
from ackcheck.traces.format import (
    TraceError,
    load_trace,
)
from ackcheck.traces.settings import ConfigError


def main(argv: list[str]) -> int:
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
