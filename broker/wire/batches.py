"""Client record batches (magic 2) as they arrive in Produce requests, and the batches
Fetch answers with.

The reference broker stores records by id (records.py: a record's value is its id as
ASCII, keys null, no headers - what the model and invariants reason about). A real
client's records carry keys, values, headers and timestamps: the front end gives every
record it takes a fresh id, keeps the client's content under that id (`ContentStore`),
and hands the broker the ids - so offsets, epochs, producer ids and sequence numbers,
deduplication, replication, truncation and recovery are the broker's own. A Fetch reads
the batch from the leader's segment (its offsets, leader epoch, producer fields) and
answers with a batch of the same header carrying the clients' content (a fresh CRC-32C).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import crc32c

from ackcheck.broker import records

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE = 0x08
TRANSACTIONAL = 0x10
CONTROL = 0x20


class BadBatch(ValueError):
    """A produce payload the leader refuses; `error` is the Kafka error name."""

    def __init__(self, error: str, message: str):
        super().__init__(message)
        self.error = error


class ClientRecord(NamedTuple):
    key: bytes | None
    value: bytes | None
    headers: bytes  # the encoded headers (count varint + entries), kept as they came
    timestamp: int


class ClientBatch(NamedTuple):
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: tuple[ClientRecord, ...]


def _read_bytes(buf, p: int, end: int) -> tuple[bytes | None, int]:
    n, p = records.read_varint(buf, p)
    if n < 0:
        return None, p
    if p + n > end:
        raise records.CorruptBatch("a record field overruns its record")
    return bytes(buf[p:p + n]), p + n


def parse_produce_records(buf: bytes | None, max_bytes: int) -> ClientBatch:
    """Validate a Produce request's records for one partition (LogValidator): exactly one
    batch of magic 2, whole, CRC-32C intact, uncompressed, not transactional."""
    if not buf:
        raise BadBatch("INVALID_RECORD", "no records")
    if len(buf) > max_bytes:
        raise BadBatch("MESSAGE_TOO_LARGE", f"a batch of {len(buf)} bytes > message.max.bytes {max_bytes}")
    if len(buf) >= 17 and buf[16] != records.MAGIC:
        raise BadBatch("UNSUPPORTED_FOR_MESSAGE_FORMAT", f"magic {buf[16]}: only record batch v2 is served")
    try:
        h = records.read_header(buf, 0)
        records.check_crc(buf, 0, h)
    except records.CorruptBatch as e:
        raise BadBatch("CORRUPT_MESSAGE", str(e)) from e
    if h.size != len(buf):
        # Produce v3+ carries exactly one batch per partition (LogValidator)
        raise BadBatch("INVALID_RECORD", "a produce request must hold exactly one record batch")
    if h.attributes & COMPRESSION_MASK:
        raise BadBatch("UNSUPPORTED_COMPRESSION_TYPE",
                       "compressed batches are not served by the reference broker (compression.type=none)")
    if h.attributes & (TRANSACTIONAL | CONTROL):
        raise BadBatch("INVALID_RECORD", "transactional batches are not served by the reference broker")
    out = []
    p = records.HEADER_SIZE
    try:
        for i in range(h.records_count):
            length, p = records.read_varint(buf, p)
            start, end = p, p + length
            if length < 0 or end > len(buf):
                raise records.CorruptBatch(f"record {i} overruns the batch")
            p += 1  # attributes
            tdelta, p = records.read_varint(buf, p)
            odelta, p = records.read_varint(buf, p)
            if odelta != i:
                raise records.CorruptBatch(f"record {i} has offset delta {odelta}")
            key, p = _read_bytes(buf, p, end)
            value, p = _read_bytes(buf, p, end)
            hdr_start = p
            nh, p = records.read_varint(buf, p)
            if nh < 0 or nh > length:
                raise records.CorruptBatch(f"record {i} has {nh} headers")
            for _ in range(nh):
                _, p = _read_bytes(buf, p, end)  # header key
                _, p = _read_bytes(buf, p, end)  # header value
            if p != end:
                raise records.CorruptBatch(f"record {i} is malformed")
            out.append(ClientRecord(key, value, bytes(buf[hdr_start:end]), h.base_timestamp + tdelta))
            del start
        if p != len(buf):
            raise records.CorruptBatch(f"{len(buf) - p} bytes after the last record")
    except records.CorruptBatch as e:
        raise BadBatch("CORRUPT_MESSAGE", str(e)) from e
    return ClientBatch(h.producer_id, h.producer_epoch, h.base_sequence, tuple(out))


def _put_bytes(out: bytearray, b: bytes | None) -> None:
    if b is None:
        records.write_varint(out, -1)
    else:
        records.write_varint(out, len(b))
        out += b


def encode_fetched_batch(stored: records.BatchHeader, contents: list[ClientRecord]) -> bytes:
    """The batch a consumer receives: the stored batch's header (offsets, leader epoch,
    producer fields) with the clients' records (keys, values, headers, timestamps)."""
    base_ts = min((c.timestamp for c in contents), default=stored.base_timestamp)
    max_ts = max((c.timestamp for c in contents), default=stored.max_timestamp)
    body = bytearray()
    for delta, c in enumerate(contents):
        rec = bytearray(b"\x00")
        records.write_varint(rec, c.timestamp - base_ts)
        records.write_varint(rec, delta)
        _put_bytes(rec, c.key)
        _put_bytes(rec, c.value)
        rec += c.headers or b"\x00"
        records.write_varint(body, len(rec))
        body += rec
    n = len(contents)
    head = records.HEADER.pack(
        stored.base_offset, records.HEADER_SIZE - records.LOG_OVERHEAD + len(body), stored.partition_leader_epoch,
        records.MAGIC, 0, 0, n - 1, base_ts, max_ts, stored.producer_id, stored.producer_epoch,
        stored.base_sequence, n)
    buf = bytearray(head) + body
    struct.pack_into(">I", buf, 17, crc32c.crc32c(memoryview(buf)[records.CRC_START:]))
    return bytes(buf)


class ContentStore:
    """Record id -> the client's record. Ids are handed out in order from 1 (the broker's
    record ids); the store is the front end's, not a broker's memory: a crash or power loss
    of a broker decides which ids survive in its log, never what an id means."""

    def __init__(self):
        self.items: list[ClientRecord] = []

    def add(self, recs) -> tuple[int, ...]:
        first = len(self.items) + 1
        self.items.extend(recs)
        return tuple(range(first, first + len(recs)))

    def get(self, rid: int) -> ClientRecord:
        return self.items[rid - 1]
