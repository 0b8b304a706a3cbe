"""The controller (ZooKeeper-mode controller / KRaft quorum): the truth about leadership.

It keeps the partition's leader, leader epoch, ISR and ELR (KIP-966), which brokers are
registered (alive) and which of them came back from an unclean shutdown. Its decisions
reach brokers as LeaderAndIsr messages that may arrive late and out of order; ISR changes
are conditional on the proposing leader's epoch (zkVersion / AlterPartition).
"""

from __future__ import annotations

from ackcheck.broker.messages import LeaderAndIsr

FAILOVER, UNCLEAN, ELR, REBALANCE = "failover", "unclean", "elr", "rebalance"


class Controller:
    def __init__(self, replication_factor: int, *, min_isr: int, unclean_enabled: bool, elr_enabled: bool):
        self.rf = replication_factor
        self.min_isr = min_isr
        self.unclean_enabled = unclean_enabled
        self.elr_enabled = elr_enabled
        self.leader = 0
        self.leader_epoch = 0
        self.isr: tuple[int, ...] = tuple(range(replication_factor))
        self.elr: tuple[int, ...] = ()
        self.alive = [True] * replication_factor

    # ------------------------------------------------------------------ elections
    def election_candidates(self) -> list[tuple[int, str]]:
        """(broker, reason) for every election the controller could run now (rebalance
        moves are offered here; their budget is the fault injector's business)."""
        out: list[tuple[int, str]] = []
        if self.leader == -1:
            live_isr = [b for b in self.isr if self.alive[b]]
            out += [(b, FAILOVER) for b in live_isr]
            if not live_isr:
                live_elr = [b for b in self.elr if self.alive[b]] if self.elr_enabled else []
                out += [(b, ELR) for b in live_elr]
                if not live_elr and self.unclean_enabled:
                    out += [(b, UNCLEAN) for b in range(self.rf) if self.alive[b]]
        else:
            out += [(b, REBALANCE) for b in self.isr if b != self.leader and self.alive[b]]
        return out

    def _elr_kept(self, isr, elr):
        # KIP-966: the ELR only matters while |ISR| < min ISR; at min ISR it is cleared
        return () if len(isr) >= self.min_isr else tuple(elr)

    def elect(self, b: int, reason: str) -> list[LeaderAndIsr]:
        if (b, reason) not in self.election_candidates():
            raise ValueError(f"the controller cannot elect broker {b} ({reason}) now")
        if reason == REBALANCE:
            isr = self.isr
        else:
            isr = tuple(sorted({r for r in self.isr if self.alive[r]} | {b}))
        self.elr = self._elr_kept(isr, [r for r in self.elr if r not in isr])
        self.isr = isr
        self.leader = b
        self.leader_epoch += 1
        return [LeaderAndIsr(r, self.leader_epoch, b, isr) for r in range(self.rf) if self.alive[r]]

    # -------------------------------------------------------------- broker liveness
    def broker_failed(self, b: int) -> bool:
        """Session expiry / missed heartbeats. Returns True if the ISR changed (KIP-966:
        the fenced broker leaves the ISR, into the ELR if the ISR drops below min ISR;
        before KIP-966 the ISR keeps its members until the leader shrinks it)."""
        self.alive[b] = False
        if self.leader == b:
            self.leader = -1
        if self.elr_enabled and b in self.isr:
            isr = tuple(r for r in self.isr if r != b)
            if len(isr) < self.min_isr and b not in self.elr:
                self.elr = tuple(sorted(self.elr + (b,)))
            self.isr = isr
            return True
        return False

    def broker_registered(self, b: int, *, unclean_shutdown: bool) -> LeaderAndIsr:
        """A restarted broker registers; KIP-966: after an unclean shutdown it leaves the
        ELR. It gets the current leadership before it serves anything."""
        self.alive[b] = True
        if self.elr_enabled and unclean_shutdown and b in self.elr:
            self.elr = tuple(r for r in self.elr if r != b)
        return LeaderAndIsr(b, self.leader_epoch, self.leader, self.isr)

    # ------------------------------------------------------------------ ISR changes
    def accepts_isr_change_from(self, leader: int, leader_epoch: int) -> bool:
        return self.leader == leader and self.leader_epoch == leader_epoch

    def shrink_isr(self, f: int) -> tuple[int, ...]:
        isr = tuple(r for r in self.isr if r != f)
        if self.elr_enabled and len(isr) < self.min_isr and f not in self.elr:
            self.elr = tuple(sorted(self.elr + (f,)))
        self.isr = isr
        return isr

    def expand_isr(self, f: int) -> tuple[int, ...]:
        isr = tuple(sorted(self.isr + (f,)))
        self.elr = self._elr_kept(isr, [r for r in self.elr if r != f])
        self.isr = isr
        return isr
