"""Exhaustive breadth-first exploration: the first violation found is a shortest trace.

A visited map (fingerprint -> (parent fingerprint, action)) is both the seen set and the
parent pointers. A fingerprint is the 64-bit hash of the state (as TLC's fingerprints):
only the frontier keeps whole states, so memory per state is a few dozen bytes and a
revisit costs one hash and no deep comparison. Two distinct states share a fingerprint
with probability about n^2 / 2^64 (below 1e-7 for a million states); the run would then
skip one of them. With `symmetry=True` the fingerprint is that of the state's canonical
form under broker renaming (model/symmetry.py), so renamings of an explored state are
skipped too; and the fingerprint is taken of `Model.abstract(state)`, which forgets
what can no longer matter (flushed offsets once no power loss is left). A trace is the chain of actions from the initial state, replayed through the
model. States are tuples of ints, so their hashes are the same in every process
(PYTHONHASHSEED only salts str/bytes). Successors come in the model's fixed order, so a
run is deterministic: same config and bounds -> same counts, same trace.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from ackcheck.checker.engines.result import Result, Stats
from ackcheck.invariants.catalogue import Invariant, Judge
from ackcheck.model.protocol import Model
from ackcheck.model.state import observe
from ackcheck.model.symmetry import canonical_with
from ackcheck.traces.format import ACTIONS, Trace, Violation

Progress = Callable[[Stats, int], None]  # (stats so far, frontier size)


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


def replay_path(model: Model, visited: dict, last_key, init_pos=None):
    """Walk parent pointers back from `last_key` and replay the actions from the real
    initial state. Each stored action applies to the explored (canonical) form of its
    parent; it is renamed back through the accumulated renaming. Returns the
    [(action, state)] path and the renaming from its last state to the explored form."""
    chain = []
    k = last_key
    while True:
        entry = visited[k]
        if entry is None:
            break
        k, action, pos = entry
        chain.append((action, pos))
    chain.reverse()
    n = model.rf
    if model.ghosts is not None:  # the explored model kept only some ghosts: replay on a full one
        model = Model(model.config)
    s = model.init()
    path = [(None, s)]
    sigma = init_pos
    for action, pos in chain:
        a = _rename(action, _inverse(sigma, n))
        s = model.step(s, a)
        path.append((a, s))
        sigma = _compose(pos, sigma, n)
    return path, sigma


def build_trace(model: Model, path) -> Trace:
    return Trace(config=model.config.as_dict(), steps=[(a, observe(st)) for a, st in path])


def explore(
    model: Model,
    invariants: list[Invariant],
    *,
    progress: Progress | None = None,
    progress_every: float = 0.5,
    symmetry: bool = True,
    watch: Callable | None = None,
) -> Result:
    """`watch(prev, state)`, if given, sees the initial state (prev None) and every
    transition until it returns False (vacuity witnesses, invariants/witnesses.py)."""
    cfg = model.config
    judge = Judge(invariants, cfg)
    step_checks = judge.step_checks
    state_checks = judge.state_checks
    max_depth = cfg.bounds.max_depth
    stats = Stats()
    result = Result("explore", cfg, [inv.id for inv in invariants], stats=stats)
    t0 = time.perf_counter()
    last_report = t0

    init = model.init()
    init_pos = None
    explored_init = init
    if symmetry:
        explored_init, init_pos = canonical_with(init)
    abstract = model.abstract
    init_key = hash(abstract(explored_init))
    visited: dict[int, tuple[int, tuple, tuple | None] | None] = {init_key: None}
    stats.distinct_states = 1
    if watch is not None and not watch(None, init):
        watch = None
    v = judge.initial(init)
    if v:
        result.violation = v
        result.trace = build_trace(model, [(None, init)])
        result.trace.violation = Violation(v[0], v[1], 0)
        stats.seconds = time.perf_counter() - t0
        return result

    found = None
    frontier = [explored_init]
    depth = 0
    successors = model.successors
    # Millions of long-lived tuples and no reference cycles: the cyclic garbage collector
    # would only rescan them again and again (a fifth of the run time), so it is paused.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while frontier and found is None:
            if max_depth and depth >= max_depth:
                stats.complete = False
                break
            nxt_frontier = []
            for s in frontier:
                s_key = hash(abstract(s))
                for action, raw in successors(s):
                    stats.transitions += 1
                    if watch is not None and not watch(s, raw):
                        watch = None
                    n = len(visited)
                    # invariants judge the raw successor (same broker names as s); the
                    # explored form may rename brokers
                    if symmetry:
                        t, pos = canonical_with(raw)
                    else:
                        t, pos = raw, None
                    t_key = hash(abstract(t))
                    visited.setdefault(t_key, (s_key, action, pos))  # one hash: insert if new
                    new = len(visited) != n
                    if not new and not step_checks:
                        continue
                    bad = None
                    if new:  # state checks first, then step checks: the catalogue's order
                        for inv_id, check in state_checks:
                            if check(raw, cfg):
                                bad = inv_id
                                break
                    if bad is None:
                        for inv_id, check in step_checks:
                            if check(s, raw, cfg):
                                bad = inv_id
                                break
                    if bad is not None:
                        # a new state is its own trace's end; a step into a known state is
                        # the transition from s
                        found = (t_key, None, bad) if new else (s_key, action, bad)
                        break
                    if new:
                        nxt_frontier.append(t)
                if found:
                    break
                if progress is not None and stats.transitions % 512 == 0:
                    now = time.perf_counter()
                    if now - last_report >= progress_every:
                        last_report = now
                        stats.distinct_states = len(visited)
                        stats.max_depth = depth
                        stats.seconds = now - t0
                        progress(stats, len(frontier) + len(nxt_frontier))
            frontier = nxt_frontier
            if frontier and found is None:
                depth += 1
    except KeyboardInterrupt:
        result.interrupted = True
        stats.complete = False
    finally:
        if gc_was_enabled:
            gc.enable()
    stats.distinct_states = len(visited)
    stats.max_depth = depth
    if found is not None:
        key, action, inv_id = found
        _found(result, model, visited, init_pos, key, action, inv_id, judge, cfg)
        stats.max_depth = depth + 1
    stats.seconds = time.perf_counter() - t0
    return result


def _found(result, model, visited, init_pos, key, action, inv_id, judge, cfg) -> None:
    """Record a violation: the state with `key` broke `inv_id`, or (action is not None) the
    transition from it by `action` (stated for its explored form) did. The trace is replayed
    under the real broker names and the invariant re-judged on it, so the message names the
    brokers the trace shows."""
    path, sigma = replay_path(model, visited, key, init_pos)
    if action is not None:
        a = _rename(action, _inverse(sigma, model.rf))
        path.append((a, model.step(path[-1][1], a)))
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
