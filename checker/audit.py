"""``ackcheck audit``: what a Kafka configuration guarantees, one line per guarantee.

```
ackcheck audit                                   # Kafka's defaults, newest version, RF 3
ackcheck audit --producer producer.properties --broker server.properties \\
               [--topic topic.properties] [--consumer consumer.properties] [--kafka-version 3.6]
```

Each *guarantee* is an operator's sentence ("no acknowledged write is lost when a broker
process crashes") mapped to invariants of the catalogue and checked exhaustively within
small, explicit *fault assumptions* (a bounds profile per guarantee, adjustable with the
--max-* flags and printed with every result). A violated guarantee shows its shortest
counterexample, writes the full trace, and the smallest configuration change that
restores it, found by re-checking neighbouring configurations (or the Kafka version that
would, when no setting does).

This module also holds the machinery `matrix` and `seed-claims` share:
- a *run* is one exhaustive check (config + bounds + invariant ids), keyed by a canonical
  form of the config (settings the model cannot distinguish within the bounds are folded:
  retries beyond the attempt bound, in-flight beyond the batch count), the ackcheck
  version and a fingerprint of the model's source, and cached on disk as JSON;
- a *group* run checks the invariants of several guarantees that share one bounds profile
  in one exploration; on a violation the violated invariant is set aside and the rest
  re-checked (BFS: the first violation found is a shortest one for that invariant too);
- runs go to a process pool (one per core).

Exit status: 0 every guarantee holds (or, with --require, every required one holds);
1 otherwise; 2 bad usage or bad input (one line naming the flag, key or file:line).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path

from ackcheck.traces import eras
from ackcheck.traces.settings import (
    BOUND_LIMITS,
    Bounds,
    Config,
    ConfigError,
    Setting,
    build_config,
    read_properties,
    suggest,
)

from ackcheck import __version__

# ======================================================================================
# Guarantees and their fault assumptions

BOUND_NAMES = tuple(Bounds().as_dict())

# Bounds profiles. Chosen small on purpose: a guarantee that HOLDS must be explored
# completely, and every extra perturbation multiplies the state space by 10-50x. Each
# profile is the smallest that exhibits the known violations of its guarantees (KAFKA.md
# section 9): two ISR shrinks let a lone leader acknowledge with min.insync.replicas=1 and
# leave the others out of the ISR (unclean election, last replica standing); one crash
# or power loss then hits it; one lost message plus a second attempt makes a retry.
PROFILES: dict[str, dict[str, int]] = {
    "crash": {"max_records": 1, "max_crashes": 1, "max_power_losses": 0, "max_elections": 0, "max_lost_messages": 0,
                  "max_isr_shrinks": 2, "max_attempts": 1, "max_depth": 0},
    "power": {"max_records": 1, "max_crashes": 0, "max_power_losses": 1, "max_elections": 0, "max_lost_messages": 0,
                  "max_isr_shrinks": 2, "max_attempts": 1, "max_depth": 0},
    "producer": {"max_records": 2, "max_crashes": 0, "max_power_losses": 0, "max_elections": 0, "max_lost_messages": 1,
                     "max_isr_shrinks": 0, "max_attempts": 2, "max_depth": 0},
}


@dataclass(frozen=True)
class Guarantee:
    id: str
    title: str  # one line an operator understands
    invariants: tuple[str, ...]
    profile: str
    fix_order: tuple[str, ...]  # which neighbouring settings to try first (see _single_changes)


GUARANTEES: tuple[Guarantee, ...] = (
    Guarantee("no-acked-loss",
              "no acknowledged write is lost when broker processes crash (kill -9: the page cache survives)",
              ("acked-write-survives",), "crash", ("acks", "min_isr", "unclean", "flush")),
    Guarantee("no-acked-loss-power-loss",
              "no acknowledged write is lost when a broker's host loses power (its unflushed page cache is lost)",
              ("acked-write-survives",), "power", ("acks", "min_isr", "unclean", "flush")),
    Guarantee("no-duplicates",
              "a record is written once, even when the producer retries",
              ("no-duplicates",), "producer", ("idempotence", "in_flight")),
    Guarantee("send-order-kept",
              "records acknowledged to one producer stay in the order they were sent",
              ("producer-order",), "producer", ("idempotence", "in_flight")),
    Guarantee("read-never-disappears",
              "a record a consumer has read never disappears from the partition",
              ("read-durability",), "crash", ("unclean", "acks", "min_isr", "flush")),
    Guarantee("consumers-never-skip",
              "a consumer never skips or re-reads records: positions and commits only move forward",
              ("consumer-monotonic",), "crash", ("unclean", "acks", "min_isr", "flush")),
)
BY_ID = {g.id: g for g in GUARANTEES}

FAULT_TEXT = {
    "max_crashes": ("process crash", "process crashes", "kill -9; the page cache survives"),
    "max_power_losses": ("power loss", "power losses", "the host's unflushed page cache is lost"),
    "max_isr_shrinks": ("ISR shrink", "ISR shrinks", "a live follower too slow for replica.lag.time.max.ms"),
    "max_elections": ("leader move without a crash", "leader moves without a crash",
                      "preferred-leader rebalance, controlled shutdown"),
    "max_lost_messages": ("lost produce request/response", "lost produce requests/responses", "network"),
    "max_delayed_fetches": ("delayed fetch request", "delayed fetch requests", "handled after the follower moved on"),
}


def profile_bounds(profile: str, overrides: dict[str, int] | None = None) -> dict[str, int]:
    """A profile's bounds with the user's --max-* overrides. --max-power-losses only
    applies to power-loss profiles: the other guarantees are stated under process crashes."""
    b = dict(PROFILES[profile])
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if k == "max_power_losses" and PROFILES[profile]["max_power_losses"] == 0:
            continue
        b[k] = v
    return b


def describe_faults(bounds: dict[str, int]) -> str:
    """The fault assumptions of a bounds dict, in words."""
    parts = []
    for key, (one, many, why) in FAULT_TEXT.items():
        n = bounds.get(key, 0)
        if n:
            parts.append(f"{n} {one if n == 1 else many} ({why})")
    faults = "; ".join(parts) if parts else "no faults"
    rec = bounds.get("max_records", 1)
    att = bounds.get("max_attempts", 1)
    extra = f"{rec} record{'s' if rec != 1 else ''}, {att} send attempt{'s' if att != 1 else ''} each"
    if bounds.get("max_depth"):
        extra += f", executions cut at {bounds['max_depth']} steps"
    return f"up to {faults}; {extra}"


def bounds_short(bounds: dict[str, int]) -> str:
    names = {"max_records": "records", "max_crashes": "crashes", "max_power_losses": "power_losses",
             "max_elections": "elections", "max_isr_shrinks": "isr_shrinks", "max_lost_messages": "lost_messages",
             "max_attempts": "attempts", "max_depth": "depth", "max_delayed_fetches": "delayed_fetches"}
    return " ".join(f"{names[k]}={v}" for k, v in bounds.items() if k not in ("max_depth", "max_delayed_fetches") or v)


# ======================================================================================
# Runs: canonical keys, the disk cache, the process pool

_FINGERPRINTED = (
    "ackcheck.model.protocol", "ackcheck.model.state", "ackcheck.model.truncation",
    "ackcheck.invariants.catalogue", "ackcheck.checker.explore", "ackcheck.checker.engine",
    "ackcheck.traces.settings", "ackcheck.traces.eras", "ackcheck.traces.observation",
    "ackcheck.traces.format",
)


@functools.cache
def code_fingerprint() -> str:
    """A hash of the model's and invariants' source: a cache entry from other code is stale
    even when the version string did not change (development installs)."""
    h = hashlib.sha256()
    for name in _FINGERPRINTED:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and os.path.exists(spec.origin):
            h.update(name.encode())
            h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()[:16]


def canonical_config(config: Config) -> dict:
    """The config as the model sees it within its bounds. Folds settings no execution
    within the bounds can tell apart (tests/test_matrix.py checks the folding against the
    model): attempts per batch are min(retries + 1, max_attempts) (1 for acks=0), and more
    requests in flight than there are batches never matters."""
    d = config.as_dict()
    b = config.bounds
    batches = math.ceil(b.max_records / max(1, config.records_per_batch))
    attempts = 1 if config.acks == "0" else min(config.retries + 1, b.max_attempts)
    d["retries"] = attempts - 1
    d["max.in.flight.requests.per.connection"] = min(config.max_in_flight_requests_per_connection, batches)
    return d


def verdict_config(config: Config) -> dict:
    """Coarser than canonical_config: configs whose state graphs are isomorphic, so a
    verdict and a state count carry over but a trace does not. With a single batch and a
    single attempt the idempotent producer never retries, so its sequence numbers (carried
    in every batch) only relabel the states (tests/test_matrix.py checks this)."""
    d = canonical_config(config)
    b = config.bounds
    batches = math.ceil(b.max_records / max(1, config.records_per_batch))
    if batches == 1 and d["retries"] == 0:
        d["enable.idempotence"] = None
    return d


def run_key(config: Config, invariants: Iterable[str], *, verdict_only: bool = False) -> str:
    material = {
        "ackcheck": __version__,
        "code": code_fingerprint(),
        "config": verdict_config(config) if verdict_only else canonical_config(config),
        "invariants": sorted(invariants),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


class Cache:
    """Run results as JSON files under one directory; None = no caching."""

    def __init__(self, directory: str | Path | None):
        self.dir = Path(directory) if directory else None

    def get(self, key: str) -> dict | None:
        if self.dir is None:
            return None
        try:
            with open(self.dir / f"{key}.json", encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, ValueError):
            return None
        return d if isinstance(d, dict) and d.get("key") == key else None

    def put(self, key: str, value: dict) -> None:
        if self.dir is None:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({**value, "key": key}, f)
            os.replace(tmp, self.dir / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written is only slower


def run_one(config: Config, invariants: Iterable[str], cache_dir: str | None = None) -> dict:
    """One exhaustive check, from the cache when possible. Returns a JSON-able dict."""
    from ackcheck.checker.engine import run_check

    invariants = tuple(invariants)
    key = run_key(config, invariants)
    cache = Cache(cache_dir)
    hit = cache.get(key)
    if hit is not None:
        hit["cached"] = True
        if hit.get("trace"):
            # the run may come from an equivalent config (canonical_config): same steps
            hit["trace"]["config"] = config.as_dict()
        return hit
    r = run_check(config, list(invariants))
    out = {
        "verdict": "violated" if r.violation else "holds",
        "complete": r.stats.complete,
        "invariants": list(invariants),
        "violation": {"invariant": r.violation[0], "message": r.violation[1]} if r.violation else None,
        "trace": r.trace.as_dict() if r.trace else None,
        "states": r.stats.distinct_states,
        "transitions": r.stats.transitions,
        "depth": r.stats.max_depth,
        "seconds": round(r.stats.seconds, 3),
    }
    cache.put(key, out)
    out["cached"] = False
    return out


def run_group(config: Config, invariants: Iterable[str], cache_dir: str | None = None) -> dict:
    """Check several invariants sharing one config and bounds. Explores once while they
    all hold; a violation sets its invariant aside and re-checks the rest.

    Returns {"per_invariant": {id: run dict}, "runs": [run dicts without traces]}."""
    remaining = list(dict.fromkeys(invariants))
    per: dict[str, dict] = {}
    runs = []
    while remaining:
        r = run_one(config, remaining, cache_dir)
        runs.append({k: v for k, v in r.items() if k != "trace"})
        if r["violation"] is None:
            for inv in remaining:
                per[inv] = r
            break
        inv = r["violation"]["invariant"]
        per[inv] = r
        if inv not in remaining:  # defensive: never loop
            break
        remaining.remove(inv)
    return {"per_invariant": per, "runs": runs}


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C


class Pool:
    """A process pool over the cores (or inline with jobs=1), with a completion callback."""

    def __init__(self, jobs: int | None):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.ex = ProcessPoolExecutor(self.jobs, initializer=_worker_init) if self.jobs > 1 else None
        self.pending: dict[Future, Callable] = {}
        self.inline: list[tuple[Callable, tuple, Callable]] = []

    def submit(self, fn: Callable, args: tuple, done: Callable[[object], None]) -> None:
        if self.ex is None:
            self.inline.append((fn, args, done))
        else:
            self.pending[self.ex.submit(fn, *args)] = done

    def drain(self) -> None:
        """Run until every task (including tasks submitted by callbacks) has finished."""
        try:
            while self.inline or self.pending:
                if self.inline:
                    fn, args, done = self.inline.pop(0)
                    done(fn(*args))
                    continue
                finished, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
                for fut in finished:
                    done = self.pending.pop(fut)
                    done(fut.result())
        except BaseException:
            self.close(cancel=True)
            raise

    def close(self, cancel: bool = False) -> None:
        if self.ex is not None:
            if cancel:  # Ctrl-C: stop our workers now rather than after their current run
                for proc in list((getattr(self.ex, "_processes", None) or {}).values()):
                    proc.terminate()
            self.ex.shutdown(wait=not cancel, cancel_futures=cancel)
            self.ex = None


# ======================================================================================
# Fix search: neighbouring configurations, re-checked

PRODUCER_KEYS = frozenset({"acks", "enable.idempotence", "max.in.flight.requests.per.connection", "retries",
                           "records.per.batch"})
BROKER_KEYS = frozenset({"min.insync.replicas", "unclean.leader.election.enable", "log.flush.interval.messages",
                         "default.replication.factor", "auto.leader.rebalance.enable"})
TOPIC_KEYS = frozenset({"min.insync.replicas", "unclean.leader.election.enable", "flush.messages",
                        "replication.factor"})
CONSUMER_KEYS = frozenset({"auto.offset.reset"})
WHERE = {"acks": "producer", "enable.idempotence": "producer", "max.in.flight.requests.per.connection": "producer",
         "retries": "producer", "min.insync.replicas": "broker or topic",
         "unclean.leader.election.enable": "broker or topic", "log.flush.interval.messages": "broker",
         "auto.offset.reset": "consumer"}
COST = {
    "log.flush.interval.messages": "an fsync per message: a throughput cost",
    "max.in.flight.requests.per.connection": "one request in flight: lower throughput",
    "min.insync.replicas": "acks=all writes fail while fewer replicas are in sync",
}


@dataclass(frozen=True)
class Candidate:
    changes: tuple[tuple[str, str], ...]  # Kafka property -> value, applied last
    version: str | None = None  # None: the audited version

    def describe(self, base: Config, rules_added: list[str] = ()) -> str:
        parts = [f"{k}={v} ({WHERE.get(k, 'config')})" for k, v in self.changes]
        text = ""
        if self.version:
            text = f"upgrade to Kafka {self.version}"
            if rules_added:
                text += f" (adds {', '.join(rules_added)})"
            if parts:
                text += " and set " + ", ".join(parts)
        else:
            text = "set " + " and ".join(parts)
        if base.acks_all and any(k == "min.insync.replicas" for k, _ in self.changes) and \
                not any(k == "acks" for k, _ in self.changes):
            text += " (and keep acks=all)"
        costs = [COST[k] for k, _ in self.changes if k in COST]
        if costs:
            text += "; cost: " + "; ".join(costs)
        return text


def _single_changes(config: Config, kind: str) -> list[tuple[tuple[str, str], ...]]:
    c = config
    acks_all = () if c.acks_all else (("acks", "all"),)
    if kind == "acks" and not c.acks_all:
        return [(("acks", "all"),)]
    if kind == "min_isr" and c.min_insync_replicas < c.replication_factor:
        return [acks_all + (("min.insync.replicas", str(c.min_insync_replicas + 1)),)]
    if kind == "unclean" and c.unclean_leader_election_enable:
        return [(("unclean.leader.election.enable", "false"),)]
    if kind == "idempotence" and not c.enable_idempotence:
        ch = acks_all
        if c.retries == 0:
            ch += (("retries", "2147483647"),)
        if c.max_in_flight_requests_per_connection > 5:
            ch += (("max.in.flight.requests.per.connection", "5"),)
        return [ch + (("enable.idempotence", "true"),)]
    if kind == "in_flight" and c.max_in_flight_requests_per_connection > 1:
        return [(("max.in.flight.requests.per.connection", "1"),)]
    if kind == "flush" and c.log_flush_interval_messages != 1:
        return [(("log.flush.interval.messages", "1"),)]
    return []


def _merge(*changes: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    d: dict[str, str] = {}
    for ch in changes:
        for k, v in ch:
            d[k] = v
    return tuple(d.items())


def fix_candidates(config: Config, guarantee: Guarantee) -> tuple[list[Candidate], list[Candidate]]:
    """(same-version candidates, newer-version candidates), in the order they are tried:
    single changes, then pairs; then each newer version alone, then with each change."""
    singles = []
    for kind in guarantee.fix_order:
        singles += _single_changes(config, kind)
    same = [Candidate(ch) for ch in singles]
    for a, b in combinations(singles, 2):
        same.append(Candidate(_merge(a, b)))
    newer = [v for v in eras.VERSIONS if eras.version_key(v) > eras.version_key(config.kafka_version)]
    versions = [Candidate((), v) for v in newer]
    for ch in singles:
        if not any(k == "log.flush.interval.messages" for k, _ in ch):
            versions += [Candidate(ch, v) for v in newer]
    return _dedupe(same), _dedupe(versions)


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    seen, out = set(), []
    for c in cands:
        k = (tuple(sorted(c.changes)), c.version)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


@dataclass
class Base:
    """What a config was built from, so that neighbours can be rebuilt the same way."""

    settings: list[Setting]
    kafka_version: str | None
    rule_overrides: list[str]
    bounds: dict[str, int]

    def build(self, cand: Candidate | None = None) -> Config:
        settings = list(self.settings)
        version, overrides = self.kafka_version, self.rule_overrides
        if cand is not None:
            settings += [Setting(k, v, "fix") for k, v in cand.changes]
            if cand.version:
                version, overrides = cand.version, []
        return build_config(settings, kafka_version=version, rule_overrides=overrides, bounds=self.bounds)


MAX_FIX_TRIES = 40


def search_fix(base: Base, guarantee_id: str, cache_dir: str | None) -> dict:
    """Try neighbouring configurations in order; the first that holds is the fix. A fix
    that costs an fsync per message also looks for a version that makes it unnecessary."""
    g = BY_ID[guarantee_id]
    config = base.build()
    same, newer = fix_candidates(config, g)
    tried = 0
    states = 0
    out = {"found": False, "kind": "none", "text": "", "changes": {}, "kafka_version": None, "tried": 0,
           "alternative": None, "states": 0, "check": None}

    def attempt(cand: Candidate) -> tuple[bool, dict | None, Config | None]:
        nonlocal tried, states
        try:
            cfg = base.build(cand)
        except ConfigError:
            return False, None, None
        if cfg == config:
            return False, None, None
        tried += 1
        r = run_one(cfg, g.invariants, cache_dir)
        states += r["states"]
        return r["verdict"] == "holds", r, cfg

    def describe(cand: Candidate, cfg: Config) -> str:
        added = []
        if cand.version:
            before = dict(config.rules)
            added = [f"{eras.RULE_BY_NAME[n].reference} {n}" for n, on in cfg.rules if on and not before.get(n)
                     and n in eras.RULE_BY_NAME]
        return cand.describe(config, added)

    found = None
    for cand in same:
        if tried >= MAX_FIX_TRIES:
            break
        ok, r, cfg = attempt(cand)
        if ok:
            found = (cand, r, cfg)
            break
    if found is not None:
        cand, r, cfg = found
        out.update(found=True, kind="config", text=describe(cand, cfg), changes=dict(cand.changes),
                   check=_run_summary(r, cfg, g.invariants))
        if any(k == "log.flush.interval.messages" for k, _ in cand.changes):
            for alt in newer:
                if tried >= MAX_FIX_TRIES:
                    break
                ok, r2, cfg2 = attempt(alt)
                if ok:
                    out["alternative"] = {"text": describe(alt, cfg2), "changes": dict(alt.changes),
                                          "kafka_version": alt.version,
                                          "check": _run_summary(r2, cfg2, g.invariants)}
                    break
    else:
        for cand in newer:
            if tried >= MAX_FIX_TRIES:
                break
            ok, r, cfg = attempt(cand)
            if ok:
                out.update(found=True, kind="version", changes=dict(cand.changes), kafka_version=cand.version,
                           text=(f"cannot be restored by configuration on Kafka {config.kafka_version} "
                                 f"within these bounds; {describe(cand, cfg)} restores it"),
                           check=_run_summary(r, cfg, g.invariants))
                break
        else:
            out["text"] = (f"no change of up to two of the settings ackcheck models, nor a newer Kafka version, "
                           f"restores it within these bounds ({tried} configurations checked)")
    out["tried"] = tried
    out["states"] = states
    return out


def _run_summary(r: dict, cfg: Config, invariants) -> dict:
    return {"verdict": r["verdict"], "states": r["states"], "seconds": r["seconds"],
            "command": check_command(cfg, invariants)}


# ======================================================================================
# Reproduction commands

_CMD_FLAGS = {
    "acks": "--acks", "min.insync.replicas": "--min-insync-replicas",
    "unclean.leader.election.enable": "--unclean-leader-election-enable",
    "log.flush.interval.messages": "--log-flush-interval-messages", "replication.factor": "--replication-factor",
    "records.per.batch": "--records-per-batch",
}


def check_command(config: Config, invariants: Iterable[str]) -> str:
    """An `ackcheck check` command line that re-runs exactly this check."""
    defaults = build_config([], kafka_version=config.kafka_version)
    args = ["ackcheck", "check"]
    if config.kafka_version != eras.NEWEST:
        args += ["--kafka-version", config.kafka_version]
    mine, theirs = config.as_dict(), defaults.as_dict()
    for k, v in mine.items():
        if k in ("rules", "bounds", "kafka.version", "auto.leader.rebalance.enable") or theirs.get(k) == v:
            continue
        text = str(v).lower() if isinstance(v, bool) else str(v)
        if k in _CMD_FLAGS:
            args += [_CMD_FLAGS[k], text]
        else:
            args += ["--set", f"{k}={text}"]
    for name, on in config.rules:
        if dict(defaults.rules).get(name) != on:
            args += ["--rule", f"{name}={'on' if on else 'off'}"]
    for inv in invariants:
        args += ["--invariant", inv]
    for k, v in config.bounds.as_dict().items():
        if k == "max_depth" and not v:
            continue
        args += ["--" + k.replace("_", "-"), str(v)]
    return shlex.join(args)


# ======================================================================================
# The audit

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
        return self.run["verdict"] if self.run else "error"

    def counterexample(self, limit: int = 12) -> list[str]:
        if not self.run or not self.run.get("trace"):
            return []
        from ackcheck.traces.format import trace_from_dict
        from ackcheck.traces.render import summary_lines

        return summary_lines(trace_from_dict(self.run["trace"]), limit=limit)

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
            "complete": r.get("complete", True),  # False: --max-depth cut the search
            "violation": r.get("violation"),
            "counterexample": self.counterexample(),
            "trace_file": self.trace_file,
            "fix": self.fix,
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
        return [r.guarantee.id for r in self.results if r.verdict != "holds"]

    @property
    def exit_code(self) -> int:
        failed = set(self.failed())
        if self.required:
            return 1 if failed & set(self.required) else 0
        return 1 if failed else 0

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
                        "violated": sum(r.verdict == "violated" for r in self.results)},
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


def build_audit_config(args) -> tuple[Base, Config, list[str], list[str]]:
    from ackcheck.checker.options import settings_from_args

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
              cache_dir: str | None, jobs: int | None, fixes: bool = True,
              progress: Callable[[str], None] | None = None) -> list[GuaranteeResult]:
    """Check the guarantees (groups sharing bounds in one exploration), then search fixes
    for the violated ones; everything in parallel over the pool."""
    results = {g.id: GuaranteeResult(g, profile_bounds(g.profile, overrides)) for g in guarantees}
    groups: dict[tuple, list[Guarantee]] = {}
    for g in guarantees:
        groups.setdefault(tuple(sorted(results[g.id].bounds.items())), []).append(g)
    pool = Pool(jobs)
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
    finally:
        pool.close()
    return [results[g.id] for g in guarantees]


def _weight(bounds_items: tuple) -> int:
    b = dict(bounds_items)
    return (b["max_records"] * 10 + b["max_crashes"] * 5 + b["max_power_losses"] * 6 + b["max_elections"] * 9
            + b["max_isr_shrinks"] * 2 + b["max_lost_messages"] * 2 + b["max_attempts"])


# ======================================================================================
# Output

def verdict_word(v: str) -> str:
    return {"holds": "HOLDS", "violated": "VIOLATED"}.get(v, v.upper())


def config_line(config: Config) -> str:
    p = config.kafka_properties()
    flush = p["log.flush.interval.messages"]
    flush = "never" if flush == 9223372036854775807 else flush
    mode = "KRaft" if config.rule("kraft_controller") else "ZooKeeper"
    return (f"Kafka {config.kafka_version} ({mode}): acks={p['acks']} min.insync.replicas={p['min.insync.replicas']} "
            f"unclean.leader.election.enable={str(p['unclean.leader.election.enable']).lower()} "
            f"enable.idempotence={str(p['enable.idempotence']).lower()} "
            f"max.in.flight.requests.per.connection={p['max.in.flight.requests.per.connection']} "
            f"retries={p['retries']} log.flush.interval.messages={flush} replication.factor={p['replication.factor']}")


def fix_text(fix: dict | None) -> str:
    if not fix:
        return ""
    text = fix["text"]
    if fix.get("found") and fix.get("kind") == "config":
        text = text[0].upper() + text[1:]
    if fix.get("alternative"):
        text += "; or " + fix["alternative"]["text"]
    return text


def fix_short(fix: dict | None) -> str:
    """The change alone, for tables: 'acks=all', 'Kafka 4.1 + min.insync.replicas=2'."""
    if not fix:
        return ""
    if not fix.get("found"):
        return "none found"

    def one(changes: dict, version: str | None) -> str:
        parts = [f"{k}={v}" for k, v in changes.items()]
        if version:
            parts.insert(0, f"Kafka {version}")
        return " + ".join(parts)

    text = one(fix.get("changes") or {}, fix.get("kafka_version"))
    alt = fix.get("alternative")
    if alt:
        text += " or " + one(alt.get("changes") or {}, alt.get("kafka_version"))
    return text


def render_text(audit: Audit) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)

    def line(text: str = "", style: str | None = None) -> None:
        console.print(Text(text, style=style or ""), soft_wrap=True)

    line(f"ackcheck audit: {config_line(audit.config)}", "bold")
    line("sources: " + "; ".join(audit.sources))
    for n in audit.notes:
        line(f"note: {n}", "dim")
    t = Table(header_style="bold", expand=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("guarantee", no_wrap=True)
    t.add_column("what it means", ratio=3)
    t.add_column("states", justify="right", no_wrap=True)
    t.add_column("smallest fix (re-checked)", ratio=2, overflow="fold")
    for r in audit.results:
        style = "green" if r.verdict == "holds" else "red bold"
        req = " (required)" if r.guarantee.id in audit.required else ""
        word = verdict_word(r.verdict) + ("*" if r.run and not r.run.get("complete", True) else "")
        t.add_row(Text(word, style=style), Text(r.guarantee.id + req), Text(r.guarantee.title),
                  f"{(r.run or {}).get('states', 0):,}",
                  Text(fix_short(r.fix) if r.verdict != "holds" else "-"))
    console.print(t)
    if any(r.run and not r.run.get("complete", True) for r in audit.results):
        line("* no violation up to --max-depth steps: executions were cut, so this is not a proof", "dim")
    profiles: dict[str, list[str]] = {}
    for r in audit.results:
        profiles.setdefault(describe_faults(r.bounds), []).append(r.guarantee.id)
    line("fault assumptions (--max-crashes, --max-power-losses, --max-isr-shrinks, --max-lost-messages, "
         "--max-elections, --max-records, --max-attempts change them):", "bold")
    for text, ids in profiles.items():
        line(f"  {', '.join(ids)}: {text}")
    for r in audit.results:
        if r.verdict == "holds":
            continue
        line()
        v = r.run.get("violation") or {}
        line(f"{r.guarantee.id}: VIOLATED ({v.get('invariant')}): {v.get('message')}", "red bold")
        line(f"shortest counterexample ({len(r.run['trace']['steps']) - 1} steps):")
        for cl in r.counterexample():
            line(cl)
        if r.trace_file:
            line(f"full trace: {r.trace_file}  (ackcheck view {r.trace_file})")
        if r.fix:
            line(f"fix: {fix_text(r.fix)}", "bold")
            if r.fix.get("check"):
                line(f"  verified: {r.fix['check']['command']}  -> holds ({r.fix['check']['states']:,} states)", "dim")
            alt = r.fix.get("alternative")
            if alt and alt.get("check"):
                line(f"  verified: {alt['check']['command']}  -> holds ({alt['check']['states']:,} states)", "dim")
    line()
    held = sum(r.verdict == "holds" for r in audit.results)
    tail = f"{held}/{len(audit.results)} guarantees hold within the fault assumptions ({audit.seconds:.1f}s)"
    if audit.required:
        bad = [g for g in audit.required if g in audit.failed()]
        tail += (f"; required: {', '.join(audit.required)} -> "
                 + (f"FAILED ({', '.join(bad)})" if bad else "all hold"))
    line(tail, "bold")


def render_markdown(audit: Audit) -> str:
    out = ["# ackcheck audit", "", f"`{config_line(audit.config)}`", "",
           "Sources: " + "; ".join(f"`{s}`" for s in audit.sources), ""]
    if audit.notes:
        out += [f"- {n}" for n in audit.notes] + [""]
    out += ["| guarantee | verdict | what it means | fault assumptions | states | fix |", "|---|---|---|---|---|---|"]
    for r in audit.results:
        fix = fix_text(r.fix) if r.verdict != "holds" else ""
        out.append(f"| `{r.guarantee.id}` | **{verdict_word(r.verdict)}** | {r.guarantee.title} | "
                   f"{describe_faults(r.bounds)} | {(r.run or {}).get('states', 0):,} | {md_escape(fix)} |")
    for r in audit.results:
        if r.verdict == "holds":
            continue
        v = r.run.get("violation") or {}
        out += ["", f"## {r.guarantee.id}: violated", "", f"`{v.get('invariant')}`: {md_escape(v.get('message', ''))}",
                "", "```", *r.counterexample(), "```", ""]
        if r.trace_file:
            out.append(f"Full trace: `{r.trace_file}` (`ackcheck view {r.trace_file}`)")
            out.append("")
        if r.fix:
            out.append(f"**Fix:** {md_escape(fix_text(r.fix))}")
            if r.fix.get("check"):
                out += ["", f"Verified: `{r.fix['check']['command']}` holds ({r.fix['check']['states']:,} states)."]
    held = sum(r.verdict == "holds" for r in audit.results)
    out += ["", f"{held}/{len(audit.results)} guarantees hold ({audit.seconds:.1f}s, ackcheck {__version__})."]
    return "\n".join(out) + "\n"


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def junit_xml(audit: Audit) -> str:
    import xml.etree.ElementTree as ET

    failures = sum(r.verdict != "holds" for r in audit.results)
    suites = ET.Element("testsuites", name="ackcheck audit", tests=str(len(audit.results)),
                        failures=str(failures), time=f"{audit.seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"ackcheck audit (Kafka {audit.config.kafka_version})",
                          tests=str(len(audit.results)), failures=str(failures), errors="0", skipped="0",
                          time=f"{audit.seconds:.3f}")
    props = ET.SubElement(suite, "properties")
    for k, v in audit.config.kafka_properties().items():
        ET.SubElement(props, "property", name=k, value=str(v).lower() if isinstance(v, bool) else str(v))
    ET.SubElement(props, "property", name="kafka.version", value=audit.config.kafka_version)
    for r in audit.results:
        tc = ET.SubElement(suite, "testcase", classname="ackcheck.audit", name=r.guarantee.id,
                           time=f"{(r.run or {}).get('seconds', 0):.3f}")
        sysout = [r.guarantee.title, f"invariants: {', '.join(r.guarantee.invariants)}",
                  f"fault assumptions: {describe_faults(r.bounds)}", f"states: {(r.run or {}).get('states', 0)}"]
        if r.verdict != "holds":
            v = r.run.get("violation") or {}
            f = ET.SubElement(tc, "failure", message=f"{v.get('invariant')}: {v.get('message')}",
                              type="GuaranteeViolated")
            body = ["shortest counterexample:", *r.counterexample(20)]
            if r.trace_file:
                body.append(f"full trace: {r.trace_file}")
            if r.fix:
                body.append(f"fix: {fix_text(r.fix)}")
            f.text = "\n".join(body)
        ET.SubElement(tc, "system-out").text = "\n".join(sysout)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# ======================================================================================
# Command line

def add_bound_overrides(p, what: str = "every guarantee") -> None:
    from ackcheck.checker.options import BOUND_HELP

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


def build_parser():
    from ackcheck.checker.options import ArgumentParser, add_config_flags

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
                            fixes=not args.no_fix, progress=status.update if status else None)
    finally:
        if status:
            status.stop()
    audit = Audit(config, sources, notes, results, time.perf_counter() - t0, required)
    write_traces(audit, args.trace_dir)
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


def write_traces(audit: Audit, trace_dir: str) -> None:
    for r in audit.results:
        if r.verdict == "holds" or not r.run.get("trace"):
            continue
        path = Path(trace_dir) / f"{r.guarantee.id}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(r.run["trace"], indent=1) + "\n", encoding="utf-8")
            r.trace_file = str(path)
        except OSError as e:
            audit.notes.append(f"could not write {path}: {e.strerror}")


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
