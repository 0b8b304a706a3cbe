"""`ackcheck chaos`: seeded fault injection against the reference broker (checker/engines/chaos.py).

Exit status: 0 no violation; 1 a violation (or, with --fail-on-divergence, a model
divergence); 2 bad usage or input."""

from __future__ import annotations

import json
import sys

from ackcheck.checker.cli.options import ArgumentParser, add_config_flags, bounds_from_args, config_from_args
from ackcheck.checker.engines.chaos import CHAOS_BOUNDS, CHAOS_SEGMENT_BYTES, chaos_config, run_chaos
from ackcheck.traces.settings import Config, ConfigError


def _bounds_line(config: Config) -> str:
    return " ".join(f"{k}={v}" for k, v in config.bounds.as_dict().items() if k != "max_depth")


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="ackcheck chaos", description=(
        "Seeded fault injection against the reference broker (real segment files, page cache, crash "
        "recovery): random schedules within the bounds, every invariant judged after every step, every "
        "life replayed on the model. Unless given, chaos uses larger bounds than `check`: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in CHAOS_BOUNDS.items())
        + ". Exit 0: no violation; 1: a violation (trace written with --trace-out); 2: bad input."))
    add_config_flags(p)
    p.add_argument("--seed", type=int, required=True, metavar="S", help="random seed (same seed, same schedule)")
    p.add_argument("--steps", type=int, default=300, metavar="N", help="steps per run (default 300)")
    p.add_argument("--runs", type=int, default=1, metavar="R", help="runs (default 1)")
    p.add_argument("--invariant", action="append", metavar="ID", help="judge only this invariant (repeatable)")
    p.add_argument("--segment-bytes", type=int, default=CHAOS_SEGMENT_BYTES, metavar="N",
                   help=f"log.segment.bytes of the brokers (default {CHAOS_SEGMENT_BYTES}, so segments roll)")
    p.add_argument("--keep-going", action="store_true",
                   help="go on after a violation (a new life starts; violations are counted, the first is kept)")
    p.add_argument("--no-model-check", action="store_true", help="skip replaying each life on the model")
    p.add_argument("--fail-on-divergence", action="store_true", help="exit 1 when a life does not replay on the model")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--trace-out", metavar="FILE",
                   help="write the violation's trace to FILE (with no violation: the first life that "
                        "diverged from the model, if any)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.steps > 1_000_000:
        raise ConfigError(f"--steps {args.steps}: expected 1..1000000")
    if args.runs < 1 or args.runs > 10_000:
        raise ConfigError(f"--runs {args.runs}: expected 1..10000")
    if args.segment_bytes < 100:
        raise ConfigError(f"--segment-bytes {args.segment_bytes}: at least 100 (a batch must fit)")
    config = chaos_config(bounds_from_args(args), config_from_args(args))
    if not args.json:
        for note in config.notes:
            print(f"note: {note}", file=sys.stderr)
        from ackcheck.checker.cli.common import describe_config

        print(describe_config(config))
        print(f"chaos: seed {args.seed}, {args.runs} run(s) x {args.steps} steps, segments of "
              f"{args.segment_bytes} bytes")
    result = run_chaos(config, args.seed, steps=args.steps, runs=args.runs, invariant_ids=args.invariant,
                       segment_bytes=args.segment_bytes, model_check=not args.no_model_check,
                       keep_going=args.keep_going)
    out_trace = result.violation_trace or result.divergent_trace
    if args.trace_out and out_trace is not None:
        try:
            out_trace.write(args.trace_out)
        except OSError as e:
            raise ConfigError(f"--trace-out {args.trace_out}: {e.strerror}") from None
    diverged = result.divergence is not None
    code = 1 if result.violation is not None or (diverged and args.fail_on_divergence) else 0
    if result.interrupted:
        print(f"chaos: interrupted (Ctrl-C) after {result.steps} steps; what follows leaves out the life "
              f"in progress", file=sys.stderr)
        if code == 0:
            code = 4
    if args.json:
        from ackcheck.checker.engines.result import verdict_of

        v = result.violation
        print(json.dumps({
            "verdict": verdict_of("chaos", violated=v is not None, interrupted=result.interrupted),
            "seed": args.seed,
            "config": {k: val for k, val in config.as_dict().items() if k != "bounds"},
            "bounds": config.bounds.as_dict(),
            "invariants": result.invariants,
            "steps": result.steps,
            "seconds": round(result.seconds, 3),
            "steps_per_second": round(result.steps / result.seconds, 1) if result.seconds else 0.0,
            "runs": [r.as_dict() for r in result.runs],
            "violation": (dict(v.as_dict(), run=result.violation_where[0], life=result.violation_where[1])
                          if v else None),
            "trace": result.violation_trace.as_dict() if result.violation_trace else None,
            "model_conformance": {
                "ok": not diverged if not args.no_model_check else None,
                "first_difference": result.divergence,
                "violation_on_model": result.violation_model,
            },
            "trace_out": args.trace_out if (args.trace_out and out_trace is not None) else None,
        }, indent=1))
        return code
    for r in result.runs:
        faults = ", ".join(f"{k}={n}" for k, n in r.faults.items() if n) or "none"
        print(f"run {r.run}: {r.steps} steps in {r.seconds:.2f}s ({r.steps_per_second:,.0f} steps/s), "
              f"{r.lives} li{'fe' if r.lives == 1 else 'ves'}; faults: {faults}; torn writes {r.torn_writes}; "
              f"recoveries that cut the log {r.recoveries_cut}; violations {r.violations}")
    if args.no_model_check:
        print("model conformance: not checked (--no-model-check)")
    elif not diverged:
        n = sum(r.model_checked for r in result.runs)
        print(f"model conformance: ok ({n} li{'fe' if n == 1 else 'ves'} replayed on the model, every step identical)")
    else:
        d = result.divergence
        print(f"model conformance: first difference in run {d['run']} life {d['life']} at step {d.get('step')} "
              f"({d.get('action')}): {d.get('field')}: model {json.dumps(d.get('actual'))}, "
              f"broker {json.dumps(d.get('trace'))}")
    if result.violation is not None:
        v = result.violation
        run, life = result.violation_where
        total = sum(r.violations for r in result.runs)
        more = f" (the first of {total})" if total > 1 else ""
        print(f"VIOLATED {v.invariant} at step {v.step} of run {run} life {life}{more}: {v.message}")
        vm = result.violation_model
        if vm is not None:
            print("  on the model: " + ("confirmed (same invariant, same step)" if vm.get("confirmed")
                                        else f"not confirmed ({vm.get('model_violation')})"))
        if args.trace_out:
            print(f"trace written to {args.trace_out} (ackcheck view / ackcheck replay {args.trace_out})")
        else:
            print("(--trace-out FILE keeps the trace)")
    else:
        print(f"no violation of {len(result.invariants)} invariant(s) in {result.steps} steps")
        if diverged and args.trace_out:
            print(f"the divergent life's trace is in {args.trace_out}")
    return code
