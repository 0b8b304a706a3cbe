"""The z3 relation of `ackcheck prove` agrees with the Python model, action by action.

For states reached by seeded random walks of model/protocol.py (each step picks an
enabled action with weight 1 / (1 + times its name was taken), so crashes, elections,
epoch bumps and late metadata come up as often as sends and fetches) (configurations inside the
encoded fragment) and every action instance of the encoding: the instance is enabled
exactly when the Model offers that action, and its successor is the Model's successor
(compared on the encoded fields: don't-care log slots masked, message timestamps reduced
to each connection's order). The encoding runs on concrete values for every sampled state,
and on z3 terms (the very formula BMC unrolls, evaluated by substitution) for a subset.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
import z3

from ackcheck.checker.engines.prove.bmc import Relation, _as_z3
from ackcheck.checker.engines.prove.encoding import Encoding
from ackcheck.checker.engines.prove.layout import NotEncoded, check_fragment
from ackcheck.model import truncation
from ackcheck.model.protocol import Model
from ackcheck.model.state import B_IN_FLIGHT, E_UNKNOWN_PRODUCER_ID
from ackcheck.traces.settings import build_config, parse_set

CONFIGS = [
    ("acks=1 records=2 elections=1", ["acks=1"], dict(max_records=2, max_elections=1)),
    ("acks=all minISR=2 records=2", ["acks=all", "min.insync.replicas=2"], dict(max_records=2)),
    ("acks=0 records=2", ["acks=0"], dict(max_records=2)),
    ("acks=1 unclean crashes=2", ["acks=1", "unclean.leader.election.enable=true"], dict(max_crashes=2)),
    ("acks=all no idempotence records=2 crashes=2", ["acks=all", "enable.idempotence=false"],
     dict(max_records=2, max_crashes=2)),
    ("acks=all minISR=2 rf=2 crashes=2 elections=1", ["acks=all", "min.insync.replicas=2", "replication.factor=2"],
     dict(max_crashes=2, max_elections=1)),
    ("kafka 3.6 (ZooKeeper) acks=all records=2", ["acks=all"], dict(max_records=2, max_crashes=2), "3.6"),
    ("idempotent records=2 crash+rebalance", ["acks=all"], dict(max_records=2, max_crashes=1, max_elections=1)),
    # power losses and the page cache: the OS flusher, and log.flush.interval.messages
    ("power loss minISR=2 crash isr-shrink", ["acks=all", "min.insync.replicas=2"],
     dict(max_power_losses=1, max_crashes=1, max_isr_shrinks=1, max_attempts=1)),
    ("power losses=2 flush.interval=1 acks=1 records=2", ["acks=1", "log.flush.interval.messages=1"],
     dict(max_records=2, max_power_losses=2, max_crashes=0)),
    ("power loss flush.interval=2 ZooKeeper no idempotence", ["acks=all", "log.flush.interval.messages=2",
                                                              "enable.idempotence=false"],
     dict(max_records=2, max_power_losses=1, max_crashes=1), "3.6"),
    # lost requests/responses, purgatory timeouts, other producers' writes (KAFKA-15591's bounds)
    ("idempotent lost messages + other writes", ["acks=all", "min.insync.replicas=2", "retries=3"],
     dict(max_records=2, max_crashes=0, max_isr_shrinks=2, max_lost_messages=1, max_other_writes=1, max_attempts=2)),
    ("acks=1 lost messages=2 other writes=2 crash", ["acks=1", "enable.idempotence=false"],
     dict(max_records=2, max_lost_messages=2, max_other_writes=2, max_crashes=1)),
    # the truncation eras before 2.7: HW truncation (0.10), KIP-101 once per epoch (1.0),
    # KIP-279 once per epoch with KIP-320 (2.1, with a delayed fetch)
    ("kafka 0.10 HW truncation rf=2 crashes=2", ["acks=all", "replication.factor=2"],
     dict(max_records=2, max_crashes=2, max_isr_shrinks=1), "0.10"),
    ("kafka 1.0 KIP-101 acks=1 rf=2 crash+rebalance", ["acks=1", "replication.factor=2"],
     dict(max_records=2, max_crashes=2, max_elections=1, max_isr_shrinks=1, max_attempts=1), "1.0"),
    ("kafka 2.1 KIP-279 rebalances delayed fetch", ["acks=1"],
     dict(max_records=2, max_crashes=1, max_elections=2, max_isr_shrinks=0, max_attempts=1,
          max_delayed_fetches=1), "2.1"),
    ("kafka 2.4 power loss flush.interval=1 unclean", ["acks=1", "log.flush.interval.messages=1",
                                                       "unclean.leader.election.enable=true"],
     dict(max_records=2, max_crashes=1, max_power_losses=1), "2.4"),
    # the idempotent producer before 2.5: producer id resets, UNKNOWN_PRODUCER_ID (KAFKA-8710 /
    # KAFKA-8805 off together, and each alone), a rebalance giving a leader without state
    ("kafka 2.4 idempotent lost messages + other writes", ["acks=all", "enable.idempotence=true", "retries=3"],
     dict(max_records=2, max_crashes=0, max_isr_shrinks=2, max_lost_messages=1, max_other_writes=1, max_attempts=2),
     "2.4"),
    ("KAFKA-8710 off: rebalance and lost messages", ["acks=all", "retries=3"],
     dict(max_records=2, max_crashes=0, max_elections=1, max_lost_messages=1, max_attempts=2), None,
     ["any_first_sequence=off"]),
    ("KAFKA-8805 off: rebalance, lost messages, other writes", ["acks=all", "retries=3"],
     dict(max_records=2, max_crashes=0, max_elections=1, max_lost_messages=1, max_other_writes=1,
          max_isr_shrinks=1, max_attempts=2), None, ["idempotent_epoch_bump=off"]),
    # the consumer: polls below the leader's HW, auto.offset.reset after a truncation
    ("consumer acks=1 unclean crashes=2 (latest)", ["acks=1", "unclean.leader.election.enable=true"],
     dict(max_records=2, max_crashes=2, max_attempts=1)),
    ("consumer acks=1 power loss rebalance (earliest)", ["acks=1", "auto.offset.reset=earliest"],
     dict(max_records=2, max_crashes=1, max_power_losses=1, max_elections=1, max_attempts=1)),
    # delayed (stale) fetches, with and without KIP-320
    ("delayed fetch minISR=2 crash elections=2", ["acks=all", "min.insync.replicas=2"],
     dict(max_records=2, max_crashes=1, max_elections=2, max_isr_shrinks=0, max_attempts=1,
          max_delayed_fetches=1)),
    ("delayed fetches=2 KIP-320 off acks=1", ["acks=1"],
     dict(max_records=2, max_crashes=0, max_elections=2, max_isr_shrinks=1, max_attempts=1,
          max_delayed_fetches=2), None, ["fenced_leader_epoch=off"]),
]
WALKS, LENGTH = 7, 30  # about 210 states a configuration (4,800 in all)
Z3_EVERY = 60  # every 60th state is also checked through the z3 formula


def _config(settings, bounds, version=None, rules=()):
    return build_config(parse_set(settings), bounds=bounds, kafka_version=version, rule_overrides=list(rules))


def _compare(enc: Encoding, s, successors) -> tuple[dict, str | None]:
    es = enc.from_state(s)
    got = {}
    for inst, (en, t) in zip(enc.instances, enc.step_all(es)):
        assert isinstance(en, bool)
        if en:
            a = inst.decode(es.f)
            if a in got:
                return got, f"{a} enabled by two instances"
            got[a] = t
    py = dict(successors)
    if set(got) != set(py):
        return got, f"enabled differ: only encoded {set(got) - set(py)}, only Model {set(py) - set(got)}"
    for a, t in py.items():
        want, have = enc.project(enc.from_state(t)), enc.project(got[a])
        if want != have:
            diff = [(x[0], x[1], y[1]) for x, y in zip(want, have) if x != y]
            return got, f"{a}: successor differs (field, Model, encoded): {diff}"
    return got, None


def _z3_agrees(enc: Encoding, rel: Relation, s) -> str | None:
    """The BMC formula T(x := s, act := i, y) holds for y = the instance's concrete successor
    exactly when the instance is enabled."""
    es = enc.from_state(s)
    cur = [(a, _as_z3(v, a)) for a, (_, v) in zip(rel.x_leaves, enc.leaves(es))]
    for i, (en, t) in enumerate(enc.step_all(es)):
        nxt = [(a, _as_z3(v, a)) for a, (_, v) in zip(rel.y_leaves, enc.leaves(t))]
        f = z3.simplify(z3.substitute(rel.formula, *cur, *nxt, (rel.act, z3.BitVecVal(i, enc.act_bits))))
        if z3.is_true(f) != en or (not en and not z3.is_false(f)):
            return f"instance {enc.instances[i].name}{enc.instances[i].args}: z3 says {f}, concrete says {en}"
    return None


@pytest.mark.parametrize("case", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_relation_matches_model(case):
    name, settings, bounds, *era = case
    config = _config(settings, bounds, *era)
    check_fragment(config)
    consumer = name.startswith("consumer")
    enc = Encoding(config, consumer=consumer)
    rel = Relation(enc)
    model = Model(config, consumer=consumer)
    rnd = random.Random(15)
    seen_actions = set()
    taken = Counter()
    n = 0
    for _ in range(WALKS):
        s = model.init()
        for _ in range(LENGTH):
            succ = list(model.successors(s))
            got, problem = _compare(enc, s, succ)
            assert problem is None, f"{name}: {problem}\nstate: {s}"
            if n % Z3_EVERY == 0:
                problem = _z3_agrees(enc, rel, s)
                assert problem is None, f"{name}: {problem}\nstate: {s}"
            seen_actions.update(a[0] for a in got)
            n += 1
            if not succ:
                break
            a, s = rnd.choices(succ, weights=[1 / (1 + taken[x[0][0]]) for x in succ])[0]
            taken[a[0]] += 1
    assert n >= WALKS * 5
    # the walks exercise the protocol, not just the producer
    b = config.bounds
    want = {"producer_send", "broker_handle_produce", "follower_fetch", "controller_alter_partition"}
    want |= {"restart"} if b.max_crashes + b.max_power_losses else set()
    want |= {"controller_elect", "broker_learn"} if b.max_crashes + b.max_power_losses + b.max_elections else set()
    want |= {"crash"} if b.max_crashes else set()
    want |= {"power_loss"} if b.max_power_losses else set()
    want |= {"flush"} if b.max_power_losses and config.log_flush_interval_messages > 100 and not consumer else set()
    want |= {"other_producer_write"} if b.max_other_writes else set()
    want |= {"follower_fetch_delayed", "leader_handle_delayed_fetch"} if b.max_delayed_fetches else set()
    want |= {"consumer_poll"} if consumer else set()  # (consumer_reset: a rare branch below)
    if b.max_lost_messages:
        want.add("lose_request" if "lose_request" in seen_actions else "lose_response")
        want |= {"leader_timeout_produce"} if config.acks == "all" else set()
    assert want <= seen_actions, want - seen_actions


def test_fragment_limits_are_refused_by_name():
    for settings, bounds, flag in [
        (["acks=1", "records.per.batch=2"], dict(max_records=2), "records.per.batch"),
        (["acks=all"], dict(max_records=3, max_attempts=2), "more than 5 batches"),
    ]:
        with pytest.raises(NotEncoded, match=flag):
            check_fragment(_config(settings, bounds))
    with pytest.raises(NotEncoded, match="sequence-contiguity"):
        check_fragment(_config(["acks=all"], {}), ["sequence-contiguity"])


# Branches random walks seldom reach: each is searched breadth-first on the Model (fast),
# and the encoding is compared with the Model on the first state where the branch decides.
def _delayed(s, a):
    return [d for d in s.delayed_fetches if d.follower == a[2]][0]


def _served_lead(m, s, a):
    d = _delayed(s, a)
    ldr = s.replicas[d.leader]
    return ldr.alive and ldr.leader == d.leader and (not m.fenced_epoch or d.leader_epoch == ldr.leader_epoch)


def _diverging(m, s, a):
    d = _delayed(s, a)
    ldr = s.replicas[d.leader]
    return (_served_lead(m, s, a) and 0 < d.fetch_offset <= ldr.log_end_offset
            and truncation.diverges(ldr.log, ldr.log_end_offset, d.last_fetched_epoch, d.fetch_offset))


def _superseded(m, s, a):
    d = _delayed(s, a)
    ldr = s.replicas[d.leader]
    return (_served_lead(m, s, a) and d.fetch_offset <= ldr.log_end_offset
            and d.follower in m._leo_keepers(s, d.leader) and d.fetch_offset < ldr.follower_leos[d.follower])


def _beyond_leo(m, s, a):
    d = _delayed(s, a)
    return _served_lead(m, s, a) and d.fetch_offset > s.replicas[d.leader].log_end_offset


def _unknown_pid(acked_before: bool):
    def pred(m, s, a):
        resp = next(r for r in s.responses if r.batch == a[1] and r.attempt == a[2])
        b = s.batches[a[1]]
        return (resp.error == E_UNKNOWN_PRODUCER_ID and b.status == B_IN_FLIGHT and b.attempts == a[2]
                and b.attempts < m.max_attempts and not b.resequenced
                and (s.last_acked_sequence >= 0) == acked_before)
    return pred


DELAYED = (["acks=1"], dict(max_records=2, max_crashes=0, max_elections=2, max_isr_shrinks=0, max_attempts=1,
                            max_delayed_fetches=1))
# a rebalance gives a leader without this producer's state (2.4 broker: UNKNOWN_PRODUCER_ID)
PRE25 = (["acks=all", "retries=3", "max.in.flight.requests.per.connection=5"],
         dict(max_records=2, max_crashes=0, max_elections=1, max_isr_shrinks=1, max_lost_messages=1, max_attempts=2))
RARE = [
    ("delayed fetch diverges (2.7+ fetch check)", *DELAYED, ["fenced_leader_epoch=off"], _diverging),
    ("delayed fetch older than the leader's view", *DELAYED, [], _superseded),
    ("delayed fetch beyond the leader's LEO", *DELAYED, ["fenced_leader_epoch=off"], _beyond_leo),
    ("2.4 UNKNOWN_PRODUCER_ID, nothing acknowledged: re-stamp", *PRE25,
     ["any_first_sequence=off", "idempotent_epoch_bump=off"], _unknown_pid(False)),
    ("2.4 UNKNOWN_PRODUCER_ID after an acknowledgement: reset", *PRE25,
     ["any_first_sequence=off", "idempotent_epoch_bump=off"], _unknown_pid(True)),
    ("2.5 client, 2.4 broker: UNKNOWN_PRODUCER_ID bumps", *PRE25, ["any_first_sequence=off"], _unknown_pid(True)),
]
def _any(m, s, a):
    return True


CONSUMER = (["acks=1", "unclean.leader.election.enable=true", "replication.factor=2"],
            dict(max_records=2, max_crashes=2, max_attempts=1, max_isr_shrinks=1))
RARE += [
    ("consumer reset to latest after an unclean election", *CONSUMER, [], _any),
    ("consumer reset to earliest after an unclean election", CONSUMER[0] + ["auto.offset.reset=earliest"],
     CONSUMER[1], [], _any),
]
ACTION_OF = {_any: "consumer_reset", _diverging: "leader_handle_delayed_fetch", _superseded: "leader_handle_delayed_fetch",
             _beyond_leo: "leader_handle_delayed_fetch"}


@pytest.mark.parametrize("case", RARE, ids=[c[0] for c in RARE])
def test_rare_branches_match_model(case):
    name, settings, bounds, rules, pred = case
    action = ACTION_OF.get(pred, "producer_receive")
    config = _config(settings, bounds, None, rules)
    enc = Encoding(config, consumer=action == "consumer_reset")
    model = Model(config, consumer=action == "consumer_reset")
    seen = {model.init()}
    frontier = [model.init()]
    while frontier and len(seen) < 400_000:
        nxt = []
        for s in frontier:
            succ = model.successors(s)
            if any(a[0] == action and pred(model, s, a) for a, _ in succ):
                _, problem = _compare(enc, s, succ)
                assert problem is None, f"{name}: {problem}\nstate: {s}"
                assert _z3_agrees(enc, Relation(enc), s) is None
                return
            for _, t in succ:
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    pytest.fail(f"{name}: not reached in {len(seen)} states")
