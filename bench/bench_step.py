"""Per-state cost benchmark: where the explorer's time goes, stage by stage (asserts nothing).

Explores one configuration breadth-first with the explorer's canonical form (R2's flags
without ISR shrinks by default: 74,573 states), keeps every explored state, then times,
over all of them, in CPU seconds (time.process_time, best of --repeat runs - the machine
may be shared): each action's enabled() scan and effect, successors() as a whole, hashing
the successors, their broker signatures (symmetry.candidates) and renaming the ones that
need it (symmetry.permute). Run: python bench/bench_step.py [--repeat 3] [--max-crashes 2 ...]
(any `ackcheck check` configuration flags replace the default ones; `--max-depth N` stops
the exploration at depth N, for configurations too large to keep whole, R4 among them).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from ackcheck.checker.cli.options import add_config_flags, config_from_args
from ackcheck.checker.engines.check import model_for
from ackcheck.invariants.catalogue import select
from ackcheck.model.symmetry import candidates, canonical_state, permute

DEFAULT = ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 1 --max-elections 1 "
           "--max-isr-shrinks 0 --max-attempts 1").split()


def best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return min(out)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    add_config_flags(p)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args([a for a in argv] if any(a.startswith("--max") or a.startswith("--acks") for a in argv)
                        else DEFAULT + argv)
    config = config_from_args(args)
    model = model_for(config, select(["acked-write-survives"], config), lean=True)
    s0 = model.init()
    seen = {hash(s0)}
    frontier, states = [s0], [s0]
    depth = 0
    while frontier and depth < config.bounds.max_depth:
        depth += 1
        nxt = []
        for s in frontier:
            for _, raw in model.successors(s):
                fp, _, t = canonical_state(raw, hash)
                if fp not in seen:
                    seen.add(fp)
                    nxt.append(t)
        frontier = nxt
        states += nxt
    n = len(states)
    gc.disable()  # (as the explorer runs: millions of long-lived tuples, no cycles)
    raws = [raw for s in states for _, raw in model.successors(s)]
    print(f"{n:,} states, {len(raws):,} transitions; CPU seconds over all of them (us per call)")
    print("| stage | calls | CPU s | us/call |")
    print("|---|---|---|---|")

    def row(name, calls, secs):
        print(f"| {name} | {calls:,} | {secs:.3f} | {secs / max(1, calls) * 1e6:.2f} |", flush=True)

    for entry in model._table:
        group = entry[0] if isinstance(entry[0], tuple) else (entry,)
        for name, enabled, effect in group:
            if group is entry[0]:
                args_of = [(s, (b,)) for s in states for b in model.brokers if enabled(s, b)]
                row(f"enabled_{name} (per broker)", n * model.rf,
                    best(lambda en=enabled: [en(s, b) for s in states for b in model.brokers], args.repeat))
            else:
                args_of = [(s, a) for s in states for a in enabled(s)]
                row(f"enabled_{name}", n, best(lambda en=enabled: [en(s) for s in states], args.repeat))
            row(name, len(args_of), best(lambda ef=effect, xs=args_of: [ef(s, *a) for s, a in xs], args.repeat))
    row("successors()", n, best(lambda: [model.successors(s) for s in states], args.repeat))
    row("hash(successor)", len(raws), best(lambda: [hash(r) for r in raws], args.repeat))
    cands = [candidates(r) for r in raws]
    row("symmetry.candidates", len(raws), best(lambda: [candidates(r) for r in raws], args.repeat))
    renamed = [(r, c[0]) for r, c in zip(raws, cands) if c is not None]
    row("symmetry.permute", len(renamed), best(lambda: [permute(r, pos) for r, pos in renamed], args.repeat))
    abstract = model.abstract
    row("Model.abstract", len(raws), best(lambda: [abstract(r) for r in raws], args.repeat))

    def key(s):
        return hash(abstract(s))
    row("the key: canonical_state(abstract, hash)", len(raws),
        best(lambda: [canonical_state(r, key) for r in raws], args.repeat))


if __name__ == "__main__":
    main(sys.argv[1:])
