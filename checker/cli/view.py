"""The `ackcheck` command line. Exit status: 0 holds, 1 violated, 2 bad usage or input."""

from __future__ import annotations

from ackcheck.checker.cli.options import ArgumentParser


# ------------------------------------------------------------------------------- view
def main(argv: list[str]) -> int:
    from ackcheck.traces.format import load_trace
    from ackcheck.traces.render import render

    p = ArgumentParser(prog="ackcheck view", description="Render a trace: every step's action and cluster state.")
    p.add_argument("trace", metavar="TRACE.json")
    args = p.parse_args(argv)
    print(render(load_trace(args.trace)))
    return 0
