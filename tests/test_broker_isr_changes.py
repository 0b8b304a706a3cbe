"""ISR changes as proposals (AlterPartition, KIP-497, KIP-841/903) and the fetcher's
truncation state (before 2.7), on the reference broker.

Each schedule runs on the model first; the broker replays the model's trace step by step
(same observations), and the tests then look at what only the broker shows: the requests
in its network, the controller's answers, a leader's pending state, a fetcher's state.
"""

from __future__ import annotations

import lockstep
import pytest
from lockstep import config, model_trace

from ackcheck.broker import messages as m
from ackcheck.broker.cluster import ActionNotEnabled
from ackcheck.checker.engines.replay import replay_on_broker
from ackcheck.model.protocol import ActionError
from ackcheck.traces.format import ACTIONS


class Lockstep(lockstep.Lockstep):
    """Model and broker side by side, with the controller's AlterPartition answers kept."""

    def __init__(self, cfg, tmp):
        super().__init__(cfg, tmp)
        self.answers: list[m.AlterPartitionResponse] = []
        ctrl = self.c.controller
        orig = ctrl.alter_partition

        def spy(req):
            resp = orig(req)
            self.answers.append(resp)
            return resp

        ctrl.alter_partition = spy


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
    # (followers keep no ISR view)
    assert o.replicas[1].isr == o.replicas[2].isr == ()
    # broker 2 is still in the maximal ISR: its fetch offset is kept
    assert o.replicas[0].follower_leos == (1, 1, 0)
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
    # broker 2 left the leader's ISR: its fetch offset is forgotten
    assert o.replicas[0].follower_leos == (1, 1, -1)
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
    run = Lockstep(cfg, tmp_path).do(*EXPAND_2[:-1])
    # broker 2 fetched at offset 0, below the HW: outside the ISR, its offset is not kept
    assert run.obs().replicas[0].follower_leos == (1, 1, -1)
    assert run.c.nodes[2].leo == 1 and run.c.alter_partitions == []
    run.do(EXPAND_2[-1])
    c, o = run.c, run.obs()
    # its next fetch (at offset 1) proposes it back: now in the pending change, it is kept
    assert o.replicas[0].follower_leos == (1, 1, 1)
    assert o.isr == (0, 1) and o.replicas[0].isr == (0, 1)
    req = c.alter_partitions[0]
    # KIP-903: every member with its broker epoch - the leader's own, the followers' as
    # their fetches carried them
    assert req.new_isr == (0, 1, 2)
    assert req.isr_broker_epochs == tuple((b, c.nodes[b].broker_epoch) for b in (0, 1, 2))
    assert len({e for _, e in req.isr_broker_epochs}) == 3
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
    seen = dict(run.c.alter_partitions[0].isr_broker_epochs)[2]
    run.do(("power_loss", 2), ("restart", 2))
    assert run.c.controller.broker_epochs[2] != seen
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
    run = Lockstep(cfg, tmp_path).do(*EXPAND_2, ("crash", 2))
    # broker 2 was not in the ISR (nothing to fence) but is in the pending expansion
    assert run.obs().replicas[0].follower_leos == (1, 1, 1) and run.obs().isr == (0, 1)
    run.do(("controller_alter_partition", 0))
    assert run.answers[-1].error == m.INELIGIBLE_REPLICA and run.obs().isr == (0, 1)
    # the refused expansion leaves broker 2 outside: its fetch offset is forgotten
    assert run.obs().replicas[0].follower_leos == (1, 1, -1)


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
    bounds = {"max_records": 1, "max_isr_shrinks": 1, "max_elections": 2}
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


# ------------------------------------------- the controller's own ISR changes (fencing)
@pytest.mark.parametrize("version,fenced", [("3.9", False), ("4.0", True), ("4.1", True)])
def test_kraft_fences_a_dead_follower_out_of_the_isr(tmp_path, version, fenced):
    """Follower 2 (which has nothing) dies. The KRaft controller (4.0; with or without
    KIP-966) takes it out of the ISR, the leader takes the change and commits record 1 at
    once; with ZooKeeper (3.9) the ISR keeps it until the leader shrinks it."""
    cfg = config([], version, max_records=1, max_crashes=1)
    run = Lockstep(cfg, tmp_path).do(*LAGGING_2)
    pe = run.c.controller.partition_epoch
    assert run.obs().replicas[0].follower_leos == (1, 1, 0)
    run.do(("crash", 2))
    o = run.obs()
    # a dead broker reports no ISR view
    assert o.replicas[2].alive is False and o.replicas[2].isr == ()
    if fenced:
        assert o.isr == (0, 1) and o.replicas[0].isr == (0, 1)
        # fenced out of the leader's ISR: its fetch offset is forgotten
        assert o.replicas[0].follower_leos == (1, 1, -1)
        assert run.c.controller.partition_epoch == pe + 1 == run.c.nodes[0].partition_epoch
        assert o.replicas[0].high_watermark == 1 and o.committed_log == (1,)
        assert ("producer_receive", 0, 1) in run.c.enabled_actions()
        assert not any(a[0] == "leader_shrink_isr" for a in run.c.enabled_actions())
    else:
        assert o.isr == (0, 1, 2) and o.replicas[0].isr == (0, 1, 2)
        assert o.replicas[0].follower_leos == (1, 1, 0)
        assert run.c.controller.partition_epoch == pe
        assert o.replicas[0].high_watermark == 0 and o.committed_log == ()
        run.do(("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0), ("producer_receive", 0, 1))
        assert run.obs().isr == (0, 1) and run.obs().committed_log == (1,)


@pytest.mark.parametrize("version", ["3.9", "4.0", "4.1"])
def test_the_last_isr_member_stays_unless_kip966(tmp_path, version):
    """Replication factor 2: leader 0 dies, broker 1 takes over and dies too. KRaft without
    KIP-966 keeps broker 1 as the ISR's last member, so once restarted it is elected again;
    with KIP-966 it leaves into the ELR - and, a crash being an unclean shutdown, leaves
    the ELR when it registers again. The controller remembered it as the last known
    leader, so it is elected again anyway, as an unclean election
    (PartitionChangeBuilder.canElectLastKnownLeader)."""
    cfg = config([("replication.factor", "2")], version, max_records=1, max_crashes=2, max_elections=1)
    run = Lockstep(cfg, tmp_path).do(("crash", 0))
    assert run.obs().isr == ((0, 1) if version == "3.9" else (1,))
    run.do(("controller_elect", 1, "failover"), ("broker_learn", 1, 1), ("crash", 1))
    o = run.obs()
    kip966 = version == "4.1"
    assert (o.leader, o.isr, o.elr) == ((-1, (), (1,)) if kip966 else (-1, (1,), ()))
    run.do(("restart", 1))
    o = run.obs()
    elections = [a for a in run.c.enabled_actions() if a[0] == "controller_elect"]
    if kip966:
        assert (o.isr, o.elr) == ((), ()) and elections == [("controller_elect", 1, "last_known_leader")]
        run.do(("controller_elect", 1, "last_known_leader"))
        assert (run.obs().leader, run.obs().isr, run.obs().elr) == (1, (1,), ())
    else:
        assert elections == [("controller_elect", 1, "failover")]
        run.do(("controller_elect", 1, "failover"))
        assert run.obs().isr == (1,)


# Broker 2 has record 1 but leader 0 has not seen its fetch; broker 1 dies; leadership
# moves to 2 (a rebalance), and before broker 2 learns it, broker 0 dies.
MOVE_THEN_FENCE = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 2), ("crash", 1),
                   ("controller_elect", 2, "rebalance"), ("crash", 0)]


@pytest.mark.parametrize("version", ["4.0", "4.1"])
def test_fencing_is_ordered_after_the_leader_change_it_follows(tmp_path, version):
    """The controller fences broker 0 while broker 2 has not taken epoch 1 yet: broker 2,
    still a follower of epoch 0, does not take the new ISR in place (nor compute a leader's
    HW); its queued update for epoch 1 carries the ISR without broker 0, so when it takes
    leadership it commits record 1 at once."""
    cfg = config([], version, max_records=1, max_crashes=2, max_elections=1)
    run = Lockstep(cfg, tmp_path).do(*MOVE_THEN_FENCE)
    c, o = run.c, run.obs()
    ctrl = c.controller
    assert (o.leader, o.leader_epoch, o.isr) == (2, 1, (2,))
    r2 = o.replicas[2]
    # a follower keeps no ISR view: nothing was taken in place
    assert (r2.leader, r2.leader_epoch, r2.isr, r2.high_watermark) == (0, 0, (), 0)
    assert c.nodes[2].isr == () and not c.nodes[2].is_leader
    assert o.committed_log == ()
    # the one update on its way is epoch 1's, with the newest partition state
    assert c.controller_messages == [m.LeaderAndIsr(2, 1, 2, (2,), ctrl.partition_epoch)]
    run.do(("broker_learn", 2, 1))
    o = run.obs()
    assert o.replicas[2].isr == (2,) and o.replicas[2].high_watermark == 1 and o.committed_log == (1,)
    assert c.nodes[2].partition_epoch == ctrl.partition_epoch
    assert c.controller_messages == []


def test_zookeeper_mode_leaves_the_dead_to_the_leader(tmp_path):
    """The same schedule with ZooKeeper (3.9): the ISR keeps the dead brokers, broker 2 leads
    epoch 1 with them in its ISR and commits only once it has shrunk them out."""
    cfg = config([], "3.9", max_records=1, max_crashes=2, max_elections=1)
    run = Lockstep(cfg, tmp_path).do(*MOVE_THEN_FENCE, ("broker_learn", 2, 1))
    o = run.obs()
    assert o.isr == (0, 1, 2) and o.replicas[2].isr == (0, 1, 2) and o.replicas[2].high_watermark == 0
    run.do(("leader_shrink_isr", 2, 0), ("controller_alter_partition", 2))
    assert run.obs().replicas[2].high_watermark == 0
    run.do(("leader_shrink_isr", 2, 1), ("controller_alter_partition", 2))
    o = run.obs()
    assert o.isr == (2,) and o.replicas[2].high_watermark == 1 and o.committed_log == (1,)


def test_fencing_supersedes_a_pending_isr_change(tmp_path):
    """Leader 0 proposes to drop lagging follower 2; before the controller handles it,
    broker 1 dies and is fenced. The leader takes that ISR in place (its HW still over the
    maximal ISR, which holds broker 2); its proposal was made against the older partition
    state and is refused - and it may propose again against the new one."""
    cfg = config([], "4.0", max_records=1, max_crashes=1, max_isr_shrinks=2)
    run = Lockstep(cfg, tmp_path).do(*LAGGING_2, ("leader_shrink_isr", 0, 2), ("crash", 1))
    c, o = run.c, run.obs()
    assert o.isr == (0, 2) and o.replicas[0].isr == (0, 2)
    assert c.nodes[0].pending_isr is not None and o.replicas[0].high_watermark == 0
    run.do(("controller_alter_partition", 0))
    assert run.answers[-1].error == m.INVALID_UPDATE_VERSION
    assert run.obs().isr == (0, 2) and c.nodes[0].pending_isr is None
    run.do(("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0))
    assert run.answers[-1].accepted and run.obs().isr == (0,)
    assert run.obs().replicas[0].high_watermark == 1


# ------------------------------------------------- KIP-841/903 over the whole new ISR
@pytest.mark.parametrize("check", [True, False])
def test_kip903_every_member_of_the_new_isr_is_checked(check):
    """Not only the replicas a change adds: a member that stays in the ISR but registered
    again since the leader saw its fetch (stale broker epoch), or that is fenced, makes the
    controller refuse the change (KIP-841/903); a member whose broker epoch the leader does
    not know (-1) is checked for being registered and unfenced only. (The controller is
    built without KRaft fencing so that a fenced broker can stay in its ISR: with it, the
    fencing would take the broker out first.)"""
    from ackcheck.broker.controller import Controller

    ctrl = Controller(3, min_isr=1, unclean_enabled=False, elr_enabled=False, check_replica_eligibility=check)

    def drop_2(epoch_of_1):
        return ctrl.alter_partition(m.AlterPartition(0, ctrl.leader_epoch, ctrl.partition_epoch, (0, 1),
                                                     ((0, ctrl.broker_epochs[0]), (1, epoch_of_1))))

    old = ctrl.broker_epochs[1]
    assert not ctrl.broker_failed(1) and ctrl.isr == (0, 1, 2)
    r = drop_2(-1)  # broker 1 is fenced
    assert r.accepted is not check
    if not check:
        return
    assert r.error == m.INELIGIBLE_REPLICA and ctrl.isr == (0, 1, 2)
    ctrl.broker_registered(1, unclean_shutdown=False)
    assert ctrl.broker_epochs[1] != old
    r = drop_2(old)  # registered again since the leader saw it
    assert r.error == m.INELIGIBLE_REPLICA and ctrl.isr == (0, 1, 2)
    r = drop_2(ctrl.broker_epochs[1])
    assert r.accepted and ctrl.isr == (0, 1)


# ------------------------------------------- what a leader tracks, what others report
def test_only_the_leader_reports_an_isr_view(tmp_path):
    """A follower keeps no ISR view (only a leader reads one); at the start only broker 0,
    the leader, reports the ISR - and it knows every replica at offset 0."""
    cfg = config([], max_records=1, max_crashes=1, max_elections=1)
    run = Lockstep(cfg, tmp_path)
    o = run.obs()
    assert [r.isr for r in o.replicas] == [(0, 1, 2), (), ()]
    assert [r.follower_leos for r in o.replicas] == [(0, 0, 0), (-1, -1, -1), (-1, -1, -1)]
    # leadership moves: broker 1 takes the ISR with its epoch, broker 0 drops its own
    run.do(("controller_elect", 1, "rebalance"), ("broker_learn", 1, 1))
    o = run.obs()
    assert o.replicas[1].isr == (0, 1, 2) and o.replicas[0].isr == (0, 1, 2)  # 0 has not learned yet
    run.do(("broker_learn", 0, 1))
    o = run.obs()
    assert [r.isr for r in o.replicas] == [(), (0, 1, 2), ()]
    assert run.c.nodes[0].isr == ()


def test_an_expansion_is_judged_on_every_fetch(tmp_path):
    """Broker 2 copies record 1 and reports it while leader 0's shrink of it is pending (it
    is in the maximal ISR, so the offset is kept). The shrink commits: the offset is
    forgotten. Broker 2's next fetch brings nothing new - no data, no HW, the same offset
    it sent before - but it is caught up, so the leader proposes it back: that fetch is a
    step, and the proposal carries it."""
    cfg = config([], max_records=1, max_isr_shrinks=1)
    run = Lockstep(cfg, tmp_path).do(
        ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1), ("follower_fetch", 2),
        ("leader_shrink_isr", 0, 2), ("follower_fetch", 2))
    o = run.obs()
    assert o.replicas[0].follower_leos == (1, 0, 1) and o.replicas[0].high_watermark == 0
    run.do(("controller_alter_partition", 0))
    o = run.obs()
    assert o.isr == (0, 1) and o.replicas[0].follower_leos == (1, 0, -1)
    assert o.replicas[2].log_end_offset == 1 and o.replicas[2].high_watermark == 0
    assert ("follower_fetch", 2) in run.c.enabled_actions()
    before = o.replicas[2]
    run.do(("follower_fetch", 2))
    o = run.obs()
    assert o.replicas[2] == before  # the follower's side did not move
    assert o.replicas[0].follower_leos == (1, 0, 1)
    assert [q.new_isr for q in run.c.alter_partitions] == [(0, 1, 2)]
    # a second fetch changes nothing now (the change is pending, the offset known)
    assert ("follower_fetch", 2) not in run.c.enabled_actions()
    with pytest.raises(ActionNotEnabled, match="change nothing"):
        run.c.apply(("follower_fetch", 2))


def test_an_expansion_is_never_a_step_of_its_own(tmp_path):
    assert "leader_expand_isr" not in ACTIONS  # judged on every fetch (Partition.maybeExpandIsr)
    run = Lockstep(config([], max_records=1, max_isr_shrinks=1), tmp_path).do(*EXPAND_2[:-1])
    with pytest.raises(ActionNotEnabled, match="unknown action"):
        run.c.apply(("leader_expand_isr", 0, 2))
    with pytest.raises(ActionError):
        run.model.step(run.s, ("leader_expand_isr", 0, 2))


def test_a_power_loss_of_a_down_broker_does_not_fence_it_again(tmp_path):
    """KRaft without KIP-841/903: leader 0 proposes broker 2 back into the ISR, broker 2
    dies (it is not in the ISR, so fencing changes nothing) and the controller then accepts
    the expansion - a fenced broker in the ISR. Its host losing power later is nothing the
    controller can see: broker 2 stays in the ISR (the partition epoch does not move) until
    the leader shrinks it, as a dead follower."""
    cfg = config([("min.insync.replicas", "2")], None, ["fenced_replicas_not_in_isr=off"], max_records=1,
                 max_isr_shrinks=1, max_crashes=1, max_power_losses=1)
    run = Lockstep(cfg, tmp_path).do(*EXPAND_2, ("crash", 2), ("controller_alter_partition", 0))
    c = run.c
    assert run.obs().isr == (0, 1, 2) and run.obs().replicas[2].alive is False
    pe = c.controller.partition_epoch
    run.do(("power_loss", 2))
    o = run.obs()
    assert o.isr == (0, 1, 2) and o.replicas[0].isr == (0, 1, 2) and c.controller.partition_epoch == pe
    assert ("leader_shrink_isr", 0, 2) in c.enabled_actions()
    run.do(("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0))
    assert run.obs().isr == (0, 1)
