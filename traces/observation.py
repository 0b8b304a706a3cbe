"""What can be seen of a cluster at one instant: the vocabulary invariants judge.

Both the model (whose State begins with exactly these fields, so observing a state is a
slice) and the reference broker produce `Observation`s. Everything is built from ints,
bools and tuples so observations hash the same in every process.

Offsets are 0-based; log_end_offset (LEO) and high_watermark (HW) are exclusive ends.
"""

from __future__ import annotations

from typing import NamedTuple

# Producer outcome kinds per record (Jepsen's ok / fail / info, plus not-yet-known).
UNSENT = 0  # still in the producer's accumulator
PENDING = 1  # sent, no final answer yet
OK = 2  # acknowledged: ok(offset); acks=0 counts a record as ok once sent, offset -1
FAILED = 3  # definite failure: never appended (NOT_ENOUGH_REPLICAS, expired before any send)
INDETERMINATE = 4  # sent, then timed out or errored: it may or may not be in the log

OUTCOME_NAMES = ("unsent", "pending", "ok", "failed", "indeterminate")


class Batch(NamedTuple):
    """A record batch: the unit of offset assignment, epoch stamping, replication and dedup."""

    leader_epoch: int  # partition leader epoch stamped by the leader that appended it
    records: tuple[int, ...]  # record ids (1..max_records)
    producer_epoch: int  # -1 when the producer is not idempotent
    base_sequence: int  # -1 when the producer is not idempotent


class _ReplicaFields(NamedTuple):
    alive: bool
    log: tuple[Batch, ...]
    log_end_offset: int
    high_watermark: int
    flushed_offset: int  # records below this offset are on disk (fsynced)
    leader_epoch: int  # the newest leader epoch this broker has learned
    leader: int  # the leader this broker believes in (-1: none known)
    # as leader: the LEO each replica of its ISR (or of its pending ISR change) last fetched
    # from; -1 unknown or not tracked. Followers: all -1
    follower_leos: tuple[int, ...]
    isr: tuple[int, ...]  # as leader: the ISR it last learned or had committed; followers: ()


def replace_by_index(fields):
    """NamedTuple's `_replace` builds a dict and maps over every field; the model's inner
    loop replaces replica fields millions of times, so copy by index instead."""
    index = {f: i for i, f in enumerate(fields)}
    new = tuple.__new__

    def _replace(self, **changes):
        values = list(self)
        for k, v in changes.items():
            values[index[k]] = v
        return new(self.__class__, values)

    return _replace


class Replica(_ReplicaFields):
    """One broker's replica of the partition, as that broker sees it."""

    __slots__ = ()
    _replace = replace_by_index(_ReplicaFields._fields)


class Observation(NamedTuple):
    replicas: tuple[Replica, ...]
    # the controller's view (ZooKeeper / KRaft metadata): the truth about leadership
    leader: int  # -1: offline
    leader_epoch: int
    isr: tuple[int, ...]
    elr: tuple[int, ...]  # eligible leader replicas (KIP-966)
    # the producer: per record (1..max_records) its outcome kind and offset (-1 unknown)
    outcomes: tuple[tuple[int, int], ...]
    in_flight: tuple[int, ...]  # records with a produce request still in the network
    # per record: the ISR size the leader reported with its acks=all acknowledgement (-1: none)
    ack_isr_sizes: tuple[int, ...]
    # the consumer group (one consumer): next offset to read, committed offset, what it read
    consumer_position: int
    committed_offset: int
    consumer_read: tuple[tuple[int, int], ...]  # (offset, record), ghost history
    # ghost: the records below the highest high watermark any leader ever reached
    committed_log: tuple[int, ...]


def flat_records(log: tuple[Batch, ...]) -> list[int]:
    """Record ids of a log in offset order."""
    out: list[int] = []
    for b in log:
        out.extend(b.records)
    return out


def flat_entries(log: tuple[Batch, ...]) -> list[tuple[int, int, int]]:
    """(offset, record, leader_epoch) for every record of a log."""
    out = []
    off = 0
    for b in log:
        for r in b.records:
            out.append((off, r, b.leader_epoch))
            off += 1
    return out


def partition_lag(obs: Observation) -> dict[str, int]:
    """Lag as Kafka tools report it: the leader's HW (what consumers can reach) - committed."""
    if 0 <= obs.leader < len(obs.replicas):
        rep = obs.replicas[obs.leader]
        leo, hw = rep.log_end_offset, rep.high_watermark
    else:
        leo = hw = -1
    return {
        "log_end_offset": leo,
        "high_watermark": hw,
        "committed_offset": obs.committed_offset,
        "lag": (hw - obs.committed_offset) if hw >= 0 else -1,
    }
