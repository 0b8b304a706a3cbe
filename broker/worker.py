"""One broker's log as a real process, for kill -9 tests: `python -m ackcheck.broker.worker DIR`.

It opens (recovering, after an unclean stop) the partition log in DIR and appends
batches forever - record ids continue the log (record id = offset + 1) - writing each
batch in several `write(2)` calls so a SIGKILL can tear it, and fsyncing every
`--flush-every` batches (Kafka's log.flush.interval.messages). It reports on stdout, one
line each, flushed before going on:

    ready <log end offset> <truncated bytes> <validated batches>
    appended <end offset>          a whole batch is in the OS page cache
    flushed <end offset>           ... and fsynced, recovery point advanced

so the test that kills it knows what recovery must keep: every appended batch survives
a process kill (the OS page cache outlives the process), and certainly every flushed one.
"""

from __future__ import annotations

import argparse
import sys

from ackcheck.broker.log import CLEAN_SHUTDOWN, PartitionLog
from ackcheck.broker.pagecache import DirectFiles


def open_log(root: str, *, segment_bytes: int, chunks: int = 1, chunk_delay: float = 0.0):
    """Open the log in `root` like a starting broker; returns (log, RecoveryReport)."""
    files = DirectFiles(root, chunks=chunks, chunk_delay=chunk_delay)
    if not files.exists("topic-0"):
        log = PartitionLog.create(files, segment_bytes=segment_bytes)
        return log, None
    clean = files.exists(CLEAN_SHUTDOWN)
    if clean:
        files.delete(CLEAN_SHUTDOWN)
    return PartitionLog.load(files, clean=clean, segment_bytes=segment_bytes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ackcheck.broker.worker")
    p.add_argument("dir")
    p.add_argument("--records-per-batch", type=int, default=5)
    p.add_argument("--flush-every", type=int, default=5, help="fsync every N batches")
    p.add_argument("--segment-bytes", type=int, default=2048)
    p.add_argument("--chunks", type=int, default=3, help="write(2) calls per batch")
    p.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between them")
    p.add_argument("--max-batches", type=int, default=0, help="stop after N batches (0: never)")
    args = p.parse_args(argv)
    log, rep = open_log(args.dir, segment_bytes=args.segment_bytes, chunks=args.chunks,
                        chunk_delay=args.chunk_delay)
    out = sys.stdout
    out.write(f"ready {log.leo} {rep.truncated_bytes if rep else 0} {rep.validated_batches if rep else 0}\n")
    out.flush()
    n = 0
    epoch = (log.epochs.latest_epoch + 1) if log.batches else 0  # a new leader epoch per start
    while not args.max_batches or n < args.max_batches:
        ids = [log.leo + 1 + k for k in range(args.records_per_batch)]
        log.append_as_leader(ids, epoch, producer_id=7, producer_epoch=0, base_sequence=log.leo,
                             timestamp=1_700_000_000_000 + n)
        out.write(f"appended {log.leo}\n")
        out.flush()
        n += 1
        if n % args.flush_every == 0:
            log.flush()
            out.write(f"flushed {log.leo}\n")
            out.flush()
    log.flush()
    log.cache.write_durable(CLEAN_SHUTDOWN, b"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
