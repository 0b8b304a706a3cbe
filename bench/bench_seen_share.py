"""Whole seen sets against owned parts: the same search on 2 workers with every partition
keeping the whole seen set (explore.WHOLE_SEEN_WORKERS 4, the default) and with each
keeping only the fingerprints it owns (1), alternated --repeat times in this process.
Prints per run: wall seconds, the candidates sent to their owners over the whole search,
peak memory of all processes, and the distinct count (which must not move). Asserts
nothing. Default: R4 (R1 with two elections) to depth 17, about 13 million states.
Run: python bench/bench_seen_share.py [--repeat 2] [--workers 2] [check's flags]
"""

from __future__ import annotations

import argparse
import sys
import time

from benchlib import parse_config

import ackcheck.checker.engines.explore as explore_mod
from ackcheck.checker.cli.options import add_config_flags
from ackcheck.checker.engines import parallel
from ackcheck.checker.engines.check import run_check

DEFAULT = ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 2 --max-elections 2 "
           "--max-depth 17").split()


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    add_config_flags(ap)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args, config = parse_config(ap, argv, {"--repeat", "--workers"}, DEFAULT)
    sent = [0]
    call = parallel.ProcessPool.call

    def counting(self, method, a=None, progress=None):
        if method == "absorb":
            sent[0] += sum(len(fps) for inbound, in a for fps, _ in inbound)
        return call(self, method, a, progress)

    parallel.ProcessPool.call = counting
    print("| seen set per worker | wall s | candidates sent to owners | peak memory MB | distinct states |")
    print("|---|---|---|---|---|")
    for _ in range(args.repeat):
        for whole in (False, True):
            explore_mod.WHOLE_SEEN_WORKERS = 4 if whole else 1
            sent[0] = 0
            t0 = time.perf_counter()
            r = run_check(config, ["acked-write-survives"], workers=args.workers)
            wall = time.perf_counter() - t0
            print(f"| {'whole' if whole else 'owned part'} | {wall:.1f} | {sent[0]:,} | "
                  f"{r.stats.peak_memory_bytes / 2**20:,.0f} | {r.stats.distinct_states:,} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
