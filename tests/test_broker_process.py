"""A real broker process, SIGKILLed in the middle of its writes, restarted: recovery never
serves a torn or corrupt batch and never loses a flushed (or even a written) one.
bench/bench_broker.py does the same >= 100 times."""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

from kafka.record.memory_records import MemoryRecords

from ackcheck.broker.killtest import kill_and_recover


def test_sigkill_during_writes_then_recovery(tmp_path):
    rng = random.Random(7)
    root = str(tmp_path / "broker")
    results = [kill_and_recover(root, rng, max_wait=0.08, chunk_delay=0.004) for _ in range(6)]
    # the worker made progress across restarts, and recovery kept all of it
    assert results[-1].log_end_offset > 0
    for prev, cur in itertools.pairwise(results):
        assert cur.started_at == prev.log_end_offset
    assert all(r.log_end_offset >= r.flushed and r.log_end_offset >= r.appended for r in results)
    # with a pause inside every batch's writes, kills land mid-batch: recovery cut torn tails
    torn = [r for r in results if r.recovery is not None and r.recovery.truncated]
    assert torn, "no kill landed inside a batch"
    assert all(r.recovery.truncated_bytes > 0 for r in torn)
    # what is left is Kafka's format, batch by batch (kafka-python, an independent reader)
    seg_dir = os.path.join(root, "topic-0")
    offset = 0
    for name in sorted(n for n in os.listdir(seg_dir) if n.endswith(".log")):
        mr = MemoryRecords(Path(os.path.join(seg_dir, name)).read_bytes())
        while (b := mr.next_batch()) is not None:
            assert b.validate_crc() and b.magic == 2 and b.base_offset == offset
            values = [r.value for r in b]
            assert values == [str(o + 1).encode() for o in range(offset, offset + len(values))]
            offset += len(values)
    assert offset == results[-1].log_end_offset
