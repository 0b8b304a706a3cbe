"""Symmetry between brokers: a cheap canonical representative for the explorer.

Brokers are interchangeable: nothing in the protocol, the configuration or the invariants
names a particular broker id (broker 0 leading the initial state is just a state). So a
state and the same state with broker ids permuted have the same futures, up to that
permutation, and the same verdicts. The explorer stores one state per class it can
recognise and skips the rest.

`canonical_with(state)` renames brokers so that they appear sorted by a signature built only
from what each broker is and holds (its log, offsets, role, the controller's view of it,
the messages addressed to it), ties kept in id order. It is a deterministic function that
maps a state to a permutation of itself, which is all soundness needs: two states with the
same canonical form are permutations of each other. Ties are not resolved by trying every
order (that would cost more than it saves), so a few symmetric states stay apart. Most
states already have their brokers in signature order and are returned unchanged.
"""

from __future__ import annotations

from ackcheck.model.state import (
    DelayedFetch,
    IsrChange,
    LeaderAndIsr,
    ParkedProduce,
    ProduceRequest,
    ProduceResponse,
    State,
)
from ackcheck.traces.observation import Replica

_new = tuple.__new__


def _order(s: State) -> list[int] | None:
    """Brokers sorted by signature (ties in id order), or None when already sorted."""
    reps = s[0]
    ldr = s[1]
    sigs = []
    for b, r in enumerate(reps):
        # alive, leader epoch, LEO, HW, log, acting as leader, controller's leader (nothing
        # Model.abstract may forget, so a state and its abstraction sort alike)
        sigs.append((r[0], r[5], r[2], r[3], r[1], r[6] == b, b == ldr, b))
    prev = sigs[0]
    for sig in sigs[1:]:
        if sig[:-1] < prev[:-1]:
            break
        prev = sig
    else:
        return None
    sigs.sort()
    return [sig[-1] for sig in sigs]


def _ids(t, pos):
    if len(t) < 2:
        return (pos[t[0]],) if t else t
    return tuple(sorted([pos[m] for m in t]))


def permute(s: State, pos) -> State:
    """The state with broker b renamed pos[b]."""
    n = len(pos)
    inverse = [0] * n
    for old, new in enumerate(pos):
        inverse[new] = old
    reps = s[0]
    new_reps = []
    for old in inverse:
        r = reps[old]
        fl = r[7]
        ldr = r[6]
        isr = r[8]
        if ldr < 0 and not isr and fl[0] == -1 and fl == _unknown(n):
            new_reps.append(r)  # a dead broker or one that knows no leader: nothing to rename
            continue
        new_reps.append(_new(Replica, (
            r[0], r[1], r[2], r[3], r[4], r[5], pos[ldr] if ldr >= 0 else -1,
            fl if fl == _unknown(n) else tuple([fl[o] for o in inverse]),
            _ids(isr, pos) if isr else isr)))
    v = list(s)
    v[0] = tuple(new_reps)
    ldr = s[1]
    if ldr >= 0:
        v[1] = pos[ldr]
    v[3] = _ids(s[3], pos)
    if s[4]:
        v[4] = _ids(s[4], pos)
    if s[_REQUESTS]:
        v[_REQUESTS] = tuple(sorted([_new(ProduceRequest, (q[0], q[1], pos[q[2]], q[3], q[4])) for q in s[_REQUESTS]],
                                    key=_by_broker2))
    if s[_PURGATORY]:
        v[_PURGATORY] = tuple(sorted([_new(ParkedProduce, (pos[p[0]],) + p[1:]) for p in s[_PURGATORY]]))
    if s[_RESPONSES]:
        v[_RESPONSES] = tuple(sorted([_new(ProduceResponse, r[:5] + (pos[r[5]],)) for r in s[_RESPONSES]], key=_by_broker5))
    if s[_MESSAGES]:
        v[_MESSAGES] = tuple(sorted([_new(LeaderAndIsr, (pos[m[0]], m[1], pos[m[2]] if m[2] >= 0 else -1, _ids(m[3], pos)))
                                     for m in s[_MESSAGES]]))
    if s[_DELAYED]:
        v[_DELAYED] = tuple(sorted([_new(DelayedFetch, (pos[d[0]], pos[d[1]], d[2], d[3], d[4])) for d in s[_DELAYED]]))
    if s[_CHANGES]:
        v[_CHANGES] = tuple(sorted([_new(IsrChange, (pos[c[0]], c[1], _ids(c[2], pos), _ids(c[3], pos), _ids(c[4], pos), c[5]))
                                    for c in s[_CHANGES]]))
    for f in _PER_BROKER:
        t = s[f]
        if len(set(t)) > 1:  # (all alike: nothing to reorder)
            v[f] = tuple([t[o] for o in inverse])
    return _new(State, v)


_UNKNOWN = {}


def _unknown(n: int) -> tuple[int, ...]:
    u = _UNKNOWN.get(n)
    if u is None:
        u = _UNKNOWN[n] = (-1,) * n
    return u


_F = {f: i for i, f in enumerate(State._fields)}
_REQUESTS, _PURGATORY, _RESPONSES = _F["requests"], _F["purgatory"], _F["responses"]
_MESSAGES, _CHANGES, _DELAYED = _F["controller_messages"], _F["isr_changes"], _F["delayed_fetches"]
_PER_BROKER = (_F["unclean_shutdown"], _F["recovery_points"], _F["fetcher_truncating"])


def _by_broker2(q):
    return q[2]


def _by_broker5(r):
    return r[5]


def canonical_with(s: State) -> tuple[State, tuple[int, ...] | None]:
    """(canonical form, pos) where pos[b] is broker b's new name (None: unchanged)."""
    order = _order(s)
    if order is None:
        return s, None
    pos = [0] * len(order)
    for new, old in enumerate(order):
        pos[old] = new
    pos = tuple(pos)
    return permute(s, pos), pos
