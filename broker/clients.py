"""The clients: one producer (accumulator + Sender) and one consumer of one group.

The producer follows KafkaProducer's documented behaviour (docs/kafka.md, sections 1-3):
batches drain in order; a retriable error re-enqueues the batch at the front of the
accumulator (non-idempotent: retries go before new batches, after those already in
flight - the reorder); the idempotent producer keeps sequence order and re-sends a
retried batch only once it is the oldest unacknowledged one; OUT_OF_ORDER_SEQUENCE with
nothing earlier unfinished is a real gap (the producer bumps its epoch, and unfinished
batches are retried under new sequences from 0, KIP-360). A broken connection fails its
in-flight requests with a retriable NetworkException. Attempts are bounded by retries
and by `max_attempts` (delivery.timeout.ms abstracted).
"""

from __future__ import annotations

from dataclasses import dataclass

from ackcheck.broker import messages as m
from ackcheck.traces.observation import FAILED, INDETERMINATE, OK, PENDING, UNSENT

QUEUED, IN_FLIGHT, RETRY, ACKED, FAILED_B, UNKNOWN = "queued", "in_flight", "retry", "acked", "failed", "unknown"
STATUS_OUTCOME = {QUEUED: UNSENT, IN_FLIGHT: PENDING, RETRY: PENDING, ACKED: OK, FAILED_B: FAILED,
                  UNKNOWN: INDETERMINATE}

PRODUCER_ID = m.FIRST_PRODUCER_ID  # assigned by InitProducerId


@dataclass
class ProducerBatch:
    records: tuple[int, ...]
    status: str = QUEUED
    attempts: int = 0
    offset: int = -1  # base offset once acknowledged
    maybe_appended: bool = False  # some attempt may be in a log
    producer_epoch: int = -1  # the epoch its sequence numbers belong to
    base_sequence: int = -1
    producer_id: int = -1  # the producer id it was stamped with
    resequenced: bool = False  # re-stamped by an epoch bump (ProducerBatch.reopened)

    @property
    def open(self) -> bool:
        return self.status in (QUEUED, IN_FLIGHT, RETRY)


class Producer:
    def __init__(self, *, max_records: int, records_per_batch: int, acks: str, idempotent: bool,
                 max_in_flight: int, retries: int, max_attempts: int, epoch_bump: bool = True):
        ids = list(range(1, max_records + 1))
        self.batches = [ProducerBatch(tuple(ids[i:i + records_per_batch]))
                        for i in range(0, max_records, records_per_batch)]
        self.max_records = max_records
        self.acks = acks
        self.idempotent = idempotent
        self.max_in_flight = max_in_flight
        # acks=0 never retries; otherwise retries + 1 attempts, capped by delivery.timeout.ms
        self.max_attempts = 1 if acks == "0" else min(retries + 1, max_attempts)
        self.producer_id = PRODUCER_ID if idempotent else -1
        self.producer_epoch = 0
        self.next_sequence = 0
        self.last_acked_sequence = -1
        # KAFKA-8805 (2.5): bump the epoch and re-stamp; before it, reset the producer id
        self.epoch_bump = epoch_bump
        self.ack_isr_sizes = [-1] * max_records

    # ------------------------------------------------------------------ the Sender
    def in_flight_count(self) -> int:
        return sum(1 for b in self.batches if b.status == IN_FLIGHT)

    def next_to_send(self) -> int | None:
        first_open = next((i for i, b in enumerate(self.batches) if b.open), None)
        retry = next((i for i, b in enumerate(self.batches) if b.status == RETRY), None)
        queued = next((i for i, b in enumerate(self.batches) if b.status == QUEUED), None)
        if not self.idempotent:
            return retry if retry is not None else queued
        cands = [i for i in (retry, queued) if i is not None]
        if not cands:
            return None
        i = min(cands)
        if self.batches[i].status == RETRY and i != first_open:
            return None  # a retried batch waits until everything before it is acknowledged
        return i

    def can_send(self, i: int) -> bool:
        return self.next_to_send() == i and self.in_flight_count() < self.max_in_flight

    def send(self, i: int, broker: int) -> m.ProduceRequest:
        b = self.batches[i]
        b.attempts += 1
        pe, seq, pid = -1, -1, -1
        if self.idempotent:
            if b.base_sequence < 0:  # first send: the next sequence numbers (setProducerState)
                b.producer_id, b.producer_epoch, b.base_sequence = self.producer_id, self.producer_epoch, \
                    self.next_sequence
                self.next_sequence += len(b.records)
            pid, pe, seq = b.producer_id, b.producer_epoch, b.base_sequence
        if self.acks == "0":
            b.status, b.maybe_appended = ACKED, True  # sent = done; offset unknown
        else:
            b.status = IN_FLIGHT
        return m.ProduceRequest(i, b.attempts, broker, self.acks, b.records, pid, pe, seq)

    def _current(self, b: ProducerBatch) -> bool:
        return b.producer_id == self.producer_id and b.producer_epoch == self.producer_epoch

    def _bump(self) -> None:
        """2.5+: bumpIdempotentProducerEpoch + startSequencesAtBeginning (every unfinished
        stamped batch re-stamped from 0, in sequence order); before 2.5: resetProducerId and
        InitProducerId - the next producer id, epoch 0, stamped batches keep their stamps."""
        self.next_sequence = 0
        self.last_acked_sequence = -1
        if not self.epoch_bump:
            self.producer_id += 1
            return
        self.producer_epoch += 1
        for b in self.batches:
            if b.status in (IN_FLIGHT, RETRY) and b.base_sequence >= 0:
                b.producer_epoch, b.base_sequence, b.resequenced = self.producer_epoch, self.next_sequence, True
                self.next_sequence += len(b.records)

    def _final(self, b: ProducerBatch) -> None:
        b.status = UNKNOWN if b.maybe_appended else FAILED_B

    def receive(self, resp: m.ProduceResponse) -> None:
        b = self.batches[resp.batch]
        if b.status != IN_FLIGHT or b.attempts != resp.attempt:
            return  # an attempt the client already gave up on
        err = resp.error
        b.maybe_appended = b.maybe_appended or err not in m.DEFINITELY_NOT_APPENDED
        retry = b.attempts < self.max_attempts
        bump = False
        if err in (m.NONE, m.DUPLICATE_SEQUENCE_NUMBER):
            b.status, b.offset, b.maybe_appended = ACKED, resp.base_offset, True
            if b.base_sequence >= 0 and self._current(b):  # handleCompletedBatch
                self.last_acked_sequence = max(self.last_acked_sequence, b.base_sequence + len(b.records) - 1)
            if self.acks == "all":
                for r in b.records:
                    self.ack_isr_sizes[r - 1] = resp.isr_size
            return
        if err == m.INVALID_PRODUCER_EPOCH:
            retry = False
        elif err == m.OUT_OF_ORDER_SEQUENCE_NUMBER:
            # TransactionManager.canRetry, then handleFailedBatch for a final failure
            if retry:
                if b.resequenced or b.base_sequence != self.last_acked_sequence + 1:
                    pass  # not the next batch: retried unchanged
                elif self.epoch_bump:
                    bump = self._current(b)
                else:
                    retry = False  # 2.4: not retriable
            if not retry:
                bump = self._current(b)
        elif err == m.UNKNOWN_PRODUCER_ID:
            if retry and not b.resequenced:
                if self.epoch_bump:
                    bump = self._current(b)
                elif self.last_acked_sequence < 0:  # 2.4 startSequencesAtBeginning, same id
                    self.next_sequence = 0
                    for x in self.batches:
                        if x.status in (IN_FLIGHT, RETRY) and x.base_sequence >= 0 and self._current(x):
                            x.base_sequence, x.resequenced = self.next_sequence, True
                            self.next_sequence += len(x.records)
                else:
                    retry = False
                    bump = self._current(b)
        if retry:
            b.status = RETRY
        else:
            self._final(b)
        if bump:
            self._bump()

    def timeout(self, i: int) -> None:
        """request.timeout.ms / NetworkException: the attempt's fate is unknown."""
        b = self.batches[i]
        b.maybe_appended = True
        if b.attempts < self.max_attempts:
            b.status = RETRY
        else:
            b.status = UNKNOWN

    def connection_broken(self, attempts) -> None:
        """The connection to a broker broke (reset by a killed broker's kernel, or closed
        after a lost / timed-out message): every in-flight attempt that travelled on it
        fails with a retriable NetworkException. `attempts`: (batch, attempt) pairs."""
        for i, attempt in attempts:
            b = self.batches[i]
            if b.status == IN_FLIGHT and b.attempts == attempt:
                self.timeout(i)

    def expire(self, i: int) -> None:
        """delivery.timeout.ms while the partition has no leader: TimeoutException."""
        self._final(self.batches[i])

    # ------------------------------------------------------------------ observation
    def outcomes(self) -> tuple[tuple[int, int], ...]:
        out = []
        for b in self.batches:
            kind = STATUS_OUTCOME[b.status]
            for k in range(len(b.records)):
                out.append((kind, b.offset + k if b.offset >= 0 else -1))
        return tuple(out)


class Consumer:
    """One consumer of one group: position, committed offset, and what it read (ghost)."""

    def __init__(self, auto_offset_reset: str):
        self.auto_offset_reset = auto_offset_reset
        self.position = 0
        self.committed = 0
        self.read: list[tuple[int, int]] = []
