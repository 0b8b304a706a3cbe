"""Every protocol fix: a counterexample without it, none with it (same config, same bounds).

Found by the engine; the scenarios live in ackcheck.checker.audit.eras_doc (which also
generates docs/eras.md). Slow scenarios (tens of seconds) run with ACKCHECK_SLOW=1.
"""

import os

import pytest
from conftest import make_config

from ackcheck.checker.audit.eras_doc import BY_RULE
from ackcheck.checker.engines.check import run_check

SLOW = os.environ.get("ACKCHECK_SLOW") == "1"


def assert_fix(rule: str):
    sc = BY_RULE[rule]
    if sc.unreachable:
        pytest.skip(f"not reachable in the model: {sc.unreachable}")
    if sc.slow and not SLOW:
        pytest.skip("slow scenario: set ACKCHECK_SLOW=1")
    off = run_check(sc.config(False), [sc.invariant])
    assert off.violation is not None and off.violation[0] == sc.invariant, off.stats.done_line()
    on = run_check(sc.config(True), [sc.invariant])
    assert on.verdict == "holds", on.violation


def test_kip_101_epoch_truncation():
    assert_fix("epoch_truncation")


def test_kip_279_fast_failover_truncation():
    assert_fix("epoch_truncation_fast_failover")


def test_kip_320_fenced_leader_epoch():
    assert_fix("fenced_leader_epoch")


def test_kafka_10554_diverging_epoch_fetch():
    assert_fix("diverging_epoch_fetch")


def test_kip_497_maximal_isr():
    assert_fix("maximal_isr")


def test_kip_841_903_fenced_replicas_not_in_isr():
    assert_fix("fenced_replicas_not_in_isr")


def test_kip_320_counterexample_is_kafka_6880():
    """The follower that missed two leader changes keeps fetching by offset from a broker
    that leads again: it never truncates, and logs diverge below the high watermark."""
    from ackcheck.checker.audit.eras_doc import BY_RULE

    sc = BY_RULE["fenced_leader_epoch"]
    off = run_check(sc.config(False), [sc.invariant])
    elections = [a for a in off.trace.actions if a[0] == "controller_elect"]
    assert len(elections) == 2
    # the diverging follower never learned either election before the violation
    laggard = {int(x) for x in off.violation[1].split("replicas ")[1].split(" disagree")[0].split(" and ")}
    learned = {a[1] for a in off.trace.actions if a[0] == "broker_learn"}
    assert laggard - learned


def test_kip_320_fences_a_delayed_fetch_request():
    """A fetch held up in the network reaches a broker that leads again two epochs later,
    after the follower truncated: without KIP-320 the leader commits on the stale offset.
    With the rule on, the same steps are refused (the fix itself is exhausted above)."""
    from ackcheck.checker.audit.eras_doc import STALE_FETCH, replay_with_rule

    if not SLOW:
        pytest.skip("slow scenario (1.4M states): set ACKCHECK_SLOW=1")
    off = run_check(STALE_FETCH.config(False), [STALE_FETCH.invariant])
    assert off.violation and off.violation[0] == STALE_FETCH.invariant
    assert any(a[0] == "leader_handle_delayed_fetch" for a in off.trace.actions)
    assert "cannot happen" in replay_with_rule(STALE_FETCH, off.trace)


def test_every_rule_has_a_scenario_and_a_named_test():
    from ackcheck.checker.audit.eras_doc import BY_RULE
    from ackcheck.traces import eras

    assert set(BY_RULE) == {r.name for r in eras.RULES}
    assert all(sc.unreachable is None for sc in BY_RULE.values())


def test_kafka_7128_isr_join_at_epoch_start():
    assert_fix("isr_join_at_epoch_start")


def test_kafka_15583_strict_min_isr():
    assert_fix("strict_min_isr")


def test_kip_966_eligible_leader_replicas():
    assert_fix("eligible_leader_replicas")


def test_kip_500_kraft_controller_carries_elr():
    assert_fix("kraft_controller")


def test_version_presets_pre_0_11_loses_and_4_1_keeps():
    bounds = dict(max_crashes=2, max_power_losses=0)
    props = {"acks": "all", "replication.factor": "2", "min.insync.replicas": "1",
             "unclean.leader.election.enable": "false"}
    assert run_check(make_config(props, version="0.10", **bounds)).violation is not None
    assert run_check(make_config(props, version="4.1", **bounds)).verdict == "holds"


def test_last_replica_standing_39_vs_41():
    """Two ISR shrinks leave the leader alone in the ISR, and it loses power: 3.9 re-elects
    it with an empty log; 4.1's strict min ISR and ELR keep the record."""
    props = {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"}
    bounds = dict(max_crashes=0, max_power_losses=1, max_isr_shrinks=2)
    old = run_check(make_config(props, version="3.9", **bounds), ["acked-write-survives"])
    assert old.violation is not None
    assert any(a[0] == "power_loss" for a in old.trace.actions)
    assert run_check(make_config(props, version="4.1", **bounds), ["acked-write-survives"]).verdict == "holds"


def test_last_known_leader_loses_with_a_crash_and_a_power_loss():
    """KIP-966's last-known-leader election (PartitionChangeBuilder.canElectLastKnownLeader):
    with the ISR and the ELR both empty, 4.1 re-elects the last leader as an unclean
    election although unclean.leader.election.enable=false. One crash and one power loss
    are enough to lose an acknowledged record at min ISR 2; the election is the one that
    loses it."""
    props = {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"}
    r = run_check(make_config(props, version="4.1", max_crashes=1, max_power_losses=1), ["acked-write-survives"])
    assert r.violation is not None and r.violation[0] == "acked-write-survives"
    acts = r.trace.actions
    assert any(a[0] == "power_loss" for a in acts) and any(a[0] == "crash" for a in acts)
    assert acts[-1][0] == "controller_elect" and acts[-1][2] == "last_known_leader"


def assert_opens(rule: str):
    """A rule that opens a hole: with it (as Kafka ships it) the engine finds the
    counterexample; replayed with the rule off, the same steps are refused (an action is
    not enabled, or the model's observations leave the trace's) and do not break the
    invariant. The engine's run with the rule off holds (ACKCHECK_SLOW=1: ~15 s)."""
    from ackcheck.checker.engines.check import replay_on_model

    sc = BY_RULE[rule]
    on = run_check(sc.config(True), [sc.invariant])
    assert on.violation is not None and on.violation[0] == sc.invariant, on.stats.done_line()
    rep = replay_on_model(on.trace, [sc.invariant], config=sc.config(False))
    assert (rep.error or rep.mismatch) and rep.violation is None, rep
    if SLOW:
        off = run_check(sc.config(False), [sc.invariant])
        assert off.verdict == "holds", off.violation
    return on.trace


def test_kafka_15591_duplicate_needs_kafka_8710_any_first_sequence():
    trace = assert_opens("any_first_sequence")
    names = [a[0] for a, _ in trace.steps[1:]]
    # no crash and no election: another producer's record moves the log end instead
    assert "crash" not in names and "controller_elect" not in names and "other_producer_write" in names


def test_kafka_15591_duplicate_needs_kafka_8805_idempotent_epoch_bump():
    assert_opens("idempotent_epoch_bump")
