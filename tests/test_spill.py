"""--memory-limit: a search whose frontier goes to disk gives the in-memory result exactly
(distinct states, transitions, depth, verdict and the trace), and a bad SIZE is one line,
exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import make_config
from searches import outcome

import ackcheck.checker.engines.explore as explore_mod
import ackcheck.checker.engines.spill as spill
from ackcheck.checker.engines.check import run_check
from ackcheck.checker.engines.spill import SpillDir, SpilledStates, parse_size

CONFIGS = [
    ({"acks": "1"}, None, {"max_records": 2}, None),  # violated: the trace must be the same
    ({"acks": "all", "min.insync.replicas": "2"}, None, {"max_records": 2, "max_crashes": 1, "max_isr_shrinks": 0},
     ["acked-write-survives"]),  # holds
]


@pytest.fixture
def counted(monkeypatch):
    """Small chunk files, and a count of the levels that went to disk."""
    monkeypatch.setattr(spill, "CHUNK", 7)
    made = []
    real = explore_mod.SpilledStates

    def spilled(states, where, chunk=None):
        made.append(len(states))
        return real(states, where, chunk)

    monkeypatch.setattr(explore_mod, "SpilledStates", spilled)
    return made


@pytest.mark.parametrize("props,version,bounds,invs", CONFIGS)
def test_spilled_search_equals_in_memory(counted, props, version, bounds, invs):
    config = make_config(props, version, **bounds)
    mem = run_check(config, invs, workers=1)
    assert not counted
    disk = run_check(config, invs, workers=1, memory_limit=1 << 20)  # (any process is past 1 MiB)
    assert counted and max(counted) > 7  # levels of several chunks went to disk
    assert outcome(disk) == outcome(mem)


def test_spilled_partitions_equal_one(counted):
    """Two partitions in one process, each spilling its share, as workers would."""
    from ackcheck.checker.engines.check import model_for
    from ackcheck.invariants.catalogue import select

    config = make_config({"acks": "all", "min.insync.replicas": "2"}, None, max_records=2, max_crashes=1,
                         max_isr_shrinks=0)
    invs = select(["acked-write-survives"], config)
    model = model_for(config, invs, lean=True)
    one = explore_mod.explore(model, invs)
    spec = explore_mod.Spec.of(model, invs, True, memory_limit=1 << 20)
    two = explore_mod.search(spec, explore_mod.InProcess(spec, 2))
    assert counted
    assert outcome(two) == outcome(one)


def test_spilled_states_round_trip(tmp_path):
    where = SpillDir()
    states = [(i, (i, -i)) for i in range(250)]
    s = SpilledStates(states, where, chunk=64)
    assert len(s.files) == 4 and len(s) == 250
    assert list(s) == states and list(s) == states  # read again (a checkpoint does)
    d = where.path
    s.discard()
    assert os.listdir(d) == []
    where.remove()
    assert not os.path.exists(d)


@pytest.mark.parametrize("text,size", [("512M", 512 << 20), ("4G", 4 << 30), ("2GiB", 2 << 30), ("1.5g", 3 << 29),
                                       ("3000MB", 3 * 10 ** 9), ("1048576", 1 << 20)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text,why", [("lots", "expected a size"), ("4X", "unknown unit"), ("-1G", "expected a size"),
                                      ("100K", "at least 1M"), ("", "expected a size")])
def test_bad_memory_limit_is_one_line_exit_2(text, why):
    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", f"--memory-limit={text}"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "--memory-limit" in lines[0] and why in lines[0]


def test_default_memory_limit_is_three_quarters_of_the_machine():
    import os

    from ackcheck.checker.engines.spill import default_memory_limit

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert default_memory_limit() == total * 3 // 4


@pytest.mark.parametrize("flags,expected", [([], "default"), (["--memory-limit", "none"], None),
                                            (["--memory-limit", "2G"], 2 << 30),
                                            (["--cluster", "tcp://127.0.0.1:1"], None)])
def test_check_passes_its_memory_budget_to_the_search(monkeypatch, flags, expected):
    """`check` spills past 3/4 of the machine's memory unless told otherwise ('none': never;
    a cluster's machines are not this one, so no default there)."""
    import ackcheck.checker.engines.check as check_mod
    from ackcheck.checker.cli.check import main
    from ackcheck.checker.engines.spill import default_memory_limit

    got = {}

    class Stop(Exception):
        pass

    def fake_run_check(*args, **kwargs):
        got.update(kwargs)
        raise Stop

    monkeypatch.setattr(check_mod, "run_check", fake_run_check)
    with pytest.raises(Stop):
        main(["--acks", "1", *flags])
    assert got["memory_limit"] == (default_memory_limit() if expected == "default" else expected)
