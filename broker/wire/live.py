"""The reference broker running live: one `Cluster` per topic, driven by wall-clock time
instead of a schedule, so real clients can talk to it through the wire front end.

Broker b of the front end is replica b of every topic's cluster (topics are created on
first use with one partition, as `auto.create.topics.enable=true`). A background
*autopilot* makes the cluster do what Kafka's threads do on their own - every tick:
followers fetch until caught up (ReplicaFetcherThread), controller updates reach their
brokers (LeaderAndIsr / metadata propagation), leaders' AlterPartition requests reach
the controller, the controller elects a new leader when the partition is offline
(failover, ELR, unclean if enabled), a leader drops dead followers from its ISR
(ZooKeeper mode; KRaft fences them itself), the OS flusher writes the page cache out
every `os_flush_seconds` (Linux's dirty_expire_centisecs is 30 s), acks=all requests
wait in the purgatory until the HW passes them or their timeout (REQUEST_TIMED_OUT).

Every change goes through `Cluster.apply` with the trace vocabulary, so the broker's
semantics are exactly the ones `ackcheck replay` and `ackcheck chaos` exercise; the only
direct calls are the leader's produce handling (a client's request instead of the
stand-in producer's) and the purgatory's timeout (Kafka's own, not a fault).

Faults (`crash`, `power_loss`, `shrink_isr`, `cut_connections`, `drop_responses`,
`delay_controller`) are the model's vocabulary applied at a moment of wall-clock time;
`broker/wire/faults.py` draws seeded schedules of them. Single-threaded: every method
runs on the front end's event loop.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ackcheck.broker import messages as m
from ackcheck.broker.cluster import Cluster
from ackcheck.broker.controller import ELR, FAILOVER, UNCLEAN
from ackcheck.broker.wire.batches import ContentStore
from ackcheck.traces.settings import Config

LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")  # Topic.validate
FIRST_PRODUCER_ID = 1000
# the fault budgets of a live cluster: faults are the schedule's business, not bounded
UNBOUNDED = 1 << 30
# a guard of the reference broker (every topic is a whole cluster, driven every tick):
# past it, topics are no longer created on first use (UNKNOWN_TOPIC_OR_PARTITION)
MAX_TOPICS = 1000


def valid_topic(name: str) -> bool:
    return bool(LEGAL_TOPIC.match(name)) and name not in (".", "..")


@dataclass
class Topic:
    name: str
    cluster: Cluster
    store: ContentStore = field(default_factory=ContentStore)
    appended_at: dict[int, float] = field(default_factory=dict)  # leader batch base offset -> when


class LiveCluster:
    def __init__(self, config: Config, data_dir: str | Path, brokers: int, *, segment_bytes: int = 1 << 30,
                 fsync: bool = False, os_flush_seconds: float = 30.0, replica_lag: float = 0.0, seed: int = 0):
        if brokers < config.replication_factor:
            raise ValueError(f"{brokers} broker(s) cannot hold replication factor {config.replication_factor}")
        self.config = config.with_bounds(max_crashes=UNBOUNDED, max_power_losses=UNBOUNDED, max_elections=UNBOUNDED,
                                         max_lost_messages=UNBOUNDED, max_isr_shrinks=UNBOUNDED)
        self.data_dir = Path(data_dir)
        self.brokers = brokers
        self.rf = config.replication_factor
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.os_flush_seconds = os_flush_seconds
        # a batch becomes fetchable by followers `replica_lag` seconds after its append
        # (the network and the follower's fetch loop; 0: at the next tick)
        self.replica_lag = replica_lag
        self.topics: dict[str, Topic] = {}
        self.up = [True] * brokers  # the broker process runs (accepts connections)
        self.powered = [True] * brokers  # the host is on (a powered-off host answers nothing)
        self.next_producer_id = FIRST_PRODUCER_ID
        self.group_offsets: dict[tuple[str, str, int], int] = {}
        # wire request key -> callback(ProduceResponse); keys are the broker's "batch" ids
        self.waiting: dict[int, object] = {}
        self.next_key = 0
        # faults in force
        self.fetch_paused: dict[int, float] = {}  # follower -> until (monotonic)
        self.controller_delayed_until = 0.0
        # late controller updates arrive in a seeded order (the metadata log is ordered,
        # but which broker takes its update first is not)
        self.rng = random.Random(seed)
        self.faults: list[tuple[float, str]] = []  # (seconds since start, what)
        self.started = time.monotonic()
        self.last_flush = self.started
        self.ticks = 0

    # ------------------------------------------------------------------ topics
    def topic(self, name: str, *, create: bool) -> Topic | None:
        t = self.topics.get(name)
        if t is None and create and valid_topic(name) and len(self.topics) < MAX_TOPICS:
            c = Cluster(self.config, self.data_dir / name, segment_bytes=self.segment_bytes, consumer=False,
                        fsync=self.fsync)
            t = self.topics[name] = Topic(name, c)
            # a topic created while a broker is down: that replica starts down (its host's
            # files are the fresh topic's), and the controller knows it
            for b in range(self.rf):
                if not self.up[b]:
                    c.apply(("crash", b))
            self._heal(t)
        return t

    def leader_node(self, t: Topic, b: int):
        """Broker b's replica if its process runs and believes it leads, else None."""
        if b >= self.rf or not self.up[b]:
            return None
        n = t.cluster.nodes[b]
        return n if n is not None and n.is_leader else None

    # ------------------------------------------------------------------ produce
    def new_key(self, callback) -> int:
        self.next_key += 1
        self.waiting[self.next_key] = callback
        return self.next_key

    def collect(self, t: Topic) -> None:
        """Hand every produce response the brokers wrote to its waiting wire request."""
        c = t.cluster
        out = list(c.responses)
        c.responses.clear()
        for n in c.nodes:
            if n is not None and n.outbox:
                out += n.outbox
                n.outbox.clear()
        for r in out:
            cb = self.waiting.pop(r.batch, None)
            if cb is not None:
                cb(r)

    def produce(self, t: Topic, b: int, acks: str, ids: tuple[int, ...], pid: int, pepoch: int, seq: int,
                timestamp: int, callback) -> int | None:
        """Broker b's leader appends (or refuses) a client's batch: the broker's own
        handle_produce (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, idempotence checks,
        the purgatory). Returns the request's key (None for acks=0: no answer)."""
        node = t.cluster.nodes[b] if b < self.rf and self.up[b] else None
        key = self.new_key(callback) if acks != "0" else -1
        if node is None:
            if key >= 0:
                self.waiting.pop(key)
                callback(m.ProduceResponse(key, 0, m.NOT_LEADER_OR_FOLLOWER, -1, -1, b))
            return None
        leo = node.log.leo
        node.handle_produce(m.ProduceRequest(key, 0, b, acks, ids, pid, pepoch, seq), timestamp=timestamp)
        if node.log.leo > leo:
            t.appended_at[leo] = time.monotonic()
        self.collect(t)
        self.replicate(t)
        return key if key >= 0 else None

    def timeout_produce(self, t: Topic, b: int, key: int) -> None:
        """request.timeout.ms passed with the request parked: REQUEST_TIMED_OUT."""
        node = t.cluster.nodes[b] if b < self.rf else None
        if node is not None and node.parked(key, 0) is not None:
            node.timeout_produce(key, 0)
        self.collect(t)
        self.waiting.pop(key, None)

    # ------------------------------------------------------------------ the autopilot
    def _apply_if(self, t: Topic, action) -> bool:
        if t.cluster.why_not(action) is None:
            t.cluster.apply(action)
            return True
        return False

    def replicate(self, t: Topic) -> None:
        """Followers fetch until nothing changes (each fetch brings one batch)."""
        now = time.monotonic()
        for _ in range(64):
            moved = False
            for r in range(self.rf):
                if self.fetch_paused.get(r, 0) > now or self._too_fresh(t, r, now):
                    continue
                moved |= self._apply_if(t, ("follower_fetch", r))
            moved |= any([self._apply_if(t, ("controller_alter_partition", b)) for b in range(self.rf)])
            if not moved:
                break
        self.collect(t)

    def _too_fresh(self, t: Topic, r: int, now: float) -> bool:
        """The batch follower r would fetch next was appended less than replica_lag ago."""
        if self.replica_lag <= 0:
            return False
        c = t.cluster
        fn = c.nodes[r]
        if fn is None or fn.leader < 0 or fn.leader == r or c.nodes[fn.leader] is None:
            return False
        ln = c.nodes[fn.leader]
        if fn.log.leo >= ln.log.leo:
            return False
        b = ln.log.batch_starting_at(fn.log.leo)
        return b is not None and now - t.appended_at.get(b.base_offset, 0.0) < self.replica_lag

    def _heal(self, t: Topic) -> None:
        c = t.cluster
        now = time.monotonic()
        if now >= self.controller_delayed_until:
            msgs = sorted({(x.broker, x.leader_epoch) for x in c.controller_messages})
            if len(msgs) > 1:
                self.rng.shuffle(msgs)
            for msg in msgs:
                self._apply_if(t, ("broker_learn", *msg))
        if c.controller.leader == -1:
            cands = c.controller.election_candidates()
            for reason in (FAILOVER, ELR, UNCLEAN):
                pick = [b for b, why in cands if why == reason]
                if pick:
                    self._apply_if(t, ("controller_elect", pick[0], reason))
                    break
        ldr = c.controller.leader
        node = c.nodes[ldr] if ldr >= 0 else None
        if node is not None and node.is_leader:
            for f in node.isr:
                if f != ldr and c.nodes[f] is None:
                    self._apply_if(t, ("leader_shrink_isr", ldr, f))
                    break
        self.replicate(t)

    def tick(self) -> None:
        self.ticks += 1
        now = time.monotonic()
        flush = now - self.last_flush >= self.os_flush_seconds
        if flush:
            self.last_flush = now
        for t in list(self.topics.values()):
            self._heal(t)
            if flush:
                for b in range(self.rf):
                    self._apply_if(t, ("flush", b))

    # ------------------------------------------------------------------ metadata view
    def alive_brokers(self) -> list[int]:
        return [b for b in range(self.brokers) if self.up[b]]

    def partition_state(self, t: Topic) -> tuple[int, int, tuple[int, ...]]:
        c = t.cluster.controller
        return c.leader, c.leader_epoch, tuple(c.isr)

    # ------------------------------------------------------------------ faults
    def note(self, what: str) -> None:
        self.faults.append((round(time.monotonic() - self.started, 3), what))

    def crash(self, b: int) -> None:
        """kill -9 of broker b's process: its memory and purgatory are gone (its host's
        page cache is kept); the front end resets its connections."""
        self.note(f"crash({b})")
        self.up[b] = False
        for t in self.topics.values():
            if b < self.rf and t.cluster.nodes[b] is not None:
                self._drop_purgatory(t, b)
                t.cluster.apply(("crash", b))
            self._heal(t)

    def power_loss(self, b: int) -> None:
        """The host of broker b loses power: the process and the unflushed page cache."""
        self.note(f"power_loss({b})")
        self.up[b] = False
        self.powered[b] = False
        for t in self.topics.values():
            if b < self.rf:
                if t.cluster.nodes[b] is not None:
                    self._drop_purgatory(t, b)
                t.cluster.apply(("power_loss", b))
            self._heal(t)

    def _drop_purgatory(self, t: Topic, b: int) -> None:
        node = t.cluster.nodes[b]
        for d in node.purgatory:
            self.waiting.pop(d.batch, None)
        node.purgatory = []

    def restart(self, b: int) -> None:
        self.note(f"restart({b})")
        for t in self.topics.values():
            if b < self.rf and t.cluster.nodes[b] is None:
                t.cluster.apply(("restart", b))
        self.up[b] = True
        self.powered[b] = True
        for t in self.topics.values():
            self._heal(t)

    def shrink_isr(self, f: int, seconds: float) -> None:
        """Follower f stops fetching for `seconds` (a slow replica): every leader that has
        it in its ISR and is ahead of it drops it (replica.lag.time.max.ms); it rejoins by
        fetching once it has caught up."""
        self.note(f"isr_shrink({f}, {seconds:.2f}s)")
        self.fetch_paused[f] = time.monotonic() + seconds

    def try_shrink(self) -> None:
        now = time.monotonic()
        for f, until in self.fetch_paused.items():
            if until <= now:
                continue
            for t in self.topics.values():
                ldr = t.cluster.controller.leader
                if ldr >= 0 and ldr != f:
                    self._apply_if(t, ("leader_shrink_isr", ldr, f))

    def delay_controller(self, seconds: float) -> None:
        """Controller decisions reach the brokers late (LeaderAndIsr / metadata updates
        held up): in the meantime a leader the controller replaced still believes it leads."""
        self.note(f"controller_delay({seconds:.2f}s)")
        self.controller_delayed_until = time.monotonic() + seconds

    def rebalance(self) -> bool:
        """A preferred-leader rebalance (or controlled move): leadership of every topic
        moves to another ISR member."""
        moved = False
        for t in self.topics.values():
            cands = [b for b, why in t.cluster.controller.election_candidates() if why == "rebalance"]
            if cands:
                moved |= self._apply_if(t, ("controller_elect", cands[0], "rebalance"))
        if moved:
            self.note("rebalance")
        return moved

    def close(self) -> None:
        for t in self.topics.values():
            t.cluster.close(clean=True)
