"""Unit tests per action family: enabling conditions and effects."""

import pytest
from conftest import make_config

from ackcheck.model.protocol import ActionError, Model
from ackcheck.model.state import B_IN_FLIGHT, B_OK, B_RETRY, E_NONE, E_NOT_ENOUGH_REPLICAS
from ackcheck.model.truncation import epoch_cache, truncate_kip101, truncate_kip279
from ackcheck.traces.observation import OK, Batch


def model(props=None, version=None, **bounds):
    return Model(make_config(props or {"acks": "all"}, version=version, **bounds))


def run(m, actions):
    s = m.init()
    for a in actions:
        s = m.step(s, a)
    return s


def test_initial_state_is_healthy():
    m = model(max_records=2)
    s = m.init()
    assert s.leader == 0 and s.isr == (0, 1, 2) and all(r.alive for r in s.replicas)
    assert [a[0] for a in m.actions(s)].count("producer_send") == 1


def test_producer_send_and_acks1_answer():
    m = model({"acks": "1"})
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1)])
    assert s.replicas[0].log_end_offset == 1 and s.replicas[0].log[0].leader_epoch == 0
    s = m.step(s, ("producer_receive", 0, 1))
    assert s.batches[0].status == B_OK and s.outcomes[0] == (OK, 0)  # (outcome, offset)


def test_acks_all_waits_for_hw_two_fetch_rounds():
    m = model({"acks": "all"})
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1),
                ("follower_fetch", 1), ("follower_fetch", 2)])
    assert s.replicas[0].high_watermark == 0 and not s.responses  # leader learns LEOs next round
    s = run_from(m, s, [("follower_fetch", 1), ("follower_fetch", 2)])
    assert s.replicas[0].high_watermark == 1
    assert s.responses and s.responses[0].error == E_NONE
    assert s.committed_log == (1,)


def run_from(m, s, actions):
    for a in actions:
        s = m.step(s, a)
    return s


def test_not_enough_replicas_before_append():
    m = model({"acks": "all", "min.insync.replicas": "2"}, version="3.9", max_crashes=2)
    s = run(m, [("crash", 1), ("leader_shrink_isr", 0, 1), ("controller_alter_partition", 0), ("crash", 2), ("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0),
                ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1)])
    assert s.replicas[0].log_end_offset == 0
    assert s.responses[0].error == E_NOT_ENOUGH_REPLICAS


def test_disabled_action_raises():
    m = model()
    with pytest.raises(ActionError):
        m.step(m.init(), ("restart", 1))


def test_crash_keeps_page_cache_power_loss_keeps_flushed_prefix():
    m = model({"acks": "1"}, max_crashes=1, max_power_losses=1)
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1)])
    crashed = m.step(s, ("crash", 0))
    assert crashed.replicas[0].log_end_offset == 1 and crashed.leader == -1
    powered = m.step(s, ("power_loss", 0))
    assert powered.replicas[0].log_end_offset == 0
    flushed = run_from(m, s, [("flush", 0), ("power_loss", 0)])
    assert flushed.replicas[0].log_end_offset == 1


def test_flush_interval_messages():
    m = model({"acks": "1", "log.flush.interval.messages": "1"}, max_power_losses=1)
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1)])
    assert s.replicas[0].flushed_offset == 1


def test_elr_crash_leaves_isr_and_joins_elr():
    m = model({"acks": "all", "min.insync.replicas": "2"}, max_crashes=2)
    s = run(m, [("crash", 2), ("crash", 1)])
    assert s.isr == (0,) and s.elr == (1,)  # KIP-966: left while the ISR fell below min ISR
    s = m.step(s, ("restart", 1))
    assert s.elr == ()  # an unclean shutdown removes it from the ELR


def test_failover_election_and_learn():
    m = model({"acks": "all"}, max_crashes=1)
    s = run(m, [("crash", 0)])
    acts = m.actions(s)
    assert ("controller_elect", 1, "failover") in acts and ("controller_elect", 0, "failover") not in acts
    s = run_from(m, s, [("controller_elect", 1, "failover"), ("broker_learn", 1, 1)])
    assert s.leader == 1 and s.leader_epoch == 1 and s.replicas[1].leader == 1
    assert s.isr == (1, 2)


def test_unclean_election_only_when_enabled():
    for unclean, expect in (("false", False), ("true", True)):
        m = model({"acks": "all", "unclean.leader.election.enable": unclean}, version="3.9", max_crashes=2)
        s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("crash", 1),
                    ("leader_shrink_isr", 0, 1), ("controller_alter_partition", 0), ("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0), ("crash", 0), ("restart", 1)])
        assert s.isr == (0,) and s.leader == -1
        assert (("controller_elect", 1, "unclean") in m.actions(s)) is expect


def test_rebalance_bounded_by_max_elections():
    assert not any(a[0] == "controller_elect" for a in model(max_elections=0).actions(model().init()))
    m = model(max_elections=1)
    s = m.step(m.init(), ("controller_elect", 1, "rebalance"))
    assert s.elections == 1 and not any(a[0] == "controller_elect" for a in m.actions(s))


def test_stale_controller_message_is_ignored():
    m = model(max_elections=2)
    s = run(m, [("controller_elect", 1, "rebalance"), ("controller_elect", 2, "rebalance"),
                ("broker_learn", 0, 2)])
    assert s.replicas[0].leader == 2 and s.replicas[0].leader_epoch == 2
    # epoch 1 would be ignored: it left the network when epoch 2 was taken
    assert ("broker_learn", 0, 1) not in m.actions(s)
    assert all(msg.broker != 0 for msg in s.controller_messages)
    assert ("broker_learn", 1, 1) in m.actions(s)  # other brokers still have theirs


# ---------------------------------------------------------------- ISR changes (KIP-497)
def _pending_shrink(props=None, version=None, **bounds):
    m = model(props or {"acks": "all", "min.insync.replicas": "2"}, version=version, max_isr_shrinks=1, **bounds)
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
                ("follower_fetch", 1), ("leader_shrink_isr", 0, 2)])
    return m, s


def test_shrink_is_a_proposal_and_maximal_isr_holds_the_hw():
    m, s = _pending_shrink()
    assert s.isr == (0, 1, 2) and s.replicas[0].isr == (0, 1, 2)  # nothing committed yet
    assert s.isr_changes and s.isr_changes[0].proposed_isr == (0, 1)
    assert s.replicas[0].high_watermark == 0  # broker 2 still counts (maximal ISR)
    assert not any(a[0] == "leader_shrink_isr" for a in m.actions(s))  # one change at a time
    s = m.step(s, ("controller_alter_partition", 0))
    assert s.isr == (0, 1) and s.replicas[0].isr == (0, 1) and not s.isr_changes
    assert s.replicas[0].high_watermark == 1


def test_without_maximal_isr_the_leader_uses_its_proposal_at_once():
    m = model({"acks": "all", "min.insync.replicas": "2"}, max_isr_shrinks=1)
    m2 = Model(make_config({"acks": "all", "min.insync.replicas": "2"}, rules=["maximal_isr=off"],
                           max_isr_shrinks=1))
    seq = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
           ("follower_fetch", 1), ("leader_shrink_isr", 0, 2)]
    assert run(m, seq).replicas[0].high_watermark == 0
    assert run(m2, seq).replicas[0].high_watermark == 1  # committed over an uncommitted ISR


def test_stale_proposal_is_rejected_after_an_election():
    m, s = _pending_shrink(max_elections=1)
    s = m.step(s, ("controller_elect", 1, "rebalance"))
    s = m.step(s, ("controller_alter_partition", 0))  # leader epoch 0 is no longer current
    assert s.isr == (0, 1, 2) and not s.isr_changes


def test_learning_a_new_epoch_drops_the_pending_change():
    m, s = _pending_shrink(max_elections=1)
    s = run_from(m, s, [("controller_elect", 1, "rebalance"), ("broker_learn", 0, 1)])
    assert not s.isr_changes


def test_expansion_is_proposed_by_the_fetch():
    m, s = _pending_shrink()
    s = run_from(m, s, [("controller_alter_partition", 0), ("follower_fetch", 2), ("follower_fetch", 2)])
    assert s.isr == (0, 1) and s.isr_changes and s.isr_changes[0].proposed_isr == (0, 1, 2)
    s = m.step(s, ("controller_alter_partition", 0))
    assert s.isr == (0, 1, 2)


def test_kip_903_rejects_a_replica_that_restarted_since_the_proposal():
    props = {"acks": "all", "min.insync.replicas": "2"}
    for rule, joined in (("fenced_replicas_not_in_isr=on", False), ("fenced_replicas_not_in_isr=off", True)):
        m = Model(make_config(props, rules=[rule], max_isr_shrinks=1, max_crashes=1))
        s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
                    ("follower_fetch", 1), ("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0),
                    ("follower_fetch", 2), ("follower_fetch", 2), ("crash", 2), ("restart", 2),
                    ("controller_alter_partition", 0)])
        assert (2 in s.isr) is joined, rule


def test_kraft_fencing_reaches_a_new_leader_as_ordered_metadata():
    # the election's update to broker 2 is still queued when broker 0 is fenced: it
    # carries the ISR without 0, so broker 2 never leads on a stale ISR
    m = model({"acks": "all", "min.insync.replicas": "2"}, max_crashes=2, max_elections=1)
    s = run(m, [("controller_elect", 2, "rebalance"), ("crash", 1), ("crash", 0), ("broker_learn", 2, 1)])
    assert s.isr == s.replicas[2].isr == (2,)


# ------------------------------------------------- fetcher truncation (before 2.7)
def test_before_2_7_a_follower_truncates_once_per_epoch():
    m = model({"acks": "1"}, version="2.1", max_elections=2)
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1)])
    assert not any(s.fetcher_truncating)
    s = run_from(m, s, [("controller_elect", 2, "rebalance"), ("broker_learn", 1, 1)])
    assert s.fetcher_truncating[1]  # has data, new epoch: Truncating
    s = run_from(m, s, [("broker_learn", 2, 1), ("follower_fetch", 1)])
    assert not s.fetcher_truncating[1] and s.replicas[1].log_end_offset == 0  # truncated
    m27 = model({"acks": "1"}, version="2.7", max_elections=2)
    s = run(m27, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
                  ("controller_elect", 2, "rebalance"), ("broker_learn", 1, 1)])
    assert not any(s.fetcher_truncating)  # 2.7+: every fetch checks the diverging epoch


def test_lost_response_then_retry_duplicates_without_idempotence():
    m = model({"acks": "1", "enable.idempotence": "false", "retries": "3"}, max_lost_messages=1, max_attempts=2)
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("lose_response", 0, 1)])
    assert s.batches[0].status == B_RETRY  # the connection broke: NetworkException, retriable
    s = run_from(m, s, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 2)])
    assert s.replicas[0].log_end_offset == 2  # appended twice


def test_idempotent_retry_is_deduplicated():
    m = model({"acks": "all", "enable.idempotence": "true"}, max_lost_messages=1, max_attempts=2)
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1),
                ("leader_timeout_produce", 0, 0, 1), ("producer_receive", 0, 1)])
    assert s.batches[0].status == B_RETRY
    s = run_from(m, s, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 2)])
    assert s.replicas[0].log_end_offset == 1  # the duplicate was recognised, not appended
    assert s.batches[0].status == B_IN_FLIGHT and s.purgatory  # answered once HW passes it


def test_consumer_reads_below_hw_only():
    m = model({"acks": "1"})
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1)])
    assert ("consumer_poll",) not in m.actions(s)


def test_epoch_cache_and_truncation_rules():
    leader = (Batch(0, (1,), -1, -1), Batch(2, (3,), -1, -1))
    follower = (Batch(0, (1,), -1, -1), Batch(1, (2,), -1, -1), Batch(1, (4,), -1, -1))
    assert epoch_cache(follower) == [(0, 0), (1, 1)]
    # KIP-101: the leader never had epoch 1; it answers the start of its next epoch (1)
    assert truncate_kip101(follower, 3, leader, 2) == 1
    assert truncate_kip279(follower, 3, leader, 2) == 1
    # the fast-failover case: the follower's epoch-1 entries lie beyond the leader's epoch-2 start
    leader2 = (Batch(0, (1,), -1, -1), Batch(0, (5,), -1, -1), Batch(0, (6,), -1, -1), Batch(2, (3,), -1, -1))
    assert truncate_kip101(follower, 3, leader2, 4) == 3  # keeps divergent entries
    assert truncate_kip279(follower, 3, leader2, 4) == 1  # converges on the true divergence


# ------------------------------------------------------- delayed fetch requests (KIP-320)
def _stale_fetch_arrives(rules=(), version=None):
    """Follower 1's fetch (epoch 0, offset 1) is held up; leadership moves to 2 and back to 0
    (epoch 2); then the request reaches broker 0."""
    m = Model(make_config({"acks": "1"}, version=version, rules=rules, max_records=1, max_elections=2,
                          max_delayed_fetches=1))
    s = run(m, [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
                ("follower_fetch_delayed", 1), ("controller_elect", 2, "rebalance"), ("broker_learn", 2, 1),
                ("controller_elect", 0, "rebalance"), ("broker_learn", 0, 2)])
    assert s.delayed_fetches == ((1, 0, 0, 1, 0),)
    assert ("follower_fetch_delayed", 2) not in m.actions(s)  # budget spent
    return s, m.step(s, ("leader_handle_delayed_fetch", 0, 1))


def test_kip_320_fences_a_fetch_from_an_older_epoch():
    before, after = _stale_fetch_arrives()
    assert not after.delayed_fetches
    assert after.replicas[0].follower_leos[1] == -1  # answered FENCED_LEADER_EPOCH: nothing recorded


def test_without_kip_320_the_leader_takes_the_stale_fetch_offset():
    before, after = _stale_fetch_arrives(rules=["fenced_leader_epoch=off"])
    assert after.replicas[0].follower_leos[1] == 1  # broker 1 is taken to hold offset 0 in epoch 2


def test_diverging_epoch_check_ignores_a_stale_fetch_that_diverges():
    # broker 0 still holds record 1 of epoch 0; leader 1 wrote record 2 at offset 0 in epoch 1
    seq = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("controller_elect", 1, "rebalance"),
           ("broker_learn", 1, 1), ("producer_send", 1, 1), ("broker_handle_produce", 1, 1, 1),
           ("broker_learn", 0, 1), ("follower_fetch_delayed", 0), ("leader_handle_delayed_fetch", 1, 0)]
    m = Model(make_config({"acks": "1"}, max_records=2, max_elections=1, max_delayed_fetches=1))
    assert run(m, seq).replicas[1].follower_leos[0] == -1  # diverging: nothing recorded
    # before 2.7 broker 0 must truncate first: it cannot send that fetch at all
    m20 = Model(make_config({"acks": "1"}, version="2.1", max_records=2, max_elections=1, max_delayed_fetches=1))
    s = run(m20, seq[:7])
    assert s.fetcher_truncating[0] and ("follower_fetch_delayed", 0) not in m20.actions(s)
