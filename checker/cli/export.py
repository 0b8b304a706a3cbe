"""Trace tools: `ackcheck minimize` (delta debugging) and `ackcheck export --itf`.

minimize
    ddmin (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input")
    over the trace's action list. A candidate subsequence is replayed on the model from
    the initial state; actions that are no longer enabled where they come are skipped; the
    candidate is kept if the *same invariant* still breaks. Only that invariant is judged
    (another one breaking earlier does not end the replay). The kept trace is the executed
    actions up to the violation, so every step of the result is enabled and
    `replay_on_model` reaches the recorded violation at the recorded (last) step.
    Useful for traces that did not come from BFS (fuzz, broker chaos runs, hand-made);
    a BFS trace is already a shortest one.

export --itf
    The Informal Trace Format of Apalache and Quint
    (https://apalache-mc.org/docs/adr/015adr-trace.html): `{"#meta", "vars", "states"}`,
    one state per trace step with `"#meta": {"index": k}`. Integers are
    `{"#bigint": "n"}`, lists are JSON arrays (ITF sequences), the ISR, ELR and in-flight
    records are `{"#set": [...]}` (they are sets), and structures are ITF records (JSON
    objects). Variables: the observation's fields (`leader`, `leader_epoch`, `isr`,
    `elr`, `replicas`, `producer`, `in_flight`, `ack_isr_sizes`, `consumer`,
    `committed_log`), `action` - the action that led to the state as an ITF variant
    `{"tag": name, "value": {args}}` (`init` for step 0) - and `mbt::actionTaken` (the
    action name, as Quint's model-based-testing traces carry it). The run's config and
    the violation are in the top-level `#meta`.
"""

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
