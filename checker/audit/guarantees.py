"""The guarantees `ackcheck audit` checks: each an operator's sentence ("no acknowledged
write is lost when a broker process crashes") mapped to invariants of the catalogue, with the
bounds profile - its fault assumptions - it is checked under, and how those are worded."""

from __future__ import annotations

from dataclasses import dataclass

# the fault wording of each bound is declared with it (traces/perturbations.py)
from ackcheck.traces.perturbations import bounds_text, describe_faults  # noqa: F401 (re-exported)
from ackcheck.traces.settings import (
    Bounds,
)

BOUND_NAMES = tuple(Bounds().as_dict())


# Bounds profiles. Chosen small on purpose: a guarantee that HOLDS must be explored
# completely, and every extra perturbation multiplies the state space by 10-50x. Each
# profile is the smallest that exhibits the known violations of its guarantees (docs/kafka.md,
# section 9): two ISR shrinks let a lone leader acknowledge with min.insync.replicas=1 and
# leave the others out of the ISR (unclean election, last replica standing); one crash
# or power loss then hits it; one lost message plus a second attempt makes a retry, and one
# leadership move without a crash gives the idempotent producer a leader that holds no
# state for it (the KAFKA-15591 duplicate with Kafka's defaults, docs/producer.md).
PROFILES: dict[str, dict[str, int]] = {
    "crash": {"max_records": 1, "max_crashes": 2, "max_power_losses": 0, "max_elections": 0, "max_lost_messages": 0,
                  "max_isr_shrinks": 2, "max_attempts": 1, "max_depth": 0},
    "power": {"max_records": 1, "max_crashes": 0, "max_power_losses": 1, "max_elections": 0, "max_lost_messages": 0,
                  "max_isr_shrinks": 2, "max_attempts": 1, "max_depth": 0},
    # one process crash and one power loss, on different brokers or the same: the mix that
    # Kafka 4.1's last-known-leader election (KIP-966, PartitionChangeBuilder.
    # canElectLastKnownLeader) turns into a loss at min.insync.replicas=2 (docs/kafka.md,
    # section 6)
    "crash-and-power": {"max_records": 1, "max_crashes": 1, "max_power_losses": 1, "max_elections": 0,
                        "max_lost_messages": 0, "max_isr_shrinks": 2, "max_attempts": 1, "max_depth": 0},
    "producer": {"max_records": 2, "max_crashes": 0, "max_power_losses": 0, "max_elections": 1, "max_lost_messages": 1,
                     "max_isr_shrinks": 0, "max_attempts": 2, "max_depth": 0},
}


@dataclass(frozen=True)
class Guarantee:
    id: str
    title: str  # one line an operator understands
    invariants: tuple[str, ...]
    profile: str
    fix_order: tuple[str, ...]  # which neighbouring settings to try first (see _single_changes)


GUARANTEES: tuple[Guarantee, ...] = (
    Guarantee("no-acked-loss",
              "no acknowledged write is lost when broker processes crash (kill -9: the page cache survives)",
              ("acked-write-survives",), "crash", ("acks", "min_isr", "unclean", "flush")),
    Guarantee("no-acked-loss-power-loss",
              "no acknowledged write is lost when a broker's host loses power (its unflushed page cache is lost)",
              ("acked-write-survives",), "power", ("acks", "min_isr", "unclean", "flush")),
    Guarantee("no-acked-loss-crash-and-power-loss",
              "no acknowledged write is lost when one broker process crashes and a broker's host loses power",
              ("acked-write-survives",), "crash-and-power", ("acks", "min_isr", "unclean", "flush")),
    Guarantee("no-duplicates",
              "a record is written once, even when the producer retries",
              ("no-duplicates",), "producer", ("idempotence", "in_flight")),
    Guarantee("send-order-kept",
              "records acknowledged to one producer stay in the order they were sent",
              ("producer-order",), "producer", ("idempotence", "in_flight")),
    Guarantee("read-never-disappears",
              "a record a consumer has read never disappears from the partition",
              ("read-durability",), "crash", ("unclean", "acks", "min_isr", "flush")),
    Guarantee("consumers-never-skip",
              "a consumer never skips or re-reads records: positions and commits only move forward",
              ("consumer-monotonic",), "crash", ("unclean", "acks", "min_isr", "flush")),
)


BY_ID = {g.id: g for g in GUARANTEES}


def profile_bounds(profile: str, overrides: dict[str, int] | None = None) -> dict[str, int]:
    """A profile's bounds with the user's --max-* overrides. --max-power-losses only
    applies to power-loss profiles: the other guarantees are stated under process crashes."""
    b = dict(PROFILES[profile])
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if k == "max_power_losses" and PROFILES[profile]["max_power_losses"] == 0:
            continue
        b[k] = v
    return b


# a run's bounds on one line ("records=1 crashes=1 ..."), as `check` prints them
bounds_short = bounds_text
