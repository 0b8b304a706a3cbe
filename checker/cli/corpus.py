"""`ackcheck corpus regenerate | verify | list`: the command line of the regression corpus
(the scenarios and the checks are in checker/audit/corpus.py)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ackcheck.checker.audit.corpus import (
    _FIXED_CACHE,
    BY_NAME,
    SCENARIOS,
    CorpusError,
    check_fixed,
    default_dir,
    dumps,
    generate,
    verify_file,
)
from ackcheck.checker.cli.options import ArgumentParser
from ackcheck.traces.settings import ConfigError


# ---------------------------------------------------------------------------- CLI
def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="ackcheck corpus", description=(
        "The regression corpus (traces/corpus/): one BFS counterexample per known Kafka hole, each "
        "with the fixed configuration that must not break the same invariant."))
    sub = p.add_subparsers(dest="cmd", metavar="regenerate|verify|list")
    g = sub.add_parser("regenerate", help="re-run every scenario and write its trace",
                       description="Run BFS for every scenario (or --only NAME) and write DIR/NAME.json.")
    g.add_argument("--dir", metavar="DIR", help=f"output directory (default {default_dir()})")
    g.add_argument("--only", action="append", metavar="NAME", help="only this scenario (repeatable)")
    g.add_argument("--no-fixed-check", action="store_true",
                   help="do not re-check that each fixed config holds (faster)")
    v = sub.add_parser("verify", help="replay every corpus trace and re-check every fix",
                       description="Replay every DIR/*.json on the model: the recorded invariant must break at "
                                   "the recorded step. Then check each fixed config exhaustively. Exit 1 on any "
                                   "failure.")
    v.add_argument("--dir", metavar="DIR", help=f"corpus directory (default {default_dir()})")
    v.add_argument("--skip-fixed", action="store_true", help="only replay the traces")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("list", help="list the scenarios")
    args = p.parse_args(argv)
    if args.cmd is None:
        raise ConfigError("ackcheck corpus: choose regenerate, verify or list")
    if args.cmd == "list":
        for sc in SCENARIOS:
            print(f"{sc.name:<32} {sc.invariant:<22} fix: {sc.fix}")
        return 0
    directory = Path(args.dir) if args.dir else default_dir()
    if args.cmd == "regenerate":
        return _regenerate(directory, args.only, not args.no_fixed_check)
    return _verify(directory, not args.skip_fixed, args.json)


def _regenerate(directory: Path, only: list[str] | None, fixed: bool) -> int:
    from ackcheck.traces.settings import suggest

    for n in only or []:
        if n not in BY_NAME:
            raise ConfigError(f"--only {n}: unknown scenario{suggest(n, BY_NAME)} (see `ackcheck corpus list`)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--dir {directory}: {e.strerror}") from None
    failed = 0
    for sc in SCENARIOS:
        if only and sc.name not in only:
            continue
        t0 = time.perf_counter()
        try:
            d, fig = generate(sc)
        except CorpusError as e:
            print(f"FAIL {e}")
            failed += 1
            continue
        line = (f"{sc.name}: {sc.invariant} violated at step {fig['steps']} "
                f"({fig['states']:,} states, {fig['seconds']:.1f}s)")
        if fixed:
            cached = json.dumps([d["corpus"]["fixed_config"], sc.invariant], sort_keys=True) in _FIXED_CACHE
            r = check_fixed(d["corpus"]["fixed_config"], sc.invariant)
            if r.verdict != "holds":  # engines/result.py verdict_of: a cut-short check proves no fix
                print(f"FAIL {line}; but the fix ({sc.fix}) does not hold: "
                      f"{r.violation[1] if r.violation else r.verdict}")
                failed += 1
                continue
            line += (f"; fix ({sc.fix}) holds ({r.stats.distinct_states:,} states, "
                     + ("checked above)" if cached else f"{r.stats.seconds:.1f}s)"))
        out = directory / f"{sc.name}.json"
        out.write_text(dumps(d), encoding="utf-8")
        print(f"{line} -> {out} [{time.perf_counter() - t0:.1f}s]", flush=True)
    known = {f"{s.name}.json" for s in SCENARIOS}
    for f in sorted(directory.glob("*.json")):
        if f.name not in known:
            print(f"note: {f} is not a scenario of this ackcheck (left as is)", file=sys.stderr)
    return 1 if failed else 0


def _verify(directory: Path, fixed: bool, as_json: bool) -> int:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise ConfigError(f"--dir {directory}: no corpus traces (*.json) there")
    verdicts = []
    for f in files:
        vd = verify_file(f, fixed=fixed)
        verdicts.append(vd)
        if not as_json:
            if vd.ok:
                extra = f"; fix holds ({vd.fixed_states:,} states)" if vd.fixed_states is not None else ""
                print(f"ok   {vd.name}: violation reproduced at step {vd.replay_step}{extra} [{vd.seconds:.1f}s]",
                      flush=True)
            else:
                print(f"FAIL {vd.name}: " + "; ".join(vd.problems), flush=True)
    bad = [v for v in verdicts if not v.ok]
    if as_json:
        print(json.dumps({"ok": not bad, "traces": [
            {"file": v.file, "name": v.name, "ok": v.ok, "problems": v.problems, "step": v.replay_step,
             "fixed_states": v.fixed_states, "seconds": round(v.seconds, 3)} for v in verdicts]}, indent=1))
    else:
        print(f"{len(verdicts) - len(bad)}/{len(verdicts)} corpus traces verified")
    return 1 if bad else 0
