"""`ackcheck graph`: export the explored state graph of a (small) configuration.

Nodes are the reachable states (breadth-first ids, 0 the initial state) with a few
observation fields; edges are the model's actions, marked `fair` when weak fairness
applies to them (healing actions, invariants/liveness.py). Formats: GraphML (networkx,
Gephi, yEd), DOT (Graphviz) and JSON.
"""

from __future__ import annotations

import json
import sys

from ackcheck.checker.cli.common import err
from ackcheck.checker.cli.options import ArgumentParser, add_config_flags, config_from_args

DEFAULT_MAX_STATES = 100_000


def _action_text(a) -> str:
    name, *args = a
    return f"{name}({', '.join(str(x) for x in args)})"


def main(argv: list[str]) -> int:
    from ackcheck.checker.engines.graph import GraphTooLarge, build_graph, node_info
    from ackcheck.invariants.liveness import fairness_lines, is_fair
    from ackcheck.model.protocol import Model

    p = ArgumentParser(prog="ackcheck graph", description=(
        "Export the reachable state graph of a configuration (every state and every action between "
        "states, no symmetry reduction) for study in networkx, Graphviz or Gephi. Exit 0: written; "
        "2: bad input or more states than --max-states."))
    add_config_flags(p)
    p.add_argument("--format", choices=("graphml", "dot", "json"), default="graphml",
                   help="output format (default graphml)")
    p.add_argument("--out", metavar="FILE", required=True, help="file to write ('-' for stdout)")
    p.add_argument("--max-states", type=int, default=DEFAULT_MAX_STATES, metavar="N",
                   help=f"refuse graphs with more states than N (default {DEFAULT_MAX_STATES:,})")
    p.add_argument("--consumer", action="store_true",
                   help="include the consumer's actions (poll, offset reset); more states")
    args = p.parse_args(argv)
    if args.max_states < 1:
        return err(f"--max-states {args.max_states}: must be at least 1")
    config = config_from_args(args)
    model = Model(config, consumer=args.consumer, ghosts=())
    def progress(nodes: int, expanded: int, seconds: float) -> None:
        print(f"... {nodes:,} states, {expanded:,} expanded, {seconds:.0f}s", file=sys.stderr)

    try:
        g = build_graph(model, fair=is_fair, describe=node_info(model), max_states=args.max_states,
                        progress=progress, progress_every=2.0)
    except GraphTooLarge:
        return err(f"--max-states {args.max_states}: this configuration has more reachable states; "
                   "narrow the bounds (e.g. --max-crashes 0) or raise --max-states")
    if g.interrupted:
        print("interrupted: the graph written is the part explored so far", file=sys.stderr)
    elif not g.complete:
        print(f"note: --max-depth {config.bounds.max_depth} left the deepest states unexpanded", file=sys.stderr)
    edges = [(u, g.targets[e], _action_text(g.actions[g.edge_actions[e]]), bool(g.edge_fair[e]))
             for u in range(g.expanded) for e in g.out(u)]
    if args.format == "json":
        text = json.dumps({
            "config": config.as_dict(),
            "fairness": fairness_lines(),
            "initial": 0,
            "complete": g.complete,
            "nodes": [{"id": i, "depth": g.depth[i], **g.info[i]} for i in range(g.nodes)],
            "edges": [{"source": u, "target": v, "action": a, "fair": f} for u, v, a, f in edges],
        }, indent=1)
    elif args.format == "dot":
        lines = ["digraph ackcheck {", "  node [shape=box, fontsize=9];"]
        for i in range(g.nodes):
            inf = g.info[i]
            label = (f"{i}: leader {inf['leader']} epoch {inf['leader_epoch']} ISR [{inf['isr']}]\\n"
                     f"alive {inf['alive']} LEO {inf['leo']} HW {inf['hw']}")
            extra = ", penwidth=3" if i == 0 else ""
            lines.append(f'  n{i} [label="{label}"{extra}];')
        for u, v, a, f in edges:
            lines.append(f'  n{u} -> n{v} [label="{a}"{"" if f else ", style=dashed"}];')
        lines.append("}")
        text = "\n".join(lines)
    else:
        import networkx as nx

        dg = nx.MultiDiGraph()
        for i in range(g.nodes):
            dg.add_node(str(i), depth=g.depth[i], **g.info[i])
        for u, v, a, f in edges:
            dg.add_edge(str(u), str(v), action=a, fair=f)
        text = "\n".join(nx.generate_graphml(dg))
    if args.out == "-":
        print(text)
    else:
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as e:
            return err(f"--out {args.out}: {e.strerror}")
        print(f"{g.nodes:,} states, {len(edges):,} edges written to {args.out} ({args.format})", file=sys.stderr)
    return 0
