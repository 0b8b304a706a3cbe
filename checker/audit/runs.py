"""Runs of the audit, the matrix and the seed claims.

- a *run* is one exhaustive check (config + bounds + invariant ids), keyed by a canonical
  form of the config (settings the model cannot distinguish within the bounds are folded:
  retries beyond the attempt bound, in-flight beyond the batch count), the ackcheck
  version and a fingerprint of the model's source, and cached on disk as JSON;
- a *group* run checks the invariants of several guarantees that share one bounds profile
  in one exploration; on a violation the violated invariant is set aside and the rest
  re-checked (BFS: the first violation found is a shortest one for that invariant too);
- runs go to a process pool (one per core)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from ackcheck import __version__
from ackcheck.traces.settings import (
    Config,
    ConfigError,
)

_FINGERPRINTED = (
    "ackcheck.model.protocol", "ackcheck.model.state", "ackcheck.model.truncation", "ackcheck.model.symmetry",
    "ackcheck.invariants.catalogue", "ackcheck.checker.engines.explore", "ackcheck.checker.engines.check",
    "ackcheck.traces.settings", "ackcheck.traces.eras", "ackcheck.traces.observation",
    "ackcheck.traces.format",
)


@functools.cache
def code_fingerprint() -> str:
    """A hash of the model's and invariants' source: a cache entry from other code is stale
    even when the version string did not change (development installs)."""
    h = hashlib.sha256()
    for name in _FINGERPRINTED:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and os.path.exists(spec.origin):
            h.update(name.encode())
            h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()[:16]


def canonical_config(config: Config) -> dict:
    """The config as the model sees it within its bounds. Folds settings no execution
    within the bounds can tell apart (tests/test_matrix.py checks the folding against the
    model): attempts per batch are min(retries + 1, max_attempts) (1 for acks=0), and more
    requests in flight than there are batches never matters."""
    d = config.as_dict()
    b = config.bounds
    batches = math.ceil(b.max_records / max(1, config.records_per_batch))
    attempts = 1 if config.acks == "0" else min(config.retries + 1, b.max_attempts)
    d["retries"] = attempts - 1
    d["max.in.flight.requests.per.connection"] = min(config.max_in_flight_requests_per_connection, batches)
    return d


def verdict_config(config: Config) -> dict:
    """Coarser than canonical_config: configs whose state graphs are isomorphic, so a
    verdict and a state count carry over but a trace does not. With a single batch and a
    single attempt the idempotent producer never retries, so its sequence numbers (carried
    in every batch) only relabel the states (tests/test_matrix.py checks this)."""
    d = canonical_config(config)
    b = config.bounds
    batches = math.ceil(b.max_records / max(1, config.records_per_batch))
    if batches == 1 and d["retries"] == 0:
        d["enable.idempotence"] = None
    return d


def run_key(config: Config, invariants: Iterable[str], *, verdict_only: bool = False) -> str:
    material = {
        "ackcheck": __version__,
        "code": code_fingerprint(),
        "config": verdict_config(config) if verdict_only else canonical_config(config),
        "invariants": sorted(invariants),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


class Cache:
    """Run results as JSON files under one directory; None = no caching."""

    def __init__(self, directory: str | Path | None):
        self.dir = Path(directory) if directory else None

    def get(self, key: str) -> dict | None:
        if self.dir is None:
            return None
        try:
            with open(self.dir / f"{key}.json", encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, ValueError):
            return None
        return d if isinstance(d, dict) and d.get("key") == key else None

    def put(self, key: str, value: dict) -> None:
        if self.dir is None:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({**value, "key": key}, f)
            os.replace(tmp, self.dir / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written is only slower


def run_summary(r, invariants) -> dict:
    """A run's result as the cache, the audit, the matrix and the seed claims keep it."""
    return {
        "verdict": r.verdict,  # the one verdict function (engines/result.py): never holds for a cut search
        "complete": r.stats.complete,
        "invariants": list(invariants),
        "violation": {"invariant": r.violation[0], "message": r.violation[1]} if r.violation else None,
        "trace": r.trace.as_dict() if r.trace else None,
        "states": r.stats.distinct_states,
        "transitions": r.stats.transitions,
        "depth": r.stats.max_depth,
        "seconds": round(r.stats.seconds, 3),
        "warnings": list(r.warnings),  # vacuity witnesses never reached (invariants/witnesses.py)
    }


def run_one(config: Config, invariants: Iterable[str], cache_dir: str | None = None) -> dict:
    """One exhaustive check, from the cache when possible. Returns a JSON-able dict."""
    from ackcheck.checker.engines.check import run_check
    from ackcheck.checker.engines.result import verdict_of

    invariants = tuple(invariants)
    key = run_key(config, invariants)
    cache = Cache(cache_dir)
    hit = cache.get(key)
    if hit is not None:
        hit["cached"] = True
        # a cache written before the verdict function could say holds for a cut search
        hit["verdict"] = verdict_of("explore", violated=bool(hit.get("violation")),
                                    complete=hit.get("complete", True))
        if hit.get("trace"):
            # the run may come from an equivalent config (canonical_config): same steps
            hit["trace"]["config"] = config.as_dict()
        return hit
    r = run_check(config, list(invariants))
    if r.ctrl_c:  # (a search in this process took the Ctrl-C: the audit or matrix stops too)
        raise KeyboardInterrupt
    out = run_summary(r, invariants)
    if not r.interrupted:
        cache.put(key, out)
    out["cached"] = False
    return out


def run_group(config: Config, invariants: Iterable[str], cache_dir: str | None = None) -> dict:
    """Check several invariants sharing one config and bounds. Explores once while they
    all hold; a violation sets its invariant aside and re-checks the rest.

    Returns {"per_invariant": {id: run dict}, "runs": [run dicts without traces]}."""
    remaining = list(dict.fromkeys(invariants))
    per: dict[str, dict] = {}
    runs = []
    while remaining:
        r = run_one(config, remaining, cache_dir)
        runs.append({k: v for k, v in r.items() if k != "trace"})
        if r["violation"] is None:
            for inv in remaining:
                per[inv] = r
            break
        inv = r["violation"]["invariant"]
        per[inv] = r
        if inv not in remaining:  # defensive: never loop
            break
        remaining.remove(inv)
    return {"per_invariant": per, "runs": runs}


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C


CLUSTER_ENV = "ACKCHECK_CLUSTER"


class Pool:
    """A process pool over the cores (or inline with jobs=1), with a completion callback.

    With a Dask distributed cluster (`cluster`, or the scheduler address in the environment
    variable ACKCHECK_CLUSTER) the runs go to its workers instead, through Dask's
    concurrent.futures executor: the same engine `check --cluster` uses (docs/reach.md)."""

    def __init__(self, jobs: int | None, cluster: str | None = None):
        cluster_flag = bool(cluster)
        cluster = cluster or os.environ.get(CLUSTER_ENV) or None
        self.client = None
        if cluster:
            from distributed import Client

            try:
                self.client = Client(cluster, timeout="10s")
            except (OSError, TimeoutError, ValueError) as e:
                src = "--cluster" if cluster_flag else CLUSTER_ENV
                raise ConfigError(f"{src}: cannot reach a Dask scheduler at {cluster!r}: {e}") from None
            self.jobs = max(1, len(self.client.scheduler_info()["workers"]))
            self.ex = self.client.get_executor(pure=False)
        else:
            self.jobs = max(1, jobs or os.cpu_count() or 1)
            self.ex = ProcessPoolExecutor(self.jobs, initializer=_worker_init) if self.jobs > 1 else None
        self.pending: dict[Future, Callable] = {}
        self.inline: list[tuple[Callable, tuple, Callable]] = []

    def submit(self, fn: Callable, args: tuple, done: Callable[[object], None]) -> None:
        if self.ex is None:
            self.inline.append((fn, args, done))
        else:
            self.pending[self.ex.submit(fn, *args)] = done

    def drain(self) -> None:
        """Run until every task (including tasks submitted by callbacks) has finished."""
        try:
            while self.inline or self.pending:
                if self.inline:
                    fn, args, done = self.inline.pop(0)
                    done(fn(*args))
                    continue
                finished, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
                for fut in finished:
                    done = self.pending.pop(fut)
                    done(fut.result())
        except BaseException:
            self.close(cancel=True)
            raise

    def close(self, cancel: bool = False) -> None:
        if self.ex is not None:
            if cancel:  # Ctrl-C: stop our workers now rather than after their current run
                for proc in list((getattr(self.ex, "_processes", None) or {}).values()):
                    proc.terminate()
            if self.client is not None:  # Dask's executor: cancel what is still queued
                if cancel:
                    for fut in self.pending:
                        fut.cancel()
                self.ex.shutdown(wait=not cancel)
            else:
                self.ex.shutdown(wait=not cancel, cancel_futures=cancel)
            self.ex = None
        if self.client is not None:
            self.client.close()
            self.client = None
