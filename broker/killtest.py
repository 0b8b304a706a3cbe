"""kill -9 a real broker process in the middle of its writes, restart, check recovery.

`kill_and_recover(dir, rng)` starts `python -m ackcheck.broker.worker DIR`, lets it write
for a random while, SIGKILLs it, then opens the log in this process as a restarting
broker does (no clean-shutdown marker: validate from the recovery point, cut at the
first invalid batch) and checks that
- every batch now in the segment files is whole and valid (sizes, offsets, CRC-32C),
  i.e. recovery serves no torn or corrupt batch;
- nothing the worker reported as appended (hence nothing flushed) was lost: a process
  kill leaves the OS page cache, so recovery keeps every whole batch;
- offsets and record ids run on without gaps (record id = offset + 1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ackcheck.broker import records
from ackcheck.broker.log import PARTITION_DIR, RecoveryReport
from ackcheck.broker.worker import open_log


class RecoveryCheckError(AssertionError):
    pass


@dataclass
class KillResult:
    started_at: int  # log end when the worker started
    appended: int  # highest end offset the worker reported appended
    flushed: int  # highest end offset it reported fsynced
    recovery: RecoveryReport | None
    log_end_offset: int  # after recovery
    batches: int


def worker_command(root: str, *, chunk_delay: float, flush_every: int, segment_bytes: int) -> list[str]:
    return [sys.executable, "-m", "ackcheck.broker.worker", str(root), "--chunk-delay", str(chunk_delay),
            "--flush-every", str(flush_every), "--segment-bytes", str(segment_bytes)]


def verify_segments(root: str) -> tuple[int, int]:
    """Read every segment back: whole valid batches, contiguous offsets, ids = offset + 1.
    Returns (log end offset, batches)."""
    seg_dir = os.path.join(root, PARTITION_DIR)
    names = sorted(n for n in os.listdir(seg_dir) if n.endswith(".log"))
    expect = 0
    n = 0
    for name in names:
        data = Path(os.path.join(seg_dir, name)).read_bytes()
        if int(name[:-4]) != expect and data:
            raise RecoveryCheckError(f"{name}: segment starts at {int(name[:-4])}, the log ends at {expect}")
        try:
            for _, d in records.iter_batches(data):
                if d.header.base_offset != expect:
                    raise RecoveryCheckError(f"{name}: batch at {d.header.base_offset}, expected {expect}")
                want = tuple(range(expect + 1, expect + 1 + len(d.values)))
                if d.record_ids != want:
                    raise RecoveryCheckError(f"{name}: records {d.record_ids} at offset {expect}, expected {want}")
                expect = d.header.next_offset
                n += 1
        except records.CorruptBatch as e:
            raise RecoveryCheckError(f"{name}: recovery left a bad batch: {e}") from None
    return expect, n


def kill_and_recover(root: str, rng, *, max_wait: float = 0.05, chunk_delay: float = 0.002,
                     flush_every: int = 4, segment_bytes: int = 2048) -> KillResult:
    proc = subprocess.Popen(worker_command(root, chunk_delay=chunk_delay, flush_every=flush_every,
                                           segment_bytes=segment_bytes),
                            stdout=subprocess.PIPE, text=True)
    try:
        ready = proc.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise RecoveryCheckError(f"worker did not start: {ready}")
        started = int(ready[1])
        time.sleep(rng.uniform(0.0, max_wait))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    appended = flushed = started
    for line in proc.stdout.read().splitlines():
        kind, _, value = line.partition(" ")
        if kind == "appended":
            appended = max(appended, int(value))
        elif kind == "flushed":
            flushed = max(flushed, int(value))
    proc.stdout.close()
    log, rep = open_log(root, segment_bytes=segment_bytes)  # the restart: recovery
    if log.leo < appended:
        raise RecoveryCheckError(f"recovery lost data: the log ends at {log.leo}, the killed worker had "
                                 f"appended up to {appended} (flushed up to {flushed})")
    leo, n = verify_segments(root)
    if leo != log.leo:
        raise RecoveryCheckError(f"the recovered log ends at {log.leo} but its segments hold {leo}")
    # what the restarted broker serves (its fetch path: index -> segment bytes -> CRC check)
    for b in log.batches:
        try:
            served = records.decode_batch(log.read_raw(b)).record_ids
        except records.CorruptBatch as e:
            raise RecoveryCheckError(f"the recovered broker serves a bad batch at {b.base_offset}: {e}") from None
        if served != tuple(range(b.base_offset + 1, b.end_offset + 1)):
            raise RecoveryCheckError(f"the recovered broker serves {served} at offset {b.base_offset}")
    return KillResult(started, appended, flushed, rep, leo, n)
