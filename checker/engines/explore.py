"""Exhaustive breadth-first exploration: the first violation found is a shortest trace.

The search runs level by level over `count` *partitions* of the fingerprint space (one per
worker; one in a single-process run). A fingerprint is the 64-bit hash of a state (as
TLC's fingerprints) - with `symmetry`, of the canonical form of its class under broker
renaming (model/symmetry.py), and always of `Model.abstract(state)`, which forgets what
can no longer matter. Partition `fp % count` owns a fingerprint: it alone decides whether
a state is new, and keeps it in its seen set (checker/engines/seen.py: 8-16 bytes per
state; with a few partitions every partition keeps the whole set, see "Whole seen sets").
Two distinct states share a fingerprint with probability about n^2 / 2^64 (below 1e-7 for
a million states).

**One deterministic order, any number of workers.** Every state of level d has a *rank*:
its position in the order a single-process BFS would reach it. A transition is named by
its key `(rank of its source, index of the action among the source's successors)`, packed
as `rank << 16 | index`. The parent of a new state is its generating transition with the
*smallest key* - the first that a sequential BFS would take - and the next level's ranks
are the new states sorted by that key. Violations are ordered by key too (a state check
on a new state before a step check on the same transition, each in the catalogue's
order), and the first one ends the search. So the distinct count, the transition count,
the verdict and the trace are those of the sequential search, whatever the number of
workers and however their work interleaves.

Per level: every partition expands its frontier (`expand`: successors, step checks,
fingerprints, a local first-key-wins dedup, candidates for each owner), owners pick each
fingerprint's smallest key and keep the unseen ones (`absorb`), and each generator keeps
and state-checks the winners among its own candidates (`collect`): a partition *owns*
fingerprints but *holds* the states it generated, so states cross processes only when
the coordinator evens out the next frontier (`give`, `take`). The coordinator sorts the
winners' keys into the next ranks - that sorted array is also the level's parent-pointer
table (8 bytes a state). A trace is rebuilt by walking the tables back to the initial
state and replaying the chosen successor indices through the model.

**Sleep sets** (Godefroid's partial-order reduction, of transitions, not of states). A
frontier state s carries a sleep set Z(s): actions it need not take. Expanding s takes its
actions in successor order, skipping those in Z(s) (`Model.successors_asleep`: same
actions at the same indices, no next state computed for an asleep one); the successor by a
taken action a gets Z(s.a) = the actions of Z(s), or taken at s before a, that commute with
a at s (model/independence.py, renamed with the successor's canonical renaming). Why every
state is still reached at its depth through its winning arrival (the smallest key): were
the winning path to t to take an asleep action a at s, a went to sleep at an ancestor
because an action ordered before it there commutes with it, and moving a up to that
ancestor gives a path to t of the same length with a smaller key - no smaller key exists.
So a state keeps the sleep set of its winning arrival, and by induction on the depth the
states, their depths, parents and ranks, the verdicts of state invariants and the traces
are those of the plain search. An asleep transition is still counted (it exists; an asleep
action that may stutter is computed to tell it from a stutter), so the transition count is
the same too. A step invariant judges every transition, and vacuity witnesses read them
until all are reached: sleep sets are off with the first and wait for the second. An empty
sleep set is always sound, so a checkpoint and the hand-over to workers at the first level
may drop them (`Stats.transitions_asleep` counts the skipped transitions and is the one
figure that depends on that); a level expanded from disk keeps them on disk beside its
states. tests/test_sleep_sets.py compares
the two searches on every era scenario, matrix cells, 1 and 2 workers and a spilled level,
and shows that a relation that is too wide is caught.

**Whole seen sets.** A partition can filter against its seen set only the candidates it
owns; the others it must keep, and send to their owners, until the level ends - most of
them states seen at earlier levels (a state has about seven successors and one new state
per expanded state at R4's widest levels). With up to WHOLE_SEEN_WORKERS partitions every
partition keeps the whole seen set instead: after each level, the fingerprints of the
winners the others generated (`learn`, 8 bytes a new state), so every candidate already
seen is dropped where it is generated. Which candidates reach their owners changes,
which win does not (a seen candidate never wins), so no result does; checkpoints keep the
owned part only, the same files either way. The price is 8-16 bytes a state in every
partition instead of one.

States are tuples of ints, so their hashes are the same in every process (PYTHONHASHSEED
only salts str/bytes).
"""

from __future__ import annotations

import gc
import os
import pickle
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ackcheck.checker.engines import spill
from ackcheck.checker.engines.interrupts import give_back_sigint, take_sigint
from ackcheck.checker.engines.result import Result, Stats
from ackcheck.checker.engines.seen import FingerprintSet, as_fingerprints
from ackcheck.checker.engines.spill import (
    CandidateRuns,
    SpillDir,
    SpilledStates,
    read_chunks,
    resident_bytes,
    write_chunks,
)
from ackcheck.invariants.catalogue import Invariant, Judge, select
from ackcheck.invariants.witnesses import Watcher  # (imported before any fork: workers import nothing)
from ackcheck.model.independence import KINDS, commute, footprint
from ackcheck.model.protocol import Model
from ackcheck.model.state import observe
from ackcheck.model.symmetry import RENAMING_LAYOUT, SIGNATURE_LAYOUT, candidates, canonical_state, permute
from ackcheck.traces.format import ACTIONS, Trace, Violation

# hash(state), remembering the hashes of shared subtrees (checker/engines/_fingerprint.c);
# and `key`: a successor's candidate renamings and the fingerprint of its canonical form,
# without building the renamed state (model/symmetry.RENAMING_LAYOUT and SIGNATURE_LAYOUT
# say what a renaming does to each field and what a broker's signature is made of)
try:
    from ackcheck.checker.engines._fingerprint import clear as _forget_hashes
    from ackcheck.checker.engines._fingerprint import fingerprint as _remembered_hash
    from ackcheck.checker.engines._fingerprint import key as _canonical_key
    from ackcheck.checker.engines._fingerprint import remember as _remember_hashes
    from ackcheck.checker.engines._fingerprint import set_layout as _set_layout
    from ackcheck.checker.engines._fingerprint import set_signature as _set_signature
except ImportError:  # (not built, or not the build of the current source: the builtin)
    _remembered_hash = _remember_hashes = _forget_hashes = _canonical_key = None
else:
    _set_layout(*RENAMING_LAYOUT)
    _set_signature(*SIGNATURE_LAYOUT)

Progress = Callable[[Stats, int], None]  # (stats so far, frontier size)

INDEX_BITS = 16  # successors per state < 65536
INDEX_MASK = (1 << INDEX_BITS) - 1
_COMPACT_EVERY = 1 << 16  # local candidates between filters against the seen set
_WRAP_UP_BYTES = 128  # memory per local candidate that the end of a level takes (lists, arrays)
_MOVE_BYTES = 4096  # memory per state moved by a rebalance (pickled, routed, unpickled)

_BROKER_ARGS = {name: tuple(i for i, arg in enumerate(args) if arg in ("broker", "follower"))
                for name, args in ACTIONS.items()}


def _rename(action: tuple, names) -> tuple:
    """The action with its broker arguments renamed (names[b] is b's new name)."""
    idx = _BROKER_ARGS[action[0]]
    if not idx or names is None:
        return action
    a = list(action)
    for i in idx:
        a[i + 1] = names[a[i + 1]]
    return tuple(a)


def _compose(pi, sigma, n: int):
    """b -> pi[sigma[b]] (None is the identity)."""
    if pi is None:
        return sigma
    if sigma is None:
        return pi
    return tuple(pi[sigma[b]] for b in range(n))


def _inverse(sigma, n: int):
    if sigma is None:
        return None
    inv = [0] * n
    for b, c in enumerate(sigma):
        inv[c] = b
    return tuple(inv)


def _sleep_after(model: Model, s, action: tuple, sleep: tuple, taken: list, codes: dict, pos) -> tuple:
    """The sleep set of s's successor by `action`, in the successor's explored form (broker
    b renamed pos[b]): the actions asleep at s or taken at s before `action` that commute
    with it at s (the module docstring, "Sleep sets"). `codes` keeps the footprints at s already computed."""
    fa = codes.get(action)
    if fa is None:
        fa = codes[action] = footprint(model, s, action)
    if not fa & KINDS:  # (an action the relation calls dependent on everything)
        return ()
    out = []
    for group in (sleep, taken):
        for z in group:
            fz = codes.get(z)
            if fz is None:
                fz = codes[z] = footprint(model, s, z)
            if commute(fa, fz):
                out.append(z if pos is None else _rename(z, pos))
    return tuple(out)


def build_trace(model: Model, path) -> Trace:
    return Trace(config=model.config.as_dict(), steps=[(a, observe(st)) for a, st in path])


# --------------------------------------------------------------------------- the search spec


class Spec:
    """What a partition needs to rebuild the model and the checks in another process:
    the config, the invariant ids, the model's options and symmetry (all picklable)."""

    def __init__(self, config, invariant_ids: list[str], *, consumer: bool, ghosts, symmetry: bool,
                 watch: bool = False, invariants: list[Invariant] | None = None, memory_limit: int | None = None,
                 reduction: bool = True, sleep_sets: bool = True, eager: bool = False):
        self.config = config
        # resident bytes for the whole search: past its share, a partition keeps the level it
        # expands on disk (checker/engines/spill.py); no part of the result depends on it
        self.memory_limit = memory_limit
        # the invariant objects themselves, for partitions in this process or forked from it
        # (callers may check invariants outside the catalogue); others rebuild them by id
        self._invariants = invariants
        self.watch = watch  # evaluate vacuity witnesses (invariants/witnesses.py)
        self.invariant_ids = list(invariant_ids)
        self.consumer = consumer
        self.ghosts = None if ghosts is None else sorted(ghosts)
        self.symmetry = symmetry
        self.reduction = reduction  # Model.abstract forgets finished batches' bookkeeping
        self.eager = eager  # ... in the states themselves (Model.abstract, "Eagerly")
        # skip transitions with sleep sets (the module docstring); no part of the result depends on it
        self.sleep_sets = sleep_sets

    @classmethod
    def of(cls, model: Model, invariants: list[Invariant], symmetry: bool, watch: bool = False,
           memory_limit: int | None = None, sleep_sets: bool = True) -> Spec:
        return cls(model.config, [inv.id for inv in invariants], consumer=model.with_consumer,
                   ghosts=model.ghosts, symmetry=symmetry, watch=watch, invariants=list(invariants),
                   memory_limit=memory_limit, reduction=model.reduction, sleep_sets=sleep_sets,
                   eager=model.forget_eagerly)

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_invariants"] = None  # (another machine: rebuilt from the catalogue by id)
        return d

    def model(self) -> Model:
        return Model(self.config, consumer=self.consumer, ghosts=self.ghosts, reduction=self.reduction,
                     eager=self.eager)

    def invariants(self) -> list[Invariant]:
        if self._invariants is not None:
            return self._invariants
        return select(self.invariant_ids, self.config)

    def fingerprinter(self, model: Model):
        abstract = model.abstract
        if abstract.__name__ == "_same":
            return hash
        return lambda s: hash(abstract(s))

    def explored(self, model: Model, raw):
        """(fingerprint, pos) of the explored form of `raw` (pos: its renaming, None: none)."""
        fpf = self.fingerprinter(model)
        if self.symmetry:
            fp, pos, _ = canonical_state(raw, fpf)
            return fp, pos
        return fpf(raw), None

    def identity(self) -> str:
        """A string that changes when anything the search depends on does."""
        return repr((self.config.as_dict(), sorted(self.invariant_ids), self.consumer, self.ghosts, self.symmetry,
                     self.reduction, self.eager))


# --------------------------------------------------------------------------- one partition


def _without_gc(method):
    """Run a partition step with the cyclic garbage collector paused (restored after). A
    partition holds millions of long-lived tuples and makes no reference cycles, so the
    collector would only rescan them, again and again, as a level allocates: for a resumed
    search or a Dask worker, which `search` does not reach (it pauses the collector in the
    coordinator's process only), loading a checkpoint of 8 million states took minutes."""

    def step(self, *args, **kwargs):
        was = gc.isenabled()
        gc.disable()
        try:
            return method(self, *args, **kwargs)
        finally:
            if was:
                gc.enable()

    step.__name__ = method.__name__
    step.__doc__ = method.__doc__
    return step


class Partition:
    """One partition of the fingerprint space: its seen set and its part of the frontier.
    Methods are the per-level steps the coordinator calls, in order; their arguments and
    results are plain data (numpy arrays, bytes), so a partition can live in another
    process or on another machine."""

    def __init__(self, spec: Spec, index: int, count: int, watch=None):
        self.spec = spec
        if watch is None and spec.watch:
            watch = Watcher(spec.invariant_ids, spec.config)
        self.watcher = watch  # vacuity witnesses seen on this partition's transitions
        self.watching = watch is not None
        self.index = index
        self.count = count
        self.model = spec.model()
        invs = spec.invariants()
        judge = Judge(invs, spec.config)
        self.state_checks = judge.state_checks
        self.step_checks = judge.step_checks
        self.order = {inv.id: k for k, inv in enumerate(invs)}
        self.fingerprint = spec.fingerprinter(self.model)
        self.seen = FingerprintSet()
        # the whole seen set, not only the owned part ("Whole seen sets" in the module docstring)
        self.whole_seen = 1 < count <= WHOLE_SEEN_WORKERS
        self.ranks = np.zeros(0, dtype=np.int64)
        self.fps = np.zeros(0, dtype=np.uint64)  # of the frontier states (for checkpoints)
        self.frontier: list = []
        self.next: list = []
        # sleep sets (the module docstring): with step checks every transition must be taken
        self.sleeping = spec.sleep_sets and not self.step_checks
        self.frontier_sleeps: list | None = None  # per frontier state its sleep set (None: all empty)
        self.next_sleeps: list | None = None
        self.next_keys = np.zeros(0, dtype=np.int64)
        self.next_fps = np.zeros(0, dtype=np.uint64)
        self.sent: list = []
        self.stop_flag = None  # set by a local pool: a multiprocessing.Event for Ctrl-C
        self.ranked = True  # the frontier has its ranks (set_ranks done since the last collect)
        limit = getattr(spec, "memory_limit", None)
        self.memory_limit = None if limit is None else limit // count  # this partition's share
        self.spill_dir = SpillDir()
        self.spilled_levels = 0  # levels this partition expanded from disk
        self._runs: CandidateRuns | None = None  # the level being built, on disk
        self._run_events: list = []  # state-check violations among its candidates: (index, event)

    # -- level 0
    @_without_gc
    def start(self, fp: int, state) -> None:
        fps = as_fingerprints([fp])
        owned = int(fps[0]) % self.count == self.index
        if owned or self.whole_seen:
            self.seen.add(fps)
        if owned:
            self.frontier = [state]
            self.frontier_sleeps = None
            self.ranks = np.zeros(1, dtype=np.int64)
            self.fps = fps

    def frontier_size(self) -> int:
        return len(self.frontier)

    # -- 1. successors
    @_without_gc
    def expand(self, ranks=None, progress=None, progress_every: float = 0.5):
        """Set the frontier's ranks (those the coordinator computed at the end of the last
        level, if not set yet) and expand it in rank order. Returns (candidates per owner as (fps, keys)
        arrays, the first step-check violation (key, 1, order, invariant) or None,
        (ranks, successor counts) of the expanded states, interrupted)."""
        if ranks is not None:
            self.set_ranks(ranks)
        model = self.model
        successors = model.successors
        asleep = model.successors_asleep
        sleeping = self.sleeping
        sleeps = iter(self.frontier_sleeps) if sleeping and self.frontier_sleeps is not None else None
        cfg = self.spec.config
        step_checks = self.step_checks
        symmetry = self.spec.symmetry
        fpf = self.fingerprint
        plain = fpf is hash  # the fingerprint of a state is its hash (Model.abstract forgets nothing)
        # The same hash, computed by the accelerator: a state's subtrees are hashed once when
        # it is expanded (`remember_hashes(s)`), and its successors, which share most of them,
        # then hash only what their action rebuilt. Values are hash()'s own.
        remember_hashes = _remember_hashes if plain and _remembered_hash is not None else None
        if remember_hashes is not None:
            fpf = _remembered_hash
            plain = False
        # (the same fingerprints and renamings: the renamed state is built only for a new one, below)
        canonical_key = _canonical_key if remember_hashes is not None else None
        canon = canonical_state
        cands_of = candidates
        local: dict = {}
        fresh: list = []  # fingerprints put in `local` since its last filter against the seen set
        remember = fresh.append
        event = None
        counts = np.zeros(len(self.frontier), dtype=np.int64)
        stop = self.stop_flag
        watch = self.watcher if self.watching else None
        interrupted = False
        short = False  # the machine's memory ran short (spill.memory_short)
        limit = self.memory_limit
        compact_every = _COMPACT_EVERY
        runs = None  # past `limit`, the candidates go to disk (spill.CandidateRuns)
        self._run_events = []
        done = 0
        skipped = 0
        t_last = time.perf_counter()
        for k, s in enumerate(self.frontier):
            base = int(self.ranks[k]) << INDEX_BITS
            i = 0
            if remember_hashes is not None:
                remember_hashes(s)
            if sleeping:
                sleep = next(sleeps) if sleeps is not None else ()
                taken: list = []  # the actions taken at s so far, in successor order
                codes: dict = {}  # their footprints at s (model/independence.py), as needed
                # (while vacuity witnesses watch, every transition is taken, asleep or not)
                every = watch is not None or not sleep
                out = successors(s) if every else asleep(s, sleep)
            else:
                out = successors(s)
            for action, raw in out:
                key = base | i
                i += 1
                if raw is None:  # asleep: its successor is reached by another path of the same length
                    skipped += 1
                    continue
                pos = None
                if symmetry:
                    got = canonical_key(raw) if canonical_key is not None else None
                    if got is None:
                        cands = cands_of(raw)
                        if cands is None:  # (most successors: already their class's canonical form)
                            fp = hash(raw) if plain else fpf(raw)
                            t = raw
                        else:
                            fp, pos, t = canon(raw, fpf, cands)
                    elif got.__class__ is int:  # (most successors)
                        fp = got
                        t = raw
                    else:
                        fp, pos = got
                        t = None  # (built below if new)
                else:
                    fp = fpf(raw)
                    t = raw
                if fp not in local:  # the first (smallest) key wins here
                    if t is None:  # (a renamed successor whose fingerprint is new)
                        t = permute(raw, pos)
                    if sleeping:
                        local[fp] = (key, t, _sleep_after(model, s, action, sleep, taken, codes, pos)
                                     if sleep or taken else ())
                    else:
                        local[fp] = (key, t)
                    remember(fp)
                if sleeping and not (every and sleep and action in sleep):  # (one in `sleep` already)
                    taken.append(action)
                if watch is not None and not watch(s, raw):
                    watch = None
                    self.watching = False
                if step_checks:
                    for inv_id, check in step_checks:
                        if check(s, raw, cfg):
                            event = (key, 1, self.order[inv_id], inv_id)
                            break
                    if event is not None:
                        break
            counts[k] = i
            done = k + 1
            if event is not None:
                break
            if len(fresh) >= compact_every:
                self._compact(local, fresh)
                fresh.clear()
                if limit is not None and local and resident_bytes() > limit:
                    # past this partition's share: the level being built goes to disk
                    if runs is None:
                        runs = CandidateRuns(self.spill_dir, sleeping)
                    self._flush(local, runs)
                if spill.memory_short():
                    # (past the floor the kernel would kill this process: the level is
                    # dropped instead, and the search stops at the level boundary)
                    short = True
                    break
            if not k & 63:
                if stop is not None and stop.is_set():
                    interrupted = True
                    break
                if progress is not None:
                    now = time.perf_counter()
                    if now - t_last >= progress_every:
                        t_last = now
                        progress(done, len(local) + (runs.count if runs is not None else 0))
        if remember_hashes is not None:
            _forget_hashes()  # (the table's tuples are let go with the level)
        if not (interrupted or short) and event is None and spill.memory_short(len(local) * _WRAP_UP_BYTES):
            short = True  # (what follows - the candidates as arrays, the exchange - needs room too)
        if interrupted or short:
            if runs is not None:
                runs.discard()
            self._run_events = []
            return None, None, None, OUT_OF_MEMORY if short else True
        if runs is not None:  # all the candidates to disk: the winners stay there as the next frontier
            if local:
                self._flush(local, runs)
            fps = np.concatenate(runs.fps)
            keys = np.concatenate(runs.keys)
            runs.fps, runs.keys = [], []
            items = None
        else:
            fps = as_fingerprints(list(local)) if local else np.zeros(0, dtype=np.uint64)
            items = list(local.values())
            keys = np.array([it[0] for it in items], dtype=np.int64) if items else np.zeros(0, dtype=np.int64)
        self._runs = runs
        self._cand_keys = keys
        owner = (fps % np.uint64(self.count)).astype(np.int64) if self.count > 1 else None
        out = []
        self.sent = []
        self._cand_fps = fps
        for j in range(self.count):
            sel = np.flatnonzero(owner == j) if owner is not None else np.arange(len(fps))
            if (j == self.index or self.whole_seen) and len(sel):  # drop what we know is seen already
                sel = sel[~self.seen.contains(fps[sel])]
            out.append((fps[sel], keys[sel]))
            self.sent.append((sel, items))
        return out, event, (self.ranks[:done], counts[:done], skipped), False

    def _flush(self, local: dict, runs: CandidateRuns) -> None:
        """Write the local candidates to a run on disk and forget them (the level being
        built past this partition's share of --memory-limit). A state on disk is not read
        again before it is expanded, so the state checks `collect` makes on the winners
        are made here on every candidate, and `collect` keeps those of the winners: the
        same violations, judged on the same states."""
        items = list(local.values())
        if self.state_checks:
            base = runs.count
            for k, item in enumerate(items):
                found = self._violation(item)
                if found is not None:
                    self._run_events.append((base + k, found))
        runs.write(as_fingerprints(list(local)), items)
        local.clear()

    def _compact(self, local: dict, fresh: list) -> None:
        """Drop the local candidates put in since the last call (`fresh`, their
        fingerprints) that this partition owns and has seen: this bounds memory in a big
        level. Older candidates were filtered already, and the seen set does not change
        while a level is expanded, so each candidate is looked up once: a level costs time
        in proportion to its candidates, not to their number times the level's size."""
        fps = as_fingerprints(fresh)
        drop = self.seen.contains(fps)
        if self.count > 1 and not self.whole_seen:  # (only the owned part is known here)
            drop &= fps % np.uint64(self.count) == np.uint64(self.index)
        if drop.any():
            for fp in np.array(fresh, dtype=object)[drop]:
                del local[fp]

    # -- 2. owners decide
    @_without_gc
    def absorb(self, inbound: list) -> list:
        """Candidates (fps, keys) from every partition (in partition order) for fingerprints
        this one owns: per fingerprint the smallest key wins, and wins only if unseen.
        Returns, per source partition, the mask of its candidates that won."""
        sizes = [len(f) for f, _ in inbound]
        if not sum(sizes):
            return [np.zeros(n, dtype=bool) for n in sizes]
        fps = np.concatenate([f for f, _ in inbound])
        keys = np.concatenate([k for _, k in inbound])
        order = np.lexsort((keys, fps))
        sfp = fps[order]
        first = np.ones(len(sfp), dtype=bool)
        first[1:] = sfp[1:] != sfp[:-1]
        best = order[first]
        new = self.seen.add(fps[best])
        mask = np.zeros(len(fps), dtype=bool)
        mask[best[new]] = True
        return np.split(mask, np.cumsum(sizes)[:-1])

    # -- 3. winners: state checks, then to their owners
    @_without_gc
    def collect(self, masks: list):
        """The masks from every owner for this partition's candidates: the winners among
        them are this partition's part of the next frontier (it holds the states; their
        owners hold the fingerprints). Returns (their keys, the first state-check violation
        among them or None)."""
        if self._runs is not None:
            return self._collect_on_disk(masks)
        state_checks = self.state_checks
        event = None
        chosen: list = []
        fps = []
        for j, mask in enumerate(masks):
            sel, items = self.sent[j]
            win = sel[mask]
            chosen.extend(items[w] for w in win)
            fps.append(self._cand_fps[win])
        if state_checks:
            # (on the explored form: a renaming of the successor changes no verdict). Every
            # winner is checked, in any order, and the violation with the smallest key is
            # the level's: the one a search checking states in key order would meet first
            # (sorting a level of millions of states by key would cost more than it saves).
            for item in chosen:
                found = self._violation(item)
                if found is not None and (event is None or found < event):
                    event = found
        self.sent = []
        self._cand_fps = None
        self.next = [c[1] for c in chosen]
        self.next_sleeps = [c[2] for c in chosen] if self.sleeping else None
        self.next_keys = np.array([c[0] for c in chosen], dtype=np.int64)
        self.next_fps = _concat(fps)
        self.ranked = False
        return self.next_keys, event, False, self._won()

    def _violation(self, item):
        """The first state invariant (catalogue order) the candidate `item` (key, state, ...)
        violates, as a level's event (key, 0, order, invariant), or None."""
        t = item[1]
        cfg = self.spec.config
        for inv_id, check in self.state_checks:
            if check(t, cfg):
                return item[0], 0, self.order[inv_id], inv_id
        return None

    def _collect_on_disk(self, masks: list):
        """`collect` for a level built on disk: the winners stay in the runs' files, in
        generation order, which is their keys' order (so also their ranks' order: the
        next frontier needs no sorting). Returns (keys, violation, True)."""
        win = np.sort(np.concatenate([sel[mask] for (sel, _), mask in zip(self.sent, masks)]))
        kept = np.zeros(len(self._cand_keys), dtype=bool)
        kept[win] = True
        event = min((ev for k, ev in self._run_events if kept[k]), default=None)
        self.next, self.next_sleeps = self._runs.kept(kept)
        self.next_keys = self._cand_keys[win]
        self.next_fps = self._cand_fps[win]
        self._runs = None
        self._run_events = []
        self.sent = []
        self._cand_fps = self._cand_keys = None
        self.ranked = False
        return self.next_keys, event, True, self._won()

    def _won(self):
        """With the whole seen set: the fingerprints of the winners this partition generated
        (for the others' seen sets, `learn`), after adding those it does not own to its own
        (the owned ones went in with `absorb`). Otherwise None."""
        if not self.whole_seen:
            return None
        self.learn(self.next_fps)
        return self.next_fps

    @_without_gc
    def learn(self, fps: np.ndarray) -> None:
        """The fingerprints of the level's winners other partitions generated (whole seen sets)."""
        if len(fps):
            self.seen.add(fps)

    @_without_gc
    def give(self, plan: list) -> list:
        """Hand `k` states of the next frontier to partition `v` for each (v, k) in `plan`
        (balancing the work of the next level). Returns per partition None or (keys, fps,
        pickled states)."""
        out: list = [None] * self.count
        for v, k in plan:
            n = len(self.next)
            sleeps = self.next_sleeps[n - k:] if self.next_sleeps is not None else None
            out[v] = (self.next_keys[n - k:], self.next_fps[n - k:],
                      pickle.dumps((self.next[n - k:], sleeps), protocol=pickle.HIGHEST_PROTOCOL))
            del self.next[n - k:]
            if sleeps is not None:
                del self.next_sleeps[n - k:]
            self.next_keys = self.next_keys[:n - k]
            self.next_fps = self.next_fps[:n - k]
        return out

    @_without_gc
    def take(self, inbound: list) -> np.ndarray:
        """States other partitions gave this one; returns the keys of its next frontier."""
        for item in inbound:
            if item is None:
                continue
            keys, fps, blob = item
            states, sleeps = pickle.loads(blob)
            if self.next_sleeps is not None:  # (an empty sleep set is always sound)
                self.next_sleeps.extend(sleeps if sleeps is not None else [()] * len(states))
            self.next.extend(states)
            self.next_keys = np.concatenate([self.next_keys, keys])
            self.next_fps = np.concatenate([self.next_fps, fps])
        return self.next_keys

    def set_ranks(self, ranks: np.ndarray) -> None:
        """The next frontier, with its ranks, becomes the frontier (once: later calls with
        the same ranks change nothing)."""
        if self.ranked:
            return
        self.ranked = True
        order = np.argsort(ranks, kind="stable")
        if not isinstance(self.frontier, list):  # a spilled level, expanded: its files go
            self.frontier.discard()
        if self.frontier_sleeps is not None and not isinstance(self.frontier_sleeps, list):
            self.frontier_sleeps.discard()
        nxt = self.next_sleeps
        if not isinstance(self.next, list):  # built on disk, in rank order (_collect_on_disk; never rebalanced)
            assert not (order[1:] < order[:-1]).any()
            self.frontier = self.next
            self.frontier_sleeps = nxt
        else:
            self.frontier = [self.next[k] for k in order]
            self.frontier_sleeps = [nxt[k] for k in order] if nxt is not None and len(nxt) == len(order) else None
        self.ranks = ranks[order]
        self.fps = self.next_fps[order]
        self.next = []
        self.next_sleeps = None
        if (self.memory_limit is not None and isinstance(self.frontier, list) and self.frontier
                and resident_bytes() > self.memory_limit):
            self.frontier = SpilledStates(self.frontier, self.spill_dir)  # (read back in rank order)
            if self.frontier_sleeps is not None:  # (and their sleep sets beside them, in the same order)
                self.frontier_sleeps = SpilledStates(self.frontier_sleeps, self.spill_dir)
            self.spilled_levels += 1

    # -- checkpoints
    @_without_gc
    def save(self, directory: str) -> None:
        """This partition's seen set and frontier. The frontier is written in chunks, one
        after the other: a level on disk is read back one chunk at a time, never whole (a
        whole level of a large search can outgrow the machine, and the checkpoint must not
        be what kills the run)."""
        d = Path(directory)
        # (the owned part only: a checkpoint is the same whoever holds the whole set)
        self.seen.save(d / f"seen-{self.index}.npy", (self.count, self.index) if self.whole_seen else None)
        with open(d / f"frontier-{self.index}.pkl", "wb") as f:
            pickle.dump((self.ranks, self.fps, len(self.frontier)), f, protocol=pickle.HIGHEST_PROTOCOL)
            write_chunks(f, self.frontier)

    @_without_gc
    def load(self, directory: str, parts: int) -> None:
        """Take this partition's share of a checkpoint written by `parts` partitions."""
        d = Path(directory)
        seen, ranks, fps, frontier = [], [], [], []
        cnt = np.uint64(self.count)
        me = np.uint64(self.index)
        for p in range(parts):
            v = np.load(d / f"seen-{p}.npy")
            seen.append(self._kept(v))
            with open(d / f"frontier-{p}.pkl", "rb") as f:
                r, fp, st = pickle.load(f)
                mine = fp % cnt == me
                ranks.append(r[mine])
                fps.append(fp[mine])
                if isinstance(st, list):  # (a checkpoint written in one piece)
                    frontier.extend(st[k] for k in np.flatnonzero(mine))
                    continue
                at = 0  # st: the number of states, in chunks after the header
                for chunk in read_chunks(f, st):
                    frontier.extend(s for s, m in zip(chunk, mine[at:at + len(chunk)]) if m)
                    at += len(chunk)
        self.seen = FingerprintSet.of(np.concatenate(seen))
        self.ranked = False
        self.next = frontier
        self.next_sleeps = None  # (not in a checkpoint: an empty sleep set is always sound)
        self.next_fps = np.concatenate(fps)
        self.set_ranks(np.concatenate(ranks))

    def memory(self) -> int:
        return self.seen.nbytes

    def collector_enabled(self) -> bool:
        """Whether the cyclic garbage collector is on in this partition's process."""
        return gc.isenabled()

    def rss(self) -> int:
        """Peak resident memory of this process."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _kept(self, fps: np.ndarray) -> np.ndarray:
        """Of seen fingerprints, those this partition keeps: all of them with the whole seen
        set, else its owned part."""
        return fps if self.whole_seen else fps[fps % np.uint64(self.count) == np.uint64(self.index)]

    @_without_gc
    def take_share(self, other: Partition) -> None:
        """Take this partition's share of `other`'s seen set and frontier (a single-process
        search handing over to workers at a level boundary)."""
        cnt, me = np.uint64(self.count), np.uint64(self.index)
        v = other.seen.values()
        self.seen = FingerprintSet.of(self._kept(v))
        keep = np.flatnonzero(other.fps % cnt == me)
        frontier = other.frontier if isinstance(other.frontier, list) else list(other.frontier)
        self.next = [frontier[k] for k in keep]
        sleeps = other.frontier_sleeps
        if sleeps is not None and not isinstance(sleeps, list):
            sleeps = list(sleeps)
        self.next_sleeps = [sleeps[k] for k in keep] if sleeps is not None and self.sleeping else None
        self.next_fps = other.fps[keep]
        self.ranked = False
        self.set_ranks(other.ranks[keep])

    def witnessed(self) -> set:
        return set(self.watcher.reached) if self.watcher is not None else set()


# --------------------------------------------------------------------------- the coordinator


class InProcess:
    """Partitions in this process (a single-process search: one partition)."""

    def __init__(self, spec: Spec, count: int = 1, watch=None, progress_every: float = 0.5):
        self.parts = [Partition(spec, j, count, watch) for j in range(count)]
        self.progress_every = progress_every
        self.count = count
        self.stop_event = threading.Event()
        for p in self.parts:
            p.stop_flag = self.stop_event  # (its is_set is Python: the Ctrl-C handler gets to run)

    def request_stop(self) -> None:
        """Ctrl-C (in the signal handler): the partitions stop within 64 states."""
        self.stop_event.set()

    def call(self, method: str, args: list | None = None, progress=None) -> list:
        out = []
        for j, p in enumerate(self.parts):
            a = args[j] if args is not None else ()
            if method == "expand":
                out.append(p.expand(*a, progress=progress, progress_every=self.progress_every))
            else:
                out.append(getattr(p, method)(*a))
        return out

    def interrupt(self) -> None:  # the partitions stopped at Ctrl-C, at the level's start
        self.stop_event.clear()

    def peak_memory(self) -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def close(self) -> None:
        self.parts = []  # (their states go now, while the search still holds the collector paused)


class _OutOfMemory(Exception):
    """A partition stopped expanding a level for the machine's memory (OUT_OF_MEMORY)."""


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be resumed (missing, another configuration)."""


_CURRENT = "CURRENT"


def _write_checkpoint(directory: str, backend, count: int, spec: Spec, depth: int, parents, stats: Stats) -> None:
    """Frontier, seen sets and parent tables at a level boundary, in a fresh sub-directory;
    CURRENT names the newest complete one (replaced atomically), older ones are removed."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    sub = root / f"level-{depth:04d}"
    sub.mkdir(exist_ok=True)
    backend.call("save", [(str(sub),)] * count)
    meta = {"identity": spec.identity(), "parts": count, "depth": depth, "parents": parents,
            "distinct": stats.distinct_states, "transitions": stats.transitions, "seconds": stats.seconds}
    with open(sub / "meta.pkl", "wb") as f:
        pickle.dump(meta, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp = root / (_CURRENT + ".tmp")
    tmp.write_text(sub.name)
    os.replace(tmp, root / _CURRENT)
    for old in root.glob("level-*"):
        if old.name != sub.name:
            for f in old.iterdir():
                f.unlink()
            old.rmdir()


def read_checkpoint(directory: str, spec: Spec) -> tuple[Path, dict]:
    root = Path(directory)
    try:
        sub = root / (root / _CURRENT).read_text().strip()
        with open(sub / "meta.pkl", "rb") as f:
            meta = pickle.load(f)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        raise CheckpointError(f"--resume {directory}: no complete checkpoint there") from None
    if meta["identity"] != spec.identity():
        raise CheckpointError(f"--resume {directory}: the checkpoint is of another configuration, bounds or "
                              "invariant set")
    return sub, meta


def search(spec: Spec, backend, *, progress: Progress | None = None, checkpoint: str | None = None,
           resume: tuple[Path, dict] | None = None, checkpoint_every: float = 60.0, workers: int = 1, watch=None,
           handover=None, handover_after: float = 1.0) -> Result:
    """The level-synchronous BFS over `backend`'s partitions (see the module docstring),
    from the start or from the checkpoint `resume` (read_checkpoint's answer).
    `handover(backend) -> backend`, if given, is called once at the first level boundary
    after `handover_after` seconds (a single-process search moving to worker processes).
    The search closes the backend it ends with."""
    cfg = spec.config
    count = backend.count
    model = spec.model()
    invs = spec.invariants()
    judge = Judge(invs, cfg)
    max_depth = cfg.bounds.max_depth
    stats = Stats(workers=backend.count)
    result = Result("explore", cfg, [inv.id for inv in invs], stats=stats)
    t0 = time.perf_counter()

    init = model.init()
    fp0, init_pos = spec.explored(model, init)
    explored_init = init if init_pos is None else permute(init, init_pos)
    parents: list[np.ndarray] = [np.full(1, -1, dtype=np.int64)]
    depth = 0
    seconds_before = 0.0
    if resume:
        sub, meta = resume
        backend.call("load", [(str(sub), meta["parts"])] * count)
        parents = meta["parents"]
        depth = meta["depth"]
        stats.distinct_states = meta["distinct"]
        stats.transitions = meta["transitions"]
        seconds_before = meta["seconds"]
    else:
        stats.distinct_states = 1
        if watch is not None:
            watch(None, init)
        v = judge.initial(init)
        if v:
            result.violation = v
            result.trace = build_trace(model, [(None, init)])
            result.trace.violation = Violation(v[0], v[1], 0)
            stats.seconds = time.perf_counter() - t0
            return result
        backend.call("start", [(fp0, explored_init)] * count)
    frontier_size = len(parents[-1])
    found = None
    pending = None  # the next level's ranks per partition, not yet sent
    last_save = time.perf_counter()
    phase = None
    # Ctrl-C never raises inside the backend (an answer from a worker half-received would
    # be lost, and the pipes out of step): the handler only asks. While the partitions expand
    # a level, a backend that can stop them (`request_stop`) does: they drop the level and
    # answer as interrupted, at its start. Otherwise - the coordinator exchanging a level,
    # which cannot stop halfway, or Dask actors - the stop waits for the next level
    # boundary. Either way the partitions are at a boundary the checkpoint is written from.
    # A second Ctrl-C stops at once, without a checkpoint.
    ctrl_c = [0]

    def on_ctrl_c(signum, frame):
        ctrl_c[0] += 1
        if ctrl_c[0] > 1:
            raise KeyboardInterrupt
        if phase == "expand":
            request = getattr(backend, "request_stop", None)
            if request is not None:
                request()

    previous_handler = take_sigint(on_ctrl_c)
    gc_was_enabled = gc.isenabled()
    # Millions of long-lived tuples and no reference cycles: the cyclic garbage collector
    # would only rescan them again and again, so it is paused.
    gc.disable()

    def level_progress(done: int, cands: int) -> None:
        if progress is not None:
            stats.seconds = seconds_before + time.perf_counter() - t0
            stats.max_depth = depth
            stats.level_expanded, stats.level_size = done, frontier_size
            progress(stats, frontier_size - done + cands)
            stats.level_expanded = 0

    try:
        while frontier_size and found is None:
            if ctrl_c[0]:
                phase = "boundary"
                raise KeyboardInterrupt
            if max_depth and depth >= max_depth:
                stats.complete = False
                break
            phase = "expand"
            ex = backend.call("expand", [(r,) for r in pending] if pending else [(None,)] * count,
                              progress=level_progress if count == 1 or getattr(backend, "sums_progress", False)
                              else None)
            if any(e[3] == OUT_OF_MEMORY for e in ex):  # (still at the level boundary, `pending` kept)
                raise _OutOfMemory
            if any(e[3] for e in ex):  # (stopped by Ctrl-C: still at the level's start)
                raise KeyboardInterrupt
            pending = None
            phase = "exchange"
            masks = backend.call("absorb", [([ex[w][0][j] for w in range(count)],) for j in range(count)])
            col = backend.call("collect", [([masks[j][w] for j in range(count)],) for w in range(count)])
            if col[0][3] is not None:  # whole seen sets: each learns the winners the others generated
                backend.call("learn", [(_concat([c[3] for w, c in enumerate(col) if w != j]),) for j in range(count)])
            # (a level built on disk stays where it is: balance is only speed)
            keys = [c[0] for c in col] if any(c[2] for c in col) else _balance(backend, [c[0] for c in col])
            events = [e[1] for e in ex if e[1] is not None] + [c[1] for c in col if c[1] is not None]
            allkeys = np.sort(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
            if events:
                ev = min(events)
                key = ev[0]
                stats.distinct_states += int(np.searchsorted(allkeys, key, side="right"))
                rank, index = key >> INDEX_BITS, key & INDEX_MASK
                for ranks, counts, _ in (e[2] for e in ex):
                    stats.transitions += int(counts[ranks < rank].sum())
                stats.transitions += index + 1
                found = (depth, rank, index, ev[3])
                stats.max_depth = depth + 1
                break
            for _, counts, asleep in (e[2] for e in ex):
                stats.transitions += int(counts.sum())
                stats.transitions_asleep += asleep
            # the ranks go out with the next level's expand call (one round trip less)
            pending = [np.searchsorted(allkeys, k) for k in keys]
            phase = None
            stats.distinct_states += len(allkeys)
            frontier_size = len(allkeys)
            if frontier_size:
                parents.append(allkeys)
                depth += 1
            stats.max_depth = depth
            stats.seconds = seconds_before + time.perf_counter() - t0
            if progress is not None:
                progress(stats, frontier_size)
            if pending and ((handover is not None and time.perf_counter() - t0 >= handover_after) or (
                    checkpoint and time.perf_counter() - last_save >= checkpoint_every)):
                backend.call("set_ranks", [(r,) for r in pending])
                pending = None
            if handover is not None and frontier_size and time.perf_counter() - t0 >= handover_after:
                backend = handover(backend)
                count = backend.count
                stats.workers = count
                handover = None
            if checkpoint and frontier_size and time.perf_counter() - last_save >= checkpoint_every:
                _write_checkpoint(checkpoint, backend, count, spec, depth, parents, stats)
                last_save = time.perf_counter()
    except (KeyboardInterrupt, _OutOfMemory) as stop:
        result.interrupted = True
        result.ctrl_c = not isinstance(stop, _OutOfMemory)
        stats.complete = False
        if ctrl_c[0] > 1:  # a second Ctrl-C: the workers may be anywhere
            result.warnings.append("stopped by a second Ctrl-C: no checkpoint written")
        if isinstance(stop, _OutOfMemory):
            result.warnings.append(
                f"stopped while building level {depth + 1}: the machine's available memory fell below 5% "
                f"(a level being built is held in memory; --memory-limit bounds the level expanded). The "
                f"{stats.distinct_states:,} states of depth 0-{depth} hold no violation. Fewer --workers, a "
                f"machine with more memory or --cluster go further" + (
                    "; --resume continues from the checkpoint" if checkpoint else ""))
        if ctrl_c[0] < 2 and phase in ("expand", "boundary"):
            if phase == "expand":
                backend.interrupt()
            if checkpoint:  # the partitions are at a level boundary
                if pending:
                    backend.call("set_ranks", [(r,) for r in pending])
                stats.seconds = seconds_before + time.perf_counter() - t0
                _write_checkpoint(checkpoint, backend, count, spec, depth, parents, stats)
    finally:
        give_back_sigint(previous_handler)
    if found is None:
        stats.max_depth = depth
    table_bytes = sum(p.nbytes for p in parents)
    try:
        if ctrl_c[0] < 2:  # (after a second Ctrl-C the workers may be anywhere: not asked)
            if watch is not None:
                for part_reached in backend.call("witnessed"):
                    watch.mark_reached(part_reached - watch.reached)
            table_bytes += sum(backend.call("memory"))
            stats.peak_memory_bytes = backend.peak_memory()
    finally:
        backend.close()
        # Only now, with the partitions' states freed: a collector switched back on while an
        # in-process partition still held its last level (a search cut by --max-depth or
        # Ctrl-C) would sweep every one of those states at the next allocation - 2.7 s
        # after R4 cut at depth 11, 12% of that run.
        if gc_was_enabled:
            gc.enable()
    stats.bytes_per_state = table_bytes / max(1, stats.distinct_states)
    if found is not None:
        level, rank, index, inv_id = found
        _found(result, spec, model, explored_init, init_pos, parents, level, rank, index, inv_id, judge)
    stats.seconds = seconds_before + time.perf_counter() - t0
    return result


def _concat(arrays: list) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint64)


def _balance(backend, keys: list[np.ndarray]) -> list[np.ndarray]:
    """Even out the next frontier over the partitions: a partition keeps the new states it
    generated (no state crosses a process when the work is already balanced) and gives
    its surplus over the mean to partitions below it. Who holds a state changes neither
    its rank nor any result. Returns the keys each partition holds afterwards."""
    count = len(keys)
    sizes = [len(k) for k in keys]
    total = sum(sizes)
    if count == 1 or not total:
        return keys
    target = -(-total // count)  # ceil
    slack = max(64, target // 20)  # balanced enough: moving states costs more than it saves
    if max(sizes) <= target + slack:
        return keys
    surplus = [[w, sizes[w] - target] for w in range(count) if sizes[w] > target]
    plans: list[list] = [[] for _ in range(count)]
    for v in range(count):
        need = target - sizes[v]
        while need > 0 and surplus:
            w, extra = surplus[0]
            k = min(extra, need)
            plans[w].append((v, k))
            need -= k
            surplus[0][1] -= k
            if surplus[0][1] == 0:
                surplus.pop(0)
    if spill.memory_short(sum(k for p in plans for _, k in p) * _MOVE_BYTES):
        return keys  # (moving states takes memory the machine no longer has; balance is only speed)
    given = backend.call("give", [(p,) for p in plans])
    return backend.call("take", [([given[w][v] for w in range(count)],) for v in range(count)])


def _path_indices(parents: list[np.ndarray], level: int, rank: int) -> list[int]:
    """Successor indices from the initial state to the state of `rank` at `level`."""
    out = []
    r = rank
    for lv in range(level, 0, -1):
        key = int(parents[lv][r])
        out.append(key & INDEX_MASK)
        r = key >> INDEX_BITS
    out.reverse()
    return out


def replay_indices(spec: Spec, model: Model, explored_init, init_pos, indices: list[int]):
    """Replay a chain of successor indices from the explored initial state; returns the
    [(action, state)] path under the real broker names, from the real initial state."""
    chain = []
    s = explored_init
    for i in indices:
        for k, (action, raw) in enumerate(model.successors(s)):
            if k == i:
                break
        else:  # cannot happen: the model is deterministic
            raise AssertionError("replay: successor index out of range")
        _, pos = spec.explored(model, raw)
        chain.append((action, pos))
        s = raw if pos is None else permute(raw, pos)
    n = model.rf
    full = Model(model.config) if model.ghosts is not None else model  # traces keep every ghost
    st = full.init()
    path = [(None, st)]
    sigma = init_pos
    for action, pos in chain:
        a = _rename(action, _inverse(sigma, n))
        st = full.step(st, a)
        path.append((a, st))
        sigma = _compose(pos, sigma, n)
    return path


def _found(result, spec, model, explored_init, init_pos, parents, level, rank, index, inv_id, judge) -> None:
    """Record a violation: the transition `index` from the state of `rank` at `level` broke
    `inv_id` (a state check on the state it reaches, or a step check on it). The trace is
    replayed under the real broker names and the invariant re-judged on it, so the message
    names the brokers the trace shows."""
    cfg = spec.config
    path = replay_indices(spec, model, explored_init, init_pos, _path_indices(parents, level, rank) + [index])
    prev = path[-2][1] if len(path) > 1 else None
    last = path[-1][1]
    msg = None
    for inv_id2, check in judge.state_checks:
        if inv_id2 == inv_id:
            msg = check(last, cfg)
    for inv_id2, check in judge.step_checks:
        if inv_id2 == inv_id and prev is not None:
            msg = check(prev, last, cfg)
    if not msg:  # cannot happen: renaming brokers changes no verdict
        raise AssertionError(f"{inv_id}: the replayed trace does not reproduce the violation")
    trace = build_trace(model, path)
    trace.violation = Violation(inv_id, msg, len(trace.steps) - 1)
    result.violation = (inv_id, msg)
    result.trace = trace


def explore(
    model: Model,
    invariants: list[Invariant],
    *,
    progress: Progress | None = None,
    progress_every: float = 0.5,
    symmetry: bool = True,
    checkpoint: str | None = None,
    resume: str | None = None,
    checkpoint_every: float = 60.0,
    watch: Callable | None = None,
    workers: int = 1,
    cluster: str | None = None,
    memory_limit: int | None = None,
    sleep_sets: bool = True,
) -> Result:
    """The search, in this process (`workers` 1), handed over to `workers` local processes
    after the first tenth of a second (checker/engines/parallel.py), or on the Dask cluster at
    `cluster` ("local": a local Dask cluster of `workers` processes). Results are the same
    in every case. `watch(prev, state)`, if given, sees the initial state (prev None) and
    every transition until it returns False (vacuity witnesses, invariants/witnesses.py).
    `memory_limit` (bytes of resident memory, split over the partitions): past it a level is
    expanded from disk (checker/engines/spill.py), with the same results. `sleep_sets` skips
    transitions that lead to states reached by another path of the same length ("Sleep
    sets" in the module docstring): the same results, less work."""
    spec = Spec.of(model, invariants, symmetry, watch=watch is not None, memory_limit=memory_limit,
                   sleep_sets=sleep_sets)
    handover = None
    # (read before any worker starts: a checkpoint that cannot be resumed is said at once)
    resumed = read_checkpoint(resume, spec) if resume else None
    if cluster:
        from ackcheck.checker.engines.parallel import DaskPool

        backend = DaskPool(spec, workers if workers > 1 else None, None if cluster == "local" else cluster)
    elif resume and workers > 1:
        # a resumed search is a long one: the workers start at once and each loads its own
        # share of the checkpoint (a hand-over would fork a process holding the whole level,
        # and the copies of its pages could outgrow the machine)
        from ackcheck.checker.engines.parallel import ProcessPool

        backend = ProcessPool(spec, workers)
    else:
        backend = InProcess(spec, 1, watch, progress_every)
        if workers > 1:
            from ackcheck.checker.engines.parallel import ProcessPool

            def handover(b):
                return ProcessPool(spec, workers, inherited=b.parts[0])
    return search(spec, backend, progress=progress, checkpoint=checkpoint, resume=resumed,
                  checkpoint_every=checkpoint_every, watch=watch, handover=handover,
                  handover_after=HANDOVER_SECONDS)


# Up to this many partitions, each holds the whole seen set ("Whole seen sets" in the module
# docstring): 8-16 bytes a state per partition, for candidates that need not be kept or sent
WHOLE_SEEN_WORKERS = 4
OUT_OF_MEMORY = "out of memory"  # expand's answer when it stopped for the machine's memory (spill.memory_short)
HANDOVER_SECONDS = 0.1  # a search still running after this long moves to worker processes (a fork of
# this process: it inherits the seen set and frontier, so it costs tens of milliseconds)
