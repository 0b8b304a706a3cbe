"""One verdict function (checker/engines/result.py): a search cut short is never reported as holds."""

from __future__ import annotations

import json

import pytest

import ackcheck
from ackcheck.checker.audit.core import Audit, GuaranteeResult
from ackcheck.checker.audit.guarantees import BY_ID
from ackcheck.checker.audit.matrix import cell_text
from ackcheck.checker.audit.report import render_markdown
from ackcheck.checker.audit.runs import run_one
from ackcheck.checker.cli import main as cli_main
from ackcheck.checker.engines.check import model_for
from ackcheck.checker.engines.explore import explore
from ackcheck.checker.engines.result import EXIT_CODES, verdict_of
from ackcheck.invariants.catalogue import select


def run(capsys, *argv):
    rc = cli_main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_verdict_table():
    assert verdict_of("explore", violated=False) == "holds"
    assert verdict_of("explore", violated=True, complete=False) == "violated"
    assert verdict_of("explore", violated=False, complete=False) == "no-violation-up-to-depth"
    assert verdict_of("explore", violated=False, interrupted=True, complete=False) == "incomplete"
    assert verdict_of("fuzz", violated=False) == "no-violation-found"
    assert verdict_of("chaos", violated=False) == "no-violation-found"
    assert verdict_of("clients", violated=False) == "no-violation-found"
    assert verdict_of("prove", violated=False, proved=True) == "proved"
    assert verdict_of("prove", violated=False, unknown=True) == "unknown"
    assert EXIT_CODES == {"holds": 0, "violated": 1, "no-violation-up-to-depth": 0, "proved": 0,
                          "no-violation-found": 0, "incomplete": 4, "unknown": 3}


def test_depth_cut_json_is_not_holds(capsys):
    rc, out, _ = run(capsys, "check", "--acks", "1", "--max-depth", "2", "--json")
    d = json.loads(out)
    assert d["verdict"] == "no-violation-up-to-depth"
    assert d["stats"]["complete"] is False
    assert rc == EXIT_CODES["no-violation-up-to-depth"] == 0


def test_depth_cut_text_is_not_holds(capsys):
    rc, out, _ = run(capsys, "check", "--acks", "1", "--max-depth", "2")
    assert "HOLDS" not in out
    assert "NO VIOLATION up to depth 2" in out
    assert rc == 0


def test_finished_search_holds(capsys):
    rc, out, _ = run(capsys, "check", "--acks", "all", "--min-insync-replicas", "2", "--max-crashes", "0",
                     "--max-isr-shrinks", "0", "--invariant", "acked-write-survives", "--json")
    d = json.loads(out)
    assert (d["verdict"], d["stats"]["complete"], rc) == ("holds", True, 0)


def _interrupting_explore(config):
    invs = select(None, config)
    calls = []

    def progress(stats, frontier):
        calls.append(stats.distinct_states)
        raise KeyboardInterrupt

    r = explore(model_for(config, invs, lean=True), invs, progress=progress, progress_every=0.0)
    return r, calls


def test_interrupted_search_is_incomplete():
    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": 2}, max_records=2, max_crashes=1)
    r, calls = _interrupting_explore(config)
    assert calls, "the progress callback was never called: the run is too small to be interrupted"
    assert r.interrupted and not r.stats.complete
    assert r.violation is None
    assert r.verdict == "incomplete"
    assert r.exit_code == 4
    assert r.as_dict()["verdict"] == "incomplete"


def test_interrupted_check_cli_exits_4(capsys, monkeypatch):
    from ackcheck.checker.engines import check as check_engine

    real = check_engine.explore

    def explore_then_ctrl_c(model, invs, **kw):
        def progress(stats, frontier):
            raise KeyboardInterrupt
        return real(model, invs, **{**kw, "progress": progress, "progress_every": 0.0})

    monkeypatch.setattr(check_engine, "explore", explore_then_ctrl_c)
    rc, out, _ = run(capsys, "check", "--acks", "all", "--min-insync-replicas", "2", "--max-records", "2", "--json")
    d = json.loads(out)
    assert d["verdict"] == "incomplete" and d["interrupted"] is True
    assert rc == 4


def test_audit_run_with_depth_cut_does_not_hold(tmp_path):
    config = ackcheck.build_config({"acks": "1"}, max_depth=2)
    r = run_one(config, ["acked-write-survives"], cache_dir=None)
    assert r["verdict"] == "no-violation-up-to-depth"
    g = BY_ID["no-acked-loss"]
    res = GuaranteeResult(g, {"max_depth": 2}, run=r)
    audit = Audit(config, ["test"], [], [res])
    assert audit.exit_code == 0
    assert audit.failed() == ["no-acked-loss"]
    assert audit.as_dict()["summary"] == {"holds": 0, "violated": 0, "undecided": 1}
    md = render_markdown(audit)
    assert "**HOLDS**" not in md and "NO VIOLATION UP TO DEPTH" in md


def test_audit_without_a_run_is_incomplete():
    config = ackcheck.build_config({})
    audit = Audit(config, ["test"], [], [GuaranteeResult(BY_ID["no-acked-loss"], {})])
    assert audit.results[0].verdict == "incomplete"
    assert audit.exit_code == 4


@pytest.mark.parametrize("verdict,text", [("holds", "holds (7)"), ("violated", "VIOLATED"),
                                          ("no-violation-up-to-depth", "no-violation-up-to-depth (7)")])
def test_matrix_cell_words(verdict, text):
    assert cell_text({"verdict": verdict, "states": 7}) == text


def test_interrupted_audit_reports_incomplete_not_holds(monkeypatch):
    """Ctrl-C while the audit's pool runs: what was decided stays, the rest is incomplete (exit 4)."""
    from ackcheck.checker.audit import core as audit_core
    from ackcheck.checker.audit.fixes import Base

    def ctrl_c(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(audit_core.Pool, "drain", ctrl_c)
    base = Base([], None, [], {})
    config = base.build()
    guarantees = [BY_ID["no-acked-loss"], BY_ID["no-duplicates"]]
    results = audit_core.run_audit(base, config, guarantees, overrides={}, cache_dir=None, jobs=1, fixes=False)
    assert [r.verdict for r in results] == ["incomplete", "incomplete"]
    audit = Audit(config, ["test"], [], results)
    assert audit.exit_code == 4
    assert "HOLDS" not in render_markdown(audit)


def test_a_cached_cut_run_is_not_read_back_as_holds(tmp_path):
    from ackcheck.checker.audit.runs import Cache, run_key

    config = ackcheck.build_config({"acks": "1"}, max_depth=2)
    key = run_key(config, ("acked-write-survives",))
    Cache(str(tmp_path)).put(key, {"verdict": "holds", "complete": False, "violation": None, "trace": None,
                                   "states": 1, "transitions": 0, "depth": 2, "seconds": 0.0,
                                   "invariants": ["acked-write-survives"]})
    r = run_one(config, ["acked-write-survives"], cache_dir=str(tmp_path))
    assert r["cached"] and r["verdict"] == "no-violation-up-to-depth"


@pytest.mark.parametrize("flags, want", [
    ((), True),  # a human reading the terminal
    (("--json",), False),  # stdout is for the JSON object; stderr stays quiet by default
    (("--json", "--progress", "on"), True),  # a long JSON run in CI still reports on stderr
    (("--progress", "off"), False),
])
def test_check_progress_flag(capsys, monkeypatch, flags, want):
    from ackcheck.checker.engines import check as check_engine

    real = check_engine.explore
    given = []

    def recording_explore(model, invs, **kw):
        given.append(kw.get("progress") is not None)
        return real(model, invs, **kw)

    monkeypatch.setattr(check_engine, "explore", recording_explore)
    rc, out, _ = run(capsys, "check", "--acks", "all", "--min-insync-replicas", "2", *flags)
    assert rc == 0
    assert given == [want]
    if "--json" in flags:
        assert json.loads(out)["verdict"] == "holds"
