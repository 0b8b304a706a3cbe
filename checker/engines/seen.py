"""The seen set: 64-bit state fingerprints in one numpy open-addressing table.

Fingerprints are stored as uint64 in a flat array (0 marks an empty slot; a fingerprint
that is 0 is stored as 1, one more collision in 2^64). Inserts and lookups are
vectorised: a whole batch of candidate fingerprints is probed at once (linear probing),
so the per-state cost is a few numpy operations, not a Python dict entry (a dict of
Python ints costs about 100 bytes per state; this table costs 8 bytes divided by its
load factor). The table grows when it is 3/4 full to a size where it is 1/2 full, so it
never holds more than 16 bytes per stored fingerprint.

Batches are probed and inserted a slice of SLICE at a time: a probe holds about ten
temporary arrays the length of its batch, so one call with the tens of millions of
fingerprints a large level sends (or a growing table re-inserting its whole content)
would otherwise need gigabytes beside the table for a moment - in every worker at once,
since the partitions of a search fill and grow together.
"""

from __future__ import annotations

import numpy as np

_MAX_LOAD = 0.75
_GROW_TO_LOAD = 0.5
SLICE = 1 << 20  # fingerprints probed at once (about 100 MB of temporaries)


def _by_slice(probe, fps: np.ndarray) -> np.ndarray:
    """probe(fps) - a mask over fps - computed a slice of SLICE at a time."""
    return np.concatenate([probe(fps[at:at + SLICE]) for at in range(0, len(fps), SLICE)])


def as_fingerprints(values) -> np.ndarray:
    """Python ints (hash() values, signed 64-bit) as a uint64 array, 0 mapped to 1."""
    a = np.array(values, dtype=np.int64).view(np.uint64)
    a[a == 0] = 1
    return a


class FingerprintSet:
    def __init__(self, capacity: int = 1 << 16):
        self.table = np.zeros(max(16, capacity), dtype=np.uint64)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        return self.table.nbytes

    def _slots(self, fps: np.ndarray) -> np.ndarray:
        return (fps % np.uint64(len(self.table))).astype(np.int64)

    def contains(self, fps: np.ndarray) -> np.ndarray:
        """A boolean mask: which of `fps` are in the set."""
        if len(fps) > SLICE:
            return _by_slice(self.contains, fps)
        out = np.zeros(len(fps), dtype=bool)
        if not len(fps):
            return out
        table = self.table
        size = len(table)
        idx = self._slots(fps)
        pending = np.arange(len(fps))
        while len(pending):
            got = table[idx[pending]]
            hit = got == fps[pending]
            out[pending[hit]] = True
            go_on = ~hit & (got != 0)
            pending = pending[go_on]
            idx[pending] += 1
            idx[pending] %= size
        return out

    def add(self, fps: np.ndarray) -> np.ndarray:
        """Insert distinct fingerprints `fps`; returns the mask of those that were new."""
        if self.count + len(fps) > _MAX_LOAD * len(self.table):
            self._grow(self.count + len(fps))
        return _by_slice(self._add, fps) if len(fps) > SLICE else self._add(fps)

    def _add(self, fps: np.ndarray) -> np.ndarray:
        new = np.zeros(len(fps), dtype=bool)
        if not len(fps):
            return new
        table = self.table
        size = len(table)
        idx = self._slots(fps)
        pending = np.arange(len(fps))
        while len(pending):
            slots = idx[pending]
            got = table[slots]
            mine = fps[pending]
            hit = got == mine
            empty = got == 0
            claim = pending[empty]
            if len(claim):
                # several candidates may race for one empty slot: one write wins, the others
                # (other fingerprints: the batch is distinct) probe on
                table[idx[claim]] = fps[claim]
                won = table[idx[claim]] == fps[claim]
                new[claim[won]] = True
                lost = claim[~won]
            else:
                lost = claim
            pending = np.concatenate([pending[~hit & ~empty], lost])
            idx[pending] += 1
            idx[pending] %= size
        self.count += int(new.sum())
        return new

    def values(self) -> np.ndarray:
        return self.table[self.table != 0]

    def slices(self):
        """The stored fingerprints, a slice of the table at a time (no copy of the whole set)."""
        table = self.table
        for at in range(0, len(table), SLICE):
            part = table[at:at + SLICE]
            yield part[part != 0]

    def save(self, path, share: tuple[int, int] | None = None) -> None:
        """The stored fingerprints as a .npy file (np.load reads it), written a slice at a
        time; with `share` (count, index) only those with fingerprint % count == index."""

        def parts():
            for part in self.slices():
                yield part if share is None else part[part % np.uint64(share[0]) == np.uint64(share[1])]
        size = self.count if share is None else sum(len(p) for p in parts())
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint64, shape=(size,))
        at = 0
        for part in parts():
            out[at:at + len(part)] = part
            at += len(part)
        out.flush()
        del out

    def _grow(self, need: int) -> None:
        grown = FingerprintSet(max(16, int(need / _GROW_TO_LOAD) + 1))
        for part in self.slices():  # distinct already: straight into the bigger table
            grown._add(part)
        self.table, self.count = grown.table, grown.count

    @classmethod
    def of(cls, fps: np.ndarray) -> FingerprintSet:
        s = cls(int(len(fps) / _GROW_TO_LOAD) + 16)
        s.add(np.unique(fps))
        return s
