"""Broker behaviour taken from Kafka where the model (at the time of writing) differed,
and one place where broker and model agree but Kafka would not.

docs/broker.md "Known disagreements with the model" lists these; the broker is not bent to
match: each is for the model's owner to judge.
"""

from __future__ import annotations

from ackcheck.broker.cluster import Cluster
from ackcheck.traces.settings import Setting, build_config


def test_interval_flush_counts_messages_since_the_recovery_point(tmp_path):
    """UnifiedLog: flush when logEndOffset - recoveryPoint >= flush.interval.messages. The
    OS flusher writing dirty pages does not move Kafka's recovery point, so the second
    record triggers Kafka's fsync even though the first already reached the disk."""
    cfg = build_config([Setting("log.flush.interval.messages", "2", "test")], bounds={"max_power_losses": 1, "max_records": 2})
    c = Cluster(cfg, tmp_path)
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("flush", 0),
              ("producer_send", 1, 0), ("broker_handle_produce", 0, 1, 1)]:
        c.apply(a)
    leader = c.nodes[0].log
    assert leader.kafka_flushes == 1 and leader.recovery_point == 2
    assert c.replica(0).flushed_offset == 2


def test_only_a_broker_that_knows_it_leads_moves_its_high_watermark(tmp_path):
    """KIP-966 fencing shrinks the ISR while broker 2's election (a rebalance) is still in
    flight to it: broker 2 learns the new ISR but, still a follower of epoch 0, does not
    compute a leader's high watermark; the record stays uncommitted."""
    cfg = build_config([], bounds={"max_crashes": 2, "max_elections": 1})
    c = Cluster(cfg, tmp_path)
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 2), ("crash", 1),
              ("controller_elect", 2, "rebalance"), ("crash", 0)]:
        c.apply(a)
    o = c.observe()
    assert o.leader == 2 and o.isr == (2,)
    r2 = o.replicas[2]
    assert (r2.leader, r2.leader_epoch, r2.isr) == (0, 0, (2,))
    assert r2.high_watermark == 0 and o.committed_log == ()


def test_a_leader_whose_isr_is_older_than_the_controllers_cannot_change_it(tmp_path):
    """Continuing the schedule above: broker 2 then takes its election's LeaderAndIsr, which
    is older than the fencing and lists the dead broker 0 again. Every ISR change it
    proposes is made against that older partition state and refused (INVALID_UPDATE_VERSION),
    and no newer update is on its way: the HW stays frozen (the broker matches the model;
    docs/broker.md, known disagreements, 3)."""
    cfg = build_config([], bounds={"max_crashes": 2, "max_elections": 1})
    c = Cluster(cfg, tmp_path)
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 2), ("crash", 1),
              ("controller_elect", 2, "rebalance"), ("crash", 0), ("broker_learn", 2, 1)]:
        c.apply(a)
    assert c.replica(2).isr == (0, 2) and c.observe().isr == (2,)
    answers = []
    orig = c.controller.alter_partition
    c.controller.alter_partition = lambda req: answers.append(orig(req)) or answers[-1]
    for _ in range(2):
        c.apply(("leader_shrink_isr", 2, 0))
        c.apply(("controller_alter_partition", 2))
        assert answers[-1].error == "INVALID_UPDATE_VERSION"
        assert c.replica(2).isr == (0, 2) and c.replica(2).high_watermark == 0
    assert c.observe().committed_log == ()
    assert not any(a[0] == "broker_learn" for a in c.enabled_actions())
