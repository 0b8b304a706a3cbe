"""An audit: every selected guarantee of a configuration checked under its fault assumptions
(`run_audit`), each with its result, its fix and its vacuity warnings (`GuaranteeResult`,
`Audit`), and the counterexample traces written out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ackcheck import __version__
from ackcheck.checker.audit.fixes import (
    BROKER_KEYS,
    CONSUMER_KEYS,
    PRODUCER_KEYS,
    TOPIC_KEYS,
    Base,
    check_command,
    search_fix,
)
from ackcheck.checker.audit.guarantees import Guarantee, describe_faults, profile_bounds
from ackcheck.checker.audit.runs import Pool, run_group
from ackcheck.traces.settings import (
    Config,
    Setting,
    read_properties,
)


@dataclass
class GuaranteeResult:
    guarantee: Guarantee
    bounds: dict[str, int]
    run: dict | None = None  # the run that decided it
    fix: dict | None = None
    trace_file: str | None = None
    config: Config | None = None

    @property
    def verdict(self) -> str:
        # the run's verdict comes from engines/result.py verdict_of; no run at all: the audit
        # was stopped (Ctrl-C) before this guarantee was decided
        return self.run["verdict"] if self.run else "incomplete"

    def counterexample(self, limit: int = 12) -> list[str]:
        if not self.run or not self.run.get("trace"):
            return []
        from ackcheck.traces.format import trace_from_dict
        from ackcheck.traces.render import summary_lines

        return summary_lines(trace_from_dict(self.run["trace"]), limit=limit)

    def warnings(self) -> list[str]:
        """Vacuity warnings of this guarantee's invariants: witnesses the run never reached."""
        if not self.run or self.verdict == "violated":
            return []
        from ackcheck.invariants.witnesses import warning_invariants

        return [w for w in self.run.get("warnings", ())
                if any(i in self.guarantee.invariants for i in warning_invariants(w))]

    def as_dict(self) -> dict:
        g = self.guarantee
        r = self.run or {}
        return {
            "id": g.id,
            "description": g.title,
            "verdict": self.verdict,
            "invariants": list(g.invariants),
            "bounds": self.bounds,
            "faults": describe_faults(self.bounds),
            "states": r.get("states", 0),
            "seconds": r.get("seconds", 0.0),
            "cached": r.get("cached", False),
            "complete": r.get("complete", bool(self.run)),  # False: --max-depth cut the search, or no run (Ctrl-C)
            "violation": r.get("violation"),
            "counterexample": self.counterexample(),
            "trace_file": self.trace_file,
            "fix": self.fix,
            "warnings": self.warnings(),
            "reproduce": check_command(self.config, r.get("invariants") or g.invariants) if self.config else None,
        }


@dataclass
class Audit:
    config: Config
    sources: list[str]
    notes: list[str]
    results: list[GuaranteeResult] = field(default_factory=list)
    seconds: float = 0.0
    required: list[str] = field(default_factory=list)

    def failed(self) -> list[str]:
        """Guarantees not shown to hold: violated, or not decided (a cut-short search)."""
        return [r.guarantee.id for r in self.results if r.verdict != "holds"]

    @property
    def exit_code(self) -> int:
        """The worst of the (required) guarantees' exit codes (EXIT_CODES): a violation (1)
        before an undecided search (incomplete 4, unknown 3); 0 when they hold."""
        from ackcheck.checker.engines.result import EXIT_CODES

        judged = [r for r in self.results if not self.required or r.guarantee.id in self.required]
        codes = {EXIT_CODES.get(r.verdict, 1) for r in judged}
        for code in (1, 4, 3):
            if code in codes:
                return code
        return 0

    def as_dict(self) -> dict:
        return {
            "ackcheck": __version__,
            "kafka_version": self.config.kafka_version,
            "config": self.config.kafka_properties(),
            "rules": dict(self.config.rules),
            "sources": self.sources,
            "notes": self.notes,
            "set_aside": set_aside(self.notes),
            "guarantees": [r.as_dict() for r in self.results],
            "summary": {"holds": sum(r.verdict == "holds" for r in self.results),
                        "violated": sum(r.verdict == "violated" for r in self.results),
                        "undecided": sum(r.verdict not in ("holds", "violated") for r in self.results)},
            "required": self.required,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 2),
        }


def set_aside(notes: Iterable[str]) -> list[str]:
    for n in notes:
        if n.startswith("set aside (not modelled): "):
            return n.split(": ", 1)[1].split(", ")
    return []


def scoped_settings(path: str, role: str) -> tuple[list[Setting], list[str]]:
    """Read one file; a modelled setting in the wrong kind of file is ignored, as Kafka
    ignores it there (a broker never reads `acks`), with a note."""
    allowed = {"producer": PRODUCER_KEYS, "broker": BROKER_KEYS | TOPIC_KEYS - {"replication.factor", "flush.messages"},
               "topic": TOPIC_KEYS, "consumer": CONSUMER_KEYS}[role]
    modelled = PRODUCER_KEYS | BROKER_KEYS | TOPIC_KEYS | CONSUMER_KEYS
    out, notes = [], []
    for s in read_properties(path):
        if s.key in modelled and s.key not in allowed:
            owner = ("producer" if s.key in PRODUCER_KEYS else "consumer" if s.key in CONSUMER_KEYS
                     else "topic" if s.key in TOPIC_KEYS and s.key not in BROKER_KEYS else "broker")
            notes.append(f"{s.origin}: {s.key} is a {owner} setting; a {role} ignores it (ignored here too)")
            continue
        out.append(s)
    return out, notes


INTERNAL_TOPICS = {
    "offsets.topic.replication.factor": ("replicas", 3, "the consumer offsets topic"),
    "transaction.state.log.replication.factor": ("replicas", 3, "the transaction state topic"),
    "transaction.state.log.min.isr": ("min ISR", 2, "the transaction state topic"),
    "share.coordinator.state.topic.replication.factor": ("replicas", 3, "the share-group state topic"),
}


def internal_topic_warnings(settings: list[Setting]) -> list[str]:
    """Set-aside settings that still weaken durability (Kafka's samples ship them at 1)."""
    out = []
    for s in settings:
        if s.key in INTERNAL_TOPICS:
            what, want, topic = INTERNAL_TOPICS[s.key]
            try:
                v = int(s.value)
            except ValueError:
                continue
            if v < want:
                out.append(f"warning: {s.origin}: {s.key}={v} leaves {topic} with {what} {v} "
                           f"(not modelled; use {want} or more in production)")
    return out


def run_audit(base: Base, config: Config, guarantees: list[Guarantee], *, overrides: dict[str, int],
              cache_dir: str | None, jobs: int | None, fixes: bool = True, cluster: str | None = None,
              progress: Callable[[str], None] | None = None) -> list[GuaranteeResult]:
    """Check the guarantees (groups sharing bounds in one exploration), then search fixes
    for the violated ones; everything in parallel over the pool."""
    results = {g.id: GuaranteeResult(g, profile_bounds(g.profile, overrides)) for g in guarantees}
    groups: dict[tuple, list[Guarantee]] = {}
    for g in guarantees:
        groups.setdefault(tuple(sorted(results[g.id].bounds.items())), []).append(g)
    pool = Pool(jobs, cluster)
    n_tasks = [0, 0]

    def note(msg: str) -> None:
        if progress:
            progress(msg)

    def group_done(members: list[Guarantee], gbase: Base, gconfig: Config):
        def done(out: dict) -> None:
            n_tasks[1] += 1
            per = out["per_invariant"]
            for g in members:
                res = results[g.id]
                res.config = gconfig
                runs = [per[i] for i in g.invariants if i in per]
                violated = [r for r in runs if r["verdict"] == "violated"]
                res.run = min(violated, key=lambda r: len(r["trace"]["steps"])) if violated else runs[-1]
                if violated and fixes:
                    n_tasks[0] += 1
                    pool.submit(search_fix, (gbase, g.id, cache_dir), fix_done(g))
            note(f"{n_tasks[1]}/{n_tasks[0]} checks done")
        return done

    def fix_done(g: Guarantee):
        def done(out: dict) -> None:
            n_tasks[1] += 1
            results[g.id].fix = out
            note(f"{n_tasks[1]}/{n_tasks[0]} checks done (fix for {g.id})")
        return done

    # biggest first: groups with a consumer or power loss explore more states
    order = sorted(groups.items(), key=lambda kv: -_weight(kv[0]))
    for key, members in order:
        gbase = replace(base, bounds=dict(key))
        gconfig = gbase.build()
        invs = [i for g in members for i in g.invariants]
        n_tasks[0] += 1
        pool.submit(run_group, (gconfig, invs, cache_dir), group_done(members, gbase, gconfig))
    try:
        pool.drain()
    except KeyboardInterrupt:
        # Ctrl-C: report what was decided; the rest reads "incomplete" (never "holds")
        note("interrupted")
    finally:
        pool.close()
    return [results[g.id] for g in guarantees]


def _weight(bounds_items: tuple) -> int:
    b = dict(bounds_items)
    return (b["max_records"] * 10 + b["max_crashes"] * 5 + b["max_power_losses"] * 6 + b["max_elections"] * 9
            + b["max_isr_shrinks"] * 2 + b["max_lost_messages"] * 2 + b["max_attempts"])


def write_traces(audit: Audit, trace_dir: str) -> None:
    for r in audit.results:
        if r.verdict == "holds" or not (r.run or {}).get("trace"):  # (no run: Ctrl-C came first)
            continue
        path = Path(trace_dir) / f"{r.guarantee.id}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(r.run["trace"], indent=1) + "\n", encoding="utf-8")
            r.trace_file = str(path)
        except OSError as e:
            audit.notes.append(f"could not write {path}: {e.strerror}")
