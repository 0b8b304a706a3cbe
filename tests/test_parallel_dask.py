"""The partitioned search on a Dask distributed cluster (`check --cluster ADDRESS`): a local
cluster of 2 worker processes gives the single-process verdict, counts and trace."""

from __future__ import annotations

import pytest
from conftest import make_config

from ackcheck.checker.engines.check import run_check

pytest.importorskip("distributed")  # the `cluster` fixture (conftest.py) starts a local Dask cluster


@pytest.mark.parametrize("props,bounds,invs", [
    ({"acks": "1"}, {}, None),
    ({"acks": "all", "min.insync.replicas": "2"}, {}, ["acked-write-survives"]),
])
def test_dask_cluster_equals_one_process(cluster, props, bounds, invs):
    config = make_config(props, **bounds)
    one = run_check(config, invs)
    on_cluster = run_check(config, invs, cluster=cluster)
    assert on_cluster.stats.workers == 2
    for r in (one, on_cluster):
        assert r.verdict in ("holds", "violated")
    assert (on_cluster.verdict, on_cluster.stats.distinct_states, on_cluster.stats.transitions,
            on_cluster.stats.max_depth) == (one.verdict, one.stats.distinct_states, one.stats.transitions,
                                            one.stats.max_depth)
    assert (on_cluster.trace.as_dict() if on_cluster.trace else None) == (one.trace.as_dict() if one.trace else None)


def test_unreachable_cluster_is_one_line_exit_2():
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", "--cluster", "tcp://127.0.0.1:9", "--acks", "all"],
                       capture_output=True, text=True, timeout=120)
    errors = [line for line in p.stderr.splitlines() if line.startswith("ackcheck: error")]
    assert p.returncode == 2 and len(errors) == 1 and "--cluster" in errors[0] and "Traceback" not in p.stderr


def test_matrix_cells_on_the_cluster_equal_local_ones(cluster, monkeypatch, tmp_path):
    from ackcheck.checker.audit.guarantees import GUARANTEES
    from ackcheck.checker.audit.matrix import run_matrix, space_rows

    def cells(env):
        if env:
            monkeypatch.setenv("ACKCHECK_CLUSTER", cluster)
        else:
            monkeypatch.delenv("ACKCHECK_CLUSTER", raising=False)
        rows = space_rows({"acks": ["1", "all"], "min.insync.replicas": ["2"], "unclean.leader.election.enable": ["false"],
                           "enable.idempotence": ["false"], "max.in.flight.requests.per.connection": ["1"],
                           "retries": ["0"]}, 3, None)
        m = run_matrix(rows, [GUARANTEES[0]], overrides={}, rf=3, rule_overrides=[], cache_dir=None, jobs=2,
                       trace_dir=tmp_path / ("c" if env else "l"), link_base=None, progress=False)
        return [(r.label, {g: (c.get("verdict"), c.get("states")) for g, c in r.cells.items()}) for r in m.rows]

    assert cells(True) == cells(False)
