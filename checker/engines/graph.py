"""The explored state graph, kept in full: nodes, labelled edges, BFS parents.

The safety explorer (explore.py) keeps only a seen set and parent pointers. Liveness and
`ackcheck graph` need the edges too, so this module runs its own breadth-first search over
`Model.successors` with the explorer's state keys (the 64-bit hash of `Model.abstract`),
and stores the graph compactly: node ids in discovery order (BFS order, so a smaller id
is never farther from the initial state), edges in CSR form (`offsets[i]:offsets[i+1]`
index `targets` / `edge_actions` / `edge_fair`), actions interned to small ints. Only runs
that select a liveness property (or export a graph) pay for it.

Broker symmetry is not applied here: a cycle of the quotient graph need not be a cycle of
executions, and weak fairness is stated per action instance (follower_fetch(2)), which a
renaming would mix up. The graph of a configuration is therefore about twice the size of
the explorer's symmetric one.

Strongly connected components: networkx for graphs up to NX_MAX_EDGES edges, an iterative
Tarjan on the integer ids above it (`sccs`).
"""

from __future__ import annotations

import gc
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ackcheck.model.protocol import Model
from ackcheck.model.state import observe

# networkx needs a DiGraph (a dict of dicts per node) built from the CSR arrays first; the
# iterative Tarjan below was faster at every size measured (bench/bench_liveness.py: 0.001s
# against 0.012s at 3,000 edges, 0.06s against 1.3s at 150,000), so networkx is kept for
# graphs where it costs under about 10 ms, as the reference the tests compare Tarjan with.
NX_MAX_EDGES = 2_500


class GraphTooLarge(Exception):
    """More states than the caller's limit."""


@dataclass
class StateGraph:
    model: Model
    actions: list = field(default_factory=list)  # action id -> action tuple
    parent: array = field(default_factory=lambda: array("q"))  # node -> BFS parent (-1: initial)
    parent_action: array = field(default_factory=lambda: array("q"))  # node -> action id from parent
    depth: array = field(default_factory=lambda: array("l"))
    offsets: array = field(default_factory=lambda: array("q", [0]))  # CSR, for expanded nodes
    targets: array = field(default_factory=lambda: array("q"))
    edge_actions: array = field(default_factory=lambda: array("q"))
    edge_fair: bytearray = field(default_factory=bytearray)
    labels: list = field(default_factory=list)  # node -> int bitmask from the labeler
    info: list = field(default_factory=list)  # node -> dict (only with describe=...)
    complete: bool = True  # every node expanded (no depth bound, not interrupted)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def nodes(self) -> int:
        return len(self.parent)

    @property
    def expanded(self) -> int:
        """Nodes 0..expanded-1 have their out-edges recorded."""
        return len(self.offsets) - 1

    @property
    def edges(self) -> int:
        return len(self.targets)

    def out(self, i: int) -> range:
        return range(self.offsets[i], self.offsets[i + 1])

    def path_to(self, i: int) -> list[int]:
        """Node ids from the initial state to i along BFS parents (a shortest path)."""
        out = []
        while i >= 0:
            out.append(i)
            i = self.parent[i]
        out.reverse()
        return out

    def action_between(self, u: int, v: int, prefer=None) -> int:
        """An edge index from u to v (one whose action is in `prefer` first)."""
        best = -1
        for e in self.out(u):
            if self.targets[e] == v:
                if prefer is None or self.edge_actions[e] in prefer:
                    return e
                if best < 0:
                    best = e
        return best


def build_graph(
    model: Model,
    *,
    labeler: Callable | None = None,
    fair: Callable | None = None,
    watch: Callable | None = None,
    describe: Callable | None = None,
    max_states: int = 0,
    progress: Callable | None = None,
    progress_every: float = 0.5,
) -> StateGraph:
    """Breadth-first search of every reachable state, keeping every edge.

    labeler(state) -> int: a bitmask stored per node (the liveness goals waiting there);
    fair(action, state, next) -> bool: whether an enabled action is weakly fair there;
    watch(prev, state) -> bool: called on every transition while it returns True (witnesses);
    describe(state) -> dict: node attributes for exports; max_states: raise GraphTooLarge
    past it (0: no limit). Respects the config's max_depth (deeper nodes are not expanded).
    """
    t0 = time.perf_counter()
    g = StateGraph(model)
    max_depth = model.config.bounds.max_depth
    abstract = model.abstract
    successors = model.successors
    action_ids: dict = {}
    keys: dict[int, int] = {}
    s0 = model.init()
    keys[hash(abstract(s0))] = 0
    g.parent.append(-1)
    g.parent_action.append(-1)
    g.depth.append(0)
    g.labels.append(labeler(s0) if labeler else 0)
    if describe:
        g.info.append(describe(s0))
    if watch is not None and not watch(None, s0):
        watch = None
    frontier = deque([s0])
    head = 0  # id of frontier[0]: nodes are expanded in id order
    last = t0
    targets, edge_actions, edge_fair, offsets = g.targets, g.edge_actions, g.edge_fair, g.offsets
    gc_was = gc.isenabled()
    gc.disable()
    try:
        while frontier:
            i = head
            if max_depth and g.depth[i] >= max_depth:
                g.complete = False
                break
            s = frontier.popleft()
            for action, t in successors(s):
                aid = action_ids.get(action)
                if aid is None:
                    aid = action_ids[action] = len(g.actions)
                    g.actions.append(action)
                k = hash(abstract(t))
                j = keys.get(k)
                if j is None:
                    j = len(g.parent)
                    if max_states and j >= max_states:
                        raise GraphTooLarge(f"more than {max_states:,} states")
                    keys[k] = j
                    g.parent.append(i)
                    g.parent_action.append(aid)
                    g.depth.append(g.depth[i] + 1)
                    g.labels.append(labeler(t) if labeler else 0)
                    if describe:
                        g.info.append(describe(t))
                    frontier.append(t)
                targets.append(j)
                edge_actions.append(aid)
                edge_fair.append(1 if fair is not None and fair(action, s, t) else 0)
                if watch is not None and not watch(s, t):
                    watch = None
            offsets.append(len(targets))
            head += 1
            if progress is not None and head % 256 == 0:
                now = time.perf_counter()
                if now - last >= progress_every:
                    last = now
                    progress(len(g.parent), head, now - t0)
    except KeyboardInterrupt:
        g.interrupted = True
        g.complete = False
    finally:
        if gc_was:
            gc.enable()
    g.seconds = time.perf_counter() - t0
    return g


# ------------------------------------------------------------------------------- SCCs
def sccs(g: StateGraph, mask: bytearray | None = None, *, engine: str = "auto") -> list[list[int]]:
    """Strongly connected components of the expanded nodes (restricted to nodes with
    mask[i] set, and to edges between them). Every such node is in exactly one component
    (trivial ones included). engine: "networkx", "tarjan" or "auto" (by NX_MAX_EDGES)."""
    if engine == "auto":
        engine = "networkx" if g.edges <= NX_MAX_EDGES else "tarjan"
    if engine == "networkx":
        return _sccs_networkx(g, mask)
    return tarjan(g.expanded, g.offsets, g.targets, mask)


def _sccs_networkx(g: StateGraph, mask) -> list[list[int]]:
    import networkx as nx

    n = g.expanded
    dg = nx.DiGraph()
    nodes = range(n) if mask is None else [i for i in range(n) if mask[i]]
    dg.add_nodes_from(nodes)
    offsets, targets = g.offsets, g.targets
    for u in nodes:
        for e in range(offsets[u], offsets[u + 1]):
            v = targets[e]
            if v < n and (mask is None or mask[v]):
                dg.add_edge(u, v)
    return [sorted(c) for c in nx.strongly_connected_components(dg)]


def tarjan(n: int, offsets, targets, mask=None) -> list[list[int]]:
    """Tarjan's algorithm without recursion, on CSR arrays: nodes 0..n-1, out-edges of u at
    targets[offsets[u]:offsets[u+1]] (targets >= n are ignored: unexpanded nodes). With a
    mask, only nodes with mask[u] set and edges between them count. Components come out
    in reverse topological order, each sorted."""
    index = array("q", [-1]) * n
    low = array("q", [0]) * n
    on_stack = bytearray(n)
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0 or (mask is not None and not mask[root]):
            continue
        # call stack of (node, next edge position)
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        work = [(root, offsets[root])]
        while work:
            u, e = work[-1]
            end = offsets[u + 1]
            pushed = False
            while e < end:
                v = targets[e]
                e += 1
                if v >= n or (mask is not None and not mask[v]):
                    continue
                if index[v] < 0:
                    work[-1] = (u, e)
                    index[v] = low[v] = counter
                    counter += 1
                    stack.append(v)
                    on_stack[v] = 1
                    work.append((v, offsets[v]))
                    pushed = True
                    break
                if on_stack[v] and index[v] < low[u]:
                    low[u] = index[v]
            if pushed:
                continue
            work.pop()
            if work:
                p = work[-1][0]
                if low[u] < low[p]:
                    low[p] = low[u]
            if low[u] == index[u]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = 0
                    comp.append(w)
                    if w == u:
                        break
                comp.sort()
                out.append(comp)
    return out


def node_info(model: Model) -> Callable:
    """describe= for exports: a few observation fields per state, as plain scalars."""
    def describe(s) -> dict:
        o = observe(s)
        return {
            "leader": o.leader,
            "leader_epoch": o.leader_epoch,
            "isr": ",".join(map(str, o.isr)),
            "alive": ",".join("1" if r.alive else "0" for r in o.replicas),
            "leo": ",".join(str(r.log_end_offset) for r in o.replicas),
            "hw": ",".join(str(r.high_watermark) for r in o.replicas),
            "outcomes": ",".join(str(k) for k, _ in o.outcomes),
            "committed_offset": o.committed_offset,
        }
    return describe
