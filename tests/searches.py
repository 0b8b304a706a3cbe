"""Helpers of the tests that compare two searches or walk a model's states: the default
matrix's runs, what must be equal between two runs of one search done differently, and
the reachable states of a model."""

from __future__ import annotations

# era scenarios (rule, rule on) that take a few seconds at most; among them the
# idempotent-producer eras
QUICK_ERA_CASES = {("epoch_truncation", True), ("epoch_truncation", False), ("maximal_isr", True),
                   ("maximal_isr", False), ("strict_min_isr", False), ("kraft_controller", False),
                   ("epoch_truncation_fast_failover", False), ("any_first_sequence", True),
                   ("idempotent_epoch_bump", True)}


def era_cases(slow: bool) -> list:
    """pytest params (scenario, rule on) of every era scenario both ways; those outside
    QUICK_ERA_CASES are skipped unless `slow` (ACKCHECK_SLOW=1)."""
    import pytest

    from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS

    return [pytest.param(sc, on, id=f"{sc.rule}-{'on' if on else 'off'}",
                         marks=() if (sc.rule, on) in QUICK_ERA_CASES or slow
                         else pytest.mark.skip("ACKCHECK_SLOW=1 runs it"))
            for sc in ERA_SCENARIOS for on in (True, False)]


def matrix_cells(step: int = 1, start: int = 0):
    """(row label, guarantee, config) of every cell, or of every `step`-th row from `start`."""
    from ackcheck.checker.audit.guarantees import GUARANTEES, profile_bounds
    from ackcheck.checker.audit.matrix import DIMENSIONS, build_row, space_rows

    rows = space_rows({prop: vals.split(",") for _, prop, vals in DIMENSIONS}, 3, None)[start::step]
    for row in rows:
        build_row(row, 3, [])
        if row.invalid:
            continue
        for g in GUARANTEES:
            yield row.label, g, row.config.with_bounds(**profile_bounds(g.profile))


def outcome(r):
    """What must be the same however a search is run (workers, disk, resume): the verdict,
    the counts, the depth and the trace."""
    return (r.verdict, r.stats.distinct_states, r.stats.transitions, r.stats.max_depth,
            r.trace.as_dict() if r.trace else None)


def reachable_states(model, cap: int | None = None) -> list:
    """The model's reachable states breadth-first (raw states, no symmetry or abstraction),
    the first `cap` of them if given."""
    init = model.init()
    seen = {init}
    frontier = [init]
    out = [init]
    while frontier and (cap is None or len(out) < cap):
        nxt = []
        for s in frontier:
            for _, t in model.successors(s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
                    out.append(t)
        frontier = nxt
    return out if cap is None else out[:cap]
