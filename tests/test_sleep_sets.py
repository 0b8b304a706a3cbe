"""Sleep sets (checker/engines/explore.py, "Sleep sets"; docs/reach.md) skip transitions and
nothing else: on every era scenario, on matrix cells and on R2's flags, the search with
sleep sets and the one without have the same verdict, distinct states, transitions, depth,
trace and vacuity warnings - with 1 worker, 2 workers and a level expanded from disk - and
the skipping is exercised (transitions are found asleep). A relation that calls a dependent
pair independent makes them differ. The slower scenarios run with ACKCHECK_SLOW=1."""

from __future__ import annotations

import os
import random

import pytest
from searches import era_cases, matrix_cells, outcome, reachable_states

import ackcheck
from ackcheck.checker.engines import explore
from ackcheck.checker.engines.check import model_for, run_check
from ackcheck.invariants.catalogue import select
from ackcheck.model.protocol import MAY_SLEEP

SLOW = bool(os.environ.get("ACKCHECK_SLOW"))
CASES = era_cases(SLOW)

R2_FLAGS = dict(max_records=2, max_crashes=1, max_elections=1, max_isr_shrinks=1, max_attempts=1)


def _both(config, invariants, **kw):
    asleep = run_check(config, invariants, sleep_sets=True, **kw)
    plain = run_check(config, invariants, sleep_sets=False, **kw)
    assert plain.stats.transitions_asleep == 0
    assert outcome(asleep) == outcome(plain)
    assert asleep.warnings == plain.warnings
    return asleep


@pytest.mark.parametrize("sc,on", CASES)
def test_era_scenario_sleep_sets_agree(sc, on):
    _both(sc.config(on), [sc.invariant])


def test_matrix_cells_sleep_sets_agree():
    cells = list(matrix_cells(1) if SLOW else matrix_cells(24, 5))
    skipped = 0
    for _label, g, config in cells:
        skipped += _both(config, list(g.invariants)).stats.transitions_asleep > 0
    assert len(cells) >= 4
    assert skipped >= 1  # some cell's search took the sleep-set path


@pytest.mark.parametrize("workers", [1, 2])
def test_r2_sleep_sets_agree_and_skip(workers):
    # KAFKA-7128's flags with the fix (4.1): controller decisions reaching brokers one by one
    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": 2}, **{**R2_FLAGS, "max_isr_shrinks": 0})
    r = _both(config, ["acked-write-survives"], workers=workers)
    assert r.verdict == "holds"
    assert r.stats.transitions_asleep > r.stats.transitions // 10


def test_sleep_sets_agree_on_a_level_expanded_from_disk():
    # a 1-byte budget spills every level: its sleep sets go to disk beside its states, in
    # the same order, and are read back with them
    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": 2}, max_records=2, max_crashes=1)
    spilled = run_check(config, ["acked-write-survives"], sleep_sets=True, memory_limit=1, workers=1)
    in_memory = run_check(config, ["acked-write-survives"], sleep_sets=True, workers=1)
    plain = run_check(config, ["acked-write-survives"], sleep_sets=False)
    assert outcome(spilled) == outcome(plain)
    assert spilled.stats.transitions_asleep == in_memory.stats.transitions_asleep > 0


def test_a_counterexample_is_the_same_shortest_trace():
    config = ackcheck.build_config({"acks": "1"}, max_records=2, max_crashes=1, max_elections=1)
    r = _both(config, ["acked-write-survives"])
    assert r.verdict == "violated" and r.trace is not None


def test_a_wrong_relation_is_caught(monkeypatch):
    # every pair "independent": sleep sets then prune paths to states that no other path of
    # the same length reaches, and the searches no longer agree
    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": 2}, max_records=2, max_crashes=1)
    plain = run_check(config, ["acked-write-survives"], sleep_sets=False)
    monkeypatch.setattr(explore, "commute", lambda fa, fb: True)
    wrong = run_check(config, ["acked-write-survives"], sleep_sets=True)
    assert outcome(wrong) != outcome(plain)


def test_step_invariants_take_every_transition():
    # a step invariant judges each transition: no transition may be skipped
    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": 2}, max_records=2, max_crashes=1)
    r = run_check(config, None, sleep_sets=True)
    assert r.stats.transitions_asleep == 0
    assert any(inv.step for inv in select(None, config))


def test_successors_asleep_lists_the_same_actions():
    # same actions at the same indices; an asleep action that may sleep has no next state,
    # every other one the same next state as successors()
    rng = random.Random(7)
    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": 2}, **R2_FLAGS)
    model = model_for(config, select(["acked-write-survives"], config), lean=True)
    asleep_seen = 0
    for s in reachable_states(model, 4000):
        full = model.successors(s)
        sleep = tuple(a for a, _ in full if rng.random() < 0.5)
        got = model.successors_asleep(s, sleep)
        assert [a for a, _ in got] == [a for a, _ in full]
        for (a, nxt), (_, mine) in zip(full, got):
            if a in sleep and a[0] in MAY_SLEEP:
                assert mine is None
                asleep_seen += 1
            else:
                assert mine == nxt
    assert asleep_seen > 1000
