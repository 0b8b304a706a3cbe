"""The fingerprint accelerator (checker/engines/_fingerprint.c): hash(state) with the hashes
of shared subtrees remembered by identity. Its values must be hash()'s own - the seen
sets, checkpoints, partition owners and tie-breaks of the canonical form all rest on
them - and the explorer must find exactly what it finds without it."""

from __future__ import annotations

import sys
from itertools import permutations
from typing import NamedTuple

import pytest
from conftest import make_config
from hypothesis import given, settings
from hypothesis import strategies as st
from searches import outcome, reachable_states

import ackcheck.checker.engines.explore as explore_mod
from ackcheck import _compiled
from ackcheck.checker.engines.check import model_for, run_check
from ackcheck.invariants.catalogue import select
from ackcheck.model.symmetry import candidates, permute

try:
    from ackcheck.checker.engines import _fingerprint
except ImportError:  # (not built: the explorer uses hash(); nothing here to test)
    _fingerprint = None

needs_build = pytest.mark.skipif(_fingerprint is None, reason="the accelerator is not built")

CONFIGS = [
    ({"acks": "all", "min.insync.replicas": "2"}, None, {"max_records": 2, "max_crashes": 2, "max_elections": 2}),
    ({"acks": "1"}, "2.0", {"max_records": 2, "max_crashes": 1, "max_lost_messages": 1}),
    ({"acks": "all", "enable.idempotence": "true"}, None, {"max_records": 2, "max_power_losses": 1}),
]


def test_built_wherever_the_model_is_compiled():
    """An install that compiles the model builds the accelerator too (a broken build of it
    would otherwise go unnoticed: the explorer falls back to hash())."""
    if not _compiled.in_use():
        pytest.skip("the model runs as Python here")
    assert _fingerprint is not None, _compiled.STATUS.get("ackcheck.checker.engines._fingerprint")
    assert explore_mod._remembered_hash is _fingerprint.fingerprint


@needs_build
@pytest.mark.parametrize("props,version,bounds", CONFIGS)
def test_equals_hash_on_reachable_states_their_successors_and_renamings(props, version, bounds):
    """As the explorer calls it: a state first (its subtrees remembered), then its
    successors and their renamings, which share those subtrees."""
    config = make_config(props, version, **bounds)
    model = model_for(config, select(None, config), lean=True)
    fp = _fingerprint.fingerprint
    checked = 0
    for s in reachable_states(model, cap=1500):
        assert _fingerprint.remember(s) == hash(s) == fp(s)
        for _, t in model.successors(s):
            assert fp(t) == hash(t)
            for pos in candidates(t) or ():
                u = permute(t, pos)
                assert fp(u) == hash(u)
            checked += 1
    assert checked > 3000
    _fingerprint.clear()


def _era_models():
    from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS
    from ackcheck.model.protocol import Model

    for sc in ERA_SCENARIOS:
        for on in (True, False):
            yield f"{sc.rule}-{'on' if on else 'off'}", Model(sc.config(on))


def _key_as_python(t):
    """What _fingerprint.key(t) must answer: symmetry.canonical_state's fingerprint, with the
    renaming when it is not the identity."""
    from ackcheck.model.symmetry import canonical_state

    fp, pos, _ = canonical_state(t, hash)
    return fp if pos is None else (fp, pos)


@needs_build
def test_renamed_fingerprints_equal_hash_of_the_renamed_state():
    """key(state) is symmetry.candidates then symmetry.canonical_state, in one call; and
    canonical(state, candidates) is hash(permute(state, pos)) for every candidate, without
    building the renamed state. On reachable states of every era scenario, both ways
    (their successors, as the explorer asks, and every renaming of each, so brokers come
    in every order, ties among them): the same candidates, the same fingerprints, and the
    same choice - the first smallest fingerprint in candidate order, None for the
    identity."""
    from ackcheck.model.symmetry import canonical_state

    checked = ties = messages = keys = 0
    for name, model in _era_models():
        for s in reachable_states(model, cap=120):
            _fingerprint.remember(s)
            for _, raw in model.successors(s):
                for order in permutations(range(len(raw.replicas))):
                    t = permute(raw, order)
                    assert _fingerprint.key(t) == _key_as_python(t), (name, t)
                    keys += 1
                    cands = candidates(t)
                    if cands is None:
                        continue
                    got = _fingerprint.canonical(t, cands)
                    assert got is not None, name
                    for pos in cands:  # every candidate, not only the winner
                        alone = _fingerprint.canonical(t, [pos])
                        want = hash(t) if list(pos) == sorted(pos) else hash(permute(t, pos))
                        assert alone[0] == want, (name, t, pos)
                    fp, pos, _ = canonical_state(t, hash, cands)
                    assert got == (fp, pos), (name, t, cands)
                    checked += 1
                    ties += len(cands) > 1
                    messages += bool(t.controller_messages and t.requests)
            _fingerprint.clear()
    assert checked > 20000 and ties > 2000 and messages > 1000 and keys > checked


@needs_build
def test_canonical_keys_of_states_off_the_beaten_track():
    """Reachable states with their brokers' signature fields redrawn at random (alive, leader
    epoch, LEO, HW, the leader each believes in, ISR, ELR, fetcher and unclean-shutdown
    flags, the last known leader), so that every pair of signature fields disagrees in
    every direction somewhere: the key still equals symmetry's."""
    import random

    rng = random.Random(11)
    config = make_config(*CONFIGS[0][:2], **CONFIGS[0][2])
    model = model_for(config, select(None, config), lean=True)
    states = reachable_states(model, cap=600)
    checked = ties = 0
    for _ in range(6000):
        s = rng.choice(states)
        reps = tuple(r._replace(alive=rng.random() < 0.7, leader_epoch=rng.randint(0, 2),
                                log_end_offset=rng.randint(0, 2), high_watermark=rng.randint(0, 2),
                                leader=rng.randint(-1, 2)) for r in s.replicas)
        if rng.random() < 0.5:  # (two brokers alike: ties, broken by flags or not at all)
            a, b = rng.sample(range(3), 2)
            reps = tuple(reps[a] if k == b else r for k, r in enumerate(reps))
        some = lambda: tuple(sorted(rng.sample(range(3), rng.randint(0, 3))))  # noqa: E731
        t = s._replace(replicas=reps, isr=some(), elr=some(),
                       fetcher_truncating=tuple(rng.random() < 0.3 for _ in range(3)),
                       unclean_shutdown=tuple(rng.random() < 0.3 for _ in range(3)),
                       last_known_leader=rng.randint(-1, 2), leader=rng.randint(-1, 2))
        assert _fingerprint.key(t) == _key_as_python(t), t
        checked += 1
        cands = candidates(t)
        ties += cands is not None and len(cands) > 1
    assert ties > 30, ties


@needs_build
@pytest.mark.parametrize("props,bounds", [
    ({"acks": "all", "min.insync.replicas": "3", "replication.factor": "5"},
     {"max_records": 2, "max_crashes": 2, "max_elections": 1}),
    ({"acks": "1", "replication.factor": "1"}, {"max_records": 2, "max_crashes": 1}),
    ({"acks": "all", "replication.factor": "2"}, {"max_records": 2, "max_crashes": 2, "max_elections": 1}),
])
def test_canonical_keys_at_other_cluster_sizes(props, bounds):
    """The same at 5, 1 and 2 brokers (5: tie groups of up to 4 brokers, 24 orders each),
    on six renamings of each successor."""
    import random

    rng = random.Random(7)
    config = make_config(props, None, **bounds)
    model = model_for(config, select(None, config), lean=True)
    checked = 0
    for s in reachable_states(model, cap=300):
        _fingerprint.remember(s)
        for _, raw in model.successors(s):
            orders = list(permutations(range(len(raw.replicas))))
            for order in rng.sample(orders, min(6, len(orders))):
                t = permute(raw, order)
                assert _fingerprint.key(t) == _key_as_python(t), t
                checked += 1
        _fingerprint.clear()
    assert checked > 400


@needs_build
def test_renamed_fingerprints_refuse_what_is_not_of_the_layout():
    """A state outside the layout's shape (a broker id beyond the brokers, a field of
    another length, an int beyond 30 bits) is answered None - the explorer then takes
    symmetry.canonical_state - never a wrong fingerprint."""
    config = make_config(*CONFIGS[0][:2], **CONFIGS[0][2])
    model = model_for(config, select(None, config), lean=True)
    s = next(t for t in reachable_states(model, cap=400) if t.controller_messages)
    pos = [(1, 0, 2)]
    assert _fingerprint.canonical(s, pos)[0] == hash(permute(s, pos[0]))
    assert _fingerprint.canonical(s._replace(leader=7), pos) is None
    assert _fingerprint.canonical(s._replace(leader=2 ** 40), pos) is None
    assert _fingerprint.canonical(tuple(s)[:-1], pos) is None
    msg = s.controller_messages[0]
    assert _fingerprint.canonical(s._replace(controller_messages=(msg[:3],)), pos) is None
    assert _fingerprint.canonical(s, [(0, 1)]) is None  # (a renaming of the wrong size)
    assert _fingerprint.canonical(s, [(0, 1, 3)]) is None
    assert _fingerprint.key(s) == _key_as_python(s)
    assert _fingerprint.key(s._replace(leader=2 ** 40)) is None
    assert _fingerprint.key(tuple(s)[:-1]) is None
    assert _fingerprint.key(s._replace(fetcher_truncating=(False,))) is None
    assert _fingerprint.key(5) is None


@needs_build
def test_renamed_fingerprints_sort_message_fields_as_permute_does():
    """Message fields in orders the model may not reach: requests and responses are sorted
    stably by broker alone after a renaming (so two on one connection keep their order),
    the others as whole messages."""
    from ackcheck.model.state import IsrChange, LeaderAndIsr, ParkedProduce, ProduceRequest, ProduceResponse

    config = make_config(*CONFIGS[0][:2], **CONFIGS[0][2])
    model = model_for(config, select(None, config), lean=True)
    s = model.init()._replace(
        requests=(ProduceRequest(1, 2, 2, -1, -1), ProduceRequest(0, 1, 2, -1, -1), ProduceRequest(0, 1, 0, -1, -1)),
        responses=(ProduceResponse(1, 1, 0, 3, 2, 1), ProduceResponse(0, 1, 0, -1, -1, 1),
                   ProduceResponse(0, 2, 2, -1, -1, 0)),
        purgatory=(ParkedProduce(2, 1, 1, 2), ParkedProduce(2, 0, 1, 1), ParkedProduce(0, 1, 1, 2),
                   ParkedProduce(1, 0, 1, 1)),
        controller_messages=(LeaderAndIsr(2, 3, -1, ()), LeaderAndIsr(0, 2, 1, (1, 2)),
                             LeaderAndIsr(0, 2, 1, (0,)), LeaderAndIsr(1, 3, 2, (0, 1, 2))),
        isr_changes=(IsrChange(2, 1, (0, 2), (2,), (0, 2), False), IsrChange(0, 2, (0, 1), (0, 1, 2), (0, 1), True),
                     IsrChange(0, 1, (1,), (0, 1), (0, 1), False)))
    for pos in permutations(range(3)):
        if pos != (0, 1, 2):
            assert _fingerprint.canonical(s, [pos])[0] == hash(permute(s, pos)), pos


class Pair(NamedTuple):
    left: object
    right: object


class OwnHash(tuple):
    """A tuple subclass with its own hash (which could change): neither it nor a tuple holding
    it is remembered, it is asked every time."""

    calls = 0

    def __hash__(self):
        OwnHash.calls += 1
        return 12345


leaves = st.one_of(st.integers(min_value=-2 ** 70, max_value=2 ** 70), st.booleans(), st.none(),
                   st.text(max_size=3), st.sampled_from([-1, -2, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), 2 ** 63 - 1]))
trees = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=5).map(tuple),
    st.tuples(inner, inner).map(lambda p: Pair(*p))), max_leaves=30)


@needs_build
@settings(max_examples=400, deadline=None)
@given(trees)
def test_equals_hash_on_any_tree(tree):
    """Ints of every size (the inline one-digit path and the rest), bools, None, strings,
    plain and named tuples; asked twice, the second time from the remembered subtrees."""
    assert _fingerprint.fingerprint(tree) == hash(tree)
    assert _fingerprint.remember((tree, tree)) == hash((tree, tree))
    assert _fingerprint.fingerprint(tree) == hash(tree)
    assert _fingerprint.fingerprint((tree, 1)) == hash((tree, 1))


@needs_build
def test_a_subclass_with_its_own_hash_is_asked_every_time():
    t = (1, OwnHash((2, 3)))
    OwnHash.calls = 0
    assert _fingerprint.remember(((t,), 4)) == hash(((t,), 4))
    assert _fingerprint.fingerprint(((t,), 4)) == hash(((t,), 4))
    assert OwnHash.calls == 4  # (twice by hash(), twice by fingerprint: nothing holding it is remembered)


@needs_build
def test_unhashable_raises_as_hash_does():
    with pytest.raises(TypeError):
        _fingerprint.fingerprint((1, (2, [3])))
    with pytest.raises(TypeError):
        _fingerprint.remember((1, (2, [3])))
    with pytest.raises(TypeError):
        hash((1, (2, [3])))


@needs_build
def test_remembered_tuples_are_held_and_let_go():
    """An entry holds its tuple (so no other object can take its address while the hash is
    remembered); fingerprint() only reads the table; clear() drops every entry."""
    _fingerprint.clear()
    inner = tuple(range(1000, 1010))
    before = sys.getrefcount(inner)
    _fingerprint.fingerprint((0, (inner, 1)))
    assert _fingerprint.held() == 0 and sys.getrefcount(inner) == before
    _fingerprint.remember((0, (inner, 1)))
    # (held twice: by its own entry and by the entry of (inner, 1), which holds it)
    assert _fingerprint.held() == 2 and sys.getrefcount(inner) == before + 2
    _fingerprint.clear()
    assert _fingerprint.held() == 0 and sys.getrefcount(inner) == before


@needs_build
@pytest.mark.parametrize("props,version,bounds,invs", [
    ({"acks": "all", "min.insync.replicas": "2"}, None,
     {"max_records": 2, "max_crashes": 1, "max_elections": 1, "max_isr_shrinks": 0, "max_attempts": 1},
     ["acked-write-survives"]),
    ({"acks": "1"}, None, {}, None),  # a violation: the same trace
    ({"acks": "all", "min.insync.replicas": "2"}, None, {"max_records": 1, "max_crashes": 1, "max_elections": 1},
     ["acked-write-survives"]),  # (a leader move: renamings and ties in most levels)
])
def test_the_search_is_the_same_without_it(monkeypatch, props, version, bounds, invs):
    """The same counts, verdict and trace with the accelerator, without its renamed
    fingerprints (canonical forms built as symmetry.canonical_state builds them), and
    without it at all."""
    config = make_config(props, version, **bounds)
    fast = run_check(config, invs, workers=1)
    assert _fingerprint.held() == 0  # (let go at the end of every level)
    monkeypatch.setattr(explore_mod, "_canonical_key", None)
    built = run_check(config, invs, workers=1)
    monkeypatch.setattr(explore_mod, "_remembered_hash", None)
    plain = run_check(config, invs, workers=1)
    assert outcome(fast) == outcome(built) == outcome(plain)


def test_a_stale_build_is_not_loaded(tmp_path, monkeypatch):
    """Like the Cython modules: a build of other C source is refused (the explorer then
    uses hash())."""
    import importlib.machinery

    monkeypatch.delenv(_compiled.PURE_ENV, raising=False)
    (tmp_path / "_acc.c").write_text("/* one */\n")
    (tmp_path / f"_acc{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    (tmp_path / f"_acc{_compiled.SIDECAR}").write_text(_compiled.source_digest(tmp_path / "_acc.c") + "\n")
    ext, why = _compiled.choose(tmp_path, "_acc", ".c")
    assert ext is not None and why == "compiled"
    (tmp_path / "_acc.c").write_text("/* two */\n")
    ext, why = _compiled.choose(tmp_path, "_acc", ".c")
    assert ext is None and _compiled.STALE in why
    monkeypatch.setattr(_compiled, "ACCELERATORS", {"fake_pkg._acc": "x/_acc.c"})
    with pytest.raises(ModuleNotFoundError, match="changed since it was compiled"):
        _compiled._Finder.find_spec("fake_pkg._acc", [str(tmp_path)])
