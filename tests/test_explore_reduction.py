"""Model.abstract's reduction (the bookkeeping of finished batches is dead: see its
docstring for the argument) keeps every verdict and every shortest counterexample length:
on every era scenario (docs/eras.md) and on matrix cells, the search with `reduction` and
the one without agree on the verdict and the trace length, and a complete search with it
never explores more states. The slower scenarios run with ACKCHECK_SLOW=1."""

from __future__ import annotations

import os

import pytest
from searches import era_cases, matrix_cells

import ackcheck
from ackcheck.checker.engines.check import run_check
from ackcheck.model.protocol import Model, _finished
from ackcheck.model.state import B_IN_FLIGHT, B_OK, B_QUEUED, B_RETRY, ProducerBatch

SLOW = bool(os.environ.get("ACKCHECK_SLOW"))
CASES = era_cases(SLOW)


def _agree(config, invariants, symmetry=True):
    reduced = run_check(config, invariants, symmetry=symmetry, reduction=True)
    plain = run_check(config, invariants, symmetry=symmetry, reduction=False)
    assert reduced.verdict == plain.verdict
    assert (len(reduced.trace.steps) if reduced.trace else None) == (len(plain.trace.steps) if plain.trace else None)
    if reduced.verdict == "holds":  # a complete search
        assert reduced.stats.distinct_states <= plain.stats.distinct_states
    return reduced, plain


@pytest.mark.parametrize("sc,on", CASES)
def test_era_scenario_reduction_agrees(sc, on):
    _agree(sc.config(on), [sc.invariant])


def _matrix_cells():
    return matrix_cells(1) if SLOW else matrix_cells(24, 5)


def test_matrix_cells_reduction_agrees():
    n = merged = 0
    for _label, g, config in _matrix_cells():
        reduced, plain = _agree(config, list(g.invariants))
        merged += reduced.stats.distinct_states < plain.stats.distinct_states
        n += 1
    assert n >= 4
    assert merged >= 1  # the cells sampled include retried batches: the reduction is exercised


def test_reduction_agrees_without_symmetry_on_retries_and_idempotence():
    # retries, a lost response and two records: the finished batches' bookkeeping differs
    config = ackcheck.build_config({}, max_records=2, max_lost_messages=1, max_crashes=0, max_isr_shrinks=0)
    reduced, plain = _agree(config, None, symmetry=False)
    assert reduced.stats.distinct_states < plain.stats.distinct_states


def test_finished_forgets_only_the_dead_fields_of_finished_batches():
    live = (ProducerBatch(B_IN_FLIGHT, 2, -1, True, 0, 0, False), ProducerBatch(B_RETRY, 1, -1, True, 0, 1, True),
            ProducerBatch(B_QUEUED, 0, -1, False, -1, -1, False))
    assert _finished(live) is live  # nothing finished: the same object
    done = ProducerBatch(B_OK, 2, 5, True, 1, 0, True)
    out = _finished(live + (done,))
    assert out[:3] == live
    assert out[3] == ProducerBatch(B_OK, 0, 5, True, -1, -1, False)  # status, offset, maybe_appended kept
    assert _finished(out) is out  # already forgotten


def test_abstract_keeps_the_state_and_the_flush_abstraction():
    config = ackcheck.build_config({"acks": "all"}, max_power_losses=1, max_records=1)
    model = Model(config)
    s = model.init()
    done = (ProducerBatch(B_OK, 2, 0, True, 0, 0, False),)
    t = s._replace(batches=done)
    a = model.abstract(t)
    assert t.batches == done  # the state itself keeps everything
    assert a.batches == (ProducerBatch(B_OK, 0, 0, True, -1, -1, False),)
    assert Model(config, reduction=False).abstract(t).batches == done
    # every batch finished: the producer's epoch and sequence counters are dead too
    bumped = t._replace(producer_epoch=1, next_sequence=1, last_acked_sequence=0)
    assert model.abstract(bumped) == a
    assert Model(config, reduction=False).abstract(bumped).producer_epoch == 1
    # an unfinished batch keeps them
    open_ = bumped._replace(batches=(ProducerBatch(B_RETRY, 1, -1, True, 1, 0, False),))
    assert model.abstract(open_)[:] == open_[:]


def _eager_agrees(config, limit: int) -> int:
    """Walk the first `limit` reachable states of the full-bookkeeping lean model; at each
    state s, the eager model's successors of s's forgotten form must be the forgotten
    successors of s: the same actions in the same order, each next state forgotten by the
    eager model itself (an action missing from FORGETTING leaves its next state unforgotten
    and fails here). Returns how many successors had something to forget."""
    from ackcheck.model.protocol import FORGETTING

    plain = Model(config, consumer=False, ghosts=(), reduction=True)
    eager = Model(config, consumer=False, ghosts=(), reduction=True, eager=True)
    assert eager.forget_eagerly and not plain.forget_eagerly and FORGETTING
    forget = plain._abstract_finished
    seen = {plain.init()}
    todo = [plain.init()]
    forgot = 0
    while todo and len(seen) < limit:
        s = todo.pop()
        full = plain.successors(s)
        got = eager.successors(forget(s))
        assert [a for a, _ in got] == [a for a, _ in full]
        for (action, t), (_, e) in zip(full, got):
            assert e == forget(t), action
            assert forget(e) is e  # already forgotten: nothing left for the key to do
            forgot += forget(t) is not t
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return forgot


@pytest.mark.parametrize("props,bounds", [
    ({}, {"max_records": 2, "max_lost_messages": 1, "max_crashes": 1, "max_isr_shrinks": 0}),
    ({"acks": "all", "min.insync.replicas": "2"}, {"max_records": 2, "max_crashes": 2}),
    ({"acks": "1", "enable.idempotence": "false", "max.in.flight.requests.per.connection": "5"},
     {"max_records": 2, "max_lost_messages": 1, "max_crashes": 1}),
    ({"acks": "all"}, {"max_records": 2, "max_power_losses": 1, "max_crashes": 1}),
])
def test_eager_model_forgets_what_the_key_forgot(props, bounds):
    config = ackcheck.build_config(props, **bounds)
    assert _eager_agrees(config, 4000) > 0  # finished batches were forgotten on the way


def test_eager_model_forgets_on_every_era():
    from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS

    forgot = 0
    for sc in ERA_SCENARIOS:
        for on in (True, False):
            forgot += _eager_agrees(sc.config(on), 600)
    assert forgot > 0


def test_the_explorer_searches_the_eager_model_with_the_same_trace():
    from ackcheck.checker.engines.check import model_for
    from ackcheck.invariants.catalogue import select

    config = ackcheck.build_config({"acks": "1"}, max_records=2, max_crashes=1, max_lost_messages=1)
    invs = select(["acked-write-survives"], config)
    assert model_for(config, invs, lean=True).forget_eagerly
    assert not model_for(config, invs).forget_eagerly  # (fuzz, replay, minimize: every field)
    eager = run_check(config, ["acked-write-survives"])
    plain = run_check(config, ["acked-write-survives"], reduction=False)
    assert eager.verdict == plain.verdict == "violated"
    assert eager.trace.steps == plain.trace.steps  # the same actions and observations
