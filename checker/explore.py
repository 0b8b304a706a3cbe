"""Exhaustive breadth-first exploration: the first violation found is a shortest trace.

A visited map (state -> (parent, action)) is both the fingerprint set and the parent
pointers. States are tuples of ints, so their hashes are the same in every process
(PYTHONHASHSEED only salts str/bytes). Successors come in the model's fixed order, so a
run is deterministic: same config and bounds -> same counts, same trace.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ackcheck.checker.result import Result, Stats
from ackcheck.invariants.catalogue import Invariant, Judge
from ackcheck.model.protocol import Model
from ackcheck.model.state import State, observe
from ackcheck.traces.format import Trace, Violation

Progress = Callable[[Stats, int], None]  # (stats so far, frontier size)


def build_trace(model: Model, visited: dict, last: State, extra=None) -> Trace:
    """Walk parent pointers back from `last` (plus an optional final (action, state))."""
    path = []
    s = last
    while True:
        entry = visited[s]
        if entry is None:
            break
        parent, action = entry
        path.append((action, s))
        s = parent
    path.append((None, s))
    path.reverse()
    if extra is not None:
        path.append(extra)
    return Trace(config=model.config.as_dict(), steps=[(a, observe(st)) for a, st in path])


def explore(
    model: Model,
    invariants: list[Invariant],
    *,
    progress: Progress | None = None,
    progress_every: float = 0.5,
) -> Result:
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
    visited: dict[State, tuple[State, tuple] | None] = {init: None}
    stats.distinct_states = 1
    v = judge.initial(init)
    if v:
        result.violation = v
        result.trace = build_trace(model, visited, init)
        result.trace.violation = Violation(v[0], v[1], 0)
        stats.seconds = time.perf_counter() - t0
        return result

    frontier = [init]
    depth = 0
    successors = model.successors
    try:
        while frontier:
            if max_depth and depth >= max_depth:
                stats.complete = False
                break
            nxt_frontier = []
            for s in frontier:
                for action, t in successors(s):
                    stats.transitions += 1
                    n = len(visited)
                    visited.setdefault(t, (s, action))  # one hash: insert if new
                    if len(visited) == n:
                        if step_checks:
                            for inv_id, check in step_checks:
                                msg = check(s, t, cfg)
                                if msg:
                                    return _found(result, model, visited, s, action, t, inv_id, msg, t0, depth + 1)
                        continue
                    for inv_id, check in state_checks:
                        msg = check(t, cfg)
                        if msg:
                            return _found(result, model, visited, t, None, None, inv_id, msg, t0, depth + 1)
                    for inv_id, check in step_checks:
                        msg = check(s, t, cfg)
                        if msg:
                            return _found(result, model, visited, t, None, None, inv_id, msg, t0, depth + 1)
                    nxt_frontier.append(t)
                if progress is not None and stats.transitions % 512 == 0:
                    now = time.perf_counter()
                    if now - last_report >= progress_every:
                        last_report = now
                        stats.distinct_states = len(visited)
                        stats.max_depth = depth
                        stats.seconds = now - t0
                        progress(stats, len(frontier) + len(nxt_frontier))
            frontier = nxt_frontier
            if frontier:
                depth += 1
    except KeyboardInterrupt:
        result.interrupted = True
        stats.complete = False
    stats.distinct_states = len(visited)
    stats.max_depth = depth
    stats.seconds = time.perf_counter() - t0
    return result


def _found(result, model, visited, s, action, t, inv_id, msg, t0, depth) -> Result:
    """Record a violation. (s, action, t) is a transition to an already-visited state that
    broke a step invariant; otherwise `s` itself is the violating state, already visited."""
    stats = result.stats
    if action is None:
        trace = build_trace(model, visited, s)
    else:
        trace = build_trace(model, visited, s, extra=(action, observe(t)))
    trace.violation = Violation(inv_id, msg, len(trace.steps) - 1)
    result.violation = (inv_id, msg)
    result.trace = trace
    stats.distinct_states = len(visited)
    stats.max_depth = depth
    stats.seconds = time.perf_counter() - t0
    return result
