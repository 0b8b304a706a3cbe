"""`ackcheck audit --cluster ADDRESS` / `matrix --cluster`: the guarantees' runs go to a Dask
distributed cluster and give the local verdicts and counts; a scheduler that cannot be
reached is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("distributed")  # the `cluster` fixture (conftest.py) starts a local Dask cluster


def _audit(*extra: str) -> dict:
    p = subprocess.run([sys.executable, "-m", "ackcheck", "audit", "--acks", "1", "--guarantee", "no-acked-loss",
                        "--guarantee", "no-duplicates", "--no-cache", "--no-fix", "--json", *extra],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


def _summary(report: dict) -> list:
    return sorted((g["id"], g["verdict"], g["states"]) for g in report["guarantees"])


def test_audit_on_the_cluster_equals_local(cluster, tmp_path):
    local = _audit("--trace-dir", str(tmp_path / "l"))
    remote = _audit("--cluster", cluster, "--trace-dir", str(tmp_path / "c"))
    assert _summary(remote) == _summary(local)
    assert any(v == "violated" for _, v, _ in _summary(local))  # acks=1 loses a write: the runs did something


@pytest.mark.parametrize("command", ["audit", "matrix"])
def test_unreachable_cluster_flag_is_one_line_exit_2(command):
    p = subprocess.run([sys.executable, "-m", "ackcheck", command, "--cluster", "tcp://127.0.0.1:9", "--acks", "1",
                        "--no-cache"], capture_output=True, text=True, timeout=120)
    errors = [line for line in p.stderr.splitlines() if line.startswith("ackcheck: error")]
    assert p.returncode == 2 and len(errors) == 1 and "--cluster" in errors[0] and "Traceback" not in p.stderr
