"""The wire front end (broker/wire/): real clients produce and consume through it, and
hostile bytes never crash or wedge it."""

from __future__ import annotations

import logging
import os
import random
import socket
import struct
import subprocess
import sys
import time

import pytest

from ackcheck.broker.wire import protocol as P
from ackcheck.broker.wire.codec import Reader, Writer
from ackcheck.broker.wire.server import serving
from ackcheck.traces.settings import Setting, build_config

logging.getLogger("kafka").setLevel(logging.CRITICAL)
kafka = pytest.importorskip("kafka", reason="kafka-python is not installed")


@pytest.fixture
def served(tmp_path):
    with serving(build_config([]), tmp_path / "data", brokers=3) as s:
        yield s


def _produce_and_read(boot: str, topic: str, n: int, **producer_kw) -> list[str]:
    from kafka import KafkaConsumer, KafkaProducer

    p = KafkaProducer(bootstrap_servers=boot, request_timeout_ms=5000, max_block_ms=10000, **producer_kw)
    try:
        for i in range(n):
            p.send(topic, str(i).encode()).get(timeout=10)
        p.flush(10)
    finally:
        p.close(timeout=2)
    c = KafkaConsumer(topic, bootstrap_servers=boot, auto_offset_reset="earliest", consumer_timeout_ms=3000,
                      request_timeout_ms=5000)
    try:
        return [m.value.decode() for m in c]
    finally:
        c.close()


def test_kafka_python_round_trip_acks_all(served):
    boot = served.bootstrap.split(",")[0]
    assert _produce_and_read(boot, "t", 10, acks="all") == [str(i) for i in range(10)]
    # every replica holds the ten records, in segment files the broker can read back
    t = served.live.topics["t"]
    for node in t.cluster.nodes:
        assert node.log.leo == 10
    assert served.front.stats["handler_errors"] == 0


def _request(api_key: int, version: int, corr: int, body: bytes = b"", client_id: str = "test") -> bytes:
    w = Writer().int16(api_key).int16(version).int32(corr).string(client_id)
    payload = w.getvalue() + body
    return struct.pack(">i", len(payload)) + payload


def _read_frame(s: socket.socket) -> bytes | None:
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    n = struct.unpack(">i", head)[0]
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _connect(served) -> socket.socket:
    host, port = served.bootstrap.split(",")[0].split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def test_api_versions_lists_what_is_served_and_answers_newer_probes_with_v0(served):
    with _connect(served) as s:
        s.sendall(_request(P.API_VERSIONS, 2, 7))
        r = Reader(_read_frame(s))
        assert r.int32() == 7 and r.int16() == 0
        keys = {k: (lo, hi) for k, lo, hi in (r.array(lambda r: (r.int16(), r.int16(), r.int16())))}
        assert keys[P.PRODUCE] == (3, 8) and keys[P.FETCH] == (4, 11)
        # a newer ApiVersions (flexible v3) gets UNSUPPORTED_VERSION in the v0 layout (KIP-511)
        s.sendall(_request(P.API_VERSIONS, 3, 8) + b"")
        r = Reader(_read_frame(s))
        assert r.int32() == 8 and r.int16() == P.ERRORS["UNSUPPORTED_VERSION"]


@pytest.mark.parametrize("bad", [
    struct.pack(">i", 2**31 - 1) + b"x" * 16,  # absurd size
    struct.pack(">i", -5),  # negative size
    struct.pack(">i", 3) + b"abc",  # below the smallest header
    _request(999, 0, 1),  # unknown API key
    _request(P.PRODUCE, 1, 1),  # unsupported version
    _request(P.METADATA, 8, 1, b"\x00\x00\x00\x05ab"),  # truncated body
    _request(P.API_VERSIONS, 0, 1, b"garbage after the header"),
])
def test_hostile_frames_close_the_connection_and_the_broker_keeps_serving(served, bad):
    with _connect(served) as s:
        s.sendall(bad)
        assert _read_frame(s) is None  # closed, no answer
    with _connect(served) as s:  # the broker still answers
        s.sendall(_request(P.API_VERSIONS, 1, 2))
        assert Reader(_read_frame(s)).int32() == 2
    assert served.front.stats["handler_errors"] == 0


def test_a_frame_over_socket_request_max_bytes_is_refused_before_its_body(tmp_path):
    config = build_config([Setting("replication.factor", "1", "test")])
    with serving(config, tmp_path / "d", brokers=1, request_max_bytes=4096) as s:
        with _connect(s) as sock:
            sock.sendall(struct.pack(">i", 5000))  # the body never comes: no wait for it
            assert _read_frame(sock) is None
        assert s.front.stats["closed_bad_request"] == 1


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    b = bytearray(frame)
    kind = rng.randrange(5)
    if kind == 0:  # flip bytes after the size
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(4, len(b))
            b[i] = rng.randrange(256)
    elif kind == 1:  # truncate (size kept: the broker waits for bytes that never come)
        b = b[:rng.randrange(4, len(b))]
    elif kind == 2:  # garbage appended, size adjusted
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        struct.pack_into(">i", b, 0, len(b) - 4)
    elif kind == 3:  # a random size
        struct.pack_into(">i", b, 0, rng.choice([0, 1, 9, 2**31 - 1, -1, len(b) + 1000, rng.randrange(2**31)]))
    else:  # random api key / version
        struct.pack_into(">hh", b, 4, rng.randrange(-5, 80), rng.randrange(-2, 20))
    return bytes(b)


def _valid_requests() -> list[bytes]:
    from ackcheck.broker import records

    batch = records.encode_batch(0, 0, [b"1", b"2"])
    produce = Writer().string(None).int16(-1).int32(1000).int32(1).string("fz").int32(1).int32(0).bytes_(batch)
    fetch = (Writer().int32(-1).int32(10).int32(1).int32(1 << 20).int8(0).int32(0).int32(-1).int32(1).string("fz")
             .int32(1).int32(0).int32(-1).int64(0).int64(-1).int32(1 << 20).int32(0).string(""))
    metadata = Writer().int32(1).string("fz").boolean(True).boolean(False).boolean(False)
    lo = Writer().int32(-1).int8(0).int32(1).string("fz").int32(1).int32(0).int32(-1).int64(-2)
    return [_request(P.API_VERSIONS, 2, 1), _request(P.METADATA, 8, 2, metadata.getvalue()),
            _request(P.PRODUCE, 8, 3, produce.getvalue()), _request(P.FETCH, 11, 4, fetch.getvalue()),
            _request(P.LIST_OFFSETS, 5, 5, lo.getvalue()),
            _request(P.INIT_PRODUCER_ID, 1, 6, Writer().string(None).int32(1000).getvalue()),
            _request(P.FIND_COORDINATOR, 2, 7, Writer().string("g").int8(0).getvalue())]


def test_valid_hand_made_requests_are_answered(served):
    with _connect(served) as s:
        for req in _valid_requests():
            s.sendall(req)
            resp = _read_frame(s)
            assert resp is not None and Reader(resp).int32() == struct.unpack(">i", req[8:12])[0]


def test_fuzz_mutated_requests_then_a_real_client_still_round_trips(served):
    n = int(os.environ.get("ACKCHECK_WIRE_FUZZ", "2000"))
    rng = random.Random(20260)
    valid = _valid_requests()
    host, port = served.bootstrap.split(",")[0].split(":")
    sent = 0
    s = None
    deadline = time.monotonic() + 60
    while sent < n and time.monotonic() < deadline:
        if s is None:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.settimeout(0.01)
        try:
            s.sendall(_mutate(rng, rng.choice(valid)))
            sent += 1
            try:
                if not s.recv(65536):
                    raise ConnectionResetError
            except TimeoutError:
                # the broker waits for the rest of a truncated frame: start afresh
                s.close()
                s = None
        except OSError:
            if s is not None:
                s.close()
            s = None
    if s is not None:
        s.close()
    assert sent >= min(n, 500)
    stats = served.front.stats
    print(f"fuzz: {sent} mutated requests sent, {stats}, topics {len(served.live.topics)}")
    # the mutations reached the handlers, and many were refused there or at the frame
    assert stats["requests"] >= sent // 4 and stats["closed_bad_request"] >= sent // 10, stats
    assert stats["handler_errors"] == 0, served.front.errors[:1]
    boot = served.bootstrap.split(",")[0]
    assert _produce_and_read(boot, "after-fuzz", 5, acks="all") == [str(i) for i in range(5)]

    def logs_valid() -> int:
        from ackcheck.broker import records

        n = 0
        for t in served.live.topics.values():
            for node in t.cluster.nodes:
                for b in node.log.batches:  # every stored batch re-reads whole, CRC intact
                    d = records.decode_batch(node.log.read_raw(b))
                    assert d.header.base_offset == b.base_offset
                    n += 1
        return n

    assert served.call(logs_valid) > 0


def test_serve_command_prints_bootstrap_and_exits_0_on_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "ackcheck", "serve", "--brokers", "1", "--port", "0",
                             "--data-dir", str(tmp_path / "d")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("bootstrap.servers=127.0.0.1:")
        proc.terminate()
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_bad_flags():
    r = subprocess.run([sys.executable, "-m", "ackcheck", "serve", "--brokers", "0"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "--brokers" in r.stderr and "Traceback" not in r.stderr


def test_group_consumers_of_all_three_libraries_join_read_and_commit(served):
    """JoinGroup / SyncGroup / Heartbeat / LeaveGroup and OffsetCommit through each library's
    own group consumer (subscribe, not assign)."""
    import asyncio

    boot = served.bootstrap
    from kafka import KafkaConsumer, KafkaProducer

    p = KafkaProducer(bootstrap_servers=boot, acks="all", request_timeout_ms=5000)
    for i in range(5):
        p.send("grp-topic", str(i).encode()).get(timeout=10)
    p.close(timeout=2)
    want = [str(i) for i in range(5)]
    c = KafkaConsumer("grp-topic", bootstrap_servers=boot, group_id="g1", auto_offset_reset="earliest",
                      consumer_timeout_ms=3000, request_timeout_ms=5000)
    got = [m.value.decode() for m in c]
    c.commit()
    c.close()
    assert got == want
    libs = ["g1"]
    try:
        from aiokafka import AIOKafkaConsumer

        async def aio():
            ac = AIOKafkaConsumer("grp-topic", bootstrap_servers=boot, group_id="g2", auto_offset_reset="earliest")
            await ac.start()
            try:
                out = [(await asyncio.wait_for(ac.getone(), 10)).value.decode() for _ in range(5)]
                await ac.commit()
                return out
            finally:
                await ac.stop()

        assert asyncio.run(aio()) == want
        libs.append("g2")
    except ImportError:
        pass
    try:
        import confluent_kafka as ck

        cc = ck.Consumer({"bootstrap.servers": boot, "group.id": "g3", "auto.offset.reset": "earliest",
                          "log_level": 0})
        cc.subscribe(["grp-topic"])
        out, deadline = [], time.monotonic() + 15
        while len(out) < 5 and time.monotonic() < deadline:
            msg = cc.poll(0.2)
            if msg is not None and not msg.error():
                out.append(msg.value().decode())
        cc.commit(asynchronous=False)
        cc.close()
        assert out == want
        libs.append("g3")
    except ImportError:
        pass
    assert {g: served.live.group_offsets.get((g, "grp-topic", 0)) for g in libs} == {g: 5 for g in libs}
    assert served.front.stats["handler_errors"] == 0
