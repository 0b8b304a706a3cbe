"""Checkpoints: a run killed mid-level (SIGKILL) or stopped with Ctrl-C resumes from its
last checkpoint to the same final counts as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import make_config

from ackcheck.checker.engines.check import run_check

FLAGS = ["--acks", "all", "--min-insync-replicas", "2", "--max-records", "2", "--max-crashes", "1",
         "--invariant", "acked-write-survives"]
CONFIG = dict(props={"acks": "all", "min.insync.replicas": "2"}, bounds={"max_records": 2, "max_crashes": 1})


def _reference():
    r = run_check(make_config(CONFIG["props"], **CONFIG["bounds"]), ["acked-write-survives"])
    return r.verdict, r.stats.distinct_states, r.stats.transitions, r.stats.max_depth


def _default_sigint() -> None:
    # a shell that starts the test run in the background ignores SIGINT in it and in every
    # child, and Python then installs no Ctrl-C handler: give the search the terminal's default
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(ckpt, *extra, flags=FLAGS, env=None):
    return subprocess.Popen([sys.executable, "-m", "ackcheck", "check", *flags, "--json", "--workers", "1",
                             "--checkpoint", str(ckpt), "--checkpoint-every", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
                            env=env)


def _wait_for_level(ckpt, level: int, proc, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        cur = ckpt / "CURRENT"
        if cur.exists() and int(cur.read_text().split("-")[1]) >= level:
            return
        assert proc.poll() is None, "the run ended before the checkpoint level"
        time.sleep(0.02)
    raise AssertionError("no checkpoint written")


def _resume(ckpt, *extra, flags=FLAGS):
    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", *flags, "--json", "--resume", str(ckpt), *extra],
                       capture_output=True, text=True, timeout=300)
    j = json.loads(p.stdout)
    s = j["stats"]
    return p.returncode, (j["verdict"], s["distinct_states"], s["transitions"], s["max_depth"])


def test_sigkill_mid_level_resumes_to_the_same_counts(tmp_path):
    ckpt = tmp_path / "ckpt"
    proc = _start(ckpt)
    _wait_for_level(ckpt, 12, proc)
    time.sleep(0.3)  # into the next level
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    rc, got = _resume(ckpt)
    assert rc == 0
    assert got == _reference()


# a search long enough (about 12 s on one core) to print a progress line a second while it expands
LONG_FLAGS = ["--acks", "all", "--min-insync-replicas", "2", "--max-records", "2", "--max-crashes", "2",
              "--invariant", "acked-write-survives"]


@pytest.fixture(scope="module")
def long_reference():
    r = run_check(make_config(CONFIG["props"], max_records=2, max_crashes=2), ["acked-write-survives"])
    return r.verdict, r.stats.distinct_states, r.stats.transitions, r.stats.max_depth


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_leaves_a_resumable_checkpoint(tmp_path, workers, long_reference):
    # A Ctrl-C leaves the checkpoint of a level boundary wherever it lands in the search:
    # while the partitions expand a level (they drop it) or while the coordinator exchanges
    # its states (the stop waits for the boundary). The signal is sent once the run has
    # printed a progress line, so the search is under way whatever the machine's speed.
    ckpt = tmp_path / "ckpt"
    proc = _start(ckpt, "--workers", str(workers), "--progress", "on", "--checkpoint-every", "3600",
                  flags=LONG_FLAGS, env={**os.environ, "ACKCHECK_PROGRESS_EVERY": "1"})
    line = proc.stderr.readline()  # blocks until the first progress line, about 1 s in
    assert line.startswith("..."), line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, (out[-500:], err[-500:])
    assert json.loads(out)["verdict"] == "incomplete"
    assert (ckpt / "CURRENT").exists()  # only the Ctrl-C wrote one (--checkpoint-every 3600)
    rc, got = _resume(ckpt, "--workers", str(3 - workers), flags=LONG_FLAGS)
    assert rc == 0
    assert got == long_reference


def _killed_at_level(tmp_path, level: int):
    """The checkpoint directory of a run killed once it has checkpointed `level`."""
    ckpt = tmp_path / "ckpt"
    proc = _start(ckpt)
    _wait_for_level(ckpt, level, proc)
    proc.kill()
    proc.wait()
    return ckpt


def _errors(p) -> list[str]:
    assert "Traceback" not in p.stderr
    return [line for line in p.stderr.splitlines() if line.startswith("ackcheck: error")]


def test_resume_of_another_configuration_is_refused(tmp_path):
    ckpt = _killed_at_level(tmp_path, 2)
    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", "--acks", "1", "--resume", str(ckpt)],
                       capture_output=True, text=True)
    errors = _errors(p)
    assert p.returncode == 2 and len(errors) == 1 and "--resume" in errors[0]


def test_unwritable_checkpoint_directory_is_refused_before_the_search(tmp_path):
    # found at once, not at the first checkpoint a minute in (or at Ctrl-C, losing the run)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", *FLAGS, "--checkpoint", str(blocker / "ckpt")],
                       capture_output=True, text=True, timeout=120)
    errors = _errors(p)
    assert p.returncode == 2 and len(errors) == 1 and "cannot write there" in errors[0]
    assert "Done." not in p.stdout  # no search ran


def test_an_earlier_checkpoint_is_continued_not_overwritten(tmp_path):
    ckpt = _killed_at_level(tmp_path, 4)
    saved = (ckpt / "CURRENT").read_text()
    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", *FLAGS, "--checkpoint", str(ckpt)],
                       capture_output=True, text=True, timeout=120)
    errors = _errors(p)
    assert p.returncode == 2 and len(errors) == 1 and f"--resume {ckpt}" in errors[0]
    assert (ckpt / "CURRENT").read_text() == saved  # the earlier run's work is still there
    # continuing it, and checkpointing on into the same directory, is what the message offers
    rc, got = _resume(ckpt, "--checkpoint", str(ckpt), "--checkpoint-every", "0")
    assert rc == 0
    assert got == _reference()


def _frontier_file(ckpt):
    sub = ckpt / (ckpt / "CURRENT").read_text().strip()
    return sub / "frontier-0.pkl"


def _read_chunks(path):
    import pickle

    with open(path, "rb") as f:
        ranks, fps, count = pickle.load(f)
        chunks = []
        while sum(len(c) for c in chunks) < count:
            chunks.append(pickle.load(f))
        assert f.read() == b""
    return ranks, fps, count, chunks


def test_a_level_on_disk_is_checkpointed_chunk_by_chunk_and_resumes(tmp_path, monkeypatch):
    from ackcheck.checker.engines import explore, spill
    from ackcheck.checker.engines.check import model_for
    from ackcheck.invariants.catalogue import select

    # a 1-byte budget keeps every level on disk; 7 states a chunk: a level is written in
    # many pieces, never read whole into memory. The run stops (as at Ctrl-C) at depth 12,
    # in the widest levels, and leaves its checkpoint there.
    monkeypatch.setattr(spill, "CHUNK", 7)
    config = make_config(CONFIG["props"], **CONFIG["bounds"])
    invs = select(["acked-write-survives"], config)

    calls = []

    def stop_at_depth_12(stats, frontier):
        # (the first call at depth 12 is the level boundary; the next, inside the level)
        calls.append(stats.max_depth)
        if calls.count(12) == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "ckpt"
    stopped = explore.explore(model_for(config, invs, lean=True), invs, progress=stop_at_depth_12,
                              progress_every=0.0, checkpoint=str(ckpt), checkpoint_every=3600.0, memory_limit=1)
    assert stopped.interrupted
    _, _, count, chunks = _read_chunks(_frontier_file(ckpt))
    assert count > 100 and len(chunks) == -(-count // 7) and all(len(c) <= 7 for c in chunks)
    again = run_check(config, ["acked-write-survives"], resume=str(ckpt), memory_limit=1)
    assert (again.verdict, again.stats.distinct_states, again.stats.transitions, again.stats.max_depth) == \
        _reference()


def test_a_checkpoint_written_in_one_piece_still_resumes(tmp_path):
    # checkpoints of the previous release hold the frontier as one list
    import pickle

    config = make_config(CONFIG["props"], **CONFIG["bounds"])
    ckpt = tmp_path / "ckpt"
    run_check(config, ["acked-write-survives"], checkpoint=str(ckpt), checkpoint_every=0.0)
    path = _frontier_file(ckpt)
    ranks, fps, _, chunks = _read_chunks(path)
    with open(path, "wb") as f:
        pickle.dump((ranks, fps, [s for c in chunks for s in c]), f)
    again = run_check(config, ["acked-write-survives"], resume=str(ckpt))
    assert (again.verdict, again.stats.distinct_states, again.stats.transitions, again.stats.max_depth) == _reference()


def test_a_resumed_search_hands_its_first_level_to_the_workers(tmp_path):
    # the checkpoint of the last level: one level is left, and it finds nothing new. A
    # resumed search is a long one, so that level already runs in the worker processes
    config = make_config(CONFIG["props"], **CONFIG["bounds"])
    ckpt = tmp_path / "ckpt"
    full = run_check(config, ["acked-write-survives"], checkpoint=str(ckpt), checkpoint_every=0.0)
    again = run_check(config, ["acked-write-survives"], resume=str(ckpt), workers=2)
    assert again.stats.workers == 2
    assert (again.verdict, again.stats.distinct_states, again.stats.transitions, again.stats.max_depth) == \
        (full.verdict, full.stats.distinct_states, full.stats.transitions, full.stats.max_depth)


def _short_after(calls: int):
    """spill.memory_short saying "short" from its `calls`-th call on (each process counts its own)."""
    n = [0]

    def short(extra: int = 0) -> bool:
        n[0] += 1
        return n[0] >= calls
    return short


@pytest.mark.parametrize("workers", [1, 2])
def test_running_out_of_memory_stops_at_a_level_boundary_and_resumes(tmp_path, monkeypatch, workers):
    """When the machine's memory runs short while a level is built, the search stops at the
    level boundary instead of being killed: `incomplete` (exit 4) with the states so far and
    a warning that says why, and a checkpoint that resumes to the uninterrupted counts."""
    from ackcheck.checker.engines import explore as explore_mod
    from ackcheck.checker.engines import spill

    reference = _reference()
    monkeypatch.setattr(explore_mod, "HANDOVER_SECONDS", 0.0)  # (workers from the start: the patch is inherited)
    monkeypatch.setattr(explore_mod, "_COMPACT_EVERY", 64)  # (memory is looked at after each filter of candidates)
    monkeypatch.setattr(spill, "memory_short", _short_after(12))
    config = make_config(CONFIG["props"], **CONFIG["bounds"])
    ckpt = tmp_path / "ckpt"
    stopped = run_check(config, ["acked-write-survives"], workers=workers, checkpoint=str(ckpt), checkpoint_every=1e9)
    assert stopped.verdict == "incomplete" and stopped.exit_code == 4
    assert 0 < stopped.stats.distinct_states < reference[1]
    assert any("available memory" in w for w in stopped.warnings), stopped.warnings
    assert (ckpt / "CURRENT").exists()
    monkeypatch.setattr(spill, "memory_short", lambda extra=0: False)
    resumed = run_check(config, ["acked-write-survives"], workers=workers, resume=str(ckpt))
    assert (resumed.verdict, resumed.stats.distinct_states, resumed.stats.transitions,
            resumed.stats.max_depth) == reference
