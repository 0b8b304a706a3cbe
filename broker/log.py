"""A partition's log on one broker: segment files, leader-epoch cache, producer state.

Layout of a broker's data directory (paths relative to the host's page cache root):
```
topic-0/00000000000000000000.log      segments, named by base offset, record batch v2
topic-0/00000000000000000042.log      (rolled when the next batch would pass segment_bytes)
topic-0/leader-epoch-checkpoint       epoch -> start offset
recovery-point-offset-checkpoint      below it the log is known flushed (Kafka's own fsync)
replication-offset-checkpoint         the high watermark (written by the broker, node.py)
.kafka_cleanshutdown                  present only after a clean shutdown
```
The in-memory index (`LogBatch` per batch: offsets, epoch, producer fields, record ids
and the batch's place in its segment) is rebuilt from the segment files on load, as
Kafka rebuilds its indexes and producer state; after an unclean shutdown every batch
from the recovery point on is re-validated (sizes, offsets, CRC-32C) and the log is cut
at the first invalid one (LogLoader.recoverLog).
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from ackcheck.broker import checkpoints, records
from ackcheck.broker.messages import FIRST_PRODUCER_ID
from ackcheck.broker.pagecache import HostPageCache
from ackcheck.traces.observation import Batch

TOPIC = "topic"
PARTITION = 0
PARTITION_DIR = f"{TOPIC}-{PARTITION}"
EPOCH_CHECKPOINT = f"{PARTITION_DIR}/leader-epoch-checkpoint"
RECOVERY_CHECKPOINT = "recovery-point-offset-checkpoint"
HW_CHECKPOINT = "replication-offset-checkpoint"
CLEAN_SHUTDOWN = ".kafka_cleanshutdown"
DEFAULT_SEGMENT_BYTES = 1073741824  # log.segment.bytes
# ProducerStateEntry.NUM_BATCHES_TO_RETAIN (KIP-98 / KAFKA-5494)
PRODUCER_BATCHES_RETAINED = 5


def segment_name(base_offset: int) -> str:
    return f"{PARTITION_DIR}/{base_offset:020d}.log"


class LogBatch(NamedTuple):
    base_offset: int
    leader_epoch: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: tuple[int, ...]
    segment: str  # the segment file (relative path)
    position: int  # byte position in the segment
    size: int  # bytes

    @property
    def end_offset(self) -> int:
        return self.base_offset + len(self.records)


class RecoveryReport(NamedTuple):
    clean: bool  # loaded after a clean shutdown (no validation)
    recovery_point: int
    validated_batches: int
    truncated: str | None  # why the log was cut, if it was
    truncated_bytes: int
    deleted_segments: int
    log_end_offset: int


# ---------------------------------------------------------------------------------------
class LeaderEpochCache:
    """Epoch -> start offset, as Kafka's LeaderEpochFileCache keeps it (monotonic)."""

    def __init__(self, entries=()):
        self.entries: list[tuple[int, int]] = list(entries)

    def assign(self, epoch: int, start: int) -> bool:
        if self.entries and self.entries[-1][0] == epoch:
            return False
        # a non-monotonic entry replaces those it contradicts (maybeTruncateNonMonotonicEntries)
        self.entries = [(e, s) for e, s in self.entries if e < epoch and s < start]
        self.entries.append((epoch, start))
        return True

    def truncate_from_end(self, end_offset: int) -> bool:
        kept = [(e, s) for e, s in self.entries if s < end_offset]
        changed = len(kept) != len(self.entries)
        self.entries = kept
        return changed

    @property
    def latest_epoch(self) -> int:
        return self.entries[-1][0] if self.entries else -1

    def end_offset_for(self, epoch: int, log_end_offset: int) -> int:
        """Where `epoch` ends: the start of the first later epoch, else the log end."""
        for e, s in self.entries:
            if e > epoch:
                return s
        return log_end_offset

    def largest_at_most(self, epoch: int) -> int | None:
        best = None
        for e, _ in self.entries:
            if e <= epoch:
                best = e
        return best

    def start_of(self, epoch: int) -> int | None:
        for e, s in self.entries:
            if e == epoch:
                return s
        return None


# ---------------------------------------------------------------------------------------
APPEND, DUPLICATE, OUT_OF_ORDER, INVALID_EPOCH = "append", "duplicate", "out_of_order", "invalid_epoch"


class ProducerStateTable:
    """Per producer id: its epoch and its last 5 batches (first seq, last seq, offset)."""

    def __init__(self):
        self.producers: dict[int, tuple[int, deque]] = {}

    def update(self, pid: int, epoch: int, first: int, last: int, offset: int) -> None:
        if pid < 0:
            return
        cur = self.producers.get(pid)
        if cur is None or cur[0] != epoch:  # a new epoch starts a fresh batch window
            cur = (epoch, deque(maxlen=PRODUCER_BATCHES_RETAINED))
            self.producers[pid] = cur
        cur[1].append((first, last, offset))

    def rebuild(self, batches) -> None:
        self.producers.clear()
        for b in batches:
            if b.producer_id >= 0:
                self.update(b.producer_id, b.producer_epoch, b.base_sequence,
                            b.base_sequence + len(b.records) - 1, b.base_offset)

    def check(self, pid: int, epoch: int, seq: int, count: int) -> tuple[str, int]:
        """The leader's validation of an idempotent batch (docs/kafka.md, section 3)."""
        cur = self.producers.get(pid)
        if cur is None:
            return APPEND, -1  # no state for this producer id: any sequence is accepted
        cur_epoch, window = cur
        if epoch < cur_epoch:
            return INVALID_EPOCH, -1
        if epoch > cur_epoch:
            return (APPEND, -1) if seq == 0 else (OUT_OF_ORDER, -1)
        for first, last, offset in window:
            if first == seq and last == seq + count - 1:
                return DUPLICATE, offset
        if seq != window[-1][1] + 1:
            return OUT_OF_ORDER, -1
        return APPEND, -1


# ---------------------------------------------------------------------------------------
class PartitionLog:
    def __init__(self, cache: HostPageCache, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES,
                 flush_interval: int = 2**63 - 1):
        self.cache = cache
        self.segment_bytes = segment_bytes
        self.flush_interval = flush_interval
        self.batches: list[LogBatch] = []
        self.segments: list[str] = []  # segment files, oldest first
        self.leo = 0
        self.recovery_point = 0
        self.epochs = LeaderEpochCache()
        self.producers = ProducerStateTable()
        self._observed: tuple[Batch, ...] | None = ()
        self.kafka_flushes = 0

    # ------------------------------------------------------------------- creation, load
    @classmethod
    def create(cls, cache: HostPageCache, **kw) -> PartitionLog:
        log = cls(cache, **kw)
        cache.mkdir(PARTITION_DIR)
        seg = segment_name(0)
        cache.create(seg)
        log.segments = [seg]
        cache.write_durable(EPOCH_CHECKPOINT, checkpoints.format_epochs([]))
        log._write_recovery_point()
        return log

    @classmethod
    def load(cls, cache: HostPageCache, *, clean: bool, **kw) -> tuple[PartitionLog, RecoveryReport]:
        """Open the log from the host's files; recover (validate + cut) unless `clean`."""
        log = cls(cache, **kw)
        try:
            rp = checkpoints.parse_offsets(cache.read(RECOVERY_CHECKPOINT), RECOVERY_CHECKPOINT).get(
                (TOPIC, PARTITION), 0)
        except checkpoints.CheckpointError:
            rp, clean = 0, False  # a broken checkpoint: trust nothing, validate everything
        names = [n for n in cache.listdir(PARTITION_DIR) if n.endswith(".log")]
        bases = []
        for n in names:
            try:
                bases.append((int(n[:-4]), n))
            except ValueError:
                continue
        bases.sort()
        if not bases:
            cache.mkdir(PARTITION_DIR)
            cache.create(segment_name(0))
            bases = [(0, f"{0:020d}.log")]
        validated = 0
        truncated = None
        truncated_bytes = 0
        deleted = 0
        expect = 0
        stop = False
        for i, (base, name) in enumerate(bases):
            rel = f"{PARTITION_DIR}/{name}"
            if stop:
                cache.delete(rel)
                deleted += 1
                continue
            if base != expect and (log.batches or base != 0):
                # a segment that does not continue the log: everything from here is suspect
                truncated = truncated or f"segment {name} starts at {base}, the log ends at {expect}"
                cache.delete(rel)
                deleted += 1
                stop = True
                continue
            log.segments.append(rel)
            buf = cache.view(rel)
            pos = 0
            n = len(buf)
            while pos < n:
                try:
                    h = records.read_header(buf, pos)
                    if h.base_offset != expect:
                        raise records.CorruptBatch(f"batch at byte {pos} has base offset {h.base_offset}, "
                                                   f"expected {expect}")
                    verify = not clean and h.next_offset > rp
                    d = records.decode_batch(buf, pos, verify=verify)
                    ids = d.record_ids
                except (records.CorruptBatch, ValueError) as e:
                    truncated = f"{rel}: {e}"
                    truncated_bytes += n - pos
                    stop = True
                    break
                if verify:
                    validated += 1
                log.batches.append(LogBatch(h.base_offset, h.partition_leader_epoch, h.producer_id,
                                            h.producer_epoch, h.base_sequence, ids, rel, pos, h.size))
                expect = h.next_offset
                pos += h.size
            del buf
            if stop and pos < n:
                cache.truncate(rel, pos)
        log.leo = expect
        log.recovery_point = min(rp, log.leo)
        # the epoch cache: Kafka loads the checkpoint, drops entries past the log end and
        # re-assigns the epochs of recovered batches; this rebuilds it from the batches
        for b in log.batches:
            log.epochs.assign(b.leader_epoch, b.base_offset)
        log._write_epochs()
        log.producers.rebuild(log.batches)
        log._write_recovery_point()
        log._observed = None
        return log, RecoveryReport(clean, rp, validated, truncated, truncated_bytes, deleted, log.leo)

    # ------------------------------------------------------------------------ writing
    @property
    def active_segment(self) -> str:
        return self.segments[-1]

    def _roll_if_needed(self, size: int) -> None:
        seg = self.active_segment
        used = self.cache.size(seg)
        if used > 0 and used + size > self.segment_bytes:
            # Simplification: Kafka also schedules an async flush of the old segment on a
            # roll; here only flush()/the OS flusher make data durable, so the flushed offset
            # means the same thing in the broker and the model.
            new = segment_name(self.leo)
            self.cache.create(new)
            self.segments.append(new)

    def _append_raw(self, raw: bytes, h: records.BatchHeader, ids: tuple[int, ...]) -> LogBatch:
        self._roll_if_needed(len(raw))
        seg = self.active_segment
        pos = self.cache.append(seg, raw)
        b = LogBatch(h.base_offset, h.partition_leader_epoch, h.producer_id, h.producer_epoch,
                     h.base_sequence, ids, seg, pos, len(raw))
        self.batches.append(b)
        self.leo = b.end_offset
        if self.epochs.assign(b.leader_epoch, b.base_offset):
            self._write_epochs()
        self.producers.update(b.producer_id, b.producer_epoch, b.base_sequence,
                              b.base_sequence + len(ids) - 1, b.base_offset)
        self._observed = None
        return b

    def append_as_leader(self, record_ids, leader_epoch: int, *, producer_id: int = -1,
                         producer_epoch: int = -1, base_sequence: int = -1, timestamp: int = 0) -> LogBatch:
        raw = records.encode_batch(self.leo, leader_epoch, records.record_values(record_ids),
                                   producer_id=producer_id, producer_epoch=producer_epoch,
                                   base_sequence=base_sequence, base_timestamp=timestamp)
        h = records.read_header(raw)
        b = self._append_raw(raw, h, tuple(record_ids))
        self.maybe_flush()
        return b

    def append_as_follower(self, raw: bytes) -> LogBatch:
        """Append a batch fetched from the leader, as it is (validated first)."""
        d = records.decode_batch(raw)
        if d.header.base_offset != self.leo:
            raise records.CorruptBatch(f"fetched batch starts at {d.header.base_offset}, the log ends at {self.leo}")
        b = self._append_raw(bytes(raw), d.header, d.record_ids)
        self.maybe_flush()
        return b

    def maybe_flush(self) -> None:
        """log.flush.interval.messages: fsync once that many messages are unflushed
        (UnifiedLog: logEndOffset - recoveryPoint >= flushInterval)."""
        if self.leo - self.recovery_point >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        """Kafka's own flush (UnifiedLog.flush): fsync the segments, advance the recovery point."""
        self.cache.flush(self.segments)
        self.recovery_point = self.leo
        self.kafka_flushes += 1
        self._write_recovery_point()

    def truncate_to(self, offset: int) -> int:
        """Cut the log to `offset`, batch-aligned (a batch is wholly kept or dropped).
        Durable at once (ftruncate/unlink). Returns the new log end offset."""
        cut = len(self.batches)
        for i, b in enumerate(self.batches):
            if b.end_offset > offset:
                cut = i
                break
        if cut == len(self.batches):
            return self.leo
        first = self.batches[cut]
        new_leo = first.base_offset
        # segments with a base offset past the new end go; the one holding it is cut
        keep = []
        for seg in self.segments:
            if int(seg.rsplit("/", 1)[1][:-4]) > new_leo:
                self.cache.delete(seg)
            else:
                keep.append(seg)
        self.segments = keep
        self.cache.truncate(first.segment, first.position)
        del self.batches[cut:]
        self.leo = new_leo
        if self.epochs.truncate_from_end(new_leo):
            self._write_epochs()
        self.producers.rebuild(self.batches)
        if self.recovery_point > new_leo:
            self.recovery_point = new_leo
            self._write_recovery_point()
        self._observed = None
        return new_leo

    def _write_epochs(self) -> None:
        self.cache.write_durable(EPOCH_CHECKPOINT, checkpoints.format_epochs(self.epochs.entries))

    def _write_recovery_point(self) -> None:
        self.cache.write_durable(RECOVERY_CHECKPOINT,
                                 checkpoints.format_offsets({(TOPIC, PARTITION): self.recovery_point}))

    # ------------------------------------------------------------------------ reading
    def batch_starting_at(self, offset: int) -> LogBatch | None:
        for b in self.batches:
            if b.base_offset == offset:
                return b
            if b.base_offset > offset:
                return None
        return None

    def batch_containing(self, offset: int) -> LogBatch | None:
        for b in self.batches:
            if b.base_offset <= offset < b.end_offset:
                return b
        return None

    def read_raw(self, b: LogBatch) -> bytes:
        return self.cache.read_range(b.segment, b.position, b.size)

    def read_record(self, offset: int) -> int:
        """The record id at `offset`, read back from the segment file (CRC checked)."""
        b = self.batch_containing(offset)
        if b is None:
            raise KeyError(offset)
        d = records.decode_batch(self.read_raw(b))
        return d.record_ids[offset - b.base_offset]

    def flushed_offset(self) -> int:
        """The end of the longest prefix of whole batches that is on disk."""
        durable: dict[str, int] = {}
        off = 0
        for b in self.batches:
            d = durable.get(b.segment)
            if d is None:
                d = durable[b.segment] = self.cache.durable_len(b.segment)
            if b.position + b.size > d:
                break
            off = b.end_offset
        return off

    def observed(self) -> tuple[Batch, ...]:
        if self._observed is None:
            # an observation names a producer's (id, epoch) by one number: its epoch, plus
            # the generation of its id - ids only change before 2.5, when the epoch stays 0
            # (the model's producer_epoch, Model.pid_resets)
            self._observed = tuple(
                Batch(b.leader_epoch, b.records,
                      b.producer_epoch + b.producer_id - FIRST_PRODUCER_ID if b.producer_id >= 0 else b.producer_epoch,
                      b.base_sequence) for b in self.batches
            )
        return self._observed
