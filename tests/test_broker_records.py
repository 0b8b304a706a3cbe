"""Record batch v2: our encoder read back by kafka-python (an independent implementation)."""

from __future__ import annotations

import struct

import crc32c
import pytest
from kafka.record.memory_records import MemoryRecords

from ackcheck.broker import records


def read_with_kafka_python(data: bytes) -> list:
    mr = MemoryRecords(data)
    out = []
    while True:
        b = mr.next_batch()
        if b is None:
            return out
        out.append(b)


def test_every_header_field_and_record_as_kafka_python_reads_them():
    raw = records.encode_batch(17, 5, records.record_values([3, 4, 12]), producer_id=1000, producer_epoch=2,
                               base_sequence=41, base_timestamp=1_700_000_000_123)
    (b,) = read_with_kafka_python(raw)
    assert b.validate_crc()
    assert b.magic == 2
    assert b.base_offset == 17
    assert b.leader_epoch == 5  # partitionLeaderEpoch
    assert b.size_in_bytes == len(raw)  # batchLength + 12
    assert b.attributes == 0 and b.compression_type == 0 and not b.is_transactional and not b.is_control_batch
    assert b.last_offset_delta == 2 and b.next_offset == 20
    assert b.first_timestamp == b.max_timestamp == 1_700_000_000_123
    assert b.producer_id == 1000 and b.producer_epoch == 2 and b.base_sequence == 41
    assert b.records_count == 3
    recs = list(b)
    assert [r.offset for r in recs] == [17, 18, 19]
    assert [r.value for r in recs] == [b"3", b"4", b"12"]
    assert all(r.key is None and r.headers == [] for r in recs)
    assert all(r.timestamp == 1_700_000_000_123 for r in recs)
    # the CRC is CRC-32C over attributes..end, stored big-endian at byte 17
    assert struct.unpack_from(">I", raw, 17)[0] == crc32c.crc32c(raw[21:]) == b.crc


def test_non_idempotent_batch_carries_no_producer_fields():
    (b,) = read_with_kafka_python(records.encode_batch(0, 0, [b"1"]))
    assert (b.producer_id, b.producer_epoch, b.base_sequence) == (-1, -1, -1)
    assert b.validate_crc()


def test_our_decoder_agrees_and_round_trips_several_batches():
    raw = b"".join([
        records.encode_batch(0, 0, records.record_values([1, 2])),
        records.encode_batch(2, 3, records.record_values([3]), producer_id=7, producer_epoch=0, base_sequence=2),
    ])
    ours = [(pos, d.header.base_offset, d.header.partition_leader_epoch, d.record_ids)
            for pos, d in records.iter_batches(raw)]
    theirs = read_with_kafka_python(raw)
    assert [(o[1], o[2]) for o in ours] == [(b.base_offset, b.leader_epoch) for b in theirs]
    assert [o[3] for o in ours] == [(1, 2), (3,)]
    assert ours[1][0] == theirs[0].size_in_bytes


@pytest.mark.parametrize("n", [0, 1, -1, 63, -64, 64, 300, -300, 2**31 - 1, -(2**31), 2**40])
def test_varints_are_zigzag(n):
    out = bytearray()
    records.write_varint(out, n)
    assert records.read_varint(out, 0) == (n, len(out))


def test_a_flipped_byte_fails_the_crc_for_both_readers():
    raw = bytearray(records.encode_batch(0, 1, records.record_values([5, 6])))
    raw[-4] ^= 0x01  # inside a record value
    with pytest.raises(records.CorruptBatch, match="CRC"):
        records.decode_batch(raw)
    (b,) = read_with_kafka_python(bytes(raw))
    assert not b.validate_crc()


def test_torn_batches_are_rejected():
    raw = records.encode_batch(0, 1, records.record_values([5, 6]))
    for cut in (1, 30, 61, len(raw) - 1):
        with pytest.raises(records.CorruptBatch, match="torn"):
            records.decode_batch(raw[:cut])
    bad_magic = bytearray(raw)
    bad_magic[16] = 1
    with pytest.raises(records.CorruptBatch, match="magic"):
        records.decode_batch(bad_magic)
