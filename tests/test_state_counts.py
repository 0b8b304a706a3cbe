"""Exact figures of the explored space for reference configurations (as Stateright pins
`unique_state_count()`): any change to the model, the abstraction, the symmetry reduction or
the explorer that changes what is explored shows up here. A deliberate change updates the
figures in the same commit and says why."""

from __future__ import annotations

import pytest

import ackcheck

# name: (properties, kafka_version, bounds, verdict, distinct states, transitions, steps of the trace,
#        distinct states and transitions with reduction=False)
# With the exact canonical form of model/symmetry.py (ties between brokers resolved by the
# smallest fingerprint) every class of renamings is one state; tests/test_explore_symmetry.py
# checks that reduced and unreduced searches agree on verdicts and shortest traces.
# Model.abstract's second abstraction (finished batches' bookkeeping, `reduction`) merges
# states on the runs with retries and idempotence: the last two figures are without it
# (tests/test_explore_reduction.py checks that both agree on verdicts and lengths).
REFERENCE = {
    "acks1-leader-loss": ({"acks": "1"}, None, {}, "violated", 84, 119, 6, 84, 119),
    "acksall-minisr2-crash": ({"acks": "all", "min.insync.replicas": "2"}, None, {}, "holds", 7611, 20928, None,
                              8328, 22422),
    "kip101-0.10-two-crashes": ({"acks": "all", "replication.factor": "2"}, "0.10", {"max_crashes": 2},
                                "violated", 235, 337, 7, 235, 337),
    "minisr1-power-loss": ({"acks": "all"}, None, {"max_power_losses": 1}, "violated", 1744, 3840, 8, 1744, 3840),
    # (muted connections and TransactionManager.canRetry's epoch-bump rule: 1225 -> 873 states)
    "idempotence-lost-response": ({}, None, {"max_records": 2, "max_lost_messages": 1, "max_crashes": 0,
                                             "max_isr_shrinks": 0}, "holds", 762, 2268, None, 873, 2553),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_state_counts(name):
    props, version, bounds, verdict, distinct, transitions, steps, plain_distinct, plain_transitions = REFERENCE[name]
    r = ackcheck.check(props, kafka_version=version, **bounds)
    got = (r.verdict, r.stats.distinct_states, r.stats.transitions, len(r.trace.steps) if r.trace else None)
    assert got == (verdict, distinct, transitions, steps)
    r = ackcheck.check(props, kafka_version=version, reduction=False, **bounds)
    got = (r.verdict, r.stats.distinct_states, r.stats.transitions, len(r.trace.steps) if r.trace else None)
    assert got == (verdict, plain_distinct, plain_transitions, steps)
