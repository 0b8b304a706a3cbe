"""The controller (ZooKeeper-mode controller / KRaft quorum): the truth about leadership.

It keeps the partition's leader, leader epoch, ISR and ELR (KIP-966) with a partition
epoch that versions (leader, ISR), which brokers are registered (alive, with a broker
epoch per registration) and which of them came back from an unclean shutdown. Its
decisions reach brokers as LeaderAndIsr messages that may arrive late and out of order.
A leader's ISR change is a request (AlterPartition, KIP-497; the conditional zkVersion
write before it) that the controller takes only if it was made in the current leader
epoch against the current partition epoch.

The KRaft controller also changes the ISR on its own: it fences a broker that stops
heartbeating and takes it out of the ISR (a partition change record in the metadata log,
ordered after the leader change it follows). The ZooKeeper-mode controller leaves that to
the leader (a dead follower is shrunk by the leader like a slow one).
"""

from __future__ import annotations

from ackcheck.broker import messages as m
from ackcheck.broker.messages import AlterPartition, AlterPartitionResponse, LeaderAndIsr

FAILOVER, UNCLEAN, ELR, REBALANCE = "failover", "unclean", "elr", "rebalance"
LAST_KNOWN_LEADER = "last_known_leader"


class Controller:
    def __init__(self, replication_factor: int, *, min_isr: int, unclean_enabled: bool, elr_enabled: bool,
                 check_replica_eligibility: bool = False, kraft: bool = False):
        self.rf = replication_factor
        self.min_isr = min_isr
        self.unclean_enabled = unclean_enabled
        self.elr_enabled = elr_enabled
        # the KRaft controller fences a broker that stops heartbeating (and removes it from
        # the ISR); the ZooKeeper-mode controller does not touch the ISR for it
        self.kraft = kraft
        # KIP-841 / KIP-903 (KRaft): an ISR change may not name a fenced broker, nor one
        # whose broker epoch is not the one it is registered with now
        self.check_replica_eligibility = check_replica_eligibility
        self.leader = 0
        self.leader_epoch = 0
        self.partition_epoch = 0
        self.isr: tuple[int, ...] = tuple(range(replication_factor))
        self.elr: tuple[int, ...] = ()
        # KIP-966 (PartitionRegistration.lastKnownElr): the broker that led when the ISR
        # became empty, kept until the partition has a leader again; -1: none
        self.last_known_leader = -1
        self.alive = [True] * replication_factor
        # every registration gets a new, larger broker epoch (KRaft: the registration
        # record's offset)
        self.broker_epochs = list(range(replication_factor))
        self._next_broker_epoch = replication_factor

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
                # KIP-966 balanced recovery (PartitionChangeBuilder.electAnyLeader): with the
                # ISR and the ELR both empty (a fenced ELR member still counts) the last
                # known leader is taken back once it is registered (unfenced) again - an
                # unclean election, whatever unclean.leader.election.enable says, and tried
                # before any other replica
                lkl = self.last_known_leader
                if not self.isr and not self.elr and self.elr_enabled and lkl >= 0 and self.alive[lkl]:
                    out += [(lkl, LAST_KNOWN_LEADER)]
                elif not live_elr and self.unclean_enabled:
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
        if reason == LAST_KNOWN_LEADER:
            self.elr = ()  # unclean: the ISR is [b] alone and the ELR is cleared
        else:
            self.elr = self._elr_kept(isr, [r for r in self.elr if r not in isr])
        self.last_known_leader = -1  # the partition has a leader again
        self.isr = isr
        self.leader = b
        self.leader_epoch += 1
        self.partition_epoch += 1
        return [LeaderAndIsr(r, self.leader_epoch, b, isr, self.partition_epoch)
                for r in range(self.rf) if self.alive[r]]

    # -------------------------------------------------------------- broker liveness
    def broker_failed(self, b: int) -> bool:
        """Session expiry (ZooKeeper) / missed heartbeats (KRaft). Returns True if the ISR
        changed. KRaft fences b and removes it from the ISR (ReplicationControlManager:
        handleBrokerFenced) - except as the ISR's last member, which stays so that the
        partition keeps a replica it may elect (KIP-966 removes the last member too: it
        joins the ELR, like every member removed while |ISR| < min ISR). In ZooKeeper mode
        the ISR keeps b until the leader shrinks it."""
        self.alive[b] = False
        if self.leader == b:
            self.leader = -1
        if not self.kraft or b not in self.isr:
            return False
        if len(self.isr) == 1 and not self.elr_enabled:
            return False
        isr = tuple(r for r in self.isr if r != b)
        if self.elr_enabled and len(isr) < self.min_isr and b not in self.elr:
            self.elr = tuple(sorted(self.elr + (b,)))
        self.isr = isr
        if self.elr_enabled and not isr and self.last_known_leader == -1:
            # KIP-966: the first time the ISR becomes empty, its leader at that moment is
            # remembered: the fenced b, which led (or, if the leader died just before, was
            # the one replica the controller would have made leader in the same change)
            self.last_known_leader = b
        self.partition_epoch += 1
        return True

    def current_state(self, b: int) -> LeaderAndIsr:
        """The partition state as broker b would take it from the controller now."""
        return LeaderAndIsr(b, self.leader_epoch, self.leader, self.isr, self.partition_epoch)

    def broker_registered(self, b: int, *, unclean_shutdown: bool) -> LeaderAndIsr:
        """A restarted broker registers; KIP-966: after an unclean shutdown it leaves the
        ELR. It gets the current leadership before it serves anything."""
        self.alive[b] = True
        self.broker_epochs[b] = self._next_broker_epoch
        self._next_broker_epoch += 1
        if self.elr_enabled and unclean_shutdown and b in self.elr:
            self.elr = tuple(r for r in self.elr if r != b)
        return self.current_state(b)

    # ------------------------------------------------------------------ ISR changes
    def alter_partition(self, req: AlterPartition) -> AlterPartitionResponse:
        """Handle a leader's ISR change (ReplicationControlManager.alterPartition / the
        zkVersion-conditional write): taken only from the leader of the current epoch, made
        against the current partition epoch, and (KIP-841/903) naming only replicas that
        are registered, unfenced and - where the leader knew it - still in the broker epoch
        the leader saw. On success the ISR is the proposal and the ELR follows it (KIP-966):
        a replica that leaves while the ISR is below min ISR joins the ELR, one that
        (re)joins leaves it, and the ELR is cleared once the ISR is back at min ISR."""

        def reject(error: str) -> AlterPartitionResponse:
            return AlterPartitionResponse(False, error, self.isr, self.partition_epoch)

        if req.leader_epoch != self.leader_epoch:
            return reject(m.FENCED_LEADER_EPOCH)
        if req.leader != self.leader:
            return reject(m.NOT_LEADER_OR_FOLLOWER)
        if req.partition_epoch != self.partition_epoch:
            return reject(m.INVALID_UPDATE_VERSION)
        if self.check_replica_eligibility:
            for b, broker_epoch in req.isr_broker_epochs:
                if not self.alive[b] or broker_epoch not in (-1, self.broker_epochs[b]):
                    return reject(m.INELIGIBLE_REPLICA)
        isr = tuple(sorted(req.new_isr))
        elr = {r for r in self.elr if r not in isr}
        if self.elr_enabled and len(isr) < self.min_isr:
            elr |= {r for r in self.isr if r not in isr}
        self.elr = self._elr_kept(isr, sorted(elr))
        self.isr = isr
        self.partition_epoch += 1
        return AlterPartitionResponse(True, m.NONE, isr, self.partition_epoch)
