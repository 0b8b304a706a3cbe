"""The seen set (checker/engines/seen.py): a set of 64-bit fingerprints, probed a slice at a time."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ackcheck.checker.engines import seen
from ackcheck.checker.engines.seen import FingerprintSet


@pytest.fixture
def small_slices(monkeypatch):
    monkeypatch.setattr(seen, "SLICE", 7)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(1, 2**64 - 1), unique=True, max_size=60), max_size=8))
def test_the_set_is_a_set_in_any_slicing(batches):
    """Batches added one after the other, sliced or not, answer as a Python set does."""
    for slice_size in (7, 1 << 20):
        old = seen.SLICE
        seen.SLICE = slice_size
        try:
            s, ref = FingerprintSet(16), set()
            for batch in batches:
                fps = np.array(batch, dtype=np.uint64)
                new = s.add(fps)
                assert [bool(x) for x in new] == [v not in ref for v in batch]
                ref.update(batch)
                assert len(s) == len(ref)
            probe = np.array(sorted(ref | {1, 2**63, 12345}), dtype=np.uint64)
            assert [bool(x) for x in s.contains(probe)] == [int(v) in ref for v in probe]
            assert sorted(int(v) for v in s.values()) == sorted(ref)
            assert sorted(int(v) for part in s.slices() for v in part) == sorted(ref)
        finally:
            seen.SLICE = old


def test_save_writes_what_load_reads(tmp_path, small_slices):
    fps = np.unique(np.random.default_rng(7).integers(1, 2**63, 5000, dtype=np.uint64))
    s = FingerprintSet.of(fps)
    s.save(tmp_path / "seen.npy")
    assert np.array_equal(np.sort(np.load(tmp_path / "seen.npy")), fps)
    FingerprintSet().save(tmp_path / "empty.npy")
    assert len(np.load(tmp_path / "empty.npy")) == 0


def test_a_large_batch_and_a_growing_table_need_little_beside_the_table():
    """Adding 3M fingerprints at once (the table grows twice on the way) keeps the
    temporaries to a few slices' worth: the worst moment is the old and the grown table
    side by side, not ten arrays as long as the batch (which would be 240 MB here)."""
    fps = np.unique(np.random.default_rng(3).integers(1, 2**63, 3_000_000, dtype=np.uint64))
    s = FingerprintSet(1 << 16)
    s.add(fps[:1000])
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        s.add(fps)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(s) == len(fps)
    tables = s.nbytes + s.nbytes * 2 // 3  # the grown table and the one it replaced
    overhead = peak - before - tables
    print(f"table {s.nbytes / 1e6:.0f} MB, peak beside the tables {overhead / 1e6:.0f} MB")
    assert overhead < 12 * 8 * seen.SLICE + 2 * fps.nbytes // 8
