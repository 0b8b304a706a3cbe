"""``ackcheck lag`` end to end: lag_cli_cli.main([...]) on files, output captured with capsys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ackcheck.checker.cli import lag as lag_cli_cli
from ackcheck.checker.lag.burrow import PartitionEvaluation, Status
from ackcheck.checker.lag.report import status_bands

CSV_HEADER = "timestamp,group,topic,partition,committed_offset,log_end_offset"
KCG_HEADER = "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID"
STATUS_NAMES = {"OK", "WARN", "STOP", "STALL", "REWIND", "ERR", "NOTFOUND"}
T0 = 1_700_000_000_000


def run(capsys, *argv: str | Path) -> tuple[int, str, str]:
    code = lag_cli_cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str | Path) -> tuple[int, dict]:
    code, out, err = run(capsys, *argv, "--json")
    assert "Traceback" not in out + err
    return code, json.loads(out)


def statuses(doc: dict) -> dict[tuple[str, str, int], str]:
    return {
        (g["group"], p["topic"], p["partition"]): p["status"] for g in doc["groups"] for p in g["partitions"]
    }


def acceptance_csv(tmp_path: Path) -> Path:
    """Partition 0 WARN (lag growing), 1 OK (caught up), 2 REWIND (offsets go back at the end)."""
    rows = [CSV_HEADER]
    for i in range(10):
        ts = T0 + i * 60_000
        rows.append(f"{ts},g,t,0,{100 + i * 10},{120 + i * 20}")  # lag 20, 30, ...: never decreasing
        rows.append(f"{ts},g,t,1,{100 + i * 10},{100 + i * 10}")  # lag 0
        c2 = 500 + i * 10 if i < 8 else 300 + i  # goes backwards at the end
        rows.append(f"{ts},g,t,2,{c2},{600 + i * 10}")
    path = tmp_path / "offsets.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def acceptance_capture(tmp_path: Path) -> Path:
    """The kafka-consumer-groups capture of the acceptance check, with a '-' row per capture."""
    cap = []
    for i in range(3):
        cap.append(f"# time: 2026-11-26T10:0{i}:00Z")
        cap.append(KCG_HEADER)
        cap.append(f"g t 0 {10 + i} {20 + 5 * i} {10 + 4 * i} c1 /127.0.0.1 cl")
        cap.append(f"g t 1 - {30 + i} - - - -")
    path = tmp_path / "lag.log"
    path.write_text("\n".join(cap) + "\n")
    return path


def csv_file(tmp_path: Path, rows: list[tuple], name: str = "h.csv") -> Path:
    path = tmp_path / name
    path.write_text(CSV_HEADER + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


# ----------------------------------------------------------------------------- acceptance scenario


def test_acceptance_csv_warn_ok_rewind(capsys, tmp_path):
    code, doc = run_json(capsys, acceptance_csv(tmp_path))
    assert code == 1
    assert statuses(doc) == {("g", "t", 0): "WARN", ("g", "t", 1): "OK", ("g", "t", 2): "REWIND"}
    (group,) = doc["groups"]
    assert (group["status"], group["status_code"]) == ("ERR", 3)


def test_acceptance_capture_parses_without_traceback(capsys, tmp_path):
    code, out, err = run(capsys, acceptance_capture(tmp_path))
    assert code == 1
    assert "Traceback" not in out + err
    assert "WARN" in out
    assert "unknown CURRENT-OFFSET" in " ".join(out.split())  # the stated skip of the '-' rows
    code, doc = run_json(capsys, acceptance_capture(tmp_path))
    assert statuses(doc) == {("g", "t", 0): "WARN", ("g", "t", 1): "OK"}  # no commit: OK, as in Burrow
    part1 = doc["groups"][0]["partitions"][1]
    assert (part1["current_lag"], part1["committed_offset"], part1["window"]) == (None, None, [])


def test_text_table_shows_each_partition(capsys, tmp_path):
    code, out, _ = run(capsys, acceptance_csv(tmp_path))
    assert code == 1
    assert "group g: ERR" in out
    for needle in ("REWIND", "WARN", "OK", "381", "10/10", "2023-11-14T22:22:20Z"):
        assert needle in out


# ----------------------------------------------------------------------------- exit status and options


def test_all_groups_ok_exits_zero(capsys, tmp_path):
    rows = [(T0 + i * 60_000, "g", "t", 0, 10 * i, 10 * i) for i in range(5)]
    rows += [(T0 + i * 60_000, "h", "t", 0, 10 * i, 10 * i + 3) for i in range(5)]
    code, doc = run_json(capsys, csv_file(tmp_path, rows), "--allowed-lag", "3")
    assert code == 0
    assert [g["status"] for g in doc["groups"]] == ["OK", "OK"]


def test_allowed_lag_boundary(capsys, tmp_path):
    rows = [(T0 + i * 60_000, "g", "t", 0, 10 * i, 10 * i + 5 + i) for i in range(5)]  # lag 5..9, growing
    path = csv_file(tmp_path, rows)
    assert run_json(capsys, path, "--allowed-lag", "9")[1]["groups"][0]["status"] == "OK"
    assert (
        run_json(capsys, path, "--allowed-lag", "8")[1]["groups"][0]["status"] == "OK"
    )  # lag 5 <= 8 in window
    assert run_json(capsys, path, "--allowed-lag", "4")[1]["groups"][0]["status"] == "WARN"


def test_intervals_limits_the_window(capsys, tmp_path):
    # caught up long ago, lagging and growing in the last 3 commits
    rows = [(T0 + i * 60_000, "g", "t", 0, 10 * i, 10 * i + (0 if i < 7 else i)) for i in range(10)]
    path = csv_file(tmp_path, rows)
    code, doc = run_json(capsys, path)
    assert (code, statuses(doc)[("g", "t", 0)]) == (0, "OK")
    code, doc = run_json(capsys, path, "--intervals", "3")
    assert (code, statuses(doc)[("g", "t", 0)]) == (1, "WARN")
    assert len(doc["groups"][0]["partitions"][0]["window"]) == 3


def test_min_distance_merges_close_commits(capsys, tmp_path):
    rows = [(T0 + i * 500, "g", "t", 0, 10 * i, 10 * i + 5) for i in range(4)]  # every 0.5 s
    path = csv_file(tmp_path, rows)
    assert len(run_json(capsys, path)[1]["groups"][0]["partitions"][0]["window"]) == 2
    assert len(run_json(capsys, path, "--min-distance", "0")[1]["groups"][0]["partitions"][0]["window"]) == 4


def test_now_later_than_the_window_span_stops(capsys, tmp_path):
    path = acceptance_csv(tmp_path)
    last = T0 + 9 * 60_000
    code, doc = run_json(capsys, path, "--now", str(last + 9 * 60_000))
    assert code == 1
    assert statuses(doc)[("g", "t", 0)] == "WARN"
    code, doc = run_json(capsys, path, "--now", str(last + 9 * 60_000 + 1))
    assert code == 1
    # partition 0: a recent end offset (120..180) is <= the last commit 190 (Burrow #303): no STOP
    assert statuses(doc)[("g", "t", 0)] == "WARN"
    # partition 2: every recent end offset (600..690) is beyond the last commit 309: STOP
    assert statuses(doc)[("g", "t", 2)] == "STOP"
    assert statuses(doc)[("g", "t", 1)] == "OK"  # no lag: never in error
    assert doc["now_ms"] == last + 9 * 60_000 + 1
    # with 3 intervals the recent end offsets of partition 0 are 260..300: STOP
    code, doc = run_json(capsys, path, "--now", str(last + 2 * 60_000 + 1), "--intervals", "3")
    assert statuses(doc)[("g", "t", 0)] == "STOP"


def test_now_earlier_ignores_later_rows_with_a_note(capsys, tmp_path):
    before_rewind = "2023-11-14T22:20:20Z"
    code, doc = run_json(capsys, acceptance_csv(tmp_path), "--now", before_rewind)
    assert code == 1
    assert statuses(doc)[("g", "t", 2)] == "WARN"
    assert doc["now"] == "2023-11-14T22:20:20Z"
    assert any("6 row(s) after --now" in n for n in doc["notes"])


def test_json_shape(capsys, tmp_path):
    code, doc = run_json(capsys, acceptance_csv(tmp_path))
    assert code == 1
    assert {"groups", "notes", "now"} <= set(doc)
    assert isinstance(doc["notes"], list)
    for group in doc["groups"]:
        assert {"group", "status", "status_code", "partitions"} <= set(group)
        assert group["status"] in STATUS_NAMES
        for part in group["partitions"]:
            assert {
                "topic",
                "partition",
                "status",
                "status_code",
                "current_lag",
                "committed_offset",
                "log_end_offset",
                "window",
            } <= set(part)
            assert part["status"] in STATUS_NAMES
            assert isinstance(part["window"], list) and part["window"]
            assert {"timestamp", "offset", "lag"} <= set(part["window"][0])
    p2 = doc["groups"][0]["partitions"][2]
    assert (p2["status_code"], p2["current_lag"], p2["committed_offset"], p2["log_end_offset"]) == (
        6,
        381,
        309,
        690,
    )
    assert [c["offset"] for c in p2["window"]][-3:] == [570, 308, 309]


def test_over_time(capsys, tmp_path):
    code, out, _ = run(capsys, acceptance_csv(tmp_path), "--over-time")
    assert "over time" in out and "2023-11-14T22:21:20Z" in out
    code, doc = run_json(capsys, acceptance_csv(tmp_path), "--over-time")
    assert code == 1
    timeline = [t["status"] for t in doc["groups"][0]["partitions"][2]["over_time"]]
    assert timeline == ["STALL"] + ["WARN"] * 7 + ["REWIND"] * 2


def test_single_commit_stall_is_explained(capsys, tmp_path):
    code, doc = run_json(capsys, csv_file(tmp_path, [(T0, "g", "t", 0, 1, 5)]))
    assert code == 1
    assert statuses(doc) == {("g", "t", 0): "STALL"}
    assert any("g/t/0: STALL from a single commit" in n for n in doc["notes"])


def test_notfound_only_group_is_not_ok(capsys, tmp_path):
    rows = [(T0, "g", "t", 0, "-", 5), (T0 + 60_000, "g", "t", 0, "-", 6)]
    code, doc = run_json(capsys, csv_file(tmp_path, rows))
    assert code == 1
    assert doc["groups"][0]["status"] == "NOTFOUND"
    assert doc["groups"][0]["partitions"][0]["committed_offset"] is None


def test_unsorted_input_is_sorted_with_a_note(capsys, tmp_path):
    rows = [(T0 + i * 60_000, "g", "t", 0, 10 * i, 10 * i + 5 + i) for i in range(5)]
    path = csv_file(tmp_path, [rows[3], rows[0], rows[4], rows[1], rows[2]])
    code, doc = run_json(capsys, path)
    assert code == 1
    assert statuses(doc)[("g", "t", 0)] == "WARN"
    assert [c["offset"] for c in doc["groups"][0]["partitions"][0]["window"]] == [0, 10, 20, 30, 40]
    assert any("h.csv:3" in n and "sorted by time" in n for n in doc["notes"])


# ----------------------------------------------------------------------------- the unclean-election rewind


def unclean_election_trace(tmp_path: Path) -> Path:
    """A model-style trace: the consumer is behind, an unclean election truncates the log below its
    committed offset, then the consumer resets to the earliest offset (auto.offset.reset=earliest)."""
    history = [(10 + 2 * k, 2 * k) for k in range(6)]  # (HW, committed): lag 10 each step
    history += [(4, 10)]  # unclean election: new leader's HW 4, committed 10 is beyond it
    history += [(6, 0), (8, 1)]  # the consumer resets to earliest and re-reads
    steps = []
    for hw, committed in history:
        lag = {
            "log_end_offset": hw,
            "high_watermark": hw,
            "committed_offset": committed,
            "lag": hw - committed,
        }
        steps.append({"action": {"name": "tick"}, "observation": {"lag": lag}})
    doc = {
        "format": "ackcheck-trace",
        "version": 1,
        "config": {"unclean.leader.election.enable": True},
        "steps": steps,
    }
    path = tmp_path / "unclean.json"
    path.write_text(json.dumps(doc))
    return path


def test_trace_unclean_election_rewind(capsys, tmp_path):
    code, doc = run_json(capsys, unclean_election_trace(tmp_path))
    assert code == 1
    assert statuses(doc) == {("ackcheck", "trace", 0): "REWIND"}
    part = doc["groups"][0]["partitions"][0]
    assert (part["current_lag"], part["committed_offset"], part["log_end_offset"]) == (7, 1, 8)
    assert doc["now_ms"] == 8 * 60_000
    assert [c["lag"] for c in part["window"]][6] == 0  # negative lag clamped, as Burrow does
    assert any("beyond the log end offset" in n and "unclean" in n for n in doc["notes"])


# ----------------------------------------------------------------------------- plots


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_is_written(capsys, tmp_path, suffix):
    target = tmp_path / f"lag{suffix}"
    code, out, err = run(capsys, acceptance_csv(tmp_path), "--plot", target)
    assert code == 1, err
    assert target.stat().st_size > 1000
    head = target.read_bytes()[:64]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in target.read_bytes()[:2000]
    assert f"plot written to {target}" in out


def test_status_bands_merge_equal_neighbours():
    ok, warn = Status.OK, Status.WARN
    timeline = [
        PartitionEvaluation(t, st, 1, 1, 2, ()) for t, st in [(0, ok), (10, ok), (20, warn), (40, ok)]
    ]
    assert status_bands(timeline) == [(0, 20, ok), (20, 40, warn), (40, 50, ok)]


def test_plot_survives_awkward_names(capsys, tmp_path):
    path = csv_file(
        tmp_path, [(T0, "pay$ments", "t_$x$", 0, 1, 5), (T0 + 60_000, "pay$ments", "t_$x$", 0, 2, 9)]
    )
    code, out, err = run(capsys, path, "--plot", tmp_path / "odd.png")
    assert code == 1, err
    assert "pay$ments" in out
    assert (tmp_path / "odd.png").stat().st_size > 1000


def test_plot_with_json_and_trace(capsys, tmp_path):
    target = tmp_path / "trace.png"
    code, doc = run_json(capsys, unclean_election_trace(tmp_path), "--plot", target)
    assert code == 1 and target.exists()
    assert doc["groups"][0]["status"] == "ERR"


def test_plot_bad_suffix_is_a_usage_error(capsys, tmp_path):
    code, out, err = run(capsys, acceptance_csv(tmp_path), "--plot", tmp_path / "lag.jpg")
    assert (code, out) == (2, "")
    assert "--plot" in err and ".png or .svg" in err


def test_plot_unwritable_is_an_error(capsys, tmp_path):
    code, out, err = run(capsys, acceptance_csv(tmp_path), "--plot", tmp_path / "no" / "such" / "dir.png")
    assert (code, out) == (2, "")
    assert "cannot write the plot" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- bad input: exit 2, one line


BAD_INPUTS = [
    ("missing.csv", "timestamp,group,topic,partition,committed_offset\n0,g,t,0,1\n", ":1:", "log_end_offset"),
    ("nonnum.csv", f"{CSV_HEADER}\n0,g,t,0,1,2\n60000,g,t,0,x,2\n", ":3:", "committed_offset 'x'"),
    ("empty.csv", "", "", "empty file"),
    ("prose.txt", "hello\n", ":1:", "unknown format"),
    ("norows.log", f"{KCG_HEADER}\ng t 0 1 2 1 - - -\n", ":2:", "# time:"),
    ("bad.log", f"# time: 0\n{KCG_HEADER}\ng t 0 1 many 1 - - -\n", ":3:", "LOG-END-OFFSET 'many'"),
    (
        "bad.json",
        '{"format": "ackcheck-trace", "version": 1, "steps": [{"observation": {}}]}',
        ":steps[0]",
        "lag",
    ),
]


@pytest.mark.parametrize(("name", "text", "where", "fragment"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, name, text, where, fragment):
    path = tmp_path / name
    path.write_text(text)
    code, out, err = run(capsys, acceptance_csv(tmp_path), path)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert f"{path}{where}" in err
    assert fragment in err


def test_unreadable_file_exits_2(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path / "nope.csv")
    assert (code, out) == (2, "")
    assert "nope.csv: cannot read" in err and err.count("\n") == 1


def test_no_rows_at_all_exits_2(capsys, tmp_path):
    path = tmp_path / "quiet.log"
    path.write_text("# time: 0\nConsumer group 'g' has no active members.\n")
    code, out, err = run(capsys, path)
    assert (code, out) == (2, "")
    assert "no offset rows" in err


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--intervals", "0"], "--intervals must be >= 1"),
        (["--allowed-lag", "-1"], "--allowed-lag must be >= 0"),
        (["--min-distance", "-2"], "--min-distance must be >= 0"),
        (["--intervals", "ten"], "--intervals"),
        (["--now", "soon"], "--now"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, tmp_path, flags, fragment):
    code, out, err = run(capsys, acceptance_csv(tmp_path), *flags)
    assert (code, out) == (2, "")
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_no_files_is_a_usage_error(capsys):
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert "FILE" in err


def test_help_exits_0(capsys):
    code, out, err = run(capsys, "--help")
    assert err == ""
    assert code == 0 and "ackcheck lag" in out and "--min-distance" in out
