"""Progress properties ("something good eventually happens"), judged on the explored state
graph under fairness, and the fairness assumptions themselves.

A safety invariant (invariants/catalogue.py) is broken by one bad state or step; a
liveness property only by an infinite execution. Each property here is a set of *goals*:
a goal is a condition that must not stay true forever once it holds - "record 1 is
acknowledged but not readable", "the partition has no leader". The property is violated
when some fair execution reaches a state from which the goal's condition holds forever
(a lasso: a prefix, then a cycle of states that all satisfy it, or a state where nothing
fair is left to do).

Fairness, as TLC users write it (WF = weak fairness):
- every *healing* action is weakly fair: an action instance (with its arguments, e.g.
  follower_fetch(2)) that stays enabled is eventually taken - brokers restart, followers
  fetch, the controller decides, messages in flight are delivered, the consumer polls,
  the producer sends, retries and reads its responses;
- every *perturbation* (crash, power loss, a live follower falling out of the ISR, a lost
  or timed-out message, a leadership move, a delayed fetch) is bounded by the
  configuration's budgets and never required: an execution may stop perturbing at any
  time.
ACTION_KINDS classifies every action of the trace vocabulary (traces/format.py ACTIONS).

Goals read observations only (traces/observation.py), so the same code judges a lasso
replayed on the reference broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ackcheck.traces.format import ACTIONS
from ackcheck.traces.observation import OK, PENDING, UNSENT, Observation, flat_records
from ackcheck.traces.perturbations import PERTURBATIONS
from ackcheck.traces.settings import Config

HEALING = "healing"
PERTURBATION = "perturbation"

# Every action of the model, healing (weakly fair) or perturbation (bounded, never required).
ACTION_KINDS: dict[str, tuple[str, str]] = {
    # producer (client)
    "producer_send": (HEALING, "the Sender drains the accumulator: new batches and retries go out "
                               "(RecordAccumulator.drain; retries up to delivery.timeout.ms)"),
    "producer_receive": (HEALING, "delivery of a produce response in flight"),
    "producer_timeout": (HEALING, "request.timeout.ms passes for an attempt whose request or response is gone "
                                  "(NetworkClient fails it): time always passes"),
    "producer_expire": (HEALING, "delivery.timeout.ms expires a batch while the partition is offline: "
                                 "time always passes"),
    # brokers
    "broker_handle_produce": (HEALING, "delivery of a produce request in flight to its broker"),
    "leader_timeout_produce": (PERTURBATION, "an acks=all request times out in purgatory: a delay, "
                                             "bounded by --max-lost-messages"),
    "follower_fetch": (HEALING, "a follower's fetcher thread fetches from its leader (ReplicaFetcherThread "
                                "runs continuously)"),
    "follower_fetch_delayed": (PERTURBATION, "a fetch request held up in the network, bounded by "
                                             "--max-delayed-fetches"),
    "leader_handle_delayed_fetch": (HEALING, "delivery of a delayed fetch request in flight"),
    "leader_shrink_isr": (HEALING, "the leader drops a dead follower after replica.lag.time.max.ms; dropping "
                                   "a live one spends --max-isr-shrinks and is a perturbation (see is_fair)"),
    "broker_learn": (HEALING, "delivery of a LeaderAndIsr request / metadata update in flight"),
    # controller
    "controller_elect": (HEALING, "the controller elects a leader for an offline partition (failover, ELR, "
                                  "last known leader (KIP-966), unclean when enabled); a move of a live leader (rebalance) spends "
                                  "--max-elections and is a perturbation (see is_fair)"),
    "controller_alter_partition": (HEALING, "the controller answers a pending AlterPartition request"),
    # faults and healing
    "crash": (PERTURBATION, "a broker process is killed, bounded by --max-crashes"),
    "power_loss": (PERTURBATION, "a host loses power, bounded by --max-power-losses"),
    "restart": (HEALING, "a dead broker is restarted (an operator or systemd always brings it back)"),
    "flush": (HEALING, "the OS flusher writes dirty pages back (vm.dirty_expire_centisecs)"),
    "lose_request": (PERTURBATION, "a produce request lost, bounded by --max-lost-messages"),
    "lose_response": (PERTURBATION, "a produce response lost, bounded by --max-lost-messages"),
    # consumer
    "consumer_poll": (HEALING, "the consumer keeps polling (and committing) while records are readable"),
    "consumer_reset": (HEALING, "the consumer applies auto.offset.reset when its offset is out of range"),
    # background load
    "other_producer_write": (PERTURBATION, "another producer's record: a bounded background load "
                                           "(--max-other-writes), never required"),
}


# the model state counters that perturbation budgets are spent from (traces/perturbations.py)
_BUDGET_COUNTERS = tuple(spec.counter for spec in PERTURBATIONS if spec.counter)


def spends_budget(before, after) -> bool:
    """The step from `before` to `after` spent a perturbation budget."""
    for c in _BUDGET_COUNTERS:
        if getattr(after, c, 0) > getattr(before, c, 0):
            return True
    return False


def is_fair(action: tuple, before: Observation, after=None) -> bool:
    """Whether `action`, enabled in a state observed as `before` (leading to `after`, when
    known), is a weakly fair (healing) action instance. The two actions that are healing or
    perturbation depending on the case are decided here: leader_shrink_isr of a live
    follower and a rebalance election spend a perturbation budget; and any step that spends
    a budget is a perturbation whatever its name. An action missing from ACTION_KINDS is
    never required."""
    name = action[0]
    kind = ACTION_KINDS.get(name)
    if kind is None or kind[0] != HEALING:
        return False
    if after is not None and spends_budget(before, after):
        return False
    if name == "leader_shrink_isr":
        return not before.replicas[action[2]].alive
    if name == "controller_elect":
        return action[2] != "rebalance"
    return True


def fairness_lines() -> list[str]:
    """The fairness assumptions, for the output and the docs (TLC-style)."""
    heal = [n for n in ACTIONS if ACTION_KINDS.get(n, ("",))[0] == HEALING]
    pert = [n for n in ACTIONS if ACTION_KINDS.get(n, ("",))[0] != HEALING]
    return [
        "fairness: WF (weak fairness) of every healing action instance - " + ", ".join(heal)
        + " (leader_shrink_isr only of a dead follower; controller_elect except rebalance)",
        "fairness: perturbations are bounded and never required - " + ", ".join(pert)
        + ", leader_shrink_isr of a live follower, controller_elect(rebalance)",
    ]


# ----------------------------------------------------------------------------- goals
@dataclass(frozen=True)
class Goal:
    """A condition that must not hold forever: `waiting(obs)` true means the property is
    still waiting for its good thing; `message` says what never happens."""

    name: str
    waiting: Callable[[Observation], bool]
    message: str


def _serving_leader(obs: Observation):
    """The controller's leader if it is alive and knows it leads (it serves fetches), else None."""
    ldr = obs.leader
    if ldr < 0:
        return None
    rep = obs.replicas[ldr]
    if not rep.alive or rep.leader != ldr:
        return None
    return rep


def readable(obs: Observation, rec: int) -> bool:
    """Record `rec` can be read by a consumer: the serving leader holds it below its HW."""
    rep = _serving_leader(obs)
    if rep is None:
        return False
    return rec in flat_records(rep.log)[:rep.high_watermark]


def _visible_goals(config: Config) -> list[Goal]:
    out = []
    for rec in range(1, config.bounds.max_records + 1):
        def waiting(obs: Observation, rec=rec) -> bool:
            return obs.outcomes[rec - 1][0] == OK and not readable(obs, rec)
        out.append(Goal(f"record {rec}", waiting,
                        f"record {rec} was acknowledged but never becomes readable (below the leader's high watermark)"))
    return out


def _leader_goals(config: Config) -> list[Goal]:
    return [Goal("partition", lambda obs: obs.leader < 0, "the partition stays offline (no leader) forever")]


def _send_goals(config: Config) -> list[Goal]:
    out = []
    for rec in range(1, config.bounds.max_records + 1):
        def waiting(obs: Observation, rec=rec) -> bool:
            return obs.outcomes[rec - 1][0] == PENDING
        out.append(Goal(f"record {rec}", waiting,
                        f"the send of record {rec} never completes (neither ok nor failed)"))
    return out


def lagging(obs: Observation) -> bool:
    """The consumer group's committed offset is below the serving leader's HW (lag > 0).
    Without a serving leader the lag is unknown (no end offset to compare with, for Burrow
    too): an offline partition is eventually-leader's concern, not a lag."""
    rep = _serving_leader(obs)
    return rep is not None and obs.committed_offset < rep.high_watermark


def producer_stopped(obs: Observation) -> bool:
    return all(kind not in (UNSENT, PENDING) for kind, _ in obs.outcomes)


def _lag_goals(config: Config) -> list[Goal]:
    return [Goal("consumer group", lambda obs: producer_stopped(obs) and lagging(obs),
                 "after the producer stopped, the consumer's lag never returns to 0 (Burrow would report "
                 "STALL or STOP)")]


@dataclass(frozen=True)
class LivenessProperty:
    id: str
    description: str
    anomaly: str
    justification: str
    goals: Callable[[Config], list[Goal]]
    needs_consumer: bool = False
    applies: Callable[[Config], bool] = lambda c: True
    liveness: bool = True  # as opposed to catalogue.Invariant


LIVENESS: tuple[LivenessProperty, ...] = (
    LivenessProperty(
        "eventually-visible",
        "every acknowledged record eventually becomes readable by consumers (below the leader's HW), "
        "under fairness",
        "unseen",
        "An acknowledged record is in the leader's log; followers fetch it and the HW passes it, so a "
        "consumer can read it - unless it is lost (acks=0/1, unclean election, page cache lost) or the "
        "partition never gets a serving leader again. Jepsen calls an acked record never read 'unseen'.",
        _visible_goals,
    ),
    LivenessProperty(
        "eventually-leader",
        "the partition is never offline forever: a leader is elected again after failures, under fairness",
        "",
        "Dead brokers restart and a live ISR member (or ELR member, KIP-966) is elected. With "
        "unclean.leader.election.enable=false the partition stays offline when no eligible replica "
        "can come back - except that with KIP-966 the controller re-elects its last known leader "
        "(the leader when the ISR became empty) once it is back, as an unclean election.",
        _leader_goals,
    ),
    LivenessProperty(
        "sends-complete",
        "every send eventually ends, ok or failed (no batch stays in flight forever), under fairness",
        "",
        "request.timeout.ms, retries and delivery.timeout.ms bound every send: a lost response times "
        "out, an offline partition expires the batch (KIP-91).",
        _send_goals,
    ),
    LivenessProperty(
        "lag-recovers",
        "once the producer stops, the consumer's lag (HW - committed offset) eventually returns to 0, "
        "under fairness",
        "",
        "A consumer that keeps polling catches up with the high watermark. The model-side counterpart of "
        "Burrow's STALL/STOP statuses (`ackcheck lag`): a lag that never comes back to 0.",
        _lag_goals,
        needs_consumer=True,
    ),
)

LIVENESS_BY_ID = {p.id: p for p in LIVENESS}
