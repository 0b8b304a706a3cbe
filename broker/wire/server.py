"""The Kafka wire front end: N brokers on 127.0.0.1:port..port+N-1 over one `LiveCluster`.

One asyncio event loop serves every connection and runs the autopilot, so the cluster is
touched by one thread only (the broker is single-threaded by design). As Kafka's
SocketServer does, a connection is *muted* while a request is being handled: the next
request is read only once the answer to the previous one is written, so answers go out
in request order even when an acks=all request waits in the purgatory.

Hostile input never reaches the cluster half-parsed: a frame size below the smallest
header or above `socket.request.max.bytes` closes the connection before the body is
read; an unknown API key, an unsupported version (other than ApiVersions, which answers
UNSUPPORTED_VERSION), a body that does not parse, or bytes after its end close the
connection (Kafka: InvalidRequestException); a record batch that fails validation gets
its error code (CORRUPT_MESSAGE, INVALID_RECORD, ...). A handler's unexpected exception
closes that connection and is counted, never stopping the broker.

`serving(...)` runs a front end on a background thread for tests and `ackcheck clients`;
`run_forever(...)` is `ackcheck serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import traceback
from pathlib import Path

from ackcheck.broker import messages as m
from ackcheck.broker import records
from ackcheck.broker.wire import protocol as P
from ackcheck.broker.wire.batches import BadBatch, encode_fetched_batch, parse_produce_records
from ackcheck.broker.wire.codec import ProtocolError, Reader, frame
from ackcheck.broker.wire.live import LiveCluster, Topic
from ackcheck.traces.settings import Config

HOST = "127.0.0.1"
SOCKET_REQUEST_MAX_BYTES = 104_857_600  # socket.request.max.bytes (100 MiB)
MESSAGE_MAX_BYTES = 1_048_588  # message.max.bytes
MIN_FRAME = 10  # api key, version, correlation id, client id length
TICK_SECONDS = 0.003
MAX_FETCH_WAIT = 1.0  # fetch.max.wait.ms is capped here (clients' default is 500 ms)
ACKS = {-1: "all", 1: "1", 0: "0"}
CLUSTER_ID = "ackcheck-reference-0"


class Connection:
    __slots__ = ("broker", "writer", "closed", "silent", "reset")

    def __init__(self, broker: int, writer: asyncio.StreamWriter):
        self.broker = broker
        self.writer = writer
        self.closed = False
        self.silent = False  # its host lost power: nothing is read or written
        self.reset = asyncio.Event()

    def close(self) -> None:
        self.reset.set()
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.writer.transport.abort()  # RST, as a killed process's kernel sends


class FrontEnd:
    def __init__(self, live: LiveCluster, port: int, *, request_max_bytes: int = SOCKET_REQUEST_MAX_BYTES,
                 message_max_bytes: int = MESSAGE_MAX_BYTES):
        self.live = live
        self.port = port
        self.ports = [port + b for b in range(live.brokers)] if port else [0] * live.brokers
        self.request_max_bytes = request_max_bytes
        self.message_max_bytes = message_max_bytes
        self.servers: list[asyncio.base_events.Server | None] = [None] * live.brokers
        self.conns: list[set[Connection]] = [set() for _ in range(live.brokers)]
        self.drop_next_responses = [0] * live.brokers  # fault: answers that never leave
        # fault: what happens to the next Produce requests of each broker, one entry each:
        # "refuse:<ERROR>" (answered with ERROR before the log, as the leader's checks do),
        # "drop" (handled, the answer lost and the connection broken), "pass"
        self.produce_script: list[list[str]] = [[] for _ in range(live.brokers)]
        self.stats = {"requests": 0, "closed_bad_request": 0, "handler_errors": 0, "dropped_responses": 0}
        self.errors: list[str] = []
        self.groups: dict[str, Group] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client_id: str | None = None
        self._ticker: asyncio.Task | None = None
        self._stopping = False

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for b in range(self.live.brokers):
            await self._listen(b)
        self._ticker = asyncio.create_task(self._tick_loop())

    async def _listen(self, b: int) -> None:
        srv = await asyncio.start_server(lambda r, w, b=b: self._serve(b, r, w), HOST, self.ports[b],
                                         reuse_address=True)
        self.servers[b] = srv
        self.ports[b] = srv.sockets[0].getsockname()[1]

    async def _unlisten(self, b: int) -> None:
        srv = self.servers[b]
        self.servers[b] = None
        if srv is not None:
            srv.close()

    async def stop(self) -> None:
        self._stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
        for b in range(self.live.brokers):
            await self._unlisten(b)
            for c in list(self.conns[b]):
                c.close()
        self.live.close()

    async def _tick_loop(self) -> None:
        while True:
            try:
                self.live.try_shrink()
                self.live.tick()
            except Exception:  # the autopilot must never die silently
                self.stats["handler_errors"] += 1
                self.errors.append(traceback.format_exc(limit=5))
            await asyncio.sleep(TICK_SECONDS)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{p}" for p in self.ports)

    # ------------------------------------------------------------------ faults
    async def crash(self, b: int) -> None:
        self._reset(b)
        await self._unlisten(b)
        self.live.crash(b)

    async def power_loss(self, b: int) -> None:
        # a host without power sends no reset: its connections go silent (the clients
        # time out); nothing listens either
        for c in self.conns[b]:
            c.silent = True  # reads stop, nothing is written
        await self._unlisten(b)
        self.live.power_loss(b)

    async def restart(self, b: int) -> None:
        self._reset(b)  # a rebooted host resets connections it no longer knows
        self.live.restart(b)
        await self._listen(b)

    def _reset(self, b: int) -> None:
        for c in list(self.conns[b]):
            c.close()
        self.conns[b].clear()

    def cut_connections(self, b: int) -> None:
        """Every client connection to broker b breaks (requests and answers on the way lost)."""
        self.live.note(f"cut_connections({b})")
        self._reset(b)

    def drop_responses(self, b: int, n: int = 1) -> None:
        """The next n Produce answers of broker b are lost (the request was handled); each
        loss breaks its connection, as a lost or late response does (`lose_response`)."""
        self.live.note(f"drop_responses({b}, {n})")
        self.drop_next_responses[b] += n

    async def apply_fault(self, f, topic: str | None = None) -> str:
        """Apply one `faults.Fault` now (the leader resolved at this moment); a crash or
        power loss schedules its own restart after its downtime. Returns what happened."""
        from ackcheck.broker.wire.faults import LEADER

        live = self.live
        b = f.broker
        if b == LEADER:
            t = live.topics.get(topic) if topic else None
            b = t.cluster.controller.leader if t is not None else 0
            if b < 0:
                return f"{f.kind}: no leader at t+{f.at:.2f}s, skipped"
        if f.kind in ("crash", "power_loss"):
            if not live.up[b]:
                return f"{f.kind}({b}): already down, skipped"
            await (self.crash(b) if f.kind == "crash" else self.power_loss(b))
            self.loop.call_later(f.seconds, lambda: asyncio.ensure_future(self.restart_if_down(b)))
        elif f.kind == "isr_shrink":
            live.shrink_isr(b, f.seconds)
        elif f.kind == "drop_response":
            self.drop_responses(b)
        elif f.kind == "cut_connections":
            self.cut_connections(b)
        elif f.kind == "rebalance_delayed":
            live.delay_controller(f.seconds)
            if not live.rebalance():
                return f"rebalance: no other live ISR member, only the delay at t+{f.at:.2f}s"
        else:
            raise ValueError(f"unknown fault {f.kind!r}")
        return f"{f.kind}({b})"

    async def restart_if_down(self, b: int) -> None:
        if not self._stopping and not self.live.up[b]:
            await self.restart(b)

    async def heal(self) -> None:
        """End every fault in force: restart what is down, stalls and delays over."""
        for b in range(self.live.brokers):
            await self.restart_if_down(b)
        self.live.fetch_paused.clear()
        self.live.controller_delayed_until = 0.0
        self.drop_next_responses = [0] * self.live.brokers
        self.live.tick()

    # ------------------------------------------------------------------ connections
    async def _serve(self, b: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(b, writer)
        self.conns[b].add(conn)
        try:
            while not conn.closed:
                head = await reader.readexactly(4)
                size = int.from_bytes(head, "big", signed=True)
                if size < MIN_FRAME or size > self.request_max_bytes:
                    self.stats["closed_bad_request"] += 1
                    break
                payload = await reader.readexactly(size)
                if conn.silent or not self.live.powered[b]:
                    await conn.reset.wait()  # a dead host: silence until the reset
                    break
                if conn.closed:
                    break
                self.stats["requests"] += 1
                try:
                    resp = await self._handle(b, payload)
                except ProtocolError:
                    self.stats["closed_bad_request"] += 1
                    break
                except Exception:
                    self.stats["handler_errors"] += 1
                    self.errors.append(traceback.format_exc(limit=8))
                    break
                if conn.silent:
                    await conn.reset.wait()
                    break
                if resp is None or conn.closed:
                    continue
                if self.drop_next_responses[b] > 0 and payload[:2] == b"\x00\x00":  # a Produce answer
                    self.drop_next_responses[b] -= 1
                    self.stats["dropped_responses"] += 1
                    break
                writer.write(frame(resp))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self.conns[b].discard(conn)
            conn.close()

    # ------------------------------------------------------------------ dispatch
    async def _handle(self, b: int, payload: bytes) -> bytes | None:
        r = Reader(payload)
        api_key, version, corr = r.int16(), r.int16(), r.int32()
        if api_key == P.API_VERSIONS and not P.supported(api_key, version):
            # KIP-511: answer in v0 with UNSUPPORTED_VERSION and our versions
            return corr.to_bytes(4, "big", signed=True) + P.encode_api_versions(0, P.ERRORS["UNSUPPORTED_VERSION"])
        if not P.supported(api_key, version):
            raise ProtocolError(f"API key {api_key} version {version} is not served")
        r.pos = 0
        h = P.parse_header(r)
        self._client_id = h.client_id
        body = await getattr(self, "_api_" + P.APIS[api_key][0])(b, r, version)
        if body is None:
            return None
        return corr.to_bytes(4, "big", signed=True) + body

    async def _api_ApiVersions(self, b, r, v):
        P.expect_end(r, "ApiVersions")
        return P.encode_api_versions(v, 0)

    def _node_addr(self, b: int) -> tuple[int, str, int]:
        return b, HOST, self.ports[b]

    async def _api_Metadata(self, b, r, v):
        req = P.parse_metadata(r, v)
        P.expect_end(r, "Metadata")
        live = self.live
        names = sorted(live.topics) if req.topics is None else req.topics
        topics = []
        for name in names:
            t = live.topic(name, create=req.allow_auto_topic_creation)
            if t is None:
                err = "UNKNOWN_TOPIC_OR_PARTITION" if P.valid_name(name) else "INVALID_TOPIC_EXCEPTION"
                topics.append(P.TopicMeta(P.ERRORS[err], name, []))
                continue
            ldr, epoch, isr = live.partition_state(t)
            replicas = tuple(range(live.rf))
            offline = tuple(x for x in replicas if not live.up[x])
            err = P.ERRORS["LEADER_NOT_AVAILABLE"] if ldr < 0 else 0
            topics.append(P.TopicMeta(0, name, [P.PartitionMeta(err, 0, ldr, epoch, replicas, isr, offline)]))
        brokers = [self._node_addr(x) for x in live.alive_brokers()]
        controller = brokers[0][0] if brokers else -1
        return P.encode_metadata(v, brokers, CLUSTER_ID, controller, topics)

    async def _api_Produce(self, b, r, v):
        req = P.parse_produce(r, v)
        P.expect_end(r, "Produce")
        live = self.live
        if self.produce_script[b]:
            step = self.produce_script[b].pop(0)
            live.note(f"produce request on broker {b}: {step}")
            if step.startswith("refuse:"):
                # a leader slow to answer: the client has its next requests in flight by then
                await asyncio.sleep(0.2)
                err = P.ERRORS[step[7:]]
                return P.encode_produce(v, [P.ProduceResult(p.topic, p.index, err, -1) for p in req.partitions])
            if step == "drop":
                self.drop_next_responses[b] += 1
        acks = ACKS.get(req.acks)
        results: list[P.ProduceResult | None] = [None] * len(req.partitions)
        futures: list[tuple[int, asyncio.Future, Topic, int]] = []
        for i, p in enumerate(req.partitions):
            def fail(err: str, msg: str | None = None, i=i, p=p):
                results[i] = P.ProduceResult(p.topic, p.index, P.ERRORS[err], -1, msg)
            if req.transactional_id is not None:
                fail("TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "transactions are not served")
                continue
            if acks is None:
                fail("INVALID_REQUIRED_ACKS")
                continue
            t = live.topic(p.topic, create=True)
            if t is None:
                fail("UNKNOWN_TOPIC_OR_PARTITION" if P.valid_name(p.topic) else "INVALID_TOPIC_EXCEPTION")
                continue
            if p.index != 0:
                fail("UNKNOWN_TOPIC_OR_PARTITION")
                continue
            if live.leader_node(t, b) is None:
                fail("NOT_LEADER_OR_FOLLOWER")
                continue
            try:
                batch = parse_produce_records(p.records, self.message_max_bytes)
            except BadBatch as e:
                fail(e.error, str(e))
                continue
            ids = t.store.add(batch.records)
            fut = self.loop.create_future()
            ts = batch.records[0].timestamp if batch.records else 0
            key = live.produce(t, b, acks, ids, batch.producer_id, batch.producer_epoch, batch.base_sequence, ts,
                               lambda resp, fut=fut: fut.done() or fut.set_result(resp))
            if key is not None:
                futures.append((i, fut, t, key))
        if acks == "0":
            return None
        if futures:
            timeout = max(0.0, min(req.timeout_ms, 600_000) / 1000)
            await asyncio.wait([f for _, f, _, _ in futures], timeout=timeout)
        for i, fut, t, key in futures:
            p = req.partitions[i]
            if not fut.done():
                live.timeout_produce(t, b, key)
            resp = fut.result() if fut.done() else m.ProduceResponse(key, 0, m.REQUEST_TIMED_OUT, -1, -1, b)
            err = resp.error
            if err == m.DUPLICATE_SEQUENCE_NUMBER:
                # KAFKA-5494 (1.0): a duplicate is answered as a success with the offset
                # of the batch it duplicates
                err = m.NONE
            results[i] = P.ProduceResult(p.topic, p.index, P.ERRORS[err], resp.base_offset)
        return P.encode_produce(v, results)

    def _fetch_one(self, b: int, p: P.FetchPartition, budget: int) -> tuple[P.FetchResult, int]:
        live = self.live
        t = live.topics.get(p.topic)
        if t is None or p.index != 0:
            return P.FetchResult(p.topic, p.index, P.ERRORS["UNKNOWN_TOPIC_OR_PARTITION"], -1, None), 0
        node = live.leader_node(t, b)
        if node is None:
            return P.FetchResult(p.topic, p.index, P.ERRORS["NOT_LEADER_OR_FOLLOWER"], -1, None), 0
        err = _epoch_error(p.current_leader_epoch, node.leader_epoch)
        if err:
            return P.FetchResult(p.topic, p.index, P.ERRORS[err], -1, None), 0
        hw = node.hw
        if p.fetch_offset < 0 or p.fetch_offset > node.leo:
            return P.FetchResult(p.topic, p.index, P.ERRORS["OFFSET_OUT_OF_RANGE"], hw, None), 0
        out = bytearray()
        limit = min(max(p.max_bytes, 1), budget)
        for lb in node.log.batches:
            if lb.end_offset <= p.fetch_offset:
                continue
            if lb.end_offset > hw:
                break
            raw = node.log.read_raw(lb)
            header = records.read_header(raw)
            enc = encode_fetched_batch(header, [t.store.get(rid) for rid in lb.records])
            if out and len(out) + len(enc) > limit:
                break
            out += enc  # the first batch goes out whole even if larger (KIP-74)
        return P.FetchResult(p.topic, p.index, 0, hw, bytes(out)), len(out)

    async def _api_Fetch(self, b, r, v):
        req = P.parse_fetch(r, v)
        P.expect_end(r, "Fetch")
        deadline = time.monotonic() + min(max(req.max_wait_ms, 0) / 1000, MAX_FETCH_WAIT)
        while True:
            budget = max(req.max_bytes, 1)
            results, total, errors = [], 0, False
            for p in req.partitions:
                res, n = self._fetch_one(b, p, max(budget - total, 1))
                results.append(res)
                total += n
                errors |= res.error != 0
            if total >= max(req.min_bytes, 1) or errors or time.monotonic() >= deadline:
                return P.encode_fetch(v, results)
            await asyncio.sleep(0.005)

    async def _api_ListOffsets(self, b, r, v):
        parts = P.parse_list_offsets(r, v)
        P.expect_end(r, "ListOffsets")
        out = []
        for p in parts:
            t = self.live.topic(p.topic, create=False)
            if t is None or p.index != 0:
                out.append(P.ListOffsetsResult(p.topic, p.index, P.ERRORS["UNKNOWN_TOPIC_OR_PARTITION"], -1, -1, -1))
                continue
            node = self.live.leader_node(t, b)
            if node is None:
                out.append(P.ListOffsetsResult(p.topic, p.index, P.ERRORS["NOT_LEADER_OR_FOLLOWER"], -1, -1, -1))
                continue
            err = _epoch_error(p.current_leader_epoch, node.leader_epoch)
            if err:
                out.append(P.ListOffsetsResult(p.topic, p.index, P.ERRORS[err], -1, -1, -1))
                continue
            offset, ts = _offset_for_time(t, node, p.timestamp)
            out.append(P.ListOffsetsResult(p.topic, p.index, 0, ts, offset, node.leader_epoch))
        return P.encode_list_offsets(v, out)

    async def _api_InitProducerId(self, b, r, v):
        txn, _ = P.parse_init_producer_id(r, v)
        P.expect_end(r, "InitProducerId")
        if txn is not None:
            return P.encode_init_producer_id(v, P.ERRORS["TRANSACTIONAL_ID_AUTHORIZATION_FAILED"], -1, -1)
        pid = self.live.next_producer_id
        self.live.next_producer_id += 1
        return P.encode_init_producer_id(v, 0, pid, 0)

    def _coordinator(self) -> int | None:
        alive = self.live.alive_brokers()
        return alive[0] if alive else None

    async def _api_FindCoordinator(self, b, r, v):
        P.parse_find_coordinator(r, v)
        P.expect_end(r, "FindCoordinator")
        c = self._coordinator()
        if c is None:
            return P.encode_find_coordinator(v, P.ERRORS["COORDINATOR_NOT_AVAILABLE"], (-1, "", -1))
        return P.encode_find_coordinator(v, 0, self._node_addr(c))

    async def _api_JoinGroup(self, b, r, v):
        return await _group_join(self, b, r, v)

    async def _api_SyncGroup(self, b, r, v):
        return await _group_sync(self, b, r, v)

    async def _api_Heartbeat(self, b, r, v):
        group, gen, member = P.parse_heartbeat(r, v)
        P.expect_end(r, "Heartbeat")
        if self._coordinator() != b:
            return P.encode_error_only(v, P.ERRORS["NOT_COORDINATOR"])
        g = self.groups.get(group)
        return P.encode_error_only(v, P.ERRORS["UNKNOWN_MEMBER_ID"] if g is None else g.check(gen, member))

    async def _api_LeaveGroup(self, b, r, v):
        group, members = P.parse_leave_group(r, v)
        P.expect_end(r, "LeaveGroup")
        if self._coordinator() != b:
            return P.encode_leave_group(v, P.ERRORS["NOT_COORDINATOR"], [])
        g = self.groups.get(group)
        if g is not None:
            g.leave(members)
        return P.encode_leave_group(v, 0, members)

    async def _api_OffsetCommit(self, b, r, v):
        req = P.parse_offset_commit(r, v)
        P.expect_end(r, "OffsetCommit")
        err = 0 if self._coordinator() == b else P.ERRORS["NOT_COORDINATOR"]
        if err == 0:
            for topic, part, off in req.offsets:
                self.live.group_offsets[(req.group_id, topic, part)] = off
        return P.encode_offset_commit(v, [(tp, part, err) for tp, part, _ in req.offsets])

    async def _api_OffsetFetch(self, b, r, v):
        group, parts = P.parse_offset_fetch(r, v)
        P.expect_end(r, "OffsetFetch")
        if self._coordinator() != b:
            return P.encode_offset_fetch(v, [], P.ERRORS["NOT_COORDINATOR"])
        go = self.live.group_offsets
        if parts is None:
            parts = [(tp, part) for (g, tp, part) in go if g == group]
        return P.encode_offset_fetch(v, [(tp, part, go.get((group, tp, part), -1)) for tp, part in parts])


class Group:
    """A consumer group at the coordinator (GroupCoordinator, simplified): a rebalance
    completes once every known member has rejoined, or after `REBALANCE_WINDOW` without
    the missing ones (dropped); the first member to join leads and gets the member list;
    the leader's SyncGroup carries every member's assignment."""

    REBALANCE_WINDOW = 5.0

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.generation = 0
        self.members: dict[str, list[tuple[str, bytes]]] = {}
        self.leader = ""
        self.protocol = ""
        self.pending: dict[str, asyncio.Future] = {}
        self.rebalancing = False
        self.timer: asyncio.TimerHandle | None = None
        self.assignments: dict[str, bytes] | None = None
        self.synced = asyncio.Event()
        self.next_member = 0

    def new_member_id(self, client_id: str | None) -> str:
        self.next_member += 1
        return f"{client_id or 'member'}-{self.next_member}"

    def start_rebalance(self) -> None:
        if not self.rebalancing:
            self.rebalancing = True
            self.assignments = None
            self.synced = asyncio.Event()
            self.timer = self.loop.call_later(self.REBALANCE_WINDOW, self.complete)

    def join(self, member: str, protocols) -> asyncio.Future:
        self.members[member] = protocols
        fut = self.loop.create_future()
        old = self.pending.pop(member, None)
        if old is not None and not old.done():
            old.cancel()
        self.pending[member] = fut
        self.start_rebalance()
        if set(self.pending) >= set(self.members):
            self.complete()
        return fut

    def complete(self) -> None:
        if not self.rebalancing:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.rebalancing = False
        self.members = {m: p for m, p in self.members.items() if m in self.pending}
        if not self.members:
            self.generation += 1
            return
        self.generation += 1
        if self.leader not in self.members:
            self.leader = next(iter(self.members))
        names = [n for n, _ in self.members[self.leader]]
        common = [n for n in names if all(n in [x for x, _ in p] for p in self.members.values())]
        self.protocol = common[0] if common else (names[0] if names else "")
        everyone = [(mid, dict(p).get(self.protocol, b"")) for mid, p in self.members.items()]
        for mid, fut in self.pending.items():
            if not fut.done():
                fut.set_result((self.generation, self.protocol, self.leader, mid,
                                everyone if mid == self.leader else []))
        self.pending = {}

    def leave(self, members) -> None:
        for mid in members:
            self.members.pop(mid, None)
        if self.members:
            self.start_rebalance()
            if set(self.pending) >= set(self.members):
                self.complete()
        else:
            self.generation += 1
            self.rebalancing = False
            if self.timer is not None:
                self.timer.cancel()

    def check(self, generation: int, member: str) -> int:
        if member not in self.members:
            return P.ERRORS["UNKNOWN_MEMBER_ID"]
        if self.rebalancing:
            return P.ERRORS["REBALANCE_IN_PROGRESS"]
        if generation != self.generation:
            return P.ERRORS["ILLEGAL_GENERATION"]
        return 0


async def _group_join(front: FrontEnd, b: int, r: Reader, v: int) -> bytes:
    req = P.parse_join_group(r, v)
    P.expect_end(r, "JoinGroup")
    client_id = front._client_id
    if front._coordinator() != b:
        return P.encode_join_group(v, P.ERRORS["NOT_COORDINATOR"], -1, "", "", req.member_id, [])
    g = front.groups.setdefault(req.group_id, Group(front.loop))
    member = req.member_id or g.new_member_id(client_id)
    if req.member_id and req.member_id not in g.members and not g.pending.get(req.member_id):
        return P.encode_join_group(v, P.ERRORS["UNKNOWN_MEMBER_ID"], -1, "", "", req.member_id, [])
    fut = g.join(member, req.protocols)
    try:
        gen, proto, leader, me, members = await asyncio.wait_for(asyncio.shield(fut), Group.REBALANCE_WINDOW + 1)
    except (TimeoutError, asyncio.CancelledError):
        return P.encode_join_group(v, P.ERRORS["REBALANCE_IN_PROGRESS"], -1, "", "", member, [])
    return P.encode_join_group(v, 0, gen, proto, leader, me, members)


async def _group_sync(front: FrontEnd, b: int, r: Reader, v: int) -> bytes:
    group, gen, member, assignments = P.parse_sync_group(r, v)
    P.expect_end(r, "SyncGroup")
    if front._coordinator() != b:
        return P.encode_sync_group(v, P.ERRORS["NOT_COORDINATOR"], b"")
    g = front.groups.get(group)
    if g is None:
        return P.encode_sync_group(v, P.ERRORS["UNKNOWN_MEMBER_ID"], b"")
    err = g.check(gen, member)
    if err:
        return P.encode_sync_group(v, err, b"")
    if member == g.leader:
        g.assignments = assignments
        g.synced.set()
    else:
        synced = g.synced
        try:
            await asyncio.wait_for(synced.wait(), Group.REBALANCE_WINDOW)
        except TimeoutError:
            return P.encode_sync_group(v, P.ERRORS["REBALANCE_IN_PROGRESS"], b"")
        err = g.check(gen, member)
        if err:
            return P.encode_sync_group(v, err, b"")
    return P.encode_sync_group(v, 0, (g.assignments or {}).get(member, b""))


def _epoch_error(requested: int, current: int) -> str | None:
    """KIP-320: a client's current_leader_epoch older than the leader's is fenced, a newer
    one is not known yet."""
    if requested < 0 or requested == current:
        return None
    return "FENCED_LEADER_EPOCH" if requested < current else "UNKNOWN_LEADER_EPOCH"


def _offset_for_time(t: Topic, node, ts: int) -> tuple[int, int]:
    """ListOffsets for a consumer (read_uncommitted): -2 earliest (0: no retention), -1
    latest (the high watermark), else the first offset below the HW with a timestamp >= ts."""
    if ts == -2:
        return 0, -1
    if ts == -1:
        return node.hw, -1
    for lb in node.log.batches:
        if lb.end_offset > node.hw:
            break
        for k, rid in enumerate(lb.records):
            rts = t.store.get(rid).timestamp
            if rts >= ts:
                return lb.base_offset + k, rts
    return -1, -1


# ====================================================================== entry points
class Served:
    """A front end running on a background thread (see `serving`)."""

    def __init__(self, front: FrontEnd, loop: asyncio.AbstractEventLoop, thread: threading.Thread):
        self.front = front
        self.loop = loop
        self.thread = thread

    @property
    def bootstrap(self) -> str:
        return self.front.bootstrap

    @property
    def live(self) -> LiveCluster:
        return self.front.live

    def call(self, fn, *args, timeout: float = 30.0):
        """Run fn(*args) on the front end's loop (a coroutine function is awaited)."""
        async def run():
            res = fn(*args)
            if asyncio.iscoroutine(res):
                res = await res
            return res
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)


@contextlib.contextmanager
def serving(config: Config, data_dir: str | Path, *, brokers: int | None = None, port: int = 0, **kw):
    """A front end on 127.0.0.1 (port 0: free ports) for the duration of the block."""
    brokers = brokers or config.replication_factor
    fe_kw = {k: kw.pop(k) for k in ("request_max_bytes", "message_max_bytes") if k in kw}
    live = LiveCluster(config, data_dir, brokers, **kw)
    front = FrontEnd(live, port, **fe_kw)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run():
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(front.start())
        except BaseException as e:  # port in use, ...
            failure.append(e)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="ackcheck-wire", daemon=True)
    thread.start()
    started.wait(30)
    if failure:
        loop.close()
        raise failure[0]
    served = Served(front, loop, thread)
    try:
        yield served
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(front.stop(), loop).result(30)

        async def cancel_all():
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        with contextlib.suppress(Exception):
            loop.close()


async def run_until_stopped(config: Config, data_dir: str | Path, brokers: int, port: int, stop: asyncio.Event,
                            on_ready=None, **kw) -> FrontEnd:
    fe_kw = {k: kw.pop(k) for k in ("request_max_bytes", "message_max_bytes") if k in kw}
    live = LiveCluster(config, data_dir, brokers, **kw)
    front = FrontEnd(live, port, **fe_kw)
    await front.start()
    if on_ready is not None:
        on_ready(front)
    try:
        await stop.wait()
    finally:
        await front.stop()
    return front
