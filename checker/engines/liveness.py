"""Liveness under weak fairness on the explored state graph; counterexamples are lassos.

A property (invariants/liveness.py) is a set of goals, each a condition that must not
hold forever. Goal g is violated iff some reachable strongly connected component C of the
graph restricted to the states where g waits is *fair*: every healing action instance
enabled in all states of C is also taken on an edge inside C (weak fairness: an action
continuously enabled is eventually taken; one disabled somewhere in C is not owed). A
trivial component (one state, no self-loop) is fair when no healing action is enabled
there at all: the execution may stop, every remaining action being a perturbation.
With weak fairness alone, a component that fails this test contains no fair cycle
either, so components need no further decomposition.

The counterexample is a lasso: a shortest prefix (BFS parents) to the component's
closest state, then a closed walk inside it that takes every fair action the component
owes (or visits a state where it is disabled), back to where it started. An empty walk
means the execution stays in the last state forever (nothing healing is enabled there).
The trace records `loop_start`, the step the walk returns to.
"""

from __future__ import annotations

import sys
import time
from collections import deque

from ackcheck.checker.engines.graph import StateGraph, build_graph, sccs
from ackcheck.checker.engines.result import Result, Stats
from ackcheck.invariants.liveness import LIVENESS_BY_ID, fairness_lines, is_fair
from ackcheck.model.protocol import Model
from ackcheck.model.state import observe
from ackcheck.traces.format import Trace, Violation, loop_key
from ackcheck.traces.settings import Config


def is_liveness(inv_id: str) -> bool:
    return inv_id in LIVENESS_BY_ID


def liveness_model(config: Config, ids: list[str]) -> Model:
    """The model the graph is built on: the consumer only if a property reads it, no ghost
    history (no goal reads it)."""
    return Model(config, consumer=any(LIVENESS_BY_ID[i].needs_consumer for i in ids), ghosts=())


def check_liveness(config: Config, ids: list[str], *, watch=None, progress: bool = False,
                   scc_engine: str = "auto") -> Result:
    """Check the liveness properties `ids` on the full reachable graph of `config`."""
    props = [LIVENESS_BY_ID[i] for i in ids]
    goals = [(p, goal) for p in props for goal in p.goals(config)]
    model = liveness_model(config, ids)

    def labeler(s) -> int:
        m = 0
        for k, (_, goal) in enumerate(goals):
            if goal.waiting(s):
                m |= 1 << k
        return m

    cb = None
    if progress:
        def cb(nodes: int, expanded: int, seconds: float) -> None:
            if seconds >= 1:
                print(f"... liveness graph: {nodes:,} states, {expanded:,} expanded, {seconds:.0f}s",
                      file=sys.stderr)
    g = build_graph(model, labeler=labeler, fair=is_fair, watch=watch, progress=cb, progress_every=5.0)
    t0 = time.perf_counter()
    stats = Stats(distinct_states=g.nodes, transitions=g.edges, max_depth=max(g.depth) if g.depth else 0,
                  complete=g.complete)
    result = Result("explore", config, list(ids), stats=stats, interrupted=g.interrupted)
    best = None  # (entry node, goal index, component)
    for k in range(len(goals)):
        found = fair_component(g, k, scc_engine=scc_engine)
        if found is not None and (best is None or found[0] < best[0]):
            best = (found[0], k, found[1])
    if best is not None:
        entry, k, comp = best
        prop, goal = goals[k]
        trace = lasso_trace(g, entry, comp)
        loop_len = len(trace.steps) - 1 - trace.loop_start
        how = (f"from step {trace.loop_start} the execution repeats steps {trace.loop_start + 1}-"
               f"{len(trace.steps) - 1} forever, a fair cycle" if loop_len else
               f"from step {trace.loop_start} nothing fair is left to do: the execution stays there forever")
        msg = f"{goal.message}: {how}"
        trace.violation = Violation(prop.id, msg, trace.loop_start)
        result.violation = (prop.id, msg)
        result.trace = trace
    stats.seconds = g.seconds + time.perf_counter() - t0
    result.liveness = {
        "fairness": fairness_lines(),
        "graph": {"states": g.nodes, "edges": g.edges, "seconds_graph": round(g.seconds, 3),
                  "seconds_scc": round(time.perf_counter() - t0, 3)},
    }
    return result


def fair_component(g: StateGraph, k: int, *, scc_engine: str = "auto"):
    """(entry node, component) of the fair component of goal k closest to the initial
    state, or None."""
    n = g.expanded
    labels = g.labels
    bit = 1 << k
    mask = bytearray(n)
    any_set = False
    for i in range(n):
        if labels[i] & bit:
            mask[i] = 1
            any_set = True
    if not any_set:
        return None
    best = None
    for comp in sccs(g, mask, engine=scc_engine):
        entry = comp[0]
        if best is not None and entry >= best[0]:
            continue
        if is_fair_component(g, comp):
            best = (entry, comp)
    return best


def _fair_enabled(g: StateGraph, u: int) -> set[int]:
    fa, acts = g.edge_fair, g.edge_actions
    return {acts[e] for e in g.out(u) if fa[e]}


def is_fair_component(g: StateGraph, comp: list[int]) -> bool:
    if len(comp) == 1:
        u = comp[0]
        enabled = _fair_enabled(g, u)
        if not enabled:
            return True
        # a self-loop: a cycle of one state
        taken = {g.edge_actions[e] for e in g.out(u) if g.targets[e] == u}
        return bool(taken) and enabled <= taken
    members = set(comp)
    everywhere = None
    taken: set[int] = set()
    targets, acts = g.targets, g.edge_actions
    for u in comp:
        en = _fair_enabled(g, u)
        everywhere = en if everywhere is None else everywhere & en
        for e in g.out(u):
            if targets[e] in members:
                taken.add(acts[e])
    return everywhere <= taken


def _cycle(g: StateGraph, entry: int, comp: list[int]) -> list[int]:
    """A closed walk from entry inside comp, as edge indices, that takes every fair action
    enabled somewhere in comp - or passes a state of comp where it is disabled."""
    members = set(comp)
    targets, acts = g.targets, g.edge_actions
    enabled = {u: _fair_enabled(g, u) for u in comp}
    owed = set().union(*enabled.values())
    if not owed:
        return []
    taken_in = {acts[e] for u in comp for e in g.out(u) if targets[e] in members}
    walk: list[int] = []
    cur = entry

    def settle(u: int) -> None:
        # visiting u pays every owed action disabled at u
        owed.difference_update(owed - enabled[u])

    settle(cur)
    while owed:
        # BFS inside comp to the nearest node that pays an owed action: an in-comp edge
        # labelled with it, or (for actions never taken inside comp) a state disabling it
        prev = {cur: None}
        q = deque([cur])
        goal_node = goal_edge = None
        while q:
            u = q.popleft()
            for e in g.out(u):
                if targets[e] in members and acts[e] in owed and acts[e] in taken_in:
                    goal_node, goal_edge = u, e
                    break
            if goal_node is None and u != cur and any(a not in enabled[u] for a in owed):
                goal_node = u
            if goal_node is not None:
                break
            for e in g.out(u):
                v = targets[e]
                if v in members and v not in prev:
                    prev[v] = (u, e)
                    q.append(v)
        if goal_node is None:  # cannot happen for a fair component
            raise AssertionError("no way to pay the fairness owed inside the component")
        path = []
        u = goal_node
        while prev[u] is not None:
            pu, e = prev[u]
            path.append(e)
            u = pu
        path.reverse()
        for e in path:
            walk.append(e)
            settle(targets[e])
        if goal_edge is not None:
            walk.append(goal_edge)
            owed.discard(acts[goal_edge])
            settle(targets[goal_edge])
        cur = targets[walk[-1]] if walk else cur
    # back to entry
    if cur != entry:
        prev = {cur: None}
        q = deque([cur])
        while q and entry not in prev:
            u = q.popleft()
            for e in g.out(u):
                v = targets[e]
                if v in members and v not in prev:
                    prev[v] = (u, e)
                    q.append(v)
        path = []
        u = entry
        while prev[u] is not None:
            pu, e = prev[u]
            path.append(e)
            u = pu
        walk += reversed(path)
    return walk


def lasso_trace(g: StateGraph, entry: int, comp: list[int]) -> Trace:
    """Replay prefix + cycle on a full model (every ghost kept) and mark the loop."""
    prefix = g.path_to(entry)
    actions = [g.actions[g.parent_action[i]] for i in prefix[1:]]
    loop_start = len(actions)
    actions += [g.actions[g.edge_actions[e]] for e in _cycle(g, entry, comp)]
    model = Model(g.model.config)
    s = model.init()
    steps = [(None, observe(s))]
    for a in actions:
        s = model.step(s, a)
        steps.append((a, observe(s)))
    trace = Trace(config=model.config.as_dict(), steps=steps)
    trace.loop_start = loop_start
    return trace


def run_with_liveness(config: Config, ids: list[str], *, progress: bool = False, symmetry: bool = True,
                      scc_engine: str = "auto") -> Result:
    """`check` with liveness properties among `ids`: the safety invariants first (the usual
    explorer), then the liveness properties on the full state graph. Vacuity witnesses of
    both are reported as warnings."""
    from ackcheck.checker.engines.check import run_check
    from ackcheck.invariants.witnesses import Watcher

    safety = [i for i in ids if not is_liveness(i)]
    live = list(dict.fromkeys(i for i in ids if is_liveness(i)))
    warnings: list[str] = []
    safety_stats = None
    if safety:
        r = run_check(config, safety, progress=progress, symmetry=symmetry)
        if r.violation or r.interrupted:
            return r
        warnings, safety_stats = r.warnings, r.stats
    watch = Watcher(live, config)
    result = check_liveness(config, live, watch=watch, progress=progress, scc_engine=scc_engine)
    result.invariants = safety + live
    if safety_stats is not None:
        result.stats.complete = result.stats.complete and safety_stats.complete
        result.stats.seconds += safety_stats.seconds
    if result.violation is None:
        result.warnings = warnings + watch.warnings()
    return result


def lasso_confirmed(trace: Trace, observations: list, config: Config, ids: list[str]):
    """Judge a replayed lasso (the prefix and one round of its loop): (property, message,
    loop_start) when the replayed observations close the loop (the last step's state is
    the loop start's again, so the loop can repeat forever) and the property's goal waits
    at every step of the loop; None otherwise. Weak fairness is the model's to judge: an
    implementation shows only what it did, not what it could have done."""
    if trace.loop_start is None or trace.violation is None:
        return None
    inv = trace.violation.invariant
    if not is_liveness(inv) or inv not in ids or len(observations) != len(trace.steps):
        return None
    k = trace.loop_start
    loop = observations[k:]
    if loop_key(loop[0]) != loop_key(loop[-1]):
        return None
    for goal in LIVENESS_BY_ID[inv].goals(config):
        if all(goal.waiting(o) for o in loop):
            last = len(observations) - 1
            where = (f"the prefix of {k} steps and one round of the loop replayed: step {last} is step {k}'s "
                     f"state again" if k < last else f"the prefix replayed; the execution stays at step {k}")
            return inv, f"{goal.message} ({where}; the goal waits at every step of the loop)", k
    return None
