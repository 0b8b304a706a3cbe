"""Figures for liveness and vacuity (printed, never asserted):

1. the cost of vacuity witnesses on `ackcheck check --acks all --min-insync-replicas 2`
   (every invariant that applies; best of 3 runs with and without the witnesses);
2. the liveness graph (every edge kept, no symmetry) against the safety explorer;
3. strongly connected components: the iterative Tarjan on CSR arrays against networkx
   (building its DiGraph included), on random graphs and on model graphs - the figures
   behind NX_MAX_EDGES in checker/engines/graph.py.

    python bench/bench_liveness.py
"""

from __future__ import annotations

import random
import time

from ackcheck import build_config
from ackcheck.checker.engines.check import model_for
from ackcheck.checker.engines.explore import explore
from ackcheck.checker.engines.graph import NX_MAX_EDGES, StateGraph, build_graph, sccs
from ackcheck.checker.engines.liveness import check_liveness
from ackcheck.invariants.catalogue import select
from ackcheck.invariants.liveness import is_fair
from ackcheck.invariants.witnesses import Watcher
from ackcheck.model.protocol import Model


def best(fn, rep: int = 3) -> float:
    t = float("inf")
    for _ in range(rep):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def witnesses() -> None:
    cfg = build_config({"acks": "all", "min.insync.replicas": "2"})
    invs = select(None, cfg)
    ids = [i.id for i in invs]
    plain = best(lambda: explore(model_for(cfg, invs, lean=True), invs))
    watched = best(lambda: explore(model_for(cfg, invs, lean=True), invs, watch=Watcher(ids, cfg)))
    r = explore(model_for(cfg, invs, lean=True), invs)
    print(f"witnesses: check --acks all --min-insync-replicas 2: {r.stats.distinct_states:,} states, "
          f"{r.stats.transitions:,} transitions; {plain:.3f}s without, {watched:.3f}s with witnesses "
          f"({(watched / plain - 1) * 100:+.1f}%)")


def graph_vs_explorer() -> None:
    for props, bounds in (({"acks": "1"}, {}), ({"acks": "all", "min.insync.replicas": "2"}, {}),
                          ({"acks": "all"}, {"max_crashes": 2})):
        cfg = build_config(props, **bounds)
        invs = select(["acked-write-survives"], cfg)
        t0 = time.perf_counter()
        r = explore(model_for(cfg, invs, lean=True), invs)
        t_explore = time.perf_counter() - t0
        lv = check_liveness(cfg, ["eventually-visible"])
        g = lv.liveness["graph"]
        print(f"{props} {bounds}: explorer {r.stats.distinct_states:,} states {t_explore:.2f}s ({r.verdict}); "
              f"liveness graph {g['states']:,} states {g['edges']:,} edges {g['seconds_graph']:.2f}s + "
              f"SCCs {g['seconds_scc']:.3f}s ({lv.verdict})")


def scc_engines() -> None:
    rng = random.Random(1)
    print(f"SCCs (NX_MAX_EDGES = {NX_MAX_EDGES:,}):")
    for n in (300, 1_000, 3_000, 10_000, 50_000):
        g = StateGraph(model=None)
        for _ in range(n):
            for _ in range(3):
                g.targets.append(rng.randrange(n))
            g.offsets.append(len(g.targets))
            g.parent.append(0)
        print(f"  random n={n:,} edges={g.edges:,}: tarjan {best(lambda: sccs(g, engine='tarjan')):.4f}s, "
              f"networkx {best(lambda: sccs(g, engine='networkx')):.4f}s")
    for props in ({"acks": "1"}, {"acks": "all", "min.insync.replicas": "2"}):
        g = build_graph(Model(build_config(props), consumer=False, ghosts=()), fair=is_fair)
        print(f"  model {props} n={g.nodes:,} edges={g.edges:,}: tarjan {best(lambda: sccs(g, engine='tarjan')):.4f}s, "
              f"networkx {best(lambda: sccs(g, engine='networkx')):.4f}s")


if __name__ == "__main__":
    witnesses()
    graph_vs_explorer()
    scc_engines()
