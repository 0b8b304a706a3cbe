"""`ackcheck minimize TRACE`: shorten a trace while the same invariant still breaks (checker/engines/minimize.py)."""

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
