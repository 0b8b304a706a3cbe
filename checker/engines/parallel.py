"""Where the partitions of a search run: this process, local worker processes, or a Dask
cluster. Every backend offers the same three calls to the coordinator
(checker/engines/explore.py `search`): `call(method, per-partition args)` runs one
partition method everywhere and returns the results in partition order, `interrupt()`
stops an expansion in progress (Ctrl-C), `close()`.

- `ProcessPool`: one forked process per partition, driven over pipes. States cross a pipe
  only when a new state's owner is another partition (pickled once, routed through the
  coordinator as bytes); fingerprints and keys travel as numpy arrays.
- `DaskPool`: each partition is a Dask actor on a worker of a Dask distributed cluster
  (`--cluster tcp://scheduler:8786`, or a local one). Same protocol; the coordinator
  routes the exchange, so workers need no connections to each other. Checkpoints are
  written by each worker: on a real cluster `--checkpoint` must name a shared directory.

A single-process search hands over to a `ProcessPool` at a level boundary once it has
run for `HANDOVER_SECONDS`: small checks stay in one process (no start-up cost), long
ones use every core. Forked workers inherit the partition and take their shares of it
without serialising anything.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import traceback
from multiprocessing.connection import wait

from ackcheck.checker.engines.explore import HANDOVER_SECONDS, Partition, Spec

__all__ = ["HANDOVER_SECONDS", "DaskPool", "ProcessPool", "WorkerError", "default_workers"]


def default_workers() -> int:
    """All cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class WorkerError(RuntimeError):
    """A partition failed in a worker (its traceback is the message)."""


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the coordinator dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the poll loop below notices
        pass


def _serve(spec: Spec, index: int, count: int, conn, stop, inherited, parent: int, others) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C
    _die_with_parent()
    gc.disable()  # (a process of its own holding millions of tuples: see explore._without_gc)
    for c in others:  # the coordinator's ends of earlier workers' pipes: not ours to hold open
        c.close()
    if os.getppid() != parent:
        return
    part = Partition(spec, index, count)
    part.stop_flag = stop
    if inherited is not None:
        part.take_share(inherited)
        inherited = None
    while True:
        while not conn.poll(1.0):
            if os.getppid() != parent:  # the coordinator is gone
                return
        try:
            method, args = conn.recv()
        except EOFError:
            return
        if method == "close":
            return
        try:
            if method == "expand":  # (a level can take minutes: its progress goes out as it runs)
                res = part.expand(*args, progress=lambda done, cands: conn.send(("progress", (done, cands))),
                                  progress_every=PROGRESS_SECONDS)
            else:
                res = getattr(part, method)(*args)
            conn.send(("ok", res))
        except Exception:  # reported to the coordinator, which raises it
            conn.send(("error", traceback.format_exc()))


PROGRESS_SECONDS = 1.0  # how often a worker reports how far it is in the level it expands


class ProcessPool:
    """One forked worker process per partition (Linux/macOS: fork start method). While they
    expand a level, workers report how far they are: `call("expand", ..., progress)` calls
    progress(states expanded, candidates found), summed over the workers, as they come in."""

    sums_progress = True

    def __init__(self, spec: Spec, count: int, inherited: Partition | None = None):
        ctx = mp.get_context("fork")
        self.count = count
        self.progress = None  # the expand call's progress(done, cands), while one runs
        self.level = {}  # per worker: its last (done, cands) report of the level in progress
        self.stop = ctx.Event()
        self.stop_requested = False  # Ctrl-C's request (request_stop), acted on by call
        self.conns = []
        self.procs = []
        self.owed: set[int] = set()
        for j in range(count):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=_serve, args=(spec, j, count, theirs, self.stop, inherited, os.getpid(),
                                                 list(self.conns)), daemon=True)
            p.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(p)

    def call(self, method: str, args: list | None = None, progress=None) -> list:
        for j, c in enumerate(self.conns):
            c.send((method, args[j] if args is not None else ()))
            self.owed.add(j)
        self.progress = progress
        self.level = {}
        out: list = [None] * self.count
        stopped = False
        try:
            while self.owed:
                ready = wait([self.conns[j] for j in self.owed], timeout=0.2)
                if self.stop_requested and method == "expand" and not self.stop.is_set():
                    self.stop.set()  # the workers drop the level and answer as interrupted
                    stopped = True
                for c in ready:
                    j = self.conns.index(c)
                    val = self._recv(j)
                    if j not in self.owed:
                        out[j] = val
                        if method == "expand" and val[3] and not self.stop.is_set():
                            # one worker stopped short (the machine's memory): the others
                            # stop too, at the same level boundary
                            self.stop.set()
                            stopped = True
        finally:
            self.progress = None
            if stopped:
                self.stop.clear()
        return out

    def _recv(self, j: int):
        """Worker j's next message: its answer (j is then no longer owed one), or a progress
        report of the level it expands (passed on to the call's progress, summed)."""
        try:
            tag, val = self.conns[j].recv()
        except (EOFError, ConnectionError):  # (a killed worker's pipe ends, or is reset)
            self.owed.discard(j)
            raise WorkerError(f"worker {j} died (out of memory?)") from None
        if tag == "progress":
            self.level[j] = val
            if self.progress is not None:
                self.progress(sum(d for d, _ in self.level.values()), sum(c for _, c in self.level.values()))
            return None
        self.owed.discard(j)
        if tag == "error":
            raise WorkerError(val)
        return val

    def request_stop(self) -> None:
        """Ctrl-C, from the signal handler: only a flag (the handler may run anywhere, even
        inside the event's own lock); the expand call in progress stops the workers."""
        self.stop_requested = True

    def interrupt(self) -> None:
        """Stop the expansion in progress: workers drop the level and stay at its start."""
        self.stop_requested = False
        self.stop.set()
        self.progress = None
        while self.owed:  # (their answers; progress reports on the way are dropped)
            for j in list(self.owed):
                self._recv(j)
        self.stop.clear()

    def peak_memory(self) -> int:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return own + sum(self.call("rss"))

    def close(self) -> None:
        for c in self.conns:
            try:
                c.send(("close", ()))
            except OSError:
                pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


class DaskPool:
    """Partitions as actors on a Dask distributed cluster: the running one at `address`, or
    a local cluster of `count` single-threaded worker processes."""

    def __init__(self, spec: Spec, count: int | None = None, address: str | None = None):
        from distributed import Client, LocalCluster

        self.cluster = None
        if address:
            self.client = Client(address, timeout="10s")
        else:
            self.cluster = LocalCluster(n_workers=count or default_workers(), threads_per_worker=1,
                                        processes=True, dashboard_address=":0")
            self.client = Client(self.cluster)
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:
            raise WorkerError(f"--cluster {address}: the cluster has no workers")
        self.count = count or len(workers)
        futures = [self.client.submit(Partition, spec, j, self.count, actor=True, workers=[workers[j % len(workers)]],
                                      pure=False)
                   for j in range(self.count)]
        self.actors = [f.result() for f in futures]

    def call(self, method: str, args: list | None = None, progress=None) -> list:
        futs = [getattr(a, method)(*(args[j] if args is not None else ())) for j, a in enumerate(self.actors)]
        return [f.result() for f in futs]

    def interrupt(self) -> None:  # actors finish their level; the run stops after it
        pass

    def peak_memory(self) -> int:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + sum(self.call("rss"))

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
