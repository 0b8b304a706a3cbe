"""`ackcheck replay TRACE --on broker|model`: execute a trace on the reference broker (or the model)
and compare (checker/engines/replay.py).

Exit status: 0 confirmed and conformant (a trace without violation: conformant and no
violation); 1 a divergence, or not confirmed; 2 bad input."""

from __future__ import annotations

import json
from pathlib import Path

from ackcheck.checker.cli.options import ArgumentParser
from ackcheck.checker.engines.replay import ReplayReport, replay_model, replay_on_broker, trace_config
from ackcheck.traces.format import load_trace
from ackcheck.traces.settings import ConfigError


# -------------------------------------------------------------------------------- CLI
def describe(report: ReplayReport, trace_path: str) -> list[str]:
    lines = [(f"replayed {report.steps} step(s) of {trace_path} on the {report.on} "
              f"in {report.seconds:.3f}s ({report.steps_per_second:,.0f} steps/s)")]
    d = report.first_difference
    if d is None:
        lines.append(f"conformance: every observation matches the trace ({report.steps + 1} steps)")
    else:
        lines.append(f"DIVERGENCE at step {d['step']}" + (f" ({d['action']})" if d["action"] else "") +
                     f": {d['field']}")
        lines.append(f"  trace:      {json.dumps(d['trace'])}")
        lines.append(f"  {report.on + ':':<11} {json.dumps(d['actual'])}")
    v = report.violation
    if report.expected is not None:
        e = report.expected
        if report.confirmed:
            lines.append(f"CONFIRMED {e[0]} at step {e[2]}: {v[1]}")
        elif v is None:
            lines.append(f"NOT CONFIRMED: {e[0]} (step {e[2]} in the trace) does not break on the {report.on}")
        else:
            lines.append(f"NOT CONFIRMED: the trace breaks {e[0]} at step {e[2]}; the {report.on} "
                         f"breaks {v[0]} at step {v[2]}: {v[1]}")
    elif v is None:
        lines.append(f"no violation of {', '.join(report.invariants)}")
    else:
        lines.append(f"VIOLATED {v[0]} at step {v[2]}: {v[1]} (the trace records none)")
    return lines


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="ackcheck replay", description=(
        "Replay a trace on the reference broker (real segment files, page cache, recovery) or on "
        "the model; compare every step's observation with the trace's and judge the invariants. "
        "Exit 0: confirmed (or no violation expected and none found) and conformant; 1: divergence "
        "or not confirmed; 2: bad input."))
    p.add_argument("trace", metavar="TRACE.json")
    p.add_argument("--on", choices=("broker", "model"), default="broker", help="what to replay on (default broker)")
    p.add_argument("--keep-dir", metavar="DIR", help="keep the brokers' data directories in DIR (must be empty or new)")
    p.add_argument("--segment-bytes", type=int, metavar="N",
                   help="log.segment.bytes of the reference broker (default 1073741824)")
    p.add_argument("--invariant", action="append", metavar="ID",
                   help="judge this invariant (default: the trace's violated one, or all that apply)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--html", metavar="OUT.html",
                   help="also write the trace as an HTML page with the replay's observations beside the trace's, "
                        "each step marked as agreeing or not")
    args = p.parse_args(argv)
    trace = load_trace(args.trace)
    config = trace_config(trace)
    if args.segment_bytes is not None and args.segment_bytes < 100:
        raise ConfigError(f"--segment-bytes {args.segment_bytes}: at least 100 (a batch must fit)")
    if args.on == "model":
        if args.keep_dir:
            raise ConfigError("--keep-dir: only with --on broker")
        report = replay_model(trace, config=config, invariant_ids=args.invariant)
    else:
        data_dir = None
        if args.keep_dir:
            d = Path(args.keep_dir)
            if d.exists() and (not d.is_dir() or any(d.iterdir())):
                raise ConfigError(f"--keep-dir {d}: exists and is not an empty directory")
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"--keep-dir {d}: {e.strerror}") from None
            data_dir = d
        report = replay_on_broker(trace, config=config, data_dir=data_dir, invariant_ids=args.invariant,
                                  segment_bytes=args.segment_bytes, keep=bool(args.keep_dir))
    if args.html:
        from ackcheck.checker.cli.view import raw_json, write_trace_page
        from ackcheck.traces.format import observation_to_json

        obs = [observation_to_json(o) for o in report.observations]
        replay = {"on": "reference broker" if report.on == "broker" else report.on,
                  "summary": describe(report, args.trace)[1:],
                  "conformant": report.conformant, "confirmed": report.confirmed,
                  "observations": obs + [None] * (len(trace.steps) - len(obs))}
        write_trace_page(trace, args.html, "--html", raw=raw_json(args.trace), replay=replay)
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        print("\n".join(describe(report, args.trace)))
        if args.keep_dir:
            print(f"data directories kept in {args.keep_dir}")
    return 0 if report.ok else 1
