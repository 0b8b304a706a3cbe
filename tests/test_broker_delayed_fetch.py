"""Delayed (stale) follower fetches on the reference broker (max_delayed_fetches): a fetch
request held up in the network reaches its leader after the follower moved on.

Each schedule runs on the model and the broker side by side (same observations, same
enabled actions at every step); the tests then look at what the broker did with the
request: fenced by KIP-320, ignored on a diverging epoch (2.7+), recorded as the
follower's offset (even an older one), proposing an ISR expansion, dropped with a
connection.
"""

from __future__ import annotations

import random

import pytest
from lockstep import Lockstep, config, model_trace

from ackcheck.broker import messages as m
from ackcheck.broker.cluster import ActionNotEnabled, Cluster
from ackcheck.checker.engines.replay import observation_difference, replay_on_broker
from ackcheck.model.protocol import Model
from ackcheck.model.state import observe

# ------------------------------------------------------------ KIP-320: fenced or counted
# Broker 1 copies record 1 from leader 0 (epoch 0), and its next fetch (offset 1) is held
# up. Broker 2 (empty log) leads epoch 1, broker 1 truncates to it (its log is empty now);
# broker 2 dies, broker 0 leads epoch 2 - and the old request reaches it.
STALE_AFTER_TRUNCATION = [
    ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
    ("follower_fetch_delayed", 1), ("controller_elect", 2, "rebalance"), ("broker_learn", 2, 1),
    ("broker_learn", 1, 1), ("follower_fetch", 1), ("crash", 2), ("controller_elect", 0, "failover"),
    ("broker_learn", 0, 2), ("leader_handle_delayed_fetch", 0, 1),
]


def _cfg_21(rules=()):
    return config([("acks", "all")], "2.1", rules, max_records=2, max_elections=2, max_crashes=1,
                  max_delayed_fetches=1)


def test_without_kip320_a_stale_fetch_counts_a_truncated_follower_and_a_committed_record_is_lost(tmp_path):
    """Before KIP-320 a fetch carries no leader epoch: leader 0 (epoch 2) takes broker 1's
    request from epoch 0 at face value - offset 1 - though broker 1 has since cut its log
    to nothing. The HW moves to 1 over ISR {0, 1}; broker 1 is elected and record 1,
    below the HW, is gone (leader-completeness, on model and broker alike)."""
    cfg = _cfg_21(["fenced_leader_epoch=off"])
    run = Lockstep(cfg, tmp_path / "l").do(*STALE_AFTER_TRUNCATION[:-1])
    assert run.c.delayed_fetches == [m.FetchRequest(1, 0, 0, 1, 0, run.c.controller.broker_epochs[1])]
    assert run.obs().replicas[1].log_end_offset == 0 and run.obs().replicas[0].high_watermark == 0
    run.do(STALE_AFTER_TRUNCATION[-1])
    o = run.obs()
    assert run.c.delayed_fetches == []
    assert o.isr == (0, 1) and o.replicas[0].follower_leos[1] == 1 and o.replicas[0].high_watermark == 1
    assert o.replicas[1].log_end_offset == 0 and o.committed_log == (1,)
    trace = model_trace(cfg, STALE_AFTER_TRUNCATION + [("controller_elect", 1, "rebalance")],
                        ["leader-completeness"])
    assert trace.violation is not None and trace.violation.step == len(STALE_AFTER_TRUNCATION) + 1
    report = replay_on_broker(trace, data_dir=tmp_path / "r")
    assert report.first_difference is None and report.confirmed


def test_kip320_fences_a_stale_fetch_of_an_older_epoch(tmp_path):
    """The same schedule with KIP-320 (2.1's default): the request names epoch 0, leader 0
    is in epoch 2 - FENCED_LEADER_EPOCH, nothing recorded, the HW stays, no loss."""
    cfg = _cfg_21()
    run = Lockstep(cfg, tmp_path / "l").do(*STALE_AFTER_TRUNCATION)
    o = run.obs()
    assert run.c.delayed_fetches == []
    assert o.replicas[0].follower_leos[1] == -1 and o.replicas[0].high_watermark == 0
    assert o.committed_log == ()
    trace = model_trace(cfg, STALE_AFTER_TRUNCATION + [("controller_elect", 1, "rebalance")],
                        ["leader-completeness"])
    assert trace.violation is None
    assert replay_on_broker(trace, data_dir=tmp_path / "r").first_difference is None


def test_a_stale_fetch_to_a_broker_that_does_not_lead_changes_nothing(tmp_path):
    cfg = _cfg_21(["fenced_leader_epoch=off"])
    run = Lockstep(cfg, tmp_path).do(*STALE_AFTER_TRUNCATION[:4], ("controller_elect", 2, "rebalance"),
                                     ("broker_learn", 0, 1))
    before = run.obs()
    run.do(("leader_handle_delayed_fetch", 0, 1))  # NOT_LEADER_OR_FOLLOWER
    assert run.obs() == before and run.c.delayed_fetches == []
    with pytest.raises(ActionNotEnabled, match="no delayed fetch request"):
        run.c.apply(("leader_handle_delayed_fetch", 0, 1))


# ------------------------------------------------------ 2.7+: a diverging epoch is ignored
# Broker 1 holds record 1 of epoch 0; broker 0 lost it (it followed broker 2, whose epoch-1
# log holds record 2 at offset 0) and leads epoch 2. Broker 1 learns epoch 2 but has not
# fetched (truncated) yet when its fetch is held up.
DIVERGED = [
    ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
    ("controller_elect", 2, "rebalance"), ("broker_learn", 2, 1), ("broker_learn", 0, 1), ("follower_fetch", 0),
    ("producer_send", 1, 2), ("broker_handle_produce", 2, 1, 1), ("follower_fetch", 0),
    ("controller_elect", 0, "rebalance"), ("broker_learn", 0, 2), ("broker_learn", 1, 2), ("broker_learn", 2, 2),
    ("follower_fetch", 2),
]


def test_a_stale_fetch_from_a_diverged_log_is_answered_with_a_diverging_epoch(tmp_path):
    """4.1: the request is in leader 0's epoch (KIP-320 lets it through) at offset 1, but
    its last fetched epoch 0 is not in leader 0's log (epoch cache [1@0]): Partition
    answers a diverging epoch and leaves broker 1's state alone. Counted, it would have
    moved the HW to 1 over a record broker 1 does not hold."""
    cfg = config(max_records=2, max_elections=2, max_delayed_fetches=1)
    run = Lockstep(cfg, tmp_path).do(*DIVERGED, ("follower_fetch_delayed", 1))
    q = run.c.delayed_fetches[0]
    assert (q.leader, q.leader_epoch, q.fetch_offset, q.last_fetched_epoch) == (0, 2, 1, 0)
    ldr = run.c.nodes[0]
    assert ldr.log.epochs.entries == [(1, 0)] and ldr.fetch_diverges(0, 1)
    assert run.leos(0) == (1, -1, 1) and run.obs().replicas[0].high_watermark == 0
    run.do(("leader_handle_delayed_fetch", 0, 1))
    assert run.leos(0) == (1, -1, 1) and run.obs().replicas[0].high_watermark == 0
    assert run.c.delayed_fetches == [] and run.c.alter_partitions == []
    # broker 1's own next fetch truncates its log and is counted
    run.do(("follower_fetch", 1))
    assert [b.records for b in run.obs().replicas[1].log] == [(2,)]
    run.do(("follower_fetch", 1))
    assert run.leos(0) == (1, 1, 1) and run.obs().replicas[0].high_watermark == 1


def test_the_divergence_check(tmp_path):
    """Broker.fetch_diverges against a leader whose epoch cache is [0@0, 2@2]."""
    c = Cluster(config(max_records=1), tmp_path, fsync=False)
    ldr = c.nodes[0]
    ldr.log.epochs.entries = [(0, 0), (2, 2)]
    # epoch 0 ends at 2, where epoch 2 starts: a fetch up to 2 is fine, past it diverges
    assert not ldr.fetch_diverges(0, 1) and not ldr.fetch_diverges(0, 2) and ldr.fetch_diverges(0, 3)
    # epoch 1 was never the leader's: the largest epoch <= 1 is 0, older - diverges
    assert ldr.fetch_diverges(1, 2)
    # no epoch <= the requested one at all
    ldr.log.epochs.entries = [(3, 0)]
    assert ldr.fetch_diverges(2, 1)


def test_before_2_7_a_truncating_fetcher_sends_no_fetch_to_delay(tmp_path):
    """Without the diverging-epoch fetch, broker 1 learning epoch 2 with data puts its
    fetcher in the Truncating state: it sends OffsetsForLeaderEpoch, not Fetch, so there
    is no fetch request to hold up until it fetched once."""
    cfg = config(rules=["diverging_epoch_fetch=off"], max_records=2, max_elections=2, max_delayed_fetches=1)
    run = Lockstep(cfg, tmp_path).do(*DIVERGED)
    assert run.c.nodes[1].fetcher_truncating
    with pytest.raises(ActionNotEnabled, match="truncating"):
        run.c.apply(("follower_fetch_delayed", 1))
    run.do(("follower_fetch", 1), ("follower_fetch_delayed", 1))
    # after the fetch that truncated (record 1 of epoch 0 cut, record 2 of epoch 1 copied)
    q = run.c.delayed_fetches[0]
    assert (q.leader_epoch, q.fetch_offset, q.last_fetched_epoch) == (2, 1, 1)


# ------------------------------------------------------- counted: in the leader's epoch
def test_a_stale_fetch_older_than_a_later_one_is_refused(tmp_path):
    """4.1: broker 1's request from offset 0 arrives after it reported offset 1. That late
    fetch belongs to a fetch session broker 1's newer fetch moved on (KIP-227 answers
    INVALID_FETCH_SESSION_EPOCH): the leader's view of broker 1 stays at 1, the HW at 1,
    and hw-bound keeps holding (model and broker alike)."""
    cfg = config(max_records=1, max_delayed_fetches=1)
    sched = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch_delayed", 1),
             ("follower_fetch", 1), ("follower_fetch", 1), ("follower_fetch", 2), ("follower_fetch", 2)]
    run = Lockstep(cfg, tmp_path / "l").do(*sched)
    assert run.leos(0) == (1, 1, 1) and run.obs().replicas[0].high_watermark == 1
    run.do(("leader_handle_delayed_fetch", 0, 1))
    o = run.obs()
    assert run.leos(0) == (1, 1, 1) and o.replicas[0].high_watermark == 1
    assert ("leader_shrink_isr", 0, 1) not in run.c.enabled_actions()
    trace = model_trace(cfg, sched + [("leader_handle_delayed_fetch", 0, 1)], ["hw-bound"])
    assert trace.violation is None


def test_a_caught_up_stale_fetch_proposes_the_follower_back(tmp_path):
    """4.1: broker 2 reported offset 1, its next request (offset 1) is held up; broker 2 is
    shrunk out (the leader got record 2, broker 2 did not report it). The stale request
    reaches the leader at offset 1 = HW: maybeExpandIsr proposes broker 2 back, with the
    broker epoch the request carried (KIP-903), and its offset is kept from then on."""
    cfg = config(max_records=2, max_delayed_fetches=1, max_isr_shrinks=1)
    run = Lockstep(cfg, tmp_path).do(
        ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1), ("follower_fetch", 1),
        ("follower_fetch", 2), ("follower_fetch", 2), ("follower_fetch_delayed", 2),
        ("producer_send", 1, 0), ("broker_handle_produce", 0, 1, 1), ("leader_shrink_isr", 0, 2),
        ("controller_alter_partition", 0))
    o = run.obs()
    assert o.isr == (0, 1) and run.leos(0) == (2, 1, -1) and o.replicas[0].high_watermark == 1
    run.do(("leader_handle_delayed_fetch", 0, 2))
    [req] = run.c.alter_partitions
    assert req.new_isr == (0, 1, 2) and dict(req.isr_broker_epochs)[2] == run.c.controller.broker_epochs[2]
    assert run.leos(0) == (2, 1, 1) and run.c.nodes[0].pending_isr is not None
    run.do(("controller_alter_partition", 0))
    assert run.obs().isr == (0, 1, 2) and run.obs().replicas[0].isr == (0, 1, 2)


def test_a_stale_fetch_past_the_leaders_log_end_is_out_of_range(tmp_path):
    """KIP-320 off: broker 1's request at offset 1 (epoch 0) reaches broker 0 after 0 cut
    record 1 (following broker 2's empty log in epoch 1) and leads again, with an empty log
    (epoch 2): OFFSET_OUT_OF_RANGE, broker 1's offset is not taken."""
    cfg = _cfg_21(["fenced_leader_epoch=off"])
    run = Lockstep(cfg, tmp_path).do(
        ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
        ("follower_fetch_delayed", 1), ("controller_elect", 2, "rebalance"), ("broker_learn", 2, 1),
        ("broker_learn", 0, 1), ("follower_fetch", 0), ("controller_elect", 0, "rebalance"), ("broker_learn", 0, 2))
    assert run.obs().replicas[0].log_end_offset == 0 and run.c.delayed_fetches[0].fetch_offset == 1
    assert 1 in run.obs().replicas[0].isr and run.leos(0) == (0, -1, -1)
    run.do(("leader_handle_delayed_fetch", 0, 1))
    assert run.leos(0) == (0, -1, -1) and run.c.delayed_fetches == []


# ------------------------------------------------------------ connections, budget
def test_crashes_drop_delayed_fetches_with_their_connections(tmp_path):
    cfg = config(max_records=1, max_crashes=2, max_delayed_fetches=3)
    run = Lockstep(cfg, tmp_path).do(("follower_fetch_delayed", 1), ("follower_fetch_delayed", 2))
    assert sorted(q.follower for q in run.c.delayed_fetches) == [1, 2]
    # one per follower at a time
    with pytest.raises(ActionNotEnabled, match="already held up"):
        run.c.apply(("follower_fetch_delayed", 1))
    run.do(("crash", 2))  # the follower's process: its request goes with its connection
    assert [q.follower for q in run.c.delayed_fetches] == [1]
    run.do(("crash", 0))  # the leader's: the request addressed to it too
    assert run.c.delayed_fetches == []
    # the budget counts requests sent, not requests still in the network
    run.do(("restart", 0), ("follower_fetch_delayed", 1))
    with pytest.raises(ActionNotEnabled, match="budget"):
        run.c.apply(("follower_fetch_delayed", 1))


def test_no_request_is_held_up_on_the_way_to_a_dead_leader(tmp_path):
    """A broker whose leader is down has no connection to send a fetch on (model and broker
    alike): nothing can be held up for the leader's next process to find."""
    cfg = config(max_records=1, max_crashes=1, max_delayed_fetches=1)
    run = Lockstep(cfg, tmp_path).do(("crash", 0))
    assert ("follower_fetch_delayed", 1) not in run.c.enabled_actions()
    with pytest.raises(ActionNotEnabled, match="down"):
        run.c.apply(("follower_fetch_delayed", 1))


def test_without_the_bound_there_is_no_delayed_fetch(tmp_path):
    c = Cluster(config(max_records=1), tmp_path, fsync=False)
    assert not any(a[0] in ("follower_fetch_delayed", "leader_handle_delayed_fetch") for a in c.enabled_actions())
    with pytest.raises(ActionNotEnabled, match="budget"):
        c.apply(("follower_fetch_delayed", 1))
    with pytest.raises(ActionNotEnabled, match="no delayed fetch"):
        c.apply(("leader_handle_delayed_fetch", 0, 1))
    with pytest.raises(ActionNotEnabled, match="no such broker"):
        c.apply(("follower_fetch_delayed", 5))


# -------------------------------------------------------------- biased lockstep walks
DELAYED_WALKS = {
    "2.1-no-kip320": config([("min.insync.replicas", "2")], "2.1", ["fenced_leader_epoch=off"], max_records=3,
                            max_crashes=2, max_elections=2, max_power_losses=1, max_isr_shrinks=2,
                            max_delayed_fetches=1),
    "2.1": config([("acks", "all")], "2.1", max_records=3, max_crashes=2, max_elections=2, max_isr_shrinks=2,
                  max_delayed_fetches=2),
    "4.1-no-kip320": config([("min.insync.replicas", "2")], None, ["fenced_leader_epoch=off"], max_records=3,
                            max_crashes=2, max_elections=2, max_power_losses=1, max_isr_shrinks=2,
                            max_delayed_fetches=1),
    "4.1": config(max_records=3, max_crashes=2, max_elections=3, max_power_losses=1, max_isr_shrinks=2,
                  max_delayed_fetches=2),
    "0.10": config([("acks", "all")], "0.10", max_records=3, max_crashes=2, max_elections=2,
                   max_delayed_fetches=2),
}


def biased_walk(cfg, seed: int, tmp, steps: int = 200) -> dict[str, int]:
    """A lockstep walk that favours delayed fetches and lets them wait a while: what the
    handled requests did (by what the broker's leader kept)."""
    rng = random.Random(seed)
    model = Model(cfg)
    s = model.init()
    c = Cluster(cfg, tmp, segment_bytes=200, fsync=False)
    seen = {"sent": 0, "handled": 0, "counted": 0, "proposed": 0}
    for k in range(steps):
        ma = sorted(model.actions(s), key=repr)
        assert ma == sorted(c.enabled_actions(), key=repr), f"step {k}: enabled actions differ"
        if not ma:
            break
        delay = [a for a in ma if a[0] == "follower_fetch_delayed"]
        handle = [a for a in ma if a[0] == "leader_handle_delayed_fetch"]
        if delay and k >= 12 and rng.random() < 0.3:
            a = rng.choice(delay)
        elif handle and rng.random() < 0.06:
            a = rng.choice(handle)
        else:
            a = rng.choice(ma)
        before = (c.replica(a[1]).follower_leos, len(c.alter_partitions)) if a[0] == "leader_handle_delayed_fetch" \
            else None
        s = model.step(s, a)
        c.apply(a)
        d = observation_difference(observe(s), c.observe())
        assert d is None, f"step {k} ({a}): {d}"
        if a[0] == "follower_fetch_delayed":
            seen["sent"] += 1
        elif before is not None:
            seen["handled"] += 1
            seen["counted"] += c.replica(a[1]).follower_leos != before[0]
            seen["proposed"] += len(c.alter_partitions) > before[1]
    return seen


@pytest.mark.parametrize("name", sorted(DELAYED_WALKS))
def test_delayed_fetches_walk_in_lockstep(name, tmp_path):
    total = {"sent": 0, "handled": 0, "counted": 0, "proposed": 0}
    for seed in range(40):
        for k, v in biased_walk(DELAYED_WALKS[name], seed, tmp_path / f"s{seed}").items():
            total[k] += v
    # the walks reach what matters: requests handled late, some counted, some proposing
    assert total["sent"] > 0 and total["handled"] > 0, total
    assert total["counted"] > 0 and total["proposed"] > 0, total
