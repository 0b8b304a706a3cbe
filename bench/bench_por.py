"""Partial-order reduction bound: how many transitions a sleep-set search could skip, and
whether it keeps every state and every shortest trace (asserts nothing; prints figures).

Runs two level-by-level searches of one configuration over the explorer's state keys
(Model.abstract, the canonical broker renaming) and each state's successor indices:

1. plain BFS, as `ackcheck check` explores: every state's winning arrival is its smallest
   key (parent rank, successor index), which is what makes traces shortest and the same
   for any number of workers;
2. BFS with sleep sets (Godefroid): a state keeps the set of actions it need not take,
   because an independent, earlier-ordered action at an ancestor already leads to the
   same state by another path of the same length. A state's sleep set is the one of its
   winning arrival - the lexicographically smallest shortest path, which no sleep set
   ever prunes (moving a sleeping action earlier would give a smaller path) - so the
   search keeps every state, its depth and its parent.

By default independence is an oracle, not an argued relation: actions a and b are
independent at s if each stays enabled after the other and s·a·b and s·b·a have the same
key. So the figure is an upper bound for a relation argued action by action, and the check
that states, depths and winning keys agree tests the design, not a relation. With
`--relation static` the search uses model/independence.py, the relation argued pair by
pair, and shows how much of the bound it reaches. `--pairs` limits
the oracle to pairs whose action names are both listed (e.g. broker_learn only),
`--involving NAME` to pairs with NAME on one side.

Run: python bench/bench_por.py [--symmetry on] [--pairs A,B | --involving A] [check's config flags]
(without configuration flags: R1 of docs/reach.md with one crash, 99,141 states with symmetry off).
"""

from __future__ import annotations

import argparse
import collections
import gc
import sys
import time

from benchlib import explorer_model_and_key, parse_config

from ackcheck.checker.cli.options import add_config_flags
from ackcheck.checker.engines.explore import _rename
from ackcheck.model import independence

DEFAULT = "--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 1".split()


def search(model, key_of, independent=None):
    """Level-by-level BFS over the explored keys, skipping sleeping actions when an
    `independent(s, successors, a, b)` relation is given (the plain search without one).
    Returns ({fingerprint: (depth, winning key)}, transitions taken, {action-name pair:
    times found independent})."""
    uses: collections.Counter = collections.Counter()
    init = model.init()
    fp0, _, t0 = key_of(init)
    won = {fp0: (0, ())}
    frontier = [(t0, frozenset())]
    taken = 0
    depth = 0
    while frontier:
        nxt: dict = {}
        for rank, (s, sleep) in enumerate(frontier):
            out = model.successors(s)
            succ = dict(out)
            done: list = []
            for index, (action, raw) in enumerate(out):
                if action in sleep:
                    continue
                taken += 1
                indep = []
                if independent is not None:
                    indep = [b for b in (*sleep, *done) if b in succ and independent(s, succ, action, b)]
                    for b in indep:
                        uses[tuple(sorted((action[0], b[0])))] += 1
                    done.append(action)
                fp, pos, t = key_of(raw)
                if fp in won:
                    continue
                key = (rank, index)
                if fp not in nxt or key < nxt[fp][0]:
                    # the winner's sleep set, in the explored (renamed) form's broker names
                    nxt[fp] = (key, t, frozenset(_rename(b, pos) for b in indep))
        depth += 1
        for fp, (key, _, _) in nxt.items():
            won[fp] = (depth, key)
        frontier = [(t, z) for _, t, z in sorted(nxt.values(), key=lambda kv: kv[0])]
    return won, taken, uses


def relation(model, key_of, pairs: set[str] | None, involving: str | None, static: bool):
    """independent(s, successors, a, b): model/independence.py (`static`), or the oracle
    limited to `pairs` / pairs `involving` one action."""
    def independent(s, succ, a, b) -> bool:
        if static:
            return independence.independent(model, s, a, b)
        if pairs is not None and not (a[0] in pairs and b[0] in pairs):
            return False
        if involving is not None and involving not in (a[0], b[0]):
            return False
        ab = dict(model.successors(succ[a])).get(b)
        ba = dict(model.successors(succ[b])).get(a)
        return ab is not None and ba is not None and key_of(ab)[0] == key_of(ba)[0]

    return independent


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_flags(ap)
    ap.add_argument("--pairs", default=None, help="action names the independence oracle may pair (comma list)")
    ap.add_argument("--relation", choices=("oracle", "static"), default="oracle",
                    help="oracle: the bound; static: model/independence.py, the argued relation")
    ap.add_argument("--involving", default=None, help="only pairs where one side is this action")
    ap.add_argument("--symmetry", choices=("on", "off"), default="off")
    own = {"--pairs", "--relation", "--involving", "--symmetry"}  # the bench's options, each with a value
    args, config = parse_config(ap, argv, own, DEFAULT)
    model, key_of = explorer_model_and_key(config, symmetry=args.symmetry == "on")
    gc.disable()
    t0 = time.process_time()
    won, transitions, _ = search(model, key_of)
    t1 = time.process_time()
    won2, taken, uses = search(model, key_of, relation(model, key_of, set(args.pairs.split(",")) if args.pairs else None,
                                                       args.involving, args.relation == "static"))
    t2 = time.process_time()
    same = won == won2
    print(f"plain BFS:       states={len(won):,} transitions={transitions:,} ({t1 - t0:.1f} CPU s)")
    print(f"with sleep sets: states={len(won2):,} transitions taken={taken:,} "
          f"({taken / max(1, transitions):.0%} of plain; sleep-set search {t2 - t1:.1f} CPU s)")
    print(f"same states, depths and winning keys (so the same traces): {same}")
    print("independent pairs the oracle found most often:")
    for (a, b), n in uses.most_common(12):
        print(f"  {a:28s} {b:28s} {n:8,}")


if __name__ == "__main__":
    main(sys.argv[1:])
