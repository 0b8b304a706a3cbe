"""The fix search: the smallest configuration change that restores a violated guarantee,
found by re-checking neighbouring configurations (or the Kafka version that would, when no
setting does), with the cost of each change; and the `ackcheck check` command line that
reproduces a run."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from ackcheck.checker.audit.guarantees import BY_ID, Guarantee
from ackcheck.checker.audit.runs import run_one
from ackcheck.traces import eras
from ackcheck.traces.settings import (
    Config,
    ConfigError,
    Setting,
    build_config,
)

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
