"""The canonical form is exact: symmetry on never explores more states than off, and the
reduced search agrees with the unreduced one on the verdict and the length of the
shortest counterexample - on every era scenario (docs/eras.md) and on matrix cells.
The slower scenarios run with ACKCHECK_SLOW=1."""

from __future__ import annotations

import os

import pytest
from searches import matrix_cells

from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS
from ackcheck.checker.engines.check import run_check

SLOW = bool(os.environ.get("ACKCHECK_SLOW"))
# (rule, rule on) pairs whose unreduced search takes well under a second
QUICK = {("epoch_truncation", True), ("epoch_truncation", False), ("maximal_isr", True), ("maximal_isr", False),
         ("strict_min_isr", False), ("kraft_controller", False), ("epoch_truncation_fast_failover", False)}

CASES = [pytest.param(sc, on, id=f"{sc.rule}-{'on' if on else 'off'}",
                      marks=() if (sc.rule, on) in QUICK or SLOW else pytest.mark.skip("ACKCHECK_SLOW=1 runs it"))
         for sc in ERA_SCENARIOS for on in (True, False)]


def _agree(config, invariants):
    reduced = run_check(config, invariants, symmetry=True)
    plain = run_check(config, invariants, symmetry=False)
    assert reduced.verdict == plain.verdict
    assert (len(reduced.trace.steps) if reduced.trace else None) == (len(plain.trace.steps) if plain.trace else None)
    if reduced.verdict == "holds":  # a complete search: every class is explored once
        assert reduced.stats.distinct_states <= plain.stats.distinct_states
    return reduced, plain


@pytest.mark.parametrize("sc,on", CASES)
def test_era_scenario_symmetry_agrees_and_never_explores_more(sc, on):
    reduced, plain = _agree(sc.config(on), [sc.invariant])
    assert reduced.stats.distinct_states <= plain.stats.distinct_states


def _matrix_cells():
    return matrix_cells(1) if SLOW else matrix_cells(32, 0)


def test_matrix_cells_symmetry_agrees():
    n = 0
    for label, g, config in _matrix_cells():
        reduced, plain = _agree(config, list(g.invariants))
        n += 1
    assert n >= 4


def test_candidates_compare_fields_as_the_signatures_do():
    """symmetry.candidates compares brokers field by field (_order) before it builds their
    signatures: on reachable states of every era scenario, and on every renaming of each
    (so brokers come in every order, ties among them), it answers what sorting the
    signatures answers."""
    from itertools import permutations

    from ackcheck.model.protocol import Model
    from ackcheck.model.symmetry import _reorderings, _signatures, candidates, permute

    checked = out_of_order = ties = 0
    for sc in ERA_SCENARIOS:
        config = sc.config(True)
        model = Model(config)
        seen = {model.init()}
        todo = [model.init()]
        while todo and len(seen) < 300:
            s = todo.pop()
            for _, t in model.successors(s):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        for s in seen:
            if len(s.replicas) != 3:
                continue
            for pos in permutations(range(3)):
                r = permute(s, pos)
                want = _reorderings(_signatures(r))
                assert candidates(r) == want
                checked += 1
                out_of_order += want is not None and len(want) == 1
                ties += want is not None and len(want) > 1
    assert checked > 1000 and out_of_order > 100 and ties > 100
