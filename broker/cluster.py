"""A cluster in one process: N brokers on N simulated hosts, a controller, the network,
one producer and one consumer, driven one action at a time (deterministic, single-threaded).

`Cluster(config, data_dir)` creates the topic; `apply(action)` performs one action of the
trace vocabulary (traces/format.py ACTIONS) or raises `ActionNotEnabled` saying why it
cannot happen now; `observe()` reports what can be seen (traces/observation.py);
`enabled_actions()` lists what could happen next (for fault injection).

Faults are bounded by the run's settings (crashes, power losses, rebalance elections,
lost messages, slow-follower ISR shrinks, delayed fetches), as in every trace's config;
healing actions (restart, failover election, fetch, retry, flush) are not.

The network: produce requests in send order (a broker reads its connection in order),
produce responses in send order (each broker's connection delivers in order), controller
updates as a set (they may arrive late and in any order), at most one AlterPartition per
leader on its way to the controller (handled with its answer in one step). A follower
fetch is one request/response exchange (OffsetsForLeaderEpoch when the era uses it, then
Fetch) - except a *delayed* fetch (bounded by max_delayed_fetches): the request is held up
in the network, its follower gives up on it and goes on, and the leader handles it later
(a stale fetch); at most one per follower.
"""

from __future__ import annotations

from pathlib import Path

from ackcheck.broker import checkpoints
from ackcheck.broker import messages as m
from ackcheck.broker.clients import IN_FLIGHT, QUEUED, RETRY, Consumer, Producer
from ackcheck.broker.controller import REBALANCE, Controller
from ackcheck.broker.log import DEFAULT_SEGMENT_BYTES, HW_CHECKPOINT, PARTITION, TOPIC
from ackcheck.broker.node import Broker, BrokerSettings
from ackcheck.broker.pagecache import HostPageCache
from ackcheck.traces.format import ACTIONS, Action
from ackcheck.traces.observation import Batch, Observation, Replica
from ackcheck.traces.perturbations import BROKER_KEYS, PERTURBATIONS
from ackcheck.traces.render import action_str
from ackcheck.traces.settings import Config

GROUP = "ackcheck-group"
_BOUND_OF = {spec.broker_key: spec.name for spec in PERTURBATIONS if spec.broker_key}  # budget key -> bound
BASE_TIMESTAMP = 1_700_000_000_000  # deterministic CreateTime: base + step number


class ActionNotEnabled(ValueError):
    """The action cannot happen in the cluster's current state (the message says why)."""


class DeadHost:
    """What is left of a broker whose process is down: its host's files. Its memory (the
    leader and epoch it knew, the ISR and follower LEOs it tracked) is gone."""

    __slots__ = ("view",)

    def __init__(self):
        self.view = None  # (log, leo, hw, flushed) read back from the host's files


class Cluster:
    def __init__(self, config: Config, data_dir: str | Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES,
                 consumer: bool = True, fsync: bool = True):
        self.config = config
        self.data_dir = Path(data_dir)
        self.rf = config.replication_factor
        self.bounds = config.bounds
        self.consumer_enabled = consumer
        self.settings = BrokerSettings.from_config(config, segment_bytes)
        self.hosts = [HostPageCache(self.data_dir / f"broker-{b}", fsync=fsync) for b in range(self.rf)]
        self.coordinator_host = HostPageCache(self.data_dir / "group-coordinator", fsync=fsync)
        self.controller = Controller(self.rf, min_isr=config.min_insync_replicas,
                                     unclean_enabled=config.unclean_leader_election_enable,
                                     # KIP-966's ELR lives in the KRaft controller: not with ZooKeeper
                                     elr_enabled=config.rule("eligible_leader_replicas")
                                     and config.rule("kraft_controller"),
                                     # KIP-841/903 are checks of the KRaft controller too
                                     check_replica_eligibility=config.rule("fenced_replicas_not_in_isr")
                                     and config.rule("kraft_controller"),
                                     kraft=config.rule("kraft_controller"))
        isr = tuple(range(self.rf))
        self.nodes: list[Broker | None] = []
        for b in range(self.rf):
            node = Broker.create(b, self.settings, self.hosts[b], leader=0, leader_epoch=0, isr=isr,
                                 partition_epoch=self.controller.partition_epoch)
            node.broker_epoch = self.controller.broker_epochs[b]
            node.on_leader_hw = self._ghost_hw
            self.nodes.append(node)
        self.dead: list[DeadHost | None] = [None] * self.rf
        self.producer = Producer(
            max_records=config.bounds.max_records, records_per_batch=config.records_per_batch, acks=config.acks,
            idempotent=config.enable_idempotence, max_in_flight=config.max_in_flight_requests_per_connection,
            retries=config.retries, max_attempts=config.bounds.max_attempts,
            epoch_bump=config.rule("idempotent_epoch_bump"),
        )
        self.consumer = Consumer(config.auto_offset_reset)
        self._write_group_offset()
        # the network
        self.requests: list[m.ProduceRequest] = []
        self.responses: list[m.ProduceResponse] = []
        self.controller_messages: list[m.LeaderAndIsr] = []
        self.alter_partitions: list[m.AlterPartition] = []  # leaders' ISR changes to the controller
        self.delayed_fetches: list[m.FetchRequest] = []  # fetch requests held up (max_delayed_fetches)
        # fault budgets used
        self.used = dict.fromkeys(BROKER_KEYS, 0)
        self.committed_log: list[int] = []  # ghost: records below the highest HW ever
        self.steps = 0
        self.recoveries: list = []  # (step, broker, RecoveryReport)
        self.closed = False

    # ================================================================== observation
    def _ghost_hw(self, node: Broker, hw: int) -> None:
        if hw > len(self.committed_log):
            recs = [r for b in node.log.batches for r in b.records]
            self.committed_log.extend(recs[len(self.committed_log):hw])

    def _spent(self, key: str) -> bool:
        """The fault budget `key` (traces/perturbations.py broker_key) is used up."""
        return self.used[key] >= getattr(self.bounds, _BOUND_OF[key])

    def _dead_view(self, b: int):
        d = self.dead[b]
        if d.view is None:
            # read the log back from the host's files as a restart would recover it
            host = self.hosts[b]
            log = _peek_log(host)
            try:
                hw = checkpoints.parse_offsets(host.read(HW_CHECKPOINT), HW_CHECKPOINT).get((TOPIC, PARTITION), 0)
            except checkpoints.CheckpointError:
                hw = 0
            d.view = (log[0], log[1], min(hw, log[1]), log[2])
        return d.view

    def replica(self, b: int) -> Replica:
        node = self.nodes[b]
        if node is not None:
            log = node.log
            return Replica(True, log.observed(), log.leo, node.hw, log.flushed_offset(), node.leader_epoch,
                           node.leader, tuple(node.follower_leos), node.isr)
        log, leo, hw, flushed = self._dead_view(b)
        return Replica(False, log, leo, hw, flushed, -1, -1, (-1,) * self.rf, ())

    def observe(self) -> Observation:
        c = self.controller
        in_flight = sorted({r for q in self.requests for r in q.records})
        return Observation(
            replicas=tuple(self.replica(b) for b in range(self.rf)),
            leader=c.leader,
            leader_epoch=c.leader_epoch,
            isr=c.isr,
            elr=c.elr,
            outcomes=self.producer.outcomes(),
            in_flight=tuple(in_flight),
            ack_isr_sizes=tuple(self.producer.ack_isr_sizes),
            consumer_position=self.consumer.position,
            committed_offset=self.consumer.committed,
            consumer_read=tuple(self.consumer.read),
            committed_log=tuple(self.committed_log),
        )

    # ================================================================ enabled checks
    # Each returns None when the action is enabled, else the reason it is not.
    def _alive(self, b: int) -> bool:
        return self.nodes[b] is not None

    def _believes_leader(self, b: int) -> bool:
        n = self.nodes[b]
        return n is not None and n.is_leader

    def _why_not_send(self, batch: int, broker: int) -> str | None:
        p = self.producer
        if p.next_to_send() != batch:
            return f"batch {batch} is not the next the producer sends (next: {p.next_to_send()})"
        if p.in_flight_count() >= p.max_in_flight:
            return f"{p.in_flight_count()} requests in flight (max.in.flight.requests.per.connection)"
        if not self._believes_leader(broker):
            return f"broker {broker} is down or does not believe it leads"
        return None

    def _deliverable_response(self, batch: int, attempt: int) -> m.ProduceResponse | None:
        seen = set()
        for r in self.responses:
            if r.broker in seen:
                continue
            seen.add(r.broker)
            if r.batch == batch and r.attempt == attempt:
                return r
        return None

    def _attempt_alive(self, batch: int, attempt: int) -> bool:
        if any(q.batch == batch and q.attempt == attempt for q in self.requests):
            return True
        if any(r.batch == batch and r.attempt == attempt for r in self.responses):
            return True
        return any(n is not None and n.parked(batch, attempt) is not None for n in self.nodes)

    def _why_not_timeout(self, batch: int) -> str | None:
        b = self.producer.batches[batch]
        if b.status != IN_FLIGHT:
            return f"batch {batch} is not in flight"
        if self._attempt_alive(batch, b.attempts):
            return f"attempt {b.attempts} of batch {batch} is still in the network or a purgatory"
        return None

    def _next_request(self, broker: int) -> m.ProduceRequest | None:
        for q in self.requests:
            if q.broker == broker:
                return q
        return None

    def _can_change_isr(self, ldr: int) -> bool:
        n = self.nodes[ldr]
        return n is not None and n.may_propose_isr_change

    def _why_not_shrink(self, ldr: int, f: int) -> str | None:
        if not self._can_change_isr(ldr):
            return f"broker {ldr} is down, does not believe it leads, or has an ISR change pending"
        n = self.nodes[ldr]
        if f == ldr or f not in n.isr:
            return f"broker {f} is not a follower in broker {ldr}'s ISR"
        if self.nodes[f] is None:
            return None  # removing a dead follower is healing
        if n.follower_leos[f] >= n.leo:
            return f"follower {f} has caught up with the leader"
        if self._spent("isr_shrink"):
            return "the ISR-shrink budget is used up"
        return None

    def _caught_up(self, ldr: int, f: int, fetch_offset: int) -> bool:
        """Would leader ldr take follower f, fetching at `fetch_offset`, back into its ISR?"""
        ln, fn = self.nodes[ldr], self.nodes[f]
        if fn is None or fn.leader != ldr:
            return False
        # KIP-320: the leader serves (and so counts) only fetches in its own epoch; before
        # it a fetch carries no epoch and the leader takes it from a follower of any epoch
        if self.settings.fenced_leader_epoch and fn.leader_epoch != ln.leader_epoch:
            return False
        return ln.follower_caught_up(fetch_offset)

    def _fetch_proposes_expansion(self, ldr: int, f: int, fetch_offset: int) -> bool:
        """maybeExpandIsr, judged on every fetch: f outside leader ldr's ISR, no ISR change
        of ldr pending, and f caught up at this fetch's offset."""
        ln = self.nodes[ldr]
        return f not in ln.isr and ln.may_propose_isr_change and self._caught_up(ldr, f, fetch_offset)

    def _fetch_plan(self, r: int):
        """What follower r's next fetch would do, or a reason string if nothing can/would."""
        fn = self.nodes[r]
        if fn is None:
            return f"broker {r} is down"
        ldr = fn.leader
        if ldr < 0 or ldr == r:
            return f"broker {r} follows no leader"
        ln = self.nodes[ldr]
        if ln is None or not ln.is_leader:
            return f"broker {r}'s leader {ldr} is down or does not believe it leads"
        if self.settings.fenced_leader_epoch and ln.leader_epoch != fn.leader_epoch:
            return f"broker {r} (epoch {fn.leader_epoch}) and leader {ldr} (epoch {ln.leader_epoch}) disagree: fenced"
        leo, hw = fn.leo, fn.hw
        t = fn.truncation_offset(ln)
        if t < leo:
            leo = fn._aligned_end(t)
            hw = min(hw, leo)
        truncate = leo < fn.leo
        # the leader keeps the offset of a follower it tracks; a fetch may also propose r's
        # return to the ISR (a change of the leader's state even if nothing else moves)
        report = r in ln.tracked_followers and ln.follower_leos[r] != leo
        expand = self._fetch_proposes_expansion(ldr, r, leo)
        batch = ln.log.batch_starting_at(leo) if leo < ln.leo else None
        # a fetcher in its Truncating state leaves it with this fetch: a change in itself
        if not (truncate or report or expand or batch is not None or fn.fetcher_truncating) \
                and min(ln.hw, leo) == hw:
            return "the fetch would change nothing"
        return (ldr, t if truncate else None)

    def _why_not_delay_fetch(self, r: int) -> str | None:
        """A fetch request of follower r held up in the network (the follower's fetcher
        times it out and moves on): r must be sending Fetch requests to a leader."""
        if self._spent("delayed_fetch"):
            return "the delayed-fetch budget is used up"
        fn = self.nodes[r]
        if fn is None:
            return f"broker {r} is down"
        if fn.leader < 0 or fn.leader == r:
            return f"broker {r} follows no leader"
        if self.nodes[fn.leader] is None:
            return f"broker {r}'s leader {fn.leader} is down: no connection to send on"
        if fn.fetcher_truncating:
            # before 2.7 the fetcher first asks OffsetsForLeaderEpoch, it sends no Fetch yet
            return f"broker {r}'s fetcher is truncating (OffsetsForLeaderEpoch), not fetching"
        if any(q.follower == r for q in self.delayed_fetches):
            return f"a fetch request of broker {r} is already held up in the network"
        return None

    def _delayed_fetch(self, ldr: int, r: int) -> m.FetchRequest | None:
        for q in self.delayed_fetches:
            if q.follower == r and q.leader == ldr:
                return q
        return None

    def why_not(self, action: Action) -> str | None:
        """None if `action` is enabled now, else why not."""
        name, *args = action
        if name not in ACTIONS or len(args) != len(ACTIONS[name]):
            return f"unknown action {action!r}"
        rf = self.rf
        p = self.producer
        nb = len(p.batches)

        def bad_broker(b) -> bool:
            return not (isinstance(b, int) and 0 <= b < rf)

        if name == "producer_send":
            batch, broker = args
            if not 0 <= batch < nb or bad_broker(broker):
                return "no such batch or broker"
            return self._why_not_send(batch, broker)
        if name == "producer_receive":
            return None if self._deliverable_response(*args) is not None else \
                f"no response to batch {args[0]} attempt {args[1]} is next on its connection"
        if name == "producer_timeout":
            if not 0 <= args[0] < nb:
                return "no such batch"
            return self._why_not_timeout(args[0])
        if name == "producer_expire":
            if not 0 <= args[0] < nb:
                return "no such batch"
            if self.controller.leader != -1:
                return "the partition has a leader"
            if p.batches[args[0]].status not in (QUEUED, RETRY):
                return f"batch {args[0]} is not waiting in the accumulator"
            return None
        if name == "broker_handle_produce":
            broker, batch, attempt = args
            if bad_broker(broker) or not self._alive(broker):
                return f"broker {broker} is down"
            q = self._next_request(broker)
            if q is None or q.batch != batch or q.attempt != attempt:
                return f"the next request on broker {broker}'s connection is not batch {batch} attempt {attempt}"
            if self.nodes[broker].purgatory:
                # SocketServer: the channel stays muted until the parked request is answered
                return f"broker {broker}'s connection is muted: a request waits in its purgatory"
            return None
        if name == "other_producer_write":
            broker = args[0]
            if bad_broker(broker) or not self._believes_leader(broker):
                return f"broker {broker} does not believe it leads"
            if self._spent("other_write"):
                return "the budget of other producers' records is used up"
            return None
        if name == "leader_timeout_produce":
            broker, batch, attempt = args
            if bad_broker(broker) or not self._alive(broker):
                return f"broker {broker} is down"
            if self.nodes[broker].parked(batch, attempt) is None:
                return f"broker {broker} has no parked request for batch {batch} attempt {attempt}"
            # request.timeout.ms passing is a delay perturbation: it spends the lost-message budget
            if self._spent("lost_message"):
                return "the lost-message budget (which request timeouts spend) is used up"
            return None
        if name == "follower_fetch":
            if bad_broker(args[0]):
                return "no such broker"
            plan = self._fetch_plan(args[0])
            return plan if isinstance(plan, str) else None
        if name == "follower_fetch_delayed":
            if bad_broker(args[0]):
                return "no such broker"
            return self._why_not_delay_fetch(args[0])
        if name == "leader_handle_delayed_fetch":
            if bad_broker(args[0]) or bad_broker(args[1]):
                return "no such broker"
            if self._delayed_fetch(args[0], args[1]) is None:
                return f"no delayed fetch request of broker {args[1]} to broker {args[0]} is in the network"
            return None
        if name == "leader_shrink_isr":
            if bad_broker(args[0]) or bad_broker(args[1]):
                return "no such broker"
            return self._why_not_shrink(*args)
        if name == "controller_alter_partition":
            if bad_broker(args[0]):
                return "no such broker"
            if self._alter_partition_from(args[0]) is None:
                return f"no ISR change of broker {args[0]} is on its way to the controller"
            return None
        if name == "broker_learn":
            if not any(msg.broker == args[0] and msg.leader_epoch == args[1] for msg in self.controller_messages):
                return f"no LeaderAndIsr for broker {args[0]} epoch {args[1]} in the network"
            return None
        if name == "controller_elect":
            b, reason = args
            if (b, reason) not in self.controller.election_candidates():
                return f"the controller cannot elect broker {b} ({reason}) now"
            if reason == REBALANCE and self._spent("rebalance"):
                return "the election budget is used up"
            return None
        if name == "crash":
            if bad_broker(args[0]) or not self._alive(args[0]):
                return f"broker {args[0]} is down"
            if self._spent("crash"):
                return "the crash budget is used up"
            return None
        if name == "power_loss":
            if bad_broker(args[0]):
                return "no such broker"
            if self._spent("power_loss"):
                return "the power-loss budget is used up"
            return None
        if name == "restart":
            if bad_broker(args[0]) or self._alive(args[0]):
                return f"broker {args[0]} is not down"
            return None
        if name == "flush":
            b = args[0]
            if bad_broker(b):
                return "no such broker"
            # the OS flusher only matters while a power loss can still come (a reduction
            # the model makes too: flushing then changes nothing observable later)
            if self._spent("power_loss"):
                return "no power loss can come any more: flushing changes nothing"
            rep = self.replica(b)
            if rep.flushed_offset >= rep.log_end_offset:
                return f"broker {b}'s host has no unflushed log data"
            return None
        if name in ("lose_request", "lose_response"):
            if self._spent("lost_message"):
                return "the lost-message budget is used up"
            pool = self.requests if name == "lose_request" else self.responses
            if not any(x.batch == args[0] and x.attempt == args[1] for x in pool):
                return f"no such {name[5:]} in the network"
            return None
        if not self.consumer_enabled:
            return "the consumer is not part of this run"
        c = self.consumer
        ldr = self.controller.leader
        if ldr < 0 or not self._believes_leader(ldr):
            return "the consumer finds no live leader"
        n = self.nodes[ldr]
        if name == "consumer_poll":
            return None if c.position < n.hw else f"nothing below the high watermark at {c.position}"
        if name == "consumer_reset":
            return None if c.position > n.leo else "the position is inside the log"
        return f"unknown action {name}"

    def enabled_actions(self) -> list[Action]:
        """Every action enabled now, in a fixed order. (An ISR expansion is no action of its
        own: it happens as part of the follower's fetch, as in Kafka.)"""
        cands: list[Action] = []
        p = self.producer
        nxt = p.next_to_send()
        if nxt is not None:
            cands += [("producer_send", nxt, b) for b in range(self.rf)]
        seen = set()
        for r in self.responses:
            if r.broker not in seen:
                seen.add(r.broker)
                cands.append(("producer_receive", r.batch, r.attempt))
        cands += [("producer_timeout", i) for i, b in enumerate(p.batches) if b.status == IN_FLIGHT]
        cands += [("producer_expire", i) for i, b in enumerate(p.batches) if b.status in (QUEUED, RETRY)]
        cands += [("other_producer_write", b) for b in range(self.rf)]
        for b in range(self.rf):
            q = self._next_request(b)
            if q is not None:
                cands.append(("broker_handle_produce", b, q.batch, q.attempt))
        for b, n in enumerate(self.nodes):
            if n is not None:
                cands += [("leader_timeout_produce", b, d.batch, d.attempt) for d in n.purgatory]
        cands += [("follower_fetch", r) for r in range(self.rf)]
        cands += [("follower_fetch_delayed", r) for r in range(self.rf)]
        cands += [("leader_handle_delayed_fetch", q.leader, q.follower) for q in self.delayed_fetches]
        cands += [("leader_shrink_isr", ldr, f) for ldr in range(self.rf) for f in range(self.rf) if f != ldr]
        cands += sorted({("broker_learn", msg.broker, msg.leader_epoch) for msg in self.controller_messages})
        cands += [("controller_alter_partition", req.leader) for req in self.alter_partitions]
        cands += [("controller_elect", b, reason) for b, reason in self.controller.election_candidates()]
        for b in range(self.rf):
            cands += [("crash", b), ("power_loss", b), ("restart", b), ("flush", b)]
        cands += [("lose_request", q.batch, q.attempt) for q in self.requests]
        cands += [("lose_response", r.batch, r.attempt) for r in self.responses]
        if self.consumer_enabled:
            cands += [("consumer_poll",), ("consumer_reset",)]
        return [a for a in cands if self.why_not(a) is None]

    # ======================================================================= apply
    def apply(self, action: Action) -> None:
        action = tuple(action)
        why = self.why_not(action)
        if why is not None:
            raise ActionNotEnabled(f"{action_str(action)} is not enabled: {why}")
        name, *args = action
        getattr(self, "_do_" + name)(*args)
        self._drain_outboxes()
        self.steps += 1

    def _drain_outboxes(self) -> None:
        for n in self.nodes:
            if n is not None and n.outbox:
                self.responses.extend(n.outbox)
                n.outbox.clear()

    # ---------------------------------------------------------------- producer
    def _do_producer_send(self, batch: int, broker: int) -> None:
        self.requests.append(self.producer.send(batch, broker))

    def _do_producer_receive(self, batch: int, attempt: int) -> None:
        r = self._deliverable_response(batch, attempt)
        self.responses.remove(r)
        self.producer.receive(r)

    def _do_producer_timeout(self, batch: int) -> None:
        self.producer.timeout(batch)

    def _do_producer_expire(self, batch: int) -> None:
        self.producer.expire(batch)

    def _do_other_producer_write(self, broker: int) -> None:
        """Another (non-idempotent) producer's record, appended by the leader; ids above
        this producer's records (the model's other_producer_write)."""
        self.used["other_write"] += 1
        n = self.nodes[broker]
        rec = self.bounds.max_records + self.used["other_write"]
        n.log.append_as_leader((rec,), n.leader_epoch, timestamp=BASE_TIMESTAMP + self.steps)
        n.follower_leos[n.id] = n.log.leo
        n.maybe_advance_hw()

    # ---------------------------------------------------------------- brokers
    def _do_broker_handle_produce(self, broker: int, batch: int, attempt: int) -> None:
        q = self._next_request(broker)
        self.requests.remove(q)
        self.nodes[broker].handle_produce(q, timestamp=BASE_TIMESTAMP + self.steps)

    def _do_leader_timeout_produce(self, broker: int, batch: int, attempt: int) -> None:
        self.used["lost_message"] += 1
        self.nodes[broker].timeout_produce(batch, attempt)

    def _do_follower_fetch(self, r: int) -> None:
        ldr, truncate_at = self._fetch_plan(r)
        fn, ln = self.nodes[r], self.nodes[ldr]
        if truncate_at is not None:
            fn.truncate_to(truncate_at)
        fn.fetched()
        # the leader reads the log (the response carries the HW as read with the data), then
        # notes the follower's fetch offset (its LEO, if it tracks r) and may advance its HW
        # - so followers learn a HW one round late (ReplicaManager.fetchMessages); on every
        # fetch, a caught-up follower outside the leader's ISR makes the leader propose its
        # return (maybeExpandIsr), and from then on its offset is kept
        hw_read = ln.hw
        ln.record_follower_fetch(r, fn.leo, fn.broker_epoch)
        if self._fetch_proposes_expansion(ldr, r, fn.leo):
            self.alter_partitions.append(ln.propose_expand(r, fn.leo))
        if fn.leo < ln.leo:
            b = ln.log.batch_starting_at(fn.leo)
            if b is not None:
                fn.append_fetched(ln.log.read_raw(b))
        fn.learn_leader_hw(hw_read)

    def _do_follower_fetch_delayed(self, r: int) -> None:
        """Follower r's fetcher sends a Fetch request (its epoch, its LEO as the fetch
        offset, its latest leader epoch, its broker epoch) that the network holds up; the
        fetcher times it out and carries on, nothing of r changes."""
        self.used["delayed_fetch"] += 1
        fn = self.nodes[r]
        # lastFetchedEpoch: the latest epoch of its leader-epoch cache (-1 for an empty log)
        self.delayed_fetches.append(m.FetchRequest(r, fn.leader, fn.leader_epoch, fn.leo,
                                                   fn.log.epochs.latest_epoch, fn.broker_epoch))

    def _do_leader_handle_delayed_fetch(self, ldr: int, r: int) -> None:
        """The held-up request reaches broker ldr's host: whatever process runs there
        handles it (see Broker.handle_stale_fetch); nothing if none does."""
        q = self._delayed_fetch(ldr, r)
        self.delayed_fetches.remove(q)
        ln = self.nodes[ldr]
        if ln is None:
            return
        req = ln.handle_stale_fetch(q)
        if req is not None:
            self.alter_partitions.append(req)

    def _drop_delayed_fetches(self, b: int) -> None:
        """Broker b's connections are gone: a held-up fetch request from it or to it with them."""
        self.delayed_fetches = [q for q in self.delayed_fetches if b not in (q.follower, q.leader)]

    def _do_leader_shrink_isr(self, ldr: int, f: int) -> None:
        if self.nodes[f] is not None:
            self.used["isr_shrink"] += 1
        self.alter_partitions.append(self.nodes[ldr].propose_shrink(f))

    def _do_broker_learn(self, broker: int, epoch: int) -> None:
        msg = next(x for x in self.controller_messages if x.broker == broker and x.leader_epoch == epoch)
        self._drop_stale_updates(broker, epoch)
        self.nodes[broker].learn(msg.leader_epoch, msg.leader, msg.isr, msg.partition_epoch)
        self._drop_void_alter_partitions(broker)

    # ---------------------------------------------------------------- controller
    def _drop_stale_updates(self, b: int, epoch: int) -> None:
        """Broker b has taken the update for `epoch`: any update for b of that epoch or an
        older one would be ignored on arrival (stale leader epoch), so it leaves the network."""
        self.controller_messages = [x for x in self.controller_messages
                                    if x.broker != b or x.leader_epoch > epoch]

    def _alter_partition_from(self, b: int) -> m.AlterPartition | None:
        for req in self.alter_partitions:
            if req.leader == b:
                return req
        return None

    def _drop_void_alter_partitions(self, b: int) -> None:
        """Broker b no longer waits for its ISR change (it learned a new epoch, or died):
        the controller could only refuse it (stale leader epoch, fenced broker) and b would
        ignore the answer, so the request is taken out of the network."""
        node = self.nodes[b]
        pending = node.pending_isr.request if node is not None and node.pending_isr is not None else None
        self.alter_partitions = [q for q in self.alter_partitions if q.leader != b or q == pending]

    def _do_controller_alter_partition(self, b: int) -> None:
        req = self._alter_partition_from(b)
        self.alter_partitions.remove(req)
        resp = self.controller.alter_partition(req)
        self.nodes[b].handle_alter_partition_response(req, resp)

    def _do_controller_elect(self, b: int, reason: str) -> None:
        if reason == REBALANCE:
            self.used["rebalance"] += 1
        self.controller_messages.extend(self.controller.elect(b, reason))

    # ---------------------------------------------------------------- faults, healing
    def _connection_attempts(self, b: int) -> list[tuple[int, int]]:
        """(batch, attempt) of everything on the producer's connection to broker b: its
        unread responses, its unhandled requests, the requests it parked."""
        out = [(r.batch, r.attempt) for r in self.responses if r.broker == b]
        out += [(q.batch, q.attempt) for q in self.requests if q.broker == b]
        node = self.nodes[b]
        if node is not None:
            out += [(d.batch, d.attempt) for d in node.purgatory]
        return out

    def _break_connection(self, b: int, attempts: list[tuple[int, int]]) -> None:
        """The producer's connection to broker b is gone (TCP delivers in order or not at
        all): unhandled requests and unread responses vanish, parked requests will be
        answered on a dead socket, and the producer fails every in-flight attempt of that
        connection with a retriable NetworkException."""
        self.responses = [r for r in self.responses if r.broker != b]
        self.requests = [q for q in self.requests if q.broker != b]
        if self.nodes[b] is not None:
            self.nodes[b].purgatory = []
        self.producer.connection_broken(attempts)

    def _kill(self, b: int) -> None:
        self.dead[b] = DeadHost()
        self.nodes[b] = None  # the process's memory is gone
        self.requests = [q for q in self.requests if q.broker != b]
        self.controller_messages = [x for x in self.controller_messages if x.broker != b]
        self._drop_void_alter_partitions(b)
        self._drop_delayed_fetches(b)
        if self.controller.broker_failed(b):
            self._publish_isr_change()

    def _publish_isr_change(self) -> None:
        """The controller changed the ISR on its own (KRaft fencing): a partition change
        record, ordered in the metadata log after the leader change of the current epoch.
        A broker still to learn that epoch takes both together: its queued update carries
        the new ISR. The leader, if it already holds the current epoch, takes the change in
        place (and, acting as leader, moves its HW)."""
        c = self.controller
        self.controller_messages = [
            x._replace(isr=c.isr, partition_epoch=c.partition_epoch) if x.leader_epoch == c.leader_epoch else x
            for x in self.controller_messages]
        ldr = c.leader
        node = self.nodes[ldr] if ldr >= 0 else None
        if node is not None and node.leader_epoch == c.leader_epoch:
            node.learn_isr(c.isr, c.partition_epoch)

    def _do_crash(self, b: int) -> None:
        """kill -9: the host's kernel resets the process's sockets, so the producer sees the
        disconnect at once (a power loss sends no reset: the producer times out later)."""
        self.used["crash"] += 1
        attempts = self._connection_attempts(b)
        self._kill(b)
        self._break_connection(b, attempts)

    def _do_power_loss(self, b: int, torn: dict | None = None) -> None:
        self.used["power_loss"] += 1
        if self.nodes[b] is not None:
            self._kill(b)
        self._drop_delayed_fetches(b)
        self.hosts[b].power_loss(torn)
        self.dead[b].view = None

    def power_loss_torn(self, b: int, torn: dict) -> None:
        """power_loss(b) where some unflushed bytes reached the disk (torn writes); the
        recovery must cut them. Observably the same as power_loss(b)."""
        why = self.why_not(("power_loss", b))
        if why is not None:
            raise ActionNotEnabled(f"power_loss({b}) is not enabled: {why}")
        self._do_power_loss(b, torn)
        self._drain_outboxes()
        self.steps += 1

    def torn_candidates(self, b: int) -> dict[str, int]:
        """For each segment file of b's host with unflushed bytes: how many there are."""
        host = self.hosts[b]
        return {rel: host.size(rel) - host.durable_len(rel) for rel in host.dirty_files() if rel.endswith(".log")}

    def _do_restart(self, b: int) -> None:
        node = Broker.start(b, self.settings, self.hosts[b])
        node.on_leader_hw = self._ghost_hw
        self.recoveries.append((self.steps + 1, b, node.recovery))
        self.nodes[b] = node
        self.dead[b] = None
        msg = self.controller.broker_registered(b, unclean_shutdown=node.unclean_start)
        node.broker_epoch = self.controller.broker_epochs[b]
        node.follower_leos = [-1] * self.rf
        self._drop_stale_updates(b, msg.leader_epoch)
        node.learn(msg.leader_epoch, msg.leader, msg.isr, msg.partition_epoch)

    def _do_flush(self, b: int) -> None:
        self.hosts[b].flush()
        if self.dead[b] is not None:
            self.dead[b].view = None

    def _do_lose_request(self, batch: int, attempt: int) -> None:
        """A request lost (or late past request.timeout.ms): its connection breaks."""
        self.used["lost_message"] += 1
        q = next(x for x in self.requests if x.batch == batch and x.attempt == attempt)
        self._break_connection(q.broker, self._connection_attempts(q.broker))

    def _do_lose_response(self, batch: int, attempt: int) -> None:
        """A response lost (or late): its connection breaks."""
        self.used["lost_message"] += 1
        r = next(x for x in self.responses if x.batch == batch and x.attempt == attempt)
        self._break_connection(r.broker, self._connection_attempts(r.broker))

    # ---------------------------------------------------------------- consumer
    def _do_consumer_poll(self) -> None:
        """Fetch one record below the leader's HW (read from its segment file), then
        commitSync the new position to the group coordinator."""
        n = self.nodes[self.controller.leader]
        c = self.consumer
        rec = n.log.read_record(c.position)
        c.read.append((c.position, rec))
        c.position += 1
        c.committed = c.position
        self._write_group_offset()

    def _do_consumer_reset(self) -> None:
        n = self.nodes[self.controller.leader]
        c = self.consumer
        c.position = n.hw if c.auto_offset_reset == "latest" else 0

    def _write_group_offset(self) -> None:
        self.coordinator_host.write_durable(
            "consumer-offsets",
            checkpoints.format_group_offsets({(GROUP, TOPIC, PARTITION): self.consumer.committed}),
        )

    # ================================================================== shutdown
    def faults_injected(self) -> dict[str, int]:
        return dict(self.used)

    def close(self, *, clean: bool = True) -> None:
        """Stop the cluster. clean: controlled shutdown of every live broker (flush, marker);
        either way every host's page cache reaches the disk (the OS writes it out), so the
        data directory holds the final state for inspection."""
        if self.closed:
            return
        for n in self.nodes:
            if n is not None and clean:
                n.shutdown()
        for h in self.hosts:
            h.sync_all()
        self.coordinator_host.sync_all()
        self.closed = True


def _peek_log(host: HostPageCache):
    """Read a down broker's log from its host's files without changing them: the batches
    a restart would recover (every batch validated, stopping at the first invalid one)."""
    from ackcheck.broker import records
    from ackcheck.broker.log import PARTITION_DIR

    names = sorted((int(n[:-4]), n) for n in host.listdir(PARTITION_DIR) if n.endswith(".log") and n[:-4].isdigit())
    out: list[Batch] = []
    expect = 0
    durable_ok = True
    flushed = 0
    for base, name in names:
        if base != expect and (out or base != 0):
            break
        rel = f"{PARTITION_DIR}/{name}"
        buf = host.view(rel)
        dlen = host.durable_len(rel)
        pos = 0
        stop = False
        while pos < len(buf):
            try:
                d = records.decode_batch(buf, pos)
            except records.CorruptBatch:
                stop = True
                break
            h = d.header
            if h.base_offset != expect:
                stop = True
                break
            out.append(Batch(h.partition_leader_epoch, d.record_ids, h.producer_epoch, h.base_sequence))
            expect = h.next_offset
            pos += h.size
            if durable_ok and pos <= dlen:
                flushed = expect
            else:
                durable_ok = False
        del buf
        if stop:
            break
    return tuple(out), expect, flushed
