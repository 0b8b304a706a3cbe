"""Per-preset benchmark: the bench reference config on every --kafka-version preset.

Prints distinct states, transitions, seconds and states/s for each preset (with broker
symmetry, and without it with --plain), then each era scenario's counterexample search
(rule off) and holding run (rule on). Asserts nothing.

    python bench/bench_eras.py [--plain] [--quick]

Reference config (checker/eras_doc.py): RF 3, acks=all, min.insync.replicas=2,
enable.idempotence=false (the same producer on every release), 2 records, 2 process
crashes, no power loss, no elections, no ISR shrinks, 1 attempt; acked-write-survives.
"""

from __future__ import annotations

import sys

from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS, reference_config
from ackcheck.checker.engines.check import run_check
from ackcheck.traces import eras


def line(name: str, r) -> str:
    s = r.stats
    return (f"{name:<34} {r.verdict:<9} distinct={s.distinct_states:>9,} transitions={s.transitions:>10,} "
            f"depth={s.max_depth:>2} seconds={s.seconds:6.2f} states/s={s.states_per_second:>8,.0f}")


def main(argv: list[str]) -> int:
    plain = "--plain" in argv
    quick = "--quick" in argv
    modes = [True, False] if plain else [True]
    print("== bench reference config on every preset (acked-write-survives)")
    for version in eras.VERSIONS:
        cfg = reference_config(version)
        for sym in modes:
            r = run_check(cfg, ["acked-write-survives"], symmetry=sym)
            print(line(f"{version}{'' if sym else ' (no symmetry)'}", r), flush=True)
    print("\n== era scenarios: rule off (counterexample search), rule on (holds)")
    for sc in ERA_SCENARIOS:
        if quick and sc.slow:
            print(f"{sc.rule:<34} skipped (slow; run without --quick)")
            continue
        for on in (False, True):
            r = run_check(sc.config(on), [sc.invariant])
            print(line(f"{sc.rule} {'on' if on else 'off'}", r), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
