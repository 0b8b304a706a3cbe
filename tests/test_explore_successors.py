"""The successors() a model specialises to its configuration (straight-line code with
quick conditions and inline guards, Model._specialised_successors) lists exactly what the
plain loop over ACTION_TABLE lists, in the same order, on every state of a breadth-first
prefix of configurations across the eras and bounds."""

from __future__ import annotations

import pytest
from conftest import make_config

from ackcheck.model.protocol import Model

CONFIGS = [
    ({"acks": "all", "min.insync.replicas": "2"}, None, {"max_records": 2, "max_crashes": 2}),
    ({"acks": "1"}, "0.10", {"max_crashes": 1, "max_power_losses": 1, "max_elections": 1}),
    ({"acks": "all"}, "2.0", {"max_power_losses": 2, "max_other_writes": 1, "max_lost_messages": 1}),
    ({"acks": "all", "log.flush.interval.messages": "1"}, "3.6",
     {"max_crashes": 1, "max_power_losses": 1, "max_delayed_fetches": 1, "max_isr_shrinks": 1}),
    ({"acks": "all", "replication.factor": "4"}, None, {"max_crashes": 1, "max_elections": 1}),
]


@pytest.mark.parametrize("props,version,bounds", CONFIGS)
def test_specialised_successors_equal_the_plain_loop(props, version, bounds):
    model = Model(make_config(props, version, **bounds))
    assert "reps[" in model.successors_source or not model.bounds.max_crashes
    seen = {model.init()}
    frontier = [model.init()]
    checked = 0
    while frontier and checked < 4000:
        nxt = []
        for s in frontier:
            fast = model.successors(s)
            plain = Model.successors(model, s)
            assert fast == plain
            checked += 1
            for _, t in fast:
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    assert checked >= 1000 or not frontier
