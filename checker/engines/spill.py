"""A frontier on disk: the states of a BFS level in chunk files, read back in order.

`--memory-limit SIZE` gives the search a budget of resident memory (split evenly over the
partitions). When a partition's process is past its share at a level boundary, the level
it is about to expand goes to disk (`SpilledStates`, chunks of CHUNK states in a private
temporary directory) and is read back one chunk at a time while it is expanded, so the
frontier costs one chunk of memory instead of a whole level. Spilling changes no order:
the states are read back in the order they were written (their rank order), so the
counts, the verdict and the trace are those of an in-memory run.

The level being *built* goes to disk too (`CandidateRuns`): past its share while it
expands a level, a partition writes the candidates it holds (the new states it generated,
with their sleep sets) to a run of chunk files and keeps only their fingerprints and keys
(16 bytes a candidate); the owners pick the winners from those arrays as before, and the
winners become the next frontier where they lie (`KeptChunks`: the runs read back in
order, the losers skipped), with no copy in memory. What stays in memory: the seen set
(8-16 bytes a state), the parent tables (8 bytes a state), 16 bytes per candidate of the
level being built, and one chunk of states. So a search is bounded by disk, not by RAM.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
import time

import numpy as np

CHUNK = 20_000  # states per chunk file

# A level's files in model/_tuples.c's compact form: written and read back by the same run,
# in a fifth of pickle's instructions (docs/reach.md). Checkpoints, which another build may
# read, stay pickles. Where the module is not built, or a chunk holds something it does not
# take, the chunk is pickled; a file says which it is by its first bytes.
try:
    from ackcheck.model._tuples import pack as _pack
    from ackcheck.model._tuples import unpack as _unpack
except ImportError:  # (not built, or not the build of the current source)
    _pack = _unpack = None
_PACKED = b"AK1"  # (what pack's output starts with; a pickle starts with its protocol byte)


def dump_values(name: str, values: list) -> None:
    """Write `values` (states, candidates, sleep sets) to a new file `name`."""
    data = None
    if _pack is not None:
        try:
            data = _pack(values)
        except (TypeError, ValueError):  # (something pack does not take: pickle it)
            data = None
    with open(name, "wb") as f:
        if data is not None:
            f.write(data)
        else:
            pickle.dump(values, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_values(name: str) -> list:
    """What dump_values wrote to `name`."""
    with open(name, "rb") as f:
        data = f.read()
    if data[:len(_PACKED)] == _PACKED:
        if _unpack is None:
            raise ValueError(f"{name}: written by model/_tuples.c, which is not built here")
        return _unpack(data)
    return pickle.loads(data)

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1000 ** 2, "mib": 1 << 20,
          "g": 1 << 30, "gb": 1000 ** 3, "gib": 1 << 30, "t": 1 << 40, "tb": 1000 ** 4, "tib": 1 << 40}


def parse_size(text: str) -> int:
    """'512M', '4G', '1.5GiB', '2000000' -> bytes (K/M/G/T and KiB/MiB/GiB/TiB are powers of
    1024, KB/MB/GB/TB powers of 1000). ValueError with the reason for anything else."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m:
        raise ValueError("expected a size such as 512M, 4G or 2GiB")
    unit = m.group(2).lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown unit {m.group(2)!r} (use K, M, G, T, KB, MB, GB, KiB, MiB or GiB)")
    size = int(float(m.group(1)) * _UNITS[unit])
    if size < 1 << 20:
        raise ValueError("must be at least 1M")
    return size


def parse_memory_limit(text: str) -> int | None:
    """`--memory-limit`: a size (parse_size) or 'none' (no limit, None)."""
    if text.strip().lower() == "none":
        return None
    try:
        return parse_size(text)
    except ValueError as e:
        raise ValueError(f"{e}; or none for no limit") from None


def default_memory_limit() -> int | None:
    """`--memory-limit`'s default: two thirds of this machine's physical memory (None where
    the system does not say). A search that would outgrow the machine keeps its levels on
    disk instead of being killed for memory with its work lost. The last third is for what
    a level's end takes on top of the budget (the candidates' arrays, a seen set that
    doubles, the exchange between processes) and for the coordinator."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None
    return total * 2 // 3 if total > 0 else None


def available_bytes() -> int | None:
    """The machine's memory available to new allocations now (Linux MemAvailable), or None
    where the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


_FLOOR: list = []


def memory_short(extra: int = 0) -> bool:
    """The machine is about to run out of memory: less than 5% of it (at least 256 MiB),
    plus `extra` bytes about to be needed, is still available. A search that builds a level
    past this point would be killed by the kernel with its work lost; it stops at the level
    boundary instead (explore.py)."""
    avail = available_bytes()
    if avail is None:
        return False
    if not _FLOOR:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (OSError, ValueError, AttributeError):
            total = 0
        _FLOOR.append(max(256 << 20, total // 20))
    return avail < _FLOOR[0] + extra


def resident_bytes() -> int:
    """This process's resident memory now (Linux /proc; elsewhere its peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_chunks(f, states) -> None:
    """Pickle `states` (any iterable, a SpilledStates too) to the open file f in chunks of
    CHUNK, one after the other: never more than a chunk of them in memory at once."""
    chunk: list = []
    for state in states:
        chunk.append(state)
        if len(chunk) >= CHUNK:
            pickle.dump(chunk, f, protocol=pickle.HIGHEST_PROTOCOL)
            chunk = []
    if chunk:
        pickle.dump(chunk, f, protocol=pickle.HIGHEST_PROTOCOL)


def read_chunks(f, count: int):
    """The chunks write_chunks wrote to f for `count` states, one at a time."""
    at = 0
    while at < count:
        chunk = pickle.load(f)
        yield chunk
        at += len(chunk)


PREFIX = "ackcheck-frontier-"
STALE_SECONDS = 3600.0


def remove_stale(where: str | None = None, now: float | None = None) -> list[str]:
    """Remove the chunk directories that killed searches left behind (SIGKILL, the kernel's
    OOM killer: no cleanup runs): a directory `PREFIX<pid>-...` whose process is gone and
    that nothing has written to for STALE_SECONDS (so a live search in another PID
    namespace sharing this /tmp keeps its files). Returns the paths removed."""
    where = where or tempfile.gettempdir()
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(where)
    except OSError:
        return removed
    for name in names:
        m = re.fullmatch(re.escape(PREFIX) + r"(\d+)-.*", name)
        if not m:
            continue
        path = os.path.join(where, name)
        try:
            if now - os.stat(path).st_mtime < STALE_SECONDS:
                continue
            os.kill(int(m.group(1)), 0)
            continue  # (its process is alive)
        except ProcessLookupError:
            pass
        except OSError:  # (gone already, or another user's process)
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


class SpillDir:
    """A private temporary directory for one partition's chunk files, removed with it (its
    name carries the process id, so that a later search can remove it if this process is
    killed: `remove_stale`)."""

    def __init__(self):
        self.path: str | None = None
        self.serial = 0

    def new_file(self) -> str:
        if self.path is None:
            remove_stale()
            self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        self.serial += 1
        return os.path.join(self.path, f"chunk-{self.serial:08d}.pkl")

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def __del__(self):
        self.remove()


def _unlink(names: list[str]) -> None:
    for name in names:
        try:
            os.unlink(name)
        except OSError:
            pass


class SpilledStates:
    """A list of states on disk, written once, iterated in order as often as needed (a
    checkpoint reads it again); `discard` removes its files once the level is done."""

    def __init__(self, states: list, where: SpillDir, chunk: int | None = None):
        chunk = chunk or CHUNK
        self.files: list[str] = []
        self.length = len(states)
        for i in range(0, len(states), chunk):
            name = where.new_file()
            dump_values(name, states[i:i + chunk])
            self.files.append(name)

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        for name in self.files:
            yield from load_values(name)

    def materialise(self) -> list:
        return list(self)

    def discard(self) -> None:
        _unlink(self.files)
        self.files = []


class CandidateRuns:
    """The candidates of the level being built that went to disk, in the order they were
    generated (their keys' order): per run the fingerprints and keys in memory, the states
    and their sleep sets in chunk files of at most CHUNK."""

    def __init__(self, where: SpillDir, sleeping: bool):
        self.where = where
        self.sleeping = sleeping
        self.state_files: list[str] = []
        self.sleep_files: list[str] = []
        self.sizes: list[int] = []  # candidates per chunk file
        self.fps: list = []  # per run, a uint64 array
        self.keys: list = []  # per run, an int64 array
        self.count = 0

    def write(self, fps, items: list) -> None:
        """A run: `items` are (key, state, sleep set) in key order, `fps` their fingerprints."""
        self.fps.append(fps)
        self.keys.append(np.array([it[0] for it in items], dtype=np.int64))
        for i in range(0, len(items), CHUNK):
            part = items[i:i + CHUNK]
            self.state_files.append(self._dump([it[1] for it in part]))
            if self.sleeping:
                self.sleep_files.append(self._dump([it[2] for it in part]))
            self.sizes.append(len(part))
        self.count += len(items)

    def _dump(self, values: list) -> str:
        name = self.where.new_file()
        dump_values(name, values)
        return name

    def kept(self, mask) -> tuple:
        """The candidates `mask` keeps (a bool array over all of them, in order), as (states,
        sleep sets or None): lists on disk that read back in order. They own the files."""
        states = KeptChunks(self.state_files, self.sizes, mask)
        sleeps = KeptChunks(self.sleep_files, self.sizes, mask) if self.sleeping else None
        self.state_files, self.sleep_files = [], []
        return states, sleeps

    def discard(self) -> None:
        _unlink(self.state_files + self.sleep_files)
        self.state_files, self.sleep_files = [], []


class KeptChunks(SpilledStates):
    """Chunk files of which a mask keeps some entries: iterated in order, only the kept
    ones, one chunk in memory at a time (a chunk with none kept is not read)."""

    def __init__(self, files: list[str], sizes: list[int], mask):
        self.files = files
        self.sizes = sizes
        self.mask = mask
        self.length = int(np.count_nonzero(mask))

    def __iter__(self):
        at = 0
        for name, n in zip(self.files, self.sizes):
            keep = np.flatnonzero(self.mask[at:at + n])
            at += n
            if not len(keep):
                continue
            chunk = load_values(name)
            if len(keep) == n:
                yield from chunk
            else:
                for k in keep.tolist():
                    yield chunk[k]

