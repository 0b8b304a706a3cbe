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

# errors that tell the client this attempt was certainly not appended. Not
# NOT_LEADER_OR_FOLLOWER: a leader stepping down fails with it the acks=all requests it had
# already appended.
DEFINITELY_NOT_APPENDED = frozenset({NOT_ENOUGH_REPLICAS, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH})


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
