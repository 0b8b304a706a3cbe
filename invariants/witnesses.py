"""Vacuity witnesses: what must be reachable for a "holds" to mean something.

"acked-write-survives holds" says little if no record was ever acknowledged within the
bounds, and "producer-order holds" nothing at all with one record. Each guarantee declares
witnesses - Stateright's "sometimes" properties, TLC users' reachability checks - that the
exploration must reach at least once: a record acknowledged, a leader change, a
truncation, a retry. `ackcheck check` and `ackcheck audit` warn about a witness never
reached (the guarantee holds vacuously there: widen the bounds), and
`ackcheck check --strict-vacuity` exits 1 on it.

A witness is a predicate on a state reached (`step=False`) or on a transition (prev,
state) (`step=True`). States are the model's, whose first fields are an Observation; only
`retry` reads beyond it (the producer's batch attempts, which no observation shows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ackcheck.traces.observation import FAILED, OK, PENDING, UNSENT
from ackcheck.traces.settings import Config


@dataclass(frozen=True)
class Witness:
    name: str
    description: str
    check: Callable  # state witness: check(state); step witness: check(prev, state)
    step: bool = False
    applies: Callable[[Config], bool] | None = None  # None: every configuration
    hint: str = ""  # how to make it reachable

    def applies_to(self, config: Config) -> bool:
        return self.applies is None or self.applies(config)


# (module-level functions, not lambdas: witnesses pickle, for explorers in other processes)
def _two_records(c: Config) -> bool:
    return c.bounds.max_records >= 2


def _idempotent(c: Config) -> bool:
    return c.enable_idempotence


def _acked(s) -> bool:
    return any(k == OK for k, _ in s.outcomes)


def _two_acked(s) -> bool:
    return sum(1 for k, _ in s.outcomes if k == OK) >= 2


def _failed(s) -> bool:
    return any(k == FAILED for k, _ in s.outcomes)


def _sent(s) -> bool:
    return any(k != UNSENT for k, _ in s.outcomes)


def _pending_when_offline(s) -> bool:
    return s.leader < 0


def _committed(s) -> bool:
    return any(r.high_watermark > 0 for r in s.replicas)


def _leader_change(s) -> bool:
    return s.leader_epoch > 0


def _isr_shrunk(s) -> bool:
    return len(s.isr) < len(s.replicas)


def _consumer_read(s) -> bool:
    return bool(s.consumer_read)


def _idempotent_append(s) -> bool:
    return any(b.producer_epoch >= 0 for r in s.replicas for b in r.log)


def _retry(s) -> bool:
    return any(b.attempts >= 2 for b in getattr(s, "batches", ()))


def _truncated(prev, s) -> bool:
    if prev is None:
        return False
    for a, b in zip(prev.replicas, s.replicas):
        if b.log_end_offset < a.log_end_offset:
            return True
    return False


def _lagging(s) -> bool:
    ldr = s.leader
    return ldr >= 0 and s.replicas[ldr].high_watermark > s.committed_offset and \
        all(k not in (UNSENT, PENDING) for k, _ in s.outcomes)


ACKED = Witness("record-acknowledged", "a record was acknowledged to the producer", _acked,
                hint="more --max-attempts, or fewer perturbations")
TWO_ACKED = Witness("two-records-acknowledged", "two records were acknowledged", _two_acked,
                    applies=_two_records, hint="--max-records 2")
FAILED_W = Witness("record-failed", "a send definitely failed: NOT_ENOUGH_REPLICAS or expiry", _failed,
                   hint="more --max-crashes or --max-isr-shrinks")
SENT = Witness("record-sent", "a record was sent", _sent)
OFFLINE = Witness("partition-offline", "the partition was offline (no leader)", _pending_when_offline,
                  hint="--max-crashes 1 or more")
COMMITTED = Witness("record-committed", "a high watermark passed a record", _committed)
LEADER_CHANGE = Witness("leader-change", "a new leader was elected", _leader_change,
                        hint="--max-crashes 1 or --max-elections 1")
ISR_SHRUNK = Witness("isr-shrunk", "the ISR lost a member", _isr_shrunk,
                     hint="--max-isr-shrinks 1 or --max-crashes 1")
CONSUMER_READ = Witness("consumer-read", "the consumer read a record", _consumer_read)
IDEMPOTENT_APPEND = Witness("idempotent-append", "a batch with a producer id and sequence was appended",
                            _idempotent_append, applies=_idempotent)
RETRY = Witness("retry", "the producer sent a batch a second time", _retry,
                hint="--max-attempts 2 with retries > 0, and a crash or a lost message")
TRUNCATION = Witness("log-truncated", "a replica's log end moved back: follower truncation or power loss",
                     _truncated, step=True, hint="--max-crashes 1 or more, or --max-power-losses 1")
LAGGING = Witness("consumer-lagging", "after the producer stopped, the consumer was behind the HW", _lagging)

# invariant id (catalogue and liveness) -> its witnesses
WITNESSES: dict[str, tuple[Witness, ...]] = {
    "acked-write-survives": (ACKED, LEADER_CHANGE),
    "committed-prefix-agreement": (COMMITTED, LEADER_CHANGE, TRUNCATION),
    "leader-completeness": (COMMITTED, LEADER_CHANGE),
    "read-durability": (CONSUMER_READ, LEADER_CHANGE),
    "hw-bound": (COMMITTED, ISR_SHRUNK),
    "epoch-sanity": (LEADER_CHANGE,),
    "min-isr-at-ack": (ACKED, ISR_SHRUNK),
    "no-duplicates": (ACKED, RETRY),
    "producer-order": (TWO_ACKED, RETRY),
    "failed-write-invisible": (FAILED_W,),
    "sequence-contiguity": (IDEMPOTENT_APPEND, RETRY),
    "consumer-monotonic": (CONSUMER_READ, LEADER_CHANGE),
    "eventually-visible": (ACKED, LEADER_CHANGE),
    "eventually-leader": (OFFLINE,),
    "sends-complete": (SENT, RETRY),
    "lag-recovers": (LAGGING,),
}


def witnesses_for(ids, config: Config) -> list[tuple[str, Witness]]:
    """(invariant id, witness) pairs to watch for these invariants; a witness shared by
    several invariants is watched once per invariant (reports name each)."""
    return [(i, w) for i in ids for w in WITNESSES.get(i, ())]


class Watcher:
    """Evaluates pending witnesses on explored states and transitions; a witness is dropped
    once reached, so the cost falls to nothing when all are reached.

    Call `watcher(prev, state)` on the initial state (prev None) and every transition; it
    returns False once nothing is pending (the caller may stop calling)."""

    def __init__(self, ids, config: Config):
        self.config = config
        self.all = witnesses_for(ids, config)
        self.not_applicable = [(i, w) for i, w in self.all if not w.applies_to(config)]
        pending = [(i, w) for i, w in self.all if w.applies_to(config)]
        # one evaluation per distinct witness
        self._pending: dict[str, tuple[Witness, list[str]]] = {}
        for i, w in pending:
            self._pending.setdefault(w.name, (w, []))[1].append(i)
        self.reached: set[str] = set()

    def __call__(self, prev, s) -> bool:
        done = None
        for name, (w, _) in self._pending.items():
            if (w.check(prev, s) if w.step else w.check(s)):
                done = [name] if done is None else done + [name]
        if done:
            for name in done:
                del self._pending[name]
                self.reached.add(name)
        return bool(self._pending)

    def mark_reached(self, names) -> None:
        """Record witnesses reached elsewhere (by another worker's share of the search)."""
        for name in names:
            self._pending.pop(name, None)
            self.reached.add(name)

    def unreached(self) -> list[tuple[str, Witness]]:
        """(invariant id, witness) never reached, including witnesses that cannot apply to
        this configuration (e.g. two records acknowledged with --max-records 1)."""
        out = []
        for i, w in self.all:
            if w.name not in self.reached:
                out.append((i, w))
        return out

    def warnings(self) -> list[str]:
        """One line per witness never reached, naming the invariants it leaves vacuous:
        'vacuity: ID[, ID...]: witness NAME (what) was never reached (try ...)'."""
        by_name: dict[str, tuple[Witness, list[str]]] = {}
        for i, w in self.unreached():
            by_name.setdefault(w.name, (w, []))[1].append(i)
        out = []
        for w, ids in by_name.values():
            hint = f" (try {w.hint})" if w.hint else ""
            out.append(f"vacuity: {', '.join(ids)}: witness {w.name} ({w.description}) was never reached{hint}")
        return out


def warning_invariants(warning: str) -> list[str]:
    """The invariant ids a vacuity warning (Watcher.warnings) names."""
    if not warning.startswith("vacuity: ") or ": witness " not in warning:
        return []
    return warning[len("vacuity: "):warning.index(": witness ")].split(", ")
