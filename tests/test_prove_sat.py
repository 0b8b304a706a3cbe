"""BMC on CaDiCaL (checker/engines/prove/sat.py) and the Houdini lemmas: the two backends
agree, the lemmas hold in every state the explorer reaches, and they change no verdict
and no shortest length - only the time."""

from __future__ import annotations

import os

import pytest

from ackcheck.checker.engines.prove.bmc import prove, relation_for
from ackcheck.checker.engines.prove.encoding import Encoding
from ackcheck.checker.engines.prove.incremental import _candidates
from ackcheck.checker.engines.prove.layout import ENCODED_INVARIANTS
from ackcheck.checker.engines.prove.ops import LE, set_int_bits
from ackcheck.checker.engines.prove.sat import houdini
from ackcheck.model.protocol import Model
from ackcheck.traces.settings import build_config, parse_set

SLOW = os.environ.get("ACKCHECK_SLOW") == "1"
INVS = list(ENCODED_INVARIANTS)


def _config(settings, bounds, rules=(), version=None):
    return build_config(parse_set(settings), bounds=bounds, rule_overrides=list(rules), kafka_version=version)


# violations within a few steps, and safe configurations (BMC to a fixed depth)
CASES = [
    (["acks=1"], {}, 6),
    (["acks=0"], dict(max_records=2), 4),
    (["acks=1", "min.insync.replicas=2"], dict(max_crashes=0, max_elections=1), 5),
    (["acks=all", "min.insync.replicas=2"], {}, 5, ["maximal_isr=off"]),
    (["acks=all", "min.insync.replicas=2"], dict(max_crashes=0, max_power_losses=1, max_isr_shrinks=2,
                                                 max_attempts=1), 6),
    (["acks=all", "min.insync.replicas=2"], {}, 4),  # safe
]


def _ids(c):
    return " ".join(c[0] + [f"{k}={v}" for k, v in c[1].items()] + list(c[3:4] and c[3]))


def _answers(info):
    return [a for _, _, a in info.per_depth]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_cadical_and_z3_agree(case):
    settings, bounds, depth, *rules = case
    config = _config(settings, bounds, *rules)
    sat, sat_info = prove(config, INVS, depth=depth, solver="cadical", lemmas=False)
    z3r, z3_info = prove(config, INVS, depth=depth, solver="z3")
    assert sat.verdict == z3r.verdict
    assert _answers(sat_info) == _answers(z3_info)  # per depth: unsat ... unsat [sat]
    if z3r.trace is not None:
        assert len(sat.trace.steps) == len(z3r.trace.steps)
        assert sat.violation[0] == z3r.violation[0]


# the replication invariants (no consumer: a smaller state, so Houdini takes seconds in CI);
# ACKCHECK_SLOW=1 also runs every case with every invariant
LEMMA_INVS = ["acked-write-survives", "committed-prefix-agreement", "hw-bound", "leader-completeness"]


@pytest.mark.parametrize("case,invs", [(c, LEMMA_INVS) for c in CASES] + ([(c, INVS) for c in CASES] if SLOW else []),
                         ids=lambda x: _ids(x) if isinstance(x[0], list) and isinstance(x[1], dict) else
                         ("all" if len(x) == len(INVS) else "replication"))
def test_lemmas_change_no_verdict_and_no_length(case, invs):
    settings, bounds, depth, *rules = case
    config = _config(settings, bounds, *rules)
    plain, plain_info = prove(config, invs, depth=depth, lemmas=False)
    strong, strong_info = prove(config, invs, depth=depth, lemmas_after=0.0)  # lemmas from depth 0 on
    assert strong_info.lemmas  # (they were looked for, and some were found)
    assert plain_info.lemmas is None
    assert plain.verdict == strong.verdict
    assert _answers(plain_info) == _answers(strong_info)
    if plain.trace is not None:
        assert len(plain.trace.steps) == len(strong.trace.steps)


def _walk_states(enc, init, steps: int, seed: int):
    """States of the encoded relation itself, run concretely (ops.py evaluates on ints):
    seeded random walks from the initial state, restarting every 30 steps. (The Model's
    states are not enough: the vector also keeps history the Model forgets, such as each
    epoch's decision after it was delivered, and Houdini's lemmas may speak of it.)"""
    import random

    rng = random.Random(seed)
    out = []
    s = init
    for n in range(steps):
        if n % 30 == 0:
            s = init
        enabled = [t for en, t in enc.step_all(s) if en is True]
        if not enabled:
            s = init
            continue
        s = rng.choice(enabled)
        out.append(s)
    return out


REACH = [
    (["acks=1", "replication.factor=2"], dict(max_crashes=1, max_isr_shrinks=1)),
    (["acks=all", "min.insync.replicas=2"], dict(max_crashes=0, max_power_losses=1, max_isr_shrinks=2,
                                                 max_attempts=1)),
    (["acks=1"], dict(max_crashes=0, max_elections=2, max_isr_shrinks=0)),  # rebalances
]


@pytest.mark.parametrize("settings,bounds", REACH, ids=[_ids((s, b)) for s, b in REACH])
def test_houdini_lemmas_hold_in_every_reachable_state(settings, bounds):
    # Houdini's answer (from the CNF and CaDiCaL), judged independently: every lemma it
    # keeps is evaluated on the states of random walks of the relation run concretely
    config = _config(settings, bounds)
    enc = Encoding(config, committed_log=True, consumer=False)
    set_int_bits(enc.bits)
    rel = relation_for(enc)
    init = enc.from_state(Model(config, consumer=False).init())
    candidates = _candidates(["hw-bound", "committed-prefix-agreement", "leader-completeness"])
    # a false candidate: the HW never moves (it does, once a record is committed)
    candidates["false hw-stays-0"] = lambda enc, s: LE(s.hw[0], 0)
    kept = houdini(enc, rel, init, candidates)
    assert len(kept) >= 5 and "false hw-stays-0" not in kept
    states = _walk_states(enc, init, 1500 if SLOW else 400, seed=len(settings) + len(bounds))
    for s in states:
        for name in kept:
            assert candidates[name](enc, s) is True, f"{name} is false in a reachable state: {s.f}"
    # the walks do reach states the false candidate gets wrong (the check can tell)
    assert any(candidates["false hw-stays-0"](enc, s) is not True for s in states)


def test_lemmas_prove_what_needed_hand_strengthening():
    # a failover at RF 2: docs/prove.md needed 17 hand-picked lemmas for this; Houdini
    # finds an inductive set in the catalogue and the invariants are among it
    config = _config(["acks=1", "replication.factor=2"], dict(max_crashes=1, max_isr_shrinks=1))
    ids = ["hw-bound", "committed-prefix-agreement"]
    result, info = prove(config, ids, depth=1, induction=True)
    assert result.verdict == "proved" and info.induction == "proved" and info.lemmas
    bare, bare_info = prove(config, ids, depth=1, induction=True, lemmas=False)
    assert bare.verdict == "no-violation-up-to-depth" and bare_info.induction == "cti"


@pytest.mark.skipif(not SLOW, reason="ACKCHECK_SLOW=1: a 10-step counterexample, twice (about 40 s)")
def test_lemmas_keep_a_deeper_counterexample():
    from ackcheck.checker.audit.eras_doc import BY_RULE

    sc = BY_RULE["kraft_controller"]
    config = sc.config(False)
    strong, info = prove(config, [sc.invariant], depth=10, lemmas_after=0.0)
    plain, _ = prove(config, [sc.invariant], depth=10, lemmas=False)
    assert strong.verdict == plain.verdict == "violated"
    assert len(strong.trace.steps) == len(plain.trace.steps) == 11 and info.lemmas


def test_houdini_stops_at_its_budget_and_resumes_to_the_same_answer():
    from ackcheck.checker.engines.prove.sat import Houdini

    config = _config(["acks=1", "replication.factor=2"], dict(max_crashes=1, max_isr_shrinks=1))
    enc = Encoding(config, committed_log=False, consumer=False)
    set_int_bits(enc.bits)
    rel = relation_for(enc)
    init = enc.from_state(Model(config, consumer=False).init())
    candidates = _candidates(["hw-bound", "committed-prefix-agreement"])
    whole = houdini(enc, rel, init, candidates)
    search = Houdini(enc, rel, init, candidates)
    pieces = 0
    while (found := search.run(0.0)) is None:  # one piece of work per call
        pieces += 1
    assert pieces > len(candidates) // 2  # it did stop, many times
    assert found == whole and search.seconds > 0
