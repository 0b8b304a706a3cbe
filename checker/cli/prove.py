"""`ackcheck prove`: bounded model checking (on CaDiCaL or z3) and k-induction (on z3)."""

from __future__ import annotations

import json
import sys

from ackcheck.checker.cli.common import describe_config, err, print_counterexample, write_trace_out
from ackcheck.checker.cli.options import ArgumentParser, add_config_flags, config_from_args


def main(argv: list[str]) -> int:
    from ackcheck.checker.engines.prove.bmc import Disagreement, prove, stderr_progress
    from ackcheck.checker.engines.prove.layout import ENCODED_INVARIANTS, NotEncoded
    from ackcheck.checker.engines.prove.properties import AUX, AUX_DESCRIPTIONS

    p = ArgumentParser(prog="ackcheck prove", description=(
        "Symbolic model checking: bounded model checking with iterative deepening (K = 0, 1, 2, ...: "
        "the first counterexample is a shortest one, replayed and re-judged on the Python model) and, with "
        "--induction, k-induction for every depth. Exit 0: no violation up to --depth, or proved; 1: violated "
        "(a real trace); 2: bad input or a configuration outside the encoded fragment; 3: unknown (the solver "
        "gave up or --timeout); 4: interrupted."))
    add_config_flags(p)
    p.add_argument("--invariant", action="append", metavar="ID",
                   help=f"check only this invariant (repeatable; encoded: {', '.join(ENCODED_INVARIANTS)}; "
                        "default: those that apply)")
    p.add_argument("--depth", type=int, default=None, metavar="K",
                   help="steps to unroll: BMC looks for violations in 0..K steps; the induction step uses K "
                        "(default: --max-depth if given, else 10)")
    p.add_argument("--induction", action="store_true",
                   help="after BMC to --depth, try the k-induction step: 'proved' means for every depth "
                        "(at this cluster size and these bounds)")
    p.add_argument("--assume-invariant", action="append", default=[], metavar="ID",
                   help="strengthen the induction with an auxiliary invariant (repeatable; also checked in the "
                        f"base case): {', '.join(AUX)}")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="give up after S seconds of solving: verdict unknown, exit 3 (default: none)")
    p.add_argument("--solver", choices=("cadical", "z3"), default="cadical",
                   help="BMC's solver: cadical (default: the relation bit-blasted once and solved incrementally "
                        "by CaDiCaL, keeping what it learned from depth to depth) or z3 (a fresh z3 solver per "
                        "depth); the induction step always uses z3. Both give the same verdicts and lengths")
    p.add_argument("--no-lemmas", action="store_true",
                   help="(cadical) do not strengthen the search with the catalogue lemmas Houdini finds "
                        "inductive (by default they are looked for after 1 s of solving, and at once with "
                        "--induction; they never change a verdict or a length, only the time)")
    p.add_argument("--json", action="store_true", help="print one JSON object (like check --json)")
    p.add_argument("--trace-out", metavar="FILE", help="write the counterexample trace to FILE")
    p.add_argument("--full", action="store_true", help="print the full trace, not the summary")
    p.add_argument("--list-assumptions", action="store_true", help="list the auxiliary invariants and exit")
    args = p.parse_args(argv)
    if args.list_assumptions:
        for k, text in AUX_DESCRIPTIONS.items():
            print(f"{k:26} {text}")
        return 0
    if args.depth is not None and args.depth < 0:
        return err("--depth: must be >= 0")
    if args.timeout is not None and args.timeout <= 0:
        return err("--timeout: must be > 0 seconds")
    config = config_from_args(args)
    if args.depth is None:
        args.depth = config.bounds.max_depth or 10
    from ackcheck.checker.engines.check import check_invariant_ids

    check_invariant_ids(args.invariant)
    if not args.json:
        for note in config.notes:
            print(f"note: {note}", file=sys.stderr)
    try:
        result, info = prove(config, args.invariant, depth=args.depth, induction=args.induction,
                             assume=args.assume_invariant, timeout=args.timeout,
                             progress=None if args.json else stderr_progress, solver=args.solver,
                             lemmas=not args.no_lemmas)
    except NotEncoded as e:
        return err(str(e))
    except Disagreement as e:
        print(f"ackcheck: internal error: the symbolic and Python models disagree: {e}", file=sys.stderr)
        return 3
    if problem := write_trace_out(result.trace, args.trace_out):
        return err(problem)
    if args.json:
        d = result.as_dict()
        d["stats"].update({"depth_reached": info.depth_reached, "solver_seconds": round(info.solver_seconds, 3)})
        d["depth"] = args.depth
        d["prove"] = {**info.as_dict(), "solver": args.solver}
        print(json.dumps(d, indent=1))
        return result.exit_code
    print(describe_config(config))
    verdict = result.verdict
    if result.violation:
        inv, msg = result.violation
        print(f"VIOLATED {inv}: {msg}")
        print(f"shortest counterexample ({len(result.trace.steps) - 1} steps, found by "
              f"{'CaDiCaL' if args.solver == 'cadical' else 'z3'}, replayed on the model):")
        print_counterexample(result.trace, full=args.full, trace_out=args.trace_out)
    elif verdict == "incomplete":
        if info.depth_reached < 0:
            print(f"INTERRUPTED before depth 0 was answered ({', '.join(result.invariants)})")
        else:
            print(f"INTERRUPTED: no violation up to depth {info.depth_reached} ({', '.join(result.invariants)})")
    elif verdict == "unknown":
        print(f"UNKNOWN: {info.note}")
    elif verdict == "proved":
        extra = f" (assuming and proving {', '.join(info.assumed)})" if info.assumed else ""
        if info.lemmas:
            extra += f"; strengthened by the inductive lemmas {', '.join(info.lemmas)} (Houdini)"
        print(f"PROVED for every depth at replication factor {config.replication_factor} within these bounds: "
              f"{', '.join(result.invariants)} (k-induction, k={args.depth}){extra}")
    else:
        print(f"NO VIOLATION up to depth {info.depth_reached}: {', '.join(result.invariants)} "
              "(bounded: nothing is said about longer executions)")
        if info.induction == "cti":
            cti = info.cti
            print(f"induction step at k={cti['k']} failed: a counterexample to induction (NOT a real trace: its "
                  f"first state may be unreachable) breaks {', '.join(cti['breaks'])} after "
                  f"{' ; '.join(cti['actions']) or 'no action'}")
            print("  strengthen with --assume-invariant ID (ackcheck prove --list-assumptions), or raise --depth")
    print(f"Done. depth={info.depth_reached} solver_seconds={info.solver_seconds:.2f} "
          f"seconds={result.stats.seconds:.2f}")
    return result.exit_code
