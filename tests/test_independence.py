"""model/independence.py: every pair of actions it calls independent commutes, state for
state. On the reachable states of every era scenario's configuration (the rule on and
off; the full model, with the consumer and every ghost, and the lean one the explorer
uses) and of sampled matrix cells, for every
pair of enabled actions the relation calls independent, each action stays enabled after
the other and both orders end in the same state. A false "independent" would let a
partial-order reduction lose states, so this is the relation's contract. Each
configuration's states are taken breadth-first up to a cap (all of them with
ACKCHECK_SLOW=1; 20,000 per matrix cell)."""

from __future__ import annotations

import os

import pytest
from searches import matrix_cells, reachable_states

import ackcheck
from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS
from ackcheck.model.independence import independent
from ackcheck.model.protocol import Model

SLOW = bool(os.environ.get("ACKCHECK_SLOW"))
CAP = None if SLOW else 1500  # states per configuration and model


def _models(config):
    """The full model (consumer, every ghost) and the lean one the explorer uses when no
    invariant reads a ghost (committed_log not kept: more pairs are independent)."""
    return Model(config), Model(config, consumer=False, ghosts=set())


def _diamonds(model: Model, cap: int | None, kinds: set | None = None) -> int:
    """Checks every independent pair on the states; returns how many pairs were checked
    (and adds each pair's action names, sorted, to `kinds`)."""
    checked = 0
    for s in reachable_states(model, cap):
        succ = dict(model.successors(s))
        acts = list(succ)
        for i, a in enumerate(acts):
            for b in acts[i + 1:]:
                if not independent(model, s, a, b):
                    continue
                assert independent(model, s, b, a), f"not symmetric: {a} {b}"
                after_a = dict(model.successors(succ[a]))
                after_b = dict(model.successors(succ[b]))
                assert b in after_a, f"{a} disables {b} in\n{s}"
                assert a in after_b, f"{b} disables {a} in\n{s}"
                assert after_a[b] == after_b[a], f"{a} and {b} do not commute in\n{s}"
                checked += 1
                if kinds is not None:
                    kinds.add(tuple(sorted((a[0], b[0]))))
    return checked


@pytest.mark.parametrize("scenario", ERA_SCENARIOS, ids=lambda sc: sc.rule)
def test_independent_pairs_commute_in_the_era_scenarios(scenario):
    checked = 0
    for rule_on in (True, False):
        for model in _models(scenario.config(rule_on)):
            checked += _diamonds(model, CAP)
    if scenario.rule in ("epoch_truncation", "fenced_leader_epoch", "eligible_leader_replicas"):
        # controller decisions reach several brokers there: the relation must find pairs
        assert checked > 0


def test_independent_pairs_commute_in_matrix_cells():
    checked = 0
    for _label, _g, config in matrix_cells(step=1 if SLOW else 37):
        for model in _models(config):
            checked += _diamonds(model, CAP if not SLOW else 20000)
    assert checked > 0


# every kind of pair the relation calls independent somewhere (model/independence.py)
ARGUED_PAIRS = {
    ("broker_learn", "broker_learn"), ("broker_learn", "follower_fetch"), ("broker_learn", "restart"),
    ("broker_learn", "controller_alter_partition"), ("broker_handle_produce", "broker_learn"),
    ("broker_learn", "leader_shrink_isr"), ("broker_learn", "producer_send"), ("broker_learn", "producer_receive"),
    ("follower_fetch", "restart"), ("broker_handle_produce", "follower_fetch"), ("follower_fetch", "leader_shrink_isr"),
    ("controller_alter_partition", "follower_fetch"), ("follower_fetch", "producer_send"),
    ("follower_fetch", "producer_receive"), ("controller_alter_partition", "restart"),
    ("broker_handle_produce", "controller_alter_partition"), ("controller_alter_partition", "leader_shrink_isr"),
    ("controller_alter_partition", "producer_send"), ("controller_alter_partition", "producer_receive"),
    ("broker_handle_produce", "restart"), ("leader_shrink_isr", "restart"), ("producer_send", "restart"),
    ("producer_receive", "restart"), ("broker_handle_produce", "broker_handle_produce"),
    ("broker_handle_produce", "leader_shrink_isr"), ("broker_handle_produce", "producer_send"),
    ("broker_handle_produce", "producer_receive"), ("leader_shrink_isr", "producer_send"),
    ("leader_shrink_isr", "producer_receive"),
}


def test_every_argued_pair_is_checked():
    """The diamonds above exercise every rule of the relation: each kind of pair it may
    call independent is called so, and checked, on some reachable state of the era
    scenarios (a rule that never applies would be checked by nothing)."""
    kinds: set = set()
    for scenario in ERA_SCENARIOS:
        for rule_on in (True, False):
            for model in _models(scenario.config(rule_on)):
                _diamonds(model, CAP, kinds)
    assert ARGUED_PAIRS - kinds == set()
    assert kinds <= ARGUED_PAIRS, f"pairs called independent that no rule argues: {kinds - ARGUED_PAIRS}"


def test_learning_and_the_committed_log():
    """Two learns that may each advance a leader's HW are called dependent when the model
    keeps committed_log (both may append to it), independent when it does not."""
    config = ackcheck.build_config({"acks": "1", "replication.factor": "2"}, max_records=1, max_crashes=0,
                                   max_elections=2, max_isr_shrinks=0, max_attempts=1)
    full = Model(config)
    lean = Model(config, consumer=False, ghosts=set())
    # a state with messages for both brokers, each naming itself leader (two elections in a row)
    for s in reachable_states(full, None):
        msgs = s.controller_messages
        selfish = [m for m in msgs if m.leader == m.broker]
        if len({m.broker for m in selfish}) == 2:
            a = ("broker_learn", selfish[0].broker, selfish[0].leader_epoch)
            b = next(("broker_learn", m.broker, m.leader_epoch) for m in selfish if m.broker != a[1])
            assert not independent(full, s, a, b)
            assert independent(lean, s, a, b)
            return
    pytest.fail("no state with two self-naming LeaderAndIsr messages for different brokers")


def test_a_learn_that_answers_the_producer_commutes_with_its_receives():
    """A leader that learns it no longer leads fails its parked requests: it appends
    responses to its connection. A receive pops the oldest response of a connection - of
    the same broker's too - so the two commute: checked here on states where the learning
    broker's own connection has a response waiting, the case that needs the argument."""
    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": "2"}, max_records=2, max_crashes=0,
                                   max_elections=1, max_isr_shrinks=1, max_attempts=1)
    model = Model(config)
    found = 0
    for s in reachable_states(model, 20000):
        succ = dict(model.successors(s))
        for a in succ:
            if a[0] != "broker_learn" or not any(p.broker == a[1] for p in s.purgatory):
                continue
            for b in succ:
                if b[0] != "producer_receive":
                    continue
                same_connection = any(r.broker == a[1] and (r.batch, r.attempt) == b[1:] for r in s.responses)
                assert independent(model, s, a, b)
                assert dict(model.successors(succ[a]))[b] == dict(model.successors(succ[b]))[a]
                found += same_connection
    assert found > 0, "no state with a learn by a broker holding purgatory beside a receive on its connection"
