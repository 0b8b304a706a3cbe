"""``ackcheck seed-claims``: the seed notes' claims, each checked by the model.

```
ackcheck seed-claims [--out docs/seed-claims.md] [--trace-dir DIR] [--jobs N] [--cache-dir DIR | --no-cache]
```

Every claim of the study note the project started from (a Korean study note on Kafka's
durability settings, its claims quoted in English) becomes a section of a generated page: the claim, the
verdict (confirmed / refuted / nuanced / outdated / set aside), the configurations and
bounds checked, each result with its shortest trace (summary lines on the page, the full
trace under seed-traces/ beside it). Verdicts are computed from the check results, so a
model change that contradicts a claim changes the page.

Two kinds of checks:
- a *guarantee* check: one of the audit's guarantees (its invariants and fault profile);
- a *witness*: a scenario the claim describes (e.g. "the partition is offline and a send
  expires"), searched breadth-first like a violated invariant, so the trace found is the
  shortest execution that reaches it.
The claims also appear in `ackcheck matrix` as seed scenario rows (SEED_SCENARIOS).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ackcheck import __version__
from ackcheck.checker.audit.fixes import check_command
from ackcheck.checker.audit.guarantees import BY_ID, PROFILES, bounds_short, describe_faults
from ackcheck.checker.audit.runs import Pool, run_one
from ackcheck.checker.audit.seed_scenarios import run_witness
from ackcheck.traces.settings import Config, Setting, build_config

B = {"max_records": 1, "max_crashes": 0, "max_power_losses": 0, "max_elections": 0, "max_lost_messages": 0,
         "max_isr_shrinks": 0, "max_attempts": 1, "max_depth": 0}


@dataclass(frozen=True)
class Check:
    id: str
    label: str  # what the check asks, in words
    settings: tuple[tuple[str, str], ...] = ()
    kafka_version: str | None = None
    guarantee: str | None = None  # an audit guarantee (its invariants and profile)...
    invariants: tuple[str, ...] = ()  # ...or invariants with `bounds`
    witness: str | None = None  # ...or a witness scenario with `bounds`
    bounds: tuple[tuple[str, int], ...] = ()

    def config(self) -> Config:
        if self.guarantee:
            bounds = dict(PROFILES[BY_ID[self.guarantee].profile])
        else:
            bounds = {**B, **dict(self.bounds)}
        settings = [Setting(k, v, f"claim check {self.id}") for k, v in self.settings]
        return build_config(settings, kafka_version=self.kafka_version, bounds=bounds)

    def invariant_ids(self) -> tuple[str, ...]:
        if self.guarantee:
            return BY_ID[self.guarantee].invariants
        return self.invariants


@dataclass
class Claim:
    id: str
    section: str
    text: str  # the seed's claim (English rendering)
    checks: tuple[Check, ...]
    judge: Callable[[dict[str, dict]], tuple[str, list[str]]]  # results -> (verdict, explanation)
    outdated: tuple[str, ...] = ()


def _v(results: dict[str, dict], cid: str) -> str:
    return results[cid]["verdict"]


def _judge_acks0(r):
    if _v(r, "acks0-loss") == "violated":
        return "confirmed", [
            ("With `acks=0` the producer counts a record as sent once it is in the socket: the model finds an "
            "acknowledged (sent) record missing after a single broker crash, the shortest loss there is.")]
    return "refuted", ["The model found no loss with `acks=0` within these bounds."]


def _judge_acks1(r):
    loss = _v(r, "acks1-loss") == "violated"
    dup = _v(r, "acks1-dup") == "violated"
    verdict = "nuanced" if loss and dup else "confirmed" if loss else "refuted"
    text = []
    if loss:
        text.append("Loss on leader failure: confirmed. The leader acknowledges, crashes before a follower "
                    "fetched the record, and the controller elects that follower: the record is gone.")
    else:
        text.append("The model found no loss with `acks=1` within these bounds.")
    if dup:
        text.append("\"At most once\" is not right: with retries (the default, `retries`=2147483647) and "
                    "idempotence off (it is switched off silently with `acks=1`), a retry after a lost response "
                    "writes the record twice. `acks=1` is neither at-most-once nor at-least-once.")
    return verdict, text


def _judge_acksall(r):
    crash = _v(r, "acksall-crash") == "holds"
    power1 = _v(r, "acksall-power-minisr1") == "violated"
    power2 = _v(r, "acksall-power-minisr2") == "holds"
    power_crash2 = _v(r, "acksall-power-crash-minisr2") == "violated"
    dup_old = _v(r, "acksall-dup-no-idem") == "violated"
    dup_new = _v(r, "acksall-dup-idem")
    dup_fix = _v(r, "acksall-dup-idem-1") == "holds"
    text = []
    if crash:
        text.append("Survives the loss of the leader: confirmed for process crashes, even with the default "
                    "`min.insync.replicas=1` (a crashed broker keeps its page cache).")
    else:
        text.append("The model found a lost acknowledged write under process crashes with `acks=all`.")
    text.append("\"Committed to all replicas\" really means all *in-sync* replicas: with `min.insync.replicas=1` "
                "the ISR may have shrunk to the leader alone when it acknowledges (claim 9's witness).")
    if power1:
        text.append("Under power loss, `acks=all` with the default `min.insync.replicas=1` loses acknowledged "
                    "writes: the lone in-sync leader acknowledges and loses its unflushed page cache."
                    + (" `min.insync.replicas=2` restores it (Kafka 4.1, with eligible leader replicas)."
                       if power2 else ""))
    if power_crash2:
        text.append("Not once a process crash joins the power loss: on Kafka 4.1 with `min.insync.replicas=2` a "
                    "follower that holds the record crashes and leaves the eligible leader replicas on restart "
                    "(an unclean shutdown), the leader loses power, and the controller re-elects it as the last "
                    "known leader (KIP-966), an unclean election even with `unclean.leader.election.enable=false`.")
    if dup_old:
        text.append("May duplicate: confirmed without idempotence (a retry after a lost response appends again).")
    if dup_new == "holds":
        text.append("With `enable.idempotence=true` (the default since 3.0) the model finds no duplicate.")
    elif dup_new == "violated":
        text.append("With `enable.idempotence=true` (the default since 3.0) the model still finds a duplicate "
                    "with 5 requests in flight: KAFKA-15591 (also KAFKA-14312, KAFKA-19880). The leader holds no "
                    "state for the producer id, so it appends the second batch with sequence 1 while the first "
                    "was refused (KAFKA-8710); its answer is lost, the first batch's retry gets "
                    "OUT_OF_ORDER_SEQUENCE_NUMBER, and the client bumps its epoch and re-stamps the second batch "
                    "(KAFKA-8805), which is appended again (see the trace)"
                    + ("; with `max.in.flight.requests.per.connection=1` it finds none (at a throughput cost)."
                       if dup_fix else "."))
    verdict = "nuanced" if (power1 or dup_new == "violated" or crash) else "refuted"
    return verdict, text


def _judge_batching(r):
    return "set aside", [
        ("Batching changes throughput and latency, not the guarantees ackcheck checks. The model abstracts "
        "`batch.size`/`linger.ms` into records per batch (`--records-per-batch`); a batch is appended, "
        "replicated, deduplicated and recovered as a whole."),
        ("The values are typical tunings, not defaults: Kafka's defaults are `batch.size=16384` and "
        "`linger.ms=0` (`linger.ms=5` since Kafka 4.0).")]


def _judge_reorder(r):
    reorder = _v(r, "order-no-idem") == "violated"
    idem = _v(r, "order-idem") == "holds"
    one = _v(r, "order-inflight-1") == "holds"
    if reorder and idem:
        text = [("Confirmed: without idempotence, a retried batch lands after a batch sent later when more than "
                "one request is in flight; with `enable.idempotence=true` the leader rejects out-of-sequence "
                "batches and order is kept.")]
        if one:
            text.append("`max.in.flight.requests.per.connection=1` also keeps order (at a throughput cost).")
        return "confirmed", text
    if not reorder:
        return "refuted", ["The model found no reordering without idempotence within these bounds."]
    return "nuanced", [("Reordering without idempotence: confirmed; but the model also finds a reordering with "
                       "idempotence on (see the trace).")]


def _judge_segments(r):
    return "set aside", [
        ("Storage layout, not a guarantee. The default is right: `log.segment.bytes=1073741824` (1 GiB), and "
        "`log.roll.hours=168` also rolls a segment weekly. Rolling a segment flushes it: the only flush Kafka "
        "does by default. ackcheck does not model segments (log recovery is modelled: an unclean restart "
        "keeps the flushed, batch-aligned prefix).")]


def _judge_zero_copy(r):
    return "set aside", [
        ("Zero-copy (sendfile from the page cache to the socket) is a performance property; it does not change "
        "what is durable. Not modelled. (With TLS, Kafka cannot use zero-copy.)")]


def _judge_page_cache(r):
    rf1_crash = _v(r, "rf1-crash") == "holds"
    rf1_power = _v(r, "rf1-power") == "violated"
    rf1_flush = _v(r, "rf1-power-flush") == "holds"
    last = _v(r, "minisr2-power-3.6") == "violated"
    elr = _v(r, "acksall-power-minisr2") == "holds"
    text = [("The flush paths are right (clean shutdown, the OS flusher; also a segment roll). The conclusion "
            "needs precision:")]
    if rf1_crash:
        text.append("- A *process* crash (kill -9, an OOM kill) loses nothing: the page cache belongs to the "
                    "OS and survives the process. Even a single replica keeps every acknowledged record.")
    if rf1_power:
        text.append("- A *power loss* or OS crash loses the unflushed page cache: with one replica, acknowledged "
                    "records are gone.")
    if rf1_flush:
        text.append("- `log.flush.interval.messages=1` (an fsync per message) closes that hole, at a throughput "
                    "cost; Kafka's default is never to fsync and rely on replication.")
    if elr:
        text.append("- With replication, `acks=all` and `min.insync.replicas=2` survive one power loss on Kafka "
                    "4.1 (KIP-966 eligible leader replicas).")
    if last:
        text.append("- Before that (here Kafka 3.6), acknowledged writes are lost even with "
                    "`min.insync.replicas=2`: a broker that lost its unflushed records in a power loss comes back "
                    "still a member of the ISR and may be elected; the other replicas then truncate to it. "
                    "*Last replica standing* (the ISR shrank to the leader before it lost power) is the classic "
                    "case. KIP-966 (default in 4.1) removes a broker that shut down uncleanly from the replicas "
                    "eligible to lead.")
    ok = rf1_crash and rf1_power
    return ("nuanced" if ok else "refuted"), text


def _judge_follower(r):
    shrink = _v(r, "follower-fails") == "reached"
    refuse = _v(r, "min-isr-refuses") == "reached"
    text = []
    if shrink:
        text.append("Confirmed: after a follower fails, it leaves the ISR and the leader commits (advances the "
                    "high watermark, acknowledges `acks=all`) with the smaller ISR. Who removes it depends on "
                    "the controller: in ZooKeeper mode the leader proposes the shrink once the follower "
                    "stops fetching; under KRaft (4.0+) the controller fences the dead broker and removes it "
                    "itself. Either way the change goes through the controller (AlterPartition, KIP-497) "
                    "before the leader commits without it.")
    if refuse:
        text.append("But only down to `min.insync.replicas`: below it, `acks=all` writes fail with "
                    "NOT_ENOUGH_REPLICAS (and since Kafka 3.7 the high watermark stops, KAFKA-15583). With the "
                    "default `min.insync.replicas=1` the leader alone can commit.")
    return ("nuanced" if shrink and refuse else "confirmed" if shrink else "refuted"), text


def _judge_leader(r):
    clean = _v(r, "clean-election") == "holds"
    unclean = _v(r, "unclean-election") == "violated"
    zombie = _v(r, "zombie-zk") == "reached"
    text = []
    if clean:
        text.append("The new leader comes from the *ISR*, not any follower, and then holds every committed "
                    "record (leader-completeness holds).")
    if unclean:
        text.append("With `unclean.leader.election.enable=true` (false since 0.11) any live replica may lead "
                    "when no ISR member is alive, and committed records are lost.")
    if zombie:
        text.append("ZooKeeper first, brokers after: the deposed leader keeps acting as leader until the "
                    "controller's LeaderAndIsr reaches it. Leader epochs (KIP-101/320) fence what it writes.")
    return ("outdated" if clean else "refuted"), text


def _judge_offline(r):
    reached = _v(r, "offline") == "reached"
    if reached:
        return "confirmed", [
            ("Confirmed: while no broker leads the partition, nothing can be written (or read). The producer "
            "keeps batches in its accumulator, retrying, until `delivery.timeout.ms` (120 s by default) expires "
            "them with a TimeoutException: the retries are bounded by time, not only by `retries`."),
            ("Without a live in-sync replica (and `unclean.leader.election.enable=false`) the partition stays "
            "offline until one returns.")]
    return "refuted", ["The model found no expiry while the partition was offline."]


def _judge_retries0(r):
    reached = _v(r, "retries0") == "reached"
    if reached:
        return "nuanced", [
            ("With `retries=0` the first retriable error (NetworkException, NotLeaderOrFollower, a timeout) is "
            "final. But the error does not mean the record was not written: the request may have been appended "
            "and only its response lost or late. The model reaches a failed send whose record is in the log (Jepsen "
            "calls such an outcome indeterminate). `retries=0` also switches the default idempotence off.")]
    return "refuted", ["The model found no failed send whose record was written."]


def _judge_lag(r):
    reached = _v(r, "lag") == "reached"
    text = [("Confirmed, with the definition made precise: lag = the partition's end offset *as consumers see it* "
            "(the high watermark for `read_uncommitted`, the last stable offset for `read_committed`) minus the "
            "group's committed offset, the next offset to consume. Records above the high watermark are not "
            "counted: no consumer can read them yet.")]
    if reached:
        text.append("The witness shows a moment where the leader's log end offset and the high watermark differ.")
    text.append("Monitoring: `kafka-consumer-groups.sh --describe` and the consumer's `metrics()` "
                "(`records-lag-max`) show a number; Burrow judges the history of commits instead. "
                "`ackcheck lag` applies Burrow's rules to offset histories (docs/lag.md). "
                "Datadog and Confluent Control Center are set aside.")
    return "confirmed", text


CLAIMS: tuple[Claim, ...] = (
    Claim("acks-0", "Producer acks",
          "`acks=0`: no acknowledgement at all. Fastest; some message loss is accepted.",
          (Check("acks0-loss", "acks=0: is a sent record ever lost?", (("acks", "0"),), guarantee="no-acked-loss"),),
          _judge_acks0,
          (("The note's list leaves out the default; its original marks `acks=1` as the default. Since Kafka 3.0 "
           "the default is `acks=all` (KIP-679)."),)),
    Claim("acks-1", "Producer acks",
          "`acks=1`: the leader acknowledges once it has the record. If the leader fails after acknowledging but "
          "before a follower copied the record, the record is lost (\"at most once\", per the note).",
          (Check("acks1-loss", "acks=1: an acknowledged record lost when the leader fails?", (("acks", "1"),),
                 guarantee="no-acked-loss"),
           Check("acks1-dup", "acks=1 with retries: duplicates?", (("acks", "1"),), guarantee="no-duplicates")),
          _judge_acks1,
          ("\"(default)\" in the original note: true before Kafka 3.0; the default is `acks=all` since 3.0.",)),
    Claim("acks-all", "Producer acks",
          "`acks=-1` / `acks=all`: the leader acknowledges once the record is committed to all in-sync replicas, "
          "so it survives the loss of the leader. Higher latency, and in some failure cases records can be "
          "duplicated (\"at least once\", per the note).",
          (Check("acksall-crash", "acks=all, min ISR 1: acknowledged record lost under process crashes?",
                 guarantee="no-acked-loss"),
           Check("acksall-power-minisr1", "acks=all, min ISR 1: lost under a power loss?",
                 guarantee="no-acked-loss-power-loss"),
           Check("acksall-power-minisr2", "acks=all, min ISR 2: lost under a power loss?",
                 (("min.insync.replicas", "2"),), guarantee="no-acked-loss-power-loss"),
           Check("acksall-power-crash-minisr2", "acks=all, min ISR 2: lost under a power loss and a process crash?",
                 (("min.insync.replicas", "2"), ("replication.factor", "3")), invariants=("acked-write-survives",),
                 bounds=(("max_crashes", 1), ("max_power_losses", 1), ("max_isr_shrinks", 1))),
           Check("acksall-dup-no-idem", "acks=all, idempotence off (the note's era): duplicates?",
                 (("enable.idempotence", "false"),), guarantee="no-duplicates"),
           Check("acksall-dup-idem", "acks=all, idempotence on (default since 3.0): duplicates?",
                 guarantee="no-duplicates"),
           Check("acksall-dup-idem-1", "idempotence on, max.in.flight=1: duplicates?",
                 (("max.in.flight.requests.per.connection", "1"),), guarantee="no-duplicates")),
          _judge_acksall,
          (("Idempotence is on by default since Kafka 3.0 (KIP-679): the note's \"at least once\" describes "
           "producers before 3.0 or with `enable.idempotence=false`."),)),
    Claim("batching", "Batching",
          "`linger.ms`: how long the producer waits to group records into one batch (typical 100). "
          "`batch.size`: the largest batch before it is sent (typical 1000000).",
          (), _judge_batching,
          ("`linger.ms` defaults to 5 since Kafka 4.0 (KIP-1030), 0 before.",)),
    Claim("reorder", "Idempotence",
          "Retrying several in-flight requests can reorder records. To keep order, set `enable.idempotence=true` "
          "on the producer.",
          (Check("order-no-idem", "idempotence off, 5 in flight, retries: order kept?",
                 (("enable.idempotence", "false"),), guarantee="send-order-kept"),
           Check("order-idem", "idempotence on, 5 in flight: order kept?", guarantee="send-order-kept"),
           Check("order-inflight-1", "idempotence off, 1 in flight: order kept?",
                 (("enable.idempotence", "false"), ("max.in.flight.requests.per.connection", "1")),
                 guarantee="send-order-kept")),
          _judge_reorder,
          (("`enable.idempotence=true` is the default since Kafka 3.0; setting it is only needed on older "
           "clients, or where a conflicting setting (acks!=all, retries=0, max.in.flight>5) switched it off."),)),
    Claim("segments", "Page cache and flush",
          "Records go to a partition; a partition is a sequence of log segment files (a new segment every 1 GB "
          "by default).", (), _judge_segments),
    Claim("zero-copy", "Page cache and flush",
          "Segments are written to the OS page cache; since the on-disk format is what the broker received and "
          "what it sends, zero-copy transfer (page cache straight to the network buffer) is possible.",
          (), _judge_zero_copy),
    Claim("page-cache", "Page cache and flush",
          "The page cache reaches the disk when the broker shuts down cleanly, or when the OS background flusher "
          "runs. (So a crash can lose what was only in the page cache.)",
          (Check("rf1-crash", "one replica, process crash: acknowledged record lost?",
                 (("replication.factor", "1"),), invariants=("acked-write-survives",),
                 bounds=(("max_crashes", 1),)),
           Check("rf1-power", "one replica, power loss: acknowledged record lost?",
                 (("replication.factor", "1"),), invariants=("acked-write-survives",),
                 bounds=(("max_power_losses", 1),)),
           Check("rf1-power-flush", "one replica, power loss, log.flush.interval.messages=1: lost?",
                 (("replication.factor", "1"), ("log.flush.interval.messages", "1")),
                 invariants=("acked-write-survives",), bounds=(("max_power_losses", 1),)),
           Check("minisr2-power-3.6", "Kafka 3.6, acks=all, min ISR 2, power loss: lost?",
                 (("min.insync.replicas", "2"),), "3.6", guarantee="no-acked-loss-power-loss")),
          _judge_page_cache),
    Claim("follower-failure", "Replica failure",
          "A failed follower is removed from the ISR by the leader, which then commits with the new ISR.",
          (Check("follower-fails", "a follower fails: does the leader commit without it?",
                 witness="ack-with-shrunk-isr", bounds=(("max_crashes", 1),)),
           Check("min-isr-refuses", "min ISR 2 and both followers fail: is a write refused?",
                 (("min.insync.replicas", "2"),), witness="min-isr-refuses", bounds=(("max_crashes", 2),))),
          _judge_follower),
    Claim("leader-failure", "Replica failure",
          "A failed leader: the controller elects a new leader among the followers, writes the new leader and "
          "ISR to ZooKeeper first, then pushes it to the brokers.",
          (Check("clean-election", "clean election: does the new leader hold every committed record?",
                 invariants=("leader-completeness",), bounds=(("max_crashes", 1), ("max_isr_shrinks", 2))),
           Check("unclean-election", "unclean election: committed records kept?",
                 (("unclean.leader.election.enable", "true"),), invariants=("leader-completeness",),
                 bounds=(("max_crashes", 1), ("max_isr_shrinks", 2))),
           Check("zombie-zk", "ZooKeeper mode (3.9): can the deposed leader still act as leader?", (), "3.9",
                 witness="two-leaders", bounds=(("max_elections", 1),))),
          _judge_leader,
          (("ZooKeeper mode is removed in Kafka 4.0 (KIP-500): a KRaft controller quorum keeps leader and ISR in "
           "its metadata log, brokers learn them by fetching it, and a broker that misses heartbeats is fenced."),)),
    Claim("offline", "Replica failure",
          "Until a new leader is elected the partition is unavailable; `send()` retries if `retries` is set.",
          (Check("offline", "no leader: can a send expire?", witness="offline-send-expires",
                 bounds=(("max_crashes", 1),)),),
          _judge_offline,
          (("`retries` defaults to 2147483647 since Kafka 2.1 (KIP-91): retrying is the default; "
           "`delivery.timeout.ms` bounds it."),)),
    Claim("retries-0", "Replica failure",
          "With `retries=0` the send fails with a NetworkException.",
          (Check("retries0", "retries=0, one lost response or timeout: failed send, record written?", (("retries", "0"),),
                 witness="failed-send-written", bounds=(("max_lost_messages", 1),)),),
          _judge_retries0),
    Claim("lag", "Consumer lag",
          "Lag = the partition's latest offset minus the consumer's offset; it must be monitored "
          "(kafka-consumer-groups.sh, the consumer's metrics(), Datadog, Confluent Control Center, Burrow).",
          (Check("lag", "where does lag count from?", witness="lag-is-hw-minus-committed",
                 bounds=(("max_records", 2),)),),
          _judge_lag),
)


@dataclass
class Outcome:
    check: Check
    config: Config
    result: dict
    trace_file: str | None = None
    lines: list[str] = field(default_factory=list)


def _run_check(check: Check, cache_dir: str | None) -> dict:
    config = check.config()
    if check.witness:
        return run_witness(config, check.witness)
    return run_one(config, check.invariant_ids(), cache_dir)


def run_claims(claims=CLAIMS, *, cache_dir: str | None, jobs: int | None,
               cluster: str | None = None) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    pool = Pool(jobs, cluster)
    for claim in claims:
        for check in claim.checks:
            def done(result: dict, check=check) -> None:
                outcomes[check.id] = Outcome(check, check.config(), result)
            pool.submit(_run_check, (check, cache_dir), done)
    try:
        pool.drain()
    finally:
        pool.close()
    return outcomes


def write_traces(outcomes: dict[str, Outcome], trace_dir: Path, link_base: Path) -> None:
    import os

    from ackcheck.traces.format import trace_from_dict
    from ackcheck.traces.render import summary_lines

    for o in outcomes.values():
        t = o.result.get("trace")
        if not t:
            continue
        o.lines = summary_lines(trace_from_dict(t), limit=16)
        path = trace_dir / f"{o.check.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(t, indent=1) + "\n", encoding="utf-8")
        o.trace_file = os.path.relpath(path, link_base)


RESULT_WORD = {"holds": "holds", "violated": "VIOLATED", "reached": "reached", "unreachable": "not reachable"}


def _config_text(check: Check, config: Config) -> str:
    parts = [f"{k}={v}" for k, v in check.settings]
    base = f"Kafka {config.kafka_version} defaults"
    return base + (" + " + ", ".join(parts) if parts else "")


def render(outcomes: dict[str, Outcome], claims=CLAIMS) -> str:
    judged = []
    for c in claims:
        verdict, text = c.judge({k: o.result for k, o in outcomes.items()})
        judged.append((c, verdict, text))
    out = [
        "# The seed notes' claims, checked",
        "",
        "<!-- generated by `ackcheck seed-claims`; do not edit by hand -->",
        "",
        ("Every claim of the study note this project started from (a Korean study note on Kafka's durability "
        "settings, its claims quoted in English) with ackcheck's verdict. *confirmed*: the model agrees; *refuted*: the "
        "model finds a counterexample; *nuanced*: right, but not in the way stated or not always; *outdated*: "
        "right for an old Kafka; *set aside*: not a guarantee ackcheck models. Each verdict comes from the "
        "checks listed under it: an audit guarantee (`ackcheck audit`) checked exhaustively within the bounds "
        "shown, or a *witness*, the shortest execution that reaches the situation the claim describes. Traces "
        "are in `seed-traces/` (`ackcheck view FILE`); every check line gives the `ackcheck check` command that "
        "reproduces it (witnesses: the configuration and bounds)."),
        "",
        f"Generated by ackcheck {__version__}. The same configurations are the *seed* rows of `ackcheck matrix`.",
        "",
        "| # | claim | verdict |",
        "|---|---|---|",
    ]
    for i, (c, verdict, _) in enumerate(judged, 1):
        first = c.text.split(". ")[0].rstrip(".")
        out.append(f"| {i} | [{_md(first)}](#{i}-{c.id}) | **{verdict}** |")
    out.append("")
    for i, (c, verdict, text) in enumerate(judged, 1):
        out += [f"## {i}. {c.id}", "", f"> *{c.section}.* {c.text}", "", f"**Verdict: {verdict}.**", ""]
        for t in text:
            out.append(t)
            if not t.startswith("- "):
                out.append("")
        if text and text[-1].startswith("- "):
            out.append("")
        for o in c.outdated:
            out += [f"**Outdated:** {o}", ""]
        for check in c.checks:
            o = outcomes[check.id]
            r = o.result
            what = (f"guarantee `{check.guarantee}` ({', '.join(check.invariant_ids())})" if check.guarantee
                    else f"witness `{check.witness}`" if check.witness
                    else f"invariant {', '.join(f'`{i}`' for i in check.invariants)}")
            out += [f"- **{_md(check.label)}** {RESULT_WORD.get(r['verdict'], r['verdict'])} ({r['states']:,} states)",
                    f"  - configuration: {_config_text(check, o.config)}; {what}",
                    (f"  - fault assumptions: {describe_faults(o.config.bounds.as_dict())} "
                    f"(`{bounds_short(o.config.bounds.as_dict())}`)")]
            if not check.witness:
                out.append(f"  - reproduce: `{check_command(o.config, check.invariant_ids())}`")
            if r.get("violation"):
                out.append(f"  - {'reached' if check.witness else 'violated'}: {_md(r['violation']['message'])}")
            if o.lines:
                out += ["", "    ```", *[f"    {ln}" for ln in o.lines], "    ```"]
                if o.trace_file:
                    out.append(f"    trace: [`{o.trace_file}`]({o.trace_file})")
            out.append("")
        if c.checks:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
