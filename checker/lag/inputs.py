"""Readers for the offset histories ``ackcheck lag`` evaluates with Burrow's rules.

Three formats, detected per file from its first non-blank line:

* ``kafka-consumer-groups``: captures of ``kafka-consumer-groups.sh --describe --group G``, each
  preceded by a line ``# time: <ISO 8601 or epoch ms>``. Columns are located by the header (GROUP
  TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID), values are
  whitespace separated and ``-`` means unknown. Kafka's own messages ("Consumer group 'g' has no
  active members.", ...) and blank lines are skipped.
* ``csv``: header ``timestamp,group,topic,partition,committed_offset,log_end_offset`` (any order,
  extra columns ignored); ``-`` or an empty cell means unknown.
* ``ackcheck-trace``: ``{"format": "ackcheck-trace", "version": 1, "steps": [...]}``; step k is
  time k * 60 s after the epoch, group "ackcheck", topic "trace", partition 0; its
  ``observation.lag`` gives ``high_watermark`` (the end offset consumers can reach, docs/kafka.md section 7)
  and ``committed_offset``.

Bad input raises ``InputError`` whose text is one line naming the file and line (or JSON path).
What is skipped or fixed (unknown offsets, unsorted or duplicate timestamps) is reported as notes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

__all__ = [
    "CSV_COLUMNS",
    "TRACE_STEP_MS",
    "InputError",
    "LoadedInputs",
    "OffsetSample",
    "ParsedFile",
    "detect_format",
    "format_timestamp",
    "load_inputs",
    "parse_capture",
    "parse_csv",
    "parse_timestamp",
    "parse_trace",
    "read_input_file",
]

CSV_COLUMNS = ("timestamp", "group", "topic", "partition", "committed_offset", "log_end_offset")
CAPTURE_COLUMNS = ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET")
TRACE_STEP_MS = 60_000
TRACE_GROUP, TRACE_TOPIC = "ackcheck", "trace"
UNKNOWN = "-"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT_RE = re.compile(r"[+-]?\d+")
_COLUMN_RE = re.compile(r"[A-Z#(][A-Z0-9#()-]*")
_TIME_LINE_RE = re.compile(r"#\s*time\s*:(.*)", re.IGNORECASE)
# Lines kafka-consumer-groups.sh prints around (or instead of) the offsets table.
_KAFKA_MESSAGE_RES = (
    re.compile(r"Consumer group '.*' has no active members\.?"),
    re.compile(r"Consumer group '.*' is rebalancing\.?"),
    re.compile(r"Consumer group '.*' does not exist\.?"),
    re.compile(r"(Error|Warning|WARN|ERROR)\b.*"),
)


class InputError(Exception):
    """Bad input: one line naming the file and the line (or JSON path) at fault."""

    def __init__(self, path: str, where: int | str | None, message: str) -> None:
        self.path, self.where, self.message = path, where, message
        location = path if where is None else f"{path}:{where}"
        super().__init__(f"{location}: {message}")


@dataclass(frozen=True)
class OffsetSample:
    """One observation of a consumer group's partition; ``None`` offsets are unknown."""

    timestamp_ms: int
    group: str
    topic: str
    partition: int
    committed_offset: int | None
    log_end_offset: int | None
    source: str  # "file:line" (or "file:steps[k]") it came from

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.group, self.topic, self.partition)


@dataclass
class ParsedFile:
    path: str
    format: str
    samples: list[OffsetSample]
    notes: list[str] = field(default_factory=list)


@dataclass
class LoadedInputs:
    """All samples of all files, sorted by time, one per partition and timestamp; plus the notes."""

    samples: list[OffsetSample]
    notes: list[str]
    formats: dict[str, str]  # path -> detected format


# ----------------------------------------------------------------------------- timestamps


def parse_timestamp(text: str) -> int:
    """Epoch milliseconds from ``text``: an integer (epoch ms) or ISO 8601 (no zone means UTC).

    Raises ValueError with a short reason.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty timestamp")
    if _INT_RE.fullmatch(value):
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither ISO 8601 nor epoch milliseconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def format_timestamp(ms: int) -> str:
    """ISO 8601 in UTC, milliseconds shown only when present."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _looks_like_seconds(text: str) -> bool:
    value = text.strip()
    return bool(_INT_RE.fullmatch(value)) and 1_000_000_000 <= int(value) < 10_000_000_000


# ----------------------------------------------------------------------------- detection


def detect_format(text: str) -> str | None:
    """``kafka-consumer-groups``, ``csv``, ``ackcheck-trace`` or None, from the first non-blank line."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("{"):
        return "ackcheck-trace"
    if first.startswith("#") or _is_header(first.split()) or _is_kafka_message(first):
        return "kafka-consumer-groups"
    if "," in first and first.split(",")[0].strip().lower() in CSV_COLUMNS:
        return "csv"
    return None


def _is_header(fields: Sequence[str]) -> bool:
    """A kafka-consumer-groups table header: upper-case column names starting with GROUP or TOPIC."""
    return bool(fields) and fields[0] in ("GROUP", "TOPIC") and all(_COLUMN_RE.fullmatch(f) for f in fields)


def _is_kafka_message(line: str) -> bool:
    return any(rx.fullmatch(line) for rx in _KAFKA_MESSAGE_RES)


def _offset(raw: str, path: str, line: int, column: str) -> int | None:
    value = raw.strip()
    if value in (UNKNOWN, ""):
        return None
    if not _INT_RE.fullmatch(value):
        raise InputError(path, line, f"{column} {value!r} is not an integer (use '-' for unknown)")
    number = int(value)
    if number < 0:
        raise InputError(path, line, f"{column} {number} is negative (use '-' for unknown)")
    return number


def _partition(raw: str, path: str, line: int, column: str) -> int:
    value = raw.strip()
    if not _INT_RE.fullmatch(value) or int(value) < 0:
        raise InputError(path, line, f"{column} {value!r} is not a partition number")
    return int(value)


def _timestamp(raw: str, path: str, line: int) -> int:
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise InputError(path, line, f"bad timestamp: {exc}") from None


class _Notes:
    """Collects per-file notes, merging repeated ones (e.g. the same '-' row every minute)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.notes: list[str] = []
        self._unknown: dict[tuple[str, str, int], list[int]] = {}
        self._seconds_line: int | None = None

    def unknown_commit(self, key: tuple[str, str, int], line: int) -> None:
        self._unknown.setdefault(key, []).append(line)

    def maybe_seconds(self, raw: str, line: int) -> None:
        if self._seconds_line is None and _looks_like_seconds(raw):
            self._seconds_line = line

    def finish(self, column: str) -> list[str]:
        out = list(self.notes)
        for (group, topic, partition), lines in self._unknown.items():
            count = f"{len(lines)} rows" if len(lines) > 1 else "1 row"
            out.append(
                f"{self.path}:{lines[0]}: {group}/{topic}/{partition}: {count} with unknown {column} ('-') "
                "skipped as commits (their log end offset still counts)"
            )
        if self._seconds_line is not None:
            out.append(
                f"{self.path}:{self._seconds_line}: timestamps are read as epoch milliseconds; "
                "this one looks like seconds (multiply by 1000 if so)"
            )
        return out


# ----------------------------------------------------------------------------- kafka-consumer-groups


def parse_capture(text: str, path: str) -> ParsedFile:
    """Parse captured ``kafka-consumer-groups.sh --describe`` output with ``# time:`` lines."""
    notes = _Notes(path)
    samples: list[OffsetSample] = []
    now: int | None = None
    columns: dict[str, int] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        time_match = _TIME_LINE_RE.fullmatch(line)
        if time_match:
            now = _timestamp(time_match.group(1), path, number)
            notes.maybe_seconds(time_match.group(1), number)
            continue
        if line.startswith("#"):
            continue  # a comment
        if _is_kafka_message(line):
            if not line.endswith("has no active members."):
                notes.notes.append(f"{path}:{number}: Kafka said: {line}")
            continue
        fields = line.split()
        if _is_header(fields):
            missing = [c for c in CAPTURE_COLUMNS if c not in fields]
            if missing:
                raise InputError(
                    path,
                    number,
                    f"kafka-consumer-groups header lacks {', '.join(missing)} "
                    "(capture the offsets table: --describe --group G)",
                )
            columns = {name: fields.index(name) for name in CAPTURE_COLUMNS}
            continue
        if columns is None:
            raise InputError(path, number, f"row before the GROUP TOPIC PARTITION ... header: {line[:60]!r}")
        if now is None:
            raise InputError(path, number, "row before any '# time: <ISO 8601 or epoch ms>' line")
        needed = max(columns.values()) + 1
        if len(fields) < needed:
            raise InputError(path, number, f"expected at least {needed} columns, got {len(fields)}")
        group, topic = fields[columns["GROUP"]], fields[columns["TOPIC"]]
        partition = _partition(fields[columns["PARTITION"]], path, number, "PARTITION")
        committed = _offset(fields[columns["CURRENT-OFFSET"]], path, number, "CURRENT-OFFSET")
        end = _offset(fields[columns["LOG-END-OFFSET"]], path, number, "LOG-END-OFFSET")
        if committed is None:
            notes.unknown_commit((group, topic, partition), number)
        samples.append(OffsetSample(now, group, topic, partition, committed, end, f"{path}:{number}"))
    return ParsedFile(path, "kafka-consumer-groups", samples, notes.finish("CURRENT-OFFSET"))


# ----------------------------------------------------------------------------- CSV


def parse_csv(text: str, path: str) -> ParsedFile:
    """Parse ``timestamp,group,topic,partition,committed_offset,log_end_offset`` rows."""
    notes = _Notes(path)
    samples: list[OffsetSample] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    index: dict[str, int] = {}
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                missing = [c for c in CSV_COLUMNS if c not in header]
                if missing:
                    raise InputError(path, number, f"CSV header lacks column(s) {', '.join(missing)}")
                index = {c: header.index(c) for c in CSV_COLUMNS}
                continue
            if len(row) != len(header):
                raise InputError(path, number, f"expected {len(header)} fields, got {len(row)}")
            raw_ts = row[index["timestamp"]]
            ts = _timestamp(raw_ts, path, number)
            notes.maybe_seconds(raw_ts, number)
            group, topic = row[index["group"]].strip(), row[index["topic"]].strip()
            if not group or not topic:
                raise InputError(path, number, "empty group or topic")
            partition = _partition(row[index["partition"]], path, number, "partition")
            committed = _offset(row[index["committed_offset"]], path, number, "committed_offset")
            end = _offset(row[index["log_end_offset"]], path, number, "log_end_offset")
            if committed is None:
                notes.unknown_commit((group, topic, partition), number)
            samples.append(OffsetSample(ts, group, topic, partition, committed, end, f"{path}:{number}"))
    except csv.Error as exc:
        raise InputError(path, reader.line_num, f"malformed CSV: {exc}") from None
    return ParsedFile(path, "csv", samples, notes.finish("committed_offset"))


# ----------------------------------------------------------------------------- ackcheck traces


def _trace_int(value: object, path: str, where: str, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(path, where, f"expected an integer, got {json.dumps(value)[:40]}")
    return value


def _trace_lags(lag: object, path: str, where: str) -> list[tuple[str, int, dict]]:
    """The step's lag objects as (topic, partition, object); one object means topic 'trace', partition 0."""
    entries = lag if isinstance(lag, list) else [lag]
    out: list[tuple[str, int, dict]] = []
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]" if isinstance(lag, list) else where
        if not isinstance(entry, dict):
            raise InputError(path, at, "expected an object with high_watermark and committed_offset")
        topic = entry.get("topic", TRACE_TOPIC)
        if not isinstance(topic, str):
            raise InputError(path, f"{at}.topic", "expected a string")
        partition = _trace_int(entry.get("partition", 0), path, f"{at}.partition")
        assert partition is not None
        out.append((topic, partition, entry))
    return out


def _steps(ks: Sequence[int]) -> str:
    return ", ".join(str(k) for k in ks[:5]) + (", ..." if len(ks) > 5 else "")


def parse_trace(text: str, path: str) -> ParsedFile:
    """Parse an ackcheck trace: step k at k * 60 s, its ``observation.lag`` as one sample.

    The end offset is the high watermark (what consumers can reach); a negative high watermark
    (no leader) is an unknown end offset.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("format") != "ackcheck-trace":
        raise InputError(path, "format", 'not an ackcheck trace (expected "format": "ackcheck-trace")')
    if doc.get("version") != 1:
        raise InputError(path, "version", f"unsupported trace version {json.dumps(doc.get('version'))}")
    steps = doc.get("steps")
    if not isinstance(steps, list):
        raise InputError(path, "steps", "expected a list of steps")
    notes: list[str] = []
    samples: list[OffsetSample] = []
    no_leader: list[int] = []
    no_commit: list[int] = []
    for k, step in enumerate(steps):
        where = f"steps[{k}]"
        if not isinstance(step, dict) or not isinstance(step.get("observation"), dict):
            raise InputError(path, f"{where}.observation", "expected an object")
        if "lag" not in step["observation"]:
            raise InputError(path, f"{where}.observation.lag", "missing (a trace without lag observations)")
        for topic, partition, entry in _trace_lags(
            step["observation"]["lag"], path, f"{where}.observation.lag"
        ):
            at = f"{where}.observation.lag"
            hw = _trace_int(entry.get("high_watermark"), path, f"{at}.high_watermark")
            committed = _trace_int(
                entry.get("committed_offset"), path, f"{at}.committed_offset", nullable=True
            )
            assert hw is not None
            if committed is not None and committed < 0:
                committed = None
            if committed is None:
                no_commit.append(k)
            if hw < 0:
                no_leader.append(k)
            end = hw if hw >= 0 else None
            samples.append(
                OffsetSample(
                    k * TRACE_STEP_MS, TRACE_GROUP, topic, partition, committed, end, f"{path}:{where}"
                )
            )
    if no_leader:
        notes.append(
            f"{path}: steps {_steps(no_leader)}: no leader (high_watermark -1): end offset unknown there"
        )
    if no_commit:
        notes.append(f"{path}: steps {_steps(no_commit)}: no committed offset; skipped as commits")
    return ParsedFile(path, "ackcheck-trace", samples, notes)


# ----------------------------------------------------------------------------- files


def _first_content_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            return number
    return 1


def read_input_file(path: str | Path) -> ParsedFile:
    """Read and parse one file, detecting its format. Raises InputError."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(name, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(name, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    if not text.strip():
        raise InputError(name, None, "empty file")
    kind = detect_format(text)
    if kind is None:
        raise InputError(
            name,
            _first_content_line(text),
            "unknown format (expected kafka-consumer-groups output with '# time:' lines, "
            f"a CSV with header {','.join(CSV_COLUMNS)}, or an ackcheck trace)",
        )
    parser = {"kafka-consumer-groups": parse_capture, "csv": parse_csv, "ackcheck-trace": parse_trace}[kind]
    parsed = parser(text, name)
    if not parsed.samples:
        parsed.notes.append(f"{name}: no offset rows")
    return parsed


def _order_notes(parsed: ParsedFile) -> list[str]:
    for previous, sample in pairwise(parsed.samples):
        if sample.timestamp_ms < previous.timestamp_ms:
            this, before = format_timestamp(sample.timestamp_ms), format_timestamp(previous.timestamp_ms)
            return [
                f"{sample.source}: timestamp {this} is earlier than the row before ({before}); sorted by time"
            ]
    return []


def _dedupe(samples: Sequence[OffsetSample]) -> tuple[list[OffsetSample], list[str]]:
    """Keep the last sample per (partition, timestamp), in input order (later files win)."""
    last: dict[tuple[tuple[str, str, int], int], OffsetSample] = {}
    for sample in samples:
        last[(sample.key, sample.timestamp_ms)] = sample
    dropped = len(samples) - len(last)
    notes: list[str] = []
    if dropped:
        counts = Counter((s.key, s.timestamp_ms) for s in samples)
        (key, ts), _ = next((item, n) for item, n in counts.items() if n > 1)
        group, topic, partition = key
        notes.append(
            f"{dropped} duplicate row(s) for a partition at the same timestamp (first: {group}/{topic}/"
            f"{partition} at {format_timestamp(ts)}, {last[(key, ts)].source}); kept the last"
        )
    kept = sorted(last.values(), key=lambda s: s.timestamp_ms)
    return kept, notes


def load_inputs(paths: Iterable[str | Path]) -> LoadedInputs:
    """Read every file; merge, sort by time and drop duplicate (partition, timestamp) samples."""
    samples: list[OffsetSample] = []
    notes: list[str] = []
    formats: dict[str, str] = {}
    for path in paths:
        parsed = read_input_file(path)
        formats[parsed.path] = parsed.format
        notes.extend(_order_notes(parsed))
        notes.extend(parsed.notes)
        samples.extend(parsed.samples)
    samples.sort(key=lambda s: s.timestamp_ms)  # stable: same timestamp keeps input order
    kept, dup_notes = _dedupe(samples)
    notes.extend(dup_notes)
    return LoadedInputs(kept, notes, formats)
