"""Seeded random schedules for fault injection (`ackcheck chaos`).

The scheduler picks among the cluster's enabled actions with weights that favour
progress (produce, handle, fetch, deliver) over faults, so a run both makes progress and
keeps hitting crashes, power losses, elections and lost messages within the run's
bounds. A power loss may tear the host's next unflushed batch (part of it reached the
disk): observably the same power loss, but recovery has a torn batch to cut.
"""

from __future__ import annotations

import random

from ackcheck.traces.format import Action

# progress first; faults rare; healing (restart, failover) fairly soon after a fault
WEIGHTS: dict[str, float] = {
    "producer_send": 10,
    "broker_handle_produce": 10,
    "producer_receive": 10,
    "follower_fetch": 8,
    "broker_learn": 6,
    "consumer_poll": 3,
    "consumer_reset": 4,
    "producer_timeout": 3,
    "producer_expire": 2,
    "leader_timeout_produce": 1,
    "leader_shrink_isr": 1,  # a slow follower; removing a dead one weighs `shrink_dead`
    "controller_elect": 6,  # failover / ELR / unclean; a rebalance weighs `rebalance`
    "controller_alter_partition": 6,  # a leader's ISR change reaches the controller
    "crash": 0.8,
    "power_loss": 0.6,
    "restart": 4,
    "flush": 1.5,
    "lose_request": 0.6,
    "lose_response": 0.6,
    "follower_fetch_delayed": 0.8,  # a fetch held up in the network (max_delayed_fetches)
    "leader_handle_delayed_fetch": 2,  # ... reaching its leader late, often after a change
}
EXTRA = {"shrink_dead": 4.0, "rebalance": 0.8}


class Scheduler:
    def __init__(self, rng: random.Random, *, weights: dict[str, float] | None = None,
                 torn_probability: float = 0.5):
        self.rng = rng
        self.weights = dict(WEIGHTS if weights is None else weights)
        self.torn_probability = torn_probability

    def weight(self, cluster, a: Action) -> float:
        name = a[0]
        if name == "leader_shrink_isr" and cluster.nodes[a[2]] is None:
            return EXTRA["shrink_dead"]
        if name == "controller_elect" and a[2] == "rebalance":
            return EXTRA["rebalance"]
        return self.weights.get(name, 1.0)

    def choose(self, cluster, actions: list[Action]) -> tuple[Action, dict | None]:
        """One action (and, for a power loss, the torn bytes that reach the disk)."""
        ws = [self.weight(cluster, a) for a in actions]
        a = self.rng.choices(actions, weights=ws, k=1)[0]
        torn = None
        if a[0] == "power_loss" and self.rng.random() < self.torn_probability:
            cands = cluster.torn_candidates(a[1])
            if cands:
                rel = min(cands)  # the oldest segment with unflushed bytes
                if self.rng.random() < 0.7:
                    # a strict prefix of the unflushed bytes (a torn batch; never a whole
                    # batch: that the disk got a full unflushed batch is not modelled)
                    torn = {rel: self.rng.randrange(1, min(cands[rel], 60))} if cands[rel] > 1 else None
                else:
                    torn = {rel: bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 40)))}
        return a, torn
