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
- `restart(c)` writes c's replica, c's unclean-shutdown flag and (KIP-966) c's place in
  the ELR, then learns the controller's decision for c (c's part, as `broker_learn`). It
  reads the controller's leader, epoch and ISR; of these, ISR changes write only the ISR,
  which c does not keep as a follower. c always learns as a follower: a crash takes c out
  of the controller's leader and only live brokers are elected (the footprint calls a
  restart of the controller's leader dependent on everything, to be safe), so a restart
  never changes who believes it leads and never touches the producer's connections.
- `broker_handle_produce(b)` takes the oldest request on b's connection and writes b's
  replica, b's part of the purgatory, b's connection's responses (appended), b's recovery
  point and the requests (with `in_flight`, a function of them). It reads b's replica and
  b's part of the requests, purgatory and pending ISR change; nothing of the producer.
- `leader_shrink_isr(l, f)` reads l's replica, l's pending ISR change, the ISR-shrink
  budget and whether f is alive; it writes l's pending ISR change, the budget, l's replica
  (its HW) and l's part of the purgatory and responses.
- `producer_send(i, x)` reads the batches and, of the brokers, only who is alive and who
  believes it leads; it writes the batches, outcomes, requests (appended after the
  requests already on x's connection) and sequence counter.
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
- Messages in the network are kept sorted by broker (requests, responses, controller
  messages, purgatory, ISR changes), so appends and removals on two brokers' parts commute.

Hence these pairs commute (the broker-side actions are learn, fetch, ISR change, restart,
handle-produce and shrink; "the brokers it touches": a fetch's follower and leader, the
broker of every other one):

- two broker-side actions that touch no broker in common, except: two fetches, two ISR
  changes, two restarts or two shrinks (they share a leader, the controller's ISR, the ELR
  or the shrink budget); a restart of a broker whose liveness the other reads (a shrink's
  follower, a proposed or base ISR member of an ISR change); a restart of an ELR member
  with an ISR change (both may move it in or out of the ELR);
- any broker-side action with any `producer_receive`;
- any broker-side action with any `producer_send`, except `broker_learn(b)` with a send
  to b (learning may change whether b believes it leads). A send appends after the
  requests on its connection, so the request a handle-produce takes stays the oldest.

How it is computed: each enabled action gets a *footprint* at s, a small int (`footprint`):
its kind, the brokers whose parts it touches, the other brokers whose liveness it reads,
whether it may advance a leader's HW (below), for a restart whether its broker is in the
ELR, and for a send the broker it goes to (8 bits per broker set: replication factors up to
5). Whether two actions commute is then a function of their two footprints
alone (`commute`, remembered per pair of footprints), so a search asks it with one
dictionary lookup; `independent` is the same relation asked of two actions.

One shared ghost: when the model keeps `committed_log` (the records below any leader's HW,
in order), two steps that may each advance a leader's HW both append to it. The relation
does not try to prove that the two orders append the same records, so such pairs (a learn
that makes its broker leader, any fetch, handle-produce, shrink or ISR change; a restart
learns as a follower and advances no HW) are called dependent then.
"""

from __future__ import annotations

from ackcheck.model.state import State
from ackcheck.traces.observation import Replica

__all__ = ["KINDS", "KNOWN", "commute", "footprint", "independent"]

# footprint kinds (bits 0-3); 0: an action the relation calls dependent on everything
_LEARN, _FETCH, _ALTER, _RESTART, _HANDLE, _SHRINK, _SEND, _RECEIVE = 1, 2, 3, 4, 5, 6, 7, 8
_KINDS = {"broker_learn": _LEARN, "follower_fetch": _FETCH, "controller_alter_partition": _ALTER,
          "restart": _RESTART, "broker_handle_produce": _HANDLE, "leader_shrink_isr": _SHRINK,
          "producer_send": _SEND, "producer_receive": _RECEIVE}
KNOWN = frozenset(_KINDS)  # the actions the relation may call independent of another
KINDS = 15  # a footprint's kind bits: 0 for an action the relation calls dependent on everything
_BROKER_SIDE = frozenset({_LEARN, _FETCH, _ALTER, _RESTART, _HANDLE, _SHRINK})
_SAME_KIND_OK = frozenset({_LEARN, _HANDLE})  # two of these on different brokers commute
_MAY_COMMIT = 1 << 4  # the model keeps committed_log and the action may advance a leader's HW
_IN_ELR = 1 << 5  # a restart of a broker in the controller's ELR (it may leave the ELR)
_BROKERS = 8  # bits 8-15: the brokers whose parts it touches (a send: the broker it goes to)
_WATCHED = 16  # bits 16-23: other brokers whose liveness (or ELR place) it reads
_MASK = 0xFF
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
    elif kind == _RESTART:
        if s.leader == b:
            # (never reached: a crash takes b out of the controller's leader, and only live
            # brokers are elected; a restart that made b lead would change who the producer
            # may send to)
            return 0
        code = kind | (1 << b) << _BROKERS
        if b in s.elr:
            code |= _IN_ELR
    elif kind == _SHRINK:  # leader l; it reads whether the follower it drops is alive
        code = kind | (1 << b) << _BROKERS | (1 << action[2]) << _WATCHED
    elif kind == _ALTER:  # leader l; it reads whether the proposed replicas are alive
        code = kind | (1 << b) << _BROKERS
        for c in s.isr_changes:
            if c[0] == b:
                for m in c.base_isr + c.proposed_isr:
                    code |= (1 << m) << _WATCHED
                break
    else:
        code = kind | (1 << b) << _BROKERS
    if model.keep_committed_log:
        if kind == _LEARN:
            epoch = action[2]
            for m in s.controller_messages:
                if m[0] == b and m[1] == epoch and m[2] == b:
                    code |= _MAY_COMMIT
                    break
        elif kind != _RESTART:  # (a restart learns as a follower: see above)
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
    if ka not in _BROKER_SIDE:  # (a broker-side action first)
        fa, fb, ka, kb = fb, fa, kb, ka
    if ka not in _BROKER_SIDE:
        return False  # two producer steps: both write the batches
    if kb == _SEND:  # only a learn changes who believes it leads: not the send's broker
        return ka != _LEARN or not (fa >> _BROKERS) & (fb >> _BROKERS) & _MASK
    if kb == _RECEIVE:
        # a receive pops the oldest response of one connection and writes only the
        # producer's bookkeeping; the broker side only appends responses, each after those
        # already on its broker's connection
        return True
    if kb not in _BROKER_SIDE:
        return False
    if ka == kb and ka not in _SAME_KIND_OK:
        # two fetches: not argued (with 3 brokers they share the leader); two ISR changes
        # both write the controller's ISR, two restarts may both write the ELR, two
        # shrinks both spend the ISR-shrink budget
        return False
    if (fa >> _BROKERS) & (fb >> _BROKERS) & _MASK:  # a broker's part both touch
        return False
    if kb == _RESTART:
        fa, fb, ka, kb = fb, fa, kb, ka
    if ka == _RESTART:
        # a restart makes its broker alive: not one the other reads the liveness of
        if (fa >> _BROKERS) & (fb >> _WATCHED) & _MASK:
            return False
        if kb == _ALTER and fa & _IN_ELR:  # both may write the broker's place in the ELR
            return False
    return not (fa & _MAY_COMMIT and fb & _MAY_COMMIT)


def independent(model, s: State, a: tuple, b: tuple) -> bool:
    """Actions a and b, both enabled in s, commute in s (see the module's docstring)."""
    return commute(footprint(model, s, a), footprint(model, s, b))
