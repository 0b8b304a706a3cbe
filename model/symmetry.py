"""Symmetry between brokers: a canonical representative for the explorer.

Brokers are interchangeable: nothing in the protocol, the configuration or the invariants
names a particular broker id (broker 0 leading the initial state is just a state). So a
state and the same state with broker ids permuted have the same futures, up to that
permutation, and the same verdicts. The explorer stores one state per class.

The canonical form is exact (two states get the same fingerprint if and only if one is a
renaming of the other, up to 64-bit fingerprint collisions), and cheap in the common case:

1. every broker gets a *signature* built only from what it is and holds, never from its
   name (alive, leader epoch, LEO, HW, log, whether it acts as leader, whether the
   controller names it leader, ISR / ELR membership, its fetcher state, its unclean
   shutdown flag, whether the controller holds it as last known leader). A renaming of
   the state renames the signatures with it, so sorting
   brokers by signature puts every member of a class in the same signature order;
2. brokers with equal signatures (ties) are not told apart by name: every ordering of
   each tie group is tried, and the one whose renamed state has the smallest fingerprint
   wins. The set of candidate renamed states is the same for every member of the class,
   so the minimum is too: the fingerprint is a function of the class alone.

Only signature fields that `Model.abstract` never forgets are used (not flushed offsets or
recovery points), so the canonical form can be taken of the abstraction.
`canonical_fingerprint` returns the fingerprint and the renaming without building the
renamed state when no renaming is needed (most states: brokers already in order, no tie).
"""

from __future__ import annotations

from itertools import permutations, product

from ackcheck.model.state import State
from ackcheck.traces.observation import Replica

try:  # tuple.__new__(cls, fields) without its detours (model/_tuples.c): every next state is built so
    from ackcheck.model._tuples import build as _new
except ImportError:  # (not built, or not the build of the current source)
    _new = tuple.__new__


def _signatures(s: State) -> list[tuple]:
    reps = s[0]
    ldr = s[1]
    isr = s[3]
    elr = s[4]
    trunc = s[_TRUNCATING]
    unclean = s[_UNCLEAN]
    lkl = s[_LAST_KNOWN]
    return [(r[0], r[5], r[2], r[3], r[1], r[6] == b, b == ldr, b in isr, b in elr, trunc[b], unclean[b], b == lkl)
            for b, r in enumerate(reps)]


def _candidates(s: State) -> list[tuple[int, ...]] | None:
    """Every renaming `pos` (pos[b]: b's new name) that puts the brokers in signature order,
    or None when the identity is the only one."""
    reps = s[0]
    ldr = s[1]
    isr = s[3]
    elr = s[4]
    trunc = s[_TRUNCATING]
    unclean = s[_UNCLEAN]
    lkl = s[_LAST_KNOWN]
    if len(reps) == 3:
        r0, r1, r2 = reps
        # (compared field by field first, without building the signatures: most successors
        # are told apart by their first fields, alive, leader epoch and LEO)
        c01 = _order(r0, 0, r1, 1, ldr, isr, elr, trunc, unclean, lkl)
        if c01:
            c12 = _order(r1, 1, r2, 2, ldr, isr, elr, trunc, unclean, lkl)
            if c12:
                if c01 < 0 and c12 < 0:
                    return None
                c02 = _order(r0, 0, r2, 2, ldr, isr, elr, trunc, unclean, lkl)
                if c02:  # no tie: one renaming, each broker to its rank
                    k0 = (c01 > 0) + (c02 > 0)
                    k1 = (c01 < 0) + (c12 > 0)
                    return [(k0, k1, 3 - k0 - k1)]
        # (here two brokers tie: every order of the tied ones is a candidate)
        return _reorderings(_signatures(s))
    sigs = _signatures(s)
    for b in range(1, len(sigs)):
        if not sigs[b - 1] < sigs[b]:
            return _reorderings(sigs)
    return None


def _order(ra, a: int, rb, b: int, ldr: int, isr, elr, trunc, unclean, lkl: int) -> int:
    """-1, 0 or 1 as broker a's signature (replica ra) is smaller than, equal to or larger
    than broker b's (replica rb), compared as the two tuples of _signatures compare: the
    replica's own fields first, one by one (most pairs differ in one of them), then the
    rest at once."""
    for i in _REPLICA_SIGNATURE:
        x = ra[i]
        y = rb[i]
        if x != y:
            return 1 if x > y else -1
    x = (ra[6] == a, a == ldr, a in isr, a in elr, trunc[a], unclean[a], a == lkl)
    y = (rb[6] == b, b == ldr, b in isr, b in elr, trunc[b], unclean[b], b == lkl)
    return (x > y) - (x < y)


_REPLICA_SIGNATURE = (0, 5, 2, 3, 1)  # (the replica fields that open a signature, in its order)


def _reorderings(sigs: list[tuple]) -> list[tuple[int, ...]] | None:
    """_candidates for brokers whose signatures are not strictly increasing."""
    n = len(sigs)
    ss = sorted(sigs)
    tie = False
    for b in range(1, n):
        if ss[b] == ss[b - 1]:
            tie = True
            break
    if not tie:
        if ss == sigs:
            return None
        pos = [0] * n
        for new, sig in enumerate(ss):
            pos[sigs.index(sig)] = new
        return [tuple(pos)]
    order = sorted(range(n), key=sigs.__getitem__)
    groups = []
    start = 0
    for k in range(1, n + 1):
        if k == n or sigs[order[k]] != sigs[order[start]]:
            groups.append(order[start:k])
            start = k
    out = []
    for choice in product(*[permutations(g) if len(g) > 1 else (tuple(g),) for g in groups]):
        pos = [0] * n
        new = 0
        for g in choice:
            for old in g:
                pos[old] = new
                new += 1
        out.append(tuple(pos))
    return out


candidates = _candidates


def _identity(pos) -> bool:
    for b, p in enumerate(pos):
        if b != p:
            return False
    return True


def canonical_state(s: State, fingerprint, cands=False) -> tuple[int, tuple[int, ...] | None, State]:
    """(fingerprint of the canonical form, pos, the canonical form) where pos[b] is broker
    b's new name in it (None: the state is its own canonical form). `fingerprint(state) ->
    int` hashes a state (the explorer's hash of the abstraction). `cands`, if given, is
    `candidates(s)` computed already."""
    if cands is False:
        cands = _candidates(s)
    if cands is None:
        return fingerprint(s), None, s
    if len(cands) == 1:  # one order, and not the identity
        t = permute(s, cands[0])
        return fingerprint(t), cands[0], t
    best = None
    for pos in cands:
        if _identity(pos):
            t = s
            pos = None
        else:
            t = permute(s, pos)
        fp = fingerprint(t)
        if best is None or fp < best[0]:
            best = (fp, pos, t)
    return best


def canonical_fingerprint(s: State, fingerprint) -> tuple[int, tuple[int, ...] | None]:
    """(fingerprint of the canonical form, pos): canonical_state without the state."""
    fp, pos, _ = canonical_state(s, fingerprint)
    return fp, pos


def canonical_with(s: State, fingerprint=hash) -> tuple[State, tuple[int, ...] | None]:
    """(canonical form, pos) where pos[b] is broker b's new name (None: unchanged)."""
    _, pos, t = canonical_state(s, fingerprint)
    return t, pos


def _ids(t, pos):
    if len(t) < 2:
        return (pos[t[0]],) if t else t
    return tuple(sorted([pos[m] for m in t]))


_RENAMINGS: dict = {}


def _renaming(pos) -> tuple[tuple[int, ...], dict, dict]:
    """(inverse of pos, pos's memo of renamed broker-id sets, pos's memo of renamed message
    fields): per renaming, computed once (there are n! renamings and at most 2^n sets of
    brokers). The memo maps (field index, the field's tuple) to the renamed tuple, for the
    replicas and each message field - a renaming is a function of the value, and the same
    replica views and message multisets recur in state after state; it is emptied when it
    grows past _MESSAGE_MEMO entries (a few MB per renaming)."""
    r = _RENAMINGS.get(pos)
    if r is None:
        inverse = [0] * len(pos)
        for old, new in enumerate(pos):
            inverse[new] = old
        r = _RENAMINGS[pos] = (tuple(inverse), {}, {})
    return r


_MESSAGE_MEMO = 1 << 13


def permute(s: State, pos) -> State:
    """The state with broker b renamed pos[b]. Messages keep their own tuple type."""
    if pos.__class__ is not tuple:
        pos = tuple(pos)
    inverse, ids, memo = _renaming(pos)
    reps = s[0]
    v = list(s)
    key = (0, reps)
    renamed = memo.get(key)
    if renamed is None:
        if len(memo) >= _MESSAGE_MEMO:
            memo.clear()
        renamed = memo[key] = _rename_replicas(reps, pos, inverse, ids)
    v[0] = renamed
    ldr = s[1]
    if ldr >= 0:
        v[1] = pos[ldr]
    lkl = s[_LAST_KNOWN]
    if lkl >= 0:
        v[_LAST_KNOWN] = pos[lkl]
    t = s[3]
    ri = ids.get(t)
    if ri is None:
        ri = ids[t] = _ids(t, pos)
    v[3] = ri
    t = s[4]
    if t:
        ri = ids.get(t)
        if ri is None:
            ri = ids[t] = _ids(t, pos)
        v[4] = ri
    for f in _MESSAGE_FIELDS:
        t = s[f]
        if t:
            key = (f, t)
            renamed = memo.get(key)
            if renamed is None:
                if len(memo) >= _MESSAGE_MEMO:
                    memo.clear()
                renamed = memo[key] = _rename_messages(f, t, pos, ids)
            v[f] = renamed
    for f in _PER_BROKER:
        t = s[f]
        if t.count(t[0]) != len(t):  # (all alike: nothing to reorder)
            v[f] = tuple([t[o] for o in inverse])
    return _new(s.__class__, v)


def _rename_replicas(reps, pos, inverse, ids):
    unknown = _unknown(len(pos))
    new_reps = []
    for old in inverse:
        r = reps[old]
        fl = r[7]
        ldr = r[6]
        isr = r[8]
        if ldr < 0 and not isr and fl == unknown:
            new_reps.append(r)  # a dead broker or one that knows no leader: nothing to rename
            continue
        if isr:
            ri = ids.get(isr)
            if ri is None:
                ri = ids[isr] = _ids(isr, pos)
        else:
            ri = isr
        new_reps.append(_new(Replica, (
            r[0], r[1], r[2], r[3], r[4], r[5], pos[ldr] if ldr >= 0 else -1,
            fl if fl == unknown else (fl[inverse[0]], fl[inverse[1]], fl[inverse[2]]) if len(fl) == 3
            else tuple([fl[o] for o in inverse]), ri)))
    return tuple(new_reps)


def _rename_messages(f: int, t: tuple, pos, ids) -> tuple:
    """A message field of a state (requests, purgatory, responses, controller messages,
    delayed fetches or ISR changes) with broker b renamed pos[b], in the field's order."""
    if f == _REQUESTS:
        return tuple(sorted([_new(q.__class__, (q[0], q[1], pos[q[2]], q[3], q[4])) for q in t], key=_by_broker2))
    if f == _PURGATORY:
        return tuple(sorted([_new(p.__class__, (pos[p[0]],) + p[1:]) for p in t]))
    if f == _RESPONSES:
        return tuple(sorted([_new(r.__class__, r[:5] + (pos[r[5]],)) for r in t], key=_by_broker5))
    if f == _MESSAGES:
        return tuple(sorted([_new(m.__class__, (pos[m[0]], m[1], pos[m[2]] if m[2] >= 0 else -1,
                                                ids[m[3]] if m[3] in ids else _ids(m[3], pos)))
                             for m in t]))
    if f == _DELAYED:
        return tuple(sorted([_new(d.__class__, (pos[d[0]], pos[d[1]], d[2], d[3], d[4])) for d in t]))
    assert f == _CHANGES
    return tuple(sorted([_new(c.__class__, (pos[c[0]], c[1], _ids(c[2], pos), _ids(c[3], pos), _ids(c[4], pos), c[5]))
                         for c in t]))


_UNKNOWN = {}


def _unknown(n: int) -> tuple[int, ...]:
    u = _UNKNOWN.get(n)
    if u is None:
        u = _UNKNOWN[n] = (-1,) * n
    return u


_F = {f: i for i, f in enumerate(State._fields)}
_REQUESTS, _PURGATORY, _RESPONSES = _F["requests"], _F["purgatory"], _F["responses"]
_MESSAGES, _CHANGES, _DELAYED = _F["controller_messages"], _F["isr_changes"], _F["delayed_fetches"]
_TRUNCATING, _UNCLEAN = _F["fetcher_truncating"], _F["unclean_shutdown"]
_LAST_KNOWN = _F["last_known_leader"]
_PER_BROKER = (_F["unclean_shutdown"], _F["recovery_points"], _F["fetcher_truncating"])
_MESSAGE_FIELDS = (_REQUESTS, _PURGATORY, _RESPONSES, _MESSAGES, _DELAYED, _CHANGES)


def _by_broker2(q):
    return q[2]


def _by_broker5(r):
    return r[5]


# What `permute` does to each field, as data: checker/engines/_fingerprint.c computes the
# fingerprint of a renamed state from it without building the state (the explorer builds
# the renamed state only when that fingerprint is new). Kept beside permute: a change to
# one is a change to the other (tests/test_fingerprint.py compares the two on every
# candidate renaming of reachable states of every era scenario).
KEEP, REPLICAS, BROKER, BROKERS, PER_BROKER, MESSAGES = range(6)


def _layout() -> tuple[tuple[int, ...], tuple[int, ...], dict[int, tuple[tuple[int, ...], int]]]:
    state = [KEEP] * len(State._fields)
    state[0] = REPLICAS
    state[1] = state[_LAST_KNOWN] = BROKER  # the controller's leader, its last known leader
    state[3] = state[4] = BROKERS  # ISR, ELR
    for f in _PER_BROKER:
        state[f] = PER_BROKER
    for f in _MESSAGE_FIELDS:
        state[f] = MESSAGES
    r = {f: i for i, f in enumerate(Replica._fields)}
    replica = [KEEP] * len(Replica._fields)
    replica[r["leader"]] = BROKER
    replica[r["follower_leos"]] = PER_BROKER
    replica[r["isr"]] = BROKERS
    # per message field: its items (as _rename_messages renames them) and how the field is
    # sorted afterwards (-1: whole messages; k: stably by item k alone)
    messages = {
        _REQUESTS: ((KEEP, KEEP, BROKER, KEEP, KEEP), 2),
        _PURGATORY: ((BROKER, KEEP, KEEP, KEEP), -1),
        _RESPONSES: ((KEEP, KEEP, KEEP, KEEP, KEEP, BROKER), 5),
        _MESSAGES: ((BROKER, KEEP, BROKER, BROKERS), -1),
        _DELAYED: ((BROKER, BROKER, KEEP, KEEP, KEEP), -1),
        _CHANGES: ((BROKER, KEEP, BROKERS, BROKERS, BROKERS, KEEP), -1),
    }
    return tuple(state), tuple(replica), messages


RENAMING_LAYOUT = _layout()

# A broker's signature (_signatures, _order) as data for the same C code: the replica's
# fields compared first, in this order, then its flags, each (how, field): 0 the replica's
# item `field` names the broker, 1 the state's field names it, 2 the broker is in the
# state's field, 3 the broker's entry of the state's per-broker field.
SIGNATURE_LAYOUT = (_REPLICA_SIGNATURE, ((0, 6), (1, 1), (2, 3), (2, 4), (3, _TRUNCATING), (3, _UNCLEAN),
                                         (1, _LAST_KNOWN)))
