"""``ackcheck audit``: what a Kafka configuration guarantees, one line per guarantee.

```
ackcheck audit                                   # Kafka's defaults, newest version, RF 3
ackcheck audit --producer producer.properties --broker server.properties \
               [--topic topic.properties] [--consumer consumer.properties] [--kafka-version 3.6]
```

Each *guarantee* is an operator's sentence ("no acknowledged write is lost when a broker
process crashes") mapped to invariants of the catalogue and checked exhaustively within
small, explicit *fault assumptions* (a bounds profile per guarantee, adjustable with the
--max-* flags and printed with every result). A violated guarantee shows its shortest
counterexample, writes the full trace, and the smallest configuration change that
restores it, found by re-checking neighbouring configurations (or the Kafka version that
would, when no setting does).

Exit status: 0 every guarantee holds (or, with --require, every required one holds);
1 otherwise; 2 bad usage or bad input (one line naming the flag, key or file:line)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ackcheck.checker.audit.core import (
    Audit,
    internal_topic_warnings,
    run_audit,
    scoped_settings,
    write_traces,
)
from ackcheck.checker.audit.fixes import Base
from ackcheck.checker.audit.guarantees import BOUND_NAMES, BY_ID
from ackcheck.checker.audit.report import junit_xml, render_markdown, render_text
from ackcheck.checker.cli.options import settings_from_args
from ackcheck.traces import eras
from ackcheck.traces.settings import (
    BOUND_LIMITS,
    Config,
    ConfigError,
    Setting,
    suggest,
)


def add_bound_overrides(p, what: str = "every guarantee") -> None:
    from ackcheck.checker.cli.options import BOUND_HELP

    b = p.add_argument_group(
        "fault assumptions (each guarantee has its own small bounds, printed with its result; "
        f"a flag overrides that bound for {what}; --max-power-losses only for the power-loss guarantee)")
    for name, text in BOUND_HELP.items():
        b.add_argument("--" + name.replace("_", "-"), type=int, metavar="N", default=None, help=text)


def add_run_flags(p) -> None:
    g = p.add_argument_group("running")
    g.add_argument("--jobs", type=int, metavar="N", default=None,
                   help=f"parallel processes (default: the cores, {os.cpu_count()})")
    g.add_argument("--cache-dir", metavar="DIR", default=".ackcheck-cache",
                   help="results cache, keyed by config + bounds + ackcheck version (default .ackcheck-cache/)")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    g.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help="run the checks on the Dask distributed cluster whose scheduler is at ADDRESS "
                        "(tcp://host:8786) instead of local processes; default: the environment variable "
                        "ACKCHECK_CLUSTER, else local (docs/reach.md)")


def build_parser():
    from ackcheck.checker.cli.options import ArgumentParser, add_config_flags

    p = ArgumentParser(prog="ackcheck audit", description=(
        "Which durability guarantees a Kafka configuration keeps under crashes, power loss, ISR changes and "
        "lost messages, each checked exhaustively within small explicit fault assumptions. A violated guarantee "
        "shows its shortest counterexample, writes the trace, and the smallest config change that restores it. "
        "Exit 0: all hold (with --require: all required hold); 1: otherwise; 2: bad input."))
    f = p.add_argument_group("Kafka configuration files (Java .properties; topic overrides broker)")
    f.add_argument("--broker", metavar="server.properties", help="the broker config")
    f.add_argument("--topic", metavar="topic.properties", help="topic-level overrides (min.insync.replicas, ...)")
    f.add_argument("--producer", metavar="producer.properties", help="the producer config")
    f.add_argument("--consumer", metavar="consumer.properties", help="the consumer config (auto.offset.reset)")
    add_config_flags(p, bounds=False)
    add_bound_overrides(p)
    o = p.add_argument_group("output")
    o.add_argument("--guarantee", action="append", metavar="ID", default=[],
                   help=f"audit only this guarantee (repeatable): {', '.join(BY_ID)}")
    o.add_argument("--require", metavar="ID,ID", default="",
                   help="exit 1 only if one of these guarantees fails (CI gating), e.g. no-acked-loss,no-duplicates")
    o.add_argument("--json", action="store_true", help="print one JSON object")
    o.add_argument("--markdown", action="store_true", help="print a markdown report")
    o.add_argument("--junit-xml", metavar="FILE", help="also write a JUnit XML report (one test case per guarantee)")
    o.add_argument("--html", metavar="OUT.html",
                   help="also write an HTML report linking a viewer page per counterexample (written beside its trace)")
    o.add_argument("--trace-dir", metavar="DIR", default="ackcheck-traces",
                   help="where counterexample traces are written (default ./ackcheck-traces/)")
    o.add_argument("--no-fix", action="store_true", help="do not search for config changes that restore a guarantee")
    add_run_flags(p)
    return p


def parse_ids(text: str, flag: str) -> list[str]:
    ids = [x.strip() for x in text.split(",") if x.strip()]
    for i in ids:
        if i not in BY_ID:
            raise ConfigError(f"{flag} {i}: unknown guarantee{suggest(i, BY_ID)} (known: {', '.join(BY_ID)})")
    return ids


def main(argv: list[str]) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.json and args.markdown:
        raise ConfigError("ackcheck audit: --json and --markdown are exclusive")
    required = parse_ids(args.require, "--require")
    selected = parse_ids(",".join(args.guarantee), "--guarantee") or list(BY_ID)
    guarantees = [BY_ID[i] for i in selected]
    for r in required:
        if r not in selected:
            guarantees.append(BY_ID[r])
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs: expected a positive number")
    t0 = time.perf_counter()
    base, config, notes, sources = build_audit_config(args)
    overrides = {k: getattr(args, k) for k in BOUND_NAMES if getattr(args, k, None) is not None}
    cache_dir = None if args.no_cache else args.cache_dir
    status = _status_line(quiet=args.json or args.markdown)
    try:
        results = run_audit(base, config, guarantees, overrides=overrides, cache_dir=cache_dir, jobs=args.jobs,
                            cluster=args.cluster, fixes=not args.no_fix, progress=status.update if status else None)
    finally:
        if status:
            status.stop()
    audit = Audit(config, sources, notes, results, time.perf_counter() - t0, required)
    write_traces(audit, args.trace_dir)
    if args.html:
        from ackcheck.checker.cli.view import write_audit_page

        write_audit_page(audit, args.html)
    if args.junit_xml:
        try:
            Path(args.junit_xml).write_text(junit_xml(audit), encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--junit-xml {args.junit_xml}: {e.strerror}") from None
    if args.json:
        print(json.dumps(audit.as_dict(), indent=1))
    elif args.markdown:
        print(render_markdown(audit), end="")
    else:
        render_text(audit)
    return audit.exit_code


class _Status:
    def __init__(self):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status = self.console.status("auditing: checking the guarantees...")
        self.status.start()

    def update(self, msg: str) -> None:
        self.status.update(f"auditing: {msg}")

    def stop(self) -> None:
        self.status.stop()


def _status_line(quiet: bool) -> _Status | None:
    if quiet or not sys.stderr.isatty():
        return None
    return _Status()


def build_audit_config(args) -> tuple[Base, Config, list[str], list[str]]:
    settings: list[Setting] = []
    notes: list[str] = []
    sources: list[str] = []
    for role in ("broker", "topic", "producer", "consumer"):  # later wins: topic overrides broker
        path = getattr(args, role)
        if path:
            s, n = scoped_settings(path, role)
            settings += s
            notes += n
            sources.append(f"{role}: {path}")
    sources += [f"config: {p}" for p in args.config]
    settings += settings_from_args(args)
    overrides = {k: getattr(args, k) for k in BOUND_NAMES if getattr(args, k, None) is not None}
    for k, v in overrides.items():
        lo, hi = BOUND_LIMITS[k]
        if not lo <= v <= hi:
            raise ConfigError(f"--{k.replace('_', '-')}: {v} out of range {lo}..{hi}")
    base = Base(settings, args.kafka_version, list(args.rule), {})
    config = base.build()
    notes = list(config.notes) + notes
    if any(s.key == "zookeeper.connect" for s in settings) and eras.version_key(config.kafka_version) >= (4, 0):
        notes.append(f"the broker config uses ZooKeeper (zookeeper.connect), removed in Kafka 4.0: audited as "
                     f"Kafka {config.kafka_version} in KRaft mode; --kafka-version 3.9 audits ZooKeeper mode")
    if not any(s.key in ("replication.factor", "default.replication.factor") for s in settings):
        notes.append("replication factor 3 assumed (a production topic; Kafka's default.replication.factor is 1): "
                     "--replication-factor N to change it")
    notes += internal_topic_warnings(settings)
    if not sources and not settings:
        sources.append(f"Kafka {config.kafka_version} defaults")
    return base, config, notes, sources
