"""Burrow's rules (docs/kafka.md section 7; Burrow's core/internal/evaluator/caching.go), one status
at a time, each at the boundary of its rule, and a property test against a reference written from
Burrow's calculatePartitionStatus."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ackcheck.checker.lag.burrow import (
    BurrowConfig,
    Commit,
    OffsetPoint,
    PartitionReplay,
    PartitionWindow,
    Status,
    evaluate_partition,
    evaluate_partition_over_time,
    evaluate_window,
    group_status,
    offsets_rewound,
    recent_lag_zero,
)

MIN = 60_000


def window(offsets: list[int], lags: list[int], step_ms: int = MIN, start_ms: int = 0) -> list[Commit]:
    """Commits ``step_ms`` apart with the given offsets and lags (end offset = offset + lag)."""
    assert len(offsets) == len(lags)
    return [
        Commit(start_ms + i * step_ms, off, lag, off + lag) for i, (off, lag) in enumerate(zip(offsets, lags))
    ]


GROWING = window([100 + 10 * i for i in range(10)], [20 + 10 * i for i in range(10)])  # WARN shape
LAST_TS = GROWING[-1].timestamp_ms  # 9 minutes; the window spans 9 minutes


def test_status_codes_are_burrows():
    assert [(s.name, int(s)) for s in Status] == [
        ("NOTFOUND", 0),
        ("OK", 1),
        ("WARN", 2),
        ("ERR", 3),
        ("STOP", 4),
        ("STALL", 5),
        ("REWIND", 6),
    ]


# ----------------------------------------------------------------------------- current lag vs allowed lag


def test_current_lag_equal_to_allowed_lag_is_ok():
    # every lag in the window (20..110) is above 19, so only the current lag decides
    assert evaluate_window(GROWING, current_lag=19, now_ms=LAST_TS, allowed_lag=19) is Status.OK


def test_current_lag_just_above_allowed_lag_applies_the_rules():
    assert evaluate_window(GROWING, current_lag=20, now_ms=LAST_TS, allowed_lag=19) is Status.WARN


def test_zero_current_lag_is_ok_even_when_everything_else_looks_bad():
    stalled = window([5] * 10, [50] * 10)
    assert evaluate_window(stalled, current_lag=0, now_ms=LAST_TS * 100) is Status.OK


def test_empty_window_is_ok():
    # Burrow's evaluatePartitionStatus: "If there are no offsets, we can't do anything" -> StatusOK
    assert evaluate_window([], current_lag=10, now_ms=0) is Status.OK


# ----------------------------------------------------------------------------- STOP


def test_stop_not_at_exactly_the_window_span():
    # now - last == last - first (9 min): not STOP, the rule is strict
    assert evaluate_window(GROWING, 110, now_ms=LAST_TS + 9 * MIN) is Status.WARN


def test_stop_one_millisecond_past_the_window_span():
    assert evaluate_window(GROWING, 110, now_ms=LAST_TS + 9 * MIN + 1) is Status.STOP


def test_stop_applies_even_if_lag_was_within_allowed_in_the_window():
    caught_up_then_silent = window([100, 110, 120], [0, 0, 5])
    last = caught_up_then_silent[-1].timestamp_ms
    assert evaluate_window(caught_up_then_silent, 5, now_ms=last + 2 * MIN) is Status.OK
    assert evaluate_window(caught_up_then_silent, 5, now_ms=last + 2 * MIN + 1) is Status.STOP


def test_no_stop_while_a_recent_broker_offset_is_at_the_last_commit():
    # Burrow #303 (checkIfRecentLagZero): the consumer was caught up moments ago
    last = GROWING[-1]
    late = LAST_TS + 9 * MIN + 1
    assert recent_lag_zero(GROWING, [last.offset, last.offset + 50])
    assert evaluate_window(GROWING, 110, now_ms=late, broker_offsets=[last.offset, 300]) is Status.WARN
    assert not recent_lag_zero(GROWING, [last.offset + 1, 300])
    assert evaluate_window(GROWING, 110, now_ms=late, broker_offsets=[last.offset + 1, 300]) is Status.STOP


def test_recent_lag_zero_compares_with_the_last_commit():
    w = window([100, 150], [10, 10])
    assert not recent_lag_zero(w, [151, 160])
    assert recent_lag_zero(w, [150, 160])
    assert not recent_lag_zero(w, [])  # no broker offsets known: no exception


def test_stop_is_checked_before_rewind():
    rewound = window([100, 110, 50], [10, 10, 70])
    last = rewound[-1].timestamp_ms
    assert evaluate_window(rewound, 70, now_ms=last) is Status.REWIND
    assert evaluate_window(rewound, 70, now_ms=last + 2 * MIN + 1) is Status.STOP


def test_single_commit_window_stops_as_soon_as_time_passes():
    one = window([100], [10])
    assert evaluate_window(one, 10, now_ms=0) is Status.STALL  # Burrow: one commit with lag is a stall
    assert evaluate_window(one, 10, now_ms=1) is Status.STOP


# ----------------------------------------------------------------------------- REWIND


def test_rewind_when_an_offset_goes_back_and_stays_back():
    assert evaluate_window(window([100, 110, 120, 90], [5, 5, 5, 40]), 40, now_ms=3 * MIN) is Status.REWIND


def test_rewind_recovered_to_the_previous_offset_is_not_a_rewind():
    # 110 -> 90, then back to 110: recovered (Burrow's checkIfRewindRecovered: ">= previous")
    recovered = window([100, 110, 90, 110], [5, 6, 30, 31])
    assert not offsets_rewound(recovered)
    assert evaluate_window(recovered, 31, now_ms=3 * MIN) is Status.WARN


def test_rewind_one_short_of_recovering_is_a_rewind():
    almost = window([100, 110, 90, 109], [5, 6, 30, 31])
    assert offsets_rewound(almost)
    assert evaluate_window(almost, 31, now_ms=3 * MIN) is Status.REWIND


def test_rewind_counts_even_if_lag_was_zero_earlier_in_the_window():
    # Burrow since 2021 checks REWIND before the zero-lag rule (before, this read OK)
    caught_up_then_reset = window([100, 110, 60], [0, 0, 50])
    assert evaluate_window(caught_up_then_reset, 50, now_ms=2 * MIN) is Status.REWIND
    assert _burrow_reference(caught_up_then_reset, 50, 2 * MIN) is Status.REWIND


def test_a_second_unrecovered_rewind_counts_after_a_recovered_first_one():
    # the one remaining difference (docs/lag.md): Burrow's checkIfOffsetsRewind returns the first
    # drop only (100 -> 90, recovered at 100), so Burrow falls through to the lag rules; here the
    # later drop 100 -> 40, never made up, is a REWIND
    twice = window([100, 90, 100, 40, 45], [0, 10, 5, 65, 70])
    assert offsets_rewound(twice)
    assert evaluate_window(twice, 70, now_ms=4 * MIN) is Status.REWIND
    assert _burrow_reference(twice, 70, 4 * MIN) is Status.OK


def test_rewind_within_the_allowed_lag_is_ok():
    small_rewind = window([100, 110, 105], [3, 3, 8])
    assert evaluate_window(small_rewind, 8, now_ms=2 * MIN, allowed_lag=8) is Status.OK
    assert evaluate_window(small_rewind, 8, now_ms=2 * MIN, allowed_lag=7) is Status.REWIND


def test_rewind_is_checked_before_stall():
    # a rewind then the same offset: not all equal anyway; a rewind outranks WARN
    assert evaluate_window(window([100, 50, 50], [5, 55, 60]), 60, now_ms=2 * MIN) is Status.REWIND


# ----------------------------------------------------------------------------- STALL


def test_stall_when_all_offsets_equal_and_lag_never_within_allowed():
    assert evaluate_window(window([100] * 5, [1, 2, 3, 4, 5]), 5, now_ms=4 * MIN) is Status.STALL


def test_not_stall_when_one_offset_differs():
    moved = window([100, 100, 100, 100, 101], [1, 2, 3, 4, 5])
    assert evaluate_window(moved, 5, now_ms=4 * MIN) is Status.WARN


def test_not_stall_when_one_lag_equals_the_allowed_lag():
    stalled = window([100] * 5, [1, 2, 3, 4, 5])
    assert evaluate_window(stalled, 5, now_ms=4 * MIN, allowed_lag=1) is Status.OK
    assert evaluate_window(stalled, 5, now_ms=4 * MIN, allowed_lag=0) is Status.STALL


# ----------------------------------------------------------------------------- WARN


def test_warn_when_lag_never_decreases_including_flat_steps():
    flat = window([100, 110, 120, 130], [20, 20, 25, 25])
    assert evaluate_window(flat, 25, now_ms=3 * MIN) is Status.WARN


def test_ok_when_lag_decreased_once():
    dipped = window([100, 110, 120, 130], [20, 21, 20, 25])
    assert evaluate_window(dipped, 25, now_ms=3 * MIN) is Status.OK


def test_warn_needs_every_lag_above_the_allowed_lag():
    growing = window([100, 110, 120], [6, 7, 8])
    assert evaluate_window(growing, 8, now_ms=2 * MIN, allowed_lag=6) is Status.OK
    assert evaluate_window(growing, 8, now_ms=2 * MIN, allowed_lag=5) is Status.WARN


# ----------------------------------------------------------------------------- group status


@pytest.mark.parametrize(
    ("partitions", "expected"),
    [
        ([Status.OK, Status.OK], Status.OK),
        ([Status.OK, Status.WARN], Status.WARN),
        ([Status.WARN, Status.STOP], Status.ERR),
        ([Status.OK, Status.STALL], Status.ERR),
        ([Status.REWIND, Status.WARN], Status.ERR),
        ([Status.OK, Status.ERR], Status.ERR),
        ([Status.NOTFOUND, Status.OK], Status.OK),
        ([Status.NOTFOUND, Status.WARN], Status.WARN),
        ([Status.NOTFOUND], Status.NOTFOUND),
        ([], Status.NOTFOUND),
    ],
)
def test_group_status_is_the_worst_partition_with_stop_stall_rewind_as_err(partitions, expected):
    assert group_status(partitions) is expected


# ----------------------------------------------------------------------------- window, min-distance, lag


def test_window_keeps_the_last_intervals_commits():
    w = PartitionWindow(BurrowConfig(intervals=3))
    for i in range(5):
        w.add(i * MIN, 100 + i, 200)
    assert [c.offset for c in w.commits] == [102, 103, 104]


def test_min_distance_merges_a_close_commit_into_the_previous_slot_keeping_its_timestamp():
    w = PartitionWindow(BurrowConfig(min_distance_s=1))
    w.add(0, 100, 150)
    w.add(999, 105, 160)  # 0.999 s later: replaces the first, keeps timestamp 0
    assert [(c.timestamp_ms, c.offset, c.lag) for c in w.commits] == [(0, 105, 55)]
    w.add(1000, 110, 160)  # exactly min-distance after the stored one: a new slot
    assert [(c.timestamp_ms, c.offset) for c in w.commits] == [(0, 105), (1000, 110)]


def test_min_distance_zero_keeps_every_commit():
    w = PartitionWindow(BurrowConfig(min_distance_s=0))
    w.add(0, 100, 150)
    w.add(0, 101, 150)
    assert len(w.commits) == 2


def test_commit_lag_is_clamped_at_zero_and_counted():
    replay = PartitionReplay(BurrowConfig())
    replay.feed(OffsetPoint(0, committed_offset=120, log_end_offset=100))
    assert replay.window.commits[0].lag == 0
    assert replay.counters.commits_beyond_end == 1
    assert replay.evaluate(0).current_lag == 0


def test_current_lag_uses_the_latest_end_offset_even_without_a_commit():
    points = [OffsetPoint(0, 100, 100), OffsetPoint(MIN, None, 130)]
    result = evaluate_partition(points, now_ms=MIN)
    assert (result.current_lag, result.committed_offset, result.log_end_offset) == (30, 100, 130)
    # one commit 1 minute ago (span 0), but the broker offset 100 is still among the recent ones:
    # caught up moments ago, no STOP (and the window had zero lag: OK)
    assert result.status is Status.OK
    # with a ring of one broker offset, only 130 is recent: STOP
    assert evaluate_partition(points, now_ms=MIN, config=BurrowConfig(intervals=1)).status is Status.STOP


def test_commit_before_any_end_offset_is_dropped():
    replay = PartitionReplay(BurrowConfig())
    replay.feed(OffsetPoint(0, 100, None))
    assert replay.window.commits == ()
    assert replay.counters.commits_without_end_offset == 1
    assert replay.evaluate(0).status is Status.OK  # no commit: OK, as Burrow
    assert replay.evaluate(0).committed_offset is None


def test_commit_with_unknown_end_offset_uses_the_last_known_one():
    result = evaluate_partition([OffsetPoint(0, 100, 150), OffsetPoint(MIN, 110, None)], now_ms=MIN)
    assert [c.lag for c in result.window] == [50, 40]


def test_points_after_now_are_ignored():
    points = [OffsetPoint(i * MIN, 100 + i, 200) for i in range(5)]
    result = evaluate_partition(points, now_ms=2 * MIN)
    assert [c.offset for c in result.window] == [100, 101, 102]


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="intervals"):
        BurrowConfig(intervals=0)
    with pytest.raises(ValueError, match="allowed lag"):
        BurrowConfig(allowed_lag=-1)
    with pytest.raises(ValueError, match="min-distance"):
        BurrowConfig(min_distance_s=-1)


# ----------------------------------------------------------------------------- properties

histories = st.lists(
    st.tuples(
        st.integers(0, 20),  # minutes
        st.one_of(st.none(), st.integers(0, 50)),  # committed
        st.one_of(st.none(), st.integers(0, 60)),  # end offset
    ),
    max_size=25,
)


def _points(raw: list[tuple[int, int | None, int | None]]) -> list[OffsetPoint]:
    return [OffsetPoint(m * MIN, c, e) for m, c, e in raw]


@settings(max_examples=200, deadline=None)
@given(histories, st.integers(1, 6), st.integers(0, 5))
def test_over_time_equals_evaluating_at_each_time(raw, intervals, allowed):
    config = BurrowConfig(intervals=intervals, allowed_lag=allowed)
    points = _points(raw)
    times = sorted({p.timestamp_ms for p in points} | {25 * MIN})
    timeline = evaluate_partition_over_time(points, times, config)
    assert timeline == [evaluate_partition(points, t, config) for t in times]


def _burrow_reference(w: list[Commit], current_lag: int, now_ms: int, allowed_lag: int = 0,
                      broker_offsets: tuple[int, ...] = ()) -> Status:
    """Burrow's calculatePartitionStatus (caching.go, current), rule by rule, written for this test."""
    if not w:
        return Status.OK
    if current_lag > allowed_lag:
        stopped = now_ms - w[-1].timestamp_ms > w[-1].timestamp_ms - w[0].timestamp_ms
        if stopped and not any(b <= w[-1].offset for b in broker_offsets):
            return Status.STOP
        first_drop = next((i for i in range(1, len(w)) if w[i].offset < w[i - 1].offset), -1)
        if first_drop > 0 and not any(c.offset >= w[first_drop - 1].offset for c in w[first_drop:]):
            return Status.REWIND
        if all(c.lag > allowed_lag for c in w):
            if all(w[i].offset == w[i - 1].offset for i in range(1, len(w))):
                return Status.STALL
            if all(w[i].lag >= w[i - 1].lag for i in range(1, len(w))):
                return Status.WARN
    return Status.OK


def _first_drop_recovered(w: list[Commit]) -> bool:
    first = next((i for i in range(1, len(w)) if w[i].offset < w[i - 1].offset), None)
    return first is not None and any(c.offset >= w[first - 1].offset for c in w[first:])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-6, 5), st.integers(0, 4), st.integers(0, 3)), min_size=0, max_size=10),
    st.integers(0, 10),
    st.integers(0, 30),
    st.integers(0, 3),
    st.lists(st.integers(0, 60), max_size=4),
)
def test_matches_burrow_except_a_later_rewind_after_a_recovered_one(steps, current_lag, extra_minutes, allowed,
                                                                    broker_offsets):
    commits, offset, ts = [], 20, 0
    for move, lag, minutes in steps:
        offset = max(0, offset + move)
        ts += minutes * MIN
        commits.append(Commit(ts, offset, lag, offset + lag))
    now = ts + extra_minutes * MIN
    ours = evaluate_window(commits, current_lag, now, allowed, tuple(broker_offsets))
    burrow = _burrow_reference(commits, current_lag, now, allowed, tuple(broker_offsets))
    if ours is not burrow:
        # the documented difference: Burrow looks at the first drop only
        assert ours is Status.REWIND and _first_drop_recovered(commits) and offsets_rewound(commits)
