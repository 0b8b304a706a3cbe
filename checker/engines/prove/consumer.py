"""The consumer in the encoded relation: consumer_poll and consumer_reset, mirroring their
Model namesakes (model/protocol.py), one instance per broker that may serve them (the
controller's leader). A mixin of Encoding; present only when a selected invariant reads the
consumer (read-durability, consumer-monotonic), as Model(consumer=...)."""

from __future__ import annotations

from ackcheck.checker.engines.prove.layout import S
from ackcheck.checker.engines.prove.ops import AND, EQ, LT, SELECT


class ConsumerActions:
    def _leader_up(self, s: S, ldr: int):
        return AND(EQ(s.c_leader, ldr), s.alive[ldr], EQ(s.rep_leader[ldr], ldr))

    def consumer_poll(self, s: S, ldr: int):
        """consumer_poll, served by the controller's leader ldr (one instance per broker)."""
        en = AND(self._leader_up(s, ldr), LT(s.cpos, s.hw[ldr]))
        t = s.copy()
        rec = SELECT([s.lrec[ldr][j] for j in range(self.L)], s.cpos, 0)
        t.cpos = s.cpos + 1
        t.ccommit = s.cpos + 1
        self._put(t, "cr_pos", s.cr_n, s.cpos)
        self._put(t, "cr_rec", s.cr_n, rec)
        t.cr_n = s.cr_n + 1
        return en, t

    def consumer_reset(self, s: S, ldr: int):
        en = AND(self._leader_up(s, ldr), LT(s.leo[ldr], s.cpos))
        t = s.copy()
        t.cpos = s.hw[ldr] if self.config.auto_offset_reset == "latest" else 0
        return en, t
