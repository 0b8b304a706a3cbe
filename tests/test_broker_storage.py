"""The broker's storage: page cache vs crash vs power loss, segments, checkpoints, recovery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import make_config
from kafka.record.memory_records import MemoryRecords

from ackcheck.broker import checkpoints, records
from ackcheck.broker.cluster import ActionNotEnabled, Cluster
from ackcheck.broker.log import (
    APPEND,
    CLEAN_SHUTDOWN,
    DUPLICATE,
    EPOCH_CHECKPOINT,
    INVALID_EPOCH,
    OUT_OF_ORDER,
    RECOVERY_CHECKPOINT,
    LeaderEpochCache,
    PartitionLog,
)
from ackcheck.broker.pagecache import HostPageCache


def kafka_batches(path) -> list:
    mr = MemoryRecords(Path(path).read_bytes())
    out = []
    while (b := mr.next_batch()) is not None:
        out.append(b)
    return out


def segment_files(root) -> list[str]:
    d = os.path.join(root, "topic-0")
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".log"))


def new_log(tmp_path, **kw) -> tuple[HostPageCache, PartitionLog]:
    cache = HostPageCache(tmp_path)
    return cache, PartitionLog.create(cache, **kw)


# ------------------------------------------------------------------------ page cache
def test_writes_stay_in_the_page_cache_until_a_flush(tmp_path):
    cache, log = new_log(tmp_path)
    log.append_as_leader([1], 0)
    seg = tmp_path / "topic-0" / f"{0:020d}.log"
    assert cache.read("topic-0/" + seg.name) and cache.unflushed()
    assert not seg.exists() or seg.stat().st_size == 0  # nothing reached the disk yet
    assert log.flushed_offset() == 0
    cache.flush()
    assert seg.stat().st_size == log.batches[0].size
    assert log.flushed_offset() == 1 and not cache.unflushed()
    assert cache.stats["fsyncs"] >= 1


def test_process_crash_keeps_the_page_cache_power_loss_keeps_only_flushed_bytes(tmp_path):
    cache, log = new_log(tmp_path)
    log.append_as_leader([1], 0)
    cache.flush()
    log.append_as_leader([2], 0)
    # kill -9: the broker's memory is gone, the host's page cache is not
    after_crash, rep = PartitionLog.load(cache, clean=False)
    assert after_crash.observed() and [b.records for b in after_crash.batches] == [(1,), (2,)]
    assert rep.truncated is None
    # power loss: the unflushed batch never reached the disk
    cache.power_loss()
    after_power, rep = PartitionLog.load(cache, clean=False)
    assert [b.records for b in after_power.batches] == [(1,)]
    assert after_power.leo == 1 and after_power.flushed_offset() == 1


def test_recovery_cuts_a_torn_batch_left_by_a_power_loss(tmp_path):
    cache, log = new_log(tmp_path)
    log.append_as_leader([1], 0)
    cache.flush()
    log.append_as_leader([2, 3], 0)
    seg = log.active_segment
    durable = cache.durable_len(seg)
    cache.power_loss(torn={seg: 40})  # 40 of the next batch's bytes reached the disk
    assert (tmp_path / seg).stat().st_size == durable + 40
    log2, rep = PartitionLog.load(cache, clean=False)
    assert log2.leo == 1 and rep.truncated and "torn" in rep.truncated and rep.truncated_bytes == 40
    cache.materialize()
    assert (tmp_path / seg).stat().st_size == durable  # cut on disk too
    # and the log goes on from there, readable by kafka-python
    log2.append_as_leader([4], 1)
    cache.sync_all()
    bs = kafka_batches(tmp_path / seg)
    assert [b.base_offset for b in bs] == [0, 1] and all(b.validate_crc() for b in bs)
    assert [[r.value for r in b] for b in bs] == [[b"1"], [b"4"]]


def test_recovery_stops_at_the_first_bad_crc_and_drops_later_segments(tmp_path):
    cache, log = new_log(tmp_path, segment_bytes=150)
    for i in range(1, 7):
        log.append_as_leader([i], 0)
    cache.flush()
    files = segment_files(tmp_path)
    assert len(files) >= 3
    victim = log.batches[2]
    p = tmp_path / victim.segment
    data = bytearray(p.read_bytes())
    data[victim.position + victim.size - 3] ^= 0xFF  # corrupt a record of batch 2 on disk
    p.write_bytes(bytes(data))
    fresh = HostPageCache(tmp_path)  # another boot of the host: nothing cached
    log2, rep = PartitionLog.load(fresh, clean=False)
    assert log2.leo == 2 and "CRC" in rep.truncated
    assert rep.deleted_segments >= 1
    fresh.materialize()
    for f in segment_files(tmp_path):
        assert all(b.validate_crc() for b in kafka_batches(f))
    assert sum(len(kafka_batches(f)) for f in segment_files(tmp_path)) == 2


def test_clean_shutdown_trusts_the_log_unclean_validates_from_the_recovery_point(tmp_path):
    cache, log = new_log(tmp_path)
    for i in range(1, 4):
        log.append_as_leader([i], 0)
    log.flush()  # Kafka's own flush: recovery point = 3
    log.append_as_leader([4], 0)
    _, rep = PartitionLog.load(cache, clean=False)
    assert rep.recovery_point == 3 and rep.validated_batches == 1
    _, rep = PartitionLog.load(cache, clean=True)
    assert rep.validated_batches == 0


# -------------------------------------------------------------------------- segments
def test_segments_roll_at_segment_bytes_and_each_is_a_kafka_log(tmp_path):
    cache, log = new_log(tmp_path, segment_bytes=200)
    for i in range(1, 11):
        log.append_as_leader([i], i // 4, producer_id=1000, producer_epoch=0, base_sequence=i - 1,
                             timestamp=1_700_000_000_000 + i)
    cache.sync_all()
    files = segment_files(tmp_path)
    assert len(files) >= 3
    offset = 0
    for f in files:
        assert int(os.path.basename(f)[:-4]) == offset  # named by base offset
        assert os.path.getsize(f) <= 200
        for b in kafka_batches(f):
            assert b.validate_crc() and b.magic == 2
            assert b.base_offset == offset
            assert b.leader_epoch == (offset + 1) // 4
            assert (b.producer_id, b.producer_epoch, b.base_sequence) == (1000, 0, offset)
            assert b.first_timestamp == 1_700_000_000_000 + offset + 1
            assert [r.value for r in b] == [str(offset + 1).encode()]
            offset += 1
    assert offset == 10


def test_truncation_is_batch_aligned_and_durable(tmp_path):
    cache, log = new_log(tmp_path, segment_bytes=150)
    for i in range(0, 8, 2):
        log.append_as_leader([i + 1, i + 2], 0)
    cache.flush()
    n_before = len(segment_files(tmp_path))
    assert log.truncate_to(5) == 4  # offset 5 is inside the batch [4, 6): the batch goes
    assert [b.records for b in log.batches] == [(1, 2), (3, 4)]
    assert len(log.segments) < n_before
    cache.power_loss()  # truncation does not come undone
    log2, _ = PartitionLog.load(cache, clean=False)
    assert log2.leo == 4 and log2.flushed_offset() == 4


# ------------------------------------------------------------------------ checkpoints
def test_checkpoint_files_use_kafkas_text_format(tmp_path):
    cache, log = new_log(tmp_path)
    log.append_as_leader([1], 0)
    log.append_as_leader([2], 0)
    log.append_as_leader([3], 4)
    log.flush()
    cache.materialize()
    assert (tmp_path / EPOCH_CHECKPOINT).read_text() == "0\n2\n0 0\n4 2\n"
    assert (tmp_path / RECOVERY_CHECKPOINT).read_text() == "0\n1\ntopic 0 3\n"
    assert checkpoints.parse_epochs(b"0\n2\n0 0\n4 2\n") == [(0, 0), (4, 2)]
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.parse_offsets(b"1\n1\ntopic 0 3\n", "x")


def test_flush_interval_messages_fsyncs_as_kafka_does(tmp_path):
    cache, log = new_log(tmp_path, flush_interval=2)
    log.append_as_leader([1], 0)
    assert log.flushed_offset() == 0 and log.recovery_point == 0
    log.append_as_leader([2], 0)
    assert log.flushed_offset() == 2 and log.recovery_point == 2
    cache.power_loss()
    assert PartitionLog.load(cache, clean=False)[0].leo == 2


# --------------------------------------------------------------- epochs and producers
def test_leader_epoch_cache_end_offsets():
    c = LeaderEpochCache()
    for e, s in [(0, 0), (0, 3), (2, 3), (5, 7)]:
        c.assign(e, s)
    assert c.entries == [(0, 0), (2, 3), (5, 7)]
    assert c.end_offset_for(0, 10) == 3 and c.end_offset_for(1, 10) == 3 and c.end_offset_for(5, 10) == 10
    assert c.largest_at_most(4) == 2 and c.largest_at_most(-1) is None
    c.assign(1, 9)  # non-monotonic: the entries it contradicts go
    assert c.entries == [(0, 0), (1, 9)]
    c.truncate_from_end(3)
    assert c.entries == [(0, 0)]


def test_producer_state_is_rebuilt_from_the_log_with_a_five_batch_window(tmp_path):
    cache, log = new_log(tmp_path)
    for seq in range(7):
        log.append_as_leader([seq + 1], 0, producer_id=1000, producer_epoch=0, base_sequence=seq)
    log2, _ = PartitionLog.load(cache, clean=False)
    ps = log2.producers
    assert ps.check(1000, 0, 6, 1) == (DUPLICATE, 6)
    assert ps.check(1000, 0, 2, 1) == (DUPLICATE, 2)
    assert ps.check(1000, 0, 1, 1) == (OUT_OF_ORDER, -1)  # outside the 5-batch window
    assert ps.check(1000, 0, 7, 1) == (APPEND, -1)
    assert ps.check(1000, 0, 9, 1) == (OUT_OF_ORDER, -1)
    assert ps.check(1000, 1, 0, 1) == (APPEND, -1)  # a new epoch starts at 0
    assert ps.check(1000, 1, 3, 1) == (OUT_OF_ORDER, -1)
    assert ps.check(1001, 0, 42, 1) == (APPEND, -1)  # no state: anything goes (docs/kafka.md, section 3, rule 4)
    log2.append_as_leader([8], 0, producer_id=1000, producer_epoch=1, base_sequence=0)
    assert log2.producers.check(1000, 0, 7, 1) == (INVALID_EPOCH, -1)


# ----------------------------------------------------------------- cluster, end to end
def cfg(**bounds):
    b = {"max_records": 2, "max_crashes": 2, "max_power_losses": 1, "max_elections": 1}
    b.update(bounds)
    return make_config({"acks": "1"}, **b)


def test_cluster_crash_keeps_acked_record_power_loss_loses_it(tmp_path):
    c = Cluster(cfg(), tmp_path / "a", segment_bytes=300)
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("producer_receive", 0, 1),
              ("crash", 0)]:
        c.apply(a)
    assert c.replica(0).log_end_offset == 1 and not c.replica(0).alive  # page cache kept it
    c.apply(("restart", 0))
    assert c.nodes[0].leo == 1 and c.nodes[0].recovery.truncated is None
    c.apply(("power_loss", 0))  # the same record, never flushed, is gone
    rep = c.replica(0)
    assert (rep.alive, rep.log_end_offset, rep.flushed_offset) == (False, 0, 0)
    c.apply(("restart", 0))
    assert c.nodes[0].leo == 0
    with pytest.raises(ActionNotEnabled, match="power-loss budget"):
        c.apply(("power_loss", 1))
    c.close()
    assert os.path.exists(tmp_path / "a" / "broker-0" / CLEAN_SHUTDOWN)


def test_cluster_rejects_actions_that_are_not_enabled(tmp_path):
    c = Cluster(cfg(), tmp_path / "b")
    with pytest.raises(ActionNotEnabled, match="no response"):
        c.apply(("producer_receive", 0, 1))
    with pytest.raises(ActionNotEnabled, match="does not believe it leads"):
        c.apply(("producer_send", 0, 1))
    with pytest.raises(ActionNotEnabled, match="not down"):
        c.apply(("restart", 2))
    with pytest.raises(ActionNotEnabled, match="unknown action"):
        c.apply(("teleport", 1))
    assert ("producer_send", 0, 0) in c.enabled_actions()


def test_follower_copies_the_leaders_bytes(tmp_path):
    c = Cluster(cfg(), tmp_path / "c")
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1)]:
        c.apply(a)
    c.close()
    lead = Path(segment_files(tmp_path / "c" / "broker-0")[0]).read_bytes()
    foll = Path(segment_files(tmp_path / "c" / "broker-1")[0]).read_bytes()
    assert lead == foll and records.decode_batch(foll).record_ids == (1,)
