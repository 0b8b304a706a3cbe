"""--memory-limit: a search whose frontier goes to disk - the level it expands and the
level it builds - gives the in-memory result exactly (distinct states, transitions, depth,
verdict and the trace), and a bad SIZE is one line, exit 2."""

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
from ackcheck.checker.engines.spill import CandidateRuns, SpillDir, SpilledStates, parse_size

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


@pytest.fixture
def built(monkeypatch):
    """Small chunk files, a filter of candidates after every 5 new ones (past the budget,
    each filter writes the candidates held to a run on disk: a level is built in many
    runs), and a count of the runs and of their candidates."""
    monkeypatch.setattr(spill, "CHUNK", 7)
    monkeypatch.setattr(explore_mod, "_COMPACT_EVERY", 5)
    runs = []

    class Counted(CandidateRuns):
        def write(self, fps, items):
            runs.append(len(items))
            super().write(fps, items)

    monkeypatch.setattr(explore_mod, "CandidateRuns", Counted)
    return runs


@pytest.mark.parametrize("props,version,bounds,invs", CONFIGS)
def test_level_built_on_disk_equals_in_memory(built, props, version, bounds, invs):
    """The violated config's counterexample is found by a state check made when its
    candidates went to disk: the same trace as the in-memory search's."""
    config = make_config(props, version, **bounds)
    mem = run_check(config, invs, workers=1)
    assert not built
    disk = run_check(config, invs, workers=1, memory_limit=1 << 20)
    assert len(built) > 10 and max(built) > 7  # many runs, some of several chunks
    assert outcome(disk) == outcome(mem)


@pytest.mark.parametrize("processes", [False, True])
def test_levels_built_on_disk_by_two_partitions_equal_one(built, processes):
    """Two partitions (in this process, or two worker processes) building their levels on
    disk: owners pick winners among candidates of both, and a fingerprint may come back
    in several runs of one partition - the smallest key still wins."""
    from ackcheck.checker.engines.check import model_for
    from ackcheck.checker.engines.parallel import ProcessPool
    from ackcheck.invariants.catalogue import select

    config = make_config({"acks": "all", "min.insync.replicas": "2"}, None, max_records=2, max_crashes=1,
                         max_isr_shrinks=0)
    invs = select(["acked-write-survives"], config)
    model = model_for(config, invs, lean=True)
    one = explore_mod.explore(model, invs)
    spec = explore_mod.Spec.of(model, invs, True, memory_limit=2 << 20)
    backend = ProcessPool(spec, 2) if processes else explore_mod.InProcess(spec, 2)
    two = explore_mod.search(spec, backend)
    if not processes:
        assert built  # (the workers' runs are counted in their own processes)
    assert outcome(two) == outcome(one)
    assert two.stats.transitions_asleep == one.stats.transitions_asleep > 0


def test_sleep_sets_survive_a_level_built_on_disk(built):
    config = make_config({"acks": "all", "min.insync.replicas": "2"}, None, max_records=2, max_crashes=1)
    disk = run_check(config, ["acked-write-survives"], memory_limit=1 << 20, workers=1)
    mem = run_check(config, ["acked-write-survives"], workers=1)
    assert built
    assert outcome(disk) == outcome(mem)
    assert disk.stats.transitions_asleep == mem.stats.transitions_asleep > 0


def test_candidate_runs_keep_what_the_mask_keeps():
    import numpy as np

    where = SpillDir()
    runs = CandidateRuns(where, sleeping=True)
    items = [(k, ("state", k), ("sleep", k)) for k in range(50)]
    old = spill.CHUNK
    spill.CHUNK = 8
    try:
        runs.write(np.arange(30, dtype=np.uint64), items[:30])
        runs.write(np.arange(30, 50, dtype=np.uint64), items[30:])
    finally:
        spill.CHUNK = old
    assert runs.count == 50 and len(runs.state_files) == len(runs.sleep_files) == 4 + 3
    mask = np.zeros(50, dtype=bool)
    mask[[0, 7, 8, 31, 49]] = True
    mask[16:24] = True  # a whole chunk kept
    states, sleeps = runs.kept(mask)
    want = [0, 7, 8, *range(16, 24), 31, 49]
    assert len(states) == len(want)
    assert list(states) == [("state", k) for k in want] and list(states) == [("state", k) for k in want]
    assert list(sleeps) == [("sleep", k) for k in want]
    states.discard()
    sleeps.discard()
    assert os.listdir(where.path) == []
    where.remove()


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


def test_default_memory_limit_is_two_thirds_of_the_machine():
    import os

    from ackcheck.checker.engines.spill import default_memory_limit

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert default_memory_limit() == total * 2 // 3


@pytest.mark.parametrize("flags,expected", [([], "default"), (["--memory-limit", "none"], None),
                                            (["--memory-limit", "2G"], 2 << 30),
                                            (["--cluster", "tcp://127.0.0.1:1"], None)])
def test_check_passes_its_memory_budget_to_the_search(monkeypatch, flags, expected):
    """`check` spills past 2/3 of the machine's memory unless told otherwise ('none': never;
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


def test_stale_chunk_directories_of_killed_searches_are_removed(tmp_path):
    """A search killed with SIGKILL leaves its chunk files; the next one that spills removes
    them - but not those of a live process, nor recent ones (a live search elsewhere)."""
    import time

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 2 * spill.STALE_SECONDS
    stale = tmp_path / f"{spill.PREFIX}{dead.pid}-abc"
    recent = tmp_path / f"{spill.PREFIX}{dead.pid}-def"
    alive = tmp_path / f"{spill.PREFIX}{os.getpid()}-ghi"
    other = tmp_path / "something-else"
    for d in (stale, recent, alive, other):
        d.mkdir()
        (d / "chunk-00000001.pkl").write_bytes(b"x")
    for d in (stale, alive, other):
        os.utime(d, (old, old))
    assert spill.remove_stale(str(tmp_path)) == [str(stale)]
    assert not stale.exists() and recent.exists() and alive.exists() and other.exists()


# -- model/_tuples.c pack / unpack: the level's files on disk

try:
    from ackcheck.model._tuples import pack, unpack
except ImportError:  # (not built: the files are pickles; nothing of its own to test)
    pack = unpack = None
needs_codec = pytest.mark.skipif(pack is None, reason="model/_tuples.c is not built")


def _shape(x):
    """A value's type tree (so that True is not taken for 1, nor a NamedTuple for a tuple)."""
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(_shape(y) for y in x))
    return type(x).__name__


def test_the_codec_is_built_with_the_model():
    from ackcheck import _compiled

    if _compiled.in_use():
        assert pack is not None and spill._pack is pack, _compiled.STATUS.get("ackcheck.model._tuples")


def _named_values():
    from hypothesis import strategies as st

    from ackcheck.model.state import LeaderAndIsr, ParkedProduce
    from ackcheck.traces.observation import Batch

    ints = st.one_of(st.integers(-300, 300), st.integers(-2 ** 63, 2 ** 63 - 1),
                     st.sampled_from([-2 ** 31 - 1, -2 ** 31, 2 ** 31 - 1, 2 ** 31, -129, -128, 127, 128]))
    leaves = st.one_of(st.none(), st.booleans(), ints, st.text(max_size=300))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.lists(inner, max_size=300).map(tuple),
        st.tuples(inner, inner, inner, inner).map(lambda t: ParkedProduce(*t)),
        st.tuples(inner, inner, inner, inner).map(lambda t: LeaderAndIsr(*t)),
        st.tuples(inner, inner, inner, inner).map(lambda t: Batch(*t))), max_leaves=60)


@needs_codec
def test_pack_round_trips_any_tree():
    from hypothesis import given, settings

    @settings(max_examples=300, deadline=None)
    @given(_named_values())
    def check(tree):
        back = unpack(pack(tree))
        assert back == tree and _shape(back) == _shape(tree)
        shared = (tree, [tree, tree])  # (an object held twice comes back as one object)
        again = unpack(pack(shared))
        assert again == shared and (not isinstance(tree, tuple) or again[0] is again[1][0] is again[1][1])

    check()


@needs_codec
def test_pack_round_trips_reachable_states_with_their_sharing():
    from ackcheck.model.protocol import Model
    from ackcheck.traces.settings import build_config

    model = Model(build_config([], bounds={"max_records": 2, "max_crashes": 1, "max_elections": 1}))
    states, frontier = [model.init()], [model.init()]
    while len(states) < 4000:
        frontier = [t for s in frontier for _, t in model.successors(s)]
        states += frontier
    items = [(k << 20, s, (("broker_learn", 1, 3), ("crash", 2))) for k, s in enumerate(states)]
    back = unpack(pack(items))
    assert back == items and [_shape(b) for b in back] == [_shape(i) for i in items]
    pairs = [(a, b) for a, b in zip(states, states[1:]) if a.batches is b.batches]
    assert pairs
    for k in range(len(states) - 1):  # (subtrees shared in the level stay shared)
        if states[k].batches is states[k + 1].batches:
            assert back[k][1].batches is back[k + 1][1].batches


@needs_codec
def test_pack_refuses_what_it_does_not_take():
    from typing import NamedTuple

    class Other(NamedTuple):
        x: int

    for bad in [1.5, 2 ** 64, {"a": 1}, Other(1), (1, b"x"), [object()]]:
        with pytest.raises(TypeError):
            pack(bad)
    deep = ()
    for _ in range(100):
        deep = (deep,)
    with pytest.raises(ValueError):
        pack(deep)


@needs_codec
def test_unpack_refuses_malformed_input():
    """Every truncation of a valid input, a wrong first byte, trailing bytes, an unknown
    opcode, a reference to nothing: ValueError, never a crash or a wrong tree."""
    from ackcheck.model.state import LeaderAndIsr

    shared = ("x" * 300, 7)
    data = pack([shared, shared, LeaderAndIsr(1, 2, -1, (0, 1)), (None, True, 2 ** 40, -5, "é"), tuple(range(300))])
    assert unpack(data)[4] == tuple(range(300))  # (a length past one byte)
    for cut in range(len(data)):
        with pytest.raises(ValueError):
            unpack(data[:cut])
    for bad in [b"XK1" + data[3:], data + b"\x00", b"AK1\x3f", b"AK1\x0a\x05\x00\x00\x00",
                b"AK1\x09\xee\x00", b"AK1\x88\x01\x00"]:
        with pytest.raises(ValueError):
            unpack(bad)


def test_chunk_files_are_packed_when_they_can_be_and_pickled_otherwise(tmp_path, monkeypatch):
    from ackcheck.model.state import initial_state
    from ackcheck.traces.settings import build_config

    s = initial_state(build_config([]))
    name = str(tmp_path / "a")
    spill.dump_values(name, [s, s])
    with open(name, "rb") as f:
        head = f.read(3)
    assert head == (b"AK1" if pack is not None else head) and spill.load_values(name) == [s, s]
    spill.dump_values(name, [s, 1.5])  # (a float: pickled)
    with open(name, "rb") as f:
        assert f.read(1) == b"\x80"
    assert spill.load_values(name) == [s, 1.5]
    monkeypatch.setattr(spill, "_pack", None)
    spill.dump_values(name, [s])
    assert spill.load_values(name) == [s]
