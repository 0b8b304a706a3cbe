"""Faults and the network in the encoded relation: process crashes, power losses and the
OS flusher, restarts, lost produce requests/responses, purgatory timeouts and delayed
follower fetches - each mirroring its Model namesake (model/protocol.py), as the rest of
encoding.py does. A mixin of Encoding: it uses the helpers defined there."""

from __future__ import annotations

from ackcheck.checker.engines.prove.layout import M_NONE, M_PURGATORY, M_REQUEST, M_RESPONSE, S, merge
from ackcheck.checker.engines.prove.ops import AND, COUNT, EQ, LE, LT, MIN, NE, NOT, OR, SELECT, ite
from ackcheck.model.state import E_REQUEST_TIMED_OUT


class FaultActions:
    # ====================================================================== faults
    def crash(self, s: S, b: int):
        en = AND(s.alive[b], LT(s.crashes, self.bounds.max_crashes))
        return en, self._crash(s, b, power_loss=False)

    def power_loss(self, s: S, b: int):
        return LT(s.power_losses, self.bounds.max_power_losses), self._crash(s, b, power_loss=True)

    def _crash(self, s: S, b: int, power_loss: bool) -> S:
        if power_loss:
            # only the flushed prefix survives (one record per batch: cut at the flushed offset)
            t = s.copy()
            leo = s.flushed[b]
            t.leo[b] = leo
            t.hw[b] = MIN(s.hw[b], leo)
            self.clamp_rp(t, b, leo)
            # requests addressed to b and its purgatory vanish; its responses stay in the
            # network and the producer only notices by timing out
            for i in range(self.NB):
                gone = AND(EQ(s.mb[i], b), OR(EQ(s.mk[i], M_REQUEST), EQ(s.mk[i], M_PURGATORY)))
                t.mk[i] = ite(gone, M_NONE, s.mk[i])
            t.power_losses = s.power_losses + 1
        else:
            t = self.break_connection_to(s, b)  # requests to b, its purgatory, its responses
            t.crashes = s.crashes + 1
        t.alive[b] = False
        t.rep_leader[b], t.rep_epoch[b] = -1, -1
        t.fleo[b] = [-1] * self.R
        t.rep_isr[b] = [False] * self.R
        t.cm[b] = [False] * (self.E + 1)
        t.ic[b] = False
        if self.track_truncating:
            t.ftr[b] = False
        if self.delayed:  # a delayed fetch to or from b dies with b's connections
            for r in range(self.R):
                t.df[r] = False if r == b else AND(s.df[r], NE(s.df_leader[r], b))
        if self.fenced_not_in_isr:
            for c in range(self.R):
                if c != b:
                    t.ic_stale[c] = OR(s.ic_stale[c], AND(s.ic[c], s.ic_prop[c][b]))
        if self.elr_enabled:
            t.unclean[b] = True
        t.c_leader = ite(EQ(s.c_leader, b), -1, s.c_leader)
        if self.kraft:
            cond = AND(s.alive[b], s.c_isr[b])
            if not self.elr_enabled:
                cond = AND(cond, LT(1, COUNT(s.c_isr)))
            t = merge(cond, self.controller_remove_dead(t, b), t)
        return t

    def flush(self, s: S, b: int):
        en = AND(LT(s.power_losses, self.bounds.max_power_losses), LT(s.flushed[b], s.leo[b]))
        t = s.copy()
        t.flushed[b] = s.leo[b]
        return en, t

    # ========================================================= lost messages, timeouts
    def leader_timeout_produce(self, s: S, i: int):
        en = AND(EQ(s.mk[i], M_PURGATORY), LT(s.lost, self.bounds.max_lost_messages))
        t = s.copy()
        t.mk[i], t.merr[i], t.moff[i], t.misr[i] = M_RESPONSE, E_REQUEST_TIMED_OUT, -1, -1
        t.mts[i] = self._new_ts(s, 0, i)
        t.lost = s.lost + 1
        return en, t

    def lose_message(self, s: S, i: int, b: int, kind: int):
        """lose_request / lose_response: the connection the message travels on breaks."""
        en = AND(EQ(s.mk[i], kind), EQ(s.mb[i], b), LT(s.lost, self.bounds.max_lost_messages))
        t = self.break_connection_to(s, b)
        t.lost = s.lost + 1
        return en, t

    def controller_remove_dead(self, s: S, b: int) -> S:
        t = s.copy()
        isr = [AND(s.c_isr[m], m != b) for m in range(self.R)]
        if self.elr_enabled:
            t.c_elr[b] = OR(s.c_elr[b], LT(COUNT(isr), self.min_isr))
        for e in range(self.E + 1):
            cur = EQ(s.c_epoch, e)
            t.dec_isr[e] = [ite(cur, isr[m], s.dec_isr[e][m]) for m in range(self.R)]
        t.c_isr = isr
        if self.elr_enabled:  # maybeUpdateLastKnownLeader: the first time the ISR empties
            t.c_lkl = ite(AND(NOT(OR(*isr)), EQ(s.c_lkl, -1)), b, s.c_lkl)
        for ldr in range(self.R):
            here = AND(EQ(t.c_leader, ldr), EQ(t.rep_epoch[ldr], t.c_epoch))
            u = t.copy()
            u.rep_isr[ldr] = list(isr)
            u = merge(EQ(u.rep_leader[ldr], ldr), self.advance_hw(self.trim_leos(u, ldr), ldr, [0]), u)
            t = merge(here, u, t)
        return t

    def restart(self, s: S, b: int):
        en = NOT(s.alive[b])
        t = s.copy()
        t.alive[b] = True
        t.hw[b] = MIN(s.hw[b], s.leo[b])
        if self.elr_enabled:
            t.c_elr[b] = AND(s.c_elr[b], NOT(s.unclean[b]))
        t.unclean[b] = False
        return en, self.broker_learn(t, b, s.c_epoch, s.c_leader, list(s.c_isr), [0])

    # ============================================================ delayed fetches
    # follower_fetch_delayed(r)
    def follower_fetch_delayed(self, s: S, r: int):
        ldr = s.rep_leader[r]
        leader_up = OR(*[AND(EQ(ldr, m), s.alive[m]) for m in range(self.R) if m != r])
        en = AND(LT(s.dfc, self.bounds.max_delayed_fetches), s.alive[r], leader_up, NOT(s.df[r]))
        if self.track_truncating:  # before 2.7 the fetcher truncates first (OffsetsForLeaderEpoch)
            en = AND(en, NOT(s.ftr[r]))
        t = s.copy()
        t.df[r] = True
        t.df_leader[r], t.df_epoch[r], t.df_off[r] = ldr, s.rep_epoch[r], s.leo[r]
        t.df_lastep[r] = SELECT([s.lep[r][j] for j in range(self.L)], s.leo[r] - 1, -1)
        t.dfc = s.dfc + 1
        return en, t

    def diverges(self, s: S, ldr: int, last_epoch, offset):
        """truncation.diverges over ldr's log (epochs sorted along a log)."""
        lleo = s.leo[ldr]
        e = -1
        for j in range(self.L):
            e = ite(AND(LT(j, lleo), LE(s.lep[ldr][j], last_epoch)), s.lep[ldr][j], e)
        end = lleo
        for j in range(self.L - 1, -1, -1):
            end = ite(AND(LT(j, lleo), LT(e, s.lep[ldr][j])), j, end)
        return OR(LT(e, 0), LT(e, last_epoch), LT(end, offset))

    # leader_handle_delayed_fetch(ldr, r)
    def leader_handle_delayed_fetch(self, s: S, ldr: int, r: int):
        en = AND(s.df[r], EQ(s.df_leader[r], ldr))
        t = s.copy()
        t.df[r] = False
        off = s.df_off[r]
        serve = AND(s.alive[ldr], EQ(s.rep_leader[ldr], ldr), LE(off, s.leo[ldr]))
        if self.fenced_epoch:
            serve = AND(serve, EQ(s.df_epoch[r], s.rep_epoch[ldr]))
        if self.diverging_fetch:
            serve = AND(serve, NOT(AND(LT(0, off), self.diverges(s, ldr, s.df_lastep[r], off))))
        serve = AND(serve, NOT(AND(self.leo_keepers(s, ldr)[r], LT(off, s.fleo[ldr][r]))))
        served, _ = self.leader_takes_fetch(t, ldr, r, off, [0])
        return en, merge(serve, served, t)

    # ====================================================== other producers' writes
    def other_producer_write(self, s: S, b: int):
        en = AND(LT(s.other_writes, self.bounds.max_other_writes), s.alive[b], EQ(s.rep_leader[b], b))
        t = s.copy()
        leo = s.leo[b]
        for name, v in (("lrec", self.NB + s.other_writes + 1), ("lep", s.rep_epoch[b]), ("lpe", -1), ("lseq", -1)):
            self._put2(t, name, b, leo, v)
        t.leo[b] = leo + 1
        t.fleo[b][b] = leo + 1
        self.interval_flush(t, b, leo + 1)
        t.other_writes = s.other_writes + 1
        return en, self.advance_hw(t, b, [0])
