"""The controller in the encoded relation: AlterPartition handling and elections, each
mirroring its Model namesake (model/protocol.py). A mixin of Encoding."""

from __future__ import annotations

from ackcheck.checker.engines.prove.layout import S, merge
from ackcheck.checker.engines.prove.ops import AND, COUNT, EQ, IMPLIES, LT, NE, NOT, OR, ite


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
