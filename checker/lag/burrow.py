"""Burrow's consumer-lag evaluation, as a pure function of an offset history (no I/O).

Burrow (github.com/linkedin/Burrow) keeps, per consumer group and partition, a ring of the last
``intervals`` offset commits and a ring of the last ``intervals`` broker end offsets
(``core/internal/storage/inmemory.go``). Each stored commit carries its lag at commit time: the
most recent broker (log end) offset minus the committed offset, clamped at 0. The evaluator
(``core/internal/evaluator/caching.go``, ``calculatePartitionStatus``, as of Burrow 1.9.5) then
applies its rules to that window and to the partition's *current* lag (latest broker offset -
latest commit), with an allowed lag ``A`` (``allowed-lag``, default 0). docs/kafka.md, section 7
summarises them; docs/lag.md explains them with examples.

When the current lag > A (otherwise the partition is OK), in this order:

1. STOP: ``now - last.ts > last.ts - first.ts`` (no commit for longer than the window spans),
   unless one of the recent broker end offsets is <= the last committed offset
   (``checkIfRecentLagZero``, Burrow issue #303: the consumer was caught up moments ago).
2. REWIND: a commit offset went backwards and the window never got back to where it was.
3. If no commit in the window had lag <= A:
   STALL when every commit offset in the window is equal, else WARN when the lag never decreased.
4. Otherwise OK.

A partition with no commit in its window is OK (``evaluatePartitionStatus`` returns its initial
OK status when there are no offsets). The one remaining difference from Burrow's code is in
``offsets_rewound`` (every unrecovered drop counts, not only the first), listed with the other,
smaller ones in docs/lag.md.

A group's status is its worst partition's, with STOP, STALL and REWIND reported as ERR
(Burrow's ``evaluateConsumerStatus``). Status codes are Burrow's ``protocol.StatusConstant``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "BurrowConfig",
    "Commit",
    "OffsetPoint",
    "PartitionEvaluation",
    "PartitionReplay",
    "PartitionWindow",
    "ReplayCounters",
    "Status",
    "evaluate_partition",
    "evaluate_partition_over_time",
    "evaluate_window",
    "group_status",
    "lag_never_decreased",
    "no_lag_within_allowed",
    "offsets_rewound",
    "offsets_stalled",
    "offsets_stopped",
]


class Status(IntEnum):
    """Burrow's status codes (``core/protocol/evaluator.go``: StatusNotFound .. StatusRewind)."""

    NOTFOUND = 0
    OK = 1
    WARN = 2
    ERR = 3
    STOP = 4
    STALL = 5
    REWIND = 6


@dataclass(frozen=True)
class BurrowConfig:
    """The options Burrow names: ``intervals`` and ``min-distance`` (storage), plus the allowed lag.

    ``min_distance_s``: a commit less than this many seconds after the previous stored commit
    replaces it (keeping the stored timestamp) instead of taking a new slot in the window, as
    Burrow's ``mergeFrequentCommitIntoPrevious`` does. Burrow's example configuration uses 1.
    """

    intervals: int = 10
    allowed_lag: int = 0
    min_distance_s: float = 1.0

    def __post_init__(self) -> None:
        if self.intervals < 1:
            raise ValueError(f"intervals must be >= 1, got {self.intervals}")
        if self.allowed_lag < 0:
            raise ValueError(f"allowed lag must be >= 0, got {self.allowed_lag}")
        if self.min_distance_s < 0:
            raise ValueError(f"min-distance must be >= 0 seconds, got {self.min_distance_s:g}")

    @property
    def min_distance_ms(self) -> float:
        return self.min_distance_s * 1000.0


@dataclass(frozen=True)
class Commit:
    """One stored offset commit: Burrow's ``protocol.ConsumerOffset`` plus the end offset used."""

    timestamp_ms: int
    offset: int
    lag: int  # max(0, log_end_offset - offset), fixed when the commit is stored
    log_end_offset: int


@dataclass(frozen=True)
class OffsetPoint:
    """One observation of a partition: its committed offset and log end offset, either may be unknown."""

    timestamp_ms: int
    committed_offset: int | None
    log_end_offset: int | None


# ----------------------------------------------------------------------------- the rules


def no_lag_within_allowed(window: Sequence[Commit], allowed_lag: int) -> bool:
    """Burrow's rule 1 (``isLagAlwaysNotZero``) with allowed lag A: no commit had lag <= A."""
    return all(c.lag > allowed_lag for c in window)


def offsets_rewound(window: Sequence[Commit]) -> bool:
    """REWIND: some commit offset went backwards and never recovered within the window.

    A drop ``offset[i] < offset[i-1]`` counts when no later commit in the window is back at
    ``offset[i-1]`` or beyond (Burrow's ``checkIfRewindRecovered``). Burrow looks at the *first*
    drop only (``checkIfOffsetsRewind`` returns the first ``i``): when the consumer made up a
    first rewind and then rewound again for good, Burrow reads no REWIND until the first drop
    leaves the window. Every drop counts here, since the second rewind is just as real (the aim
    of Burrow's own change, "Detect rewinds when consumer has any rewind in history"). The two
    agree whenever the first drop is unrecovered or no later drop is.
    """
    for i in range(1, len(window)):
        before = window[i - 1].offset
        if window[i].offset < before and all(c.offset < before for c in window[i + 1 :]):
            return True
    return False


def offsets_stopped(window: Sequence[Commit], now_ms: int) -> bool:
    """STOP's clock (Burrow's ``checkIfOffsetsStopped``): ``now - last.ts > last.ts - first.ts``, strictly."""
    first, last = window[0].timestamp_ms, window[-1].timestamp_ms
    return now_ms - last > last - first


def recent_lag_zero(window: Sequence[Commit], broker_offsets: Iterable[int]) -> bool:
    """Burrow's ``checkIfRecentLagZero`` (issue #303): one of the recent broker end offsets is <= the
    last committed offset, so the consumer was caught up moments ago and an idle topic explains
    the missing commits: no STOP."""
    last = window[-1].offset
    return any(end <= last for end in broker_offsets)


def offsets_stalled(window: Sequence[Commit]) -> bool:
    """STALL (Burrow's ``checkIfOffsetsStalled``): every commit offset in the window is equal."""
    return all(c.offset == window[0].offset for c in window)


def lag_never_decreased(window: Sequence[Commit]) -> bool:
    """WARN (Burrow's ``checkIfLagNotDecreasing``): no commit's lag is below the previous one's."""
    return all(window[i].lag >= window[i - 1].lag for i in range(1, len(window)))


def evaluate_window(window: Sequence[Commit], current_lag: int, now_ms: int, allowed_lag: int = 0,
                    broker_offsets: Sequence[int] = ()) -> Status:
    """Burrow's ``calculatePartitionStatus`` over a window of commits (oldest first).

    Order, as in Burrow's current code: STOP (unless ``broker_offsets``, the partition's recent
    broker end offsets, show zero lag against the last commit), REWIND (before the zero-lag rule,
    so a consumer caught up earlier in the window and then reset to an old offset is REWIND), then
    STALL / WARN only when no lag in the window is <= the allowed lag. Nothing applies while the
    current lag is within the allowed lag. An empty window is OK, as in Burrow.
    """
    if not window:
        return Status.OK
    if current_lag <= allowed_lag:
        return Status.OK
    if offsets_stopped(window, now_ms) and not recent_lag_zero(window, broker_offsets):
        return Status.STOP
    if offsets_rewound(window):
        return Status.REWIND
    if no_lag_within_allowed(window, allowed_lag):
        if offsets_stalled(window):
            return Status.STALL
        if lag_never_decreased(window):
            return Status.WARN
    return Status.OK


def group_status(statuses: Iterable[Status]) -> Status:
    """A group's status: its worst partition's, STOP/STALL/REWIND shown as ERR (Burrow's evaluator).

    Burrow starts a group at OK and raises it. A partition without commits is OK; pass NOTFOUND
    for it to say so and it leaves the group alone. A group none of whose partitions has a commit
    is NOTFOUND: Burrow knows a group only once it committed.
    """
    result: Status | None = None
    for status in statuses:
        if status is Status.NOTFOUND:
            continue
        shown = min(status, Status.ERR)
        if result is None or shown > result:
            result = shown
    return Status.NOTFOUND if result is None else result


# ----------------------------------------------------------------------------- the window


class PartitionWindow:
    """Burrow's per-partition ring of the last ``intervals`` commits, with the min-distance merge."""

    def __init__(self, config: BurrowConfig) -> None:
        self._config = config
        self._commits: deque[Commit] = deque(maxlen=config.intervals)

    @property
    def commits(self) -> tuple[Commit, ...]:
        return tuple(self._commits)

    def add(self, timestamp_ms: int, offset: int, log_end_offset: int) -> Commit:
        """Store a commit whose lag is measured against ``log_end_offset`` (clamped at 0, as Burrow).

        A commit closer than min-distance to the previous stored one replaces it and keeps the stored
        timestamp (so frequent committers still advance the window), as Burrow's storage does.
        """
        lag = max(0, log_end_offset - offset)
        if self._commits and timestamp_ms - self._commits[-1].timestamp_ms < self._config.min_distance_ms:
            previous = self._commits.pop()
            commit = Commit(previous.timestamp_ms, offset, lag, log_end_offset)
        else:
            commit = Commit(timestamp_ms, offset, lag, log_end_offset)
        self._commits.append(commit)
        return commit


@dataclass(frozen=True)
class PartitionEvaluation:
    """The status of one partition as of ``now_ms``, with what it was computed from."""

    now_ms: int
    status: Status
    current_lag: int | None
    committed_offset: int | None
    log_end_offset: int | None
    window: tuple[Commit, ...]


@dataclass
class ReplayCounters:
    """What the replay had to leave out or adjust, for the caller to report."""

    commits_without_end_offset: int = 0  # dropped: no log end offset known yet (Burrow drops these too)
    commits_beyond_end: int = 0  # committed offset > log end offset: lag clamped to 0
    first_beyond_end_ms: int | None = None


class PartitionReplay:
    """Feeds a partition's observations in time order and evaluates Burrow's status at any time.

    The log end offset used for a commit's lag is the most recent one known at the commit (the
    observation's own, else the latest earlier one); the current lag is the most recent log end
    offset known at evaluation time minus the latest commit, clamped at 0 (Burrow's ``fetchConsumer``).
    Every observation with a known log end offset is one broker offset sample; the last
    ``intervals`` of them are the recent broker offsets STOP's exception looks at (Burrow samples
    them every ``offset-refresh`` seconds into a ring of ``intervals``).
    """

    def __init__(self, config: BurrowConfig) -> None:
        self.config = config
        self.window = PartitionWindow(config)
        self.log_end_offset: int | None = None
        self.broker_offsets: deque[int] = deque(maxlen=config.intervals)
        self.counters = ReplayCounters()
        self._last_ts: int | None = None

    def feed(self, point: OffsetPoint) -> None:
        if self._last_ts is not None and point.timestamp_ms < self._last_ts:
            raise ValueError("observations must be fed in time order")
        self._last_ts = point.timestamp_ms
        if point.log_end_offset is not None:
            self.log_end_offset = point.log_end_offset
            self.broker_offsets.append(point.log_end_offset)
        if point.committed_offset is None:
            return
        if self.log_end_offset is None:
            self.counters.commits_without_end_offset += 1
            return
        if point.committed_offset > self.log_end_offset:
            self.counters.commits_beyond_end += 1
            if self.counters.first_beyond_end_ms is None:
                self.counters.first_beyond_end_ms = point.timestamp_ms
        self.window.add(point.timestamp_ms, point.committed_offset, self.log_end_offset)

    def evaluate(self, now_ms: int) -> PartitionEvaluation:
        window = self.window.commits
        if not window:  # no commit: OK in Burrow (the group status treats it as not found)
            return PartitionEvaluation(now_ms, Status.OK, None, None, self.log_end_offset, window)
        last = window[-1]
        end = last.log_end_offset if self.log_end_offset is None else self.log_end_offset
        current_lag = max(0, end - last.offset)
        status = evaluate_window(window, current_lag, now_ms, self.config.allowed_lag, tuple(self.broker_offsets))
        return PartitionEvaluation(now_ms, status, current_lag, last.offset, end, window)


def _sorted_points(points: Iterable[OffsetPoint]) -> list[OffsetPoint]:
    return sorted(points, key=lambda p: p.timestamp_ms)


def evaluate_partition(
    points: Iterable[OffsetPoint], now_ms: int, config: BurrowConfig | None = None
) -> PartitionEvaluation:
    """Burrow's status of one partition at ``now_ms`` from its observations (those after now ignored)."""
    replay = PartitionReplay(config or BurrowConfig())
    for point in _sorted_points(points):
        if point.timestamp_ms > now_ms:
            break
        replay.feed(point)
    return replay.evaluate(now_ms)


def evaluate_partition_over_time(
    points: Iterable[OffsetPoint], times_ms: Iterable[int], config: BurrowConfig | None = None
) -> list[PartitionEvaluation]:
    """The partition's status at each of ``times_ms`` (each evaluation sees the window as of then)."""
    replay = PartitionReplay(config or BurrowConfig())
    ordered = _sorted_points(points)
    results: list[PartitionEvaluation] = []
    i = 0
    for now_ms in sorted(times_ms):
        while i < len(ordered) and ordered[i].timestamp_ms <= now_ms:
            replay.feed(ordered[i])
            i += 1
        results.append(replay.evaluate(now_ms))
    return results
