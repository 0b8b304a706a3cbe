"""Counterexamples of the model replayed on the reference broker: same observations at
every step, same invariant broken at the same step. Also a step-by-step differential
walk (model vs broker: same enabled actions, same observations) over many configs."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from kafka.record.memory_records import MemoryRecords
from lockstep import config, model_trace

from ackcheck.broker.cluster import Cluster
from ackcheck.checker.engines.check import run_check
from ackcheck.checker.engines.replay import observation_difference, replay_on_broker
from ackcheck.model.protocol import Model
from ackcheck.model.state import observe
from ackcheck.traces.format import load_trace


def all_kafka_batches(root):
    out = []
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if n.endswith(".log"):
                mr = MemoryRecords(Path(os.path.join(dirpath, n)).read_bytes())
                while (b := mr.next_batch()) is not None:
                    out.append(b)
    return out


SMALL = {"max_records": 2, "max_crashes": 1, "max_elections": 1}
CHECKED = {
    "acks1-loss": (config([("acks", "1")], **SMALL), None),
    "acks1-loss-by-crash": (config([("acks", "1")], max_records=1, max_crashes=1, max_elections=0), None),
    "min-isr-1-power-loss": (config(max_power_losses=1, **SMALL), None),
    "unclean-election": (config([("unclean.leader.election.enable", "true")], max_records=1, max_crashes=2),
                         ["acked-write-survives"]),
    "duplicate-on-retry": (config([("enable.idempotence", "false"), ("retries", "3")], max_lost_messages=1,
                                  max_records=2), ["no-duplicates"]),
    "pre-0.11": (config([("acks", "all"), ("replication.factor", "2")], "0.10", max_crashes=2, max_records=2,
                        max_elections=1), None),
}


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_model_counterexample_is_confirmed_on_the_broker(name, tmp_path):
    cfg, inv = CHECKED[name]
    result = run_check(cfg, inv)
    assert result.trace is not None, f"{name}: the model found no counterexample"
    report = replay_on_broker(result.trace, data_dir=tmp_path / "data", keep=True, segment_bytes=256)
    assert report.first_difference is None, report.first_difference
    assert report.conformant and report.confirmed and report.ok
    assert report.violation[0] == result.violation[0]
    # per step: the broker's own observations are the trace's
    assert report.observations == [o for _, o in result.trace.steps]
    # and what it wrote is Kafka's format: every batch the replicas hold, in their segments
    batches = all_kafka_batches(tmp_path / "data")
    assert all(b.validate_crc() and b.magic == 2 for b in batches)
    held = sum(len(r.log) for r in report.observations[-1].replicas)
    assert len(batches) == held


# KIP-101's loss: a follower truncates to its high watermark when it learns a new leader
# (before 0.11), the logs diverge, an acknowledged record disappears. Found by
# `ackcheck check --kafka-version 0.10 --acks all --replication-factor 2 --max-crashes 2
#  --unclean-leader-election-enable false --invariant acked-write-survives` (41 s).
HW_TRUNCATION = [
    ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1), ("crash", 0),
    ("restart", 0), ("controller_elect", 1, "failover"), ("broker_learn", 0, 1),
    ("controller_elect", 0, "rebalance"), ("broker_learn", 0, 2), ("producer_send", 1, 0),
    ("broker_handle_produce", 0, 1, 1), ("follower_fetch", 1), ("producer_receive", 1, 1), ("crash", 0),
    ("controller_elect", 1, "failover"),
]


def test_pre_kip101_high_watermark_truncation_loss_is_confirmed(tmp_path):
    cfg = config([("acks", "all"), ("replication.factor", "2"), ("unclean.leader.election.enable", "false")],
                 "0.10", max_crashes=2, max_records=2, max_elections=1)
    trace = model_trace(cfg, HW_TRUNCATION, ["acked-write-survives"])
    assert trace.violation.invariant == "acked-write-survives"
    report = replay_on_broker(trace, data_dir=tmp_path / "d")
    assert report.ok and report.first_difference is None
    # broker 0 cut record 1 from its log when it learned epoch 1 (truncation to its HW 0)
    assert [b.records for b in report.observations[7].replicas[0].log] == []
    assert [b.records for b in report.observations[6].replicas[0].log] == [(1,)]
    # with KIP-101 (0.11) the same schedule keeps the record: no loss
    cfg11 = config([("acks", "all"), ("replication.factor", "2")], "0.11", max_crashes=2, max_records=2,
                   max_elections=1)
    t11 = model_trace(cfg11, HW_TRUNCATION[:9], ["acked-write-survives"])
    r11 = replay_on_broker(t11, data_dir=tmp_path / "e")
    assert r11.first_difference is None and r11.observations[-1].replicas[0].log


CORPUS = sorted((Path(__file__).resolve().parent.parent / "traces" / "corpus").glob("*.json"))


@pytest.mark.parametrize("path", CORPUS or [None], ids=[p.stem for p in CORPUS] or ["empty"])
def test_every_corpus_trace_replays_on_the_broker(path, tmp_path):
    if path is None:
        pytest.skip("traces/corpus/ holds no trace yet")
    trace = load_trace(path)
    report = replay_on_broker(trace, data_dir=tmp_path / "d")
    assert report.first_difference is None, f"{path.name}: {report.first_difference}"
    assert report.ok, f"{path.name}: expected {report.expected}, the broker broke {report.violation}"


def test_a_tampered_trace_is_reported_at_the_first_differing_field(tmp_path):
    result = run_check(CHECKED["acks1-loss"][0])
    trace = result.trace
    a, o = trace.steps[2]
    rep = o.replicas[0]._replace(high_watermark=1)
    trace.steps[2] = (a, o._replace(replicas=(rep,) + o.replicas[1:]))
    report = replay_on_broker(trace, data_dir=tmp_path / "d")
    d = report.first_difference
    assert d["step"] == 2 and d["field"] == "replicas[0].high_watermark"
    assert (d["trace"], d["actual"]) == (1, 0)
    assert not report.ok  # confirmed, but not conformant


# ------------------------------------------------------------------ differential walks
WALKS = {
    "acks1": config([("acks", "1")], max_records=4, max_crashes=2, max_elections=2, max_power_losses=1,
                    max_lost_messages=1),
    "min-isr-2": config([("min.insync.replicas", "2")], max_records=4, max_crashes=2, max_elections=2,
                        max_power_losses=1, max_lost_messages=1, max_isr_shrinks=2),
    "unclean-3.6": config([("unclean.leader.election.enable", "true")], "3.6", max_records=4, max_crashes=3,
                          max_elections=2, max_power_losses=1, max_isr_shrinks=2),
    "no-idempotence": config([("enable.idempotence", "false"), ("retries", "3")], max_records=4, max_crashes=2,
                             max_elections=2, max_lost_messages=2, max_attempts=3),
    "0.10": config([("acks", "all")], "0.10", max_records=4, max_crashes=3, max_elections=2, max_power_losses=1),
    "0.11": config([("acks", "all")], "0.11", max_records=4, max_crashes=3, max_elections=2, max_power_losses=1),
    "2.0": config([("acks", "all")], "2.0", max_records=4, max_crashes=3, max_elections=2, max_power_losses=1),
    "2.8-batches": config([("records.per.batch", "2")], "2.8", max_records=6, max_crashes=3, max_elections=3,
                          max_lost_messages=2, max_attempts=3),
    "3.7-min-isr-2": config([("min.insync.replicas", "2")], "3.7", max_records=4, max_crashes=3, max_elections=2,
                            max_power_losses=1, max_isr_shrinks=2),
    "flush-every-1": config([("log.flush.interval.messages", "1")], max_records=4, max_crashes=2,
                            max_elections=2, max_power_losses=2),
    "acks0": config([("acks", "0")], max_records=4, max_crashes=2, max_elections=2, max_power_losses=1,
                    max_lost_messages=1),
    "rf2": config([("replication.factor", "2")], max_records=4, max_crashes=3, max_elections=2,
                  max_power_losses=1),
    "4.0-elr-on-min-isr-2": config([("min.insync.replicas", "2")], "4.0", ["eligible_leader_replicas=on"],
                                   max_records=3, max_crashes=4, max_elections=2, max_power_losses=2,
                                   max_isr_shrinks=2),
    "3.9-elr-without-kraft": config([("min.insync.replicas", "2")], "3.9", ["eligible_leader_replicas=on"],
                                    max_records=3, max_crashes=4, max_elections=2, max_isr_shrinks=2),
    # the fetcher truncates once per epoch (KAFKA-10554 arrives in 2.7), with KIP-320 fencing
    "2.1-truncating-state": config([("min.insync.replicas", "2")], "2.1", max_records=4, max_crashes=3,
                                   max_elections=2, max_power_losses=1, max_isr_shrinks=2),
    "2.7": config([("acks", "all")], "2.7", max_records=4, max_crashes=3, max_elections=2, max_power_losses=1,
                  max_isr_shrinks=2),
    # KIP-320 off but the diverging-epoch fetch on: every fetch truncates, from any epoch
    "2.0-diverging-fetch": config([("acks", "all")], "2.0", ["diverging_epoch_fetch=on"], max_records=4,
                                  max_crashes=3, max_elections=2, max_power_losses=1, max_isr_shrinks=2),
    "maximal-isr-off": config([("min.insync.replicas", "2")], None, ["maximal_isr=off"], max_records=3,
                              max_crashes=3, max_elections=2, max_power_losses=1, max_isr_shrinks=3),
    # KRaft without KIP-966: the controller fences the dead out of the ISR but its last member
    "4.0-kraft-min-isr-2": config([("min.insync.replicas", "2")], "4.0", max_records=3, max_crashes=4,
                                  max_elections=2, max_power_losses=1, max_isr_shrinks=2),
    "4.0-kraft-rf2": config([("replication.factor", "2")], "4.0", max_records=3, max_crashes=3, max_elections=2,
                            max_power_losses=1, max_isr_shrinks=1),
    "4.1-without-kip903": config([("min.insync.replicas", "2")], None, ["fenced_replicas_not_in_isr=off"],
                                 max_records=3, max_crashes=3, max_elections=2, max_power_losses=2,
                                 max_isr_shrinks=3),
    # a fetch request held up in the network and handled late (stale fetches): without
    # KIP-320 fencing it, before and after the diverging-epoch fetch, and 4.1 as it is
    "2.1-delayed-fetch-no-kip320": config([("min.insync.replicas", "2")], "2.1", ["fenced_leader_epoch=off"],
                                          max_records=4, max_crashes=3, max_elections=2, max_power_losses=1,
                                          max_isr_shrinks=2, max_delayed_fetches=1),
    "4.1-delayed-fetch-no-kip320": config([("min.insync.replicas", "2")], None, ["fenced_leader_epoch=off"],
                                          max_records=4, max_crashes=3, max_elections=2, max_power_losses=1,
                                          max_isr_shrinks=2, max_delayed_fetches=1),
    "4.1-delayed-fetch": config(max_records=4, max_crashes=3, max_elections=2, max_power_losses=1,
                                max_isr_shrinks=2, max_delayed_fetches=1),
    # the idempotent producer with other producers writing, more attempts (canRetry, muted
    # connections), and its pre-2.5 era (UNKNOWN_PRODUCER_ID, producer id resets) and a 2.4
    # client on a 2.5 broker
    "4.1-idempotent-other-writes": config([("min.insync.replicas", "2"), ("retries", "5")], max_records=4,
                                          max_crashes=1, max_elections=2, max_lost_messages=2, max_isr_shrinks=3,
                                          max_attempts=4, max_other_writes=3),
    "2.4-idempotent": config([("min.insync.replicas", "2"), ("acks", "all"), ("enable.idempotence", "true"),
                              ("retries", "5")], "2.4", max_records=4, max_crashes=1, max_elections=2,
                             max_lost_messages=2, max_isr_shrinks=3, max_attempts=4, max_other_writes=2),
    "2.4-client-2.5-broker": config([("min.insync.replicas", "2"), ("acks", "all"), ("enable.idempotence", "true"),
                                     ("retries", "5")], "2.4", ["any_first_sequence=on"], max_records=4,
                                    max_crashes=1, max_elections=2, max_lost_messages=2, max_isr_shrinks=3,
                                    max_attempts=4, max_other_writes=2),
}


def walk(cfg, seed: int, tmp, steps: int = 150):
    """Random walk over the model's enabled actions, mirrored on the broker: at every step
    both must offer the same actions and show the same observation."""
    rng = random.Random(seed)
    model = Model(cfg)
    s = model.init()
    cluster = Cluster(cfg, tmp, segment_bytes=200, fsync=False)
    for k in range(steps):
        d = observation_difference(observe(s), cluster.observe())
        assert d is None, f"step {k}: {d}"
        ma = sorted(model.actions(s), key=repr)
        assert ma == sorted(cluster.enabled_actions(), key=repr), f"step {k}: enabled actions differ"
        if not ma:
            return k
        a = rng.choice(ma)
        s = model.step(s, a)
        torn = None
        if a[0] == "power_loss":
            cands = cluster.torn_candidates(a[1])
            if cands and rng.random() < 0.5:
                rel = min(cands)
                torn = {rel: rng.randrange(1, min(cands[rel], 60))}
        if torn:
            cluster.power_loss_torn(a[1], torn)
        else:
            cluster.apply(a)
    return steps


@pytest.mark.parametrize("name", sorted(WALKS))
def test_model_and_broker_walk_in_lockstep(name, tmp_path):
    total = 0
    for seed in range(4):
        total += walk(WALKS[name], seed, tmp_path / f"s{seed}")
    assert total > 20
