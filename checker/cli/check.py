"""`ackcheck check`. Exit status: EXIT_CODES of engines/result.py (0 holds or no violation up to
the depth, 1 violated, 4 incomplete), 2 bad usage or input."""

from __future__ import annotations

import json
import sys

from ackcheck.checker.cli.common import describe_config, err, print_counterexample, write_trace_out
from ackcheck.checker.cli.options import ArgumentParser, add_config_flags, config_from_args


def main(argv: list[str]) -> int:
    from ackcheck.checker.engines.check import run_check

    p = ArgumentParser(prog="ackcheck check", description=(
        "Explore every execution of the model within the bounds (breadth-first, so the first "
        "counterexample is a shortest one) and check the invariants. Exit 0: every checked "
        "invariant holds within the bounds (or no violation up to --max-depth); 1: a violation (the trace "
        "is printed); 4: interrupted before the search finished; 2: bad input."))
    add_config_flags(p)
    p.add_argument("--invariant", action="append", metavar="ID",
                   help="check only this invariant (repeatable; default: all that apply)")
    p.add_argument("--json", action="store_true", help="print one JSON object (the contract in docs/design.md)")
    p.add_argument("--trace-out", metavar="FILE", help="write the counterexample trace to FILE")
    p.add_argument("--html", metavar="OUT.html",
                   help="write the counterexample as a self-contained HTML page (see `ackcheck view --html`)")
    p.add_argument("--full", action="store_true", help="print the full trace, not the summary")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="states, depth, frontier, states/s and memory on stderr while the search runs (a line "
                        "every 5 s when stderr is not a terminal); auto: on unless --json (default auto)")
    p.add_argument("--symmetry", choices=("on", "off"), default="on",
                   help="skip states that are renamings of explored ones (brokers are interchangeable); "
                        "'distinct' then counts classes (default on)")
    p.add_argument("--reduction", choices=("on", "off"), default="on",
                   help="merge states that differ only in what no action or invariant reads again: the "
                        "bookkeeping of finished batches (same verdicts and shortest traces; default on)")
    p.add_argument("--sleep-sets", choices=("on", "off"), default="on",
                   help="partial-order reduction: skip a transition when an independent action taken earlier "
                        "already reaches its state by another path of the same length - the same states, "
                        "counts, verdict and trace, less work (default on; off with step invariants; "
                        "docs/reach.md)")
    p.add_argument("--strict-vacuity", action="store_true",
                   help="exit 1 when a vacuity witness of a checked invariant was never reached (the guarantee "
                        "then holds vacuously within these bounds; see docs/liveness.md)")
    from ackcheck.checker.engines.parallel import default_workers

    p.add_argument("--workers", type=int, metavar="N", default=None,
                   help=f"processes for the search (default: all cores, {default_workers()} here); a search "
                        "still running after a second moves to N processes partitioned by fingerprint - same "
                        "counts, verdict and trace for any N (docs/reach.md)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run the search on the Dask distributed cluster whose scheduler is at ADDRESS "
                        "(tcp://host:8786), one partition per worker (or --workers); 'local' starts a local "
                        "Dask cluster")
    p.add_argument("--checkpoint", metavar="DIR",
                   help="write the frontier and seen set to DIR at level boundaries (at most every "
                        "--checkpoint-every seconds, and when Ctrl-C stops the search)")
    p.add_argument("--checkpoint-every", type=float, metavar="SECONDS", default=60.0,
                   help="seconds between checkpoints (default 60; 0: every level)")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the search from the checkpoint in DIR (same configuration, bounds and "
                        "invariants; any number of workers)")
    p.add_argument("--memory-limit", metavar="SIZE",
                   help="resident memory for the search (512M, 4G, 2GiB; split over the workers): past it the "
                        "BFS level being expanded and the one being built go to temporary files on disk - same "
                        "counts, verdict and trace (default: 2/3 of this machine's memory, no limit with "
                        "--cluster; 'none': no limit; docs/reach.md)")
    args = p.parse_args(argv)
    from ackcheck.checker.engines.spill import default_memory_limit, parse_memory_limit

    memory_limit = None if args.cluster else default_memory_limit()  # (a cluster's machines are not this one)
    if args.memory_limit is not None:
        try:
            memory_limit = parse_memory_limit(args.memory_limit)
        except ValueError as e:
            return err(f"--memory-limit {args.memory_limit}: {e}")
    if args.workers is not None and args.workers < 1:
        return err(f"--workers {args.workers}: must be at least 1")
    if args.checkpoint_every < 0:
        return err(f"--checkpoint-every {args.checkpoint_every}: must be 0 or more")
    if args.checkpoint and (problem := _checkpoint_problem(args.checkpoint, args.resume)):
        return err(problem)
    config = config_from_args(args)
    if not args.json:
        for note in config.notes:
            print(f"note: {note}", file=sys.stderr)
    from ackcheck.checker.engines.explore import CheckpointError
    from ackcheck.checker.engines.parallel import WorkerError

    try:
        progress = args.progress == "on" or (args.progress == "auto" and not args.json)
        result = run_check(config, args.invariant, progress=progress, symmetry=args.symmetry == "on",
                           reduction=args.reduction == "on", sleep_sets=args.sleep_sets == "on", workers=args.workers or default_workers(), cluster=args.cluster,
                           checkpoint=args.checkpoint, resume=args.resume, checkpoint_every=args.checkpoint_every,
                           memory_limit=memory_limit)
    except CheckpointError as e:
        return err(str(e))
    except (WorkerError, OSError) as e:
        where = f"--cluster {args.cluster}: " if args.cluster else ""
        return err(f"{where}{e}")
    if problem := write_trace_out(result.trace, args.trace_out):
        print(json.dumps(result.as_dict()) if args.json else "", end="")
        return err(problem)
    if args.html and result.trace is not None:
        from ackcheck.checker.cli.view import write_trace_page

        write_trace_page(result.trace, args.html, "--html")
    elif args.html and not args.json:
        print(f"note: no counterexample, so no page written to {args.html}", file=sys.stderr)
    code = result.exit_code
    if args.strict_vacuity and result.warnings and code == 0:
        code = 1  # --strict-vacuity: a vacuous holds counts as a failure
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
        return code
    print(describe_config(config))
    if result.liveness:
        print("\n".join(result.liveness["fairness"]))
    if result.violation:
        inv, msg = result.violation
        print(f"VIOLATED {inv}: {msg}")
        if result.trace.loop_start is not None:
            k, n = result.trace.loop_start, len(result.trace.steps) - 1
            print(f"counterexample: a lasso, a shortest prefix of {k} steps then a loop of {n - k} step(s):")
        else:
            print(f"shortest counterexample ({len(result.trace.steps) - 1} steps):")
        print_counterexample(result.trace, full=args.full, trace_out=args.trace_out)
    elif result.interrupted:
        print(f"INTERRUPTED: no violation among the states explored so far ({', '.join(result.invariants)})")
        if args.checkpoint:
            print(f"checkpoint in {args.checkpoint}: continue with the same flags and --resume {args.checkpoint}",
                  file=sys.stderr)
    elif not result.stats.complete:
        print(f"NO VIOLATION up to depth {result.stats.max_depth} (--max-depth cut the search): "
              f"{', '.join(result.invariants)}")
    else:
        print(f"HOLDS within bounds: {', '.join(result.invariants)}")
    for w in result.warnings:
        print(f"warning: {w}")
    print(result.stats.done_line())
    return code


def _checkpoint_problem(directory: str, resume: str | None) -> str | None:
    """Why --checkpoint DIR cannot be used, found before the search starts rather than at
    its first checkpoint (a minute in, or at Ctrl-C): DIR cannot be created or written, or
    it holds the checkpoint of an earlier run that this one would replace without
    continuing it."""
    import os
    from pathlib import Path

    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".ackcheck-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"--checkpoint {directory}: cannot write there ({e.strerror or e})"
    if (root / "CURRENT").exists() and not (resume and os.path.realpath(resume) == os.path.realpath(directory)):
        return (f"--checkpoint {directory}: it holds the checkpoint of an earlier run; continue it with "
                f"--resume {directory}, or remove it (or pick another directory) to start afresh")
    return None
