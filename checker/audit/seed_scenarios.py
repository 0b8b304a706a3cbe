"""The seed notes' scenarios: *witnesses* (situations a claim describes, e.g. "the partition
is offline and a send expires", searched breadth-first like a violated invariant, so the
trace found is the shortest execution reaching them) and the seed scenario rows of
`ackcheck matrix` (SEED_SCENARIOS)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ackcheck.traces.observation import (
    FAILED,
    INDETERMINATE,
    OK,
    PENDING,
    Observation,
    flat_records,
    partition_lag,
)
from ackcheck.traces.settings import Config


@dataclass(frozen=True)
class Scenario:
    id: str
    label: str
    settings: tuple[tuple[str, str], ...]
    kafka_version: str | None = None


SEED_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("acks0", "acks=0 (claim 1)", (("acks", "0"),)),
    Scenario("acks1", "acks=1, the note's default (claim 2)", (("acks", "1"),)),
    Scenario("acksall-note-era", "acks=all, idempotence off as before 3.0 (claim 3)",
             (("acks", "all"), ("enable.idempotence", "false"))),
    Scenario("idempotence", "enable.idempotence=true, 5 in flight (claim 5)",
             (("enable.idempotence", "true"), ("max.in.flight.requests.per.connection", "5"))),
    Scenario("page-cache", "Kafka defaults: flush never, min ISR 1 (claim 8)", ()),
    Scenario("flush-every", "log.flush.interval.messages=1 (claim 8)", (("log.flush.interval.messages", "1"),)),
    Scenario("zookeeper", "Kafka 3.9 in ZooKeeper mode (claim 10)", (), "3.9"),
    Scenario("retries0", "retries=0 (claim 12)", (("retries", "0"),)),
)


def _w_ack_shrunk_isr(obs: Observation, config: Config) -> str | None:
    for idx, (kind, off) in enumerate(obs.outcomes):
        size = obs.ack_isr_sizes[idx]
        if kind == OK and 0 < size < len(obs.replicas) and not all(r.alive for r in obs.replicas):
            return (f"record {idx + 1} acknowledged (acks=all) at offset {off} by an ISR of {size}: a failed "
                    f"follower left the ISR and the leader committed without it")
    return None


def _w_min_isr_refuses(prev: Observation, obs: Observation, config: Config) -> str | None:
    # a step witness: an answered request (pending -> failed), not an expiry in the accumulator
    for idx, (kind, _) in enumerate(obs.outcomes):
        if (kind == FAILED and prev.outcomes[idx][0] == PENDING and obs.leader >= 0
                and len(obs.isr) < config.min_insync_replicas):
            return (f"record {idx + 1} failed (NOT_ENOUGH_REPLICAS): the ISR {list(obs.isr)} is smaller than "
                    f"min.insync.replicas={config.min_insync_replicas}, so the leader refused to append")
    return None


def _w_offline(obs: Observation, config: Config) -> str | None:
    if obs.leader == -1:
        for idx, (kind, _) in enumerate(obs.outcomes):
            if kind == FAILED:
                return (f"the partition has no leader and record {idx + 1} expired in the producer's accumulator "
                        f"(delivery.timeout.ms) before any broker could take it")
    return None


def _w_failed_send_written(obs: Observation, config: Config) -> str | None:
    if obs.leader < 0:
        return None
    log = flat_records(obs.replicas[obs.leader].log)
    for idx, (kind, _) in enumerate(obs.outcomes):
        if kind in (INDETERMINATE, FAILED) and (idx + 1) in log:
            return (f"the send of record {idx + 1} ended in an error (no retry with retries=0), yet the record is "
                    f"in leader {obs.leader}'s log at offset {log.index(idx + 1)}: the error was indeterminate")
    return None


def _w_two_leaders(obs: Observation, config: Config) -> str | None:
    leaders = [b for b, r in enumerate(obs.replicas) if r.alive and r.leader == b]
    if len(leaders) >= 2:
        epochs = ", ".join(f"broker {b} (epoch {obs.replicas[b].leader_epoch})" for b in leaders)
        return (f"two brokers act as leader at once: {epochs}; the controller already chose broker {obs.leader} "
                f"(epoch {obs.leader_epoch}) and the deposed one has not learned it yet")
    return None


def _w_lag_is_hw(obs: Observation, config: Config) -> str | None:
    if obs.leader < 0:
        return None
    lag = partition_lag(obs)
    if lag["log_end_offset"] > lag["high_watermark"] >= 1 and obs.committed_offset < lag["high_watermark"]:
        return (f"leader LEO {lag['log_end_offset']}, high watermark {lag['high_watermark']}, committed offset "
                f"{obs.committed_offset}: lag = HW - committed = {lag['lag']} (the records above the HW are "
                f"not readable yet; LEO - committed would say {lag['log_end_offset'] - obs.committed_offset})")
    return None


WITNESSES: dict[str, tuple[str, Callable]] = {
    "ack-with-shrunk-isr": ("acks=all acknowledged by a shrunk ISR", _w_ack_shrunk_isr),
    "min-isr-refuses": ("min.insync.replicas refuses a write", _w_min_isr_refuses),
    "offline-send-expires": ("no leader: a send expires", _w_offline),
    "failed-send-written": ("a failed send is in the log", _w_failed_send_written),
    "two-leaders": ("a deposed leader still acts as leader", _w_two_leaders),
    "lag-is-hw-minus-committed": ("lag is measured from the high watermark", _w_lag_is_hw),
}


CONSUMER_WITNESSES = frozenset({"lag-is-hw-minus-committed"})


STEP_WITNESSES = frozenset({"min-isr-refuses"})


def run_witness(config: Config, witness: str) -> dict:
    """Breadth-first search for the witness scenario; the first state reaching it gives
    the shortest trace. Same result shape as audit.run_one ("reached" / "unreachable")."""
    from ackcheck.checker.audit.runs import run_summary
    from ackcheck.checker.engines.check import model_for
    from ackcheck.checker.engines.explore import explore
    from ackcheck.invariants.catalogue import Invariant

    title, fn = WITNESSES[witness]
    inv = Invariant(f"witness:{witness}", title, "", "a scenario from the seed notes", fn,
                    step=witness in STEP_WITNESSES, needs_consumer=witness in CONSUMER_WITNESSES)
    model = model_for(config, [inv])
    r = explore(model, [inv])
    out = run_summary(r, [inv.id])
    # a cut-short search (engines/result.py verdict_of) is not "unreachable"
    out["verdict"] = "reached" if r.violation else "unreachable" if r.verdict == "holds" else r.verdict
    out["cached"] = False
    return out
