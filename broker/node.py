"""One broker process: its replica of the partition, as leader or follower.

Written from docs/kafka.md (Partition, ReplicaManager, UnifiedLog, AbstractFetcherThread):
this object is the broker's *memory*. A crash discards it; `Broker.start` builds a new
one from the host's files (through the page cache), recovering the log if the broker did
not shut down cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ackcheck.broker import checkpoints
from ackcheck.broker import messages as m
from ackcheck.broker.log import (
    APPEND,
    CLEAN_SHUTDOWN,
    DUPLICATE,
    HW_CHECKPOINT,
    INVALID_EPOCH,
    OUT_OF_ORDER,
    PARTITION,
    TOPIC,
    PartitionLog,
    RecoveryReport,
)
from ackcheck.broker.pagecache import HostPageCache
from ackcheck.traces.settings import Config


@dataclass(frozen=True)
class BrokerSettings:
    """What a broker reads from the run's settings (traces/settings.py, traces/eras.py)."""

    replication_factor: int
    min_insync_replicas: int
    flush_interval: int
    segment_bytes: int
    epoch_truncation: bool  # KIP-101
    fast_failover: bool  # KIP-279 / 2.8 diverging epochs
    fenced_leader_epoch: bool  # KIP-320
    join_at_epoch_start: bool  # KAFKA-7128
    strict_min_isr: bool  # KAFKA-15583
    diverging_epoch_fetch: bool  # KAFKA-10554 (2.7): truncation on any fetch
    maximal_isr: bool  # KIP-497: HW over the maximal ISR while an ISR change is pending
    any_first_sequence: bool = True  # KAFKA-8710 (2.5): any first sequence from an unknown producer id

    @property
    def truncates_once_per_epoch(self) -> bool:
        """Before 2.7 the fetcher truncates (OffsetsForLeaderEpoch) in its Truncating state,
        entered when the broker becomes a follower of a new epoch, then fetches by offset."""
        return self.epoch_truncation and not self.diverging_epoch_fetch

    @classmethod
    def from_config(cls, config: Config, segment_bytes: int) -> BrokerSettings:
        return cls(
            replication_factor=config.replication_factor,
            min_insync_replicas=config.min_insync_replicas,
            flush_interval=config.log_flush_interval_messages,
            segment_bytes=segment_bytes,
            epoch_truncation=config.rule("epoch_truncation"),
            fast_failover=config.rule("epoch_truncation_fast_failover"),
            fenced_leader_epoch=config.rule("fenced_leader_epoch"),
            join_at_epoch_start=config.rule("isr_join_at_epoch_start"),
            strict_min_isr=config.rule("strict_min_isr"),
            diverging_epoch_fetch=config.rule("diverging_epoch_fetch"),
            maximal_isr=config.rule("maximal_isr"),
            any_first_sequence=config.rule("any_first_sequence"),
        )


@dataclass(frozen=True)
class PendingIsrChange:
    """Partition's pending ISR state: an AlterPartition in flight to the controller."""

    request: m.AlterPartition
    # what the HW and acks=all are computed over until the answer comes: the maximal ISR
    # (committed ISR plus the proposal, KIP-497) or, without that rule, the proposal itself
    hw_isr: tuple[int, ...]


@dataclass
class DelayedProduce:
    """An acks=all request parked until the high watermark reaches `end_offset`."""

    batch: int
    attempt: int
    end_offset: int
    count: int


class Broker:
    def __init__(self, broker_id: int, settings: BrokerSettings, cache: HostPageCache, log: PartitionLog):
        self.id = broker_id
        self.s = settings
        self.cache = cache
        self.log = log
        self.hw = 0
        self.leader = -1
        self.leader_epoch = -1
        # as leader: the ISR it learned with its epoch or had committed since; a follower
        # keeps none (only a leader reads it, and becoming leader brings a fresh one)
        self.isr: tuple[int, ...] = ()
        self.partition_epoch = -1  # the controller's version of the (leader, ISR) it holds
        self.broker_epoch = -1  # set by the controller at registration (KIP-903)
        self.pending_isr: PendingIsrChange | None = None
        # the replica fetcher's Truncating state (see BrokerSettings.truncates_once_per_epoch)
        self.fetcher_truncating = False
        # as leader: the fetch offset (LEO) each replica of its ISR (or of its pending ISR
        # change) last reported; -1 unknown or not tracked (see record_follower_fetch)
        self.follower_leos: list[int] = [-1] * settings.replication_factor
        # as leader: the broker epoch each replica's last fetch carried (KIP-903)
        self.follower_broker_epochs: list[int] = [-1] * settings.replication_factor
        self.epoch_start_offset = 0  # as leader: LEO when it took this epoch (KAFKA-7128)
        self.purgatory: list[DelayedProduce] = []
        self.outbox: list[m.ProduceResponse] = []  # responses to write on the producer's connection
        self.recovery: RecoveryReport | None = None
        self.unclean_start = False
        self.on_leader_hw = None  # ghost hook (cluster): called with (broker, new HW) as leader

    # ------------------------------------------------------------------ life cycle
    @classmethod
    def create(cls, broker_id: int, settings: BrokerSettings, cache: HostPageCache, *, leader: int,
               leader_epoch: int, isr: tuple[int, ...], partition_epoch: int = 0) -> Broker:
        """A broker of a freshly created topic: empty log, it knows the first leader."""
        log = PartitionLog.create(cache, segment_bytes=settings.segment_bytes, flush_interval=settings.flush_interval)
        b = cls(broker_id, settings, cache, log)
        b._write_hw()
        b.leader, b.leader_epoch, b.partition_epoch = leader, leader_epoch, partition_epoch
        if leader == broker_id:  # the leader knows the ISR, and every replica at offset 0
            b.isr = tuple(isr)
            b.follower_leos = [0] * settings.replication_factor
        return b

    @classmethod
    def start(cls, broker_id: int, settings: BrokerSettings, cache: HostPageCache) -> Broker:
        """Start the broker process on its host: load (and if needed recover) the log."""
        clean = cache.exists(CLEAN_SHUTDOWN)
        if clean:
            cache.delete(CLEAN_SHUTDOWN)
        log, report = PartitionLog.load(cache, clean=clean, segment_bytes=settings.segment_bytes,
                                        flush_interval=settings.flush_interval)
        b = cls(broker_id, settings, cache, log)
        b.recovery = report
        b.unclean_start = not clean
        try:
            hw = checkpoints.parse_offsets(cache.read(HW_CHECKPOINT), HW_CHECKPOINT).get((TOPIC, PARTITION), 0)
        except checkpoints.CheckpointError:
            hw = 0
        b.hw = min(hw, log.leo)
        b._write_hw()
        return b

    def shutdown(self) -> None:
        """Controlled shutdown: flush everything, leave the clean-shutdown marker."""
        self.log.flush()
        self._write_hw()
        self.cache.write_durable(CLEAN_SHUTDOWN, b"")
        self.cache.sync_all()

    # ------------------------------------------------------------------ state helpers
    @property
    def is_leader(self) -> bool:
        return self.leader == self.id

    @property
    def leo(self) -> int:
        return self.log.leo

    def _write_hw(self) -> None:
        self.cache.write_durable(HW_CHECKPOINT, checkpoints.format_offsets({(TOPIC, PARTITION): self.hw}))

    def _set_hw(self, hw: int) -> None:
        if hw != self.hw:
            self.hw = hw
            self._write_hw()

    def _respond(self, req_batch: int, attempt: int, error: str, offset: int = -1, isr_size: int = -1) -> None:
        self.outbox.append(m.ProduceResponse(req_batch, attempt, error, offset, isr_size, self.id))

    # ------------------------------------------------------------------------ leader
    @property
    def hw_isr(self) -> tuple[int, ...]:
        """The ISR the HW and acks=all completions are computed over: the committed ISR, or
        while an ISR change is pending, the pending state's (maximal) ISR."""
        return self.pending_isr.hw_isr if self.pending_isr is not None else self.isr

    def maybe_advance_hw(self) -> None:
        """HW = min LEO over the ISR the leader computes with (hw_isr); never backwards on a
        leader; frozen while the committed |ISR| < min.insync.replicas under strict min ISR
        (KAFKA-15583). Then complete the parked acks=all requests the HW has reached
        (checkEnoughReplicasReachOffset, over the same ISR as the HW)."""
        s = self.s
        isr = self.hw_isr
        if not (s.strict_min_isr and len(self.isr) < s.min_insync_replicas):
            hw = self.log.leo
            for r in isr:
                if r != self.id and self.follower_leos[r] < hw:
                    hw = self.follower_leos[r]
            if hw > self.hw:
                self._set_hw(hw)
                if self.on_leader_hw is not None:
                    self.on_leader_hw(self, hw)
        if self.purgatory:
            done = [d for d in self.purgatory if d.end_offset <= self.hw]
            if done:
                isr_size = len(isr)
                err = m.NONE if isr_size >= s.min_insync_replicas else m.NOT_ENOUGH_REPLICAS_AFTER_APPEND
                for d in done:
                    self._respond(d.batch, d.attempt, err, d.end_offset - d.count, isr_size)
                self.purgatory = [d for d in self.purgatory if d.end_offset > self.hw]

    def _park(self, req: m.ProduceRequest, end_offset: int) -> None:
        self.purgatory.append(DelayedProduce(req.batch, req.attempt, end_offset, len(req.records)))
        self.purgatory.sort(key=lambda d: (d.batch, d.attempt, d.end_offset))

    def handle_produce(self, req: m.ProduceRequest, *, timestamp: int = 0) -> None:
        """ReplicaManager.appendRecords for one batch; the answer (if any) goes to the outbox."""
        answer = req.acks != "0"
        isr_size = len(self.isr)
        if not self.is_leader:
            if answer:
                self._respond(req.batch, req.attempt, m.NOT_LEADER_OR_FOLLOWER, -1, isr_size)
            return
        if req.acks == "all" and isr_size < self.s.min_insync_replicas:
            if answer:
                self._respond(req.batch, req.attempt, m.NOT_ENOUGH_REPLICAS, -1, isr_size)
            return
        if req.producer_id >= 0:
            verdict, offset = self.log.producers.check(req.producer_id, req.producer_epoch, req.base_sequence,
                                                       len(req.records))
            if verdict == DUPLICATE:
                if req.acks == "all":  # answered like the original: once HW passes it
                    self._park(req, offset + len(req.records))
                    self.maybe_advance_hw()
                elif answer:
                    self._respond(req.batch, req.attempt, m.DUPLICATE_SEQUENCE_NUMBER, offset, isr_size)
                return
            if (verdict == APPEND and req.base_sequence != 0 and not self.s.any_first_sequence
                    and req.producer_id not in self.log.producers.producers):
                # before 2.5 (KAFKA-8710) an unknown producer id must start at sequence 0
                if answer:
                    self._respond(req.batch, req.attempt, m.UNKNOWN_PRODUCER_ID, -1, isr_size)
                return
            if verdict in (OUT_OF_ORDER, INVALID_EPOCH):
                if answer:
                    err = m.OUT_OF_ORDER_SEQUENCE_NUMBER if verdict == OUT_OF_ORDER else m.INVALID_PRODUCER_EPOCH
                    self._respond(req.batch, req.attempt, err, -1, isr_size)
                return
        b = self.log.append_as_leader(req.records, self.leader_epoch, producer_id=req.producer_id,
                                      producer_epoch=req.producer_epoch, base_sequence=req.base_sequence,
                                      timestamp=timestamp)
        self.follower_leos[self.id] = self.log.leo
        if req.acks == "1":
            self._respond(req.batch, req.attempt, m.NONE, b.base_offset, isr_size)
        elif req.acks == "all":
            self._park(req, b.end_offset)
        self.maybe_advance_hw()

    def timeout_produce(self, batch: int, attempt: int) -> None:
        """request.timeout.ms passed with the request still parked: REQUEST_TIMED_OUT."""
        d = self.parked(batch, attempt)
        self.purgatory.remove(d)
        self._respond(batch, attempt, m.REQUEST_TIMED_OUT, -1, -1)

    def parked(self, batch: int, attempt: int) -> DelayedProduce | None:
        for d in self.purgatory:
            if d.batch == batch and d.attempt == attempt:
                return d
        return None

    # -- fetch, leader side
    def offsets_for_leader_epoch(self, epoch: int) -> tuple[int, int]:
        """OffsetsForLeaderEpoch: (epoch answered, its end offset); (-1, -1) if none.

        KIP-101 (0.11) answers for the requested epoch: where the next epoch starts, or
        the log end. KIP-279 (2.0) answers with the largest epoch <= the requested one."""
        cache = self.log.epochs
        if not self.s.fast_failover:
            return epoch, cache.end_offset_for(epoch, self.log.leo)
        e = cache.largest_at_most(epoch)
        if e is None:
            return -1, -1
        return e, cache.end_offset_for(e, self.log.leo)

    @property
    def tracked_followers(self) -> frozenset[int]:
        """The replicas whose fetch offsets this leader keeps: its ISR and every replica of
        its pending ISR change (the proposal and the ISR it computes its HW over). Only
        those count for the HW; another follower's fetch offset is only compared with the
        HW when it fetches (to see whether it may rejoin)."""
        keep = set(self.isr)
        if self.pending_isr is not None:
            keep.update(self.pending_isr.request.new_isr)
            keep.update(self.pending_isr.hw_isr)
        keep.add(self.id)
        return frozenset(keep)

    def forget_untracked_followers(self) -> None:
        """A follower left this leader's ISR (a committed shrink, a refused expansion, a
        KRaft fencing): its fetch offset is no longer kept."""
        keep = self.tracked_followers
        for r in range(len(self.follower_leos)):
            if r not in keep:
                self.follower_leos[r] = -1

    def record_follower_fetch(self, follower: int, fetch_offset: int, broker_epoch: int = -1) -> bool:
        """Partition.updateFollowerFetchState: note the broker epoch the fetch carried
        (KIP-903) and, for a tracked follower, its fetch offset (its LEO); maybe advance HW.
        True if a kept offset moved."""
        self.follower_broker_epochs[follower] = broker_epoch
        if follower not in self.tracked_followers or self.follower_leos[follower] == fetch_offset:
            return False
        self.follower_leos[follower] = fetch_offset
        self.maybe_advance_hw()
        return True

    def fetch_diverges(self, last_fetched_epoch: int, fetch_offset: int) -> bool:
        """Partition.readRecords with lastFetchedEpoch (2.7+): the largest epoch of this
        leader's cache <= the follower's last fetched epoch, and where it ends here. The
        follower's log diverges if there is none, if it is older than the follower's, or if
        it ends before the fetch offset (the answer is a divergingEpoch, not records)."""
        cache = self.log.epochs
        e = cache.largest_at_most(last_fetched_epoch)
        if e is None or e < last_fetched_epoch:
            return True
        return cache.end_offset_for(e, self.log.leo) < fetch_offset

    def handle_stale_fetch(self, req: m.FetchRequest) -> m.AlterPartition | None:
        """A fetch request that was held up in the network reaches this broker after its
        sender gave up on it (the answer goes nowhere). Partition.fetchRecords: refused
        (NOT_LEADER_OR_FOLLOWER) unless this broker leads; with KIP-320 refused
        (FENCED/UNKNOWN_LEADER_EPOCH) unless the request's epoch is this leader's; refused
        (OFFSET_OUT_OF_RANGE) past the log end; from 2.7 answered with a diverging epoch -
        the follower's state untouched - when the log does not hold the request's last
        fetched epoch up to its offset. Otherwise updateFollowerFetchState takes the
        request's offset as the follower's - unless it is older than one a later fetch
        brought: that late fetch belongs to a fetch session a newer fetch has moved on
        (KIP-227 refuses it with INVALID_FETCH_SESSION_EPOCH) - and maybeExpandIsr judges
        it. Returns the ISR expansion proposed, if any."""
        s = self.s
        if not self.is_leader:
            return None
        if s.fenced_leader_epoch and req.leader_epoch != self.leader_epoch:
            return None
        if req.fetch_offset > self.log.leo:
            return None
        if s.diverging_epoch_fetch and req.last_fetched_epoch >= 0 \
                and self.fetch_diverges(req.last_fetched_epoch, req.fetch_offset):
            return None
        r = req.follower
        if r in self.tracked_followers and req.fetch_offset < self.follower_leos[r]:
            return None
        self.record_follower_fetch(r, req.fetch_offset, req.broker_epoch)
        if r not in self.isr and self.may_propose_isr_change and self.follower_caught_up(req.fetch_offset):
            return self.propose_expand(r, req.fetch_offset)
        return None

    def follower_caught_up(self, fetch_offset: int) -> bool:
        """Partition.isFollowerInSync / KAFKA-7128: a follower fetching at `fetch_offset`
        has reached the HW and the start of this leader's epoch."""
        if fetch_offset < self.hw:
            return False
        return not (self.s.join_at_epoch_start and fetch_offset < self.epoch_start_offset)

    def learn_isr(self, isr: tuple[int, ...], partition_epoch: int) -> None:
        """An ISR change the controller made on its own (KRaft fencing) reaches this broker,
        which already holds the leader epoch it belongs to; as leader it forgets the fetch
        offsets of the replicas that left and moves its HW."""
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        if self.is_leader:
            self.forget_untracked_followers()
            self.maybe_advance_hw()

    # -- ISR changes (AlterPartition)
    @property
    def may_propose_isr_change(self) -> bool:
        """A leader sends one AlterPartition at a time (Partition: no new ISR change while
        one is pending)."""
        return self.is_leader and self.pending_isr is None

    def propose_isr(self, new_isr) -> m.AlterPartition:
        """Send the controller an ISR change and enter the pending state; the HW is computed
        over the maximal ISR (both the old and the new members) until the answer. Every
        member goes with its broker epoch (KIP-903): this broker's own, a follower's as its
        fetches carried it."""
        new_isr = tuple(sorted(new_isr))
        epochs = tuple((r, self.broker_epoch if r == self.id else self.follower_broker_epochs[r]) for r in new_isr)
        req = m.AlterPartition(self.id, self.leader_epoch, self.partition_epoch, new_isr, epochs)
        hw_isr = tuple(sorted(set(self.isr) | set(new_isr))) if self.s.maximal_isr else new_isr
        self.pending_isr = PendingIsrChange(req, hw_isr)
        self.maybe_advance_hw()
        return req

    def propose_shrink(self, follower: int) -> m.AlterPartition:
        """Partition.maybeShrinkIsr: drop a follower that is dead or out of sync."""
        return self.propose_isr([r for r in self.isr if r != follower])

    def propose_expand(self, follower: int, fetch_offset: int) -> m.AlterPartition:
        """Partition.maybeExpandIsr: a follower whose fetch at `fetch_offset` caught up goes
        back into the ISR. The follower is in the pending change now, so that fetch offset
        is kept (and counts for the HW at once)."""
        req = self.propose_isr(self.isr + (follower,))
        if self.follower_leos[follower] != fetch_offset:
            self.follower_leos[follower] = fetch_offset
            self.maybe_advance_hw()
        return req

    def handle_alter_partition_response(self, req: m.AlterPartition, resp: m.AlterPartitionResponse) -> None:
        """The controller's answer: the pending state ends; on success the committed ISR is
        the controller's (if this broker is still in the epoch it asked in)."""
        if self.pending_isr is None or self.pending_isr.request != req:
            return  # not the change this broker is waiting for (its state was reset)
        self.pending_isr = None
        if resp.accepted and req.leader_epoch == self.leader_epoch:
            self.isr, self.partition_epoch = tuple(resp.isr), resp.partition_epoch
        if self.is_leader:
            # a replica the change took out (or failed to bring in) is no longer tracked
            self.forget_untracked_followers()
            self.maybe_advance_hw()

    # ---------------------------------------------------------------------- follower
    def truncation_offset(self, leader: Broker) -> int:
        """Where this follower's log must be cut before fetching from `leader`, per era."""
        leo = self.log.leo
        by_epoch = self.s.epoch_truncation and (self.s.diverging_epoch_fetch or self.fetcher_truncating)
        if not by_epoch or leo == 0:
            # before KIP-101 - and before 2.7 once the fetcher left its Truncating state (it
            # fetches by offset) - only OFFSET_OUT_OF_RANGE truncates: to the leader's log end
            return min(leo, leader.log.leo)
        mine = self.log.epochs
        if not self.s.fast_failover:  # KIP-101: one OffsetsForLeaderEpoch round
            _, end = leader.offsets_for_leader_epoch(mine.latest_epoch)
            return min(end, leo)
        # KIP-279 / 2.8+: repeat until the answer no longer cuts anything
        entries = list(mine.entries)
        while leo > 0:
            requested = entries[-1][0]
            epoch, end = leader.offsets_for_leader_epoch(requested)
            if epoch < 0:
                return 0
            own_end = leo
            for e, s in entries:
                if e > epoch:
                    own_end = s
                    break
            t = min(end, own_end, leo)
            if t >= leo:
                return leo
            leo = self._aligned_end(t)
            entries = [(e, s) for e, s in entries if s < leo]
        return leo

    def _aligned_end(self, offset: int) -> int:
        """The log end after cutting to `offset` (batch-aligned)."""
        end = 0
        for b in self.log.batches:
            if b.end_offset > offset:
                break
            end = b.end_offset
        return end

    def truncate_to(self, offset: int) -> None:
        leo = self.log.truncate_to(offset)
        if self.hw > leo:
            self._set_hw(leo)

    def fetched(self) -> None:
        """A fetch response was handled: the fetcher leaves its Truncating state."""
        self.fetcher_truncating = False

    def append_fetched(self, raw: bytes) -> None:
        self.log.append_as_follower(raw)

    def learn_leader_hw(self, leader_hw: int) -> None:
        self._set_hw(min(leader_hw, self.log.leo))

    # ------------------------------------------------------------------ LeaderAndIsr
    def learn(self, epoch: int, leader: int, isr: tuple[int, ...], partition_epoch: int) -> None:
        """A LeaderAndIsr request / metadata update: ignored unless its epoch is newer."""
        if epoch <= self.leader_epoch:
            return
        was_leader = self.is_leader
        # a new epoch resets the partition state: an ISR change still in flight is void
        self.pending_isr = None
        # the fetcher is (re)added in the Truncating state for a follower with data
        self.fetcher_truncating = (self.s.truncates_once_per_epoch and self.log.leo > 0 and leader != self.id)
        self.partition_epoch = partition_epoch
        if leader == self.id:  # makeLeader
            self.leader_epoch, self.leader, self.isr = epoch, leader, tuple(isr)
            self.follower_leos = [-1] * self.s.replication_factor
            self.follower_leos[self.id] = self.log.leo
            self.follower_broker_epochs = [-1] * self.s.replication_factor
            self.epoch_start_offset = self.log.leo
            self.maybe_advance_hw()
            return
        # makeFollower: before KIP-101 the follower truncates to its own HW first
        if leader >= 0 and not self.s.epoch_truncation and self.hw < self.log.leo:
            self.truncate_to(self.hw)
        # only a leader keeps an ISR and the other replicas' fetch offsets (a broker that
        # becomes leader takes both afresh)
        self.leader_epoch, self.leader, self.isr = epoch, leader, ()
        self.follower_leos = [-1] * self.s.replication_factor
        self.follower_broker_epochs = [-1] * self.s.replication_factor
        if was_leader and self.purgatory:
            for d in self.purgatory:
                self._respond(d.batch, d.attempt, m.NOT_LEADER_OR_FOLLOWER, -1, -1)
            self.purgatory = []
