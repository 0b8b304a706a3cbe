"""`ackcheck matrix`: configurations x guarantees, formats, cache, and the run folding it relies on."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ctrl_c_after

from ackcheck.checker.audit.matrix import build_row, seed_rows, space_rows
from ackcheck.checker.audit.runs import run_key
from ackcheck.checker.cli import matrix as matrix_cli
from ackcheck.checker.engines.check import run_check
from ackcheck.traces.format import load_trace
from ackcheck.traces.settings import ConfigError, Setting, build_config

# a small space: 4 configurations, one Kafka rejects (explicit idempotence with acks=1)
SMALL = ["--acks", "1,all", "--min-insync-replicas", "1", "--unclean", "false", "--idempotence", "false,true",
         "--max-in-flight", "5", "--retries", "3", "--no-seed", "--guarantee", "no-acked-loss",
         "--guarantee", "no-duplicates", "--jobs", "2"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("matrix-cache"))


def run(tmp_path, cache, fmt, *extra) -> tuple[int, Path]:
    out = tmp_path / f"m.{ {'markdown': 'md'}.get(fmt, fmt) }"
    rc = matrix_cli.main(SMALL + ["--format", fmt, "--out", str(out), "--cache-dir", cache, *extra])
    return rc, out


def test_small_space_json(tmp_path, cache):
    rc, out = run(tmp_path, cache, "json")
    assert rc == 0
    j = json.loads(out.read_text())
    assert [g["id"] for g in j["guarantees"]] == ["no-acked-loss", "no-duplicates"]
    assert all(g["bounds"] and g["faults"] and g["invariants"] for g in j["guarantees"])
    rows = {r["label"]: r for r in j["rows"]}
    assert len(rows) == 4
    bad = rows["acks=1 minISR=1 unclean=false idem=true inflight=5 retries=3"]
    assert not bad["valid"] and "conflicts with acks=1" in bad["invalid"] and not bad["cells"]
    acks1 = rows["acks=1 minISR=1 unclean=false idem=false inflight=5 retries=3"]["cells"]
    assert acks1["no-acked-loss"]["verdict"] == "violated"
    assert acks1["no-duplicates"]["verdict"] == "violated"  # retries without idempotence
    trace = load_trace(out.parent / acks1["no-acked-loss"]["trace_file"])  # relative to --out
    assert trace.violation.invariant == "acked-write-survives"
    assert trace.config["acks"] == "1"
    safe = rows["acks=all minISR=1 unclean=false idem=true inflight=5 retries=3"]["cells"]
    assert safe["no-acked-loss"]["verdict"] == "holds" and safe["no-acked-loss"]["states"] > 100
    assert j["runs"] >= 3 and j["states"] > 0


def test_small_space_markdown(tmp_path, cache):
    rc, out = run(tmp_path, cache, "markdown")
    text = out.read_text()
    assert rc == 0
    assert "| configuration | `no-acked-loss` | `no-duplicates` |" in text
    assert "invalid (Kafka rejects:" in text
    assert re.search(r"\*\*\[violated\]\(m-traces/[^)]+\.no-acked-loss\.json\)\*\*", text)
    assert re.search(r"holds \([\d,]+\)", text)
    assert "fault assumptions" in text


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.refs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href"):
                self.refs.append((tag, v))


def test_small_space_html_is_self_contained(tmp_path, cache):
    rc, out = run(tmp_path, cache, "html")
    text = out.read_text()
    p = _Collect()
    p.feed(text)
    assert rc == 0
    assert "table" in p.tags and "style" in p.tags
    assert "script" not in p.tags and "link" not in p.tags  # no external CSS or JS
    assert all(tag == "a" and not v.startswith(("http", "/")) for tag, v in p.refs)
    assert any(v.endswith(".no-acked-loss.json") for _, v in p.refs)
    assert "invalid (Kafka rejects" in text and "class='holds'" in text and "class='violated'" in text


def test_repeated_run_uses_the_cache(tmp_path):
    cache = str(tmp_path / "cache")
    matrix_cli.main(SMALL + ["--format", "json", "--out", str(tmp_path / "a.json"), "--cache-dir", cache])
    first = json.loads((tmp_path / "a.json").read_text())
    matrix_cli.main(SMALL + ["--format", "json", "--out", str(tmp_path / "b.json"), "--cache-dir", cache])
    second = json.loads((tmp_path / "b.json").read_text())
    assert first["cached_runs"] == 0 and first["states"] > 0
    assert second["cached_runs"] == second["runs"] == first["runs"]
    assert second["states"] == 0
    def strip(j):
        return [{g: (c["verdict"], c["states"]) for g, c in r["cells"].items()} for r in j["rows"]]
    assert strip(first) == strip(second)


def test_no_cache_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    matrix_cli.main(["--acks", "1", "--min-insync-replicas", "1", "--unclean", "false", "--idempotence", "false",
                 "--max-in-flight", "1", "--retries", "0", "--no-seed", "--guarantee", "no-acked-loss",
                 "--no-cache", "--format", "json", "--out", "m.json", "--jobs", "1"])
    assert not (tmp_path / ".ackcheck-cache").exists()
    assert json.loads((tmp_path / "m.json").read_text())["rows"][0]["cells"]["no-acked-loss"]["verdict"] == "violated"


def test_default_space_has_the_issue_dimensions_and_seed_rows():
    args = matrix_cli.build_parser().parse_args([])
    values = matrix_cli.parse_values(args)
    assert values == {"acks": ["1", "all"], "min.insync.replicas": ["1", "2"],
                      "unclean.leader.election.enable": ["false", "true"], "enable.idempotence": ["false", "true"],
                      "max.in.flight.requests.per.connection": ["1", "5"], "retries": ["0", "3"]}
    rows = space_rows(values, 3, None) + seed_rows(None)
    for r in rows:
        build_row(r, 3, [])
    assert len(rows) == 64 + len(seed_rows(None))
    assert sum(r.invalid is not None for r in rows) == 24  # explicit idempotence with acks=1 or retries=0
    seeds = [r for r in rows if r.seed]
    assert {"acks0", "acks1", "page-cache", "retries0", "zookeeper"} <= {r.seed for r in seeds}
    assert all(r.invalid is None for r in seeds)
    assert next(r for r in seeds if r.seed == "zookeeper").config.kafka_version == "3.9"


def test_bad_value_is_a_usage_error():
    with pytest.raises(ConfigError, match="--acks banana"):
        matrix_cli.main(["--acks", "1,banana", "--no-cache"])
    with pytest.raises(ConfigError, match="--format"):
        matrix_cli.main(["--format", "pdf"])


# ------------------------------------------------------------------ the folding of runs
def _stats(settings, bounds, invariants):
    cfg = build_config([Setting(k, v, "t") for k, v in settings.items()], bounds=bounds)
    r = run_check(cfg, invariants)
    return cfg, (r.verdict, r.stats.distinct_states, r.stats.transitions)


def test_canonical_config_folds_only_indistinguishable_settings():
    """retries beyond the attempt bound and in-flight beyond the batch count cannot change an
    execution: the runs are identical, so the matrix may share them (canonical_config)."""
    bounds = {"max_records": 2, "max_crashes": 0, "max_isr_shrinks": 0, "max_lost_messages": 1, "max_attempts": 2,
                  "max_elections": 0}
    inv = ["no-duplicates", "producer-order"]
    base = {"enable.idempotence": "false", "max.in.flight.requests.per.connection": "2"}
    a, sa = _stats({**base, "retries": "1"}, bounds, inv)
    b, sb = _stats({**base, "retries": "2147483647", "max.in.flight.requests.per.connection": "5"}, bounds, inv)
    assert sa == sb
    assert run_key(a, inv) == run_key(b, inv)
    c, sc = _stats({**base, "retries": "0"}, bounds, inv)  # one attempt: a different model
    assert run_key(c, inv) != run_key(a, inv) and sc != sa
    d, sd = _stats({**base, "retries": "1", "max.in.flight.requests.per.connection": "1"}, bounds, inv)
    assert run_key(d, inv) != run_key(a, inv) and sd != sa


@pytest.mark.parametrize("settings", [{"min.insync.replicas": "2"}, {"unclean.leader.election.enable": "true"}])
def test_verdict_config_idempotence_is_a_relabelling_with_one_batch_and_attempt(settings):
    bounds = {"max_records": 1, "max_crashes": 1, "max_isr_shrinks": 2, "max_attempts": 1, "max_elections": 0}
    inv = ["acked-write-survives", "read-durability"]
    a, sa = _stats({**settings, "enable.idempotence": "true"}, bounds, inv)
    b, sb = _stats({**settings, "enable.idempotence": "false"}, bounds, inv)
    assert sa == sb
    assert run_key(a, inv) != run_key(b, inv)  # traces differ: not shared
    assert run_key(a, inv, verdict_only=True) == run_key(b, inv, verdict_only=True)
    two = build_config([Setting("enable.idempotence", "true", "t")], bounds={**bounds, "max_attempts": 2})
    assert run_key(two, inv, verdict_only=True) != run_key(
        build_config([Setting("enable.idempotence", "false", "t")], bounds={**bounds, "max_attempts": 2}), inv,
        verdict_only=True)


def test_isomorphic_rows_share_a_holding_verdict(tmp_path):
    out = tmp_path / "m.json"
    matrix_cli.main(["--acks", "all", "--min-insync-replicas", "2", "--unclean", "false", "--idempotence", "false,true",
                 "--max-in-flight", "5", "--retries", "3", "--no-seed", "--guarantee", "no-acked-loss",
                 "--no-cache", "--format", "json", "--out", str(out), "--jobs", "2",
                 "--max-isr-shrinks", "1"])
    j = json.loads(out.read_text())
    cells = [r["cells"]["no-acked-loss"] for r in j["rows"]]
    assert [c["verdict"] for c in cells] == ["holds", "holds"]
    assert cells[0]["states"] == cells[1]["states"]
    assert j["runs"] == 1 and sum("isomorphic_to" in c for c in cells) == 1


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_renders_the_cells_decided_so_far(tmp_path, jobs):
    # with worker processes (the signal reaches the coordinator waiting for them) and inline
    # (a search in this process takes it: the matrix must stop too, not go on to the next cell)
    # (the whole matrix at these bounds takes minutes: Ctrl-C after 4 s)
    rc, out, err, _ = ctrl_c_after(["matrix", "--max-crashes", "2", "--no-cache", "--jobs", jobs, "--format", "json",
                                    "--trace-dir", str(tmp_path / "traces")], 4)
    assert "Traceback" not in err, err[-2000:]
    assert rc == 4, err[-500:]
    d = json.loads(out)
    assert d["interrupted"] is True
    cells = [c["verdict"] for r in d["rows"] if r["valid"] for c in r["cells"].values()]
    assert len(cells) == sum(1 for r in d["rows"] if r["valid"]) * len(d["guarantees"])  # every cell says something
    assert "incomplete" in cells
    assert "interrupted" in err and "cells decided" in err
