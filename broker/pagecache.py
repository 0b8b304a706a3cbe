"""One simulated host's OS page cache, between a broker process and its real files.

What Kafka relies on (docs/kafka.md, section 5) and what this layer reproduces:

- `write`/`append` land in the page cache only: every reader on the host (the broker, a
  restarted broker, the recovery scan) sees them at once, the disk does not.
- `flush` is the OS flusher / an fsync: the dirty bytes are written to the real files and
  fsynced. Kafka's own `log.flush.interval.messages` flush is an fsync of the segments.
- a *process crash* (kill -9) is not visible here at all: the broker object is discarded,
  the host keeps its page cache, and a restarted broker reads the same bytes back.
- a *power loss* (or OS crash) drops the cache: the real files keep only what was flushed,
  plus, optionally, a torn prefix of the next unflushed bytes (the OS had written part of a
  page out) that recovery must cut off.

Checkpoint files (HW, recovery point, leader epochs, consumer offsets) are written the
way Kafka writes them: to a temporary file, fsynced, atomically renamed (`write_durable`).
Truncating a segment and deleting one are durable at once, as the model assumes
(`flushed_offset` becomes min(flushed, new LEO)).

Physical I/O is batched without changing what survives: the bytes a host has made
durable are written to the real files, in full, before anything can observe the disk
(a flush, a power loss, a clean shutdown, `materialize()`); until then they are held as
"durable, not yet written". A flush does the writes and a real `os.fsync` per file.
"""

from __future__ import annotations

import os
from pathlib import Path


class CachedFile:
    __slots__ = ("data", "disk_len", "phys_len")

    def __init__(self, data: bytearray, disk_len: int, phys_len: int):
        self.data = data  # the content as the OS presents it
        self.disk_len = disk_len  # the disk holds data[:disk_len] (durable)
        # the real file holds exactly data[:phys_len] (<= disk_len); -1: not written yet
        self.phys_len = phys_len


class HostPageCache:
    """The page cache of one host, over the directory `root` (paths are relative to it)."""

    def __init__(self, root: str | Path, *, fsync: bool = True):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.files: dict[str, CachedFile] = {}
        self.stats = {"flushes": 0, "fsyncs": 0, "bytes_flushed": 0, "power_losses": 0, "torn_bytes": 0}

    # --------------------------------------------------------------------- reading
    def _load(self, rel: str) -> CachedFile | None:
        f = self.files.get(rel)
        if f is not None:
            return f
        p = self.root / rel
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return None
        f = CachedFile(bytearray(data), len(data), len(data))
        self.files[rel] = f
        return f

    def exists(self, rel: str) -> bool:
        return self._load(rel) is not None

    def read(self, rel: str) -> bytes | None:
        f = self._load(rel)
        return None if f is None else bytes(f.data)

    def view(self, rel: str) -> memoryview | None:
        """A read-only view of the cached content (valid until the next write to the file)."""
        f = self._load(rel)
        return None if f is None else memoryview(f.data).toreadonly()

    def read_range(self, rel: str, pos: int, size: int) -> bytes:
        f = self._load(rel)
        if f is None:
            raise FileNotFoundError(rel)
        return bytes(f.data[pos:pos + size])

    def size(self, rel: str) -> int:
        f = self._load(rel)
        return -1 if f is None else len(f.data)

    def durable_len(self, rel: str) -> int:
        f = self._load(rel)
        return 0 if f is None else f.disk_len

    def listdir(self, rel_dir: str) -> list[str]:
        names = set()
        d = self.root / rel_dir
        if d.is_dir():
            names.update(p.name for p in d.iterdir() if p.is_file())
        prefix = rel_dir.rstrip("/") + "/"
        for rel in self.files:
            if rel.startswith(prefix) and "/" not in rel[len(prefix):]:
                names.add(rel[len(prefix):])
        return sorted(names)

    def mkdir(self, rel_dir: str) -> None:
        (self.root / rel_dir).mkdir(parents=True, exist_ok=True)

    # --------------------------------------------------------------------- writing
    def create(self, rel: str) -> None:
        """Create an empty file (a new segment). File creation is durable (journaled metadata)."""
        if self._load(rel) is None:
            self.files[rel] = CachedFile(bytearray(), 0, -1)

    def append(self, rel: str, data: bytes) -> int:
        """Append to the page cache; returns the position written at. Not durable."""
        f = self._load(rel)
        if f is None:
            f = self.files[rel] = CachedFile(bytearray(), 0, -1)
        pos = len(f.data)
        f.data += data
        return pos

    def truncate(self, rel: str, size: int) -> None:
        """ftruncate + fsync: the file (and the disk) end at `size`."""
        f = self._load(rel)
        if f is None or size >= len(f.data):
            return
        del f.data[size:]
        f.disk_len = min(f.disk_len, size)
        if f.phys_len > size:
            os.truncate(self.root / rel, size)
            f.phys_len = size

    def delete(self, rel: str) -> None:
        """unlink, durable at once."""
        self.files.pop(rel, None)
        try:
            (self.root / rel).unlink()
        except FileNotFoundError:
            pass

    def write_durable(self, rel: str, data: bytes) -> None:
        """Write a small file atomically and durably (write tmp, fsync, rename), as Kafka's
        checkpoint files are written. The physical write is batched (see the module doc)."""
        f = self.files.get(rel)
        if f is not None and f.data == data and f.disk_len == len(data):
            return
        self.files[rel] = CachedFile(bytearray(data), len(data), -1)

    # ------------------------------------------------------------- flush and faults
    def unflushed(self, rel: str | None = None) -> bool:
        if rel is not None:
            f = self.files.get(rel)
            return f is not None and f.disk_len < len(f.data)
        return any(f.disk_len < len(f.data) for f in self.files.values())

    def flush(self, rels=None) -> int:
        """The OS flusher / fsync: write the dirty bytes of `rels` (default: every file) to
        the real files and fsync them. Returns the number of bytes that became durable."""
        targets = self.files.keys() if rels is None else rels
        n = 0
        for rel in list(targets):
            f = self.files.get(rel)
            if f is None:
                continue
            dirty = f.disk_len < len(f.data)
            if dirty:
                n += len(f.data) - f.disk_len
                f.disk_len = len(f.data)
            # files made durable earlier (checkpoints) were fsynced then: written, not re-synced
            self._write_out(rel, f, sync=dirty)
        if n:
            self.stats["flushes"] += 1
            self.stats["bytes_flushed"] += n
        return n

    def materialize(self) -> None:
        """Make the real files hold exactly the durable bytes (no new durability)."""
        for rel, f in list(self.files.items()):
            self._write_out(rel, f, sync=False)

    def _write_out(self, rel: str, f: CachedFile, *, sync: bool) -> None:
        if f.phys_len == f.disk_len:
            return
        p = self.root / rel
        if 0 <= f.phys_len < f.disk_len:
            with open(p, "r+b") as fh:
                fh.seek(f.phys_len)
                fh.write(f.data[f.phys_len:f.disk_len])
                fh.flush()
                if sync and self.fsync:
                    os.fsync(fh.fileno())
                    self.stats["fsyncs"] += 1
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(f.data[:f.disk_len])
                fh.flush()
                if sync and self.fsync:
                    os.fsync(fh.fileno())
                    self.stats["fsyncs"] += 1
            os.replace(tmp, p)
        f.phys_len = f.disk_len

    def power_loss(self, torn: dict[str, int | bytes] | None = None) -> None:
        """The host loses power: the real files keep their durable bytes; `torn` optionally
        lets some unflushed bytes reach the disk first (int: that many of the file's next
        unflushed bytes; bytes: garbage appended after the durable end)."""
        self.materialize()
        for rel, t in (torn or {}).items():
            f = self.files.get(rel)
            if f is None:
                continue
            extra = f.data[f.disk_len:f.disk_len + t] if isinstance(t, int) else t
            if extra:
                with open(self.root / rel, "ab") as fh:
                    fh.write(extra)
                self.stats["torn_bytes"] += len(extra)
        self.files.clear()
        self.stats["power_losses"] += 1

    def sync_all(self) -> None:
        """Clean shutdown of the host: everything reaches the disk."""
        self.flush()
        self.materialize()

    def dirty_files(self) -> list[str]:
        return sorted(rel for rel, f in self.files.items() if f.disk_len < len(f.data))


class DirectFiles:
    """The same interface over the real OS page cache: every write is a real `write(2)`
    (visible to the next process at once, lost only if the machine itself goes down),
    `flush` is a real fsync. Used by the real-process broker (worker.py), which is
    killed with SIGKILL in the middle of its writes.

    `chunks`/`chunk_delay`: an append is written in that many pieces with a pause between
    them, so a kill can land inside a batch and leave it torn.
    """

    def __init__(self, root: str | Path, *, chunks: int = 1, chunk_delay: float = 0.0):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.chunks = max(1, chunks)
        self.chunk_delay = chunk_delay
        self.synced: dict[str, int] = {}  # what this process has fsynced (it cannot know more)

    def _p(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return self._p(rel).exists()

    def read(self, rel: str) -> bytes | None:
        try:
            return self._p(rel).read_bytes()
        except FileNotFoundError:
            return None

    def view(self, rel: str):
        data = self.read(rel)
        return None if data is None else memoryview(data)

    def read_range(self, rel: str, pos: int, size: int) -> bytes:
        with open(self._p(rel), "rb") as fh:
            fh.seek(pos)
            return fh.read(size)

    def size(self, rel: str) -> int:
        try:
            return self._p(rel).stat().st_size
        except FileNotFoundError:
            return -1

    def durable_len(self, rel: str) -> int:
        return self.synced.get(rel, 0)

    def listdir(self, rel_dir: str) -> list[str]:
        d = self._p(rel_dir)
        return sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() else []

    def mkdir(self, rel_dir: str) -> None:
        self._p(rel_dir).mkdir(parents=True, exist_ok=True)

    def create(self, rel: str) -> None:
        self._p(rel).touch()

    def append(self, rel: str, data: bytes) -> int:
        import time

        fd = os.open(self._p(rel), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            pos = os.fstat(fd).st_size
            step = -(-len(data) // self.chunks)
            for i in range(0, len(data), step):
                if i and self.chunk_delay:
                    time.sleep(self.chunk_delay)
                os.write(fd, data[i:i + step])
        finally:
            os.close(fd)
        return pos

    def truncate(self, rel: str, size: int) -> None:
        with open(self._p(rel), "r+b") as fh:
            fh.truncate(size)
            fh.flush()
            os.fsync(fh.fileno())
        if self.synced.get(rel, 0) > size:
            self.synced[rel] = size

    def delete(self, rel: str) -> None:
        try:
            self._p(rel).unlink()
        except FileNotFoundError:
            pass
        self.synced.pop(rel, None)

    def write_durable(self, rel: str, data: bytes) -> None:
        p = self._p(rel)
        tmp = p.with_name(p.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
        self.synced[rel] = len(data)

    def flush(self, rels=None) -> int:
        n = 0
        for rel in (rels if rels is not None else self.listdir("")):
            p = self._p(rel)
            if not p.exists():
                continue
            with open(p, "rb+") as fh:
                os.fsync(fh.fileno())
            size = p.stat().st_size
            n += max(0, size - self.synced.get(rel, 0))
            self.synced[rel] = size
        return n

    def dirty_files(self) -> list[str]:
        return []

    def sync_all(self) -> None:
        pass
