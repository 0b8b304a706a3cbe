"""Sleep-set benchmark: how many transitions the explorer's sleep sets skip, and what that
saves, on the R1-R4 scenarios of docs/reach.md (asserts nothing; prints figures).

Each scenario is explored in one process (`explore(..., workers=1)`) with sleep sets on and
off, alternately (`--rounds` times each, so both see the same machine), and prints one
markdown row per run: distinct states, transitions, transitions asleep (skipped: their
successors were not computed) and CPU seconds (time.process_time). The two searches must
agree on states and transitions; the bench says so if they do not.
Run: python bench/bench_sleep.py [R1 R2 R4 ...] [--rounds 2] [--depth N] (R4 to depth 12 unless --depth)
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_reach import SCENARIOS

from ackcheck.checker.cli.options import add_config_flags, config_from_args
from ackcheck.checker.engines.check import model_for
from ackcheck.checker.engines.explore import explore
from ackcheck.invariants.catalogue import select


def run(flags: list[str], sleep_sets: bool) -> tuple:
    ap = argparse.ArgumentParser()
    add_config_flags(ap)
    ap.add_argument("--invariant", action="append")
    args = ap.parse_args(flags)
    config = config_from_args(args)
    invs = select(args.invariant or ["acked-write-survives"], config)
    model = model_for(config, invs, lean=True)
    t0 = time.process_time()
    r = explore(model, invs, workers=1, sleep_sets=sleep_sets)
    st = r.stats
    return r.verdict, st.distinct_states, st.transitions, st.transitions_asleep, time.process_time() - t0


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", default=["R1", "R2"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--depth", type=int, default=None, help="explore to this depth only (R4: 12 by default)")
    args = ap.parse_args(argv)
    print("| scenario | sleep sets | verdict | distinct states | transitions | asleep | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.scenarios:
        flags = SCENARIOS[name].split()
        depth = args.depth or (12 if name == "R4" else None)
        label = name if depth is None else f"{name} to depth {depth}"
        if depth is not None:
            flags += ["--max-depth", str(depth)]
        results = {}
        for _ in range(args.rounds):
            for on in (True, False):
                verdict, states, transitions, asleep, cpu = run(flags, on)
                results.setdefault(on, []).append((states, transitions))
                share = f"{asleep:,} ({asleep / max(1, transitions):.0%})" if on else "-"
                print(f"| {label} | {'on' if on else 'off'} | {verdict} | {states:,} | {transitions:,} | {share} | "
                      f"{cpu:.1f} |", flush=True)
        if set(results[True]) != set(results[False]):
            print(f"  {label}: the two searches DISAGREE: {results}")


if __name__ == "__main__":
    main(sys.argv[1:])
