"""The `ackcheck` command line. Exit status: 0 holds, 1 violated, 2 bad usage or input."""

from __future__ import annotations

import importlib
import json
import sys

from ackcheck import __version__
from ackcheck.checker.options import ArgumentParser, add_config_flags, config_from_args
from ackcheck.traces.format import TraceError
from ackcheck.traces.settings import ConfigError

USAGE = f"""ackcheck {__version__}: what a Kafka configuration actually guarantees under crashes,
power loss, ISR changes and elections.

usage: ackcheck COMMAND [options]   (ackcheck COMMAND --help for each)

commands:
  audit        the guarantees of a Kafka config (defaults, or your .properties files)
  check        exhaustive model checking of one configuration within bounds
  fuzz         Hypothesis stateful exploration: long random executions, shrunk failures
  matrix       check a space of configurations, render configs x invariants
  view         render a trace in the terminal
  invariants   list the invariant ids with one-line descriptions
  versions     the Kafka version presets and the protocol rules in each
  replay       replay a trace on the reference broker (or the model) and compare
  chaos        seeded fault injection against the reference broker
  minimize     shorten a trace while the same invariant still breaks
  export       export a trace (--itf: the Apalache/Quint ITF format)
  corpus       regenerate / verify the regression corpus of traces
  lag          evaluate consumer-offset histories with Burrow's rules
  seed-claims  regenerate docs/seed-claims.md (the seed notes' claims, checked)
"""

# subcommand -> module exposing main(argv) -> int
COMMANDS = {
    "check": "ackcheck.checker.cli",
    "view": "ackcheck.checker.cli",
    "invariants": "ackcheck.checker.cli",
    "versions": "ackcheck.checker.cli",
    "lag": "ackcheck.checker.lag_cli",
    "fuzz": "ackcheck.checker.fuzz_cli",
    "minimize": "ackcheck.checker.trace_tools",
    "export": "ackcheck.checker.trace_tools",
    "corpus": "ackcheck.checker.corpus",
    "audit": "ackcheck.checker.audit",
    "matrix": "ackcheck.checker.matrix",
    "seed-claims": "ackcheck.checker.seed_claims",
    "replay": "ackcheck.checker.replay_cli",
    "chaos": "ackcheck.checker.chaos_cli",
}


def err(msg: str) -> int:
    print(f"ackcheck: error: {msg}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] == "--version":
        print(f"ackcheck {__version__}")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        from ackcheck.traces.settings import suggest

        return err(f"unknown command '{cmd}'{suggest(cmd, COMMANDS)}; see `ackcheck --help`")
    try:
        if COMMANDS[cmd] == __name__:
            return LOCAL[cmd](rest)
        mod = importlib.import_module(COMMANDS[cmd])
        fn = getattr(mod, "main_" + cmd.replace("-", "_"), None) or mod.main
        return fn(rest)
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


# ------------------------------------------------------------------------------ check
def print_counterexample(trace, *, full: bool, trace_out: str | None) -> None:
    """A counterexample's steps (the summary, or every step's cluster state with `full`)
    and where it was kept; shared by check and fuzz."""
    from ackcheck.traces.render import render, summary_lines

    print(render(trace) if full else "\n".join(summary_lines(trace, limit=40)))
    if trace_out:
        print(f"trace written to {trace_out} (ackcheck view {trace_out})")
    else:
        print("(--trace-out FILE keeps it; --full prints every step's cluster state)")


def main_check(argv: list[str]) -> int:
    from ackcheck.checker.engine import run_check

    p = ArgumentParser(prog="ackcheck check", description=(
        "Explore every execution of the model within the bounds (breadth-first, so the first "
        "counterexample is a shortest one) and check the invariants. Exit 0: every checked "
        "invariant holds within the bounds; 1: a violation (the trace is printed); 2: bad input."))
    add_config_flags(p)
    p.add_argument("--invariant", action="append", metavar="ID",
                   help="check only this invariant (repeatable; default: all that apply)")
    p.add_argument("--json", action="store_true", help="print one JSON object (DESIGN.md contract)")
    p.add_argument("--trace-out", metavar="FILE", help="write the counterexample trace to FILE")
    p.add_argument("--full", action="store_true", help="print the full trace, not the summary")
    p.add_argument("--symmetry", choices=("on", "off"), default="on",
                   help="skip states that are renamings of explored ones (brokers are interchangeable); "
                        "'distinct' then counts classes (default on)")
    args = p.parse_args(argv)
    config = config_from_args(args)
    if not args.json:
        for note in config.notes:
            print(f"note: {note}", file=sys.stderr)
    result = run_check(config, args.invariant, progress=not args.json, symmetry=args.symmetry == "on")
    if args.trace_out and result.trace is not None:
        try:
            result.trace.write(args.trace_out)
        except OSError as e:
            print(json.dumps(result.as_dict()) if args.json else "", end="")
            return err(f"--trace-out {args.trace_out}: {e.strerror}")
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
        return result.exit_code
    print(describe_config(config))
    if result.violation:
        inv, msg = result.violation
        print(f"VIOLATED {inv}: {msg}")
        print(f"shortest counterexample ({len(result.trace.steps) - 1} steps):")
        print_counterexample(result.trace, full=args.full, trace_out=args.trace_out)
    elif result.interrupted:
        print(f"INTERRUPTED: no violation among the states explored so far ({', '.join(result.invariants)})")
    elif not result.stats.complete:
        print(f"NO VIOLATION up to depth {result.stats.max_depth} (--max-depth cut the search): "
              f"{', '.join(result.invariants)}")
    else:
        print(f"HOLDS within bounds: {', '.join(result.invariants)}")
    print(result.stats.done_line())
    return result.exit_code


def describe_config(config) -> str:
    props = config.kafka_properties()
    kv = " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in props.items()
                  if k not in ("auto.leader.rebalance.enable", "auto.offset.reset"))
    b = config.bounds
    bounds = (f"records={b.max_records} crashes={b.max_crashes} power_losses={b.max_power_losses} "
              f"elections={b.max_elections} isr_shrinks={b.max_isr_shrinks} lost_messages={b.max_lost_messages} "
              f"attempts={b.max_attempts}" + (f" depth={b.max_depth}" if b.max_depth else "")
              + (f" delayed_fetches={b.max_delayed_fetches}" if b.max_delayed_fetches else ""))
    off = [k for k, v in config.rules if not v]
    return (f"kafka {config.kafka_version}: {kv}\nbounds: {bounds}"
            + (f"\nrules off: {', '.join(off)}" if off else ""))


# ------------------------------------------------------------------------------- view
def main_view(argv: list[str]) -> int:
    from ackcheck.traces.format import load_trace
    from ackcheck.traces.render import render

    p = ArgumentParser(prog="ackcheck view", description="Render a trace: every step's action and cluster state.")
    p.add_argument("trace", metavar="TRACE.json")
    args = p.parse_args(argv)
    print(render(load_trace(args.trace)))
    return 0


# ------------------------------------------------------------------------- invariants
def main_invariants(argv: list[str]) -> int:
    from ackcheck.invariants.catalogue import INVARIANTS

    p = ArgumentParser(prog="ackcheck invariants", description="List the invariants.")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="with the justification of each")
    args = p.parse_args(argv)
    if args.json:
        print(json.dumps([{"id": i.id, "description": i.description, "anomaly": i.anomaly,
                           "justification": i.justification} for i in INVARIANTS], indent=1))
        return 0
    for inv in INVARIANTS:
        anomaly = f" [{inv.anomaly}]" if inv.anomaly else ""
        print(f"{inv.id:<28} {inv.description}{anomaly}")
        if args.verbose:
            print(f"{'':<28} {inv.justification}")
    return 0


# --------------------------------------------------------------------------- versions
def main_versions(argv: list[str]) -> int:
    from ackcheck.traces import eras

    p = ArgumentParser(prog="ackcheck versions", description="Kafka version presets and their protocol rules.")
    p.add_argument("--json", action="store_true")
    p.add_argument("--doc", metavar="FILE",
                   help="run every fix's scenario with the rule off and on and write the page "
                        "(docs/eras.md) to FILE; takes a few minutes")
    args = p.parse_args(argv)
    if args.doc:
        from ackcheck.checker.eras_doc import generate

        try:
            with open(args.doc, "w", encoding="utf-8") as f:
                generate(f, progress=lambda r: print(f"checking {r} ...", file=sys.stderr, flush=True))
        except OSError as e:
            return err(f"--doc {args.doc}: {e.strerror}")
        print(f"wrote {args.doc}")
        return 0
    if args.json:
        print(json.dumps({
            "versions": {v: {"rules": eras.rules_for(v), "defaults": eras.kafka_defaults(v)} for v in eras.VERSIONS},
            "rules": [{"name": r.name, "since": r.since, "reference": r.reference, "summary": r.summary,
                       "protects": r.protects} for r in eras.RULES],
        }, indent=1))
        return 0
    print("Protocol rules (switch one with --rule name=on|off):")
    for r in eras.RULES:
        print(f"  {r.name:<32} {r.reference:<16} since {r.since:<5} {r.summary}")
    print()
    names = [r.name for r in eras.RULES]
    print("Presets (--kafka-version; default " + eras.NEWEST + "):")
    print(f"  {'version':<8} {'acks':<5} {'idem':<6} {'unclean':<8} rules on")
    for v in eras.VERSIONS:
        d = eras.kafka_defaults(v)
        rules = eras.rules_for(v)
        on = [n for n in names if rules[n]]
        print(f"  {v:<8} {d['acks']:<5} {d['enable.idempotence']:<6} {d['unclean.leader.election.enable']:<8} "
              f"{', '.join(on) or '(none)'}")
    print("\nkraft_controller is on from 4.0, or for a config that sets process.roles (KRaft mode).")
    return 0


LOCAL = {"check": main_check, "view": main_view, "invariants": main_invariants, "versions": main_versions}
