"""The replication protocol of one Kafka partition as a pure state machine.

One partition, `replication.factor` brokers (0..RF-1), one producer, one consumer group
with one consumer, one controller. Actions are data: ACTION_TABLE lists them in the order
successors() gives them, and each is a pair of methods under one header saying WHO acts,
when it is enabled and its effect (the style of the TLA+ Kafka specifications):
`enabled_<name>(s)` gives the argument tuples it is enabled with and `<name>(s, *args)` the
next state, charging the action's bound. step() is a lookup: guard, then effect. Every
nondeterministic choice is an action argument, so traces replay exactly.

Protocol eras are selected by named rules (traces/eras.py); each place a rule changes
behaviour names its KIP/JIRA. Simplifications of Kafka are written next to the action
they concern.
"""

from __future__ import annotations

import re

from ackcheck.model import independence, truncation
from ackcheck.model.state import (
    B_FAILED,
    B_IN_FLIGHT,
    B_INDETERMINATE,
    B_OK,
    B_QUEUED,
    B_RETRY,
    BATCH_TO_OUTCOME,
    E_DUPLICATE_SEQUENCE_NUMBER,
    E_INVALID_PRODUCER_EPOCH,
    E_NONE,
    E_NOT_ENOUGH_REPLICAS,
    E_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    E_NOT_LEADER_OR_FOLLOWER,
    E_OUT_OF_ORDER_SEQUENCE_NUMBER,
    E_REQUEST_TIMED_OUT,
    E_UNKNOWN_PRODUCER_ID,
    NOT_APPENDED,
    DelayedFetch,
    IsrChange,
    LeaderAndIsr,
    ParkedProduce,
    ProducerBatch,
    ProduceRequest,
    ProduceResponse,
    State,
    batch_records,
    initial_state,
    observe,
)
from ackcheck.traces import render
from ackcheck.traces.format import ACTIONS, Action
from ackcheck.traces.observation import Batch, Replica, flat_records
from ackcheck.traces.settings import Config

# ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the broker remembers the last 5 batches per
# producer id for deduplication (KIP-98; KAFKA-5494 made 5 in-flight requests safe).
PRODUCER_STATE_BATCHES = 5


# The actions, in the order successors() lists them (BFS order: traces, state counts and
# counterexamples depend on it). Each action `name` is a pair of Model methods next to its
# ACTION header: `enabled_<name>(s)` -> the argument tuples it is enabled with, and
# `<name>(s, *args)` -> the next state, charging the action's bound if it has one. The
# tuple is the per-broker group: those actions interleave broker by broker (crash(0),
# power_loss(0), restart(0), flush(0), crash(1), ...), and their `enabled_<name>(s, b)`
# answers for one broker.
ACTION_TABLE = (
    # producer
    "producer_send", "producer_receive", "producer_timeout", "producer_expire", "other_producer_write",
    # brokers
    "broker_handle_produce", "leader_timeout_produce", "follower_fetch", "follower_fetch_delayed",
    "leader_handle_delayed_fetch", "leader_shrink_isr", "broker_learn",
    # controller
    "controller_alter_partition", "controller_elect",
    # faults
    ("crash", "power_loss", "restart", "flush"),
    "lose_request", "lose_response",
    # consumer
    "consumer_poll", "consumer_reset",
)
# Actions whose guard is cheap but whose "changes anything" is only known from the effect:
# the effect returns the state itself then (a stutter), and the step is not listed.
STUTTERING = frozenset({"follower_fetch"})
# The actions that may finish a batch or write the producer's epoch and sequence counters
# (Model.abstract, "Eagerly"): the producer's own, and those that break a connection (a
# process crash, a lost request or response), which fails or re-queues its batches.
FORGETTING = frozenset({"producer_send", "producer_receive", "producer_timeout", "producer_expire", "crash",
                        "lose_request", "lose_response"})
# A necessary condition of an action's guard, cheap to read off the state: successors()
# skips the enabled() call when it is false (each enabled() checks it again itself).
QUICK_SKIP = {
    "producer_receive": "s.responses",
    "producer_expire": "s.leader == -1",
    "broker_handle_produce": "s.requests",
    "leader_timeout_produce": "s.purgatory",
    "leader_handle_delayed_fetch": "s.delayed_fetches",
    "broker_learn": "s.controller_messages",
    "controller_alter_partition": "s.isr_changes",
    "lose_request": "s.requests",
    "lose_response": "s.responses",
    "consumer_poll": "s.leader >= 0",
    "consumer_reset": "s.leader >= 0",
    "controller_elect": "s.leader == -1 or s.elections < bounds.max_elections",
    "crash": "s.crashes < bounds.max_crashes",
    "power_loss": "s.power_losses < bounds.max_power_losses",
    "flush": "s.power_losses < bounds.max_power_losses",
}
# The whole guard of a per-broker action, given its QUICK_SKIP condition ({q}) and the
# replicas (reps): successors() evaluates it inline instead of calling enabled_<name>(s, b).
# Each must say exactly what its enabled_<name> says (tests/test_explore_successors.py
# compares the specialised successors() with the plain loop).
INLINE_GUARD = {
    "crash": "{q} and reps[{b}].alive",
    "power_loss": "{q}",
    "restart": "not reps[{b}].alive",
    "flush": "{q} and reps[{b}].flushed_offset < reps[{b}].log_end_offset",
}
# the actions a sleep set may hold: those model/independence.py may call independent of another
MAY_SLEEP = independence.KNOWN
_LISTED, _STUTTERS, _PER_BROKER = 0, 1, 2
_NO_ARGS = ((),)
_PRODUCER_MEMO = 1 << 14  # entries of the producer memos (emptied when full)


_SF = {f: i for i, f in enumerate(State._fields)}
_S_MESSAGES, _S_ISR_CHANGES, _S_TRUNCATING = _SF["controller_messages"], _SF["isr_changes"], _SF["fetcher_truncating"]
_S_PURGATORY, _S_RESPONSES, _S_REQUESTS = _SF["purgatory"], _SF["responses"], _SF["requests"]
_S_BATCHES, _S_OUTCOMES, _S_ACK_ISR_SIZES = _SF["batches"], _SF["outcomes"], _SF["ack_isr_sizes"]
_S_PRODUCER_EPOCH, _S_NEXT_SEQUENCE, _S_LAST_ACKED_SEQUENCE = (_SF["producer_epoch"], _SF["next_sequence"],
                                                                _SF["last_acked_sequence"])
_S_IN_FLIGHT, _S_DELAYED, _S_UNCLEAN = _SF["in_flight"], _SF["delayed_fetches"], _SF["unclean_shutdown"]
_S_CRASHES, _S_POWER_LOSSES, _S_ELR, _S_ISR = _SF["crashes"], _SF["power_losses"], _SF["elr"], _SF["isr"]
_S_LEADER, _S_LEADER_EPOCH, _S_LAST_KNOWN, _S_ELECTIONS = (_SF["leader"], _SF["leader_epoch"], _SF["last_known_leader"],
                                                           _SF["elections"])
_S_ISR_SHRINKS = _SF["isr_shrinks"]
_RF = {f: i for i, f in enumerate(Replica._fields)}


def _positional(expr: str) -> str:
    """A guard of QUICK_SKIP / INLINE_GUARD with its named fields read by position, for the
    generated successors(): `s.leader` -> `s[1]`, `reps[2].alive` -> `reps[2][0]` (a
    subscript with a constant is cheaper than a named tuple's attribute)."""
    expr = re.sub(r"\bs\.([a-z_]+)", lambda m: f"s[{_SF[m.group(1)]}]", expr)
    return re.sub(r"(reps\[\d+\])\.([a-z_]+)", lambda m: f"{m.group(1)}[{_RF[m.group(2)]}]", expr)


_R_LOG, _R_LEO, _R_HW, _R_FLUSHED = _RF["log"], _RF["log_end_offset"], _RF["high_watermark"], _RF["flushed_offset"]
_R_LEADER_EPOCH, _R_LEADER, _R_FOLLOWER_LEOS, _R_ISR = (_RF["leader_epoch"], _RF["leader"], _RF["follower_leos"],
                                                        _RF["isr"])
assert tuple(Replica._fields) == ("alive", "log", "log_end_offset", "high_watermark", "flushed_offset", "leader_epoch",
                                  "leader", "follower_leos", "isr")  # (the positional effects rely on it)
assert (ProduceRequest._fields[:2] == ProduceResponse._fields[:2] == ParkedProduce._fields[1:3] == ("batch", "attempt")
        and ProducerBatch._fields[:2] == ("status", "attempts"))  # (_attempt_alive, enabled_producer_timeout)
# (the crash, learn and election effects read and build these by position too)
assert (ProduceRequest._fields == ("batch", "attempt", "broker", "producer_epoch", "base_sequence")
        and ProduceResponse._fields == ("batch", "attempt", "error", "base_offset", "isr_size", "broker")
        and ParkedProduce._fields == ("broker", "batch", "attempt", "end_offset")
        and Batch._fields == ("leader_epoch", "records", "producer_epoch", "base_sequence")
        and DelayedFetch._fields[:2] == ("follower", "leader")
        and LeaderAndIsr._fields == ("broker", "leader_epoch", "leader", "isr")
        and IsrChange._fields == ("leader", "leader_epoch", "base_isr", "proposed_isr", "effective_isr",
                                  "stale_broker_epoch")
        and ProducerBatch._fields == ("status", "attempts", "offset", "maybe_appended", "producer_epoch",
                                      "base_sequence", "resequenced"))


class ActionError(ValueError):
    """An action that is not enabled in the given state (replay of a foreign trace)."""


try:  # tuple.__new__(cls, fields) without its detours (model/_tuples.c): every next state is built so
    from ackcheck.model._tuples import build as _new
except ImportError:  # (not built, or not the build of the current source)
    _new = tuple.__new__


def _finished(batches: tuple) -> tuple:
    """The batches with the dead fields of each finished one set to their initial values
    (attempts 0, producer_epoch and base_sequence -1, resequenced False); the same object
    when there is nothing to forget (Model.abstract, abstraction 2)."""
    out = None
    for i, b in enumerate(batches):
        if b[0] >= B_OK and (b[1] or b[4] != -1 or b[5] != -1 or b[6]):
            if out is None:
                out = list(batches)
            out[i] = _new(ProducerBatch, (b[0], 0, b[2], b[3], -1, -1, False))
    return batches if out is None else tuple(out)


def _same(s):
    return s


def _then_forget(effect, forget):
    """`effect` followed by `forget` (Model.abstract, "Eagerly")."""
    def effect_then_forget(s, *args):
        return forget(effect(s, *args))
    return effect_then_forget


def _put(t: tuple, i: int, v) -> tuple:
    return t[:i] + (v,) + t[i + 1:]


def _with_replica(s: State, b: int, rep) -> State:
    """s._replace(replicas=_put(s.replicas, b, rep)), by position (replicas is field 0)."""
    reps = s[0]
    return _new(State, (reps[:b] + (rep,) + reps[b + 1:],) + s[1:])


def _by_broker(message) -> int:
    return message.broker


def _add_requests(requests: tuple, new: tuple) -> tuple:
    """Requests and responses travel one TCP connection per broker: only the order within
    a connection means anything. They are kept grouped by broker (a stable sort keeps each
    connection's order), so interleavings that differ only across connections are one
    state."""
    out = requests + new
    return tuple(sorted(out, key=_by_broker)) if requests else out


def _add_responses(responses: tuple, new: tuple) -> tuple:
    out = responses + new
    return tuple(sorted(out, key=_by_broker)) if responses else out


class Model:
    """Init state, enabled actions, next state. Properties live in invariants/."""

    def __init__(self, config: Config, *, consumer: bool = True, ghosts=None, reduction: bool = True,
                 eager: bool = False):
        self.config = config
        self.rf = config.replication_factor
        self.brokers = tuple(range(self.rf))
        self.bounds = config.bounds
        self.batch_records = batch_records(config)
        self.acks = config.acks
        self.min_isr = config.min_insync_replicas
        self.idempotent = config.enable_idempotence
        self.max_in_flight = config.max_in_flight_requests_per_connection
        self.in_flight_can_fill = self.max_in_flight <= len(self.batch_records)
        # retries and delivery.timeout.ms: attempts per batch are bounded by both
        self.max_attempts = 1 if config.acks == "0" else min(config.retries + 1, config.bounds.max_attempts)
        self.flush_interval = config.log_flush_interval_messages
        # protocol rules (traces/eras.py)
        self.epoch_truncation = config.rule("epoch_truncation")  # KIP-101
        self.fast_failover = config.rule("epoch_truncation_fast_failover")  # KIP-279
        self.fenced_epoch = config.rule("fenced_leader_epoch")  # KIP-320
        self.join_at_epoch_start = config.rule("isr_join_at_epoch_start")  # KAFKA-7128
        self.strict_min_isr = config.rule("strict_min_isr")  # KAFKA-15583
        self.diverging_fetch = config.rule("diverging_epoch_fetch")  # KAFKA-10554, 2.7
        self.maximal_isr = config.rule("maximal_isr")  # KIP-497
        self.any_first_sequence = config.rule("any_first_sequence")  # KAFKA-8710, broker 2.5
        # KAFKA-8805 (client 2.5, the client side of KIP-360): bump the epoch and re-stamp.
        # Before it the client resets the producer id instead (TransactionManager 2.4
        # resetProducerId): a new producer id starts at epoch 0, so the model writes the
        # producer id's generation where the epoch would be, and the leader keeps one state
        # per generation (no fencing between them).
        self.epoch_bump = config.rule("idempotent_epoch_bump")
        self.pid_resets = not self.epoch_bump
        self.other_record_base = config.bounds.max_records  # ids of other producers' records: above ours
        # before 2.7 a follower truncates once per epoch (the fetcher's Truncating state)
        self.track_truncating = self.epoch_truncation and not self.diverging_fetch
        # KIP-966 ELR lives in the KRaft controller: without KRaft it does not apply
        self.elr_enabled = config.rule("eligible_leader_replicas") and config.rule("kraft_controller")
        # KIP-841 / KIP-903 are checks of the KRaft controller too
        self.fenced_not_in_isr = config.rule("fenced_replicas_not_in_isr") and config.rule("kraft_controller")
        self.kraft = config.rule("kraft_controller")
        self.truncate = truncation.truncate_kip279_memo if self.fast_failover else truncation.truncate_kip101_memo
        # the consumer's actions can be left out when no selected invariant looks at it
        self.with_consumer = consumer
        self.unknown_leos = (-1,) * self.rf
        # ghost history only invariants read (None: all). A ghost no selected invariant reads
        # is not kept at all, so states that differ only in it coincide; traces are
        # rebuilt with every ghost (checker/engines/explore.py replays them on a full model).
        self.ghosts = None if ghosts is None else frozenset(ghosts)
        self.keep_committed_log = ghosts is None or "committed_log" in ghosts
        self.keep_ack_isr_sizes = ghosts is None or "ack_isr_sizes" in ghosts
        self.zero_offsets = (0,) * self.rf
        # what Model.abstract forgets (the explorer's seen-set key): flushed offsets once no
        # power loss is left, and with `reduction` the dead bookkeeping of finished batches
        self.reduction = reduction
        # (`eager`, the explorer's model: with `reduction` the actions that finish batches
        # forget their dead bookkeeping in the state itself, so the key need not; see
        # Model.abstract, "Eagerly")
        self.forget_eagerly = eager and reduction
        self._choose_abstraction()
        self._build_table()

    def _choose_abstraction(self) -> None:
        """Model.abstract, or its shorter form when nothing is ever flushed (no power loss,
        no flush interval): then only finished batches are forgotten, or nothing at all."""
        self._finished_memo = {}
        self._finished_last = self._finished_got = None  # the last batches asked and their answer
        if self.bounds.max_power_losses == 0 and self.flush_interval >= 1 << 62:
            self.abstract = self._abstract_finished if self.reduction and not self.forget_eagerly else _same

    # ------------------------------------------------------------------ model interface
    def init(self) -> State:
        return initial_state(self.config)

    def observe(self, state: State):
        return observe(state)

    def successors(self, s: State) -> list[tuple[Action, State]]:
        """Every enabled action with its next state, in ACTION_TABLE order (determinism),
        the per-broker group interleaved broker by broker. A stutter (see STUTTERING) is not
        a transition. (_build_table replaces this with the same loop specialised to the
        configuration; this is its plain reading.)"""
        out = []
        for entry in self._table:
            if isinstance(entry[0], tuple):
                for b in self.brokers:
                    for name, is_enabled, effect in entry[0]:
                        if is_enabled(s, b):
                            out.append(((name, b), effect(s, b)))
                continue
            name, enabled, effect = entry
            for args in enabled(s):
                nxt = effect(s, *args)
                if name not in STUTTERING or nxt is not s:
                    out.append(((name, *args), nxt))
        return out

    def abstract(self, s: State) -> State:
        """The state with what can no longer matter forgotten: the explorer's seen-set key.

        Two states with the same abstraction have the same futures and the same verdicts,
        so exploring one of them is enough. The states themselves (and traces) keep
        everything; only the key forgets. Two things are forgotten:

        1. Flushed offsets and recovery points only decide what a power loss keeps: once the
           power-loss budget is spent they are forgotten.
        2. (`reduction`) The bookkeeping of a finished batch - acknowledged, failed or
           indeterminate, statuses no action leaves - other than its status, offset and
           maybe_appended (see _finished). Why it is dead: every read of a batch's attempts,
           producer_epoch, base_sequence or resequenced is guarded by a status that is not
           final - producer_send and _next_to_send take queued or retried batches only;
           producer_receive, producer_timeout, lose_request/lose_response and
           _break_connection act on a batch only while it is in flight with that attempt (a
           late answer to a finished batch is just consumed); _bump and the 2.4 re-stamp
           touch in-flight or retried batches only. Once every batch is finished the
           producer's own producer_epoch, next_sequence and last_acked_sequence are dead
           as well (read only for unfinished batches) and are forgotten too. The broker
           side never reads the producer's bookkeeping: requests carry their own producer
           epoch, sequence and attempt. No invariant reads the batches (they are not part of the Observation),
           and the one vacuity witness that does (`retry`: attempts >= 2) is met by the
           batch while it is in flight, a state the key keeps apart. So two states whose
           keys are equal have the same enabled actions in the same order, with results
           whose keys are equal again, and the same verdicts: a bisimulation. BFS over the
           keys therefore keeps every verdict and every shortest counterexample length
           (tests/test_explore_reduction.py checks it against `reduction=False` on every era
           scenario and matrix cell). On R1 of docs/reach.md it merges a third of the states.

        Eagerly (`forget_eagerly`, the model the explorer searches with): abstraction 2 is
        applied by the actions themselves - every action that can finish a batch or write
        the producer's counters (FORGETTING: send, receive, timeout, expiry, a crash and a
        lost message, which break connections) returns its next state with the dead
        bookkeeping already forgotten. Every explored state is then its own abstraction 2,
        and by the bisimulation above the successors of a forgotten state are the forgotten
        successors of the full one: the same keys, so the same counts, order and traces,
        without building a second state per successor for the key. Traces are still rebuilt
        on a full model, which keeps every field (tests/test_explore_reduction.py compares the
        two models state by state).
        """
        if self.reduction and not self.forget_eagerly:  # (an eager model's states are forgotten already)
            s = self._abstract_finished(s)
        reps = s.replicas
        power_done = s.power_losses >= self.bounds.max_power_losses
        new_reps = None
        if power_done:
            for b, r in enumerate(reps):
                if r.flushed_offset:
                    if new_reps is None:
                        new_reps = list(reps)
                    new_reps[b] = r._replace(flushed_offset=0)
        changes = {}
        if new_reps is not None:
            changes["replicas"] = tuple(new_reps)
        if power_done and s.recovery_points != self.zero_offsets:
            changes["recovery_points"] = self.zero_offsets
        return s._replace(**changes) if changes else s

    def _abstract_finished(self, s: State) -> State:
        """Abstraction 2 of Model.abstract alone (the whole of it when nothing is flushed)."""
        batches = s[_S_BATCHES]
        if batches is self._finished_last:  # (a state's successors mostly share its batches)
            got = self._finished_got
        else:
            memo = self._finished_memo
            got = memo.get(batches)
            if got is None:
                forgot = _finished(batches)
                # (None: nothing to forget - for every tuple equal to this one, not only it)
                got = (None if forgot is batches else forgot, all(b[0] >= B_OK for b in batches))
                if len(memo) >= _PRODUCER_MEMO:
                    memo.clear()
                memo[batches] = got
            self._finished_last, self._finished_got = batches, got
        forgot, all_done = got
        # nothing left to send or answer: the producer's own epoch and sequence counters
        # are read only for unfinished batches (producer_send, producer_receive, _bump)
        counters = all_done and (s[_S_PRODUCER_EPOCH], s[_S_NEXT_SEQUENCE], s[_S_LAST_ACKED_SEQUENCE]) != (0, 0, -1)
        if forgot is None and not counters:
            return s
        v = list(s)
        if forgot is not None:
            v[_S_BATCHES] = forgot
        if counters:
            v[_S_PRODUCER_EPOCH], v[_S_NEXT_SEQUENCE], v[_S_LAST_ACKED_SEQUENCE] = 0, 0, -1
        return _new(State, v)

    def actions(self, s: State) -> list[Action]:
        return [a for a, _ in self.successors(s)]

    def enabled(self, s: State, name: str) -> list[tuple]:
        """The argument tuples with which action `name` is enabled in s (empty for an action
        this configuration never enables). A fetch that would change nothing is included:
        successors() and step() leave such stutters out."""
        row = self._by_name.get(name)
        if row is None:
            return []
        enabled, _effect, kind = row
        if kind == _PER_BROKER:
            return [(b,) for b in self.brokers if enabled(s, b)]
        return list(enabled(s))

    def step(self, s: State, action: Action) -> State:
        """Apply one action (used by replay, fuzz and minimize): a lookup of its pair in the
        table, the guard, then the effect. Raises ActionError."""
        row = self._by_name.get(action[0]) if action else None
        if row is not None:
            enabled, effect, kind = row
            args = tuple(action[1:])
            if kind == _PER_BROKER:
                ok = len(args) == 1 and args[0] in self.brokers and enabled(s, args[0])
            else:
                ok = args in enabled(s)
            if ok:
                nxt = effect(s, *args)
                if kind != _STUTTERS or nxt is not s:
                    return nxt
        raise ActionError(f"action {action_str(action)} is not enabled here")

    def _build_table(self) -> None:
        """Bind each action's (enabled, effect) pair once, in ACTION_TABLE order, leaving out
        the actions this configuration can never enable (a bound of 0, no consumer), and
        specialise successors() to what is left: the hot loop of the explorer then calls
        no enabled() whose answer is known to be empty (QUICK_SKIP), unpacks no rows and
        builds each action tuple at its fixed arity."""
        never = self._never_enabled()
        self._by_name = {}
        table = []
        forgetting = FORGETTING if self.forget_eagerly else frozenset()

        def effect_of(name):
            effect = getattr(self, name)
            return _then_forget(effect, self._abstract_finished) if name in forgetting else effect
        for entry in ACTION_TABLE:
            if isinstance(entry, tuple):  # the per-broker group
                group = tuple((name, getattr(self, "enabled_" + name), effect_of(name))
                              for name in entry if name not in never)
                for name, is_enabled, effect in group:
                    self._by_name[name] = (is_enabled, effect, _PER_BROKER)
                if group:
                    table.append((group,))
                continue
            if entry in never:
                continue
            row = (entry, getattr(self, "enabled_" + entry), effect_of(entry))
            table.append(row)
            self._by_name[entry] = (row[1], row[2], _STUTTERS if entry in STUTTERING else _LISTED)
        self._table = tuple(table)
        self.successors = self._specialised_successors()
        # what the producer's bookkeeping implies, per batches tuple (pure functions of it)
        self._outcomes_memo: dict = {}
        self._send_memo: dict = {}

    def _specialised_successors(self):
        """successors() for this configuration's table, written out as straight-line code
        (the same order and the same calls as the plain loop above); and beside it
        `successors_asleep(s, sleep)`, the same list with every action in `sleep` (a tuple
        of actions, see checker/engines/explore.py, "Sleep sets") listed with None for its
        next state, which is not computed. An asleep action that may stutter is still
        computed, to tell a transition from a stutter (a stutter is not listed): the list
        has the same actions at the same indices either way."""
        env = {"bounds": self.bounds}
        source = []
        bounds = self.bounds

        def positional(expr: str) -> str:  # (the bounds of this model are constants)
            return re.sub(r"\bbounds\.([a-z_]+)", lambda m: repr(getattr(bounds, m.group(1))), _positional(expr))
        for asleep in (False, True):
            lines = ["def successors_asleep(s, sleep):" if asleep else "def successors(s):", "    out = []",
                     "    append = out.append"]
            for k, entry in enumerate(self._table):
                if isinstance(entry[0], tuple):
                    # the broker loop unrolled; each quick condition read once, guards inline
                    lines.append("    reps = s[0]")
                    for j, (name, is_enabled, effect) in enumerate(entry[0]):
                        env[f"en{k}_{j}"], env[f"ef{k}_{j}"] = is_enabled, effect
                        if name in QUICK_SKIP:
                            lines.append(f"    q{k}_{j} = {positional(QUICK_SKIP[name])}")
                    for b in self.brokers:
                        for j, (name, is_enabled, effect) in enumerate(entry[0]):
                            if name in INLINE_GUARD:
                                guard = positional(INLINE_GUARD[name].format(q=f"q{k}_{j}", b=b))
                            else:
                                quick = f"q{k}_{j} and " if name in QUICK_SKIP else ""
                                guard = f"{quick}en{k}_{j}(s, {b})"
                            lines.append(f"    if {guard}:")
                            if asleep and name in MAY_SLEEP:
                                env[f"act{k}_{j}_{b}"] = (name, b)
                                lines.append(f"        if act{k}_{j}_{b} in sleep:")
                                lines.append(f"            append((act{k}_{j}_{b}, None))")
                                lines.append("        else:")
                                lines.append(f"            append((act{k}_{j}_{b}, ef{k}_{j}(s, {b})))")
                            else:
                                lines.append(f"        append((({name!r}, {b}), ef{k}_{j}(s, {b})))")
                    continue
                name, enabled, effect = entry
                env[f"en{k}"], env[f"ef{k}"] = enabled, effect
                params = ", ".join(f"a{i}" for i in range(len(ACTIONS[name])))
                target = params or "_"
                call_args = f"s, {params}" if params else "s"
                action = f"({name!r}, {params})" if params else f"({name!r},)"
                indent = "    "
                quick = QUICK_SKIP.get(name)
                if quick:
                    quick = positional(quick)
                if quick:
                    lines.append(f"    if {quick}:")
                    indent += "    "
                lines.append(f"{indent}for {target}{',' if len(ACTIONS[name]) == 1 else ''} in en{k}(s):")
                if asleep and name in MAY_SLEEP:
                    lines.append(f"{indent}    act = {action}")
                    lines.append(f"{indent}    if act in sleep:")
                    if name in STUTTERING:
                        lines.append(f"{indent}        if ef{k}({call_args}) is not s:")
                        lines.append(f"{indent}            append((act, None))")
                    else:
                        lines.append(f"{indent}        append((act, None))")
                    lines.append(f"{indent}        continue")
                    action = "act"
                if name in STUTTERING:
                    lines.append(f"{indent}    nxt = ef{k}({call_args})")
                    lines.append(f"{indent}    if nxt is not s:")
                    lines.append(f"{indent}        append(({action}, nxt))")
                else:
                    lines.append(f"{indent}    append(({action}, ef{k}({call_args})))")
            lines.append("    return out")
            source.append("\n".join(lines) + "\n")
        self.successors_source = source[0]
        self.successors_asleep_source = source[1]
        exec(compile("".join(source), f"<successors of {self.config.kafka_version}>", "exec"), env)  # noqa: S102
        self.successors_asleep = env["successors_asleep"]
        return env["successors"]

    def __getstate__(self):
        d = dict(self.__dict__)
        for key in ("successors", "successors_asleep", "successors_asleep_source", "_table", "_by_name",
                    "successors_source", "_outcomes_memo", "_send_memo",
                    "_finished_memo", "_finished_last", "_finished_got", "abstract"):
            d.pop(key, None)
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._choose_abstraction()
        self._build_table()

    def _never_enabled(self) -> set[str]:
        bd = self.bounds
        never = set()
        if not bd.max_other_writes:
            never.add("other_producer_write")
        if not bd.max_lost_messages:
            never |= {"leader_timeout_produce", "lose_request", "lose_response"}
        if not bd.max_delayed_fetches:
            never |= {"follower_fetch_delayed", "leader_handle_delayed_fetch"}
        if not bd.max_power_losses:
            never |= {"power_loss", "flush"}
            if not bd.max_crashes:
                never.add("restart")  # every broker starts alive and none can go down
        if not bd.max_crashes:
            never.add("crash")
        if not self.with_consumer:
            never |= {"consumer_poll", "consumer_reset"}
        return never

    # ------------------------------------------------------------------------ helpers
    def _outcomes(self, batches: tuple[ProducerBatch, ...]) -> tuple[tuple[int, int], ...]:
        out = self._outcomes_memo.get(batches)
        if out is not None:
            return out
        out = []
        for b, recs in zip(batches, self.batch_records):
            kind = BATCH_TO_OUTCOME[b.status]
            for i in range(len(recs)):
                out.append((kind, b.offset + i if b.offset >= 0 else -1))
        out = tuple(out)
        if len(self._outcomes_memo) >= _PRODUCER_MEMO:
            self._outcomes_memo.clear()
        self._outcomes_memo[batches] = out
        return out

    def _in_flight(self, requests) -> tuple[int, ...]:
        recs = set()
        for req in requests:
            recs.update(self.batch_records[req.batch])
        return tuple(sorted(recs))

    def _interval_flush(self, s: State, b: int, leo: int, flushed: int) -> tuple[int, State]:
        """log.flush.interval.messages: Kafka fsyncs once LEO - recovery point reaches N
        (UnifiedLog), and the recovery point moves to the LEO."""
        if leo - s.recovery_points[b] >= self.flush_interval:
            return leo, s._replace(recovery_points=_put(s.recovery_points, b, leo))
        return flushed, s

    def _clamp_recovery_point(self, s: State, b: int, leo: int) -> State:
        if s.recovery_points[b] > leo:
            return s._replace(recovery_points=_put(s.recovery_points, b, leo))
        return s

    def _advance_hw(self, s: State, b: int) -> State:
        """WHO: leader b. HW = min LEO over the ISR it knows (its own LEO for itself).

        HW only moves forward on a leader; the ISR is the maximal one while an ISR change is
        pending (_hw_isr). Strict min ISR (KAFKA-15583, 3.7): no advance while the committed
        |ISR| < min.insync.replicas. Completing acks=all requests in purgatory
        follows (Partition.checkEnoughReplicasReachOffset): ok when |ISR| >= min ISR, else
        NOT_ENOUGH_REPLICAS_AFTER_APPEND (the record stays in the log).
        """
        r = s[0][b]
        isr = r[_R_ISR]
        for p in s[_S_ISR_CHANGES]:  # (_hw_isr, inline)
            if p[0] == b:
                isr = p[4]  # (IsrChange.effective_isr)
                break
        hw = r[_R_HW]
        # isUnderMinIsr counts the committed ISR (partitionState.isr), not the maximal one
        if self.strict_min_isr and len(r[_R_ISR]) < self.min_isr:
            new_hw = hw
        else:
            new_hw = r[_R_LEO]
            leos = r[_R_FOLLOWER_LEOS]
            for m in isr:
                if m != b:
                    leo = leos[m]
                    if leo < new_hw:
                        new_hw = leo
            if new_hw < hw:
                new_hw = hw
        if new_hw != hw:
            s = _with_replica(s, b, _new(Replica, (r[0], r[1], r[2], new_hw, r[4], r[5], r[6], r[7], r[8])))
            if new_hw > len(s.committed_log) and self.keep_committed_log:
                recs = flat_records(r.log)
                s = s._replace(committed_log=s.committed_log + tuple(recs[len(s.committed_log):new_hw]))
        purgatory = s[_S_PURGATORY]
        if purgatory:  # (ParkedProduce by position: broker, batch, attempt, end_offset)
            hw = s[0][b][_R_HW]
            done = [p for p in purgatory if p[0] == b and p[3] <= hw]
            if done:
                err = E_NONE if len(isr) >= self.min_isr else E_NOT_ENOUGH_REPLICAS_AFTER_APPEND
                size = len(isr)
                new = []
                for p in done:
                    base = p[3] - len(self.batch_records[p[1]])
                    new.append(_new(ProduceResponse, (p[1], p[2], err, base, size, b)))
                v = list(s)
                v[_S_PURGATORY] = tuple([p for p in purgatory if p not in done])
                v[_S_RESPONSES] = _add_responses(s[_S_RESPONSES], tuple(new))
                s = _new(State, v)
        return s

    def _hw_isr(self, s: State, b: int) -> tuple[int, ...]:
        """The ISR leader b computes its HW and acks=all completions over: its committed ISR,
        or while an ISR change is pending, the proposal's effective ISR - the maximal ISR
        (Partition.maximalIsr, KIP-497) or, with the rule off, the proposed one."""
        for p in s[_S_ISR_CHANGES]:  # (IsrChange by position: leader 0, effective_isr 4)
            if p[0] == b:
                return p[4]
        return s[0][b][_R_ISR]

    def _isr_change_pending(self, s: State, b: int) -> bool:
        for p in s[_S_ISR_CHANGES]:
            if p[0] == b:
                return True
        return False

    # ======================================================================= producer
    def _leaders(self, s: State) -> list[tuple[int]]:
        """(b,) for every broker b that is alive and believes it leads."""
        return [(b,) for b, r in enumerate(s.replicas) if r.alive and r.leader == b]

    def _next_to_send(self, batches) -> int | None:
        """Which batch the Sender drains next.

        Non-idempotent: a retried batch is re-enqueued at the front of the accumulator
        deque (RecordAccumulator.reenqueue), so retries go before new batches - and
        after batches already in flight: the reorder of docs/kafka.md, section 2.
        Idempotent (KIP-98): batches go in sequence order, and a retried batch is only
        re-sent once it is the oldest unacknowledged one (RecordAccumulator drain checks).
        """
        first_open = None
        retry = queued = None
        for i, b in enumerate(batches):
            if b.status in (B_IN_FLIGHT, B_QUEUED, B_RETRY) and first_open is None:
                first_open = i
            if b.status == B_RETRY and retry is None:
                retry = i
            if b.status == B_QUEUED and queued is None:
                queued = i
        if self.idempotent:
            cands = [i for i in (retry, queued) if i is not None]
            if not cands:
                return None
            i = min(cands)
            if batches[i].status == B_RETRY and i != first_open:
                return None
            return i
        return retry if retry is not None else queued

    def _attempt_alive(self, s: State, batch: int, attempt: int) -> bool:
        # (by position: a request's and a response's batch and attempt are its fields 0
        # and 1, a parked request's 1 and 2)
        for q in s[_S_REQUESTS]:
            if q[0] == batch and q[1] == attempt:
                return True
        for p in s[_S_PURGATORY]:
            if p[1] == batch and p[2] == attempt:
                return True
        for r in s[_S_RESPONSES]:
            if r[0] == batch and r[1] == attempt:
                return True
        return False

    # ACTION producer_send(batch, broker)  WHO: producer
    # enabled: batch is the next the Sender drains; fewer than
    #          max.in.flight.requests.per.connection in flight; broker is alive and
    #          believes it leads (stale producer metadata may name a deposed leader)
    # effect:  a produce request enters the network; with acks=0 the record counts as
    #          sent and done at once (offset unknown, no response, no retries). An
    #          idempotent batch sent for the first time takes the next sequence numbers
    #          (RecordAccumulator.drain -> ProducerBatch.setProducerState); a batch already
    #          stamped keeps its stamp (re-stamping happens at an epoch bump, _bump).
    # Simplification: metadata refreshes are instantaneous and nondeterministic (any broker
    # that believes it leads may be targeted), a superset of what stale metadata allows.
    def enabled_producer_send(self, s: State) -> list[tuple[int, int]]:
        batches = s[_S_BATCHES]
        nxt = self._send_memo.get(batches, -1)
        if nxt == -1:
            nxt = self._sendable(batches)
            if len(self._send_memo) >= _PRODUCER_MEMO:
                self._send_memo.clear()
            self._send_memo[batches] = nxt
        if nxt is None:
            return []
        return [(nxt, b) for b, r in enumerate(s[0]) if r[0] and r[_R_LEADER] == b]

    def _sendable(self, batches) -> int | None:
        """The batch the producer may send next, or None (a function of the batches alone:
        enabled_producer_send remembers it per batches tuple)."""
        if self.in_flight_can_fill:
            in_flight = 0
            for b in batches:
                if b.status == B_IN_FLIGHT:
                    in_flight += 1
            if in_flight >= self.max_in_flight:
                return None
        return self._next_to_send(batches)

    def producer_send(self, s: State, i: int, broker: int) -> State:
        # (fields by position: _S_* indices; ProducerBatch is (status, attempts, offset,
        # maybe_appended, producer_epoch, base_sequence, resequenced))
        batches = s[_S_BATCHES]
        b = batches[i]
        attempt = b[1] + 1
        pe, seq, nseq = -1, -1, s[_S_NEXT_SEQUENCE]
        if self.idempotent:
            if b[5] >= 0:
                pe, seq = b[4], b[5]
            else:
                pe, seq = s[_S_PRODUCER_EPOCH], nseq
                nseq = nseq + len(self.batch_records[i])
        if self.acks == "0":
            nb = _new(ProducerBatch, (B_OK, attempt, b[2], True, pe, seq, b[6]))
        else:
            nb = _new(ProducerBatch, (B_IN_FLIGHT, attempt, b[2], b[3], pe, seq, b[6]))
        batches = _put(batches, i, nb)
        requests = _add_requests(s[_S_REQUESTS], (_new(ProduceRequest, (i, attempt, broker, pe, seq)),))  # in send order
        v = list(s)
        v[_S_BATCHES] = batches
        v[_S_OUTCOMES] = self._outcomes(batches)
        v[_S_REQUESTS] = requests
        v[_S_IN_FLIGHT] = self._in_flight(requests)
        v[_S_NEXT_SEQUENCE] = nseq
        return _new(State, v)

    def _bump(self, batches, epoch: int) -> tuple[tuple[ProducerBatch, ...], int, int]:
        """The idempotent producer gives up on its current sequence numbers.

        2.5+ (KAFKA-8805): TransactionManager.bumpIdempotentProducerEpoch - epoch + 1, and
        TxnPartitionEntry.startSequencesAtBeginning re-stamps every unfinished batch that
        has a sequence (in flight or waiting to be retried) from 0 under the new epoch, in
        sequence order (ProducerBatch.resetProducerState marks it reopened), including a
        batch already appended whose answer was lost: the duplicate of KAFKA-15591.
        Before 2.5: resetProducerId - a new producer id; stamped batches keep their stamp.
        Either way the last acknowledged sequence is forgotten (-1) and new batches start
        at 0. Returns (batches, new epoch or producer id generation, next sequence).
        """
        nseq = 0
        if self.epoch_bump:
            out = list(batches)
            for i, b in enumerate(batches):
                if b.status in (B_IN_FLIGHT, B_RETRY) and b.base_sequence >= 0:
                    out[i] = b._replace(producer_epoch=epoch + 1, base_sequence=nseq, resequenced=True)
                    nseq += len(self.batch_records[i])
            batches = tuple(out)
        return batches, epoch + 1, nseq

    # ACTION producer_receive(batch, attempt)  WHO: producer
    # enabled: the oldest response of a connection is for (batch, attempt)
    # effect:  Sender.completeBatch. ok / DUPLICATE_SEQUENCE_NUMBER -> acknowledged at the
    #          offset; the last acknowledged sequence moves up (handleCompletedBatch).
    #          OUT_OF_ORDER_SEQUENCE_NUMBER while attempts remain, as
    #          TransactionManager.canRetry decides: a batch re-stamped already, or whose
    #          base sequence is not the last acknowledged + 1, is retried unchanged (the gap
    #          may still close); otherwise it is a real gap - 2.5+ bumps the epoch and retries
    #          (_bump); before 2.5 the error is not retriable. A final OUT_OF_ORDER failure of
    #          a non-transactional idempotent producer requests a bump (handleFailedBatch; 2.4
    #          resetProducerId). UNKNOWN_PRODUCER_ID (only from a broker before 2.5): 2.5+
    #          bumps and retries; 2.4 re-stamps the unfinished batches from 0 under the same
    #          producer id when nothing was acknowledged yet (lastAckedOffset < log start
    #          offset, 0 here), else fails the batch and resets the producer id. Any other
    #          error is retriable while attempts remain, then final. A response to an
    #          attempt the client already gave up on is dropped.
    # Simplification: no unresolved sequences (a retried batch that expires in Kafka marks its
    #          sequence unresolved and holds new batches back until the partition drains,
    #          maybeResolveSequences); here a batch out of attempts is final at once.
    def enabled_producer_receive(self, s: State) -> list[tuple[int, int]]:
        # each connection delivers in order: only the oldest response from each broker
        responses = s[_S_RESPONSES]
        if not responses:
            return []
        seen = set()
        out = []
        for resp in responses:  # (ProduceResponse by position: batch, attempt, ..., broker)
            if resp[5] not in seen:
                seen.add(resp[5])
                out.append((resp[0], resp[1]))
        return out

    def producer_receive(self, s: State, batch: int, attempt: int) -> State:
        old = s[_S_RESPONSES]
        for resp in old:
            if resp[0] == batch and resp[1] == attempt:
                break
        i, err, off, isr_size = batch, resp[2], resp[3], resp[4]  # (error, base_offset, isr_size)
        responses = tuple([r for r in old if r != resp])
        v = list(s)  # (the next state, by field position)
        v[_S_RESPONSES] = responses
        b = s[_S_BATCHES][i]
        if b[0] != B_IN_FLIGHT or b[1] != attempt:  # (status, attempts)
            return _new(State, v)
        pe = s.producer_epoch
        nseq = s.next_sequence
        acked = s.last_acked_sequence
        maybe = b.maybe_appended or err not in NOT_APPENDED
        retry = attempt < self.max_attempts
        bump = False
        if err in (E_NONE, E_DUPLICATE_SEQUENCE_NUMBER):
            nb = b._replace(status=B_OK, offset=off, maybe_appended=True)
            if b.base_sequence >= 0 and b.producer_epoch == pe:  # (a stale epoch's ack is ignored)
                acked = max(acked, b.base_sequence + len(self.batch_records[i]) - 1)
            if self.acks == "all" and self.keep_ack_isr_sizes:
                sizes = list(s.ack_isr_sizes)
                for rec in self.batch_records[i]:
                    sizes[rec - 1] = isr_size
                v[_S_ACK_ISR_SIZES] = tuple(sizes)
        elif err == E_INVALID_PRODUCER_EPOCH:
            retry = False
            nb = b
        elif err == E_OUT_OF_ORDER_SEQUENCE_NUMBER:
            current = b.producer_epoch == pe
            if retry:
                if b.resequenced or b.base_sequence != acked + 1:
                    pass  # canRetry: not the next batch - retried unchanged
                elif self.epoch_bump:
                    bump = current  # canRetry: a real gap - requestEpochBumpForPartition
                else:
                    retry = False  # 2.4: OutOfOrderSequenceException is not retriable
            if not retry:
                bump = current  # handleFailedBatch: requestEpochBumpForPartition / resetProducerId
            nb = b
        elif err == E_UNKNOWN_PRODUCER_ID:
            if retry and not b.resequenced:
                if self.epoch_bump:
                    bump = b.producer_epoch == pe
                elif acked < 0:  # 2.4 startSequencesAtBeginning under the same producer id
                    out = list(s.batches)
                    nseq = 0
                    for j, x in enumerate(s.batches):
                        if x.status in (B_IN_FLIGHT, B_RETRY) and x.base_sequence >= 0 and x.producer_epoch == pe:
                            out[j] = x._replace(base_sequence=nseq, resequenced=True)
                            nseq += len(self.batch_records[j])
                    s = s._replace(batches=tuple(out))
                    v[_S_BATCHES] = s.batches
                    b = s.batches[i]
                else:
                    retry = False
                    bump = b.producer_epoch == pe  # 2.4 handleFailedBatch: resetProducerId
            nb = b
        else:
            nb = b
        if nb.status != B_OK:
            if retry:
                nb = nb._replace(status=B_RETRY, maybe_appended=maybe)
            else:
                nb = nb._replace(status=B_INDETERMINATE if maybe else B_FAILED, maybe_appended=maybe)
        batches = _put(s.batches, i, nb)
        if bump:
            batches, pe, nseq = self._bump(batches, pe)
            acked = -1
        v[_S_BATCHES] = batches
        v[_S_OUTCOMES] = self._outcomes(batches)
        v[_S_PRODUCER_EPOCH] = pe
        v[_S_NEXT_SEQUENCE] = nseq
        v[_S_LAST_ACKED_SEQUENCE] = acked
        return _new(State, v)

    # ACTION producer_timeout(batch)  WHO: producer
    # enabled: batch in flight and nothing of its current attempt is left anywhere (the
    #          request or response was lost, or the broker died holding it)
    # effect:  NetworkException / request.timeout.ms: the outcome is unknown; retry while
    #          attempts remain, else indeterminate. retries=0 makes the first error final.
    def enabled_producer_timeout(self, s: State) -> list[tuple[int]]:
        return [(i,) for i, b in enumerate(s[_S_BATCHES])
                if b[0] == B_IN_FLIGHT and not self._attempt_alive(s, i, b[1])]  # (status, attempts)

    def producer_timeout(self, s: State, i: int) -> State:
        batches = s[_S_BATCHES]  # (ProducerBatch by position: see producer_send)
        b = batches[i]
        status = B_RETRY if b[1] < self.max_attempts else B_INDETERMINATE
        batches = _put(batches, i, _new(ProducerBatch, (status, b[1], b[2], True, b[4], b[5], b[6])))
        v = list(s)
        v[_S_BATCHES] = batches
        v[_S_OUTCOMES] = self._outcomes(batches)
        return _new(State, v)

    # ACTION producer_expire(batch)  WHO: producer
    # enabled: the partition is offline (no leader) and the batch waits in the accumulator
    # effect:  delivery.timeout.ms expires it: TimeoutException, a definite failure if it
    #          was never sent, indeterminate if an earlier attempt may have landed
    def enabled_producer_expire(self, s: State) -> list[tuple[int]]:
        if s[_S_LEADER] != -1:
            return []
        return [(i,) for i, b in enumerate(s[_S_BATCHES]) if b[0] == B_QUEUED or b[0] == B_RETRY]  # (status)

    def producer_expire(self, s: State, i: int) -> State:
        batches = s[_S_BATCHES]  # (ProducerBatch by position: see producer_send)
        b = batches[i]
        batches = _put(batches, i, _new(ProducerBatch, (B_INDETERMINATE if b[3] else B_FAILED,) + b[1:]))
        v = list(s)
        v[_S_BATCHES] = batches
        v[_S_OUTCOMES] = self._outcomes(batches)
        return _new(State, v)

    # ACTION other_producer_write(b)  WHO: other producers (a bounded background load)
    # enabled: budget of other producers' records left (max_other_writes); b alive and
    #          believes it leads
    # effect:  b appends one record of another producer (non-idempotent, id above this
    #          producer's records), stamped with its leader epoch, and may advance its HW.
    #          The log end moves without this producer, so a follower can fall behind
    #          and out of the ISR with no crash (docs/producer.md).
    # Simplification: other producers' answers, retries and acks settings are not modelled
    # (their records are not judged); they write on connections of their own, so muted
    # connections do not hold them back.
    def enabled_other_producer_write(self, s: State) -> list[tuple[int]]:
        if s.other_writes >= self.bounds.max_other_writes:
            return []
        return self._leaders(s)

    def other_producer_write(self, s: State, b: int) -> State:
        rep = s.replicas[b]
        rec = self.other_record_base + s.other_writes + 1
        leo = rep.log_end_offset + 1
        flushed, s = self._interval_flush(s, b, leo, rep.flushed_offset)
        rep = rep._replace(
            log=rep.log + (Batch(rep.leader_epoch, (rec,), -1, -1),),
            log_end_offset=leo,
            flushed_offset=flushed,
            follower_leos=_put(rep.follower_leos, b, leo),
        )
        s = s._replace(replicas=_put(s.replicas, b, rep), other_writes=s.other_writes + 1)
        return self._advance_hw(s, b)

    # ======================================================================== brokers
    # ACTION broker_handle_produce(broker, batch, attempt)  WHO: broker
    # enabled: the request is in the network and the broker is alive
    # effect:  not leader -> NOT_LEADER_OR_FOLLOWER. acks=all with |ISR| < min ISR ->
    #          NOT_ENOUGH_REPLICAS, nothing appended. Idempotent producer: the broker's
    #          producer state (folded from its own log, last 5 batches) answers
    #          DUPLICATE_SEQUENCE_NUMBER with the original offset, OUT_OF_ORDER_SEQUENCE_NUMBER
    #          or INVALID_PRODUCER_EPOCH. Otherwise the batch is appended, stamped with the
    #          leader epoch; acks=1 answers at once, acks=all parks the request until HW
    #          passes it, acks=0 answers nothing.
    def enabled_broker_handle_produce(self, s: State) -> list[tuple[int, int, int]]:
        # A broker reads each connection in order and handles one request of it at a time:
        # requests to one broker are never reordered; across brokers they may be. The
        # SocketServer mutes a channel when it reads a request and unmutes it once the
        # response is sent, so an acks=all request parked in purgatory holds back the next
        # request on its connection (a response in the network does not: it was sent).
        requests = s.requests
        if not requests:
            return []
        seen = {p.broker for p in s.purgatory} if s.purgatory else set()
        reps = s.replicas
        out = []
        for req in requests:
            broker = req.broker
            if broker in seen:
                continue
            seen.add(broker)
            if reps[broker].alive:
                out.append((broker, req.batch, req.attempt))
        return out

    def broker_handle_produce(self, s: State, broker: int, batch: int, attempt: int) -> State:
        # (fields by position: _S_* / _R_* indices; ProduceRequest is (batch, attempt,
        # broker, producer_epoch, base_sequence))
        old = s[_S_REQUESTS]
        for req in old:
            if req[2] == broker and req[0] == batch and req[1] == attempt:
                break
        i, pe, seq = batch, req[3], req[4]
        requests = tuple([q for q in old if q != req])
        v = list(s)
        v[_S_REQUESTS] = requests
        v[_S_IN_FLIGHT] = self._in_flight(requests)
        s = _new(State, v)
        rep = s[0][broker]
        recs = self.batch_records[i]

        def answer(err: int, off: int = -1) -> State:
            if self.acks == "0":
                return s
            w = list(s)
            w[_S_RESPONSES] = _add_responses(s[_S_RESPONSES], (
                _new(ProduceResponse, (i, attempt, err, off, len(rep[_R_ISR]), broker)),))
            return _new(State, w)

        if rep[_R_LEADER] != broker:
            return answer(E_NOT_LEADER_OR_FOLLOWER)
        if self.acks == "all" and len(rep[_R_ISR]) < self.min_isr:
            return answer(E_NOT_ENOUGH_REPLICAS)
        if pe >= 0:
            verdict = self._check_sequence(rep[_R_LOG], pe, seq, len(recs))
            if verdict is None and seq != 0 and not self.any_first_sequence and not self._has_state(rep[_R_LOG], pe):
                # before 2.5 (KAFKA-8710): a producer id the leader holds no state for must
                # start at sequence 0 (ProducerStateManager 2.4 checkSequence)
                verdict = (E_UNKNOWN_PRODUCER_ID, -1)
            if verdict is not None:
                err, off = verdict
                if err == E_DUPLICATE_SEQUENCE_NUMBER and self.acks == "all":
                    # the duplicate's original offsets go through the delayed-produce
                    # purgatory like a fresh append: answered once HW passes them
                    end = off + len(recs)
                    v = list(s)
                    v[_S_PURGATORY] = tuple(sorted(s[_S_PURGATORY] + (_new(ParkedProduce, (broker, i, attempt, end)),)))
                    return self._advance_hw(_new(State, v), broker)
                return answer(err, off)
        base = rep[_R_LEO]
        leo = base + len(recs)
        flushed, s = self._interval_flush(s, broker, leo, rep[_R_FLUSHED])
        rep = _new(Replica, (rep[0], rep[_R_LOG] + (_new(Batch, (rep[_R_LEADER_EPOCH], recs, pe, seq)),), leo, rep[3],
                             flushed, rep[5], rep[6], _put(rep[_R_FOLLOWER_LEOS], broker, leo), rep[8]))
        s = _with_replica(s, broker, rep)
        if self.acks == "1":
            s = answer(E_NONE, base)
        elif self.acks == "all":
            v = list(s)
            v[_S_PURGATORY] = tuple(sorted(s[_S_PURGATORY] + (_new(ParkedProduce, (broker, i, attempt, leo)),)))
            s = _new(State, v)
        return self._advance_hw(s, broker)

    def _has_state(self, log, pe: int) -> bool:
        for b in log:
            if b.producer_epoch >= 0 and (b.producer_epoch == pe or not self.pid_resets):
                return True
        return False

    def _check_sequence(self, log, pe: int, seq: int, n: int):
        """The leader's idempotence check against producer state folded from its log
        (ProducerStateManager / ProducerAppendInfo.checkSequence).

        Returns None to append, or (error, offset). docs/kafka.md, section 3, rules 1-4.
        Before 2.5 (pid_resets) each producer id generation has a state of its own.
        """
        entries = []  # (producer_epoch, first_seq, last_seq, base_offset)
        off = 0
        pid_resets = self.pid_resets
        for b in log:
            if b.producer_epoch >= 0 and (not pid_resets or b.producer_epoch == pe):
                entries.append((b.producer_epoch, b.base_sequence, b.base_sequence + len(b.records) - 1, off))
            off += len(b.records)
        if not entries:
            # no state for this producer id: from 2.5 any sequence is accepted (KAFKA-8710),
            # the first half of KAFKA-15591
            return None
        cur_epoch = entries[-1][0]
        if pe < cur_epoch:
            return (E_INVALID_PRODUCER_EPOCH, -1)
        same = [e for e in entries if e[0] == pe][-PRODUCER_STATE_BATCHES:]
        for e in same:
            if e[1] == seq:
                return (E_DUPLICATE_SEQUENCE_NUMBER, e[3])
        if pe > cur_epoch:
            return None if seq == 0 else (E_OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
        if seq != same[-1][2] + 1:
            return (E_OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
        return None

    # ACTION leader_timeout_produce(broker, batch, attempt)  WHO: leader
    # enabled: an acks=all request waits in the leader's purgatory; a timeout is a delay
    #          perturbation, so it spends the lost-message budget
    # effect:  request.timeout.ms passes before HW reaches it: REQUEST_TIMED_OUT (the
    #          record stays in the log; a retry may duplicate it without idempotence)
    def enabled_leader_timeout_produce(self, s: State) -> list[tuple[int, int, int]]:
        if not s.purgatory or s.lost_messages >= self.bounds.max_lost_messages:
            return []
        return [(p.broker, p.batch, p.attempt) for p in s.purgatory]

    def leader_timeout_produce(self, s: State, broker: int, batch: int, attempt: int) -> State:
        for p in s.purgatory:
            if p.broker == broker and p.batch == batch and p.attempt == attempt:
                break
        return s._replace(
            purgatory=tuple(x for x in s.purgatory if x != p),
            responses=_add_responses(s.responses, (
                ProduceResponse(p.batch, p.attempt, E_REQUEST_TIMED_OUT, -1, -1, p.broker),)),
            lost_messages=s.lost_messages + 1,
        )

    # ACTION follower_fetch(r)  WHO: follower r
    # enabled: r alive, follows leader l (l != r), l alive and believes it leads;
    #          with KIP-320 (fenced_leader_epoch) only when r and l are in the same epoch
    # effect:  1. truncation: before KIP-101 none here (done on becoming follower, to HW);
    #             KIP-101 / KIP-279: truncate to the divergence point the leader's epochs
    #             give; 2. l records r's fetch offset (its LEO) and may advance its HW;
    #          3. r copies l's next batch; 4. r learns HW = min(l's HW, r's LEO)
    # Simplification: a fetch is one atomic request/response exchange; the leader learns
    # a follower's progress only on its *next* fetch, as in Kafka (two rounds to commit).
    # A request that is late is a separate, bounded perturbation (follower_fetch_delayed /
    # leader_handle_delayed_fetch). Late *responses* are not modelled: the fetcher drops a
    # response whose fetch offset or epoch no longer matches its partition state
    # A fetch that would truncate, copy, report and learn nothing is a stutter: the effect
    # returns the state itself and the step is not listed (STUTTERING).
    def enabled_follower_fetch(self, s: State) -> list[tuple[int]]:
        reps = s[0]  # (fields by position: _R_* indices)
        out = []
        fenced_epoch = self.fenced_epoch
        for r, rep in enumerate(reps):
            ldr = rep[_R_LEADER]
            if not rep[0] or ldr < 0 or ldr == r:
                continue
            lrep = reps[ldr]
            if not lrep[0] or lrep[_R_LEADER] != ldr:
                continue
            # KIP-320: only a fetch in the leader's own epoch is served; before it the
            # leader cannot tell which epoch a fetching follower is in
            if fenced_epoch and lrep[_R_LEADER_EPOCH] != rep[_R_LEADER_EPOCH]:
                continue
            out.append((r,))
        return out

    def follower_fetch(self, s: State, r: int) -> State:
        # (fields read by position: _R_* / _S_* indices; the second most frequent step)
        reps = s[0]
        rep = reps[r]
        ldr = rep[_R_LEADER]
        lrep = reps[ldr]
        log, leo, hw, flushed = rep[_R_LOG], rep[_R_LEO], rep[_R_HW], rep[_R_FLUSHED]
        l_leo = lrep[_R_LEO]
        # the response carries the HW as read with the data, before this fetch's offset moved
        # it (ReplicaManager reads the log, then updates follower state): followers lag a round
        leader_hw_before = lrep[_R_HW]
        truncating = self.track_truncating and s[_S_TRUNCATING][r]
        if self.epoch_truncation and leo and (self.diverging_fetch or truncating):
            t = self.truncate(log, leo, lrep[_R_LOG], l_leo)
        else:
            # before KIP-101, and between truncations before 2.7 (the fetcher fetches by
            # offset): only OFFSET_OUT_OF_RANGE truncates, to the leader's LEO
            t = leo if leo <= l_leo else l_leo
        if truncating:
            s = s._replace(fetcher_truncating=_put(s.fetcher_truncating, r, False))
        if t < leo:
            log, leo = truncation.cut(log, t)
            hw, flushed = min(hw, leo), min(flushed, leo)
            s = self._clamp_recovery_point(s, r, leo)
        # judged on r's fetch offset, before r appends this response's data
        s, took = self._leader_takes_fetch(s, ldr, r, leo)
        changed = log is not rep[_R_LOG] or truncating or took
        if took:
            lrep = s[0][ldr]
            l_leo = lrep[_R_LEO]
        if leo < l_leo:
            nb = batch_at(lrep[_R_LOG], leo)
            if nb is not None:
                log = log + (nb,)
                leo += len(nb[1])
                flushed, s = self._interval_flush(s, r, leo, flushed)
                changed = True
        new_hw = leader_hw_before if leader_hw_before < leo else leo
        if new_hw != hw:
            hw = new_hw
            changed = True
        if not changed:
            return s  # a stutter
        return _with_replica(s, r, _new(Replica, (rep[0], log, leo, hw, flushed, rep[5], rep[6], rep[7], rep[8])))

    # ACTION follower_fetch_delayed(r)  WHO: follower r / the network
    # enabled: delayed-fetch budget left; r alive and follows a leader l that is alive (a
    #          request to a dead host goes nowhere: its connection is gone); r's fetcher is
    #          fetching (before 2.7 not while it still has to truncate: it sends
    #          OffsetsForLeaderEpoch first); no delayed fetch of r in the network yet
    # effect:  r's fetch request (its leader epoch, its fetch offset = LEO, the epoch of its
    #          last batch) is held up in the network. r's fetcher times it out and goes on
    #          fetching; the request may still reach l later (leader_handle_delayed_fetch).
    def enabled_follower_fetch_delayed(self, s: State) -> list[tuple[int]]:
        if s.delayed_fetch_count >= self.bounds.max_delayed_fetches:
            return []
        reps = s.replicas
        out = []
        for r, rep in enumerate(reps):
            if (rep.alive and rep.leader >= 0 and rep.leader != r and reps[rep.leader].alive
                    and not (self.track_truncating and s.fetcher_truncating[r])
                    and not any(d.follower == r for d in s.delayed_fetches)):
                out.append((r,))
        return out

    def follower_fetch_delayed(self, s: State, r: int) -> State:
        rep = s.replicas[r]
        last_epoch = rep.log[-1].leader_epoch if rep.log else -1
        req = DelayedFetch(r, rep.leader, rep.leader_epoch, rep.log_end_offset, last_epoch)
        return s._replace(delayed_fetches=tuple(sorted(s.delayed_fetches + (req,))),
                          delayed_fetch_count=s.delayed_fetch_count + 1)

    # ACTION leader_handle_delayed_fetch(l, r)  WHO: broker l
    # enabled: r's delayed fetch request to l is in the network (l alive: a dead broker's
    #          connections are gone, and the request with them)
    # effect:  l answers NOT_LEADER_OR_FOLLOWER unless it believes it leads; with KIP-320
    #          it answers FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH unless the request's
    #          epoch is its own; from 2.7 it answers a diverging epoch, and leaves r's state
    #          alone, when its log does not hold r's last fetched epoch up to the fetch
    #          offset (Partition.fetchRecords). An offset older than one a later fetch of r
    #          brought is refused too: that request belongs to a fetch session r's newer
    #          fetch moved on (KIP-227, INVALID_FETCH_SESSION_EPOCH). Otherwise l takes the
    #          request's fetch offset as r's (updateFollowerFetchState), may advance its HW,
    #          and may propose r into the ISR if that offset is caught up. The response is
    #          dropped: r no longer waits for it.
    def enabled_leader_handle_delayed_fetch(self, s: State) -> list[tuple[int, int]]:
        return [(d.leader, d.follower) for d in s.delayed_fetches]

    def leader_handle_delayed_fetch(self, s: State, leader: int, follower: int) -> State:
        for d in s.delayed_fetches:
            if d.leader == leader and d.follower == follower:
                break
        r, ldr, epoch, offset, last_epoch = d.follower, d.leader, d.leader_epoch, d.fetch_offset, d.last_fetched_epoch
        s = s._replace(delayed_fetches=tuple(x for x in s.delayed_fetches if x != d))
        lrep = s.replicas[ldr]
        if not lrep.alive or lrep.leader != ldr:
            return s
        if self.fenced_epoch and epoch != lrep.leader_epoch:
            return s
        if offset > lrep.log_end_offset:
            return s  # OFFSET_OUT_OF_RANGE: nothing recorded
        if self.diverging_fetch and offset > 0 and truncation.diverges(lrep.log, lrep.log_end_offset,
                                                                    last_epoch, offset):
            return s
        if r in self._leo_keepers(s, ldr) and offset < lrep.follower_leos[r]:
            return s
        return self._leader_takes_fetch(s, ldr, r, offset)[0]

    def _leader_takes_fetch(self, s: State, ldr: int, r: int, offset: int) -> tuple[State, bool]:
        """WHO: leader ldr, serving follower r's fetch at `offset` (r alive, following ldr,
        in ldr's epoch with KIP-320 - the callers check). Returns (state, whether it changed).

        Partition.updateFollowerFetchState: ldr keeps r's offset while r is in its ISR
        (committed, proposed or maximal) - only those count for the HW - and may advance its
        HW. For other followers the offset is only judged on this fetch, then forgotten
        (fewer states differ). maybeExpandIsr, on every fetch: a caught-up follower is
        proposed back into the ISR, and its offset kept from then on.
        Simplification: since 3.x maybeIncrementLeaderHW also holds the HW for a caught-up,
        ISR-eligible replica outside the ISR until replica.lag.time.max.ms passes
        (shouldWaitForReplicaToJoinIsr); with time abstracted, the model's earlier HW move is
        one Kafka also makes once that time has passed.
        """
        # (replicas by position: _R_* indices)
        changed = False
        lrep = s[0][ldr]
        if lrep[_R_FOLLOWER_LEOS][r] != offset and r in self._leo_keepers(s, ldr):
            lrep = _new(Replica, lrep[:7] + (_put(lrep[_R_FOLLOWER_LEOS], r, offset), lrep[8]))
            s = self._advance_hw(_with_replica(s, ldr, lrep), ldr)
            lrep = s[0][ldr]
            changed = True
        if (r not in lrep[_R_ISR] and not self._isr_change_pending(s, ldr)
                and self._offset_caught_up(lrep, offset)):
            s = self._expand_isr(s, ldr, r)
            lrep = s[0][ldr]
            lrep = _new(Replica, lrep[:7] + (_put(lrep[_R_FOLLOWER_LEOS], r, offset), lrep[8]))
            s = self._advance_hw(_with_replica(s, ldr, lrep), ldr)
            changed = True
        return s, changed

    def _leo_keepers(self, s: State, ldr: int) -> tuple[int, ...]:
        """The followers whose fetch offsets leader ldr keeps: its ISR and any replica in
        its pending ISR change."""
        keep = s[0][ldr][_R_ISR]
        for c in s[_S_ISR_CHANGES]:  # (IsrChange by position: leader 0, proposed 3, effective 4)
            if c[0] == ldr:
                keep = keep + c[3] + c[4]
        return keep

    def _trim_leos(self, s: State, ldr: int) -> State:
        """Forget the fetch offsets of followers that left ldr's ISR (see follower_fetch)."""
        rep = s[0][ldr]  # (by position: _R_* indices)
        keep = self._leo_keepers(s, ldr)
        leos = rep[_R_FOLLOWER_LEOS]
        for m, x in enumerate(leos):
            if x >= 0 and m != ldr and m not in keep:
                trimmed = tuple([y if k == ldr or k in keep else -1 for k, y in enumerate(leos)])
                return _with_replica(s, ldr, _new(Replica, rep[:7] + (trimmed, rep[8])))
        return s

    def _offset_caught_up(self, rep, leo: int) -> bool:
        """A fetch offset that lets a follower into leader rep's ISR."""
        if leo < rep[_R_HW]:
            return False
        if self.join_at_epoch_start:  # KAFKA-7128: and past the start of the leader's epoch
            start = rep[_R_LEO]
            epoch = rep[_R_LEADER_EPOCH]
            off = 0
            for b in rep[_R_LOG]:  # (Batch by position: leader_epoch, records)
                if b[0] == epoch:
                    start = off
                    break
                off += len(b[1])
            if leo < start:
                return False
        return True

    # ACTION leader_shrink_isr(l, f)  WHO: leader l
    # enabled: l alive, believes it leads, has no ISR change pending (Partition: no new
    #          AlterPartition while one is in flight; whether it goes through is the
    #          controller's decision, controller_alter_partition); f in l's ISR is dead,
    #          or alive but behind l's LEO (not caught up within replica.lag.time.max.ms -
    #          time is abstracted, so a live follower's drop-out is a bounded perturbation)
    # effect:  l sends AlterPartition(ISR - f) to the controller (KIP-497; before 2.7 a
    #          ZooKeeper conditional write) and waits for the answer. Meanwhile it computes
    #          its HW over the maximal ISR, which still holds f (maximal_isr); with the rule
    #          off it uses the proposed ISR at once (the hypothetical that rule prevents).
    #          Dropping a live follower spends the ISR-shrink budget (max_isr_shrinks).
    def enabled_leader_shrink_isr(self, s: State) -> list[tuple[int, int]]:
        reps = s[0]  # (fields by position: _R_* indices)
        budget = s[_S_ISR_SHRINKS] < self.bounds.max_isr_shrinks
        changes = s[_S_ISR_CHANGES]
        out = []
        for ldr, rep in enumerate(reps):
            if not rep[0] or rep[_R_LEADER] != ldr or (changes and self._isr_change_pending(s, ldr)):
                continue
            for f in rep[_R_ISR]:
                if f == ldr:
                    continue
                if not reps[f][0] or (budget and rep[_R_FOLLOWER_LEOS][f] < rep[_R_LEO]):
                    out.append((ldr, f))
        return out

    def leader_shrink_isr(self, s: State, ldr: int, f: int) -> State:
        isr = s[0][ldr][_R_ISR]  # (by position: _S_* / _R_* indices)
        proposed = tuple([m for m in isr if m != f])
        alive = s[0][f][0]
        s = self._propose_isr(s, ldr, proposed, isr if self.maximal_isr else proposed)
        if alive:
            v = list(s)
            v[_S_ISR_SHRINKS] = s[_S_ISR_SHRINKS] + 1
            s = _new(State, v)
        return s

    def _propose_isr(self, s: State, ldr: int, proposed, effective) -> State:
        rep = s[0][ldr]
        change = _new(IsrChange, (ldr, rep[_R_LEADER_EPOCH], rep[_R_ISR], proposed, effective, False))
        v = list(s)
        v[_S_ISR_CHANGES] = tuple(sorted(s[_S_ISR_CHANGES] + (change,)))
        return self._advance_hw(_new(State, v), ldr)

    # ACTION controller_alter_partition(l)  WHO: controller
    # enabled: leader l's ISR change is in the network
    # effect:  accepted when l leads the controller's current epoch and the change was made
    #          against the ISR the controller holds (leader epoch + partition epoch checks of
    #          AlterPartition; zkVersion before 2.7): ISR := proposed. KIP-966: a removed
    #          replica joins the ELR while |ISR| < min ISR (HW is frozen from there, so it
    #          holds everything committed); an added one leaves it. Otherwise rejected
    #          (FENCED_LEADER_EPOCH / INVALID_UPDATE_VERSION), and under KRaft with KIP-841 /
    #          KIP-903 also when a broker in the proposed ISR is fenced now or crashed since
    #          the proposal (its broker epoch is stale) (INELIGIBLE_REPLICA). l learns the
    #          answer.
    # Simplification: the answer reaches l in the same step. Delaying it would only delay
    #          l's use of an ISR the controller already holds; with the maximal ISR that
    #          changes no safety property, and without it l already uses the proposal.
    def enabled_controller_alter_partition(self, s: State) -> list[tuple[int]]:
        return [(change[0],) for change in s[_S_ISR_CHANGES]]  # (IsrChange.leader)

    def controller_alter_partition(self, s: State, leader: int) -> State:
        changes = s[_S_ISR_CHANGES]
        for change in changes:
            if change[0] == leader:
                break
        ldr, epoch, base, proposed = change[0], change[1], change[2], change[3]  # (IsrChange by position)
        v = list(s)  # (the next state, by field position)
        v[_S_ISR_CHANGES] = tuple([c for c in changes if c != change])
        ok = epoch == s[_S_LEADER_EPOCH] and ldr == s[_S_LEADER] and base == s[_S_ISR]
        if ok and self.fenced_not_in_isr:
            reps = s[0]
            ok = not change[5] and all([reps[m][0] for m in proposed])
        if ok:
            removed = [m for m in base if m not in proposed]
            elr = tuple([m for m in s[_S_ELR] if m not in proposed])
            if self.elr_enabled and len(proposed) < self.min_isr:
                elr = tuple(sorted(set(elr) | set(removed)))
            v[_S_ISR] = proposed
            v[_S_ELR] = self._elr_after(proposed, elr)
            reps = s[0]
            rep = reps[ldr]
            if rep[_R_LEADER_EPOCH] == epoch:
                v[0] = reps[:ldr] + (_new(Replica, rep[:8] + (proposed,)),) + reps[ldr + 1:]
        s = _new(State, v)
        rep = s[0][ldr]
        if rep[0] and rep[_R_LEADER] == ldr:
            s = self._advance_hw(self._trim_leos(s, ldr), ldr)
        return s

    def _elr_after(self, isr, elr):
        """KIP-966: the ELR is kept only while |ISR| < min ISR; once the ISR is back at
        min ISR the HW can move without the ELR members again, so the ELR is cleared."""
        return () if len(isr) >= self.min_isr else elr

    # ISR expansion (Partition.maybeExpandIsr) is not an action of its own: a leader judges
    # it on every fetch it serves (_leader_takes_fetch), on the offset that fetch brings.
    # WHO: leader l, part of f's fetch
    # when:    l believes it leads, has no ISR change pending; f follows l (in l's epoch,
    #          KIP-320) and has fetched up to l's HW (and, KAFKA-7128, to the start offset
    #          of l's epoch)
    # effect:  l proposes ISR + f to the controller (see controller_alter_partition) and
    #          counts f at once: the maximal ISR only grows an expansion
    def _expand_isr(self, s: State, ldr: int, f: int) -> State:
        proposed = tuple(sorted(s.replicas[ldr].isr + (f,)))
        return self._propose_isr(s, ldr, proposed, proposed)

    # ACTION broker_learn(b, leader_epoch)  WHO: broker b
    # enabled: a LeaderAndIsr request (ZooKeeper mode) / metadata update (KRaft) for b is
    #          in the network; they may arrive late and out of order
    # effect:  b records leader, epoch and ISR; every message for b with an epoch not newer
    #          is now stale and leaves the network with it (Kafka ignores a stale
    #          LeaderAndIsr by its epoch, so delivering it later would change nothing: the
    #          model drops it at once, a reduction of the state space, not of behaviour). Becoming leader: follower LEOs unknown until they fetch; HW
    #          kept (it may lag the old leader's, KIP-207). Becoming follower: pending
    #          acks=all requests fail with NOT_LEADER_OR_FOLLOWER; before KIP-101 the
    #          follower truncates its log to its own HW here.
    def enabled_broker_learn(self, s: State) -> list[tuple[int, int]]:
        return [(m[0], m[1]) for m in s[_S_MESSAGES]]  # (broker, leader_epoch)

    def broker_learn(self, s: State, broker: int, leader_epoch: int) -> State:
        for msg in s[_S_MESSAGES]:
            if msg[0] == broker and msg[1] == leader_epoch:
                break
        return self._learn(s, msg)

    def _learn(self, s: State, msg, queued: bool = True) -> State:
        # (the effect written on the state's fields by position: it is the most frequent
        # step of a search; _S_* are State field indices, _R_* Replica ones)
        b, epoch, ldr, isr = msg
        msgs = s[_S_MESSAGES]
        v = None
        if queued or msgs:
            v = list(s)
            v[_S_MESSAGES] = tuple([m for m in msgs if m[0] != b or m[1] > epoch])
        reps = s[0]
        rep = reps[b]
        if epoch <= rep[_R_LEADER_EPOCH]:
            return s if v is None else _new(State, v)
        if v is None:
            v = list(s)
        was_leader = rep[_R_LEADER] == b
        changes = s[_S_ISR_CHANGES]
        if changes:
            # a new epoch resets the partition state: an AlterPartition b still has in flight
            # can only be rejected by the controller now (stale leader epoch)
            v[_S_ISR_CHANGES] = tuple([c for c in changes if c[0] != b])
        if self.track_truncating:
            truncating = s[_S_TRUNCATING]
            if rep[_R_LOG] or truncating[b]:
                # the fetcher is (re)added for the new epoch in the Truncating state (before
                # 2.7 AbstractFetcherThread skips truncation only if the epoch did not
                # change); an empty log has nothing to truncate, and a leader does not fetch
                v[_S_TRUNCATING] = _put(truncating, b, bool(rep[_R_LOG]) and ldr != b)
        if ldr == b:
            # remote LEOs are unknown (-1) until each follower fetches
            leo = rep[_R_LEO]
            leos = tuple([leo if m == b else -1 for m in self.brokers])
            v[0] = reps[:b] + (_new(Replica, (rep[0], rep[1], leo, rep[3], rep[4], epoch, ldr, leos, isr)),) \
                + reps[b + 1:]
            return self._advance_hw(_new(State, v), b)
        if ldr >= 0 and not self.epoch_truncation and rep.high_watermark < rep.log_end_offset:
            log, leo = truncation.cut(rep.log, rep.high_watermark)
            rep = rep._replace(log=log, log_end_offset=leo, flushed_offset=min(rep.flushed_offset, leo),
                               high_watermark=min(rep.high_watermark, leo))
            v = list(self._clamp_recovery_point(_new(State, v), b, leo))
        # a follower keeps no view of the ISR or of other replicas' LEOs (only a leader uses
        # them, and a broker that becomes leader takes both afresh)
        v[0] = reps[:b] + (_new(Replica, (rep[0], rep[1], rep[2], rep[3], rep[4], epoch, ldr, self.unknown_leos,
                                          ())),) + reps[b + 1:]
        if was_leader:
            purgatory = s[_S_PURGATORY]
            if purgatory:
                failed = [p for p in purgatory if p[0] == b]
                if failed:
                    v[_S_PURGATORY] = tuple([p for p in purgatory if p[0] != b])
                    v[_S_RESPONSES] = _add_responses(s[_S_RESPONSES], tuple([
                        ProduceResponse(p.batch, p.attempt, E_NOT_LEADER_OR_FOLLOWER, -1, -1, b) for p in failed]))
        return _new(State, v)

    # ===================================================================== controller
    # ACTION controller_elect(b, reason)  WHO: controller
    # enabled: failover: the partition is offline and b is a live ISR member;
    #          elr (KIP-966): no live ISR member, b a live eligible leader replica;
    #          last_known_leader (KIP-966, ELR rule): the ISR and the ELR are both empty
    #          (canElectLastKnownLeader: a dead ELR member still blocks it), b is the
    #          controller's last known leader (the leader when the ISR became empty) and
    #          alive - even with unclean.leader.election.enable=false, and before any
    #          other unclean candidate (PartitionChangeBuilder.electAnyLeader,
    #          canElectLastKnownLeader; useLastKnownLeaderInBalancedRecovery defaults to
    #          true; KAFKA-19522 made its acceptable-leader check effective in 4.1). It is
    #          an unclean election (ElectionResult(lastKnownElr[0], true)): ISR = [b], ELR
    #          emptied (maybeUpdateRecordElr). Simplification: the leader recovery state
    #          (RECOVERING) is not modelled; b leads with its log as it is;
    #          unclean: unclean.leader.election.enable, no live ISR (or ELR) member, b alive;
    #          rebalance: the leader is alive but leadership moves anyway - preferred-leader
    #          rebalancing (auto.leader.rebalance.enable), controlled shutdown in a rolling
    #          restart, or a leader paused past its session - to b, a live ISR member;
    #          bounded by max_elections. The old leader is not told directly: it learns
    #          from a LeaderAndIsr/metadata update and may act as leader until then.
    # effect:  leader_epoch + 1, leader = b; ISR keeps its live members (and b); the decision
    #          is sent to every live replica as a message that may arrive late. The
    #          partition has a leader again: the last known leader is cleared
    #          (PartitionChangeBuilder.maybeUpdateLastKnownLeader).
    def enabled_controller_elect(self, s: State) -> list[tuple[int, str]]:
        # (fields by position: _S_* / replica index 0 is `alive`)
        reps = s[0]
        ldr = s[_S_LEADER]
        isr = s[_S_ISR]
        if ldr == -1:
            live_isr = [b for b in isr if reps[b][0]]
            if live_isr:
                return [(b, "failover") for b in live_isr]
            elr = s[_S_ELR]
            live_elr = [b for b in elr if reps[b][0]] if self.elr_enabled else []
            if live_elr:
                return [(b, "elr") for b in live_elr]
            lkl = s[_S_LAST_KNOWN]
            if lkl >= 0 and not isr and not elr and reps[lkl][0]:  # (set only with the ELR rule)
                return [(lkl, "last_known_leader")]
            if self.config.unclean_leader_election_enable:
                return [(b, "unclean") for b in self.brokers if reps[b][0]]
            return []
        if s[_S_ELECTIONS] < self.bounds.max_elections:
            return [(b, "rebalance") for b in isr if b != ldr and reps[b][0]]
        return []

    def controller_elect(self, s: State, b: int, reason: str) -> State:
        # (the next state built by field position: _S_* indices)
        reps = s[0]
        if reason == "rebalance":
            isr = s[_S_ISR]
            elections = s[_S_ELECTIONS] + 1
        else:
            isr = tuple(sorted({m for m in s[_S_ISR] if reps[m][0]} | {b}))
            elections = s[_S_ELECTIONS]
        if reason == "last_known_leader":
            elr = ()  # an unclean election clears the ELR (maybeUpdateRecordElr)
        else:
            elr = self._elr_after(isr, tuple([m for m in s[_S_ELR] if m not in isr]))
        epoch = s[_S_LEADER_EPOCH] + 1
        msgs = list(s[_S_MESSAGES])
        for m in self.brokers:
            if reps[m][0]:
                msgs.append(_new(LeaderAndIsr, (m, epoch, b, isr)))
        v = list(s)
        v[_S_LEADER] = b
        v[_S_LEADER_EPOCH] = epoch
        v[_S_ISR] = isr
        v[_S_ELR] = elr
        v[_S_ELECTIONS] = elections
        v[_S_MESSAGES] = tuple(sorted(msgs))
        v[_S_LAST_KNOWN] = -1
        return _new(State, v)

    # ========================================================================= faults
    # ACTION crash(b) / power_loss(b)  WHO: environment
    # enabled: crash: b alive, crash budget left; power_loss: power-loss budget left
    #          (the host may lose power while its broker is already down)
    # effect:  the process dies: requests addressed to it, its purgatory and its pending
    #          controller messages vanish. A process crash resets its connections: the
    #          producer fails that connection's requests at once (NetworkException,
    #          retriable); after a power loss it only notices by timing out. A process crash keeps the host's page cache
    #          (nothing written is lost); a power loss / OS crash keeps only the flushed,
    #          batch-aligned prefix. The controller notices (ZooKeeper session expiry / KRaft
    #          heartbeat timeout): a dead leader leaves the partition offline until an
    #          election. KRaft: b is fenced and leaves the ISR unless it is the last
    #          member (with KIP-966 it leaves anyway, into the ELR if the ISR drops below
    #          min ISR); see _controller_remove_dead.
    def enabled_crash(self, s: State, b: int) -> bool:
        return s.crashes < self.bounds.max_crashes and s.replicas[b].alive

    def crash(self, s: State, b: int) -> State:
        return self._crash(s, b, power_loss=False)

    def enabled_power_loss(self, s: State, b: int) -> bool:
        return s.power_losses < self.bounds.max_power_losses

    def power_loss(self, s: State, b: int) -> State:
        return self._crash(s, b, power_loss=True)

    def _crash(self, s: State, b: int, *, power_loss: bool) -> State:
        # (the next state built by field position: _S_* / _R_* indices)
        reps = s[0]
        rep = reps[b]
        was_alive = rep[0]
        if power_loss:
            log, leo = truncation.cut(rep.log, rep.flushed_offset)
            rep = rep._replace(log=log, log_end_offset=leo, flushed_offset=leo,
                               high_watermark=min(rep.high_watermark, leo))
            s = self._clamp_recovery_point(s, b, leo)
        v = list(s)
        # A dead broker's memory (known leader and epoch, its view of follower LEOs) is
        # gone: reset it now, so states that differ only in forgotten memory coincide.
        v[0] = reps[:b] + (_new(Replica, (False, rep[1], rep[2], rep[3], rep[4], -1, -1, self.unknown_leos, ())),) \
            + reps[b + 1:]
        old_requests, old_purgatory = s[_S_REQUESTS], s[_S_PURGATORY]
        requests = tuple([q for q in old_requests if q[2] != b])  # (messages' brokers by position)
        v[_S_REQUESTS] = requests
        v[_S_IN_FLIGHT] = self._in_flight(requests)
        v[_S_PURGATORY] = tuple([p for p in old_purgatory if p[0] != b])
        v[_S_MESSAGES] = tuple([m for m in s[_S_MESSAGES] if m[0] != b])
        # a delayed fetch to or from b dies with b's connections
        delayed = s[_S_DELAYED]
        v[_S_DELAYED] = tuple([d for d in delayed if d[0] != b and d[1] != b]) if delayed else ()
        # the controller fences a dead broker: its pending ISR change can only fail;
        # a pending change adding b now names a stale broker epoch (KIP-903)
        changes = s[_S_ISR_CHANGES]
        v[_S_ISR_CHANGES] = self._isr_changes_after_crash(changes, b) if changes else ()
        truncating = s[_S_TRUNCATING]
        if truncating[b]:
            v[_S_TRUNCATING] = _put(truncating, b, False)
        if self.elr_enabled:
            v[_S_UNCLEAN] = _put(s[_S_UNCLEAN], b, True)
        if power_loss:
            v[_S_POWER_LOSSES] = s[_S_POWER_LOSSES] + 1
        else:
            v[_S_CRASHES] = s[_S_CRASHES] + 1
            # A killed process's sockets are reset by its (live) kernel: the producer sees
            # the disconnect at once. A host that loses power sends no reset: the
            # producer only times out later (producer_timeout).
            self._break_connection_into(v, s, b, old_requests, old_purgatory)
        if s[1] == b:
            v[1] = -1
        s = _new(State, v)
        # (a host that loses power while its broker is already down sends nothing new)
        isr = s[_S_ISR]
        if self.kraft and was_alive and b in isr and (self.elr_enabled or len(isr) > 1):
            s = self._controller_remove_dead(s, b)
        return s

    def _controller_remove_dead(self, s: State, b: int) -> State:
        """WHO: the KRaft controller, fencing b (missed heartbeats, or a restart: a new
        incarnation registers fenced): b leaves the ISR, except as its last member; with
        KIP-966 the last member leaves too and b joins the ELR while |ISR| < min ISR.

        ZooKeeper mode is left to the leader (leader_shrink_isr of a dead follower): a broker
        that restarts within zookeeper.session.timeout.ms is never noticed and keeps its
        place in the ISR - the first scenario of KIP-101.

        The update reaches brokers as ordered metadata after the leader change it follows:
        queued decisions of the current epoch carry the new ISR, and the leader takes it in
        place if it already knows the current epoch.
        Simplification: the controller notices at once (session timeouts are abstracted).
        """
        # (the next state built by field position: _S_* / _R_* indices)
        isr = tuple([m for m in s[_S_ISR] if m != b])
        elr = s[_S_ELR]
        if self.elr_enabled and len(isr) < self.min_isr and b not in elr:
            elr = tuple(sorted(elr + (b,)))
        epoch = s[_S_LEADER_EPOCH]
        v = list(s)
        v[_S_ISR] = isr
        v[_S_ELR] = elr
        msgs = s[_S_MESSAGES]
        if msgs:  # (LeaderAndIsr by position: broker, leader_epoch, leader, isr)
            v[_S_MESSAGES] = tuple([m if m[1] != epoch else _new(LeaderAndIsr, (m[0], m[1], m[2], isr))
                                    for m in msgs])
        if self.elr_enabled and not isr and s[_S_LAST_KNOWN] == -1:
            # KIP-966 (PartitionChangeBuilder.maybeUpdateLastKnownLeader): the first time
            # the ISR becomes empty the controller records the partition's leader as its
            # last known leader. Only fencing empties the ISR here (a leader never drops
            # itself), and the fenced broker b is its last member. Simplification: this
            # model elects a failover leader in a separate step after the leader dies, so
            # the partition may be leaderless for a moment with ISR [b]; Kafka elects in
            # the same PartitionChangeRecord that fences the leader, so there b would be
            # the leader. Either way the last known leader is b.
            v[_S_LAST_KNOWN] = b
        ldr = s[_S_LEADER]
        if ldr >= 0:
            reps = s[0]
            lrep = reps[ldr]
            if lrep[_R_LEADER_EPOCH] == epoch:
                v[0] = reps[:ldr] + (_new(Replica, lrep[:8] + (isr,)),) + reps[ldr + 1:]
                s = _new(State, v)
                if lrep[_R_LEADER] == ldr:  # only a broker acting as leader moves its HW
                    s = self._advance_hw(self._trim_leos(s, ldr), ldr)
                return s
        return _new(State, v)

    def _isr_changes_after_crash(self, changes, b: int):
        out = []
        for c in changes:  # (IsrChange by position: leader 0, proposed_isr 3, stale_broker_epoch 5)
            if c[0] == b:
                continue
            if self.fenced_not_in_isr and not c[5] and b in c[3]:
                c = _new(IsrChange, c[:5] + (True,))
            out.append(c)
        return tuple(out)

    # ACTION restart(b)  WHO: environment
    # enabled: b is down
    # effect:  log recovery: segments are re-validated from the recovery point and the
    #          log ends at the last valid batch (here: what survived); the HW checkpoint is
    #          clamped to the log end; b then learns the controller's current leader, epoch
    #          and ISR (see broker_learn). KIP-966: an unclean shutdown removes b from ELR.
    def enabled_restart(self, s: State, b: int) -> bool:
        return not s.replicas[b].alive

    def restart(self, s: State, b: int) -> State:
        reps = s[0]
        rep = reps[b]
        hw, leo = rep[_R_HW], rep[_R_LEO]
        v = list(s)  # (by field position)
        v[0] = reps[:b] + (_new(Replica, (True, rep[1], leo, hw if hw < leo else leo, rep[4], rep[5], rep[6], rep[7],
                                          rep[8])),) + reps[b + 1:]
        unclean = s[_S_UNCLEAN]
        elr = s[_S_ELR]
        if self.elr_enabled and unclean[b] and b in elr:
            v[_S_ELR] = tuple([m for m in elr if m != b])
        v[_S_UNCLEAN] = _put(unclean, b, False)
        s = _new(State, v)
        # The restarted broker takes the controller's current decision before it serves
        # (KRaft: it replays the metadata log before it is unfenced; ZooKeeper mode: the
        # controller's LeaderAndIsr on broker startup). It is passive until then, so doing
        # it in the same step hides no behaviour.
        return self._learn(s, _new(LeaderAndIsr, (b, s[_S_LEADER_EPOCH], s[_S_LEADER], s[_S_ISR])), queued=False)

    # ACTION flush(b)  WHO: the OS flusher on b's host
    # enabled: b's page cache holds unflushed data, and a power loss can still happen: after
    #          the last one, flushing changes nothing observable later (a state-space reduction)
    # effect:  everything written so far reaches the disk
    def enabled_flush(self, s: State, b: int) -> bool:
        rep = s.replicas[b]
        return s.power_losses < self.bounds.max_power_losses and rep.flushed_offset < rep.log_end_offset

    def flush(self, s: State, b: int) -> State:
        rep = s.replicas[b]
        return _with_replica(s, b, rep._replace(flushed_offset=rep.log_end_offset))

    def _break_connection_into(self, v: list, s: State, b: int, requests, purgatory) -> None:
        """_break_connection for a crash of b, written into v (the next state's fields, whose
        requests and purgatory hold nothing of b's any more); `requests` and `purgatory` are
        s's before the crash took b's out. The same answer as _break_connection."""
        # (messages and batches by position: (batch, attempt) lead requests and responses,
        # follow a parked request's broker; a response's broker is its field 5)
        responses = s[_S_RESPONSES]
        dropped = [(r[0], r[1]) for r in responses if r[5] == b]
        dropped += [(q[0], q[1]) for q in requests if q[2] == b]
        dropped += [(p[1], p[2]) for p in purgatory if p[0] == b]
        if responses:
            v[_S_RESPONSES] = tuple([r for r in responses if r[5] != b])
        batches = s[_S_BATCHES]
        for i, attempt in dropped:
            bt = batches[i]
            if bt[0] == B_IN_FLIGHT and bt[1] == attempt:
                status = B_RETRY if bt[1] < self.max_attempts else B_INDETERMINATE
                batches = _put(batches, i, _new(ProducerBatch, (status, bt[1], bt[2], True, bt[4], bt[5], bt[6])))
        if batches is not s[_S_BATCHES]:
            v[_S_BATCHES] = batches
            v[_S_OUTCOMES] = self._outcomes(batches)

    def _break_connection(self, s: State, b: int, requests=None, purgatory=None) -> State:
        """The producer's connection to broker b is gone: every request on it fails.

        TCP delivers in order or not at all, so a message is never lost alone: its whole
        connection breaks (NetworkClient also closes a connection whose request timed
        out). Unhandled requests and unread responses vanish; the broker still answers
        parked acks=all requests on a dead socket (lost). The producer fails each
        in-flight batch of that connection with a retriable NetworkException.
        """
        requests = s.requests if requests is None else requests
        purgatory = s.purgatory if purgatory is None else purgatory
        dropped = [(r.batch, r.attempt) for r in s.responses if r.broker == b]
        dropped += [(q.batch, q.attempt) for q in requests if q.broker == b]
        dropped += [(p.batch, p.attempt) for p in purgatory if p.broker == b]
        new_requests = tuple(q for q in s.requests if q.broker != b)
        s = s._replace(
            responses=tuple(r for r in s.responses if r.broker != b),
            requests=new_requests,
            in_flight=self._in_flight(new_requests),
            purgatory=tuple(p for p in s.purgatory if p.broker != b),
        )
        batches = s.batches
        for i, attempt in dropped:
            bt = batches[i]
            if bt.status == B_IN_FLIGHT and bt.attempts == attempt:
                status = B_RETRY if bt.attempts < self.max_attempts else B_INDETERMINATE
                batches = _put(batches, i, bt._replace(status=status, maybe_appended=True))
        if batches is not s.batches:
            s = s._replace(batches=batches, outcomes=self._outcomes(batches))
        return s

    # ACTION lose_request(batch, attempt) / lose_response(batch, attempt)  WHO: the network
    # enabled: lost-message budget left; the message is in the network
    # effect:  the message is lost or late past request.timeout.ms: the connection it
    #          travels on breaks (see _break_connection) and the producer fails every
    #          in-flight request of that connection with a retriable NetworkException
    def enabled_lose_request(self, s: State) -> list[tuple[int, int]]:
        if not s.requests or s.lost_messages >= self.bounds.max_lost_messages:
            return []
        return [(q.batch, q.attempt) for q in s.requests]

    def lose_request(self, s: State, batch: int, attempt: int) -> State:
        return self._lose(s, s.requests, batch, attempt)

    def enabled_lose_response(self, s: State) -> list[tuple[int, int]]:
        if not s.responses or s.lost_messages >= self.bounds.max_lost_messages:
            return []
        return [(r.batch, r.attempt) for r in s.responses]

    def lose_response(self, s: State, batch: int, attempt: int) -> State:
        return self._lose(s, s.responses, batch, attempt)

    def _lose(self, s: State, messages, batch: int, attempt: int) -> State:
        """The message of (batch, attempt) is lost: its connection breaks."""
        broker = next(m.broker for m in messages if m.batch == batch and m.attempt == attempt)
        s = self._break_connection(s, broker)
        return s._replace(lost_messages=s.lost_messages + 1)

    # ======================================================================= consumer
    # ACTION consumer_poll()  WHO: consumer
    # enabled: the leader is alive and knows it leads; position < its HW (read_uncommitted)
    # effect:  the consumer reads the record at its position, moves on by one and commits
    #          the new position (a commitSync after every poll: the consumer's commit is
    #          folded into its poll to keep the state space small; lag still shows as
    #          HW - committed)
    def enabled_consumer_poll(self, s: State) -> tuple | list:
        ldr = s.leader
        if ldr >= 0:
            rep = s.replicas[ldr]
            if rep.alive and rep.leader == ldr and s.consumer_position < rep.high_watermark:
                return _NO_ARGS
        return []

    def consumer_poll(self, s: State) -> State:
        rep = s.replicas[s.leader]
        pos = s.consumer_position
        rec = flat_records(rep.log)[pos]
        return s._replace(consumer_position=pos + 1, committed_offset=pos + 1,
                          consumer_read=s.consumer_read + ((pos, rec),))

    # ACTION consumer_reset()  WHO: consumer
    # enabled: the consumer's position is past the leader's log end (OFFSET_OUT_OF_RANGE,
    #          e.g. after an unclean election truncated the log)
    # effect:  auto.offset.reset: latest -> the leader's HW (what is written there next is
    #          skipped or re-read under other offsets), earliest -> 0 (re-read)
    def enabled_consumer_reset(self, s: State) -> tuple | list:
        ldr = s.leader
        if ldr >= 0:
            rep = s.replicas[ldr]
            if rep.alive and rep.leader == ldr and s.consumer_position > rep.log_end_offset:
                return _NO_ARGS
        return []

    def consumer_reset(self, s: State) -> State:
        rep = s.replicas[s.leader]
        pos = rep.high_watermark if self.config.auto_offset_reset == "latest" else 0
        return s._replace(consumer_position=pos)



def batch_at(log, offset: int):
    """The batch whose base offset is `offset`, or None (no batch starts there)."""
    off = 0
    for b in log:
        if off == offset:
            return b
        off += len(b.records)
        if off > offset:
            return None
    return None


action_str = render.action_str  # the one formatting of actions, from the contract layer
