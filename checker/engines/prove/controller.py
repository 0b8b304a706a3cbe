"""The controller in the encoded relation: AlterPartition handling, elections and brokers
learning its decisions (LeaderAndIsr / metadata), each mirroring its Model namesake
(model/protocol.py). A mixin of Encoding."""

from __future__ import annotations

from ackcheck.checker.engines.prove.layout import M_PURGATORY, M_RESPONSE, S, merge
from ackcheck.checker.engines.prove.ops import AND, COUNT, EQ, IMPLIES, LE, LT, MIN, NE, NOT, OR, ite
from ackcheck.model.state import E_NOT_LEADER_OR_FOLLOWER


class ControllerActions:
    # ================================================================== controller
    def controller_alter_partition(self, s: S, ldr: int):
        en = s.ic[ldr]
        t = s.copy()
        t.ic[ldr] = False
        base, proposed = s.ic_base[ldr], s.ic_prop[ldr]
        ok = AND(EQ(s.ic_epoch[ldr], s.c_epoch), EQ(s.c_leader, ldr),
                 *[EQ(base[m], s.c_isr[m]) for m in range(self.R)])
        if self.fenced_not_in_isr:
            ok = AND(ok, NOT(s.ic_stale[ldr]), *[IMPLIES(proposed[m], s.alive[m]) for m in range(self.R)])
        a = t.copy()
        removed = [AND(base[m], NOT(proposed[m])) for m in range(self.R)]
        elr = [AND(s.c_elr[m], NOT(proposed[m])) for m in range(self.R)]
        if self.elr_enabled:
            small = LT(COUNT(proposed), self.min_isr)
            elr = [OR(elr[m], AND(small, removed[m])) for m in range(self.R)]
        a.c_isr = list(proposed)
        a.c_elr = self.elr_after(proposed, elr)
        mine = EQ(s.rep_epoch[ldr], s.ic_epoch[ldr])
        a.rep_isr[ldr] = [ite(mine, proposed[m], s.rep_isr[ldr][m]) for m in range(self.R)]
        t = merge(ok, a, t)
        t = merge(self.leader_of(t, ldr), self.advance_hw(self.trim_leos(t, ldr), ldr, [0]), t)
        return en, t

    def controller_elect(self, s: S, b: int, reason: str):
        live_isr = OR(*[AND(s.c_isr[m], s.alive[m]) for m in range(self.R)])
        live_elr = OR(*[AND(s.c_elr[m], s.alive[m]) for m in range(self.R)]) if self.elr_enabled else False
        offline = EQ(s.c_leader, -1)
        if reason == "failover":
            en = AND(offline, s.c_isr[b], s.alive[b])
        elif reason == "elr":
            en = AND(offline, NOT(live_isr), s.c_elr[b], s.alive[b]) if self.elr_enabled else False
        elif reason == "last_known_leader":
            en = AND(offline, NOT(OR(*s.c_isr)), NOT(OR(*s.c_elr)), EQ(s.c_lkl, b), s.alive[b]) \
                if self.elr_enabled else False
        elif reason == "unclean":
            lkl_up = AND(NOT(OR(*s.c_isr)), NOT(OR(*s.c_elr)),
                         OR(*[AND(EQ(s.c_lkl, m), s.alive[m]) for m in range(self.R)])) if self.elr_enabled else False
            en = AND(offline, NOT(live_isr), NOT(live_elr), NOT(lkl_up), s.alive[b]) if self.unclean else False
        else:
            en = AND(NOT(offline), LT(s.elections, self.bounds.max_elections), s.c_isr[b],
                     NE(s.c_leader, b), s.alive[b])
        en = AND(en, LT(s.c_epoch, self.E))
        t = s.copy()
        if reason == "rebalance":
            isr = list(s.c_isr)
            t.elections = s.elections + 1
        else:
            isr = [OR(AND(s.c_isr[m], s.alive[m]), m == b) for m in range(self.R)]
        if reason == "last_known_leader":
            t.c_elr = [False] * self.R
        else:
            t.c_elr = self.elr_after(isr, [AND(s.c_elr[m], NOT(isr[m])) for m in range(self.R)])
        t.c_lkl = -1
        epoch = s.c_epoch + 1
        t.c_isr = isr
        t.c_leader, t.c_epoch = b, epoch
        for e in range(1, self.E + 1):
            new = EQ(epoch, e)
            for m in range(self.R):
                t.cm[m][e] = OR(s.cm[m][e], AND(new, s.alive[m]))
            t.dec_leader[e] = ite(new, b, s.dec_leader[e])
            t.dec_isr[e] = [ite(new, isr[m], s.dec_isr[e][m]) for m in range(self.R)]
        return en, t

    # ======================================================= LeaderAndIsr / metadata
    def broker_learn(self, s: S, b: int, epoch, ldr, isr, call) -> S:
        """broker_learn(s, (b, epoch, ldr, isr)) - the message is dropped by the caller's
        filter here too (every message for b not newer than epoch leaves the network)."""
        s = s.copy()
        for e in range(self.E + 1):
            s.cm[b][e] = AND(s.cm[b][e], LT(epoch, e))
        stale = LE(epoch, s.rep_epoch[b])
        was_leader = EQ(s.rep_leader[b], b)
        t = s.copy()
        t.ic[b] = False
        if self.track_truncating:  # the fetcher restarts in the Truncating state for a new epoch
            t.ftr[b] = AND(LT(0, s.leo[b]), NE(ldr, b))
        # becoming leader
        lead = t.copy()
        lead.fleo[b] = [ite(m == b, s.leo[b], -1) if True else 0 for m in range(self.R)]
        lead.rep_epoch[b], lead.rep_leader[b], lead.rep_isr[b] = epoch, ldr, list(isr)
        lead = self.advance_hw(lead, b, call)
        # becoming follower
        fol = t.copy()
        fol.rep_epoch[b], fol.rep_leader[b] = epoch, ldr
        fol.rep_isr[b] = [False] * self.R
        fol.fleo[b] = [-1] * self.R
        if not self.epoch_truncation:  # before KIP-101: truncate to the own HW on becoming follower
            hwcut = AND(LE(0, ldr), LT(s.hw[b], s.leo[b]))
            fol.leo[b] = ite(hwcut, s.hw[b], s.leo[b])
            if self.track_flush:
                fol.flushed[b] = ite(hwcut, MIN(s.flushed[b], s.hw[b]), s.flushed[b])
            if self.track_rp:
                fol.rp[b] = ite(hwcut, MIN(s.rp[b], s.hw[b]), s.rp[b])
        c = call[0]
        call[0] += 1
        for i in range(self.NB):
            hit = AND(was_leader, EQ(s.mk[i], M_PURGATORY), EQ(s.mb[i], b))
            fol.mk[i] = ite(hit, M_RESPONSE, fol.mk[i])
            fol.merr[i] = ite(hit, E_NOT_LEADER_OR_FOLLOWER, fol.merr[i])
            fol.moff[i] = ite(hit, -1, fol.moff[i])
            fol.misr[i] = ite(hit, -1, fol.misr[i])
            fol.mts[i] = ite(hit, self._new_ts(s, c, i), fol.mts[i])
        return merge(stale, s, merge(EQ(ldr, b), lead, fol))

    def broker_learn_action(self, s: S, b: int, e: int):
        en = s.cm[b][e]
        return en, self.broker_learn(s, b, e, s.dec_leader[e], s.dec_isr[e], [0])
