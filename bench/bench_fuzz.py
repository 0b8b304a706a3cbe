"""Fuzz benchmark: model steps per second under Hypothesis, and the time fuzz needs to find
each corpus violation on bounds BFS cannot exhaust. Prints figures, asserts nothing.

    python bench/bench_fuzz.py [--quick] [--examples N] [--seeds K]

1. Throughput: the machine on RF 3 and RF 5, 6 records, crashes and ISR shrinks, one
   invariant that holds (so no shrinking): model steps (actions taken) per CPU second and
   per wall second, next to a plain random walk over the same model (no Hypothesis) to
   show Hypothesis' own cost per step.
2. Time to find: every corpus scenario with its Kafka settings but RF 5 (RF 3 for the
   RF-2 era scenario and min ISR 1 ones are raised too), 6 records, 4 ISR shrinks and its
   perturbation bounds: executions and CPU seconds until the first failure (shrink=False),
   then the full run (Hypothesis shrink + ddmin) and the counterexample's length.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from ackcheck.checker.audit.corpus import SCENARIOS, Scenario
from ackcheck.checker.engines.check import model_for
from ackcheck.checker.engines.fuzz import run_fuzz
from ackcheck.checker.engines.minimize import minimize_trace
from ackcheck.invariants.catalogue import Judge, select
from ackcheck.traces.settings import Setting, build_config


def cfg(props, version=None, **bounds):
    return build_config([Setting(k, str(v), "bench") for k, v in props.items()], kafka_version=version,
                        bounds=bounds)


def random_walk_rate(config, invariants, walks=200, steps=60, seed=0) -> float:
    """Model steps per CPU second of a uniform random walk (successors + invariants)."""
    invs = select(invariants, config)
    model, judge = model_for(config, invs), Judge(invs, config)
    rnd = random.Random(seed)
    n = 0
    t = time.process_time()
    for _ in range(walks):
        s = model.init()
        for _ in range(steps):
            succ = list(model.successors(s))
            if not succ:
                break
            _, nxt = rnd.choice(succ)
            judge(s, nxt)
            s = nxt
            n += 1
    return n / (time.process_time() - t)


def throughput(examples: int) -> None:
    print("== model steps per second under Hypothesis (acked-write-survives holds: no shrinking)")
    for rf in (3, 5):
        c = cfg({"acks": "all", "replication.factor": rf, "min.insync.replicas": 2},
                max_records=6, max_crashes=2, max_isr_shrinks=2)
        w0, c0 = time.perf_counter(), time.process_time()
        r = run_fuzz(c, ["acked-write-survives"], examples=examples, steps=80, seed=1, track_states=False)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        steps = r.stats.transitions
        print(f"RF {rf}, 6 records, 2 crashes, 2 ISR shrinks: {r.verdict}; {r.executions} executions, "
              f"{steps:,} model steps (+{r.idle_steps:,} quiescent), max depth {r.stats.max_depth}")
        print(f"  {steps / cpu:,.0f} model steps/s CPU, {steps / wall:,.0f} wall "
              f"({(steps + r.idle_steps) / cpu:,.0f} machine steps/s CPU); "
              f"plain random walk: {random_walk_rate(c, ['acked-write-survives']):,.0f} steps/s CPU")


def big(sc: Scenario) -> tuple[dict, dict]:
    props = dict(sc.settings)
    rf = 5 if sc.kafka_version is None or sc.kafka_version >= "3" else 3
    props["replication.factor"] = str(rf)
    bounds = {**sc.bounds, "max_records": 6, "max_isr_shrinks": 4}
    return props, bounds


def time_to_find(examples: int, seeds: int) -> None:
    print(f"\n== time to find each corpus violation on larger bounds (budget {examples} examples, "
          f"steps 80, seeds 0..{seeds - 1})")
    for sc in SCENARIOS:
        props, bounds = big(sc)
        c = cfg(props, sc.kafka_version, **{"max_crashes": 1, **bounds})
        desc = (f"RF {props['replication.factor']} records 6 crashes {c.bounds.max_crashes} "
                f"power {c.bounds.max_power_losses} lost {c.bounds.max_lost_messages} shrinks 4")
        finds = []
        for seed in range(seeds):
            t = time.process_time()
            r = run_fuzz(c, [sc.invariant], examples=examples, steps=80, seed=seed, track_states=False,
                         shrink=False)
            finds.append((r.executions if r.violation else None, time.process_time() - t))
        found = [f for f in finds if f[0] is not None]
        line = ", ".join(f"{e if e is not None else 'none'} ({s:.1f}s)" for e, s in finds)
        print(f"{sc.name} [{sc.invariant}; {desc}]\n  first failure after executions (CPU s): {line}")
        if found:
            t = time.process_time()
            r = run_fuzz(c, [sc.invariant], examples=examples, steps=80, seed=0 if finds[0][0] else
                         finds.index(found[0]), track_states=False, shrink_seconds=60)
            shrink_cpu = time.process_time() - t
            if r.trace is not None:
                hyp = len(r.trace.steps) - 1
                m = minimize_trace(r.trace)
                print(f"  with shrinking: {shrink_cpu:.1f}s CPU; counterexample {hyp} steps after Hypothesis, "
                      f"{len(m.trace.steps) - 1} after ddmin ({m.seconds:.2f}s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small budgets")
    p.add_argument("--examples", type=int, default=None)
    p.add_argument("--seeds", type=int, default=None)
    a = p.parse_args()
    ex = a.examples or (300 if a.quick else 3000)
    seeds = a.seeds or (1 if a.quick else 3)
    throughput(100 if a.quick else 300)
    time_to_find(ex, seeds)
    sys.exit(0)
