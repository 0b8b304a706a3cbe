"""The model's state: an Observation followed by the protocol internals.

`State` starts with exactly the fields of `traces.observation.Observation`, in the same
order, so observing a state is a tuple slice and invariants judge model states and broker
snapshots with the same code. Everything is ints, bools and tuples: hashing is
deterministic across processes (no strings), which the explorer's fingerprints rely on.
"""

from __future__ import annotations

import copyreg
from typing import NamedTuple

from ackcheck.traces.observation import (
    FAILED,
    INDETERMINATE,
    OK,
    PENDING,
    UNSENT,
    Batch,
    Observation,
    Replica,
    replace_by_index,
)
from ackcheck.traces.settings import Config

# Producer batch status (the client's accumulator / in-flight bookkeeping)
B_QUEUED = 0  # never sent
B_IN_FLIGHT = 1  # a request for the current attempt is outstanding
B_RETRY = 2  # a retriable error came back; waiting to be re-sent
B_OK = 3
B_FAILED = 4  # definite: no attempt can have been appended
B_INDETERMINATE = 5  # final, but some attempt may have been appended

BATCH_TO_OUTCOME = {
    B_QUEUED: UNSENT,
    B_IN_FLIGHT: PENDING,
    B_RETRY: PENDING,
    B_OK: OK,
    B_FAILED: FAILED,
    B_INDETERMINATE: INDETERMINATE,
}

# Produce response error codes (names as in org.apache.kafka.common.protocol.Errors)
E_NONE = 0
E_NOT_LEADER_OR_FOLLOWER = 1
E_NOT_ENOUGH_REPLICAS = 2
E_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 3
E_REQUEST_TIMED_OUT = 4
E_DUPLICATE_SEQUENCE_NUMBER = 5  # answered with the original offset: success for the client
E_OUT_OF_ORDER_SEQUENCE_NUMBER = 6
E_INVALID_PRODUCER_EPOCH = 7
E_UNKNOWN_PRODUCER_ID = 8  # a non-zero first sequence from an unknown producer id (before 2.5)

ERROR_NAMES = (
    "NONE",
    "NOT_LEADER_OR_FOLLOWER",
    "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "REQUEST_TIMED_OUT",
    "DUPLICATE_SEQUENCE_NUMBER",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    "INVALID_PRODUCER_EPOCH",
    "UNKNOWN_PRODUCER_ID",
)
# errors after which the client knows this attempt was not appended. Not
# NOT_LEADER_OR_FOLLOWER: a leader that steps down also fails the acks=all requests it
# had already appended with it, so the client cannot tell.
NOT_APPENDED = frozenset({E_NOT_ENOUGH_REPLICAS, E_OUT_OF_ORDER_SEQUENCE_NUMBER, E_INVALID_PRODUCER_EPOCH,
                          E_UNKNOWN_PRODUCER_ID})


class _ProducerBatchFields(NamedTuple):
    status: int
    attempts: int
    offset: int  # base offset once acknowledged, else -1
    maybe_appended: bool  # some attempt may have landed in a log (for ok/fail/info outcomes)
    producer_epoch: int  # the epoch its sequence number belongs to (-1: none yet)
    base_sequence: int  # KIP-98 sequence of its first record (-1: none yet)
    # its sequence was rewritten by an epoch bump after it had one (ProducerBatch.reopened,
    # sequenceHasBeenReset() in TransactionManager.canRetry)
    resequenced: bool


class ProducerBatch(_ProducerBatchFields):
    """The client's bookkeeping of one batch (RecordAccumulator / Sender)."""

    __slots__ = ()
    _replace = replace_by_index(_ProducerBatchFields._fields)


# ---- messages in the network (their field order is their sort order: a connection's
# messages are kept grouped by broker with a stable sort, see protocol._add_requests) ----


class ProduceRequest(NamedTuple):
    """A ProduceRequest for one batch, on the producer's connection to `broker`."""

    batch: int
    attempt: int
    broker: int
    producer_epoch: int  # -1: not idempotent
    base_sequence: int  # -1: not idempotent


class ParkedProduce(NamedTuple):
    """An acks=all request parked in a leader's delayed-produce purgatory until its HW
    reaches end_offset (DelayedProduce)."""

    broker: int
    batch: int
    attempt: int
    end_offset: int


class ProduceResponse(NamedTuple):
    """A ProduceResponse on the connection from `broker` to the producer."""

    batch: int
    attempt: int
    error: int  # E_* below
    base_offset: int  # -1 unknown
    isr_size: int  # the ISR size the leader reports with an acks=all answer (-1: none)
    broker: int


class LeaderAndIsr(NamedTuple):
    """A controller decision on its way to `broker`: a LeaderAndIsr request (ZooKeeper
    mode) or the metadata update (KRaft)."""

    broker: int
    leader_epoch: int
    leader: int  # -1: offline
    isr: tuple[int, ...]


class IsrChange(NamedTuple):
    """An ISR change a leader proposed, not yet handled by the controller (AlterPartition,
    KIP-497; ZooKeeper conditional writes before 2.7), at most one per leader."""

    leader: int
    leader_epoch: int
    base_isr: tuple[int, ...]  # the ISR the proposal was made against (partition epoch check)
    proposed_isr: tuple[int, ...]
    # what the leader computes its HW over until the controller answers (maximal_isr rule)
    effective_isr: tuple[int, ...]
    stale_broker_epoch: bool  # a replica it adds crashed since (KIP-903)


class DelayedFetch(NamedTuple):
    """A follower's FetchRequest held up in the network (max_delayed_fetches)."""

    follower: int
    leader: int  # the broker it is addressed to
    leader_epoch: int  # the follower's leader epoch when it sent it
    fetch_offset: int
    last_fetched_epoch: int


class _StateFields(NamedTuple):
    # ---- the Observation (same names, same order) ----
    replicas: tuple[Replica, ...]
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    elr: tuple[int, ...]
    outcomes: tuple[tuple[int, int], ...]
    in_flight: tuple[int, ...]
    ack_isr_sizes: tuple[int, ...]
    consumer_position: int
    committed_offset: int
    consumer_read: tuple[tuple[int, int], ...]
    committed_log: tuple[int, ...]
    # ---- internals ----
    batches: tuple[ProducerBatch, ...]
    # produce requests in the network, in send order within each connection; a broker
    # reads each connection in order
    requests: tuple[ProduceRequest, ...]
    # acks=all requests parked on a leader until HW passes them (sorted)
    purgatory: tuple[ParkedProduce, ...]
    # produce responses in the network, in the order sent within each connection; each
    # broker's connection delivers them in order
    responses: tuple[ProduceResponse, ...]
    # LeaderAndIsr / metadata updates in flight (sorted)
    controller_messages: tuple[LeaderAndIsr, ...]
    # ISR changes proposed by leaders, not yet handled by the controller (sorted)
    isr_changes: tuple[IsrChange, ...]
    # per broker: its replica fetcher is in the Truncating state - it became a follower in a
    # new epoch and has not yet truncated (OffsetsForLeaderEpoch) before fetching by offset.
    # Only tracked when truncation happens once per epoch (KIP-101 without the 2.7+
    # diverging-epoch fetch); otherwise always False.
    fetcher_truncating: tuple[bool, ...]
    # follower fetch requests delayed in the network, at most one per follower (sorted)
    delayed_fetches: tuple[DelayedFetch, ...]
    # the idempotent producer (TransactionManager / TxnPartitionEntry of the one partition):
    # its epoch (before 2.5, where the epoch never moves, the generation of its producer id:
    # see Model.pid_resets), the next sequence to stamp, the last acknowledged sequence (-1:
    # none in this epoch)
    producer_epoch: int
    next_sequence: int
    last_acked_sequence: int
    unclean_shutdown: tuple[bool, ...]  # per broker: down without a clean shutdown (KIP-966)
    # the KRaft controller's last known leader (KIP-966, PartitionRegistration.lastKnownElr):
    # the leader when the ISR became empty, kept until the partition has a leader again
    # (-1: none; only set with the eligible_leader_replicas rule)
    last_known_leader: int
    # per broker: Kafka's recovery point (what Kafka itself fsynced); the OS flusher writes
    # pages without moving it, so log.flush.interval.messages counts from here
    recovery_points: tuple[int, ...]
    # perturbation budgets used so far
    crashes: int
    power_losses: int
    elections: int
    lost_messages: int
    isr_shrinks: int
    delayed_fetch_count: int
    other_writes: int


class State(_StateFields):
    __slots__ = ()
    _replace = replace_by_index(_StateFields._fields)


OBSERVATION_FIELDS = len(Observation._fields)
assert State._fields[:OBSERVATION_FIELDS] == Observation._fields


def observe(state: State) -> Observation:
    return Observation(*state[:OBSERVATION_FIELDS])


def batch_records(config: Config) -> tuple[tuple[int, ...], ...]:
    """Records 1..max_records grouped into producer batches of records_per_batch."""
    n, k = config.bounds.max_records, config.records_per_batch
    ids = list(range(1, n + 1))
    return tuple(tuple(ids[i:i + k]) for i in range(0, n, k))


def initial_state(config: Config) -> State:
    """A healthy partition: broker 0 leads epoch 0, every replica in sync, empty logs.

    Simplification: the partition starts already created and every broker has learned
    the initial LeaderAndIsr (topic creation is not interesting for durability).
    """
    rf = config.replication_factor
    isr = tuple(range(rf))
    reps = tuple(
        Replica(True, (), 0, 0, 0, 0, 0, (0,) * rf if b == 0 else (-1,) * rf, isr if b == 0 else ())
        for b in range(rf)
    )
    nb = len(batch_records(config))
    return State(
        replicas=reps,
        leader=0,
        leader_epoch=0,
        isr=isr,
        elr=(),
        outcomes=((UNSENT, -1),) * config.bounds.max_records,
        in_flight=(),
        ack_isr_sizes=(-1,) * config.bounds.max_records,
        consumer_position=0,
        committed_offset=0,
        consumer_read=(),
        committed_log=(),
        batches=(ProducerBatch(B_QUEUED, 0, -1, False, -1, -1, False),) * nb,
        requests=(),
        purgatory=(),
        responses=(),
        controller_messages=(),
        isr_changes=(),
        fetcher_truncating=(False,) * rf,
        delayed_fetches=(),
        producer_epoch=0,
        next_sequence=0,
        last_acked_sequence=-1,
        unclean_shutdown=(False,) * rf,
        last_known_leader=-1,
        recovery_points=(0,) * rf,
        crashes=0,
        power_losses=0,
        elections=0,
        lost_messages=0,
        isr_shrinks=0,
        delayed_fetch_count=0,
        other_writes=0,
    )


# How pickle saves these tuples (the frontier on disk, checkpoints, states moved between
# workers): model/_tuples.c `reduce`, C at both ends, where pickle's default for a
# NamedTuple runs two Python-level functions per object (its __getnewargs__ when written,
# its __new__ when read); a round trip of R4's states takes 35% fewer instructions. What
# it writes names only the builtin tuple.__new__, so a file written this way loads in any
# build (and files written without it load here). tests/test_compiled.py checks both.
# The same classes are the ones model/_tuples.c `pack` writes (the explorer's files of a
# level on disk, checker/engines/spill.py).
try:
    from ackcheck.model._tuples import reduce as _reduce
    from ackcheck.model._tuples import register as _register_for_pack
except ImportError:  # (not built, or not the build of the current source: pickle's default)
    _reduce = None
PICKLED_BY_REDUCE = (State, ProducerBatch, ProduceRequest, ParkedProduce, ProduceResponse, LeaderAndIsr, IsrChange,
                     DelayedFetch, Replica, Batch)
if _reduce is not None:
    for _cls in PICKLED_BY_REDUCE:
        copyreg.pickle(_cls, _reduce)
    _register_for_pack(PICKLED_BY_REDUCE)


__all__ = [
    "Batch",
    "DelayedFetch",
    "IsrChange",
    "LeaderAndIsr",
    "ParkedProduce",
    "ProduceRequest",
    "ProduceResponse",
    "Replica",
    "State",
    "ProducerBatch",
    "observe",
    "initial_state",
    "batch_records",
]
