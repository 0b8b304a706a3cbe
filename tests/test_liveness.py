"""Liveness under fairness: engine-found lassos, SCC engines agreeing, the loop in the
trace format, replays, the fairness table and the graph export."""

from __future__ import annotations

import json
import os
import random

import pytest

from ackcheck import build_config
from ackcheck.checker.cli import main as cli
from ackcheck.checker.engines.check import replay_on_model, run_check
from ackcheck.checker.engines.graph import StateGraph, build_graph, sccs, tarjan
from ackcheck.checker.engines.liveness import _cycle, check_liveness, fair_component
from ackcheck.invariants.liveness import ACTION_KINDS, HEALING, LIVENESS_BY_ID, is_fair
from ackcheck.model.protocol import Model
from ackcheck.traces.format import ACTIONS, TraceError, load_trace, trace_from_dict
from ackcheck.traces.render import render, summary_lines


def run(capsys, *argv):
    rc = cli(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def acks1_lasso():
    return run_check(build_config({"acks": "1"}), ["eventually-visible"])


# ------------------------------------------------------------------------- the engine
def test_acks1_breaks_eventually_visible_with_a_lasso(acks1_lasso):
    r = acks1_lasso
    assert r.verdict == "violated" and r.exit_code == 1
    assert r.violation[0] == "eventually-visible"
    t = r.trace
    assert t.loop_start is not None and 0 <= t.loop_start < len(t.steps)
    # the record was acknowledged before the loop and is not readable anywhere in it
    goal = LIVENESS_BY_ID["eventually-visible"].goals(build_config({"acks": "1"}))[0]
    assert all(goal.waiting(obs) for _, obs in t.steps[t.loop_start:])
    assert any(a[0] == "crash" for a in t.actions[:t.loop_start])


def test_acks_all_minisr2_keeps_eventually_visible():
    r = run_check(build_config({"acks": "all", "replication.factor": 3, "min.insync.replicas": 2}),
                  ["eventually-visible"])
    assert r.verdict == "holds" and r.violation is None
    assert r.stats.distinct_states > 1000
    assert any("WF" in line for line in r.liveness["fairness"])


def test_lasso_replays_on_the_model_and_round_trips(acks1_lasso, tmp_path):
    t = acks1_lasso.trace
    p = tmp_path / "l.json"
    t.write(p)
    back = load_trace(p)
    assert back.loop_start == t.loop_start and back.actions == t.actions
    rep = replay_on_model(back)
    assert rep.ok and rep.mismatch is None
    # a reader that ignores loop_start still reads the prefix and one round of the loop
    d = json.loads(p.read_text())
    del d["loop_start"]
    assert trace_from_dict(d).actions == t.actions


def test_loop_start_is_validated(acks1_lasso):
    d = acks1_lasso.trace.as_dict()
    for bad in (-1, len(d["steps"]), "3", True):
        d["loop_start"] = bad
        with pytest.raises(TraceError, match=r"\$\.loop_start"):
            trace_from_dict(d)
    d["loop_start"] = 0  # the last state is not the initial one: the loop does not close
    with pytest.raises(TraceError, match="does not close"):
        trace_from_dict(d)


def _graph(n, edges, waiting):
    """A hand-made StateGraph: nodes 0..n-1 (0 initial, BFS parents from the edge list),
    edges (u, v, action name, fair), goal 0 waiting at the nodes in `waiting`."""
    g = StateGraph(model=None)
    names = sorted({e[2] for e in edges})
    g.actions = [(a,) for a in names]
    parent = {0: (-1, -1)}
    for u, v, a, _ in sorted(edges):
        parent.setdefault(v, (u, names.index(a)))
    for i in range(n):
        g.parent.append(parent[i][0])
        g.parent_action.append(parent[i][1])
        g.depth.append(0)
        g.labels.append(1 if i in waiting else 0)
        for u, v, a, f in edges:
            if u == i:
                g.targets.append(v)
                g.edge_actions.append(names.index(a))
                g.edge_fair.append(1 if f else 0)
        g.offsets.append(len(g.targets))
    return g


def _walk_actions(g, walk):
    return [g.actions[g.edge_actions[e]][0] for e in walk]


def test_a_fair_cycle_is_a_lasso_with_a_loop():
    # 0 -> 1 <-> 2, the goal waits at 1 and 2; x is enabled only at 1, y only at 2
    g = _graph(3, [(0, 1, "send", True), (1, 2, "x", True), (2, 1, "y", True)], {1, 2})
    entry, comp = fair_component(g, 0)
    assert (entry, comp) == (1, [1, 2])
    walk = _cycle(g, entry, comp)
    assert _walk_actions(g, walk) == ["x", "y"]
    assert g.targets[walk[-1]] == entry  # the loop closes


def test_a_cycle_that_starves_a_healing_action_is_not_fair():
    # the same cycle, but z (healing) is enabled at 1 and 2 and leads out of the goal:
    # weak fairness forces it, so the cycle is no counterexample
    edges = [(0, 1, "send", True), (1, 2, "x", True), (2, 1, "y", True), (1, 3, "z", True), (2, 3, "z", True)]
    assert fair_component(_graph(4, edges, {1, 2}), 0) is None
    # if z is a perturbation (never required), the cycle is fair again
    edges = [e[:3] + (e[2] != "z",) for e in edges]
    assert fair_component(_graph(4, edges, {1, 2}), 0) == (1, [1, 2])


def test_a_state_with_only_perturbations_left_is_a_stutter_lasso():
    # at 1 only a crash (a perturbation) is enabled: the execution may stay there forever
    g = _graph(3, [(0, 1, "send", True), (1, 2, "crash", False)], {1})
    entry, comp = fair_component(g, 0)
    assert entry == 1 and _cycle(g, entry, comp) == []
    # a healing action enabled there (restart) must be taken: no counterexample
    g = _graph(3, [(0, 1, "send", True), (1, 2, "restart", True)], {1})
    assert fair_component(g, 0) is None


def test_the_cycle_visits_a_state_that_disables_an_owed_action():
    # x is enabled at 1 and 2 but not at 3 and never taken inside: the loop must pass 3
    edges = [(0, 1, "send", True), (1, 2, "a", True), (2, 3, "b", True), (3, 1, "c", True),
             (1, 9, "x", True), (2, 9, "x", True)]
    g = _graph(10, edges + [(i, i, "noop", False) for i in range(4, 10)], {1, 2, 3})
    entry, comp = fair_component(g, 0)
    assert comp == [1, 2, 3]
    walk = _cycle(g, entry, comp)
    assert 3 in {g.targets[e] for e in walk} and g.targets[walk[-1]] == entry


def test_rendering_shows_the_loop(acks1_lasso):
    text = render(acks1_lasso.trace)
    assert "(loop)" in text
    assert any("(loop)" in line for line in summary_lines(acks1_lasso.trace, limit=40))


# ---------------------------------------------------------------------------- the SCCs
def _random_graph(rng, n, p):
    edges = [[v for v in range(n) if rng.random() < p] for _ in range(n)]
    offsets, targets = [0], []
    for out in edges:
        targets += out
        offsets.append(len(targets))
    return offsets, targets


@pytest.mark.parametrize("seed", range(8))
def test_tarjan_agrees_with_networkx(seed):
    import networkx as nx

    rng = random.Random(seed)
    n = rng.randint(1, 60)
    offsets, targets = _random_graph(rng, n, rng.choice([0.01, 0.03, 0.08, 0.2]))
    mask = bytearray(1 if rng.random() < 0.8 else 0 for _ in range(n)) if seed % 2 else None
    got = sorted(tuple(c) for c in tarjan(n, offsets, targets, mask))
    dg = nx.DiGraph()
    keep = [u for u in range(n) if mask is None or mask[u]]
    dg.add_nodes_from(keep)
    for u in keep:
        for v in targets[offsets[u]:offsets[u + 1]]:
            if mask is None or mask[v]:
                dg.add_edge(u, v)
    want = sorted(tuple(sorted(c)) for c in nx.strongly_connected_components(dg))
    assert got == want


def test_scc_engines_agree_on_a_model_graph():
    g = build_graph(Model(build_config({"acks": "1"}), consumer=False, ghosts=()), fair=is_fair)
    a = sorted(map(tuple, sccs(g, engine="networkx")))
    b = sorted(map(tuple, sccs(g, engine="tarjan")))
    assert a == b and sum(map(len, a)) == g.nodes


def test_liveness_verdicts_do_not_depend_on_the_scc_engine():
    cfg = build_config({"acks": "1"})
    a = check_liveness(cfg, ["eventually-visible"], scc_engine="networkx")
    b = check_liveness(cfg, ["eventually-visible"], scc_engine="tarjan")
    assert a.violation == b.violation and a.trace.actions == b.trace.actions


# ------------------------------------------------------------------------- fairness
def test_every_action_is_classified():
    assert not set(ACTIONS) - set(ACTION_KINDS), "an action without a fairness class"
    for name, (kind, comment) in ACTION_KINDS.items():
        assert kind in (HEALING, "perturbation") and comment


def test_budgeted_variants_are_perturbations():
    model = Model(build_config({"acks": "all"}))
    s = model.init()
    assert is_fair(("controller_elect", 1, "failover"), s)
    assert not is_fair(("controller_elect", 1, "rebalance"), s)
    assert not is_fair(("leader_shrink_isr", 0, 1), s)  # broker 1 is alive: a perturbation
    assert not is_fair(("crash", 0), s) and is_fair(("restart", 0), s)


# ------------------------------------------------------------------------------- CLI
def test_cli_lasso_and_fairness(capsys, tmp_path):
    out_trace = tmp_path / "t.json"
    rc, out, _ = run(capsys, "check", "--acks", "1", "--invariant", "eventually-visible",
                     "--trace-out", str(out_trace))
    assert rc == 1
    assert "fairness: WF" in out and "lasso" in out
    rc, out, _ = run(capsys, "view", str(out_trace))
    assert rc == 0 and "(loop)" in out
    rc, out, _ = run(capsys, "invariants")
    for p in LIVENESS_BY_ID:
        assert p in out


def test_cli_unknown_liveness_id(capsys):
    rc, _, err = run(capsys, "check", "--invariant", "eventualy-visible")
    assert rc == 2 and "eventually-visible" in err


@pytest.mark.parametrize("fmt", ["graphml", "json", "dot"])
def test_graph_export_parses(capsys, tmp_path, fmt):
    import networkx as nx

    out = tmp_path / f"g.{fmt}"
    rc, _, _ = run(capsys, "graph", "--acks", "1", "--max-crashes", "0", "--format", fmt, "--out", str(out))
    assert rc == 0
    if fmt == "graphml":
        g = nx.read_graphml(out)
        assert g.number_of_nodes() > 10 and g.number_of_edges() >= g.number_of_nodes() - 1
    elif fmt == "json":
        j = json.loads(out.read_text())
        g = nx.node_link_graph({"directed": True, "multigraph": True, "nodes": j["nodes"],
                                "links": j["edges"]}, edges="links")
        assert g.number_of_nodes() == len(j["nodes"]) > 10
        assert nx.has_path(g, 0, j["edges"][-1]["target"])
    else:
        text = out.read_text()
        assert text.startswith("digraph") and text.count("->") > 10


def test_graph_state_limit(capsys, tmp_path):
    rc, _, err = run(capsys, "graph", "--acks", "1", "--format", "json", "--out", str(tmp_path / "g.json"),
                     "--max-states", "50")
    assert rc == 2 and "--max-states 50" in err and len(err.strip().splitlines()) == 1


def test_lasso_is_confirmed_on_the_broker(acks1_lasso, tmp_path):
    from ackcheck.checker.engines.replay import replay_on_broker
    from ackcheck.traces.format import Violation

    t = acks1_lasso.trace
    rep = replay_on_broker(t, data_dir=tmp_path / "b")
    assert rep.conformant and rep.confirmed and rep.ok
    assert rep.violation[0] == "eventually-visible" and rep.violation[2] == t.loop_start
    # the same steps do not show the partition offline forever: not confirmed
    other = trace_from_dict(t.as_dict())
    other.violation = Violation("eventually-leader", "claimed", t.loop_start)
    rep = replay_on_broker(other, data_dir=tmp_path / "c")
    assert rep.conformant and not rep.confirmed and not rep.ok


def test_cli_replay_of_a_lasso(capsys, acks1_lasso, tmp_path):
    p = tmp_path / "l.json"
    acks1_lasso.trace.write(p)
    rc, out, _ = run(capsys, "replay", str(p), "--on", "broker")
    assert rc == 0 and "CONFIRMED eventually-visible" in out and "prefix" in out
    rc, out, _ = run(capsys, "replay", str(p), "--on", "model")
    assert rc == 0 and "CONFIRMED eventually-visible" in out


def test_docs_list_every_action_and_property():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "liveness.md").read_text(encoding="utf-8")
    for name in ACTION_KINDS:
        assert f"`{name}`" in text, f"docs/liveness.md does not classify {name}"
    for p in LIVENESS_BY_ID:
        assert f"`{p}`" in text


def test_liveness_ids_only_where_they_can_be_judged(capsys):
    rc, _, err = run(capsys, "fuzz", "--acks", "1", "--invariant", "eventually-visible")
    assert rc == 2 and "liveness property" in err and len(err.strip().splitlines()) == 1


def test_kip966_last_known_leader_brings_the_partition_back():
    """Kafka 4.1 (KIP-966 ELR), unclean election off: the last ISR member shuts down
    uncleanly and leaves the ELR when it comes back, so every broker is up and none is in
    the ISR or the ELR. The engine reaches that state; there the controller's last-known-
    leader election is enabled (PartitionChangeBuilder.canElectLastKnownLeader), and
    eventually-leader holds."""
    from ackcheck.checker.engines.check import model_for
    from ackcheck.checker.engines.explore import explore
    from ackcheck.invariants.catalogue import Invariant

    cfg = build_config({}, max_crashes=2)

    def not_stranded(obs, config):
        if obs.leader == -1 and obs.isr == () and obs.elr == () and all(r.alive for r in obs.replicas):
            return "every broker is up and none is eligible"
        return None

    stranded = Invariant("stranded", "", "", "", not_stranded)
    found = explore(model_for(cfg, [stranded]), [stranded])
    assert found.violation is not None and found.violation[0] == "stranded"
    assert sum(a[0] == "crash" for a in found.trace.actions) == 2
    model = model_for(cfg, [])
    state = model.init()
    for action in found.trace.actions:
        state = model.step(state, action)
    elections = [a for a, _ in model.successors(state) if a[0] == "controller_elect"]
    assert elections and all(a[2] == "last_known_leader" for a in elections)
    assert run_check(cfg, ["eventually-leader"]).verdict == "holds"


@pytest.mark.skipif(os.environ.get("ACKCHECK_SLOW") != "1", reason="about 15 s: ACKCHECK_SLOW=1")
def test_before_elr_the_last_isr_member_comes_back_as_leader():
    r = run_check(build_config({}, kafka_version="3.6", max_crashes=2), ["eventually-leader"])
    assert r.verdict == "holds"


def _brute_force_fair_set(n, edges, waiting):
    """Is there a reachable set S of waiting states, strongly connected by its internal
    edges (or one state), in which every fair action enabled at all states of S is taken
    on an edge inside S? (Weak fairness, by definition, over every subset.)"""
    from itertools import combinations

    import networkx as nx

    dg = nx.MultiDiGraph()
    dg.add_nodes_from(range(n))
    dg.add_edges_from((u, v) for u, v, _, _ in edges)
    reach = nx.descendants(dg, 0) | {0}
    cand = sorted(reach & waiting)
    for k in range(1, len(cand) + 1):
        for s in combinations(cand, k):
            s = set(s)
            inner = [(u, v, a) for u, v, a, _ in edges if u in s and v in s]
            sub = nx.DiGraph()
            sub.add_nodes_from(s)
            sub.add_edges_from((u, v) for u, v, _ in inner)
            if len(s) > 1 and not nx.is_strongly_connected(sub):
                continue
            enabled = [{a for u2, _, a, f in edges if u2 == u and f} for u in s]
            everywhere = set.intersection(*enabled)
            if everywhere <= {a for _, _, a in inner}:
                return True
    return False


@pytest.mark.parametrize("seed", range(200))
def test_fair_components_agree_with_brute_force(seed):
    rng = random.Random(seed)
    n = rng.randint(2, 7)
    labels = ["a", "b", "c", "d"]
    fair_label = {a: rng.random() < 0.7 for a in labels}
    edges = [(i, i + 1, "p", False) for i in range(n - 1)]  # everything reachable
    for _ in range(rng.randint(0, 3 * n)):
        a = rng.choice(labels)
        edges.append((rng.randrange(n), rng.randrange(n), a, fair_label[a]))
    waiting = {i for i in range(n) if rng.random() < 0.7}
    g = _graph(n, edges, waiting)
    found = fair_component(g, 0)
    assert (found is not None) == _brute_force_fair_set(n, edges, waiting)
    if found is not None:
        entry, comp = found
        walk = _cycle(g, entry, comp)
        members = set(comp)
        if walk:
            assert g.targets[walk[-1]] == entry
            nodes = [entry] + [g.targets[e] for e in walk]
            assert all(v in members for v in nodes)
            assert all(e in g.out(nodes[i]) for i, e in enumerate(walk))  # a walk, edge after edge
            taken = {g.edge_actions[e] for e in walk}
            enabled = [{g.edge_actions[e] for e in g.out(u) if g.edge_fair[e]} for u in nodes]
            assert set.intersection(*enabled) <= taken  # the loop itself is weakly fair
        else:  # a stutter: nothing fair enabled where it stays
            assert not any(g.edge_fair[e] for e in g.out(entry))
