"""Helpers of the tests that compare two searches or walk a model's states: the default
matrix's runs, what must be equal between two runs of one search done differently, and
the reachable states of a model."""

from __future__ import annotations


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
