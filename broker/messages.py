"""The messages of the reference broker's network (requests, responses, controller updates)."""

from __future__ import annotations

from typing import NamedTuple

# Produce response error codes, named as in org.apache.kafka.common.protocol.Errors
NONE = "NONE"
NOT_LEADER_OR_FOLLOWER = "NOT_LEADER_OR_FOLLOWER"
NOT_ENOUGH_REPLICAS = "NOT_ENOUGH_REPLICAS"
NOT_ENOUGH_REPLICAS_AFTER_APPEND = "NOT_ENOUGH_REPLICAS_AFTER_APPEND"
REQUEST_TIMED_OUT = "REQUEST_TIMED_OUT"
DUPLICATE_SEQUENCE_NUMBER = "DUPLICATE_SEQUENCE_NUMBER"
OUT_OF_ORDER_SEQUENCE_NUMBER = "OUT_OF_ORDER_SEQUENCE_NUMBER"
INVALID_PRODUCER_EPOCH = "INVALID_PRODUCER_EPOCH"
UNKNOWN_PRODUCER_ID = "UNKNOWN_PRODUCER_ID"  # before 2.5: non-zero first sequence, no state (KAFKA-8710)
# AlterPartition errors
FENCED_LEADER_EPOCH = "FENCED_LEADER_EPOCH"
INVALID_UPDATE_VERSION = "INVALID_UPDATE_VERSION"
INELIGIBLE_REPLICA = "INELIGIBLE_REPLICA"

# errors that tell the client this attempt was certainly not appended. Not
# NOT_LEADER_OR_FOLLOWER: a leader stepping down fails with it the acks=all requests it had
# already appended.
DEFINITELY_NOT_APPENDED = frozenset({NOT_ENOUGH_REPLICAS, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
                                     UNKNOWN_PRODUCER_ID})
# the producer id InitProducerId hands the one producer; before 2.5 a reset takes the next one
FIRST_PRODUCER_ID = 1000


class ProduceRequest(NamedTuple):
    batch: int  # the producer's batch index (with `attempt`: the request's correlation id)
    attempt: int
    broker: int  # destination
    acks: str
    records: tuple[int, ...]
    producer_id: int  # -1: not idempotent
    producer_epoch: int
    base_sequence: int


class ProduceResponse(NamedTuple):
    batch: int
    attempt: int
    error: str
    base_offset: int  # -1 unless appended / duplicate
    isr_size: int  # the ISR size the leader saw (-1: none)
    broker: int  # source (each broker's connection delivers in order)


class LeaderAndIsr(NamedTuple):
    """ZooKeeper-mode LeaderAndIsr request / KRaft metadata update for one broker."""

    broker: int  # destination
    leader_epoch: int
    leader: int
    isr: tuple[int, ...]
    partition_epoch: int  # the version of (leader, ISR) at the controller (zkVersion)


class AlterPartition(NamedTuple):
    """A leader's ISR change request to the controller (KIP-497 AlterPartition; before 2.7
    the leader's conditional ZooKeeper write). The controller takes it only if it was made
    against the partition state it holds (leader epoch + partition epoch)."""

    leader: int  # source
    leader_epoch: int
    partition_epoch: int  # the partition state the leader's ISR came from
    new_isr: tuple[int, ...]
    # KIP-903 (NewIsrWithEpochs): (broker, broker epoch) of every member of new_isr - the
    # leader's own, and each follower's as its fetch requests carried it (-1: no fetch of
    # that follower seen in this leader epoch; the controller then checks only that it is
    # registered and unfenced)
    isr_broker_epochs: tuple[tuple[int, int], ...]


class AlterPartitionResponse(NamedTuple):
    """The controller's answer; `isr`/`partition_epoch` are the committed state on success."""

    accepted: bool
    error: str  # NONE, FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION, INELIGIBLE_REPLICA
    isr: tuple[int, ...]
    partition_epoch: int


class FetchRequest(NamedTuple):
    """A follower's Fetch request as it left the follower (FetchRequest v12+ fields that
    matter here). Only a *delayed* one is kept in the network: an ordinary fetch is one
    exchange within a step."""

    follower: int  # source (replica id)
    leader: int  # destination: the leader the follower believed in when it sent it
    leader_epoch: int  # currentLeaderEpoch (KIP-320): the follower's epoch
    fetch_offset: int  # the follower's LEO
    last_fetched_epoch: int  # lastFetchedEpoch (used from 2.7): its cache's latest epoch, -1 if none
    broker_epoch: int  # replicaEpoch (KIP-903): the follower's broker epoch
