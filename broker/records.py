"""Kafka's record batch format v2 (magic 2), written and read without Kafka's code.

```
RecordBatch =>                                    (big-endian, fixed 61-byte header)
  baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (=2)
  crc uint32  (CRC-32C over everything from attributes to the end of the batch)
  attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64
  producerId int64 | producerEpoch int16 | baseSequence int32 | records count int32
  records: [Record]
Record =>                                          (varints are zig-zag encoded)
  length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
  keyLength varint (-1: null) | key | valueLength varint | value | headers count varint
```
`batchLength` counts the bytes after itself (from partitionLeaderEpoch on), so a batch
occupies `batchLength + 12` bytes. Record values are the record ids as ASCII ("1", "2",
...): ackcheck's records are identified by their id.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import crc32c

MAGIC = 2
HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the bytes batchLength does not count
CRC_START = 21  # offset of `attributes`: the CRC covers [21, end)
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1


class CorruptBatch(ValueError):
    """A batch that fails validation (torn, bad CRC, bad magic, inconsistent lengths)."""


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        return self.batch_length + LOG_OVERHEAD

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1


class DecodedBatch(NamedTuple):
    header: BatchHeader
    values: tuple[bytes, ...]
    keys: tuple[bytes | None, ...]
    offset_deltas: tuple[int, ...]
    timestamp_deltas: tuple[int, ...]

    @property
    def record_ids(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.values)


# ------------------------------------------------------------------------------ varints
def zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def write_varint(out: bytearray, n: int) -> None:
    v = zigzag(n) & 0xFFFFFFFFFFFFFFFF
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def read_varint(buf, pos: int) -> tuple[int, int]:
    shift = 0
    v = 0
    while True:
        if pos >= len(buf):
            raise CorruptBatch("varint runs past the end of the batch")
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise CorruptBatch("varint longer than 10 bytes")
    return (v >> 1) ^ -(v & 1), pos


# ------------------------------------------------------------------------------ encoding
def encode_batch(
    base_offset: int,
    leader_epoch: int,
    values: list[bytes] | tuple[bytes, ...],
    *,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
    base_sequence: int = NO_SEQUENCE,
    base_timestamp: int = 0,
) -> bytes:
    """One uncompressed batch holding `values` (keys null, no headers), CreateTime stamps."""
    if not values:
        raise ValueError("a batch holds at least one record")
    body = bytearray()
    for delta, value in enumerate(values):
        rec = bytearray()
        rec.append(0)  # record attributes (int8, unused)
        write_varint(rec, 0)  # timestampDelta: every record of a batch shares the timestamp
        write_varint(rec, delta)  # offsetDelta
        write_varint(rec, -1)  # key: null
        write_varint(rec, len(value))
        rec += value
        write_varint(rec, 0)  # headers
        write_varint(body, len(rec))
        body += rec
    n = len(values)
    head = HEADER.pack(
        base_offset, HEADER_SIZE - LOG_OVERHEAD + len(body), leader_epoch, MAGIC, 0,
        0, n - 1, base_timestamp, base_timestamp, producer_id, producer_epoch, base_sequence, n,
    )
    buf = bytearray(head)
    buf += body
    crc = crc32c.crc32c(memoryview(buf)[CRC_START:])
    struct.pack_into(">I", buf, 17, crc)
    return bytes(buf)


def record_values(record_ids) -> list[bytes]:
    return [str(r).encode("ascii") for r in record_ids]


# ------------------------------------------------------------------------------ decoding
def read_header(buf, pos: int = 0) -> BatchHeader:
    """The header of the batch at `pos`; raises CorruptBatch if it cannot be one."""
    if len(buf) - pos < HEADER_SIZE:
        raise CorruptBatch(f"torn batch header at byte {pos} ({len(buf) - pos} bytes left)")
    h = BatchHeader(*HEADER.unpack_from(buf, pos))
    if h.magic != MAGIC:
        raise CorruptBatch(f"magic {h.magic} at byte {pos} (expected {MAGIC})")
    if h.batch_length < HEADER_SIZE - LOG_OVERHEAD:
        raise CorruptBatch(f"batch length {h.batch_length} at byte {pos} is below the header size")
    if pos + h.size > len(buf):
        raise CorruptBatch(f"torn batch at byte {pos}: {h.size} bytes declared, {len(buf) - pos} present")
    if h.records_count < 1 or h.last_offset_delta != h.records_count - 1:
        raise CorruptBatch(f"batch at byte {pos}: {h.records_count} records, lastOffsetDelta {h.last_offset_delta}")
    return h


def check_crc(buf, pos: int, h: BatchHeader) -> None:
    crc = crc32c.crc32c(memoryview(buf)[pos + CRC_START:pos + h.size])
    if crc != h.crc:
        raise CorruptBatch(f"CRC mismatch in the batch at byte {pos} (stored {h.crc:#010x}, computed {crc:#010x})")


def decode_batch(buf, pos: int = 0, *, verify: bool = True) -> DecodedBatch:
    """Parse (and by default CRC-check) the batch at `pos`, records included."""
    h = read_header(buf, pos)
    if verify:
        check_crc(buf, pos, h)
    end = pos + h.size
    p = pos + HEADER_SIZE
    values, keys, deltas, tdeltas = [], [], [], []
    for i in range(h.records_count):
        length, p = read_varint(buf, p)
        start = p
        if length < 0 or start + length > end:
            raise CorruptBatch(f"record {i} of the batch at byte {pos} overruns the batch")
        p += 1  # attributes
        tdelta, p = read_varint(buf, p)
        odelta, p = read_varint(buf, p)
        klen, p = read_varint(buf, p)
        key = None
        if klen >= 0:
            key = bytes(buf[p:p + klen])
            p += klen
        vlen, p = read_varint(buf, p)
        if vlen < 0:
            raise CorruptBatch(f"record {i} of the batch at byte {pos} has a null value")
        value = bytes(buf[p:p + vlen])
        p += vlen
        nh, p = read_varint(buf, p)
        if nh != 0 or p != start + length or odelta != i:
            raise CorruptBatch(f"record {i} of the batch at byte {pos} is malformed")
        values.append(value)
        keys.append(key)
        deltas.append(odelta)
        tdeltas.append(tdelta)
    if p != end:
        raise CorruptBatch(f"the batch at byte {pos} has {end - p} trailing bytes")
    return DecodedBatch(h, tuple(values), tuple(keys), tuple(deltas), tuple(tdeltas))


def iter_batches(buf, pos: int = 0, *, verify: bool = True):
    """Yield (position, DecodedBatch) for each valid batch; stop at the end of `buf`.

    Raises CorruptBatch (with .position set) at the first invalid batch.
    """
    n = len(buf)
    while pos < n:
        try:
            d = decode_batch(buf, pos, verify=verify)
        except CorruptBatch as e:
            e.position = pos
            raise
        yield pos, d
        pos += d.header.size
