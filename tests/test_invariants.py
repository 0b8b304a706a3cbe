"""Every invariant: one observation that breaks it and one that keeps it."""

import pytest
from conftest import make_config

from ackcheck.invariants.catalogue import BY_ID, INVARIANTS, select
from ackcheck.model.state import initial_state, observe
from ackcheck.traces.observation import FAILED, OK, UNSENT, Batch

CFG = make_config({"acks": "all", "min.insync.replicas": "2"}, max_records=2)


def base():
    return observe(initial_state(CFG))


def with_logs(obs, logs, hws=None, **kw):
    reps = []
    for b, r in enumerate(obs.replicas):
        log = tuple(Batch(e, (rec,), -1, -1) for rec, e in logs[b])
        hw = hws[b] if hws else 0
        reps.append(r._replace(log=log, log_end_offset=len(log), high_watermark=hw))
    return obs._replace(replicas=tuple(reps), **kw)


def check(inv_id, obs, prev=None):
    inv = BY_ID[inv_id]
    return inv.check(prev if prev is not None else base(), obs, CFG) if inv.step else inv.check(obs, CFG)


def test_every_invariant_has_id_description_justification():
    assert len(INVARIANTS) >= 12
    for inv in INVARIANTS:
        assert inv.id == inv.id.lower() and " " not in inv.id
        assert inv.description and inv.justification


def test_acked_write_survives():
    acked = ((OK, 0), (UNSENT, -1))
    keep = with_logs(base(), [[(1, 0)], [(1, 0)], []], outcomes=acked)
    assert check("acked-write-survives", keep) is None
    lost = with_logs(base(), [[(1, 0)], [], []], outcomes=acked, leader=1)
    assert "lost" in check("acked-write-survives", lost)
    gone = with_logs(base(), [[], [], []], outcomes=acked, leader=-1)
    assert "every replica" in check("acked-write-survives", gone)


def test_acked_write_survives_acks0_waits_while_in_flight():
    sent = ((OK, -1), (UNSENT, -1))
    assert check("acked-write-survives", base()._replace(outcomes=sent, in_flight=(1,))) is None
    assert "acks=0" in check("acked-write-survives", base()._replace(outcomes=sent))


def test_committed_prefix_agreement():
    agree = with_logs(base(), [[(1, 0)], [(1, 0)], [(2, 1)]], hws=[1, 1, 0])
    assert check("committed-prefix-agreement", agree) is None
    diverge = with_logs(base(), [[(1, 0)], [(2, 1)], []], hws=[1, 1, 0])
    assert "disagree at offset 0" in check("committed-prefix-agreement", diverge)


def test_leader_completeness():
    keep = with_logs(base(), [[(1, 0)], [], []], committed_log=(1,))
    assert check("leader-completeness", keep) is None
    missing = with_logs(base(), [[(1, 0)], [], []], committed_log=(1,), leader=1)
    assert "lacks record 1" in check("leader-completeness", missing)


def test_read_durability():
    keep = with_logs(base(), [[(1, 0)], [], []], consumer_read=((0, 1),))
    assert check("read-durability", keep) is None
    lost = with_logs(base(), [[(2, 1)], [], []], consumer_read=((0, 1),))
    assert "no longer has it" in check("read-durability", lost)


def test_hw_bound():
    obs = with_logs(base(), [[(1, 0)], [(1, 0)], [(1, 0)]], hws=[1, 0, 0])
    r0 = obs.replicas[0]
    keep = obs._replace(replicas=(r0._replace(follower_leos=(1, 1, 1)),) + obs.replicas[1:])
    assert check("hw-bound", keep) is None
    bad = obs._replace(replicas=(r0._replace(follower_leos=(1, 0, 1)),) + obs.replicas[1:])
    assert "exceeds ISR member 1" in check("hw-bound", bad)


def test_epoch_sanity():
    assert check("epoch-sanity", base()) is None
    r1 = base().replicas[1]._replace(leader=1)
    two = base()._replace(replicas=(base().replicas[0], r1, base().replicas[2]))
    assert "both lead epoch 0" in check("epoch-sanity", two)
    assert "not in the ISR" in check("epoch-sanity", base()._replace(isr=(1, 2)))
    back = base()._replace(leader_epoch=0)
    assert "went back" in check("epoch-sanity", back, prev=base()._replace(leader_epoch=3))


def test_min_isr_at_ack():
    prev = base()
    ok = base()._replace(outcomes=((OK, 0), (UNSENT, -1)), ack_isr_sizes=(2, -1))
    assert check("min-isr-at-ack", ok, prev) is None
    low = base()._replace(outcomes=((OK, 0), (UNSENT, -1)), ack_isr_sizes=(1, -1))
    assert "min.insync.replicas=2" in check("min-isr-at-ack", low, prev)


def test_no_duplicates():
    assert check("no-duplicates", with_logs(base(), [[(1, 0), (2, 0)], [], []])) is None
    assert "appears twice" in check("no-duplicates", with_logs(base(), [[(1, 0), (1, 0)], [], []]))


def test_producer_order():
    assert check("producer-order", base()._replace(outcomes=((OK, 0), (OK, 1)))) is None
    assert "landed before it" in check("producer-order", base()._replace(outcomes=((OK, 2), (OK, 1))))


def test_failed_write_invisible():
    failed = ((FAILED, -1), (UNSENT, -1))
    assert check("failed-write-invisible", base()._replace(outcomes=failed)) is None
    assert "definitely failed" in check("failed-write-invisible",
                                        with_logs(base(), [[], [(1, 0)], []], outcomes=failed))


def test_sequence_contiguity():
    r = base().replicas[0]
    good = r._replace(log=(Batch(0, (1,), 0, 0), Batch(0, (2,), 0, 1)), log_end_offset=2)
    gap = r._replace(log=(Batch(0, (1,), 0, 0), Batch(0, (2,), 0, 2)), log_end_offset=2)
    assert check("sequence-contiguity", base()._replace(replicas=(good,) + base().replicas[1:])) is None
    assert "expected 1" in check("sequence-contiguity", base()._replace(replicas=(gap,) + base().replicas[1:]))


def test_consumer_monotonic():
    prev = base()._replace(consumer_position=2, committed_offset=2)
    assert check("consumer-monotonic", prev._replace(consumer_position=3, committed_offset=3), prev) is None
    assert "REWIND" in check("consumer-monotonic", prev._replace(committed_offset=1), prev)
    assert "went back" in check("consumer-monotonic", prev._replace(consumer_position=0), prev)


@pytest.mark.parametrize("acks,expected", [("all", True), ("1", False)])
def test_default_selection_by_config(acks, expected):
    ids = [i.id for i in select(None, make_config({"acks": acks}))]
    assert ("min-isr-at-ack" in ids) is expected
    assert "acked-write-survives" in ids  # checkable (and failing) for acks=0/1 too
