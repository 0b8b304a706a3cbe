"""``ackcheck matrix``: the audit's guarantees over a space of Kafka configurations.

```
ackcheck matrix [--acks 1,all] [--min-insync-replicas 1,2] [--unclean false,true]
                [--idempotence false,true] [--max-in-flight 1,5] [--retries 0,3]
                [--replication-factor 3] [--kafka-version X.Y] [--no-seed]
                [--format markdown|json|html] [--out FILE] [--trace-dir DIR]
                [--jobs N] [--cache-dir DIR | --no-cache] [--max-crashes N ...]
```

Rows are configurations (the product of the value sets, then the seed notes' scenarios),
columns the audit's guarantees (each names its invariants and its fault assumptions).
A cell holds (with the states explored) or is violated (with its trace file). Settings
Kafka rejects (enable.idempotence=true set explicitly with acks=1 or retries=0) are shown
as "invalid (Kafka rejects)". Cells run in parallel over the cores through the audit's
runner: guarantees sharing fault assumptions are checked in one exploration, equivalent
configurations share a run, and results are cached by config + bounds + ackcheck version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ackcheck.checker.audit.guarantees import (
    BOUND_NAMES,
    BY_ID,
    GUARANTEES,
)
from ackcheck.checker.audit.matrix import (
    DIMENSIONS,
    render_html,
    render_markdown,
    run_matrix,
    seed_rows,
    space_rows,
)
from ackcheck.checker.cli.audit import add_bound_overrides, add_run_flags, parse_ids
from ackcheck.traces import eras
from ackcheck.traces.settings import BOUND_LIMITS, ConfigError, build_config


def build_parser():
    from ackcheck.checker.cli.options import ArgumentParser

    p = ArgumentParser(prog="ackcheck matrix", description=(
        "Check the audit's guarantees over a space of Kafka configurations (the product of the value sets, plus "
        "the seed notes' scenarios) and render configurations x guarantees. Ctrl-C renders the cells decided so "
        "far, the rest 'incomplete' (exit 4); finished runs are cached, so the same command continues."))
    s = p.add_argument_group("the space (comma-separated values)")
    for flag, prop, default in DIMENSIONS:
        s.add_argument("--" + flag.replace("_", "-"), metavar="V,V", default=default,
                       help=f"{prop} values (default {default})")
    s.add_argument("--replication-factor", type=int, default=3, metavar="N", help="replicas (default 3)")
    s.add_argument("--kafka-version", metavar="X.Y", help=f"protocol preset (default {eras.NEWEST})")
    s.add_argument("--rule", action="append", default=[], metavar="name=on|off", help="switch one protocol rule")
    s.add_argument("--no-seed", action="store_true", help="leave out the seed notes' scenarios")
    s.add_argument("--guarantee", action="append", default=[], metavar="ID",
                   help=f"only these columns (repeatable): {', '.join(BY_ID)}")
    add_bound_overrides(p, "every column")
    o = p.add_argument_group("output")
    o.add_argument("--format", choices=("markdown", "json", "html"), default="markdown")
    o.add_argument("--out", metavar="FILE", help="write here instead of stdout; with --format html a path not "
                   "ending in .html is a directory: index.html, and a viewer page beside every violated cell's trace")
    o.add_argument("--trace-dir", metavar="DIR",
                   help="traces of violated cells (default: FILE's name + '-traces/' beside --out, "
                        "else ./ackcheck-traces/matrix/)")
    add_run_flags(p)
    return p


def parse_values(args) -> dict[str, list[str]]:
    from ackcheck.traces.settings import MODELLED

    out = {}
    for flag, prop, _ in DIMENSIONS:
        text = getattr(args, flag)
        vals = [v.strip() for v in text.split(",") if v.strip()]
        if not vals:
            raise ConfigError(f"--{flag.replace('_', '-')}: expected at least one value")
        parser = MODELLED[prop][1]
        for v in vals:
            try:
                parser(v)
            except ValueError as e:
                raise ConfigError(f"--{flag.replace('_', '-')} {v}: invalid value ({e})") from None
        out[prop] = list(dict.fromkeys(vals))
    return out


def write_cell_pages(m, index: Path) -> None:
    """A viewer page beside each violated cell's trace file; the cell links to it."""
    import os

    from ackcheck.checker.cli.view import raw_json, write_trace_page
    from ackcheck.traces.format import TraceError, load_trace

    base = index.parent
    for row in m.rows:
        for c in row.cells.values():
            if c.get("verdict") != "violated" or not c.get("trace_file"):
                continue
            path = Path(c["trace_file"])
            path = path if path.is_absolute() else base / path
            try:
                trace = load_trace(path)
            except TraceError as e:
                print(f"matrix: no page for {path}: {e}", file=sys.stderr)
                continue
            page = path.with_suffix(".html")
            write_trace_page(trace, page, "--out", raw=raw_json(path), title=f"{row.label}: {c['invariant']}",
                             back_link=os.path.relpath(index, page.parent))
            c["page"] = os.path.relpath(page, base)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    values = parse_values(args)
    if not 1 <= args.replication_factor <= 5:
        raise ConfigError(f"--replication-factor: {args.replication_factor} out of range 1..5")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs: expected a positive number")
    overrides = {k: getattr(args, k) for k in BOUND_NAMES if getattr(args, k, None) is not None}
    for k, v in overrides.items():
        lo, hi = BOUND_LIMITS[k]
        if not lo <= v <= hi:
            raise ConfigError(f"--{k.replace('_', '-')}: {v} out of range {lo}..{hi}")
    # the version and the rules are validated once, naming the flag: a misspelt --rule is bad
    # input, not a column of configurations "Kafka rejects"
    build_config([], kafka_version=args.kafka_version, rule_overrides=list(args.rule or ()))
    guarantees = [BY_ID[i] for i in parse_ids(",".join(args.guarantee), "--guarantee")] or list(GUARANTEES)
    rows = space_rows(values, args.replication_factor, args.kafka_version)
    if not args.no_seed:
        rows += seed_rows(args.kafka_version)
    out = Path(args.out) if args.out else None
    # --format html --out DIR: the grid page and a viewer page per violated cell, linked relatively
    pages = args.format == "html" and out is not None and out.suffix.lower() not in (".html", ".htm")
    if pages:
        out = out / "index.html"
    if args.trace_dir:
        trace_dir = Path(args.trace_dir)
    elif pages:
        trace_dir = out.parent / "traces"
    elif out is not None:
        trace_dir = out.parent / (out.stem + "-traces")
    else:
        trace_dir = Path("ackcheck-traces") / "matrix"
    m = run_matrix(rows, guarantees, overrides=overrides, rf=args.replication_factor, rule_overrides=args.rule,
                   cache_dir=None if args.no_cache else args.cache_dir, jobs=args.jobs, cluster=args.cluster, trace_dir=trace_dir,
                   link_base=out.parent if out is not None else None, progress=True)
    m.space = {prop: values[prop] for _, prop, _ in DIMENSIONS}
    if pages:
        write_cell_pages(m, out)
    text = {"markdown": render_markdown, "html": render_html,
            "json": lambda m: json.dumps(m.as_dict(), indent=1) + "\n"}[args.format](m)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--out {out}: {e.strerror}") from None
        print(f"matrix: {sum(r.invalid is None for r in rows)} configurations x {len(guarantees)} guarantees, "
              f"{m.runs} runs ({m.cached_runs} cached), {m.states:,} states, {m.seconds:.1f}s -> {out}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    if m.interrupted:
        decided = sum(1 for r in rows if r.invalid is None for c in r.cells.values() if c["verdict"] != "incomplete")
        total = sum(len(guarantees) for r in rows if r.invalid is None)
        again = ("" if args.no_cache else
                 "; the runs done are cached, so the same command continues from them")
        print(f"matrix: interrupted - {decided} of {total} cells decided, the rest read 'incomplete'{again}",
              file=sys.stderr)
        return 4
    return 0
