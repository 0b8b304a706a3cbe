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
    # acks=1: with acks=all batch 0 would wait in purgatory and mute the connection
    cfg = build_config([Setting("log.flush.interval.messages", "2", "test"), Setting("acks", "1", "test")],
                       bounds={"max_power_losses": 1, "max_records": 2})
    c = Cluster(cfg, tmp_path)
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("flush", 0),
              ("producer_send", 1, 0), ("broker_handle_produce", 0, 1, 1)]:
        c.apply(a)
    leader = c.nodes[0].log
    assert leader.kafka_flushes == 1 and leader.recovery_point == 2
    assert c.replica(0).flushed_offset == 2


def test_a_follower_keeps_no_isr_view(tmp_path):
    """KRaft (4.0): broker 2 dies and is fenced out of the ISR; the leader takes the
    partition change. A follower keeps no ISR at all (as the model has it; in Kafka every
    broker keeps the partition state it replays from the metadata log). Nothing reads a
    follower's ISR view: an election or a restart hands a broker the controller's ISR."""
    cfg = build_config([], bounds={"max_crashes": 1}, kafka_version="4.0")
    c = Cluster(cfg, tmp_path)
    assert [r.isr for r in c.observe().replicas] == [(0, 1, 2), (), ()]
    c.apply(("crash", 2))
    o = c.observe()
    assert o.isr == (0, 1) and o.replicas[0].isr == (0, 1)
    assert o.replicas[1].isr == () and o.replicas[1].leader_epoch == o.leader_epoch
    assert o.replicas[2].isr == ()
