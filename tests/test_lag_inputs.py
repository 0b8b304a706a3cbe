"""The three input formats of ``ackcheck lag``, and the errors and notes for bad or partial input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ackcheck.checker.lag.inputs import (
    InputError,
    detect_format,
    format_timestamp,
    load_inputs,
    parse_timestamp,
    read_input_file,
)

HEADER = "GROUP           TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID"
CSV_HEADER = "timestamp,group,topic,partition,committed_offset,log_end_offset"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def trace(steps: list[dict], **extra) -> str:
    doc = {"format": "ackcheck-trace", "version": 1, "config": {"acks": "all"}, "steps": steps, **extra}
    return json.dumps(doc, indent=1)


def lag_step(hw: int, committed: int | None, leo: int | None = None) -> dict:
    lag = {
        "log_end_offset": hw if leo is None else leo,
        "high_watermark": hw,
        "committed_offset": committed,
        "lag": -1 if hw < 0 or committed is None else hw - committed,
    }
    return {"action": {"name": "step"}, "observation": {"lag": lag}}


# ----------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1700000000000", 1_700_000_000_000),
        ("0", 0),
        ("2026-11-26T10:00:00Z", 1_795_687_200_000),
        ("2026-11-26T11:00:00+01:00", 1_795_687_200_000),
        ("2026-11-26T10:00:00", 1_795_687_200_000),  # no zone: UTC
        ("2026-11-26T10:00:00.250Z", 1_795_687_200_250),
    ],
)
def test_parse_timestamp(text, ms):
    assert parse_timestamp(text) == ms


@pytest.mark.parametrize("text", ["", "yesterday", "Wed Nov 26 10:00:00 UTC 2026", "12.5"])
def test_parse_timestamp_rejects(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_format_timestamp_round_trips():
    assert format_timestamp(1_795_687_200_000) == "2026-11-26T10:00:00Z"
    assert parse_timestamp(format_timestamp(1_795_687_200_250)) == 1_795_687_200_250


# ----------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("\n# time: 2026-11-26T10:00:00Z\n" + HEADER + "\n", "kafka-consumer-groups"),
        (HEADER + "\n", "kafka-consumer-groups"),
        (CSV_HEADER + "\n", "csv"),
        ('{"format": "ackcheck-trace"}', "ackcheck-trace"),
        ("hello world\n", None),
    ],
)
def test_detect_format(text, kind):
    assert detect_format(text) == kind


# ----------------------------------------------------------------------------- kafka-consumer-groups


CAPTURE = f"""# time: 2026-11-26T10:00:00Z

Consumer group 'g' has no active members.

{HEADER}
g               t      0          10              20              10   -            -     -
g               t      1          -               30              -    -            -     -

# time: 2026-11-26T10:01:00+00:00
{HEADER}
g               t      0          11              25              14   c1-1a2b      /10.0.0.1 client-1
g               t      1          -               31              -    -            -     -
"""


def test_capture_parses_rows_with_times_and_unknown_offsets(tmp_path):
    parsed = read_input_file(write(tmp_path, "lag.log", CAPTURE))
    assert parsed.format == "kafka-consumer-groups"
    rows = [
        (s.timestamp_ms, s.group, s.topic, s.partition, s.committed_offset, s.log_end_offset)
        for s in parsed.samples
    ]
    t0 = parse_timestamp("2026-11-26T10:00:00Z")
    assert rows == [
        (t0, "g", "t", 0, 10, 20),
        (t0, "g", "t", 1, None, 30),
        (t0 + 60_000, "g", "t", 0, 11, 25),
        (t0 + 60_000, "g", "t", 1, None, 31),
    ]
    assert parsed.samples[1].source.endswith("lag.log:7")
    (note,) = parsed.notes
    assert "lag.log:7" in note and "g/t/1" in note and "2 rows" in note and "CURRENT-OFFSET" in note


def test_capture_columns_are_found_by_header_name(tmp_path):
    text = "# time: 0\nTOPIC GROUP PARTITION LEADER-EPOCH CURRENT-OFFSET LOG-END-OFFSET LAG\nt g 3 7 5 9 4\n"
    (sample,) = read_input_file(write(tmp_path, "x.log", text)).samples
    assert (sample.group, sample.topic, sample.partition, sample.committed_offset, sample.log_end_offset) == (
        "g",
        "t",
        3,
        5,
        9,
    )


def test_capture_kafka_messages_become_notes(tmp_path):
    text = (
        "# time: 0\nConsumer group 'gone' does not exist.\n# time: 60000\n" + HEADER + "\ng t 0 1 2 1 - - -\n"
    )
    parsed = read_input_file(write(tmp_path, "x.log", text))
    assert len(parsed.samples) == 1
    assert any("x.log:2" in n and "does not exist" in n for n in parsed.notes)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (HEADER + "\ng t 0 1 2 1 - - -\n", 2, "# time:"),
        ("# time: 0\ng t 0 1 2 1 - - -\n", 2, "header"),
        ("# time: 0\n" + HEADER + "\ng t 0 abc 2 1 - - -\n", 3, "CURRENT-OFFSET 'abc'"),
        ("# time: 0\n" + HEADER + "\ng t zero 1 2 1 - - -\n", 3, "PARTITION"),
        ("# time: 0\n" + HEADER + "\ng t 0 1\n", 3, "columns"),
        ("# time: 0\n" + HEADER + "\ng t 0 -5 2 1 - - -\n", 3, "negative"),
        ("# time: last tuesday\n", 1, "timestamp"),
        ("# time: 0\nGROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS\n", 2, "CURRENT-OFFSET"),
    ],
)
def test_capture_errors_name_the_line(tmp_path, text, line, fragment):
    path = write(tmp_path, "bad.log", text)
    with pytest.raises(InputError) as err:
        read_input_file(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- CSV


def test_csv_parses_and_tolerates_column_order_extra_columns_and_blank_lines(tmp_path):
    text = (
        "partition,topic,group,timestamp,log_end_offset,committed_offset,note\n"
        "0,t,g,2026-11-26T10:00:00Z,20,10,x\n"
        "\n"
        "1,t,g,1795687200000,30,-,y\n"
        "1,t,g,1795687260000,31,,z\n"
    )
    parsed = read_input_file(write(tmp_path, "o.csv", text))
    assert parsed.format == "csv"
    assert [(s.partition, s.committed_offset, s.log_end_offset) for s in parsed.samples] == [
        (0, 10, 20),
        (1, None, 30),
        (1, None, 31),
    ]
    (note,) = parsed.notes
    assert "o.csv:4" in note and "2 rows" in note and "committed_offset" in note


def test_csv_epoch_seconds_gets_a_note(tmp_path):
    parsed = read_input_file(write(tmp_path, "s.csv", f"{CSV_HEADER}\n1700000000,g,t,0,1,2\n"))
    assert any("s.csv:2" in n and "seconds" in n for n in parsed.notes)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("timestamp,group,topic,partition,committed_offset\n0,g,t,0,1\n", 1, "log_end_offset"),
        ("timestamp,group,partition\n", 1, "topic, committed_offset, log_end_offset"),
        (f"{CSV_HEADER}\n0,g,t,0,1,2\n60000,g,t,0,ten,20\n", 3, "committed_offset 'ten'"),
        (f"{CSV_HEADER}\n0,g,t,0,1,2.5\n", 2, "log_end_offset '2.5'"),
        (f"{CSV_HEADER}\n0,g,t,0,1\n", 2, "expected 6 fields, got 5"),
        (f"{CSV_HEADER}\nnoon,g,t,0,1,2\n", 2, "bad timestamp"),
        (f"{CSV_HEADER}\n0,g,t,-1,1,2\n", 2, "partition"),
        (f"{CSV_HEADER}\n0,,t,0,1,2\n", 2, "empty group"),
    ],
)
def test_csv_errors_name_the_line(tmp_path, text, line, fragment):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as err:
        read_input_file(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert fragment in str(err.value)


# ----------------------------------------------------------------------------- ackcheck traces


def test_trace_steps_are_minutes_and_use_the_high_watermark(tmp_path):
    text = trace([lag_step(5, 0, leo=7), lag_step(8, 3, leo=9), lag_step(-1, 3), lag_step(9, None)])
    parsed = read_input_file(write(tmp_path, "t.json", text))
    assert parsed.format == "ackcheck-trace"
    assert [(s.timestamp_ms, s.group, s.topic, s.partition) for s in parsed.samples] == [
        (0, "ackcheck", "trace", 0),
        (60_000, "ackcheck", "trace", 0),
        (120_000, "ackcheck", "trace", 0),
        (180_000, "ackcheck", "trace", 0),
    ]
    assert [(s.committed_offset, s.log_end_offset) for s in parsed.samples] == [
        (0, 5),
        (3, 8),
        (3, None),
        (None, 9),
    ]
    assert any("steps 2" in n and "no leader" in n for n in parsed.notes)
    assert any("steps 3" in n and "no committed offset" in n for n in parsed.notes)


def test_trace_lag_list_names_topics_and_partitions(tmp_path):
    step = {
        "observation": {"lag": [{"topic": "a", "partition": 1, "high_watermark": 4, "committed_offset": 2}]}
    }
    (sample,) = read_input_file(write(tmp_path, "t.json", trace([step]))).samples
    assert (sample.topic, sample.partition, sample.committed_offset, sample.log_end_offset) == ("a", 1, 2, 4)


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ('{"format": "ackcheck-trace",\n "version": 1,\n "steps": [}', "3", "not valid JSON"),
        ('{"format": "something-else"}', "format", "not an ackcheck trace"),
        ('{"format": "ackcheck-trace", "version": 2, "steps": []}', "version", "version 2"),
        ('{"format": "ackcheck-trace", "version": 1, "steps": {}}', "steps", "list"),
        (trace([{"action": {}, "observation": {}}]), "steps[0].observation.lag", "missing"),
        (
            trace([lag_step(5, 0), {"observation": {"lag": {"committed_offset": 1}}}]),
            "steps[1]",
            "high_watermark",
        ),
        (
            trace([{"observation": {"lag": {"high_watermark": "5", "committed_offset": 1}}}]),
            "steps[0]",
            "integer",
        ),
        (
            trace([{"observation": {"lag": {"high_watermark": True, "committed_offset": 1}}}]),
            "steps[0]",
            "integer",
        ),
    ],
)
def test_trace_errors_name_the_place(tmp_path, text, where, fragment):
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(InputError) as err:
        read_input_file(path)
    assert str(err.value).startswith(f"{path}:{where}")
    assert fragment in str(err.value)


# ----------------------------------------------------------------------------- files


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.csv", "\n  \n")
    with pytest.raises(InputError, match=r"empty\.csv: empty file"):
        read_input_file(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match=r"missing\.csv: cannot read"):
        read_input_file(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="cannot read"):
        read_input_file(tmp_path)


def test_binary_file_names_the_line(tmp_path):
    path = write(tmp_path, "bin.csv", CSV_HEADER.encode() + b"\n0,g,t,0,1,\xff\n")
    with pytest.raises(InputError, match=r"bin\.csv:2: not UTF-8"):
        read_input_file(path)


def test_unknown_format_names_the_first_line_with_content(tmp_path):
    path = write(tmp_path, "what.txt", "\n\nsome prose\n")
    with pytest.raises(InputError, match=r"what\.txt:3: unknown format"):
        read_input_file(path)


def test_unsorted_rows_are_sorted_with_a_note(tmp_path):
    text = f"{CSV_HEADER}\n120000,g,t,0,3,9\n0,g,t,0,1,9\n60000,g,t,0,2,9\n"
    loaded = load_inputs([write(tmp_path, "u.csv", text)])
    assert [s.timestamp_ms for s in loaded.samples] == [0, 60_000, 120_000]
    assert any("u.csv:3" in n and "sorted" in n for n in loaded.notes)


def test_sorted_input_has_no_order_note(tmp_path):
    loaded = load_inputs([write(tmp_path, "s.csv", f"{CSV_HEADER}\n0,g,t,0,1,9\n60000,g,t,0,2,9\n")])
    assert not any("sorted" in n for n in loaded.notes)


def test_duplicates_at_one_timestamp_keep_the_last(tmp_path):
    first = write(tmp_path, "a.csv", f"{CSV_HEADER}\n0,g,t,0,1,9\n0,g,t,0,2,9\n0,g,t,1,5,9\n")
    second = write(tmp_path, "b.csv", f"{CSV_HEADER}\n0,g,t,1,6,9\n")
    loaded = load_inputs([first, second])
    assert sorted((s.partition, s.committed_offset) for s in loaded.samples) == [(0, 2), (1, 6)]
    assert any("2 duplicate" in n and "kept the last" in n for n in loaded.notes)


def test_files_of_different_formats_merge(tmp_path):
    csv_file = write(tmp_path, "o.csv", f"{CSV_HEADER}\n0,g,t,0,1,9\n")
    capture = write(tmp_path, "l.log", "# time: 60000\n" + HEADER + "\ng t 0 2 9 7 - - -\n")
    loaded = load_inputs([capture, csv_file])
    assert [(s.timestamp_ms, s.committed_offset) for s in loaded.samples] == [(0, 1), (60_000, 2)]
    assert loaded.formats == {str(capture): "kafka-consumer-groups", str(csv_file): "csv"}
