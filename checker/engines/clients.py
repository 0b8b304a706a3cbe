"""Real Kafka clients against the reference broker, under faults, judged by the invariant
catalogue (`ackcheck clients`).

A run: a live cluster behind the wire front end (broker/wire/), one producer of the
chosen client library sending records 1..N (values are the record ids as ASCII, so the
history speaks the model's language) at a steady pace while a seeded fault schedule
(broker/wire/faults.py) - or a model counterexample's fault steps - hits the cluster;
then every fault is healed, and a consumer of the same library reads the partition from
offset 0 up to the high watermark.

The client-observed history: per record, its send outcome as the client reported it - ok
(with its offset), failed (a definite error: the broker said it was not appended, per
`DEFINITE_ERRORS`), indeterminate (a timeout, a lost connection, or an error after which
the record may be in the log) - and every (offset, record) the consumer read. It is
turned into an `Observation` (outcomes, consumer reads, and the brokers' final logs with
their record ids mapped back to the client's) and judged by the catalogue's invariants,
each separately, so every anomaly is reported with its Jepsen name. The model is asked
the same question (`predict`): the configuration, the fault families as bounds, each
invariant checked exhaustively on small bounds.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ackcheck.broker.wire.faults import FAMILIES, Fault, from_trace, schedule
from ackcheck.broker.wire.server import serving
from ackcheck.checker.engines.client_libs import CONSUMERS, PRODUCERS, TOPIC, Send
from ackcheck.invariants.catalogue import BY_ID, Judge
from ackcheck.traces.observation import FAILED, INDETERMINATE, OK, PENDING, Batch, Observation, Replica
from ackcheck.traces.settings import Config

CLIENTS = ("kafka-python", "aiokafka", "confluent-kafka")
# invariants a client history can be judged by (the rest need the broker's internals or
# the model's bookkeeping: hw-bound, epoch-sanity, sequence-contiguity, min-isr-at-ack)
CLIENT_INVARIANTS = ("acked-write-survives", "no-duplicates", "producer-order", "failed-write-invisible",
                     "read-durability", "committed-prefix-agreement", "leader-completeness", "consumer-monotonic")
PACE = 0.03  # seconds between sends
OUTCOME_KIND = {"ok": OK, "failed": FAILED, "indeterminate": INDETERMINATE, "pending": PENDING}
# each family's perturbation as model bounds (the model predicts with these)
FAMILY_BOUNDS = {
    "crash": {"max_crashes": 1},
    "power-loss": {"max_power_losses": 1},
    "isr-shrink": {"max_isr_shrinks": 1},
    "network": {"max_lost_messages": 1},
    "controller": {"max_elections": 1},
}
# what the model is asked (the consumer-side invariants double its state space and add
# nothing a producer-side fault changes; the client's reads are judged all the same)
PREDICTED = ("acked-write-survives", "no-duplicates", "producer-order", "failed-write-invisible",
             "committed-prefix-agreement", "leader-completeness")
NO_FAULTS = {"max_crashes": 0, "max_power_losses": 0, "max_isr_shrinks": 0, "max_lost_messages": 0,
             "max_elections": 0, "max_delayed_fetches": 0}


def client_version(client: str) -> str | None:
    try:
        if client == "kafka-python":
            import kafka
            return f"kafka-python {kafka.__version__}"
        if client == "aiokafka":
            import aiokafka
            return f"aiokafka {aiokafka.__version__}"
        if client == "confluent-kafka":
            import confluent_kafka
            v = confluent_kafka.version()
            v = v[0] if isinstance(v, tuple) else v
            return f"confluent-kafka {v} (librdkafka {confluent_kafka.libversion()[0]})"
    except ImportError:
        return None
    raise ValueError(f"unknown client {client!r} (known: {', '.join(CLIENTS)})")


@dataclass
class ClientsResult:
    client: str
    version: str
    config: Config
    seed: int
    records: int
    families: list[str]
    schedule: list[Fault]
    sends: list[Send] = field(default_factory=list)
    reads: list[tuple[int, int]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    fatal: str | None = None  # a fatal producer error (librdkafka's idempotence guarantee)
    violations: list[dict] = field(default_factory=list)
    prediction: dict = field(default_factory=dict)
    observation: Observation | None = None
    seconds: float = 0.0
    consumer_complete: bool = True
    broker_stats: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        # one run of real clients under faults is evidence, never a proof: "no-violation-found"
        from ackcheck.checker.engines.result import verdict_of

        return verdict_of("clients", violated=bool(self.violations))

    @property
    def exit_code(self) -> int:
        from ackcheck.checker.engines.result import EXIT_CODES

        return EXIT_CODES[self.verdict]

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "failed": 0, "indeterminate": 0, "pending": 0}
        for s in self.sends:
            out[s.outcome] += 1
        return out

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "client": self.client,
            "client_version": self.version,
            "config": {k: v for k, v in self.config.as_dict().items() if k != "bounds"},
            "seed": self.seed,
            "records": self.records,
            "faults": self.families,
            "schedule": [f._asdict() for f in self.schedule],
            "applied": self.applied,
            "outcomes": self.counts(),
            "sends": [s.__dict__ for s in self.sends],
            "reads": [list(r) for r in self.reads],
            "consumer_complete": self.consumer_complete,
            "fatal_error": self.fatal,
            "violations": self.violations,
            "violation": self.violations[0] if self.violations else None,
            "model_prediction": self.prediction,
            "seconds": round(self.seconds, 3),
            "broker": self.broker_stats,
        }


# ============================================================================ judging
def _record_of(value: bytes | None) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0  # not one of the workload's records


def observation(sends: list[Send], reads: list[tuple[int, int]], cluster, store) -> Observation:
    """The history as an Observation: the client's outcomes and reads, and the brokers'
    final replicas with each record id mapped back to the client's record."""
    base = cluster.observe()

    def mapped(log):
        return tuple(Batch(b.leader_epoch, tuple(_record_of(store.get(r).value) for r in b.records),
                           b.producer_epoch, b.base_sequence) for b in log)

    reps = tuple(Replica(r.alive, mapped(r.log), r.log_end_offset, r.high_watermark, r.flushed_offset,
                         r.leader_epoch, r.leader, r.follower_leos, r.isr) for r in base.replicas)
    committed = tuple(_record_of(store.get(r).value) for r in base.committed_log)
    outcomes = tuple((OUTCOME_KIND[s.outcome], s.offset if s.outcome == "ok" else -1) for s in sends)
    return Observation(reps, base.leader, base.leader_epoch, base.isr, base.elr, outcomes, (),
                       (-1,) * len(sends), len(reads) and reads[-1][0] + 1, 0, tuple(reads), committed)


def judge(obs: Observation, config: Config, reads: list[tuple[int, int]]) -> list[dict]:
    """Every client-judgeable invariant, each on its own; consumer-monotonic (a step
    invariant) over the successive positions of the consumer's reads."""
    out = []
    for inv_id in CLIENT_INVARIANTS:
        inv = BY_ID[inv_id]
        if not inv.applies(config):
            continue
        if inv.step:
            j = Judge([inv], config)
            prev = obs._replace(consumer_position=0, consumer_read=())
            for k, (off, _) in enumerate(reads):
                cur = obs._replace(consumer_position=off + 1, consumer_read=tuple(reads[:k + 1]))
                v = j(prev, cur)
                if v:
                    out.append({"invariant": v[0], "anomaly": inv.anomaly, "message": v[1]})
                    break
                prev = cur
            continue
        msg = inv.check(obs, config)
        if msg:
            out.append({"invariant": inv_id, "anomaly": inv.anomaly, "message": msg})
    return out


_PREDICTIONS: dict = {}


def predict(config: Config, families: list[str], records: int = 2) -> dict:
    """What the model says for this configuration with these fault families as bounds:
    per client-judgeable invariant, holds or violated (exhaustive on small bounds)."""
    from ackcheck.checker.engines.check import run_check

    bounds = dict(NO_FAULTS)
    for fam in families:
        for k, v in FAMILY_BOUNDS[fam].items():
            bounds[k] = bounds.get(k, 0) + v
    bounds["max_records"] = records
    cfg = config.with_bounds(**bounds)
    key = (cfg, tuple(families))
    if key in _PREDICTIONS:
        return _PREDICTIONS[key]
    out = {"bounds": {k: v for k, v in cfg.bounds.as_dict().items() if k != "max_depth"}, "invariants": {}}
    # one search for all of them; a violated one is taken out and the rest searched again
    # (a violation stops a search early, so this costs about one full search)
    left = [i for i in PREDICTED if BY_ID[i].applies(cfg)]
    while left:
        r = run_check(cfg, left)
        if r.violation is None:
            for inv_id in left:
                out["invariants"][inv_id] = {"verdict": r.verdict, "message": None,
                                             "states": r.stats.distinct_states}
            break
        inv_id, msg = r.violation
        out["invariants"][inv_id] = {"verdict": r.verdict, "message": msg, "states": r.stats.distinct_states}
        left.remove(inv_id)
    out["invariants"] = {i: out["invariants"][i] for i in PREDICTED if i in out["invariants"]}
    _PREDICTIONS[key] = out
    return out


# ============================================================================== run
def run_clients(config: Config, client: str, *, records: int = 20, seed: int = 0, families: list[str] = (),
                replay_actions=None, data_dir: str | Path | None = None, model: bool = True,
                progress=None, script: list[str] = (), pace: float = PACE, single: bool = False,
                replica_lag_ms: float = 0.0) -> ClientsResult:
    """One run (see the module's docstring). `script`: what happens to the leader's next
    Produce requests (FrontEnd.produce_script); `pace`: seconds between sends; `single`:
    one record per batch (several batches in flight at once)."""
    version = client_version(client)
    if version is None:
        raise ImportError(f"the {client} library is not installed (pip install {client})")
    for fam in families:
        if fam not in FAMILIES:
            raise ValueError(f"unknown fault family {fam!r} (known: {', '.join(FAMILIES)})")
    window = records * PACE
    plan = from_trace(replay_actions, window) if replay_actions is not None else \
        schedule(families, seed, window, config.replication_factor)
    res = ClientsResult(client, version, config, seed, records, list(families), plan,
                        [Send(i) for i in range(1, records + 1)])
    say = progress or (lambda msg: None)
    for name in ("kafka", "aiokafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    t0 = time.monotonic()
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ackcheck-clients-")
        data_dir = tmp.name
    rng = random.Random(seed)
    try:
        # the OS flusher: often enough that a power loss loses only the last moments
        with serving(config, Path(data_dir), brokers=config.replication_factor,
                     os_flush_seconds=round(rng.uniform(0.2, 0.6), 3), replica_lag=replica_lag_ms / 1000,
                     seed=seed) as srv:
            boot = srv.bootstrap
            # the topic first (auto-created on metadata), so faults find a leader
            srv.call(lambda: srv.live.topic(TOPIC, create=True))
            stop = threading.Event()
            timers: list[threading.Timer] = []

            def fire(f):
                if stop.is_set():
                    return
                try:
                    res.applied.append(f"t+{f.at:.2f}s " + srv.call(srv.front.apply_fault, f, TOPIC))
                except Exception as e:  # a fault that cannot apply is noted, not fatal
                    res.applied.append(f"t+{f.at:.2f}s {f.kind}: not applied ({e})")

            for f in plan:
                tm = threading.Timer(f.at, fire, (f,))
                tm.daemon = True
                timers.append(tm)
            say(f"{client}: {records} records, {len(plan)} fault(s): " + "; ".join(f.text() for f in plan))
            started = threading.Event()

            def start_timers():  # the schedule counts from the first send
                if started.wait(30) and not stop.is_set():
                    for tm in timers:
                        tm.start()

            starter = threading.Thread(target=start_timers, daemon=True)
            starter.start()
            interrupted = False
            try:
                if script:
                    srv.call(lambda: srv.front.produce_script.__setitem__(
                        srv.live.topics[TOPIC].cluster.controller.leader, list(script)))
                res.fatal = PRODUCERS[client](boot, config, res.sends, pace, single, started)
            except KeyboardInterrupt:
                interrupted = True  # (Ctrl-C: a cut history says nothing; stop now, not after the faults due)
                raise
            finally:
                started.set()
                starter.join(timeout=5)
                for tm in timers:
                    if tm.is_alive() and not interrupted:
                        tm.join(timeout=max(0.0, window + 2))
                stop.set()
                for tm in timers:
                    tm.cancel()
            if config.acks == "0":
                # acks=0: no answer, so no offset (Kafka's clients report -1); what a library
                # reports instead is kept as a note, and the record counts as sent
                for s in res.sends:
                    if s.outcome == "ok" and s.offset >= 0:
                        s.error, s.offset = f"acks=0, yet the library reported offset {s.offset}", -1
            srv.call(srv.front.heal)
            end = _settle(srv)
            say(f"{client}: produced ({res.counts()}); reading back up to offset {end}")
            raw = CONSUMERS[client](boot, end, 15.0)
            res.reads = [(off, _record_of(v)) for off, v in raw]
            res.consumer_complete = bool(res.reads) and res.reads[-1][0] + 1 >= end or end == 0
            obs = srv.call(lambda: observation(res.sends, res.reads, srv.live.topics[TOPIC].cluster,
                                               srv.live.topics[TOPIC].store))
            res.observation = obs
            res.broker_stats = dict(srv.front.stats)
            res.broker_stats["faults"] = [w for _, w in srv.live.faults]
    finally:
        if tmp is not None:
            tmp.cleanup()
    res.violations = judge(res.observation, config, res.reads)
    if model:
        fams = list(families) if replay_actions is None else sorted(
            {fam for fam, kinds in _FAMILY_OF.items() if any(f.kind in kinds for f in plan)})
        res.prediction = predict(config, fams)
        res.prediction["families"] = fams
    res.seconds = time.monotonic() - t0
    return res


_FAMILY_OF = {"crash": ("crash",), "power-loss": ("power_loss",), "isr-shrink": ("isr_shrink",),
              "network": ("drop_response", "cut_connections"), "controller": ("rebalance_delayed",)}


def _settle(srv, timeout: float = 8.0) -> int:
    """Wait until the partition has a leader that knows it, every replica is up and has
    caught up with it (or the timeout); returns the leader's high watermark."""
    deadline = time.monotonic() + timeout

    def state():
        t = srv.live.topics[TOPIC]
        c = t.cluster
        ldr = c.controller.leader
        node = c.nodes[ldr] if ldr >= 0 else None
        if node is None or not node.is_leader:
            return False, 0
        caught = all(n is not None and n.log.leo == node.log.leo for n in c.nodes) and node.hw == node.log.leo
        return caught and not c.controller_messages, node.hw

    done, hw = srv.call(state)
    while not done and time.monotonic() < deadline:
        time.sleep(0.05)
        done, hw = srv.call(state)
    return hw


def history_document(res: ClientsResult) -> dict:
    """What --trace-out writes: the run's settings, schedule, history and the observation
    it was judged on (traces/format.py's observation layout)."""
    from ackcheck.traces.format import observation_to_json

    d = res.as_dict()
    d["format"] = "ackcheck-client-history/1"
    d["observation"] = observation_to_json(res.observation) if res.observation is not None else None
    return d


def write_history(res: ClientsResult, path: str | Path) -> None:
    Path(path).write_text(json.dumps(history_document(res), indent=1) + "\n", encoding="utf-8")


def run_kafka_15591(client: str, *, records: int = 5, model: bool = False) -> ClientsResult:
    """KAFKA-15591's scenario: an idempotent producer (acks=all, 5 in flight, one record
    per batch) whose producer id the leader holds no state for (a fresh one: the leader
    accepts any sequence); the leader refuses its first batch before the log
    (NOT_ENOUGH_REPLICAS, retriable), appends the second (sequence 1) and its answer is
    lost (the connection breaks). The retried first batch (sequence 0) is now out of
    order for the leader, which holds sequence 1: does the client duplicate record 2
    (re-sequencing it under a new epoch), fail the records, or raise a fatal error?"""
    from ackcheck.traces.settings import Setting, build_config

    cfg = build_config([Setting("acks", "all", "KAFKA-15591"), Setting("enable.idempotence", "true", "KAFKA-15591"),
                        Setting("max.in.flight.requests.per.connection", "5", "KAFKA-15591")])
    return run_clients(cfg, client, records=records, seed=0, model=model,
                       script=["refuse:NOT_ENOUGH_REPLICAS", "drop"], pace=0.0, single=True)


# ====================================================================== finding table
# the configurations of the finding table: acks x idempotence x in-flight (acks=1 with
# idempotence is not a configuration: Kafka refuses it, or drops idempotence silently)
TABLE_CONFIGS = (("1", "false", "1"), ("1", "false", "5"), ("all", "false", "1"), ("all", "false", "5"),
                 ("all", "true", "1"), ("all", "true", "5"))


def table_config(acks: str, idem: str, mif: str) -> Config:
    from ackcheck.traces.settings import Setting, build_config

    return build_config([Setting("acks", acks, "table"), Setting("enable.idempotence", idem, "table"),
                         Setting("max.in.flight.requests.per.connection", mif, "table")])


def finding_table(clients, seeds, *, records: int = 20, replica_lag_ms: float = 0.0, progress=None) -> list[dict]:
    """Every (configuration, fault family, client, seed): the model's prediction and the
    client's judged history. Rows: {config, family, prediction, runs: {client: [..]}}."""
    say = progress or (lambda msg: None)
    rows = []
    for acks, idem, mif in TABLE_CONFIGS:
        cfg = table_config(acks, idem, mif)
        for fam in FAMILIES:
            pred = predict(cfg, [fam])
            row = {"config": {"acks": acks, "enable.idempotence": idem, "max.in.flight": mif}, "family": fam,
                   "prediction": {k: v["verdict"] for k, v in pred["invariants"].items()}, "runs": {}}
            for client in clients:
                for seed in seeds:
                    res = run_clients(cfg, client, records=records, seed=seed, families=[fam], model=False,
                                      replica_lag_ms=replica_lag_ms)
                    row["runs"].setdefault(client, []).append({
                        "seed": seed, "violations": [v["invariant"] for v in res.violations],
                        "messages": [v["message"] for v in res.violations], "outcomes": res.counts(),
                        "fatal": res.fatal, "applied": res.applied})
                    say(f"acks={acks} idempotence={idem} in-flight={mif} {fam} {client} seed {seed}: "
                        f"{[v['invariant'] for v in res.violations] or 'ok'}")
            rows.append(row)
    return rows
