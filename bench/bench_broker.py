"""Benchmark of the reference broker: replay and chaos speed with real files, and kill -9
recovery of a real broker process. Prints figures; asserts nothing.

    python bench/bench_broker.py [--kills 120] [--dir DIR] [--quick]

- replay: model counterexamples (several configs) and long chaos lives replayed on fresh
  clusters writing real files (fsync on), steps/s including cluster creation;
- chaos: seeded fault injection, broker steps/s, and the model replay of every life;
- kill -9: a broker process (python -m ackcheck.broker.worker) is SIGKILLed at random
  moments during its writes, >= 100 times; each restart recovers and is checked (no torn
  or corrupt batch served, nothing written lost).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

from ackcheck.broker.killtest import kill_and_recover
from ackcheck.checker.engines.chaos import CHAOS_BOUNDS, run_chaos
from ackcheck.checker.engines.check import run_check
from ackcheck.checker.engines.replay import replay_on_broker
from ackcheck.traces.settings import Setting, build_config


def cfg(settings=(), version=None, **bounds):
    return build_config([Setting(k, v, "bench") for k, v in settings], bounds=bounds or None, kafka_version=version)


COUNTEREXAMPLES = {
    "acks=1 loss": (cfg([("acks", "1")]), None),
    "min ISR 1 + power loss": (cfg(max_power_losses=1), None),
    "unclean election": (cfg([("unclean.leader.election.enable", "true")], max_records=1, max_crashes=2),
                         ["acked-write-survives"]),
    "duplicate on retry": (cfg([("enable.idempotence", "false"), ("retries", "3")], max_lost_messages=1),
                           ["no-duplicates"]),
    "0.10 (pre KIP-101)": (cfg([("acks", "all"), ("replication.factor", "2")], "0.10", max_crashes=2), None),
}

CHAOS = {
    "acks=1": cfg([("acks", "1")], **CHAOS_BOUNDS),
    "4.1 defaults + 2 power losses": cfg(max_power_losses=2, **CHAOS_BOUNDS),
    "min ISR 2, 2 lost messages": cfg([("min.insync.replicas", "2")], max_lost_messages=2, **CHAOS_BOUNDS),
    "0.10, unclean": cfg([("acks", "all")], "0.10", max_power_losses=1, **CHAOS_BOUNDS),
}


def bench_replay(root: str, repeat: int) -> None:
    print("== replay on the broker (real files, fsync on; cluster creation included)")
    total_steps = total_s = 0.0
    for name, (c, inv) in COUNTEREXAMPLES.items():
        trace = run_check(c, inv).trace
        steps = secs = 0.0
        ok = True
        for i in range(repeat):
            d = os.path.join(root, f"replay-{i}")
            r = replay_on_broker(trace, data_dir=d, segment_bytes=512)
            shutil.rmtree(d, ignore_errors=True)
            ok = ok and r.ok
            steps += r.steps
            secs += r.seconds
        total_steps += steps
        total_s += secs
        print(f"  {name:<28} {len(trace.steps) - 1:>3} steps x {repeat:<4} {steps / secs:>8,.0f} steps/s  "
              f"{'confirmed' if ok else 'NOT CONFIRMED'}")
    print(f"  {'all counterexamples':<28} {'':>15} {total_steps / total_s:>8,.0f} steps/s")
    # long schedules: lives taken from chaos, replayed on fresh clusters
    lives = []
    c = CHAOS["4.1 defaults + 2 power losses"]
    for seed in range(20, 40):
        r = run_chaos(c, seed, steps=400, model_check=False)
        if r.violation_trace is not None:
            lives.append(r.violation_trace)
    steps = secs = 0.0
    for i, t in enumerate(lives):
        d = os.path.join(root, f"long-{i}")
        r = replay_on_broker(t, data_dir=d, segment_bytes=512)
        shutil.rmtree(d, ignore_errors=True)
        steps += r.steps
        secs += r.seconds
    if lives:
        print(f"  {'chaos lives (long traces)':<28} {steps / len(lives):>5.0f} steps avg x {len(lives):<3}"
              f"{steps / secs:>8,.0f} steps/s")


def bench_chaos(root: str, steps: int) -> None:
    print("== chaos (real files, fsync on)")
    print(f"  throughput: {steps} steps per config, every invariant judged, going on after violations")
    for name, c in CHAOS.items():
        t0 = time.perf_counter()
        r = run_chaos(c, 1, steps=steps, runs=1, keep_going=True, data_root=os.path.join(root, "chaos"))
        wall = time.perf_counter() - t0
        s = r.runs[0]
        faults = ", ".join(f"{k}={n}" for k, n in s.faults.items() if n)
        print(f"  {name:<32} {s.steps:>5} steps {s.steps_per_second:>8,.0f} steps/s (broker)  "
              f"model replay {s.model_seconds:.2f}s ({s.model_divergences} divergent of {s.model_checked} lives)  "
              f"wall {wall:.2f}s")
        print(f"  {'':<32} {s.lives} lives; faults: {faults or 'none'}; torn writes {s.torn_writes}; "
              f"recoveries that cut {s.recoveries_cut}; violations {s.violations}")
    print("  finding: every invariant, seeds 1-5, first violation")
    for name, c in CHAOS.items():
        found = []
        t0 = time.perf_counter()
        for seed in range(1, 6):
            r = run_chaos(c, seed, steps=steps, model_check=False, data_root=os.path.join(root, "chaos"))
            found.append(f"{r.violation.invariant}@{r.steps}" if r.violation else "-")
        wall = time.perf_counter() - t0
        print(f"  {name:<32} {', '.join(found)}  ({wall:.2f}s)")


def bench_kills(root: str, kills: int) -> None:
    print(f"== kill -9 of a real broker process during writes ({kills} kills)")
    rng = random.Random(2024)
    d = os.path.join(root, "killed-broker")
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    torn = cut_bytes = 0
    failures = []
    last = None
    for i in range(kills):
        try:
            r = kill_and_recover(d, rng, max_wait=0.06, chunk_delay=0.001 if i % 2 else 0.0)
        except AssertionError as e:
            failures.append(f"kill {i}: {e}")
            continue
        last = r
        if r.recovery is not None and r.recovery.truncated:
            torn += 1
            cut_bytes += r.recovery.truncated_bytes
    secs = time.perf_counter() - t0
    print(f"  {kills} kills in {secs:.1f}s; recoveries that cut a torn batch: {torn} ({cut_bytes} bytes); "
          f"final log: {last.log_end_offset if last else '?'} records in {last.batches if last else '?'} batches")
    print(f"  recovery check failures (torn/corrupt batch served, or written data lost): {len(failures)}")
    for f in failures[:5]:
        print(f"    {f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=120)
    p.add_argument("--dir", help="where to put data (default: a temporary directory on this disk)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = p.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="ackcheck-bench-", dir=os.environ.get("TMPDIR"))
    os.makedirs(root, exist_ok=True)
    print(f"data under {root} (python {sys.version.split()[0]})")
    try:
        bench_replay(root, 5 if args.quick else 40)
        bench_chaos(root, 500 if args.quick else 3000)
        bench_kills(root, min(args.kills, 20) if args.quick else args.kills)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
