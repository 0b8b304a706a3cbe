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
  only the producer's bookkeeping, which no broker reads.
- Messages in the network are kept sorted by broker (responses, controller messages,
  purgatory), so appends and removals on two brokers' parts commute.

Hence these pairs commute:

- `broker_learn(b)` with `broker_learn(c)` or `restart(c)`, c != b; with
  `producer_send(i, x)`, x != b (learning may change whether b believes it leads); with
  `producer_receive` while b holds nothing in purgatory (then it adds no response);
- `follower_fetch(r)` (leader l) with `broker_learn(b)`, b not r or l; with `restart(c)`
  (c is down, so neither r nor l); with any `producer_send`; with `producer_receive` while
  l holds nothing in purgatory;
- `controller_alter_partition(l)` with `broker_learn(b)`, b != l; with `follower_fetch(r)`
  when l is neither r nor r's leader; with any `producer_send` (it changes no replica's
  `alive` or `leader`); with `producer_receive` while l holds nothing in purgatory. Not
  with `restart`: both write the ELR.

One shared ghost: when the model keeps `committed_log` (the records below any leader's HW,
in order), two steps that may each advance a leader's HW both append to it. The relation
does not try to prove that the two orders append the same records, so such pairs (a learn
that makes its broker leader, a restart of the controller's leader, any fetch, any
accepted or rejected ISR change) are called dependent then.
"""

from __future__ import annotations

from ackcheck.model.state import State

__all__ = ["independent"]


def _may_commit(s: State, action: tuple) -> bool:
    """Whether the action may advance a leader's HW (and so append to committed_log)."""
    name = action[0]
    if name == "broker_learn":
        b, epoch = action[1], action[2]
        return any(m.broker == b and m.leader_epoch == epoch and m.leader == b for m in s.controller_messages)
    if name == "restart":
        return s.leader == action[1]
    return name in ("follower_fetch", "controller_alter_partition")


def _no_purgatory(s: State, broker: int) -> bool:
    return not any(p.broker == broker for p in s.purgatory)


# the broker-side actions the relation knows
_BROKER_SIDE = frozenset({"broker_learn", "follower_fetch", "controller_alter_partition", "restart"})


def _owners(s: State, action: tuple) -> tuple[int, ...]:
    """The brokers whose parts a broker-side action touches."""
    if action[0] == "follower_fetch":  # the follower and the leader it fetches from
        return action[1], s.replicas[action[1]].leader
    return (action[1],)


def _answering(s: State, action: tuple) -> int:
    """The broker on whose connection a broker-side action may add produce responses."""
    return _owners(s, action)[-1]  # (a fetch: the leader serving it)


def independent(model, s: State, a: tuple, b: tuple) -> bool:
    """Actions a and b, both enabled in s, commute in s (see the module's docstring)."""
    if a[0] not in _BROKER_SIDE:
        a, b = b, a
    na, nb = a[0], b[0]
    if na not in _BROKER_SIDE:
        return False
    if nb in ("producer_send", "producer_receive"):
        if na == "restart":  # not argued: a restart changes who is alive
            return False
        if nb == "producer_send":  # only a learn changes who believes it leads
            return na != "broker_learn" or b[2] != a[1]
        return _no_purgatory(s, _answering(s, a))  # then it adds no response to be received
    if nb not in _BROKER_SIDE:
        return False
    if na == nb != "broker_learn":
        # two fetches: not argued (with 3 brokers they share the leader); two ISR changes
        # both write the controller's ISR, two restarts may both write the ELR
        return False
    if {na, nb} == {"restart", "controller_alter_partition"}:  # both write the ELR
        return False
    if set(_owners(s, a)) & set(_owners(s, b)):
        return False
    return not (model.keep_committed_log and _may_commit(s, a) and _may_commit(s, b))
