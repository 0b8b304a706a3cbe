"""Explorer benchmark: prints distinct states, seconds and states/s (asserts nothing).

Reference config (holds, so the whole space is explored): RF 3, acks=all, min ISR 2,
2 records, 2 process crashes, no power loss; plus an idempotent-producer config and the
time to the first violation for acks=1, each with and without broker symmetry.
Peak memory is the process's resident peak so far (it only grows over the cases);
bytes/state is the search's own tables (seen set, parent pointers) per distinct state.
Run: python bench/bench_explore.py [--quick]
"""

import sys

from ackcheck.checker.engines.check import run_check
from ackcheck.traces.settings import Setting, build_config


def cfg(props, **bounds):
    return build_config([Setting(k, v, "bench") for k, v in props.items()], bounds=bounds)


CASES = [
    ("acks=1, first violation", cfg({"acks": "1"}), None),
    ("reference: acks=all minISR2 RF3 records=2 crashes=2 (acked-write-survives)",
     cfg({"acks": "all", "min.insync.replicas": "2"}, max_records=2, max_crashes=2, max_elections=0,
         max_isr_shrinks=0, max_attempts=1), ["acked-write-survives"]),
    ("idempotent producer: records=2 lost=1 crashes=0 (no-duplicates, producer-order)",
     cfg({"acks": "all", "min.insync.replicas": "2", "enable.idempotence": "true"}, max_records=2,
         max_crashes=0, max_lost_messages=1), ["no-duplicates", "producer-order"]),
    ("defaults: acks=all minISR2 (all invariants)", cfg({"acks": "all", "min.insync.replicas": "2"}), None),
]

if __name__ == "__main__":
    quick = "--quick" in sys.argv
    for name, config, invs in CASES:
        if quick and "reference" in name:
            continue
        print(name)
        for sym in (True, False):
            r = run_check(config, invs, symmetry=sym)
            s = r.stats
            print(f"  symmetry={'on ' if sym else 'off'} verdict={r.verdict} distinct={s.distinct_states:,} "
                  f"transitions={s.transitions:,} depth={s.max_depth} seconds={s.seconds:.2f} "
                  f"states/s={s.states_per_second:,.0f} peak_memory={s.peak_memory_bytes / 2**20:,.0f}MB "
                  f"bytes/state={s.bytes_per_state:.1f}", flush=True)
