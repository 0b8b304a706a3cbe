"""Seeded fault injection: finds the acks=1 loss; every life replays on the model."""

from __future__ import annotations

import pytest
from conftest import ctrl_c_after, make_config

from ackcheck.checker.engines.chaos import run_chaos
from ackcheck.checker.engines.replay import replay_model, replay_on_broker
from ackcheck.traces.format import trace_from_dict


def config(settings=(), version=None, rules=(), **bounds):
    b = {"max_records": 6, "max_crashes": 3, "max_elections": 3, "max_isr_shrinks": 2}
    b.update(bounds)
    return make_config(dict(settings), version, rules, **b)


def test_chaos_finds_the_acks1_loss_and_the_model_confirms_it(tmp_path):
    found = None
    for seed in range(1, 9):
        r = run_chaos(config([("acks", "1")]), seed, steps=300)
        if r.violation is not None and r.violation.invariant == "acked-write-survives":
            found = r
            break
    assert found is not None, "no acks=1 loss in 8 seeds x 300 steps"
    trace = found.violation_trace
    assert trace.violation.step == len(trace.steps) - 1
    # reverse conformance: the broker's schedule runs on the model, step for step
    assert found.violation_model["ok"], found.violation_model["first_difference"]
    assert found.violation_model["confirmed"]
    # and it replays on a fresh broker (an ordinary trace, through JSON)
    again = trace_from_dict(trace.as_dict())
    rep = replay_on_broker(again, data_dir=tmp_path / "r")
    assert rep.ok and rep.first_difference is None


CHAOS_CONFIGS = {
    "default-4.1": ([], None, {"max_power_losses": 1}),
    "min-isr-2-power-losses": ([("min.insync.replicas", "2")], None, {"max_power_losses": 2}),
    "no-idempotence-lost-messages": ([("enable.idempotence", "false"), ("retries", "3")], None,
                                     {"max_lost_messages": 2, "max_attempts": 3}),
    "0.10": ([("acks", "all")], "0.10", {"max_power_losses": 1}),
    "2.1-unclean": ([("unclean.leader.election.enable", "true")], "2.1", {"max_power_losses": 1}),
    "4.0-kraft-min-isr-2": ([("min.insync.replicas", "2")], "4.0", {"max_power_losses": 1}),
    "3.7-batches": ([("records.per.batch", "2"), ("min.insync.replicas", "2")], "3.7", {"max_lost_messages": 1}),
    # stale fetches: without KIP-320 (before and after 2.7), and 4.1's defaults
    "2.1-delayed-fetch-no-kip320": ([("acks", "all")], "2.1", {"max_delayed_fetches": 1, "max_power_losses": 1}),
    "4.1-delayed-fetch-no-kip320": ([], None, {"max_delayed_fetches": 1, "max_power_losses": 1}),
    "4.1-delayed-fetch": ([], None, {"max_delayed_fetches": 1, "max_power_losses": 1}),
}
CHAOS_RULES = {"2.1-delayed-fetch-no-kip320": ["fenced_leader_epoch=off"],
               "4.1-delayed-fetch-no-kip320": ["fenced_leader_epoch=off"]}


@pytest.mark.parametrize("name", sorted(CHAOS_CONFIGS))
def test_every_chaos_life_replays_on_the_model(name):
    settings, version, bounds = CHAOS_CONFIGS[name]
    r = run_chaos(config(settings, version, CHAOS_RULES.get(name, ()), **bounds), 11, steps=250, runs=1)
    s = r.runs[0]
    assert s.steps > 0 and s.model_checked == s.lives
    assert r.divergence is None, r.divergence
    assert s.model_divergences == 0


def test_chaos_injects_faults_and_power_losses_exercise_recovery():
    r = run_chaos(config([("min.insync.replicas", "2")], max_power_losses=4, max_crashes=4), 3, steps=600,
                  model_check=False)
    f = r.runs[0].faults
    assert f["crash"] > 0 and f["power_loss"] > 0 and f["rebalance"] > 0
    assert r.runs[0].torn_writes > 0 and r.runs[0].recoveries_cut > 0


def test_same_seed_same_schedule():
    a = run_chaos(config([("acks", "1")]), 5, steps=200, model_check=False)
    b = run_chaos(config([("acks", "1")]), 5, steps=200, model_check=False)
    assert a.violation_trace is not None
    assert a.violation_trace.as_dict() == b.violation_trace.as_dict()
    assert replay_model(a.violation_trace).confirmed


@pytest.mark.parametrize("rules", [["fenced_leader_epoch=off"], []], ids=["no-kip320", "4.1"])
def test_chaos_delays_fetches_within_the_bound_and_the_model_follows(rules):
    """Every life may hold up one fetch request (max_delayed_fetches=1); the schedules
    spend it, and every life still replays on the model step for step."""
    cfg = config([], None, rules, max_delayed_fetches=1, max_power_losses=1)
    r = run_chaos(cfg, 4, steps=400, runs=1, keep_going=True)
    s = r.runs[0]
    assert 0 < s.faults["delayed_fetch"] <= s.lives
    assert r.divergence is None, r.divergence
    assert s.model_divergences == 0 and s.model_checked == s.lives


def test_ctrl_c_reports_the_lives_finished_so_far(tmp_path):
    # (it was a bare "interrupted", exit 130: every finished life's figures lost)
    import json

    rc, out, err, _ = ctrl_c_after(["chaos", "--seed", "1", "--runs", "10000", "--keep-going", "--acks", "all",
                                    "--min-insync-replicas", "2", "--json"], 4, cwd=tmp_path)
    assert "Traceback" not in err, err[-2000:]
    assert "interrupted (Ctrl-C)" in err
    d = json.loads(out)
    assert d["verdict"] in ("incomplete", "violated") and rc == (4 if d["verdict"] == "incomplete" else 1)
    assert len(d["runs"]) < 10000 and d["steps"] == sum(r["steps"] for r in d["runs"])
