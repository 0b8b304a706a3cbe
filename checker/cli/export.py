"""`ackcheck export TRACE --itf`: a trace in the Apalache/Quint ITF format (checker/engines/itf.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ackcheck.checker.cli.options import ArgumentParser
from ackcheck.checker.engines.itf import trace_to_itf
from ackcheck.traces.format import (
    load_trace,
)
from ackcheck.traces.settings import ConfigError


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="ackcheck export", description=(
        "Export a trace to another format. --itf: the Informal Trace Format of Apalache and Quint "
        "(one ITF state per step; integers as {\"#bigint\": ...}; ISR/ELR/in-flight as sets)."))
    p.add_argument("trace", metavar="TRACE.json")
    p.add_argument("--itf", action="store_true", help="ITF JSON (the only format so far; required)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    args = p.parse_args(argv)
    if not args.itf:
        raise ConfigError("ackcheck export: choose a format: --itf")
    trace = load_trace(args.trace)
    text = json.dumps(trace_to_itf(trace, source=str(args.trace)), indent=1) + "\n"
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--out {args.out}: {e.strerror}") from None
        print(f"ITF trace ({len(trace.steps)} states) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
