"""Broker behaviour taken from Kafka where the model (at the time of writing) differed,
and places where broker and model agree but Kafka would not.

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


def test_a_power_loss_of_a_down_broker_does_not_fence_it_again(tmp_path):
    """KRaft without KIP-841/903: leader 0 proposes broker 2 back into the ISR, broker 2
    dies (it is not in the ISR, so fencing changes nothing) and the controller then accepts
    the expansion - a fenced broker in the ISR. Its host losing power later is nothing the
    controller can see: the broker keeps broker 2 in the ISR (the partition epoch does not
    move) until the leader shrinks it, as a dead follower. The model fences it out of the
    ISR at that power loss (docs/broker.md, known disagreements, 1)."""
    cfg = build_config([Setting("min.insync.replicas", "2", "test")],
                       bounds={"max_records": 1, "max_isr_shrinks": 1, "max_crashes": 1, "max_power_losses": 1},
                       rule_overrides=["fenced_replicas_not_in_isr=off"])
    c = Cluster(cfg, tmp_path)
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
              ("follower_fetch", 1), ("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0),
              ("follower_fetch", 2), ("follower_fetch", 2), ("crash", 2), ("controller_alter_partition", 0)]:
        c.apply(a)
    assert c.observe().isr == (0, 1, 2) and c.replica(2).alive is False
    pe = c.controller.partition_epoch
    c.apply(("power_loss", 2))
    o = c.observe()
    assert o.isr == (0, 1, 2) and o.replicas[0].isr == (0, 1, 2) and c.controller.partition_epoch == pe
    assert ("leader_shrink_isr", 0, 2) in c.enabled_actions()
    c.apply(("leader_shrink_isr", 0, 2))
    c.apply(("controller_alter_partition", 0))
    assert c.observe().isr == (0, 1)


def test_a_follower_keeps_its_isr_view_when_the_controller_fences(tmp_path):
    """KRaft (4.0): broker 2 dies and is fenced out of the ISR. The leader takes the
    partition change; follower 1, which holds the same leader epoch, keeps the ISR it
    learned with that epoch (as the model has it; in Kafka every broker replays the
    partition change record). Nothing reads a follower's ISR view: an election or a
    restart hands a broker the controller's ISR."""
    cfg = build_config([], bounds={"max_crashes": 1}, kafka_version="4.0")
    c = Cluster(cfg, tmp_path)
    c.apply(("crash", 2))
    o = c.observe()
    assert o.isr == (0, 1) and o.replicas[0].isr == (0, 1)
    assert o.replicas[1].isr == (0, 1, 2) and o.replicas[1].leader_epoch == o.leader_epoch
