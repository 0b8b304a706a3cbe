"""Which actions commute: the independence relation a partial-order reduction needs.

`independent(model, s, a, b)` says that actions `a` and `b`, both enabled in state `s`,
commute there: after either one the other is still enabled, and both orders end in the
same state. A sleep-set search (docs/reach.md, "Partial-order reduction") may then skip
one of the two orders. The relation may say "dependent" for pairs that commute (that only
costs states visited twice); it must never say "independent" for a pair that does not.
`tests/test_independence.py` checks exactly that on every reachable state of configurations
across the eras: every pair called independent closes its diamond, state for state.

What the actions read and write (model/protocol.py), and so the pairs:

- `broker_learn(b, e)` writes only what belongs to broker b: its replica, its queued
  controller messages, its pending ISR change, its fetcher state and recovery point, its
  purgatory and its connection's responses. It reads nothing but b's own state and the
  message.
- `follower_fetch(r)` with r's leader l (as r believes) reads and writes r's and l's
  replicas, l's pending ISR change, purgatory and responses, r's fetcher state and
  recovery point. It never changes a replica's `alive` or `leader`.
- `restart(c)` writes c's replica, c's unclean-shutdown flag and the ELR, then learns the
  controller's decision for c (c's part, as `broker_learn`). It reads the controller's
  leader, epoch and ISR, which no action here writes.
- `producer_send(i, x)` reads the batches and, of the brokers, only who is alive and who
  believes it leads; it writes the batches, outcomes, requests and sequence counter.
- `controller_alter_partition(l)` reads l's pending ISR change, the controller's leader,
  epoch, ISR and ELR, l's replica and (KIP-841/903) whether the proposed replicas are
  alive; it writes the controller's ISR and ELR, l's pending change, l's replica (its ISR
  view, follower offsets and HW), l's purgatory and responses. No controller message is
  sent: the answer reaches l in the same step.
- `producer_receive(batch, attempt)` pops the oldest response of one connection and writes
  only the producer's bookkeeping, which no broker reads. The broker-side actions above
  only ever append responses, each after those already on its broker's connection, so the
  response a receive pops stays the oldest of its connection, and the responses a
  broker-side action appends are the same whether or not it was popped.
- Messages in the network are kept sorted by broker (responses, controller messages,
  purgatory), so appends and removals on two brokers' parts commute.

Hence these pairs commute:

- `broker_learn(b)` with `broker_learn(c)` or `restart(c)`, c != b; with
  `producer_send(i, x)`, x != b (learning may change whether b believes it leads); with
  any `producer_receive`;
- `follower_fetch(r)` (leader l) with `broker_learn(b)`, b not r or l; with `restart(c)`
  (c is down, so neither r nor l); with any `producer_send` and any `producer_receive`;
- `controller_alter_partition(l)` with `broker_learn(b)`, b != l; with `follower_fetch(r)`
  when l is neither r nor r's leader; with any `producer_send` (it changes no replica's
  `alive` or `leader`); with any `producer_receive`. Not with `restart`: both write the
  ELR.

How it is computed: each enabled action gets a *footprint* at s, a small int (`footprint`):
its kind, the brokers whose parts it touches, whether it may advance a leader's HW
(below), and for a send the broker it goes to. Whether two actions commute is then a function of their two footprints
alone (`commute`, remembered per pair of footprints), so a search asks it with one
dictionary lookup; `independent` is the same relation asked of two actions.

One shared ghost: when the model keeps `committed_log` (the records below any leader's HW,
in order), two steps that may each advance a leader's HW both append to it. The relation
does not try to prove that the two orders append the same records, so such pairs (a learn
that makes its broker leader, a restart of the controller's leader, any fetch, any
accepted or rejected ISR change) are called dependent then.
"""

from __future__ import annotations

from ackcheck.model.state import State
from ackcheck.traces.observation import Replica

__all__ = ["KINDS", "KNOWN", "commute", "footprint", "independent"]

# footprint kinds (bits 0-2); 0: an action the relation calls dependent on everything
_LEARN, _FETCH, _ALTER, _RESTART, _SEND, _RECEIVE = 1, 2, 3, 4, 5, 6
_KINDS = {"broker_learn": _LEARN, "follower_fetch": _FETCH, "controller_alter_partition": _ALTER,
          "restart": _RESTART, "producer_send": _SEND, "producer_receive": _RECEIVE}
KNOWN = frozenset(_KINDS)  # the actions the relation may call independent of another
KINDS = 7  # a footprint's kind bits: 0 for an action the relation calls dependent on everything
_MAY_COMMIT = 1 << 3  # the model keeps committed_log and the action may advance a leader's HW
_BROKERS = 4  # bits 4 and up: the brokers touched (a send: the broker it goes to)
_R_LEADER = Replica._fields.index("leader")


def footprint(model, s: State, action: tuple) -> int:
    """What `commute` needs to know of an enabled action at s, as an int (see the module's
    docstring)."""
    name = action[0]
    kind = _KINDS.get(name, 0)
    if kind == 0 or kind == _RECEIVE:
        return kind
    if kind == _SEND:
        return kind | (1 << action[2]) << _BROKERS
    b = action[1]
    if kind == _FETCH:  # the follower and the leader it fetches from
        code = kind | ((1 << b) | (1 << s[0][b][_R_LEADER])) << _BROKERS
    else:
        code = kind | (1 << b) << _BROKERS
    if model.keep_committed_log:
        if kind == _LEARN:
            epoch = action[2]
            for m in s.controller_messages:
                if m[0] == b and m[1] == epoch and m[2] == b:
                    code |= _MAY_COMMIT
                    break
        elif kind == _RESTART:
            if s.leader == b:
                code |= _MAY_COMMIT
        else:
            code |= _MAY_COMMIT
    return code


_COMMUTE: dict = {}


def commute(fa: int, fb: int) -> bool:
    """Whether two actions with footprints fa and fb (taken at the same state) commute."""
    key = (fa, fb)
    got = _COMMUTE.get(key)
    if got is None:
        got = _COMMUTE[key] = _commute(fa, fb)
    return got


def _commute(fa: int, fb: int) -> bool:
    ka, kb = fa & KINDS, fb & KINDS
    if not _LEARN <= ka <= _RESTART:  # (a broker-side action first)
        fa, fb, ka, kb = fb, fa, kb, ka
    if not _LEARN <= ka <= _RESTART:
        return False
    if kb == _SEND or kb == _RECEIVE:
        if ka == _RESTART:  # not argued: a restart changes who is alive
            return False
        if kb == _SEND:  # only a learn changes who believes it leads: not b's own
            return ka != _LEARN or not (fa >> _BROKERS) & (fb >> _BROKERS)
        # a receive pops the oldest response of one connection; the broker side only
        # appends responses, each after those already on its broker's connection
        return True
    if not _LEARN <= kb <= _RESTART:
        return False
    if ka == kb != _LEARN:
        # two fetches: not argued (with 3 brokers they share the leader); two ISR changes
        # both write the controller's ISR, two restarts may both write the ELR
        return False
    if {ka, kb} == {_RESTART, _ALTER}:  # both write the ELR
        return False
    if (fa >> _BROKERS) & (fb >> _BROKERS):  # a broker's part both touch
        return False
    return not (fa & _MAY_COMMIT and fb & _MAY_COMMIT)


def independent(model, s: State, a: tuple, b: tuple) -> bool:
    """Actions a and b, both enabled in s, commute in s (see the module's docstring)."""
    return commute(footprint(model, s, a), footprint(model, s, b))
