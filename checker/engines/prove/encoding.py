"""The protocol fragment `ackcheck prove` reasons about, as a transition relation.

Every action here mirrors the method of the same name in model/protocol.py: the same
arguments, the same enabling condition, the same effect, the same ghost updates. It is
written once over ops.py, so it runs on concrete values (tests/test_prove_conformance.py
compares it with `Model.successors` on thousands of states reached by random walks) and on
z3 terms (the relation bmc.py unrolls).

The state is a fixed-size vector (one partition, replication factor R, NB batches of one
record each, logs of at most L = NB x attempts + other producers' writes batches - each
send attempt appends at most once anywhere):

- per broker: alive, its log (record, leader epoch, producer epoch, base sequence per
  slot; slots at or beyond the log end offset are don't-care), LEO, HW, the leader and
  epoch it believes in, its view of follower LEOs and of the ISR (as leader), its pending
  AlterPartition (ISR change) and unclean-shutdown flag;
- the controller: leader, leader epoch, ISR, ELR, last known leader (KIP-966); the
  LeaderAndIsr / metadata updates in flight as "broker b has not yet taken epoch e" flags
  plus the decision of each epoch;
- the producer: per batch its status, attempts, offset, maybe-appended flag, producer
  epoch and sequence, and the one message of its current attempt that can be in the
  network (request, parked in purgatory, or response) with a timestamp that orders the
  messages of one connection (Kafka: one TCP connection per broker, delivered in order).

Optional parts, present only when the configuration can change them: flushed offsets and
recovery points (power losses, log.flush.interval.messages), the fetcher's Truncating flag
(before 2.7), the lost-message budget, one delayed fetch request per follower (its leader,
epoch, fetch offset and last fetched epoch), other producers' records (ids above this
producer's, producer epoch -1), the committed-log ghost leader-completeness reads, and the
consumer (position, committed offset, what it read). The actions on them live in faults.py
(crashes, power losses, the flusher, lost messages, purgatory timeouts, delayed fetches,
other producers' writes), controller.py (AlterPartition, elections, LeaderAndIsr) and
consumer.py.

What is not encoded (the command refuses it by name): batches of more than one record,
more than 5 batches per log with idempotence, and the invariants epoch-sanity,
min-isr-at-ack and sequence-contiguity; `ackcheck check` covers them.
"""

from __future__ import annotations

from ackcheck.checker.engines.prove.consumer import ConsumerActions
from ackcheck.checker.engines.prove.controller import ControllerActions
from ackcheck.checker.engines.prove.faults import FaultActions
from ackcheck.checker.engines.prove.layout import (
    M_NONE,
    M_PURGATORY,
    M_REQUEST,
    M_RESPONSE,
    TS_STEP,
    Instance,
    Layout,
    S,
    merge,
)
from ackcheck.checker.engines.prove.logs import check_sequence, truncate_kip101, truncate_kip279
from ackcheck.checker.engines.prove.ops import (
    AND,
    COUNT,
    EQ,
    IMPLIES,
    LE,
    LT,
    MAX,
    MIN,
    NE,
    NOT,
    OR,
    ite,
)
from ackcheck.model.state import (
    B_FAILED,
    B_IN_FLIGHT,
    B_INDETERMINATE,
    B_OK,
    B_QUEUED,
    B_RETRY,
    E_DUPLICATE_SEQUENCE_NUMBER,
    E_INVALID_PRODUCER_EPOCH,
    E_NONE,
    E_NOT_ENOUGH_REPLICAS,
    E_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    E_NOT_LEADER_OR_FOLLOWER,
    E_OUT_OF_ORDER_SEQUENCE_NUMBER,
    E_UNKNOWN_PRODUCER_ID,
)
from ackcheck.traces.settings import Config


class Encoding(ControllerActions, FaultActions, ConsumerActions, Layout):
    def __init__(self, config: Config, *, committed_log: bool = True, consumer: bool = False):
        self.config = config
        b = config.bounds
        self.R = config.replication_factor
        self.NB = b.max_records  # one record per batch (check_fragment)
        self.max_attempts = 1 if config.acks == "0" else min(config.retries + 1, b.max_attempts)
        # each send attempt and each other producer's record is appended at most once anywhere
        self.L = max(1, self.NB * self.max_attempts + b.max_other_writes)
        # every leader epoch after 0 comes from an election: a failover/ELR/unclean one
        # needs the leader to crash or lose power first, a rebalance spends max_elections
        self.E = b.max_crashes + b.max_power_losses + b.max_elections
        # optional parts of the state (layout.shapes): only what this configuration can change
        n = config.log_flush_interval_messages
        self.flush_n = n if n <= self.L else None  # a longer interval never fills a log of L
        self.track_rp = self.flush_n is not None
        self.track_flush = b.max_power_losses > 0 or self.track_rp
        self.lossy = b.max_lost_messages > 0
        self.delayed = b.max_delayed_fetches > 0
        self.others = b.max_other_writes > 0
        self.committed_log = committed_log  # the ghost leader-completeness reads
        # the consumer (only when a selected invariant reads it, as Model(consumer=...)): what
        # it read is a list of (offset, record) of at most CR entries - a poll reads below the
        # leader's HW (at most L records a leader) and auto.offset.reset only happens after the
        # leader's log shrank below the position, i.e. after a leader change (at most E)
        self.consumer = consumer
        self.CR = self.L * (self.E + 1)
        self.acks = config.acks
        self.min_isr = config.min_insync_replicas
        self.idempotent = config.enable_idempotence
        self.max_in_flight = config.max_in_flight_requests_per_connection
        self.fenced_epoch = config.rule("fenced_leader_epoch")
        self.any_first_sequence = config.rule("any_first_sequence")  # KAFKA-8710, broker 2.5
        self.epoch_bump = config.rule("idempotent_epoch_bump")  # KAFKA-8805, client 2.5
        self.pid_resets = not self.epoch_bump  # before 2.5: one producer state per producer id
        self.epoch_truncation = config.rule("epoch_truncation")  # KIP-101
        self.fast_failover = config.rule("epoch_truncation_fast_failover")  # KIP-279
        self.diverging_fetch = config.rule("diverging_epoch_fetch")  # KAFKA-10554, 2.7
        # before 2.7 a follower truncates once per epoch: the fetcher's Truncating state
        self.track_truncating = self.epoch_truncation and not self.diverging_fetch
        self.join_at_epoch_start = config.rule("isr_join_at_epoch_start")
        self.strict_min_isr = config.rule("strict_min_isr")
        self.maximal_isr = config.rule("maximal_isr")
        self.kraft = config.rule("kraft_controller")
        self.elr_enabled = config.rule("eligible_leader_replicas") and self.kraft
        self.fenced_not_in_isr = config.rule("fenced_replicas_not_in_isr") and self.kraft
        self.unclean = config.unclean_leader_election_enable
        self.bounds = b
        # bit-vector width of the integers: the largest value any field takes (error codes
        # go to 7), one more for an increment, and the sign
        top = max(8, self.L + 2, self.E + 2, self.NB * self.max_attempts + 2, self.R + 1,
                  self.max_attempts + 2, b.max_crashes + 2, b.max_elections + 2, b.max_isr_shrinks + 2,
                  b.max_power_losses + 2, b.max_lost_messages + 2, b.max_delayed_fetches + 2,
                  self.NB + b.max_other_writes + 2, (self.CR + 2) if consumer else 0)
        self.bits = top.bit_length() + 1
        self.act_bits = max(2, (len(self._instances()) + 1).bit_length() + 1)
        self.instances = self._instances()

    # ---------------------------------------------------------------------- helpers
    def _put(self, s: S, name, idx, value):
        """s.name[idx] = value (idx may be symbolic: every slot becomes an ite)."""
        v = getattr(s, name)
        if isinstance(idx, int):  # (a branch not taken may compute an index past the end)
            if 0 <= idx < len(v):
                v[idx] = value
        else:
            for i in range(len(v)):
                v[i] = ite(EQ(idx, i), value, v[i])

    def _put2(self, s: S, name, a, idx, value):
        row = getattr(s, name)[a]
        if isinstance(idx, int):
            if 0 <= idx < len(row):
                row[idx] = value
        else:
            for i in range(len(row)):
                row[i] = ite(EQ(idx, i), value, row[i])

    def interval_flush(self, t: S, b: int, leo) -> None:
        """_interval_flush: log.flush.interval.messages - an fsync once LEO - recovery point
        reaches N; the recovery point moves to the LEO (t is changed in place)."""
        if self.flush_n is None:
            return
        hit = LE(self.flush_n, leo - t.rp[b])
        t.flushed[b] = ite(hit, leo, t.flushed[b])
        t.rp[b] = ite(hit, leo, t.rp[b])

    def clamp_rp(self, t: S, b: int, leo) -> None:
        """_clamp_recovery_point (t is changed in place)."""
        if self.track_rp:
            t.rp[b] = MIN(t.rp[b], leo)

    def _new_ts(self, s: S, call: int, i: int):
        return s.clock * TS_STEP + call * self.NB + i

    def leader_of(self, s: S, b: int):
        return AND(s.alive[b], EQ(s.rep_leader[b], b))

    def hw_isr(self, s: S, b: int):
        """_hw_isr: the pending change's effective ISR, else the replica's ISR."""
        return [ite(s.ic[b], s.ic_eff[b][m], s.rep_isr[b][m]) for m in range(self.R)]

    def leo_keepers(self, s: S, b: int):
        return [OR(s.rep_isr[b][m], AND(s.ic[b], OR(s.ic_prop[b][m], s.ic_eff[b][m]))) for m in range(self.R)]

    # _advance_hw(s, b)
    def advance_hw(self, s: S, b: int, call: list) -> S:
        s = s.copy()
        isr = self.hw_isr(s, b)
        new = s.leo[b]
        for m in range(self.R):
            if m != b:
                new = ite(AND(isr[m], LT(s.fleo[b][m], new)), s.fleo[b][m], new)
        new = MAX(new, s.hw[b])
        if self.strict_min_isr:
            new = ite(LT(COUNT(s.rep_isr[b]), self.min_isr), s.hw[b], new)
        if self.committed_log:  # the ghost: every record below the highest HW ever reached
            grow = AND(NE(new, s.hw[b]), LT(s.cl_len, new))
            for j in range(self.L):
                s.cl[j] = ite(AND(grow, LE(s.cl_len, j), LT(j, new)), s.lrec[b][j], s.cl[j])
            s.cl_len = ite(grow, new, s.cl_len)
        s.hw[b] = new
        size = COUNT(isr)
        err = ite(LE(self.min_isr, size), E_NONE, E_NOT_ENOUGH_REPLICAS_AFTER_APPEND)
        c = call[0]
        call[0] += 1
        for i in range(self.NB):
            done = AND(EQ(s.mk[i], M_PURGATORY), EQ(s.mb[i], b), LE(s.mend[i], new))
            s.mk[i] = ite(done, M_RESPONSE, s.mk[i])
            s.merr[i] = ite(done, err, s.merr[i])
            s.moff[i] = ite(done, s.mend[i] - 1, s.moff[i])
            s.misr[i] = ite(done, size, s.misr[i])
            s.mts[i] = ite(done, self._new_ts(s, c, i), s.mts[i])
        return s

    def trim_leos(self, s: S, ldr: int) -> S:
        s = s.copy()
        keep = self.leo_keepers(s, ldr)
        for m in range(self.R):
            if m != ldr:
                s.fleo[ldr][m] = ite(keep[m], s.fleo[ldr][m], -1)
        return s

    def propose_isr(self, s: S, ldr: int, proposed, effective, call) -> S:
        s = s.copy()
        s.ic[ldr] = True
        s.ic_epoch[ldr] = s.rep_epoch[ldr]
        s.ic_base[ldr] = list(s.rep_isr[ldr])
        s.ic_prop[ldr] = list(proposed)
        s.ic_eff[ldr] = list(effective)
        s.ic_stale[ldr] = False
        return self.advance_hw(s, ldr, call)

    def elr_after(self, isr, elr):
        small = LT(COUNT(isr), self.min_isr)
        return [AND(small, e) for e in elr]

    def break_connection_to(self, s: S, b: int) -> S:
        """_break_connection (with the crash's requests and purgatory): every message of
        connection b vanishes; its in-flight batches fail with a retriable error."""
        s = s.copy()
        for i in range(self.NB):
            on = AND(NE(s.mk[i], M_NONE), EQ(s.mb[i], b))
            hit = AND(on, EQ(s.st[i], B_IN_FLIGHT))
            s.st[i] = ite(hit, ite(LT(s.att[i], self.max_attempts), B_RETRY, B_INDETERMINATE), s.st[i])
            s.maybe[i] = OR(s.maybe[i], hit)
            s.mk[i] = ite(on, M_NONE, s.mk[i])
        return s

    # ==================================================================== producer
    def is_next(self, s: S, i: int):
        """_next_to_send(batches) == i"""
        st = s.st
        if self.idempotent:
            cand = [OR(EQ(st[j], B_RETRY), EQ(st[j], B_QUEUED)) for j in range(self.NB)]
            open_ = [OR(cand[j], EQ(st[j], B_IN_FLIGHT)) for j in range(self.NB)]
            first = AND(cand[i], *[NOT(cand[j]) for j in range(i)])
            return AND(first, IMPLIES(EQ(st[i], B_RETRY), AND(*[NOT(open_[j]) for j in range(i)])))
        retry_first = AND(EQ(st[i], B_RETRY), *[NE(st[j], B_RETRY) for j in range(i)])
        queued_first = AND(EQ(st[i], B_QUEUED), *[NE(st[j], B_QUEUED) for j in range(i)])
        no_retry = AND(*[NE(st[j], B_RETRY) for j in range(self.NB)])
        return OR(retry_first, AND(no_retry, queued_first))

    def producer_send(self, s: S, i: int, b: int):
        in_flight = COUNT([EQ(x, B_IN_FLIGHT) for x in s.st])
        en = AND(self.is_next(s, i), LT(in_flight, self.max_in_flight), self.leader_of(s, b))
        t = s.copy()
        if self.idempotent:  # a batch stamped already keeps its stamp
            stamped = LE(0, s.bseq[i])
            t.bpe[i] = ite(stamped, s.bpe[i], s.producer_epoch)
            t.bseq[i] = ite(stamped, s.bseq[i], s.next_sequence)
            t.next_sequence = ite(stamped, s.next_sequence, s.next_sequence + 1)
        else:
            t.bpe[i], t.bseq[i] = -1, -1
        t.att[i] = s.att[i] + 1
        if self.acks == "0":
            t.st[i], t.maybe[i] = B_OK, True
        else:
            t.st[i] = B_IN_FLIGHT
        t.mk[i], t.mb[i], t.mts[i] = M_REQUEST, b, self._new_ts(s, 0, i)
        t.mpe[i], t.mseq[i] = t.bpe[i], t.bseq[i]
        return en, t

    def _oldest(self, s: S, i: int, b: int, kind: int):
        return AND(EQ(s.mk[i], kind), EQ(s.mb[i], b),
                   *[NOT(AND(EQ(s.mk[j], kind), EQ(s.mb[j], b), LT(s.mts[j], s.mts[i])))
                     for j in range(self.NB) if j != i])

    def producer_receive(self, s: S, i: int, b: int):
        """Sender.completeBatch as the Model has it: the 2.5+ client bumps its epoch and
        re-stamps (KAFKA-8805); the 2.4 client resets its producer id (a new generation,
        stamps kept) and answers UNKNOWN_PRODUCER_ID from a pre-2.5 broker by re-stamping
        from 0 while nothing was acknowledged."""
        en = self._oldest(s, i, b, M_RESPONSE)
        t = s.copy()
        t.mk[i] = M_NONE
        err, off = s.merr[i], s.moff[i]
        pe, acked = s.producer_epoch, s.last_acked
        current = EQ(s.st[i], B_IN_FLIGHT)  # (the attempt is the batch's: from_state checks)
        not_appended = OR(EQ(err, E_NOT_ENOUGH_REPLICAS), EQ(err, E_OUT_OF_ORDER_SEQUENCE_NUMBER),
                          EQ(err, E_INVALID_PRODUCER_EPOCH), EQ(err, E_UNKNOWN_PRODUCER_ID))
        maybe = OR(s.maybe[i], NOT(not_appended))
        final = ite(maybe, B_INDETERMINATE, B_FAILED)
        retry0 = LT(s.att[i], self.max_attempts)
        ok = OR(EQ(err, E_NONE), EQ(err, E_DUPLICATE_SEQUENCE_NUMBER))
        ipe = EQ(err, E_INVALID_PRODUCER_EPOCH)
        ooo = EQ(err, E_OUT_OF_ORDER_SEQUENCE_NUMBER)
        upi = AND(EQ(err, E_UNKNOWN_PRODUCER_ID), retry0, NOT(s.reseq[i]))
        same_epoch = EQ(s.bpe[i], pe)
        # OUT_OF_ORDER: canRetry retries a re-stamped batch or one that is not the next after
        # the last acknowledged unchanged; a real gap (or the final failure) bumps the epoch
        # (2.5+) or, not retriable before 2.5, resets the producer id
        next_one = AND(NOT(s.reseq[i]), EQ(s.bseq[i], acked + 1))
        bump_ooo = AND(ooo, same_epoch, OR(NOT(retry0), next_one))
        if self.epoch_bump:
            retry = AND(NOT(ipe), retry0)
            bump = AND(current, OR(bump_ooo, AND(upi, same_epoch)))
            restamp = False
        else:
            retry = AND(NOT(ipe), retry0, NOT(AND(ooo, next_one)), NOT(AND(upi, LE(0, acked))))
            bump = AND(current, OR(bump_ooo, AND(upi, LE(0, acked), same_epoch)))
            restamp = AND(current, upi, LT(acked, 0))  # 2.4 startSequencesAtBeginning, same producer id
        status = ite(ok, B_OK, ite(retry, B_RETRY, final))
        st1 = list(s.st)
        st1[i] = ite(current, status, s.st[i])
        t.st[i] = st1[i]
        t.off[i] = ite(AND(current, ok), off, s.off[i])
        t.maybe[i] = ite(current, OR(ok, maybe), s.maybe[i])
        acked_ok = ite(AND(LE(0, s.bseq[i]), EQ(s.bpe[i], pe)), MAX(acked, s.bseq[i]), acked)
        nseq = 0
        for j in range(self.NB):
            if self.epoch_bump:  # _bump: every unfinished stamped batch re-stamped from 0 under epoch + 1
                q = AND(bump, OR(EQ(st1[j], B_IN_FLIGHT), EQ(st1[j], B_RETRY)), LE(0, s.bseq[j]))
                t.bpe[j] = ite(q, pe + 1, s.bpe[j])
            else:
                q = AND(restamp, OR(EQ(s.st[j], B_IN_FLIGHT), EQ(s.st[j], B_RETRY)), LE(0, s.bseq[j]),
                        EQ(s.bpe[j], pe))
            t.bseq[j] = ite(q, nseq, s.bseq[j])
            t.reseq[j] = OR(s.reseq[j], q)
            nseq = nseq + ite(q, 1, 0)
        t.producer_epoch = ite(bump, pe + 1, pe)
        if self.epoch_bump:
            t.next_sequence = ite(bump, nseq, s.next_sequence)
        else:
            t.next_sequence = ite(bump, 0, ite(restamp, nseq, s.next_sequence))
        t.last_acked = ite(bump, -1, ite(AND(current, ok), acked_ok, acked))
        return en, t

    def producer_timeout(self, s: S, i: int):
        en = AND(EQ(s.st[i], B_IN_FLIGHT), EQ(s.mk[i], M_NONE))
        t = s.copy()
        t.st[i] = ite(LT(s.att[i], self.max_attempts), B_RETRY, B_INDETERMINATE)
        t.maybe[i] = True
        return en, t

    def producer_expire(self, s: S, i: int):
        en = AND(EQ(s.c_leader, -1), OR(EQ(s.st[i], B_QUEUED), EQ(s.st[i], B_RETRY)))
        t = s.copy()
        t.st[i] = ite(s.maybe[i], B_INDETERMINATE, B_FAILED)
        return en, t

    # ===================================================================== brokers
    def broker_handle_produce(self, s: S, i: int, b: int):
        # the connection is muted while a request of it is parked in purgatory
        muted = OR(*[AND(EQ(s.mk[j], M_PURGATORY), EQ(s.mb[j], b)) for j in range(self.NB)])
        en = AND(self._oldest(s, i, b, M_REQUEST), s.alive[b], NOT(muted))
        s0 = s.copy()
        s0.mk[i] = M_NONE
        isr_size = COUNT(s.rep_isr[b])

        def answer(err, off=-1) -> S:
            t = s0.copy()
            if self.acks == "0":
                return t
            t.mk[i], t.mb[i], t.merr[i], t.moff[i], t.misr[i] = M_RESPONSE, b, err, off, isr_size
            t.mts[i] = self._new_ts(s, 0, i)
            return t

        not_leader = NE(s.rep_leader[b], b)
        if self.acks == "all":
            no_replicas = LT(isr_size, self.min_isr)
        else:
            no_replicas = False
        # append
        leo = s.leo[b]
        a = s0.copy()
        for name, v in (("lrec", i + 1), ("lep", s.rep_epoch[b]), ("lpe", s.mpe[i]), ("lseq", s.mseq[i])):
            self._put2(a, name, b, leo, v)
        a.leo[b] = leo + 1
        a.fleo[b][b] = leo + 1
        self.interval_flush(a, b, leo + 1)
        if self.acks == "1":
            a.mk[i], a.mb[i], a.merr[i], a.moff[i], a.misr[i] = M_RESPONSE, b, E_NONE, leo, isr_size
            a.mts[i] = self._new_ts(s, 0, i)
        elif self.acks == "all":
            a.mk[i], a.mb[i], a.mend[i] = M_PURGATORY, b, leo + 1
        appended = self.advance_hw(a, b, [1])
        if self.idempotent:
            ok_seq, err, off = check_sequence(self, s, b, s.mpe[i], s.mseq[i])
            if self.acks == "all":
                d = s0.copy()
                d.mk[i], d.mb[i], d.mend[i] = M_PURGATORY, b, off + 1
                refused = merge(EQ(err, E_DUPLICATE_SEQUENCE_NUMBER), self.advance_hw(d, b, [1]), answer(err, off))
            else:
                refused = answer(err, off)
            after_checks = merge(ok_seq, appended, refused)
            if not self.any_first_sequence:
                # before 2.5 (KAFKA-8710): a producer id the leader holds no state for must
                # start at sequence 0 (ProducerStateManager 2.4 checkSequence)
                pe = s.mpe[i]
                has_state = OR(*[AND(LT(j, s.leo[b]), LE(0, s.lpe[b][j]),
                                     EQ(s.lpe[b][j], pe) if self.pid_resets else True) for j in range(self.L)])
                unknown = AND(ok_seq, NE(s.mseq[i], 0), NOT(has_state))
                after_checks = merge(unknown, answer(E_UNKNOWN_PRODUCER_ID), after_checks)
        else:
            after_checks = appended
        t = merge(not_leader, answer(E_NOT_LEADER_OR_FOLLOWER),
                  merge(no_replicas, answer(E_NOT_ENOUGH_REPLICAS), after_checks))
        return en, t

    def leader_takes_fetch(self, s: S, ldr: int, r: int, offset, call):
        keep = self.leo_keepers(s, ldr)
        c1 = AND(NE(s.fleo[ldr][r], offset), keep[r])
        a = s.copy()
        a.fleo[ldr][r] = offset
        s1 = merge(c1, self.advance_hw(a, ldr, call), s)
        # _offset_caught_up on the leader after the first update
        caught = LE(s1.hw[ldr], offset)
        if self.join_at_epoch_start:
            start = s1.leo[ldr]
            for j in range(self.L - 1, -1, -1):
                start = ite(AND(LT(j, s1.leo[ldr]), EQ(s1.lep[ldr][j], s1.rep_epoch[ldr])), j, start)
            caught = AND(caught, LE(start, offset))
        c2 = AND(NOT(s1.rep_isr[ldr][r]), NOT(s1.ic[ldr]), caught)
        proposed = [OR(s1.rep_isr[ldr][m], m == r) for m in range(self.R)]
        e = self.propose_isr(s1, ldr, proposed, proposed, call)
        e.fleo[ldr][r] = offset
        e = self.advance_hw(e, ldr, call)
        return merge(c2, e, s1), OR(c1, c2)

    def follower_fetch(self, s: S, r: int, ldr: int):
        base_en = AND(s.alive[r], EQ(s.rep_leader[r], ldr), s.alive[ldr], EQ(s.rep_leader[ldr], ldr))
        if self.fenced_epoch:
            base_en = AND(base_en, EQ(s.rep_epoch[ldr], s.rep_epoch[r]))
        leo, hw = s.leo[r], s.hw[r]
        leader_hw_before = s.hw[ldr]
        # OFFSET_OUT_OF_RANGE truncates to the leader's LEO; KIP-101/279 truncation happens on
        # every fetch from 2.7 (diverging epoch), before that once per epoch (Truncating state)
        by_offset = MIN(leo, s.leo[ldr])
        if not self.epoch_truncation:
            t_off = by_offset
        else:
            epochs = (truncate_kip279 if self.fast_failover else truncate_kip101)(self, s, r, ldr)
            t_off = epochs if self.diverging_fetch else ite(s.ftr[r], epochs, by_offset)
        cut = LT(t_off, leo)
        leo = ite(cut, t_off, leo)
        hw = ite(cut, MIN(hw, leo), hw)
        s0 = s
        if self.track_truncating:
            s0 = s.copy()
            s0.ftr[r] = False
        if self.track_flush:
            s0 = s0.copy()
            s0.flushed[r] = ite(cut, MIN(s.flushed[r], leo), s.flushed[r])
            self.clamp_rp(s0, r, leo)
        call = [0]
        s1, took = self.leader_takes_fetch(s0, ldr, r, leo, call)
        copy = LT(leo, s1.leo[ldr])
        t = s1.copy()
        for name in ("lrec", "lep", "lpe", "lseq"):
            for j in range(self.L):
                getattr(t, name)[r][j] = ite(AND(copy, EQ(leo, j)), getattr(s1, name)[ldr][j], getattr(s, name)[r][j])
        leo = ite(copy, leo + 1, leo)
        if self.flush_n is not None:
            c = t.copy()
            self.interval_flush(c, r, leo)
            t = merge(copy, c, t)
        new_hw = MIN(leader_hw_before, leo)
        changed = OR(cut, took, copy, NE(new_hw, hw), s.ftr[r] if self.track_truncating else False)
        t.leo[r] = leo
        t.hw[r] = new_hw
        return AND(base_en, changed), t

    def can_change_isr(self, s: S, ldr: int):
        return AND(s.alive[ldr], EQ(s.rep_leader[ldr], ldr), NOT(s.ic[ldr]))

    def leader_shrink_isr(self, s: S, ldr: int, f: int):
        behind = AND(s.alive[f], LT(s.fleo[ldr][f], s.leo[ldr]), LT(s.isr_shrinks, self.bounds.max_isr_shrinks))
        en = AND(self.can_change_isr(s, ldr), s.rep_isr[ldr][f], OR(NOT(s.alive[f]), behind))
        proposed = [AND(s.rep_isr[ldr][m], m != f) for m in range(self.R)]
        effective = list(s.rep_isr[ldr]) if self.maximal_isr else proposed
        t = self.propose_isr(s, ldr, proposed, effective, [0])
        t.isr_shrinks = ite(s.alive[f], s.isr_shrinks + 1, s.isr_shrinks)
        return en, t

    # ================================================================== instances
    def _instances(self) -> list[Instance]:
        R, NB = self.R, self.NB
        out = []

        def add(name, args, fn, decode):
            out.append(Instance(name, args, fn, decode))
        for i in range(NB):
            for b in range(R):
                add("producer_send", (i, b), lambda s, i=i, b=b: self.producer_send(s, i, b),
                    lambda v, i=i, b=b: ("producer_send", i, b))
                add("producer_receive", (i, b), lambda s, i=i, b=b: self.producer_receive(s, i, b),
                    lambda v, i=i: ("producer_receive", i, v["att"][i]))
            add("producer_timeout", (i,), lambda s, i=i: self.producer_timeout(s, i),
                lambda v, i=i: ("producer_timeout", i))
            add("producer_expire", (i,), lambda s, i=i: self.producer_expire(s, i),
                lambda v, i=i: ("producer_expire", i))
            for b in range(R):
                add("broker_handle_produce", (i, b), lambda s, i=i, b=b: self.broker_handle_produce(s, i, b),
                    lambda v, i=i, b=b: ("broker_handle_produce", b, i, v["att"][i]))
        for r in range(R):
            for ldr in range(R):
                if ldr != r:
                    add("follower_fetch", (r, ldr), lambda s, r=r, ldr=ldr: self.follower_fetch(s, r, ldr),
                        lambda v, r=r: ("follower_fetch", r))
        for ldr in range(R):
            for f in range(R):
                if f != ldr:
                    add("leader_shrink_isr", (ldr, f), lambda s, ldr=ldr, f=f: self.leader_shrink_isr(s, ldr, f),
                        lambda v, ldr=ldr, f=f: ("leader_shrink_isr", ldr, f))
        for b in range(R):
            for e in range(1, self.E + 1):
                add("broker_learn", (b, e), lambda s, b=b, e=e: self.broker_learn_action(s, b, e),
                    lambda v, b=b, e=e: ("broker_learn", b, e))
        for ldr in range(R):
            add("controller_alter_partition", (ldr,), lambda s, ldr=ldr: self.controller_alter_partition(s, ldr),
                lambda v, ldr=ldr: ("controller_alter_partition", ldr))
        for b in range(R):
            for reason in ("failover", "elr", "last_known_leader", "unclean", "rebalance"):
                add("controller_elect", (b, reason), lambda s, b=b, r=reason: self.controller_elect(s, b, r),
                    lambda v, b=b, r=reason: ("controller_elect", b, r))
        for b in range(R):
            add("crash", (b,), lambda s, b=b: self.crash(s, b), lambda v, b=b: ("crash", b))
            if self.bounds.max_power_losses:
                add("power_loss", (b,), lambda s, b=b: self.power_loss(s, b), lambda v, b=b: ("power_loss", b))
                add("flush", (b,), lambda s, b=b: self.flush(s, b), lambda v, b=b: ("flush", b))
            add("restart", (b,), lambda s, b=b: self.restart(s, b), lambda v, b=b: ("restart", b))
        if self.others:
            for b in range(R):
                add("other_producer_write", (b,), lambda s, b=b: self.other_producer_write(s, b),
                    lambda v, b=b: ("other_producer_write", b))
        if self.lossy:
            for i in range(NB):
                add("leader_timeout_produce", (i,), lambda s, i=i: self.leader_timeout_produce(s, i),
                    lambda v, i=i: ("leader_timeout_produce", v["mb"][i], i, v["att"][i]))
                for b in range(R):
                    add("lose_request", (i, b), lambda s, i=i, b=b: self.lose_message(s, i, b, M_REQUEST),
                        lambda v, i=i: ("lose_request", i, v["att"][i]))
                    add("lose_response", (i, b), lambda s, i=i, b=b: self.lose_message(s, i, b, M_RESPONSE),
                        lambda v, i=i: ("lose_response", i, v["att"][i]))
        if self.consumer:
            for ldr in range(R):
                add("consumer_poll", (ldr,), lambda s, ldr=ldr: self.consumer_poll(s, ldr),
                    lambda v: ("consumer_poll",))
                add("consumer_reset", (ldr,), lambda s, ldr=ldr: self.consumer_reset(s, ldr),
                    lambda v: ("consumer_reset",))
        if self.delayed:
            for r in range(R):
                add("follower_fetch_delayed", (r,), lambda s, r=r: self.follower_fetch_delayed(s, r),
                    lambda v, r=r: ("follower_fetch_delayed", r))
                for ldr in range(R):
                    if ldr != r:
                        add("leader_handle_delayed_fetch", (ldr, r),
                            lambda s, ldr=ldr, r=r: self.leader_handle_delayed_fetch(s, ldr, r),
                            lambda v, ldr=ldr, r=r: ("leader_handle_delayed_fetch", ldr, r))
        return out

    def step_all(self, s: S) -> list[tuple[object, S]]:
        """(enabled, next) for every instance; each next carries clock + 1."""
        out = []
        for inst in self.instances:
            en, t = inst.fn(s)
            t = t.copy() if t is s else t
            t.clock = s.clock + 1
            out.append((en, t))
        return out
