"""The `ackcheck` command line: one module per command under this package, each exposing
`main(argv) -> int`. Exit status: the verdict's (EXIT_CODES in engines/result.py: 0 holds, 1 violated,
4 incomplete, 3 unknown), 2 bad usage or input, 130 interrupted outside a search.

Nothing else in ackcheck imports this package (tests/test_layout.py enforces it)."""

from __future__ import annotations

import importlib
import os
import sys

# The searches use numpy for arrays of fingerprints and ranks only, never its linear
# algebra; OpenBLAS would still start a thread per core at numpy's import, whose idle
# spinning takes CPU from the search's own worker processes (R1 on two workers: 3-4%).
# Set before anything imports numpy; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from ackcheck import __version__  # noqa: E402
from ackcheck.checker.cli.common import err  # noqa: E402
from ackcheck.traces.format import TraceError  # noqa: E402
from ackcheck.traces.settings import ConfigError  # noqa: E402

USAGE = f"""ackcheck {__version__}: what a Kafka configuration actually guarantees under crashes,
power loss, ISR changes and elections.

usage: ackcheck COMMAND [options]   (ackcheck COMMAND --help for each)

commands:
  audit        the guarantees of a Kafka config (defaults, or your .properties files)
  check        exhaustive model checking of one configuration within bounds
  prove        symbolic model checking on z3: bounded (BMC) and for every depth (k-induction)
  graph        export the reachable state graph (graphml, dot, json)
  fuzz         Hypothesis stateful exploration: long random executions, shrunk failures
  matrix       check a space of configurations, render configs x invariants
  view         render a trace in the terminal, or as a self-contained HTML page (--html)
  invariants   list the invariant ids with one-line descriptions
  versions     the Kafka version presets and the protocol rules in each
  replay       replay a trace on the reference broker (or the model) and compare
  chaos        seeded fault injection against the reference broker
  serve        the reference broker over Kafka's wire protocol (real clients connect)
  clients      real client libraries under faults, their histories judged
  minimize     shorten a trace while the same invariant still breaks
  export       export a trace (--itf: the Apalache/Quint ITF format)
  corpus       regenerate / verify the regression corpus of traces
  lag          evaluate consumer-offset histories with Burrow's rules
  seed-claims  regenerate docs/seed-claims.md (the seed notes' claims, checked)
"""

# subcommand -> module under ackcheck.checker.cli exposing main(argv) -> int
COMMANDS = {
    "check": "check",
    "view": "view",
    "invariants": "invariants",
    "versions": "versions",
    "lag": "lag",
    "fuzz": "fuzz",
    "minimize": "minimize",
    "export": "export",
    "corpus": "corpus",
    "audit": "audit",
    "matrix": "matrix",
    "seed-claims": "seed_claims",
    "replay": "replay",
    "chaos": "chaos",
    "prove": "prove",
    "graph": "graph",
    "serve": "serve",
    "clients": "clients",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] == "--version":
        from ackcheck import _compiled

        print(f"ackcheck {__version__}")
        print(f"model: {_compiled.status()}")  # the Cython build of model/ in use, or why not
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        from ackcheck.traces.settings import suggest

        return err(f"unknown command '{cmd}'{suggest(cmd, COMMANDS)}; see `ackcheck --help`")
    try:
        mod = importlib.import_module(f"{__name__}.{COMMANDS[cmd]}")
        return mod.main(rest)
    except (ConfigError, TraceError) as e:
        return err(str(e))
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("ackcheck."):
            return err(f"the '{cmd}' command is not available in this build")
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `ackcheck view t.json | head`
        return 0
