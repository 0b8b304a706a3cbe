"""Persistent-set bound: how many states a partial-order reduction that *skips states* (ample
or persistent sets, as SPIN does) could save, measured level by level (asserts nothing;
prints figures).

Sleep sets (checker/engines/explore.py) skip transitions and keep every state. A persistent
set skips states: at a state s it takes only a subset P of the enabled actions, which
needs (Peled's conditions for an invariant) that

- every enabled action outside P is independent of every action of P at s - a path of
  one step - so P is a union of connected components of the graph "dependent at s" over
  the enabled actions, and more than that once actions not yet enabled are counted;
- every action of P is invisible: it cannot change what the checked invariant reads
  (for acked-write-survives: the acknowledged outcomes, the controller's leader and that
  leader's log);
- every cycle of the reduced graph has a fully expanded state (here: s is expanded fully
  whenever one of P's successors has been seen already).

This bench takes, at each state, the *smallest* component of the enabled actions that is
invisible, with nothing added for actions that are not enabled yet. No sound persistent set
is smaller, so the figure is an optimistic bound: a real reduction would cut fewer states.
With `--relation static` dependence is model/independence.py (the relation the sleep sets
use); with `--relation oracle` two actions are independent at s when each stays enabled
after the other and both orders end in the same explored key - the widest relation there
can be, and expensive (use a smaller --depth).

Run: python bench/bench_ample.py [--depth 11] [--relation static|oracle] [check's config
flags] (without configuration flags: R4 of docs/reach.md).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from benchlib import explorer_model_and_key, parse_config

from ackcheck.checker.cli.options import add_config_flags
from ackcheck.model import independence
from ackcheck.traces.observation import OK

R4 = ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 2 --max-elections 2").split()


def components(n: int, dependent) -> list[list[int]]:
    """Connected components of the graph over 0..n-1 with an edge where dependent(i, j)."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if find(i) != find(j) and dependent(i, j):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=len)


def search(model, key_of, depth: int, reduce: bool, relation: str, seen_of_invariant):
    """Level sizes of a BFS to `depth`, with the ample selection when `reduce`."""
    init = model.init()
    fp0, _, t0 = key_of(init)
    seen = {fp0}
    frontier = [t0]
    levels = []
    ample_states = 0
    t_start = time.process_time()
    for _ in range(depth):
        nxt = []
        for s in frontier:
            out = model.successors(s)
            chosen = out
            if reduce and len(out) > 1:
                if relation == "static":
                    codes = [independence.footprint(model, s, a) for a, _ in out]

                    def dependent(i, j, codes=codes):
                        return not independence.commute(codes[i], codes[j])
                else:
                    def dependent(i, j, out=out):
                        a, b = out[i][0], out[j][0]
                        ab = dict(model.successors(out[i][1])).get(b)
                        ba = dict(model.successors(out[j][1])).get(a)
                        return ab is None or ba is None or key_of(ab)[0] != key_of(ba)[0]
                seen_now = seen_of_invariant(s)
                for group in components(len(out), dependent):
                    if len(group) == len(out):
                        break
                    if all(seen_of_invariant(out[i][1]) == seen_now for i in group):
                        cand = [out[i] for i in group]
                        if all(key_of(t)[0] not in seen for _, t in cand):  # the cycle proviso
                            chosen = cand
                            ample_states += 1
                        break
            for _, t in chosen:
                fp, _, canon = key_of(t)
                if fp not in seen:
                    seen.add(fp)
                    nxt.append(canon)
        levels.append(len(nxt))
        frontier = nxt
        if not nxt:
            break
    return levels, len(seen), ample_states, time.process_time() - t_start


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_flags(ap)
    ap.add_argument("--depth", type=int, default=11)
    ap.add_argument("--relation", choices=("static", "oracle"), default="static")
    args, config = parse_config(ap, argv, {"--depth", "--relation"}, R4)
    model, key_of = explorer_model_and_key(config)

    def what_the_invariant_reads(s):
        o = model.observe(s)
        return (tuple(x for x in o.outcomes if x[0] == OK), o.leader,
                o.replicas[o.leader].log if o.leader >= 0 else None)

    gc.disable()
    plain, n_plain, _, cpu_plain = search(model, key_of, args.depth, False, args.relation, what_the_invariant_reads)
    red, n_red, ample, cpu_red = search(model, key_of, args.depth, True, args.relation, what_the_invariant_reads)
    print(f"| depth | plain BFS: new states | with the smallest invisible component ({args.relation}) |")
    print("|---|---|---|")
    for d, (a, b) in enumerate(zip(plain, red), 1):
        print(f"| {d} | {a:,} | {b:,} |")
    print(f"plain: {n_plain:,} states to depth {len(plain)} ({cpu_plain:.1f} CPU s); reduced: {n_red:,} "
          f"({1 - n_red / n_plain:.1%} fewer), {ample:,} states expanded with a proper subset ({cpu_red:.1f} CPU s)")


if __name__ == "__main__":
    main(sys.argv[1:])
