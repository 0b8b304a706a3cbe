"""ISR changes as proposals (AlterPartition, KIP-497, KIP-841/903) and the fetcher's
truncation state (before 2.7), on the reference broker.

Each schedule runs on the model first; the broker replays the model's trace step by step
(same observations), and the tests then look at what only the broker shows: the requests
in its network, the controller's answers, a leader's pending state, a fetcher's state.
"""

from __future__ import annotations

import pytest
from ackcheck.broker import messages as m
from ackcheck.broker.cluster import ActionNotEnabled, Cluster
from ackcheck.checker.replay_cli import observation_difference, replay_on_broker
from ackcheck.invariants.catalogue import Judge, select
from ackcheck.model.protocol import ActionError, Model
from ackcheck.model.state import observe
from ackcheck.traces.format import Trace, Violation
from ackcheck.traces.settings import Setting, build_config


def config(settings=(), version=None, rules=(), **bounds):
    return build_config([Setting(k, v, "test") for k, v in settings], bounds=bounds or None, kafka_version=version,
                        rule_overrides=list(rules))


def model_trace(cfg, actions) -> Trace:
    model = Model(cfg)
    judge = Judge(select(None, cfg), cfg)
    s = model.init()
    steps = [(None, observe(s))]
    violation = None
    for k, a in enumerate(actions, 1):
        t = model.step(s, a)
        steps.append((a, observe(t)))
        v = judge(observe(s), observe(t))
        if v and violation is None:
            violation = Violation(v[0], v[1], k)
        s = t
    return Trace(config=cfg.as_dict(), steps=steps, violation=violation)


class Lockstep:
    """Model and broker side by side: every action on both, observations compared."""

    def __init__(self, cfg, tmp):
        self.model = Model(cfg)
        self.s = self.model.init()
        self.c = Cluster(cfg, tmp, segment_bytes=256, fsync=False)
        self.answers: list[m.AlterPartitionResponse] = []
        ctrl = self.c.controller
        orig = ctrl.alter_partition

        def spy(req):
            resp = orig(req)
            self.answers.append(resp)
            return resp

        ctrl.alter_partition = spy

    def do(self, *actions):
        for a in actions:
            self.s = self.model.step(self.s, a)
            self.c.apply(a)
            d = observation_difference(observe(self.s), self.c.observe())
            assert d is None, f"after {a}: {d}"
            assert sorted(self.model.actions(self.s), key=repr) == sorted(self.c.enabled_actions(), key=repr), a
        return self

    def obs(self):
        return self.c.observe()


# leader 0 has record 1, follower 1 has reported it, follower 2 has nothing
LAGGING_2 = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
             ("follower_fetch", 1)]


# ------------------------------------------------------------------ shrink: a proposal
def test_a_shrink_is_a_proposal_and_the_hw_waits_for_the_controller(tmp_path):
    cfg = config([("min.insync.replicas", "2")], max_records=1, max_isr_shrinks=1)
    run = Lockstep(cfg, tmp_path).do(*LAGGING_2, ("leader_shrink_isr", 0, 2))
    c, o = run.c, run.obs()
    # nothing committed yet: the controller and the leader still hold the old ISR ...
    assert o.isr == (0, 1, 2) and o.replicas[0].isr == (0, 1, 2)
    # ... the request is in the network and the leader is in its pending state
    assert [(q.leader, q.new_isr) for q in c.alter_partitions] == [(0, (0, 1))]
    assert c.nodes[0].pending_isr is not None and c.nodes[0].hw_isr == (0, 1, 2)
    # maximal ISR: broker 2 still counts, so the HW stays at its LEO 0
    assert o.replicas[0].high_watermark == 0
    # one change at a time: no further proposal while this one is pending
    assert ("leader_shrink_isr", 0, 1) not in c.enabled_actions()
    with pytest.raises(ActionNotEnabled, match="pending"):
        c.apply(("leader_shrink_isr", 0, 1))
    run.do(("controller_alter_partition", 0), ("producer_receive", 0, 1))
    o = run.obs()
    assert run.answers[-1].accepted and run.answers[-1].error == m.NONE
    assert o.isr == (0, 1) and o.replicas[0].isr == (0, 1) and o.replicas[0].high_watermark == 1
    assert c.nodes[0].pending_isr is None and c.alter_partitions == []
    assert o.ack_isr_sizes == (2,) and o.committed_log == (1,)


def test_without_the_maximal_isr_the_hw_passes_a_member_of_the_committed_isr(tmp_path):
    """maximal_isr off: the leader uses its proposal at once, so the HW moves past broker 2
    while the controller still lists it in the ISR (hw-bound breaks, on both sides)."""
    cfg = config([("min.insync.replicas", "2")], rules=["maximal_isr=off"], max_records=1, max_isr_shrinks=1)
    trace = model_trace(cfg, LAGGING_2 + [("leader_shrink_isr", 0, 2), ("producer_receive", 0, 1)])
    assert trace.violation is not None and trace.violation.invariant == "hw-bound" and trace.violation.step == 5
    report = replay_on_broker(trace, data_dir=tmp_path / "d")
    assert report.first_difference is None and report.confirmed
    last = report.observations[-1]
    assert last.isr == (0, 1, 2) and last.replicas[0].high_watermark == 1
    assert last.ack_isr_sizes == (2,)  # acks=all completed over the proposed ISR
    # with the rule on (the default) the same schedule stops before the acknowledgement
    with pytest.raises(ActionError):
        model_trace(config([("min.insync.replicas", "2")], max_records=1, max_isr_shrinks=1),
                    LAGGING_2 + [("leader_shrink_isr", 0, 2), ("producer_receive", 0, 1)])


# --------------------------------------------------------------- expansion: a proposal
EXPAND_2 = LAGGING_2 + [("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0), ("follower_fetch", 2),
                        ("follower_fetch", 2)]


def test_a_caught_up_follower_is_proposed_back_and_counts_at_once(tmp_path):
    cfg = config([("min.insync.replicas", "2")], max_records=1, max_isr_shrinks=1)
    run = Lockstep(cfg, tmp_path).do(*EXPAND_2)
    c, o = run.c, run.obs()
    assert o.isr == (0, 1) and o.replicas[0].isr == (0, 1)
    req = c.alter_partitions[0]
    assert req.new_isr == (0, 1, 2) and req.added_broker_epochs == ((2, c.nodes[2].broker_epoch),)
    assert c.nodes[0].hw_isr == (0, 1, 2)
    run.do(("controller_alter_partition", 0))
    assert run.obs().isr == (0, 1, 2) and run.obs().replicas[0].isr == (0, 1, 2)


@pytest.mark.parametrize("version,rules,accepted", [
    (None, [], False),  # 4.1: KRaft with KIP-841/903
    (None, ["fenced_replicas_not_in_isr=off"], True),
    ("3.9", [], True),  # the rule ships in 3.5, but only the KRaft controller checks it
])
def test_kip903_a_replica_that_restarted_since_the_proposal_is_not_added(tmp_path, version, rules, accepted):
    """Broker 2 is proposed back into the ISR, then loses power (and with it record 1) and
    restarts: its broker epoch is no longer the one the leader saw."""
    cfg = config([("min.insync.replicas", "2")], version, rules, max_records=1, max_isr_shrinks=1,
                 max_power_losses=1)
    run = Lockstep(cfg, tmp_path).do(*EXPAND_2)
    seen = run.c.alter_partitions[0].added_broker_epochs
    run.do(("power_loss", 2), ("restart", 2))
    assert run.c.controller.broker_epochs[2] != seen[0][1]
    run.do(("controller_alter_partition", 0))
    o = run.obs()
    assert run.answers[-1].accepted is accepted
    if accepted:  # an empty replica in the ISR below a HW of 1
        assert o.isr == (0, 1, 2) and o.replicas[2].log == () and o.replicas[0].high_watermark == 1
    else:
        assert run.answers[-1].error == m.INELIGIBLE_REPLICA and o.isr == (0, 1)
    assert run.c.nodes[0].pending_isr is None


def test_kip841_a_fenced_replica_is_not_added(tmp_path):
    cfg = config([("min.insync.replicas", "2")], "4.0", max_records=1, max_isr_shrinks=1, max_crashes=1)
    run = Lockstep(cfg, tmp_path).do(*EXPAND_2, ("crash", 2), ("controller_alter_partition", 0))
    assert run.answers[-1].error == m.INELIGIBLE_REPLICA and run.obs().isr == (0, 1)


# ------------------------------------------------------------ stale or void proposals
def test_a_deposed_leaders_proposal_is_fenced(tmp_path):
    cfg = config([], "3.7", max_records=1, max_crashes=1, max_elections=1)
    run = Lockstep(cfg, tmp_path).do(("crash", 2), ("leader_shrink_isr", 0, 2), ("controller_elect", 1, "rebalance"),
                                     ("controller_alter_partition", 0))
    assert run.answers[-1].error == m.FENCED_LEADER_EPOCH
    o = run.obs()
    assert o.isr == (0, 1, 2) and o.replicas[0].isr == (0, 1, 2) and o.replicas[0].leader == 0
    assert run.c.nodes[0].pending_isr is None


def test_learning_a_new_epoch_or_crashing_voids_the_pending_change(tmp_path):
    cfg = config([], "3.7", max_records=1, max_crashes=2, max_elections=1)
    run = Lockstep(cfg, tmp_path).do(("crash", 2), ("leader_shrink_isr", 0, 2), ("controller_elect", 1, "rebalance"),
                                     ("broker_learn", 0, 1))
    assert run.c.alter_partitions == [] and run.c.nodes[0].pending_isr is None
    assert ("controller_alter_partition", 0) not in run.c.enabled_actions()
    run2 = Lockstep(cfg, tmp_path / "b").do(("crash", 2), ("leader_shrink_isr", 0, 2), ("crash", 0))
    assert run2.c.alter_partitions == []
    with pytest.raises(ActionNotEnabled, match="no ISR change of broker 0"):
        run2.c.apply(("controller_alter_partition", 0))


# ------------------------------------------------------------------------- KIP-320
def test_before_kip320_a_follower_of_an_older_epoch_is_counted_and_proposed(tmp_path):
    """Broker 2 never learns epochs 1 and 2; before KIP-320 its fetches are served anyway
    and bring it back into the ISR. From 2.1 on the leader refuses them."""
    steps = LAGGING_2 + [("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0),
                         ("controller_elect", 1, "rebalance"), ("controller_elect", 0, "rebalance"),
                         ("broker_learn", 0, 2)]
    bounds = dict(max_records=1, max_isr_shrinks=1, max_elections=2)
    run = Lockstep(config([], "2.0", **bounds), tmp_path).do(*steps, ("follower_fetch", 2), ("follower_fetch", 2))
    assert run.c.nodes[2].leader_epoch == 0 and run.c.nodes[0].leader_epoch == 2
    assert run.c.alter_partitions[0].new_isr == (0, 1, 2)
    run.do(("controller_alter_partition", 0))
    assert run.obs().isr == (0, 1, 2)
    fenced = Lockstep(config([], "2.1", **bounds), tmp_path / "f").do(*steps)
    assert ("follower_fetch", 2) not in fenced.c.enabled_actions()


# ------------------------------------------------- the fetcher's Truncating state (2.7)
# Leader 0 loses record 2 to a power loss and, re-elected, writes record 3 at offset 1;
# follower 1 (still in epoch 0: before KIP-320 it may fetch anyway) holds record 2 there.
DIVERGE = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1), ("flush", 0),
           ("producer_receive", 0, 1), ("producer_send", 1, 0), ("broker_handle_produce", 0, 1, 1),
           ("follower_fetch", 1), ("power_loss", 0), ("restart", 0), ("controller_elect", 0, "failover"),
           ("broker_learn", 0, 1), ("producer_send", 2, 0), ("broker_handle_produce", 0, 2, 1), ("follower_fetch", 1),
           ("follower_fetch", 1)]


def _diverge_config(*rules):
    return config([("acks", "1"), ("replication.factor", "2")], "2.0", list(rules), max_records=3,
                  max_power_losses=1)


def test_before_2_7_a_follower_truncates_only_when_it_learns_an_epoch(tmp_path):
    trace = model_trace(_diverge_config(), DIVERGE)
    assert trace.violation is not None and trace.violation.invariant == "committed-prefix-agreement"
    report = replay_on_broker(trace, data_dir=tmp_path / "d")
    assert report.first_difference is None and report.confirmed
    last = report.observations[-1]
    assert [b.records for b in last.replicas[1].log] == [(1,), (2,)]  # fetched by offset: kept
    assert [b.records for b in last.replicas[0].log] == [(1,), (3,)]


def test_before_2_7_learning_the_epoch_puts_the_fetcher_in_its_truncating_state(tmp_path):
    run = Lockstep(_diverge_config(), tmp_path).do(*DIVERGE[:-2])
    assert not run.c.nodes[1].fetcher_truncating
    run.do(("broker_learn", 1, 1))
    assert run.c.nodes[1].fetcher_truncating
    run.do(("follower_fetch", 1))
    assert not run.c.nodes[1].fetcher_truncating
    assert [b.records for b in run.obs().replicas[1].log] == [(1,), (3,)]


def test_with_the_diverging_epoch_fetch_every_fetch_truncates(tmp_path):
    trace = model_trace(_diverge_config("diverging_epoch_fetch=on"), DIVERGE)
    assert trace.violation is None
    report = replay_on_broker(trace, data_dir=tmp_path / "d")
    assert report.first_difference is None and report.violation is None
    assert [b.records for b in report.observations[-1].replicas[1].log] == [(1,), (3,)]


def test_a_fetch_that_only_leaves_the_truncating_state_is_a_step(tmp_path):
    """A caught-up follower restarts (and so learns the epoch anew): before 2.7 its next
    fetch is an OffsetsForLeaderEpoch round that cuts nothing - still a step; from 2.7 on
    that fetch would change nothing and is not offered."""
    steps = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
             ("follower_fetch", 1), ("follower_fetch", 2), ("follower_fetch", 2), ("follower_fetch", 2),
             ("crash", 2), ("restart", 2)]
    for version, truncating in (("2.1", True), ("2.7", False)):
        run = Lockstep(config([], version, max_records=1, max_crashes=1), tmp_path / version).do(*steps)
        assert run.c.nodes[2].fetcher_truncating is truncating
        assert (("follower_fetch", 2) in run.c.enabled_actions()) is truncating
        if truncating:
            before = run.obs()
            run.do(("follower_fetch", 2))
            assert run.obs() == before and not run.c.nodes[2].fetcher_truncating
            assert ("follower_fetch", 2) not in run.c.enabled_actions()
