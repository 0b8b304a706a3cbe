"""The Kafka APIs the front end serves: request decoders and response encoders for the
non-flexible versions of each, written from Kafka's message schemas
(clients/src/main/resources/common/message/<Name>Request.json / <Name>Response.json).

Versions are those the three Python-reachable clients negotiate (kafka-python, aiokafka,
librdkafka): each client takes min(its max, ours). The flexible versions (KIP-482:
compact strings, tagged fields) are not served, except that an ApiVersions request of
any version is answered - with UNSUPPORTED_VERSION in the v0 layout and the list of
supported versions, as KIP-511 prescribes, when it is newer than ours.
"""

from __future__ import annotations

from typing import NamedTuple

from ackcheck.broker.wire.codec import ProtocolError, Reader, Writer

# api key -> (name, min version, max version, first flexible version)
PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR = 8, 9, 10
JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14
API_VERSIONS, INIT_PRODUCER_ID = 18, 22

APIS: dict[int, tuple[str, int, int, int]] = {
    PRODUCE: ("Produce", 3, 8, 9),  # v3: record batch v2 only (KIP-98)
    FETCH: ("Fetch", 4, 11, 12),  # v4: isolation level, record batch v2
    LIST_OFFSETS: ("ListOffsets", 1, 5, 6),
    METADATA: ("Metadata", 1, 8, 9),
    OFFSET_COMMIT: ("OffsetCommit", 2, 7, 8),
    OFFSET_FETCH: ("OffsetFetch", 1, 5, 6),
    FIND_COORDINATOR: ("FindCoordinator", 0, 2, 3),
    JOIN_GROUP: ("JoinGroup", 0, 5, 6),
    HEARTBEAT: ("Heartbeat", 0, 3, 4),
    LEAVE_GROUP: ("LeaveGroup", 0, 3, 4),
    SYNC_GROUP: ("SyncGroup", 0, 3, 4),
    API_VERSIONS: ("ApiVersions", 0, 2, 3),
    INIT_PRODUCER_ID: ("InitProducerId", 0, 1, 2),
}

# org.apache.kafka.common.protocol.Errors
ERRORS = {
    "NONE": 0, "UNKNOWN_SERVER_ERROR": -1, "OFFSET_OUT_OF_RANGE": 1, "CORRUPT_MESSAGE": 2,
    "UNKNOWN_TOPIC_OR_PARTITION": 3, "LEADER_NOT_AVAILABLE": 5, "NOT_LEADER_OR_FOLLOWER": 6,
    "REQUEST_TIMED_OUT": 7, "MESSAGE_TOO_LARGE": 10, "COORDINATOR_NOT_AVAILABLE": 15, "NOT_COORDINATOR": 16,
    "INVALID_TOPIC_EXCEPTION": 17, "NOT_ENOUGH_REPLICAS": 19, "NOT_ENOUGH_REPLICAS_AFTER_APPEND": 20,
    "INVALID_REQUIRED_ACKS": 21, "ILLEGAL_GENERATION": 22, "INCONSISTENT_GROUP_PROTOCOL": 23,
    "UNKNOWN_MEMBER_ID": 25, "REBALANCE_IN_PROGRESS": 27, "UNSUPPORTED_VERSION": 35, "INVALID_REQUEST": 42,
    "OUT_OF_ORDER_SEQUENCE_NUMBER": 45, "DUPLICATE_SEQUENCE_NUMBER": 46, "INVALID_PRODUCER_EPOCH": 47,
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": 53, "UNKNOWN_PRODUCER_ID": 59, "FENCED_LEADER_EPOCH": 74,
    "UNKNOWN_LEADER_EPOCH": 75, "UNSUPPORTED_COMPRESSION_TYPE": 76, "INVALID_RECORD": 87,
}


def flexible(api_key: int, version: int) -> bool:
    spec = APIS.get(api_key)
    return spec is not None and version >= spec[3]


class Header(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


def parse_header(r: Reader) -> Header:
    """Request header v1 (v2 for flexible versions: + tagged fields). ControlledShutdown
    v0's header v0 is not served (a broker-to-controller API)."""
    api_key, version, corr = r.int16(), r.int16(), r.int32()
    client_id = r.nullable_string()
    if flexible(api_key, version):
        r.tagged_fields()
    return Header(api_key, version, corr, client_id)


def valid_name(name: str) -> bool:
    """Topic.validate: 1-249 of [a-zA-Z0-9._-], not "." or ".."."""
    import re
    return bool(re.match(r"^[a-zA-Z0-9._-]{1,249}$", name)) and name not in (".", "..")


def supported(api_key: int, version: int) -> bool:
    spec = APIS.get(api_key)
    return spec is not None and spec[1] <= version <= spec[2]


# ================================================================== ApiVersions (18)
def encode_api_versions(version: int, error: int) -> bytes:
    w = Writer().int16(error)
    w.array(sorted(APIS.items()), lambda w, kv: w.int16(kv[0]).int16(kv[1][1]).int16(kv[1][2]))
    if version >= 1 and error == 0:
        w.int32(0)  # throttle_time_ms
    return w.getvalue()


# ===================================================================== Metadata (3)
class MetadataRequest(NamedTuple):
    topics: list[str] | None  # None: every topic
    allow_auto_topic_creation: bool


def parse_metadata(r: Reader, v: int) -> MetadataRequest:
    topics = r.array(Reader.string, nullable=True)
    auto = r.boolean() if v >= 4 else True
    if v >= 8:
        r.boolean()  # include_cluster_authorized_operations
        r.boolean()  # include_topic_authorized_operations
    return MetadataRequest(topics, auto)


class PartitionMeta(NamedTuple):
    error: int
    index: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline: tuple[int, ...]


class TopicMeta(NamedTuple):
    error: int
    name: str
    partitions: list[PartitionMeta]


def encode_metadata(v: int, brokers: list[tuple[int, str, int]], cluster_id: str, controller_id: int,
                    topics: list[TopicMeta]) -> bytes:
    w = Writer()
    if v >= 3:
        w.int32(0)

    def broker(w, b):
        w.int32(b[0]).string(b[1]).int32(b[2])
        w.string(None)  # rack (v1+)

    w.array(brokers, broker)
    if v >= 2:
        w.string(cluster_id)
    w.int32(controller_id)

    def partition(w, p: PartitionMeta):
        w.int16(p.error).int32(p.index).int32(p.leader)
        if v >= 7:
            w.int32(p.leader_epoch)
        w.int32_array(p.replicas).int32_array(p.isr)
        if v >= 5:
            w.int32_array(p.offline)

    def topic(w, t: TopicMeta):
        w.int16(t.error).string(t.name).boolean(False)
        w.array(t.partitions, partition)
        if v >= 8:
            w.int32(-2147483648)  # topic_authorized_operations: not requested

    w.array(topics, topic)
    if v >= 8:
        w.int32(-2147483648)
    return w.getvalue()


# ====================================================================== Produce (0)
class ProducePartition(NamedTuple):
    topic: str
    index: int
    records: bytes | None


class ProduceRequest(NamedTuple):
    transactional_id: str | None
    acks: int
    timeout_ms: int
    partitions: list[ProducePartition]


def parse_produce(r: Reader, v: int) -> ProduceRequest:
    txn = r.nullable_string()
    acks, timeout = r.int16(), r.int32()
    parts: list[ProducePartition] = []
    for _ in range(r.count()):
        name = r.string()
        for _ in range(r.count()):
            parts.append(ProducePartition(name, r.int32(), r.nullable_bytes()))
    return ProduceRequest(txn, acks, timeout, parts)


class ProduceResult(NamedTuple):
    topic: str
    index: int
    error: int
    base_offset: int
    message: str | None = None


def _grouped(items, key):
    out: dict = {}
    for x in items:
        out.setdefault(key(x), []).append(x)
    return list(out.items())


def encode_produce(v: int, results: list[ProduceResult]) -> bytes:
    w = Writer()

    def part(w, p: ProduceResult):
        w.int32(p.index).int16(p.error).int64(p.base_offset)
        w.int64(-1)  # log_append_time_ms: CreateTime topics answer -1
        if v >= 5:
            w.int64(0)  # log_start_offset (no retention: always 0)
        if v >= 8:
            w.array([], None)  # record_errors
            w.string(p.message)

    w.array(_grouped(results, lambda p: p.topic), lambda w, kv: (w.string(kv[0]), w.array(kv[1], part)))
    w.int32(0)  # throttle_time_ms
    return w.getvalue()


# ======================================================================== Fetch (1)
class FetchPartition(NamedTuple):
    topic: str
    index: int
    current_leader_epoch: int
    fetch_offset: int
    max_bytes: int


class FetchRequest(NamedTuple):
    replica_id: int
    max_wait_ms: int
    min_bytes: int
    max_bytes: int
    isolation_level: int
    partitions: list[FetchPartition]


def parse_fetch(r: Reader, v: int) -> FetchRequest:
    replica, max_wait, min_bytes, max_bytes = r.int32(), r.int32(), r.int32(), r.int32()
    isolation = r.int8()
    if v >= 7:
        r.int32()  # session_id
        r.int32()  # session_epoch
    parts: list[FetchPartition] = []
    for _ in range(r.count()):
        name = r.string()
        for _ in range(r.count()):
            idx = r.int32()
            epoch = r.int32() if v >= 9 else -1
            offset = r.int64()
            if v >= 5:
                r.int64()  # log_start_offset (a follower's)
            parts.append(FetchPartition(name, idx, epoch, offset, r.int32()))
    if v >= 7:
        for _ in range(r.count()):  # forgotten_topics_data
            r.string()
            r.array(Reader.int32)
    if v >= 11:
        r.string()  # rack_id
    return FetchRequest(replica, max_wait, min_bytes, max_bytes, isolation, parts)


class FetchResult(NamedTuple):
    topic: str
    index: int
    error: int
    high_watermark: int
    records: bytes | None


def encode_fetch(v: int, results: list[FetchResult]) -> bytes:
    """No fetch session is created (session_id 0): every request is a full fetch, as a
    broker with a full session cache answers (KIP-227)."""
    w = Writer().int32(0)
    if v >= 7:
        w.int16(0).int32(0)

    def part(w, p: FetchResult):
        w.int32(p.index).int16(p.error).int64(p.high_watermark)
        w.int64(p.high_watermark)  # last_stable_offset: no transactions, = HW
        if v >= 5:
            w.int64(0)  # log_start_offset
        w.int32(-1)  # aborted_transactions: null
        if v >= 11:
            w.int32(-1)  # preferred_read_replica
        w.bytes_(p.records)

    w.array(_grouped(results, lambda p: p.topic), lambda w, kv: (w.string(kv[0]), w.array(kv[1], part)))
    return w.getvalue()


# ================================================================== ListOffsets (2)
class ListOffsetsPartition(NamedTuple):
    topic: str
    index: int
    current_leader_epoch: int
    timestamp: int


def parse_list_offsets(r: Reader, v: int) -> list[ListOffsetsPartition]:
    r.int32()  # replica_id
    if v >= 2:
        r.int8()  # isolation_level
    parts = []
    for _ in range(r.count()):
        name = r.string()
        for _ in range(r.count()):
            idx = r.int32()
            epoch = r.int32() if v >= 4 else -1
            parts.append(ListOffsetsPartition(name, idx, epoch, r.int64()))
    return parts


class ListOffsetsResult(NamedTuple):
    topic: str
    index: int
    error: int
    timestamp: int
    offset: int
    leader_epoch: int


def encode_list_offsets(v: int, results: list[ListOffsetsResult]) -> bytes:
    w = Writer()
    if v >= 2:
        w.int32(0)

    def part(w, p: ListOffsetsResult):
        w.int32(p.index).int16(p.error).int64(p.timestamp).int64(p.offset)
        if v >= 4:
            w.int32(p.leader_epoch)

    w.array(_grouped(results, lambda p: p.topic), lambda w, kv: (w.string(kv[0]), w.array(kv[1], part)))
    return w.getvalue()


# =============================================================== InitProducerId (22)
def parse_init_producer_id(r: Reader, v: int) -> tuple[str | None, int]:
    return r.nullable_string(), r.int32()


def encode_init_producer_id(v: int, error: int, producer_id: int, producer_epoch: int) -> bytes:
    return Writer().int32(0).int16(error).int64(producer_id).int16(producer_epoch).getvalue()


# ============================================================== FindCoordinator (10)
def parse_find_coordinator(r: Reader, v: int) -> tuple[str, int]:
    key = r.string()
    return key, (r.int8() if v >= 1 else 0)


def encode_find_coordinator(v: int, error: int, node: tuple[int, str, int]) -> bytes:
    w = Writer()
    if v >= 1:
        w.int32(0)
    w.int16(error)
    if v >= 1:
        w.string(None)
    w.int32(node[0]).string(node[1]).int32(node[2])
    return w.getvalue()


# ======================================================= OffsetCommit / OffsetFetch (8, 9)
class OffsetCommitRequest(NamedTuple):
    group_id: str
    generation_id: int
    member_id: str
    offsets: list[tuple[str, int, int]]  # (topic, partition, offset)


def parse_offset_commit(r: Reader, v: int) -> OffsetCommitRequest:
    group, gen, member = r.string(), r.int32(), r.string()
    if v >= 7:
        r.nullable_string()  # group_instance_id
    if v <= 4:
        r.int64()  # retention_time_ms
    offsets = []
    for _ in range(r.count()):
        name = r.string()
        for _ in range(r.count()):
            idx, off = r.int32(), r.int64()
            if v >= 6:
                r.int32()  # committed_leader_epoch
            r.nullable_string()  # committed_metadata
            offsets.append((name, idx, off))
    return OffsetCommitRequest(group, gen, member, offsets)


def encode_offset_commit(v: int, results: list[tuple[str, int, int]]) -> bytes:
    w = Writer()
    if v >= 3:
        w.int32(0)
    w.array(_grouped(results, lambda p: p[0]),
            lambda w, kv: (w.string(kv[0]), w.array(kv[1], lambda w, p: w.int32(p[1]).int16(p[2]))))
    return w.getvalue()


def parse_offset_fetch(r: Reader, v: int) -> tuple[str, list[tuple[str, int]] | None]:
    group = r.string()
    n = r.count(nullable=v >= 2)
    if n is None:
        return group, None
    parts = []
    for _ in range(n):
        name = r.string()
        parts += [(name, i) for i in r.array(Reader.int32)]
    return group, parts


def encode_offset_fetch(v: int, results: list[tuple[str, int, int]], error: int = 0) -> bytes:
    """results: (topic, partition, committed offset or -1)."""
    w = Writer()
    if v >= 3:
        w.int32(0)

    def part(w, p):
        w.int32(p[1]).int64(p[2])
        if v >= 5:
            w.int32(-1)
        w.string("").int16(0)

    w.array(_grouped(results, lambda p: p[0]), lambda w, kv: (w.string(kv[0]), w.array(kv[1], part)))
    if v >= 2:
        w.int16(error)
    return w.getvalue()


def expect_end(r: Reader, api: str) -> None:
    if r.remaining():
        raise ProtocolError(f"{r.remaining()} bytes after the end of the {api} request")


# ============================================= group membership (11, 14, 12, 13)
class JoinGroupRequest(NamedTuple):
    group_id: str
    session_timeout_ms: int
    member_id: str
    protocol_type: str
    protocols: list[tuple[str, bytes]]


def parse_join_group(r: Reader, v: int) -> JoinGroupRequest:
    group, session = r.string(), r.int32()
    if v >= 1:
        r.int32()  # rebalance_timeout_ms
    member = r.string()
    if v >= 5:
        r.nullable_string()  # group_instance_id (static membership is not served)
    ptype = r.string()
    protocols = r.array(lambda r: (r.string(), r.bytes_()))
    return JoinGroupRequest(group, session, member, ptype, protocols)


def encode_join_group(v: int, error: int, generation: int, protocol: str, leader: str, member_id: str,
                      members: list[tuple[str, bytes]]) -> bytes:
    w = Writer()
    if v >= 2:
        w.int32(0)
    w.int16(error).int32(generation).string(protocol).string(leader).string(member_id)

    def member(w, m):
        w.string(m[0])
        if v >= 5:
            w.string(None)
        w.bytes_(m[1])

    w.array(members, member)
    return w.getvalue()


def parse_sync_group(r: Reader, v: int) -> tuple[str, int, str, dict[str, bytes]]:
    group, gen, member = r.string(), r.int32(), r.string()
    if v >= 3:
        r.nullable_string()
    assignments = dict(r.array(lambda r: (r.string(), r.bytes_())))
    return group, gen, member, assignments


def encode_sync_group(v: int, error: int, assignment: bytes) -> bytes:
    w = Writer()
    if v >= 1:
        w.int32(0)
    return w.int16(error).bytes_(assignment).getvalue()


def parse_heartbeat(r: Reader, v: int) -> tuple[str, int, str]:
    group, gen, member = r.string(), r.int32(), r.string()
    if v >= 3:
        r.nullable_string()
    return group, gen, member


def encode_error_only(v: int, error: int) -> bytes:
    """Heartbeat / LeaveGroup (v0-v2) answers: throttle_time_ms (v1+), error_code."""
    w = Writer()
    if v >= 1:
        w.int32(0)
    return w.int16(error).getvalue()


def parse_leave_group(r: Reader, v: int) -> tuple[str, list[str]]:
    group = r.string()
    if v <= 2:
        return group, [r.string()]
    return group, [m for m, _ in r.array(lambda r: (r.string(), r.nullable_string()))]


def encode_leave_group(v: int, error: int, members: list[str]) -> bytes:
    if v <= 2:
        return encode_error_only(v, error)
    w = Writer().int32(0).int16(error)
    w.array(members, lambda w, m: w.string(m).string(None).int16(0))
    return w.getvalue()
