"""`ackcheck seed-claims [--out docs/seed-claims.md] [--trace-dir DIR] [--jobs N] [--cache-dir DIR | --no-cache]`:
regenerate the page of the seed notes' claims (checker/audit/seed_claims.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ackcheck.checker.audit.seed_claims import CLAIMS, render, run_claims, write_traces
from ackcheck.checker.cli.audit import add_run_flags


def build_parser():
    from ackcheck.checker.cli.options import ArgumentParser

    p = ArgumentParser(prog="ackcheck seed-claims", description=(
        "Check every claim of the seed notes and (re)generate docs/seed-claims.md with the verdicts, the "
        "configurations and bounds, and the traces."))
    p.add_argument("--out", metavar="FILE", default="docs/seed-claims.md", help="the page (default docs/seed-claims.md)")
    p.add_argument("--trace-dir", metavar="DIR", help="traces (default: seed-traces/ beside --out)")
    p.add_argument("--stdout", action="store_true", help="print the page instead of writing it (traces still written)")
    add_run_flags(p)
    return p


def main(argv: list[str]) -> int:
    from ackcheck.traces.settings import ConfigError

    args = build_parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs: expected a positive number")
    t0 = time.perf_counter()
    out = Path(args.out)
    trace_dir = Path(args.trace_dir) if args.trace_dir else out.parent / "seed-traces"
    outcomes = run_claims(cache_dir=None if args.no_cache else args.cache_dir, jobs=args.jobs, cluster=args.cluster)
    try:
        write_traces(outcomes, trace_dir, out.parent)
        page = render(outcomes)
        if args.stdout:
            sys.stdout.write(page)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(page, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{e.filename}: {e.strerror}") from None
    n = len(CLAIMS)
    print(f"seed-claims: {n} claims, {len(outcomes)} checks, "
          f"{sum(o.result['states'] for o in outcomes.values()):,} states, {time.perf_counter() - t0:.1f}s"
          + ("" if args.stdout else f" -> {out}"), file=sys.stderr)
    return 0
