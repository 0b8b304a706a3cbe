"""What a level of the search is made of: where a configuration's states come from
(asserts nothing; prints figures).

Runs the explorer's search (the same keys: Model.abstract and the canonical broker
renaming) level by level up to `--depth`, then describes the last level:

- how its states spread over what is in flight (controller decisions not yet learned,
  produce requests and responses, parked requests, pending ISR changes), over the
  perturbation budgets spent, and over the brokers' views (how many live brokers still
  hold an older leader epoch than the controller's);
- how many of them would remain if a part of the state were forgotten: the brokers' own
  views with the controller's decisions in flight, or the producer with its connections.
  Such a factor is the most any reduction of that part could merge - it says where
  states come from, not what may soundly be forgotten (the stale views are exactly what
  KIP-279, KIP-320 and KAFKA-7128 need).

Run: python bench/bench_shape.py [--depth N] [check's config flags]
(without configuration flags: R4 of docs/reach.md, to depth 12: about a minute).
"""

from __future__ import annotations

import argparse
import collections
import gc
import sys
import time

from ackcheck.checker.cli.options import add_config_flags, config_from_args
from ackcheck.checker.engines.check import model_for
from ackcheck.invariants.catalogue import select
from ackcheck.model.symmetry import canonical_state

R4 = ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 2 --max-elections 2").split()

FEATURES = {
    "controller decisions in flight": lambda s: len(s.controller_messages),
    "live brokers behind the controller's epoch":
        lambda s: sum(r.alive and r.leader_epoch < s.leader_epoch for r in s.replicas),
    "brokers that believe they lead": lambda s: sum(r.alive and r.leader == b for b, r in enumerate(s.replicas)),
    "produce requests in flight": lambda s: len(s.requests),
    "produce responses in flight": lambda s: len(s.responses),
    "requests parked in purgatory": lambda s: len(s.purgatory),
    "ISR changes pending": lambda s: len(s.isr_changes),
    "brokers down": lambda s: sum(not r.alive for r in s.replicas),
    "crashes spent": lambda s: s.crashes,
    "leader moves spent": lambda s: s.elections,
    "controller's leader epoch": lambda s: s.leader_epoch,
}


def without_views(s):
    """The state without the brokers' views (leader, epoch, follower offsets, ISR) and
    the controller decisions in flight."""
    return s._replace(replicas=tuple(r[:5] for r in s.replicas), controller_messages=(), fetcher_truncating=())


def without_producer(s):
    """The state without the producer's bookkeeping and its connections."""
    return s._replace(requests=(), responses=(), purgatory=(), batches=(), outcomes=(), in_flight=(),
                      producer_epoch=0, next_sequence=0, last_acked_sequence=-1)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_flags(ap)
    ap.add_argument("--depth", type=int, default=12, help="levels to explore (default 12)")
    own = {"--depth"}
    config_flags = [a for i, a in enumerate(argv) if a not in own and (i == 0 or argv[i - 1] not in own)]
    args = ap.parse_args(argv if config_flags else argv + R4)
    config = config_from_args(args)
    model = model_for(config, select(["acked-write-survives"], config), lean=True)
    abstract = model.abstract

    def fingerprint(s):  # the explorer's seen-set key
        return hash(abstract(s))

    gc.disable()
    t0 = time.process_time()
    fp0, _, first = canonical_state(model.init(), fingerprint)
    seen = {fp0}
    frontier = [first]
    sizes = []
    for _ in range(args.depth):
        nxt = {}
        for s in frontier:
            for _, raw in model.successors(s):
                fp, _, t = canonical_state(raw, fingerprint)
                if fp not in seen and fp not in nxt:
                    nxt[fp] = t
        if not nxt:
            break
        seen.update(nxt)
        frontier = list(nxt.values())
        sizes.append(len(frontier))
    took = time.process_time() - t0
    print(f"levels 1-{len(sizes)}: {', '.join(f'{n:,}' for n in sizes)} "
          f"({len(seen):,} states, {took:.1f} CPU s)")
    n = len(frontier)
    print(f"level {len(sizes)}: {n:,} states")
    for name, feature in FEATURES.items():
        counts = collections.Counter(feature(s) for s in frontier)
        spread = ", ".join(f"{k}: {v / n:.0%}" for k, v in sorted(counts.items()))
        print(f"  {name:45s} {spread}")
    for label, forget in (("the brokers' views and the decisions in flight", without_views),
                          ("the producer and its connections", without_producer)):
        left = len({abstract(forget(s)) for s in frontier})
        print(f"  forgetting {label}: {left:,} states remain ({n / max(1, left):.1f}x fewer)")


if __name__ == "__main__":
    main(sys.argv[1:])
