"""The default matrix's runs as (row label, guarantee, config) - every cell, or a sample
(every `step`-th row from `start`) - for the tests that compare two searches cell by cell
(test_explore_symmetry.py, test_explore_reduction.py)."""

from __future__ import annotations


def matrix_cells(step: int = 1, start: int = 0):
    from ackcheck.checker.audit.guarantees import GUARANTEES, profile_bounds
    from ackcheck.checker.audit.matrix import DIMENSIONS, build_row, space_rows

    rows = space_rows({prop: vals.split(",") for _, prop, vals in DIMENSIONS}, 3, None)[start::step]
    for row in rows:
        build_row(row, 3, [])
        if row.invalid:
            continue
        for g in GUARANTEES:
            yield row.label, g, row.config.with_bounds(**profile_bounds(g.profile))
