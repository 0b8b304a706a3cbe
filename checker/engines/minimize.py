"""Trace minimization for `ackcheck minimize`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ackcheck.checker.engines.check import model_for
from ackcheck.invariants.catalogue import BY_ID, Judge
from ackcheck.model.protocol import ActionError, Model
from ackcheck.traces.format import (
    Action,
    Trace,
    TraceError,
)
from ackcheck.traces.settings import Config, ConfigError, config_from_dict


@dataclass
class Minimized:
    trace: Trace
    original_steps: int
    tests: int  # candidate replays tried
    seconds: float


class _Oracle:
    """Replays candidate action lists, judging one invariant; memoizes outcomes."""

    def __init__(self, config: Config, invariant_id: str):
        self.invariant_id = invariant_id
        invs = [BY_ID[invariant_id]]
        self.model: Model = model_for(config, invs)
        self.judge = Judge(invs, config)
        self.tests = 0
        self._memo: dict[tuple, list[Action] | None] = {}

    def __call__(self, actions: Sequence[Action]) -> list[Action] | None:
        """The executed prefix up to the violation, or None if the invariant holds."""
        key = tuple(actions)
        if key in self._memo:
            return self._memo[key]
        self.tests += 1
        model, judge = self.model, self.judge
        s = model.init()
        done: list[Action] = []
        out = None
        if judge.initial(s):
            out = done
        else:
            for a in key:
                try:
                    t = model.step(s, a)
                except ActionError:
                    continue  # disabled here: dropped
                done.append(a)
                if judge(s, t):
                    out = done
                    break
                s = t
        self._memo[key] = out
        return out


def ddmin(actions: list[Action], test: Callable[[Sequence[Action]], list[Action] | None],
          *, max_tests: int | None = None, counter: Callable[[], int] | None = None) -> list[Action]:
    """Zeller's ddmin. `test` returns the (possibly shorter) failing list, or None."""
    first = test(actions)
    if first is None:
        raise ValueError("the full action list does not fail")
    items = first
    n = 2
    while len(items) >= 2:
        if max_tests is not None and counter is not None and counter() >= max_tests:
            break
        size = len(items)
        chunk = -(-size // n)
        subsets = [items[i:i + chunk] for i in range(0, size, chunk)]
        reduced = None
        for sub in subsets:  # reduce to a subset
            r = test(sub)
            if r is not None:
                reduced, n = r, 2
                break
        if reduced is None and len(subsets) > 2:
            for i in range(len(subsets)):  # reduce to a complement
                comp = [a for j, s in enumerate(subsets) if j != i for a in s]
                r = test(comp)
                if r is not None:
                    reduced, n = r, max(n - 1, 2)
                    break
        elif reduced is None:  # two subsets: complements are the subsets themselves
            pass
        if reduced is not None:
            items = reduced
            continue
        if n >= size:
            break
        n = min(size, 2 * n)
    return items


def minimize_trace(trace: Trace, *, invariant_id: str | None = None, max_tests: int = 20000) -> Minimized:
    """Shorten `trace` while `invariant_id` (default: the trace's) still breaks."""
    t0 = time.perf_counter()
    if invariant_id is None:
        if trace.violation is None:
            raise TraceError("$.violation: the trace records no violation to keep (give --invariant)")
        invariant_id = trace.violation.invariant
    if invariant_id not in BY_ID:
        raise TraceError(f"$.violation.invariant: unknown invariant {invariant_id!r}")
    try:
        config = config_from_dict(trace.config)
    except ConfigError as e:
        raise TraceError(f"$.config: {e}") from None
    oracle = _Oracle(config, invariant_id)
    if oracle(trace.actions) is None:
        raise TraceError(f"replaying the trace on the model does not break {invariant_id}")
    kept = ddmin(list(trace.actions), oracle, max_tests=max_tests, counter=lambda: oracle.tests)
    out = build_trace(config, kept, invariant_id)
    return Minimized(out, len(trace.steps) - 1, oracle.tests, time.perf_counter() - t0)


def build_trace(config: Config, actions: Sequence[Action], invariant_id: str) -> Trace:
    """A trace of `actions` (all enabled) judged on `invariant_id` only, up to its violation."""
    from ackcheck.checker.engines.fuzz import trace_from_actions

    return trace_from_actions(config, actions, [invariant_id])
