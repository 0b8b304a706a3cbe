"""A lag evaluation reported: per-group results, tables, JSON, the status over time and a plot
of lag with status bands (the command line is checker/cli/lag.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ackcheck.checker.lag.burrow import (
    BurrowConfig,
    Commit,
    OffsetPoint,
    PartitionEvaluation,
    PartitionReplay,
    Status,
    evaluate_partition_over_time,
    group_status,
)
from ackcheck.checker.lag.inputs import (
    LoadedInputs,
    OffsetSample,
    format_timestamp,
)

PLOT_SUFFIXES = (".png", ".svg")


MAX_PLOTTED_PARTITIONS = 48


STATUS_STYLE = {
    Status.NOTFOUND: "dim",
    Status.OK: "green",
    Status.WARN: "yellow",
    Status.ERR: "bold red",
    Status.STOP: "red",
    Status.STALL: "red",
    Status.REWIND: "magenta",
}


BAND_COLOR = {
    Status.NOTFOUND: "#eeeeee",
    Status.OK: "#d8f0d8",
    Status.WARN: "#fff0a8",
    Status.ERR: "#f2a0a0",
    Status.STOP: "#f4b0b0",
    Status.STALL: "#f8c890",
    Status.REWIND: "#dcb8f4",
}


@dataclass(frozen=True)
class PartitionResult:
    group: str
    topic: str
    partition: int
    evaluation: PartitionEvaluation
    timeline: tuple[PartitionEvaluation, ...]  # filled for --over-time / --plot


@dataclass(frozen=True)
class GroupResult:
    group: str
    status: Status
    partitions: tuple[PartitionResult, ...]


def _points_by_partition(
    samples: Sequence[OffsetSample],
) -> dict[str, dict[tuple[str, int], list[OffsetPoint]]]:
    groups: dict[str, dict[tuple[str, int], list[OffsetPoint]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        groups[s.group][(s.topic, s.partition)].append(
            OffsetPoint(s.timestamp_ms, s.committed_offset, s.log_end_offset)
        )
    return groups


def _replay_notes(name: str, replay: PartitionReplay) -> list[str]:
    c = replay.counters
    notes = []
    if c.commits_without_end_offset:
        notes.append(
            f"{name}: {c.commits_without_end_offset} commit(s) before any known log end offset dropped "
            "(no lag to measure; Burrow drops them too)"
        )
    if c.commits_beyond_end and c.first_beyond_end_ms is not None:
        first = format_timestamp(c.first_beyond_end_ms)
        notes.append(
            f"{name}: {c.commits_beyond_end} commit(s) beyond the log end offset (negative lag, e.g. after "
            f"an unclean leader election; first at {first}); lag counted as 0, as Burrow does"
        )
    return notes


def evaluate(
    inputs: LoadedInputs, config: BurrowConfig, now_ms: int, with_timeline: bool
) -> tuple[list[GroupResult], list[str]]:
    """Evaluate every partition of every group at ``now_ms`` (and at each input timestamp if asked)."""
    notes: list[str] = []
    later = sum(1 for s in inputs.samples if s.timestamp_ms > now_ms)
    if later:
        notes.append(f"{later} row(s) after --now ({format_timestamp(now_ms)}) ignored")
    times = sorted({s.timestamp_ms for s in inputs.samples if s.timestamp_ms <= now_ms} | {now_ms})
    results: list[GroupResult] = []
    for group, partitions in sorted(_points_by_partition(inputs.samples).items()):
        rows: list[PartitionResult] = []
        for (topic, partition), points in sorted(partitions.items()):
            replay = PartitionReplay(config)
            for point in points:  # already in time order
                if point.timestamp_ms > now_ms:
                    break
                replay.feed(point)
            name = f"{group}/{topic}/{partition}"
            notes.extend(_replay_notes(name, replay))
            evaluation = replay.evaluate(now_ms)
            if evaluation.status is Status.STALL and len(evaluation.window) == 1:
                notes.append(
                    f"{name}: STALL from a single commit (Burrow's rule: all offsets in the window equal)"
                )
            timeline = tuple(evaluate_partition_over_time(points, times, config)) if with_timeline else ()
            rows.append(PartitionResult(group, topic, partition, evaluation, timeline))
        # a partition without commits is OK but says nothing: a group with no commit at all is NOTFOUND
        status = group_status(r.evaluation.status if r.evaluation.window else Status.NOTFOUND for r in rows)
        results.append(GroupResult(group, status, tuple(rows)))
    return results, notes


def _commit_json(c: Commit) -> dict:
    return {
        "timestamp": format_timestamp(c.timestamp_ms),
        "timestamp_ms": c.timestamp_ms,
        "offset": c.offset,
        "lag": c.lag,
        "log_end_offset": c.log_end_offset,
    }


def to_json(
    results: Sequence[GroupResult],
    notes: Sequence[str],
    now_ms: int,
    config: BurrowConfig,
    over_time: bool = False,
) -> dict:
    """The ``--json`` object: groups with their partitions and windows, the notes, the evaluation time."""
    groups = []
    for g in results:
        parts = []
        for p in g.partitions:
            e = p.evaluation
            entry: dict = {
                "topic": p.topic,
                "partition": p.partition,
                "status": e.status.name,
                "status_code": int(e.status),
                "current_lag": e.current_lag,
                "committed_offset": e.committed_offset,
                "log_end_offset": e.log_end_offset,
                "window": [_commit_json(c) for c in e.window],
            }
            if over_time:
                entry["over_time"] = [
                    {
                        "timestamp": format_timestamp(t.now_ms),
                        "timestamp_ms": t.now_ms,
                        "status": t.status.name,
                        "current_lag": t.current_lag,
                    }
                    for t in p.timeline
                ]
            parts.append(entry)
        groups.append(
            {"group": g.group, "status": g.status.name, "status_code": int(g.status), "partitions": parts}
        )
    return {
        "groups": groups,
        "notes": list(notes),
        "now": format_timestamp(now_ms),
        "now_ms": now_ms,
        "options": {
            "intervals": config.intervals,
            "allowed_lag": config.allowed_lag,
            "min_distance": config.min_distance_s,
        },
    }


def _styled(status: Status) -> str:
    return f"[{STATUS_STYLE[status]}]{status.name}[/]"


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


def print_tables(
    console: Console, results: Sequence[GroupResult], now_ms: int, config: BurrowConfig, over_time: bool
) -> None:
    console.print(
        f"Burrow evaluation at {format_timestamp(now_ms)} (intervals {config.intervals}, "
        f"allowed lag {config.allowed_lag}, min-distance {config.min_distance_s:g}s)",
        markup=False,
        highlight=False,
    )
    for g in results:
        table = Table(title=f"group {escape(g.group)}: {_styled(g.status)}", title_justify="left")
        for name in (
            "topic",
            "partition",
            "status",
            "current lag",
            "committed offset",
            "end offset",
            "window",
        ):
            table.add_column(name, justify="left" if name in ("topic", "status") else "right")
        for p in g.partitions:
            e = p.evaluation
            table.add_row(
                escape(p.topic),
                str(p.partition),
                _styled(e.status),
                _num(e.current_lag),
                _num(e.committed_offset),
                _num(e.log_end_offset),
                f"{len(e.window)}/{config.intervals}",
            )
        console.print(table)
        if over_time:
            _print_over_time(console, g)


def _print_over_time(console: Console, g: GroupResult) -> None:
    if not g.partitions:
        return
    table = Table(title=f"group {escape(g.group)} over time", title_justify="left")
    table.add_column("time")
    for p in g.partitions:
        table.add_column(escape(f"{p.topic}/{p.partition}"))
    for i, first in enumerate(g.partitions[0].timeline):
        table.add_row(format_timestamp(first.now_ms), *(_styled(p.timeline[i].status) for p in g.partitions))
    console.print(table)


def status_bands(timeline: Sequence[PartitionEvaluation]) -> list[tuple[int, int, Status]]:
    """Runs of equal status as (start ms, end ms, status).

    Each evaluation's status holds until the next evaluation; the last one is drawn for the median
    step between evaluations (one minute if there is a single evaluation).
    """
    times = [t.now_ms for t in timeline]
    steps = sorted(b - a for a, b in pairwise(times) if b > a)
    tail = steps[len(steps) // 2] if steps else 60_000
    bands: list[tuple[int, int, Status]] = []
    for i, t in enumerate(timeline):
        end = times[i + 1] if i + 1 < len(times) else times[i] + tail
        if bands and bands[-1][2] is t.status:
            bands[-1] = (bands[-1][0], end, t.status)
        else:
            bands.append((t.now_ms, end, t.status))
    return bands


def write_plot(path: str, results: Sequence[GroupResult], config: BurrowConfig) -> int:
    """Lag per partition over time, background bands colored by Burrow's status at each point.

    Each point is a full evaluation as of that time (the window of commits up to it), so the bands
    show when a partition would have turned WARN, STALL, REWIND or STOP. Returns how many partitions
    were left out (beyond MAX_PLOTTED_PARTITIONS; the most severe are kept).
    """
    from datetime import UTC, datetime

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    def when(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)

    parts = [p for g in results for p in g.partitions]
    parts.sort(key=lambda p: (-int(p.evaluation.status), p.group, p.topic, p.partition))
    shown, left_out = parts[:MAX_PLOTTED_PARTITIONS], max(0, len(parts) - MAX_PLOTTED_PARTITIONS)
    shown.sort(key=lambda p: (p.group, p.topic, p.partition))
    height = 1.2 + 1.8 * len(shown)
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, height), sharex=True, squeeze=False)
    seen: set[Status] = set()
    for ax, p in zip(axes[:, 0], shown, strict=True):
        for start, end, status in status_bands(p.timeline):
            ax.axvspan(when(start), when(end), color=BAND_COLOR[status], linewidth=0)
            seen.add(status)
        lagged = [t for t in p.timeline if t.current_lag is not None]
        ax.plot(
            [when(t.now_ms) for t in lagged],
            [t.current_lag for t in lagged],
            color="#1f3b73",
            marker="o" if len(lagged) <= 200 else None,
            markersize=2.5,
            linewidth=1.2,
        )
        if config.allowed_lag:
            ax.axhline(config.allowed_lag, color="#555555", linestyle="--", linewidth=0.8)
        top = max([config.allowed_lag, *(t.current_lag or 0 for t in lagged)])
        ax.set_ylim(0, max(1, top) * 1.1)
        ax.set_ylabel("lag")
        ax.set_title(
            f"group {p.group}, {p.topic}/{p.partition}: {p.evaluation.status.name}".replace("$", r"\$"),
            fontsize=9,
            loc="left",
        )
    bottom = axes[-1, 0]
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(bottom.xaxis.get_major_locator()))
    bottom.set_xlabel("time (UTC)")
    handles = [Patch(color=BAND_COLOR[s], label=s.name) for s in sorted(seen)]
    fig.legend(handles=handles, loc="upper right", ncol=max(1, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(
        f"consumer lag and Burrow status (intervals {config.intervals}, allowed lag {config.allowed_lag})",
        x=0.02,
        ha="left",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))
    try:
        fig.savefig(path)
    finally:
        plt.close(fig)
    return left_out
