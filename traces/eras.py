"""Kafka's protocol history as named rules and version presets.

A *rule* is one protocol fix (a KIP or a JIRA) that changed how replication behaves.
A *preset* (``--kafka-version X.Y``) is the set of rules a release ships plus the Kafka
defaults of that release. Any rule can be switched on its own (``--rule name=on|off``)
to ask "what if only this fix were missing?".

This module is part of the trace contract: every trace carries the version and the
effective rules, and the reference broker reads them from here without touching the
model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    since: str  # first release that ships it by default
    reference: str  # KIP / JIRA
    summary: str
    protects: str  # the invariant id its absence breaks (with `opens`: its presence)
    # the rule opens a hole rather than closing one: with it on, `protects` can break
    opens: bool = False


RULES: tuple[Rule, ...] = (
    Rule(
        "epoch_truncation",
        "0.11",
        "KIP-101",
        "a follower truncates to the leader's end offset for its last leader epoch "
        "(OffsetsForLeaderEpoch), not to its own high watermark",
        "acked-write-survives",
    ),
    Rule(
        "epoch_truncation_fast_failover",
        "2.0",
        "KIP-279",
        "the leader answers OffsetsForLeaderEpoch with the largest epoch <= the requested one "
        "and the follower truncates to min(that end offset, its own end offset of that epoch), "
        "so logs converge across fast successive failovers",
        "committed-prefix-agreement",
    ),
    Rule(
        "fenced_leader_epoch",
        "2.1",
        "KIP-320",
        "fetch and truncation requests carry the current leader epoch; a broker in another "
        "epoch answers FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH instead of serving them",
        "committed-prefix-agreement",
    ),
    Rule(
        "diverging_epoch_fetch",
        "2.7",
        "KAFKA-10554",
        "every fetch carries the follower's last fetched epoch (Fetch v12, KIP-595's protocol) and "
        "the leader answers the "
        "diverging epoch and its end offset, so a follower truncates on any fetch; before it "
        "a follower truncated once, when it became a follower, and then fetched by offset",
        "committed-prefix-agreement",
    ),
    Rule(
        "maximal_isr",
        "0.10",
        "KIP-497",
        "while an ISR change is pending (proposed to the controller, not yet committed), the "
        "leader computes its high watermark and acks=all over the maximal ISR: replicas being "
        "removed still count and replicas being added count at once (before 2.7 the leader "
        "applied an ISR change only after its ZooKeeper conditional write succeeded, which is as "
        "safe; AlterIsr, 2.7)",
        "acked-write-survives",
    ),
    Rule(
        "isr_join_at_epoch_start",
        "2.0",
        "KAFKA-7128",
        "a follower rejoins the ISR only when its LEO >= leader HW and >= the start offset of "
        "the leader's current epoch",
        "acked-write-survives",
    ),
    Rule(
        "strict_min_isr",
        "3.7",
        "KAFKA-15583",
        "the leader does not advance the high watermark while |ISR| < min.insync.replicas",
        "acked-write-survives",
    ),
    Rule(
        "eligible_leader_replicas",
        "4.1",
        "KIP-966",
        "replicas that left the ISR while |ISR| >= min.insync.replicas stay eligible (ELR); "
        "a replica that shut down uncleanly leaves the ELR; election: ISR, then ELR",
        "acked-write-survives",
    ),
    Rule(
        "fenced_replicas_not_in_isr",
        "3.5",
        "KIP-841/903",
        "the KRaft controller rejects an AlterPartition whose new ISR holds a broker that is "
        "fenced (stopped heartbeating, KIP-841, 3.3) or that has restarted since the leader saw "
        "it caught up (the request carries broker epochs, KIP-903, 3.5); without it a pending "
        "expansion can add a replica that has since lost power and with it its unflushed log",
        "acked-write-survives",
    ),
    Rule(
        "any_first_sequence",
        "2.5",
        "KAFKA-8710",
        "the leader accepts any first sequence from a producer id it holds no state for "
        "(ProducerStateManager: no entry, no check); before it a non-zero first sequence was "
        "answered UNKNOWN_PRODUCER_ID. With idempotent_epoch_bump this lets a batch be written "
        "twice (KAFKA-15591)",
        "no-duplicates",
        opens=True,
    ),
    Rule(
        "idempotent_epoch_bump",
        "2.5",
        "KAFKA-8805",
        "the idempotent producer bumps its epoch on an unresolvable sequence error and re-stamps "
        "every unfinished batch from sequence 0 (TransactionManager.bumpIdempotentProducerEpoch, "
        "the client side of KIP-360), including one already appended whose answer was lost; "
        "before it the client took a new producer id and kept the stamps of batches already sent",
        "no-duplicates",
        opens=True,
    ),
    Rule(
        "kraft_controller",
        "4.0",
        "KIP-500/KIP-631",
        "KRaft: brokers heartbeat to the quorum controller and are fenced when they stop; a "
        "broker that lost its session stops acting as leader; ZooKeeper mode (off) lets a "
        "deposed leader act until LeaderAndIsr reaches it",
        "acked-write-survives",
    ),
)

RULE_BY_NAME = {r.name: r for r in RULES}

# Releases ackcheck knows, oldest first. The newest is the default.
VERSIONS: tuple[str, ...] = (
    "0.10", "0.11", "1.0", "1.1", "2.0", "2.1", "2.4", "2.5", "2.7", "2.8", "3.0", "3.6", "3.7", "3.9", "4.0", "4.1",
)
NEWEST = VERSIONS[-1]


def version_key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def normalize_version(text: str) -> str | None:
    """'3.7.1' -> '3.7'; '3.8' -> '3.7' (the newest preset not newer); None if before 0.10."""
    parts = text.strip().split(".")
    try:
        key = (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
    except ValueError:
        return None
    best = None
    for v in VERSIONS:
        if version_key(v) <= key:
            best = v
    return best


def rules_for(version: str) -> dict[str, bool]:
    """The rules a release ships with by default (KIP-966 ELR: opt-in in 4.0, default in 4.1)."""
    key = version_key(version)
    return {r.name: key >= version_key(r.since) for r in RULES}


def kafka_defaults(version: str) -> dict[str, str]:
    """Kafka's own defaults for the settings ackcheck models, for one release."""
    key = version_key(version)
    return {
        # acks default changed 1 -> all in 3.0 (KIP-679)
        "acks": "all" if key >= (3, 0) else "1",
        # enable.idempotence default true since 3.0 (KIP-679; effective 3.0.1/3.1.1/3.2.0)
        "enable.idempotence": "true" if key >= (3, 0) else "false",
        # unclean.leader.election.enable default false since 0.11 (KAFKA-5354 / KIP-106)
        "unclean.leader.election.enable": "false" if key >= (0, 11) else "true",
        "min.insync.replicas": "1",
        "retries": "2147483647" if key >= (2, 1) else "0",  # KIP-91 made retries MAX_INT in 2.1
        "max.in.flight.requests.per.connection": "5",
        "log.flush.interval.messages": "9223372036854775807",
        "auto.leader.rebalance.enable": "true",
        "default.replication.factor": "1",
        "auto.offset.reset": "latest",
    }
