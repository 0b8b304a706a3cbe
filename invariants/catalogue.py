"""Named guarantees, judged on observations (model states and broker snapshots alike).

Each invariant reads as a guarantee, carries a one-line description in Kafka's words, the
Jepsen anomaly it detects, and a prose justification (why Kafka's protocol should keep
it, and which settings break it - docs/kafka.md, section 9). A *state* invariant judges one
observation; a *step* invariant judges a pair (previous, current) - the history-based
guarantees (monotonic consumption, what held at the moment of an acknowledgement).

Ghost history the invariants need (acknowledged offsets, what the consumer read, the
records below the highest high watermark ever) is part of the observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ackcheck.traces.observation import FAILED, OK, Observation, flat_records
from ackcheck.traces.settings import Config

Check = Callable[..., "str | None"]


@dataclass(frozen=True)
class Invariant:
    id: str
    description: str
    anomaly: str
    justification: str
    check: Check  # state: check(obs, config); step: check(prev, obs, config)
    step: bool = False
    needs_consumer: bool = False
    # ghost fields of the state only this invariant reads (the explorer forgets them in
    # its seen-set key when no selected invariant needs them)
    ghosts: tuple[str, ...] = ()
    applies: Callable[[Config], bool] = lambda c: True


def _leader_records(obs: Observation) -> list[int] | None:
    if obs.leader < 0:
        return None
    return flat_records(obs.replicas[obs.leader].log)


# -------------------------------------------------------------------------------------
def acked_write_survives(obs: Observation, config: Config) -> str | None:
    leader_log = _leader_records(obs)
    for idx, (kind, off) in enumerate(obs.outcomes):
        if kind != OK:
            continue
        rec = idx + 1
        if off < 0:  # acks=0: sent counts as success, offset unknown
            if rec in obs.in_flight:
                continue
            if leader_log is not None:
                if rec not in leader_log:
                    return f"record {rec} was sent (acks=0) but is not in leader {obs.leader}'s log"
            elif not any(rec in flat_records(r.log) for r in obs.replicas):
                return f"record {rec} was sent (acks=0) but no replica holds it"
            continue
        if leader_log is not None:
            if off >= len(leader_log) or leader_log[off] != rec:
                there = f"holds record {leader_log[off]} there" if off < len(leader_log) else \
                    f"ends at offset {len(leader_log)}"
                return (f"record {rec} acknowledged at offset {off} is lost: leader {obs.leader} "
                        f"(epoch {obs.leader_epoch}) {there}")
        else:
            logs = [flat_records(r.log) for r in obs.replicas]
            if not any(off < len(lg) and lg[off] == rec for lg in logs):
                return f"record {rec} acknowledged at offset {off} is gone from every replica"
    return None


def committed_prefix_agreement(obs: Observation, config: Config) -> str | None:
    reps = obs.replicas
    for a in range(len(reps)):
        for b in range(a + 1, len(reps)):
            limit = min(reps[a].high_watermark, reps[b].high_watermark)
            if limit <= 0:
                continue
            ea = _entries(reps[a].log, limit)
            eb = _entries(reps[b].log, limit)
            for off in range(limit):
                x = ea[off] if off < len(ea) else None
                y = eb[off] if off < len(eb) else None
                if x != y:
                    return (f"replicas {a} and {b} disagree at offset {off} below both high watermarks "
                            f"({_fmt(x)} vs {_fmt(y)})")
    return None


def _entries(log, limit: int) -> list[tuple[int, int]]:
    out = []
    for bt in log:
        for r in bt.records:
            out.append((r, bt.leader_epoch))
            if len(out) >= limit:
                return out
    return out


def _fmt(e) -> str:
    return "nothing" if e is None else f"record {e[0]}@epoch {e[1]}"


def leader_completeness(obs: Observation, config: Config) -> str | None:
    log = _leader_records(obs)
    if log is None:
        return None
    committed = obs.committed_log
    for off, rec in enumerate(committed):
        if off >= len(log) or log[off] != rec:
            return (f"leader {obs.leader} (epoch {obs.leader_epoch}) lacks record {rec} at offset {off}, "
                    f"below the highest high watermark ever reached ({len(committed)})")
    return None


def read_durability(obs: Observation, config: Config) -> str | None:
    log = _leader_records(obs)
    if log is None:
        return None
    for off, rec in obs.consumer_read:
        if off >= len(log) or log[off] != rec:
            return f"the consumer read record {rec} at offset {off}, but leader {obs.leader} no longer has it there"
    return None


def hw_bound(obs: Observation, config: Config) -> str | None:
    for b, r in enumerate(obs.replicas):
        if not (r.alive and r.leader == b):
            continue
        if r.high_watermark > r.log_end_offset:
            return f"leader {b}'s high watermark {r.high_watermark} exceeds its own LEO {r.log_end_offset}"
        if r.leader_epoch != obs.leader_epoch:
            continue  # a deposed leader's view is judged by the other invariants
        for m in r.isr:
            leo = r.follower_leos[m] if m != b else r.log_end_offset
            if leo >= 0 and r.high_watermark > leo:
                return f"leader {b}'s high watermark {r.high_watermark} exceeds ISR member {m}'s LEO {leo}"
    return None


def epoch_sanity(obs: Observation, config: Config) -> str | None:
    seen: dict[int, int] = {}
    for b, r in enumerate(obs.replicas):
        if r.alive and r.leader == b:
            if r.leader_epoch in seen:
                return f"brokers {seen[r.leader_epoch]} and {b} both lead epoch {r.leader_epoch}"
            seen[r.leader_epoch] = b
        for bt in r.log:
            if bt.leader_epoch > obs.leader_epoch:
                return f"broker {b} holds a batch of epoch {bt.leader_epoch} > the controller's {obs.leader_epoch}"
    if obs.leader >= 0 and obs.leader not in obs.isr:
        return f"leader {obs.leader} is not in the ISR {list(obs.isr)}"
    if not obs.isr and not config.rule("eligible_leader_replicas"):
        return "the ISR is empty"
    return None


def epoch_sanity_step(prev: Observation, obs: Observation, config: Config) -> str | None:
    if obs.leader_epoch < prev.leader_epoch:
        return f"the controller's leader epoch went back from {prev.leader_epoch} to {obs.leader_epoch}"
    return epoch_sanity(obs, config)


def min_isr_at_ack(prev: Observation, obs: Observation, config: Config) -> str | None:
    for idx, (kind, off) in enumerate(obs.outcomes):
        if kind == OK and prev.outcomes[idx][0] != OK:
            size = obs.ack_isr_sizes[idx]
            if 0 <= size < config.min_insync_replicas:
                return (f"record {idx + 1} was acknowledged with acks=all while the ISR had {size} member(s) "
                        f"< min.insync.replicas={config.min_insync_replicas}")
    return None


def no_duplicates(obs: Observation, config: Config) -> str | None:
    log = _leader_records(obs)
    if log is None:
        return None
    seen: dict[int, int] = {}
    for off, rec in enumerate(log):
        if rec in seen:
            return f"record {rec} appears twice in leader {obs.leader}'s log (offsets {seen[rec]} and {off})"
        seen[rec] = off
    return None


def producer_order(obs: Observation, config: Config) -> str | None:
    last_rec, last_off = None, -1
    log = None
    for idx, (kind, off) in enumerate(obs.outcomes):
        if kind != OK:
            continue
        if off < 0:  # acks=0: judge by position in the leader's log
            if log is None:
                log = _leader_records(obs) or []
            if (idx + 1) not in log:
                continue
            off = log.index(idx + 1)
        if last_rec is not None and off < last_off:
            return (f"record {idx + 1} was sent after record {last_rec} but landed before it "
                    f"(offset {off} < {last_off})")
        last_rec, last_off = idx + 1, off
    return None


def failed_write_invisible(obs: Observation, config: Config) -> str | None:
    for idx, (kind, _) in enumerate(obs.outcomes):
        if kind != FAILED:
            continue
        rec = idx + 1
        for off, r in obs.consumer_read:
            if r == rec:
                return f"record {rec} definitely failed, yet the consumer read it at offset {off}"
        for b, rep in enumerate(obs.replicas):
            if rec in flat_records(rep.log):
                return f"record {rec} definitely failed, yet broker {b}'s log holds it"
    return None


def sequence_contiguity(obs: Observation, config: Config) -> str | None:
    for b, rep in enumerate(obs.replicas):
        prev = None
        for bt in rep.log:
            if bt.producer_epoch < 0:
                continue
            if prev is not None and prev.producer_epoch == bt.producer_epoch:
                want = prev.base_sequence + len(prev.records)
                if bt.base_sequence != want:
                    return (f"broker {b}: producer epoch {bt.producer_epoch} sequence jumps from "
                            f"{prev.base_sequence} to {bt.base_sequence} (expected {want})")
            prev = bt
    return None


def consumer_monotonic(prev: Observation, obs: Observation, config: Config) -> str | None:
    if obs.committed_offset < prev.committed_offset:
        return f"the committed offset went back from {prev.committed_offset} to {obs.committed_offset} (REWIND)"
    p, c = prev.consumer_position, obs.consumer_position
    if c != p and c != p + 1:
        kind = "skipped ahead" if c > p else "went back"
        return (f"the consumer position {kind} from {p} to {c} (auto.offset.reset="
                f"{config.auto_offset_reset} after its offset left the log)")
    return None


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "acked-write-survives",
        "every record the producer was told succeeded stays at its offset in the log of every later leader",
        "lost-write",
        "A success means acks were satisfied: acks=all waits until the high watermark passes the "
        "record, so every ISR member holds it and a clean election keeps it. acks=1 only waits for "
        "the leader, acks=0 for the socket; unclean election, losing the page cache of the last ISR "
        "member, and HW-based truncation (before KIP-101) all break it.",
        acked_write_survives,
    ),
    Invariant(
        "committed-prefix-agreement",
        "any two replicas agree on every batch below the smaller of their high watermarks",
        "inconsistent-offsets",
        "Below its HW a replica serves data to consumers; epoch-based truncation (KIP-101/279/320) "
        "makes followers cut exactly the divergent suffix, so committed prefixes agree.",
        committed_prefix_agreement,
    ),
    Invariant(
        "leader-completeness",
        "a newly elected leader holds every record below the highest high watermark ever reached",
        "lost-write",
        "A clean election picks from the ISR, and every ISR member had fetched past the HW; only "
        "unclean election, data lost with the page cache, or bad truncation elect a leader missing data.",
        leader_completeness,
        ghosts=("committed_log",),
    ),
    Invariant(
        "read-durability",
        "a record a consumer has read stays at that offset forever",
        "lost-write",
        "Consumers read below the HW (read_uncommitted); what is below the HW survives clean "
        "elections, so nothing read can disappear unless the committed prefix is lost.",
        read_durability,
        needs_consumer=True,
    ),
    Invariant(
        "hw-bound",
        "a leader's high watermark never exceeds the LEO of a member of its ISR, nor its own LEO",
        "",
        "HW = min LEO over the (maximal) ISR by definition; a larger HW would let consumers and "
        "acks=all run ahead of replication.",
        hw_bound,
    ),
    Invariant(
        "epoch-sanity",
        "at most one leader per epoch, epochs only grow, the leader is in the ISR, the ISR is never empty",
        "",
        "Leader epochs fence zombies: the controller bumps the epoch on every election and every "
        "batch is stamped with the epoch of the leader that appended it (KIP-101). With KIP-966 an "
        "empty ISR is legal (the ELR takes over).",
        epoch_sanity_step,
        step=True,
    ),
    Invariant(
        "min-isr-at-ack",
        "an acks=all success implies the ISR had at least min.insync.replicas members when it was acknowledged",
        "",
        "Partition.checkEnoughReplicasReachOffset answers NOT_ENOUGH_REPLICAS_AFTER_APPEND instead "
        "of success when the ISR shrank below min.insync.replicas.",
        min_isr_at_ack,
        step=True,
        ghosts=("ack_isr_sizes",),
        applies=lambda c: c.acks == "all",
    ),
    Invariant(
        "no-duplicates",
        "each produced record appears at most once in the leader's log",
        "duplicate",
        "A retry after an append whose response was lost, or after NOT_ENOUGH_REPLICAS_AFTER_APPEND / "
        "REQUEST_TIMED_OUT, appends again unless the idempotent producer's sequence numbers let the "
        "leader recognise it (KIP-98).",
        no_duplicates,
    ),
    Invariant(
        "producer-order",
        "records acknowledged to one producer keep their send order in the log",
        "nonmonotonic-send",
        "With more than one request in flight, a retried batch lands after batches sent later, "
        "unless the idempotent producer's sequence numbers reject out-of-order appends (KIP-98) or "
        "max.in.flight.requests.per.connection=1.",
        producer_order,
    ),
    Invariant(
        "failed-write-invisible",
        "a write the producer saw definitely fail is never stored or read",
        "G1a",
        "A definite failure (NOT_ENOUGH_REPLICAS, NOT_LEADER_OR_FOLLOWER, expiry before sending) means "
        "nothing was appended; anything else is reported as indeterminate.",
        failed_write_invisible,
    ),
    Invariant(
        "sequence-contiguity",
        "within one producer epoch, consecutive idempotent batches in a log have contiguous sequence numbers",
        "",
        "The leader only appends sequence last+1 (else OUT_OF_ORDER_SEQUENCE_NUMBER), so a gap means "
        "the dedup logic was bypassed; a check on the model itself.",
        sequence_contiguity,
        applies=lambda c: c.enable_idempotence,
    ),
    Invariant(
        "consumer-monotonic",
        "successive polls continue at the next offset and committed offsets never go backwards",
        "nonmonotonic-poll",
        "A consumer only moves forward unless its position falls off the log (truncation below it "
        "after an unclean election): then auto.offset.reset silently skips or rewinds (Burrow REWIND).",
        consumer_monotonic,
        step=True,
        needs_consumer=True,
    ),
)

BY_ID = {inv.id: inv for inv in INVARIANTS}


def select(ids: list[str] | None, config: Config) -> list[Invariant]:
    """The invariants a run checks: the named ones, or every one that applies to the config."""
    if ids:
        return [BY_ID[i] for i in ids]
    return [inv for inv in INVARIANTS if inv.applies(config)]


class Judge:
    """Evaluates a set of invariants on an observation (and its predecessor)."""

    def __init__(self, invariants: list[Invariant], config: Config):
        self.config = config
        self.state_checks = [(inv.id, inv.check) for inv in invariants if not inv.step]
        self.step_checks = [(inv.id, inv.check) for inv in invariants if inv.step]

    def initial(self, obs: Observation) -> tuple[str, str] | None:
        for inv_id, check in self.state_checks:
            msg = check(obs, self.config)
            if msg:
                return inv_id, msg
        return None

    def __call__(self, prev: Observation | None, obs: Observation) -> tuple[str, str] | None:
        cfg = self.config
        for inv_id, check in self.state_checks:
            msg = check(obs, cfg)
            if msg:
                return inv_id, msg
        if prev is not None:
            for inv_id, check in self.step_checks:
                msg = check(prev, obs, cfg)
                if msg:
                    return inv_id, msg
        return None
