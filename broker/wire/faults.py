"""Seeded fault schedules for real clients, in the model's vocabulary.

A schedule is a list of `Fault(at, kind, broker, seconds)`: at `at` seconds after the
workload starts, `kind` happens to `broker` (-1: the partition's leader at that moment)
and lasts `seconds` (downtime, a stall, a delay). Same seed, same schedule; the moments
are wall-clock, so *which* requests a fault catches can vary from run to run (the
schedule, the history and the judgement are all written down for a replay).

Families (each names faults of the model's vocabulary, traces/format.py):
- crash: kill -9 of a broker (`crash`), restarted after a downtime (`restart`);
- power-loss: a host loses power (`power_loss`: the unflushed page cache is gone, open
  connections go silent), restarted after a downtime;
- isr-shrink: a follower stalls (`leader_shrink_isr` once it is behind), then catches up
  and rejoins;
- network: a leader's next answer is lost (`lose_response`) or its client connections
  are cut (`lose_request`);
- controller: leadership moves (`controller_elect(rebalance)`) while the controller's
  decisions reach the brokers late (`broker_learn` delayed) - a replaced leader keeps
  leading in the meantime.
"""

from __future__ import annotations

import random
from typing import NamedTuple

FAMILIES = ("crash", "power-loss", "isr-shrink", "network", "controller")
LEADER = -1


class Fault(NamedTuple):
    at: float
    kind: str  # crash | power_loss | isr_shrink | drop_response | cut_connections | rebalance_delayed
    broker: int  # LEADER: whoever leads when it happens
    seconds: float

    def text(self) -> str:
        who = "leader" if self.broker == LEADER else f"broker {self.broker}"
        return f"t+{self.at:.2f}s {self.kind}({who}, {self.seconds:.2f}s)"


def schedule(families, seed: int, window: float, rf: int) -> list[Fault]:
    """One or two faults per family, at seeded moments inside the workload's window."""
    rng = random.Random(seed)
    out: list[Fault] = []
    for fam in families:
        for _ in range(rng.choice((1, 1, 2))):
            at = round(rng.uniform(0.1, max(0.2, window)), 3)
            b = LEADER if rng.random() < 0.7 else rng.randrange(rf)
            if fam == "crash":
                out.append(Fault(at, "crash", b, round(rng.uniform(0.3, 1.2), 3)))
            elif fam == "power-loss":
                out.append(Fault(at, "power_loss", b, round(rng.uniform(0.3, 1.2), 3)))
            elif fam == "isr-shrink":
                f = rng.randrange(rf)
                out.append(Fault(at, "isr_shrink", f, round(rng.uniform(0.4, 1.5), 3)))
            elif fam == "network":
                kind = rng.choice(("drop_response", "drop_response", "cut_connections"))
                out.append(Fault(at, kind, LEADER, 0.0))
            elif fam == "controller":
                out.append(Fault(at, "rebalance_delayed", LEADER, round(rng.uniform(0.2, 0.8), 3)))
            else:
                raise ValueError(f"unknown fault family {fam!r} (known: {', '.join(FAMILIES)})")
    out.sort()
    return out


# trace action -> the live fault it replays as (the rest of a trace's steps - sends,
# fetches, deliveries - are what the live cluster and the client do on their own)
REPLAYED = {
    "crash": "crash",
    "power_loss": "power_loss",
    "leader_shrink_isr": "isr_shrink",
    "lose_response": "drop_response",
    "lose_request": "cut_connections",
    "leader_timeout_produce": "drop_response",
    "controller_elect": "rebalance_delayed",
}


def from_trace(actions, window: float) -> list[Fault]:
    """A model counterexample's fault steps, spread evenly over the workload's window, in
    the trace's order: crash(b) / power_loss(b) on the same broker, leader_shrink_isr(l, f)
    stalls f, a lost request or response hits the leader, a rebalance election goes with
    late controller updates. Failover elections, restarts, fetches are the live cluster's."""
    picked = []
    for a in actions:
        name, *args = a
        kind = REPLAYED.get(name)
        if kind is None or (name == "controller_elect" and args[1] != "rebalance"):
            continue
        if kind in ("crash", "power_loss"):
            picked.append((kind, args[0], 0.8))
        elif kind == "isr_shrink":
            picked.append((kind, args[1], 1.0))
        elif kind == "rebalance_delayed":
            picked.append((kind, LEADER, 0.5))
        else:
            picked.append((kind, LEADER, 0.0))
    n = len(picked)
    return [Fault(round(window * (i + 1) / (n + 1), 3), k, b, s) for i, (k, b, s) in enumerate(picked)]
