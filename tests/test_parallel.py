"""The partitioned search gives the single-process result exactly, for any number of
workers: distinct states, transitions, depth, verdict and the trace itself."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import make_config
from searches import outcome

import ackcheck.checker.engines.explore as explore_mod
from ackcheck.checker.engines.check import model_for, run_check
from ackcheck.checker.engines.explore import explore
from ackcheck.invariants.catalogue import select

CONFIGS = [
    ({"acks": "1"}, None, {}, None),
    ({"acks": "all", "replication.factor": "2"}, "0.10", {"max_crashes": 2}, None),
    ({"acks": "all"}, None, {"max_power_losses": 1}, None),
    ({"acks": "all", "min.insync.replicas": "2"}, None, {"max_records": 2, "max_crashes": 1, "max_isr_shrinks": 0},
     ["acked-write-survives"]),
]


@pytest.fixture
def at_once(monkeypatch):
    """Workers from the first level on (normally a search hands over after a tenth of a second)."""
    monkeypatch.setattr(explore_mod, "HANDOVER_SECONDS", 0.0)


@pytest.mark.parametrize("props,version,bounds,invs", CONFIGS)
def test_two_workers_equal_one(at_once, props, version, bounds, invs):
    config = make_config(props, version, **bounds)
    one = run_check(config, invs, workers=1)
    two = run_check(config, invs, workers=2)
    assert two.stats.workers == 2 and one.stats.workers == 1
    assert outcome(two) == outcome(one)


@pytest.mark.parametrize("props,version,bounds,invs", [CONFIGS[0], CONFIGS[3]])
def test_filtering_candidates_against_the_seen_set_changes_nothing(monkeypatch, props, version, bounds, invs):
    """A big level's candidates are filtered against the seen set as they come (every
    _COMPACT_EVERY new ones, each looked up once): filtering after every few candidates
    must drop seen ones and leave the result exactly as it is."""
    config = make_config(props, version, **bounds)
    reference = run_check(config, invs, workers=1)
    dropped = []
    filter_once = explore_mod.Partition._compact

    def counting(self, local, fresh):
        before = len(local)
        filter_once(self, local, fresh)
        dropped.append(before - len(local))

    monkeypatch.setattr(explore_mod, "_COMPACT_EVERY", 3)
    monkeypatch.setattr(explore_mod.Partition, "_compact", counting)
    often = run_check(config, invs, workers=1)
    assert sum(dropped) > 0
    assert outcome(often) == outcome(reference)
    monkeypatch.setattr(explore_mod, "HANDOVER_SECONDS", 0.0)
    assert outcome(run_check(config, invs, workers=2)) == outcome(reference)


def test_three_workers_equal_one_without_symmetry(at_once):
    config = make_config({"acks": "1"}, max_records=2, max_crashes=1)
    one = run_check(config, None, workers=1, symmetry=False)
    three = run_check(config, None, workers=3, symmetry=False)
    assert one.verdict == "violated"
    assert outcome(three) == outcome(one)


def test_cli_workers_flag_same_json_counts():
    args = [sys.executable, "-m", "ackcheck", "check", "--acks", "1", "--max-records", "2", "--json"]
    out = [json.loads(subprocess.run(args + ["--workers", str(n)], capture_output=True, text=True).stdout)
           for n in (1, 2)]
    for k in ("distinct_states", "transitions", "max_depth"):
        assert out[0]["stats"][k] == out[1]["stats"][k]
    assert out[0]["trace"] == out[1]["trace"]
    assert {"workers", "peak_memory_bytes", "bytes_per_state"} <= set(out[0]["stats"])


def test_bad_workers_flag_is_one_line_exit_2():
    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", "--workers", "0"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "--workers" in p.stderr


def test_workers_die_with_a_killed_coordinator():
    import os
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "ackcheck", "check", "--acks", "all", "--min-insync-replicas", "2",
                          "--max-records", "2", "--max-crashes", "1", "--max-elections", "1", "--json",
                          "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kids: list[int] = []
    deadline = time.time() + 60
    while len(kids) < 2 and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
        out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.split()
        kids = [int(a) for a, b in zip(out[::2], out[1::2]) if int(b) == p.pid]
    assert len(kids) == 2, "the search ended before it handed over to workers"
    p.send_signal(signal.SIGKILL)
    p.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        alive = []
        for k in kids:
            try:
                os.kill(k, 0)
                alive.append(k)
            except ProcessLookupError:
                pass
        if not alive:
            break
        time.sleep(0.2)
    assert not alive


def test_vacuity_witnesses_merge_over_workers(at_once):
    config = make_config({"acks": "1"}, max_records=2, max_crashes=0)
    invs = ["acked-write-survives", "no-duplicates"]
    one = run_check(config, invs, workers=1)
    two = run_check(config, invs, workers=2)
    assert one.warnings and two.warnings == one.warnings  # the same witnesses unreached
    reached = run_check(make_config({"acks": "1"}, max_records=2, max_crashes=1), invs, workers=2)
    assert len(reached.warnings) < len(one.warnings)  # a crash reaches the leader-change witness


def test_workers_report_progress_within_a_level(at_once, monkeypatch):
    """A level of a long run can take minutes: workers report how far they are while they
    expand it (summed over the workers), not only at its end; the search's result is the
    same as without progress."""
    from ackcheck.checker.engines import parallel

    monkeypatch.setattr(parallel, "PROGRESS_SECONDS", 0.0)  # (read by the workers, forked after this)
    config = make_config({"acks": "all", "min.insync.replicas": "2"}, None, max_records=2, max_crashes=1,
                         max_isr_shrinks=0)
    model = model_for(config, select(["acked-write-survives"], config), lean=True)
    seen = []

    def progress(stats, frontier):
        seen.append((stats.workers, stats.max_depth, stats.level_expanded, stats.level_size, frontier))

    with_progress = explore(model, select(["acked-write-survives"], config), workers=2, progress=progress)
    plain = explore(model, select(["acked-write-survives"], config), workers=2)
    for r in (with_progress, plain):
        assert r.stats.workers == 2
    assert outcome(with_progress) == outcome(plain)
    mid = [p for p in seen if p[0] == 2 and p[2]]
    assert mid, "no progress report from the workers within a level"
    assert all(0 < done <= size for _, _, done, size, _ in mid)
    # the reports of one level grow as its states are expanded
    by_depth: dict = {}
    for _, depth, done, _, _ in mid:
        by_depth.setdefault(depth, []).append(done)
    assert any(len(v) > 1 and v == sorted(v) for v in by_depth.values())


def test_a_rebalance_the_memory_cannot_take_is_skipped(at_once, monkeypatch):
    """Moving states between workers to balance a level costs memory (pickled, routed,
    unpickled); when the machine lacks it, the states stay where they are - who holds a
    state changes no result."""
    from ackcheck.checker.engines import parallel, spill

    config = make_config({"acks": "all", "min.insync.replicas": "2"}, None, max_records=2, max_crashes=1)
    calls: list = []
    call = parallel.ProcessPool.call

    def spy(self, method, args=None, progress=None):
        calls.append(method)
        return call(self, method, args, progress)

    monkeypatch.setattr(parallel.ProcessPool, "call", spy)
    balanced = run_check(config, ["acked-write-survives"], workers=2)
    assert "give" in calls  # (this search rebalances when memory allows)
    calls.clear()
    monkeypatch.setattr(explore_mod, "_WRAP_UP_BYTES", 0)
    monkeypatch.setattr(spill, "memory_short", lambda extra=0: extra > 0)  # short only for a move
    kept = run_check(config, ["acked-write-survives"], workers=2)
    assert "give" not in calls
    assert outcome(kept) == outcome(balanced) and kept.verdict == "holds"


def test_partition_steps_run_with_the_garbage_collector_paused():
    """A partition's steps pause the cyclic garbage collector wherever they run (the
    coordinator's own process pauses it for the whole search, but a resumed search's
    workers and Dask actors are not in it): with the collector on, the successors of a
    level are computed with it off, and it is on again afterwards; a worker process started
    for a resumed search keeps it off."""
    import gc

    from ackcheck.checker.engines.parallel import ProcessPool

    config = make_config({"acks": "all", "min.insync.replicas": "2"}, None, max_records=1, max_crashes=1)
    invs = select(["acked-write-survives"], config)
    model = model_for(config, invs, lean=True)
    spec = explore_mod.Spec.of(model, invs, True)
    part = explore_mod.Partition(spec, 0, 1)
    init = part.model.init()
    fp, pos = spec.explored(part.model, init)
    seen_on: list = []
    plain = part.model.successors

    def successors(s):
        seen_on.append(gc.isenabled())
        return plain(s)

    part.model.successors = successors
    part.model.successors_asleep = lambda s, sleep: successors(s)
    was = gc.isenabled()
    gc.enable()
    try:
        part.start(fp, init)
        out = part.expand()
        assert gc.isenabled()
    finally:
        if not was:
            gc.disable()
    assert out[0] is not None and seen_on == [False]
    pool = ProcessPool(spec, 2)
    try:
        assert pool.call("collector_enabled") == [False, False]
    finally:
        pool.close()


def test_search_frees_its_states_before_the_collector_is_back():
    """A search switches the cyclic collector back on only after its in-process partitions
    have let their states go: a search cut by max_depth still holds its last level, and a
    collector switched on beside it sweeps every one of those states at the next
    allocation. Gen 0's count (allocations less frees since the last sweep) at the first
    sweep after the search: about 133,000 objects when the last level (12,345 states) was
    still held, about 25,000 (the model's own tables) once it is freed."""
    import gc

    config = make_config({"acks": "all", "min.insync.replicas": "2"}, None, max_records=2, max_crashes=2,
                         max_depth=11)
    counts: list = []

    def note(phase, info):
        if phase == "start":
            counts.append(gc.get_count()[0])

    was = gc.isenabled()
    gc.enable()
    gc.collect()
    gc.callbacks.append(note)
    try:
        result = run_check(config, ["acked-write-survives"], workers=1)
        assert gc.isenabled()
        _ = [(i,) for i in range(10_000)]  # allocations enough for a sweep of gen 0
    finally:
        gc.callbacks.remove(note)
        if not was:
            gc.disable()
    assert not result.stats.complete and result.stats.distinct_states > 20_000
    assert counts and max(counts) < 70_000, max(counts)


WHOLE_SEEN_CASES = [
    ({"acks": "all", "min.insync.replicas": "2"}, None, {"max_records": 2, "max_crashes": 1, "max_isr_shrinks": 0},
     ["acked-write-survives"]),  # holds
    ({"acks": "1"}, None, {"max_crashes": 1}, None),  # a violation: the same shortest trace
    ({"acks": "all", "replication.factor": "2"}, "0.10", {"max_crashes": 2}, None),
]


def _partitioned(monkeypatch, props, version, bounds, invs, whole: bool, sizes: list | None = None):
    """Two partitions in this process, with or without whole seen sets; `sizes` collects the
    number of candidates each level sends to their owners."""
    monkeypatch.setattr(explore_mod, "WHOLE_SEEN_WORKERS", 4 if whole else 1)
    config = make_config(props, version, **bounds)
    inv_objs = select(invs, config)
    model = model_for(config, inv_objs, lean=True)
    spec = explore_mod.Spec.of(model, inv_objs, True)
    backend = explore_mod.InProcess(spec, 2)
    if sizes is not None:
        absorb = explore_mod.Partition.absorb

        def counting(self, inbound):
            sizes.append(sum(len(f) for f, _ in inbound))
            if whole:  # (every partition knows every state seen: none is sent again)
                assert not any(self.seen.contains(f).any() for f, _ in inbound)
            return absorb(self, inbound)

        monkeypatch.setattr(explore_mod.Partition, "absorb", counting)
    parts = list(backend.parts)
    result = explore_mod.search(spec, backend)
    assert all(p.whole_seen is whole for p in parts)
    return result


@pytest.mark.parametrize("props,version,bounds,invs", WHOLE_SEEN_CASES)
def test_whole_seen_sets_change_no_result_and_send_fewer_candidates(monkeypatch, props, version, bounds, invs):
    """Every partition holding the whole seen set drops, where they are generated, the
    candidates seen at earlier levels: fewer go to their owners, and the counts, the
    verdict and the trace are those of partitions that know only their own part (and of
    one process)."""
    config = make_config(props, version, **bounds)
    one = explore(model_for(config, select(invs, config), lean=True), select(invs, config))
    sent_part: list = []
    sent_whole: list = []
    part = _partitioned(monkeypatch, props, version, bounds, invs, False, sent_part)
    monkeypatch.undo()
    whole = _partitioned(monkeypatch, props, version, bounds, invs, True, sent_whole)
    assert outcome(part) == outcome(one) and outcome(whole) == outcome(one)
    assert sum(sent_whole) < sum(sent_part)


def test_a_checkpoint_of_whole_seen_sets_resumes_either_way(tmp_path, monkeypatch):
    """A checkpoint keeps each partition's owned part of the seen set whoever holds the
    whole set: written with whole seen sets, it resumes without them, and the other way
    round, to the counts of an uninterrupted run."""
    props, version, bounds, invs = WHOLE_SEEN_CASES[0]
    config = make_config(props, version, **bounds)
    inv_objs = select(invs, config)
    model = model_for(config, inv_objs, lean=True)
    full = explore(model, inv_objs)
    for write_whole in (True, False):
        ckpt = tmp_path / f"ckpt-{write_whole}"
        monkeypatch.setattr(explore_mod, "WHOLE_SEEN_WORKERS", 4 if write_whole else 1)
        spec = explore_mod.Spec.of(model, inv_objs, True)
        cut = make_config(props, version, **bounds, max_depth=6)
        cut_spec = explore_mod.Spec.of(model_for(cut, inv_objs, lean=True), inv_objs, True)
        explore_mod.search(cut_spec, explore_mod.InProcess(cut_spec, 2), checkpoint=str(ckpt), checkpoint_every=0.0)
        monkeypatch.setattr(explore_mod, "WHOLE_SEEN_WORKERS", 1 if write_whole else 4)
        resumed = explore_mod.search(spec, explore_mod.InProcess(spec, 2),
                                     resume=(ckpt / (ckpt / "CURRENT").read_text().strip(), _meta(ckpt)))
        assert outcome(resumed)[:3] == outcome(full)[:3]


def _meta(ckpt):
    import pickle

    with open(ckpt / (ckpt / "CURRENT").read_text().strip() / "meta.pkl", "rb") as f:
        return pickle.load(f)
