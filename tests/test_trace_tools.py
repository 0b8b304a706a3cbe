"""`ackcheck minimize` (ddmin) and `ackcheck export --itf` (read back with itf-py)."""

import json
from pathlib import Path

import itf_py
import pytest
from conftest import make_config

from ackcheck.checker.cli import main
from ackcheck.checker.engines.check import replay_on_model
from ackcheck.checker.engines.fuzz import run_fuzz
from ackcheck.checker.engines.itf import trace_to_itf
from ackcheck.checker.engines.minimize import ddmin, minimize_trace
from ackcheck.traces.format import TraceError, load_trace

CORPUS = Path(__file__).resolve().parent.parent / "traces" / "corpus"


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def long_trace():
    """An unshrunk fuzz counterexample: long, full of irrelevant steps (the first seed
    whose first failing execution is at least 12 steps long)."""
    cfg = make_config({"acks": "all", "min.insync.replicas": "1"}, max_records=4, max_power_losses=1,
                      max_isr_shrinks=2)
    for seed in range(3, 20):
        r = run_fuzz(cfg, ["acked-write-survives"], examples=200, steps=60, seed=seed, shrink=False)
        if r.trace is not None and len(r.trace.steps) > 12:
            return r.trace
    pytest.fail("no long fuzz counterexample found")


# ---------------------------------------------------------------------------- ddmin
def test_ddmin_finds_a_one_minimal_subsequence():
    def test(xs):
        return list(xs) if 3 in xs and 7 in xs else None

    assert ddmin(list(range(20)), test) == [3, 7]
    with pytest.raises(ValueError):
        ddmin([1, 2], test)


def test_minimize_shortens_a_long_fuzz_trace_and_it_still_violates(long_trace):
    inv = long_trace.violation.invariant
    m = minimize_trace(long_trace)
    t = m.trace
    assert m.original_steps == len(long_trace.steps) - 1
    assert len(t.steps) < len(long_trace.steps)
    assert t.violation.invariant == inv and t.violation.step == len(t.steps) - 1
    rep = replay_on_model(t)
    assert rep.ok and rep.mismatch is None
    assert rep.violation[0] == inv and rep.violation[2] == t.violation.step
    # 1-minimal: dropping any single action loses the violation
    from ackcheck.checker.engines.minimize import _Oracle
    from ackcheck.traces.settings import config_from_dict

    oracle = _Oracle(config_from_dict(t.config), inv)
    acts = t.actions
    for i in range(len(acts)):
        assert oracle(acts[:i] + acts[i + 1:]) is None


def test_minimize_cli(capsys, tmp_path, long_trace):
    src = tmp_path / "long.json"
    long_trace.write(src)
    rc, out, _ = run(capsys, "minimize", str(src))
    assert rc == 0 and "still violated" in out
    default_out = tmp_path / "long.min.json"
    assert default_out.exists()
    out_file = tmp_path / "short.json"
    rc, out, _ = run(capsys, "minimize", str(src), "--out", str(out_file), "--json")
    d = json.loads(out)
    assert rc == 0 and d["steps"] < d["original_steps"] and d["out"] == str(out_file)
    assert load_trace(out_file).as_dict() == d["trace"] == load_trace(default_out).as_dict()


def test_minimize_bad_input_exits_2(capsys, tmp_path):
    t = load_trace(CORPUS / "acks1-leader-loss.json")
    t.violation = None
    p = tmp_path / "noviolation.json"
    t.write(p)
    rc, _, err = run(capsys, "minimize", str(p))
    assert rc == 2 and "no violation" in err
    rc, _, err = run(capsys, "minimize", str(tmp_path / "missing.json"))
    assert rc == 2 and "no such file" in err
    # a trace whose invariant the actions do not break
    rc, _, err = run(capsys, "minimize", str(CORPUS / "acks1-leader-loss.json"), "--invariant", "no-duplicates")
    assert rc == 2 and "does not break" in err
    with pytest.raises(TraceError):
        minimize_trace(t)


def test_minimizing_a_bfs_trace_keeps_it():
    t = load_trace(CORPUS / "acks1-leader-loss.json")
    m = minimize_trace(t)
    assert len(m.trace.steps) == len(t.steps)  # BFS traces are already shortest


# ------------------------------------------------------------------------------ ITF
@pytest.mark.parametrize("name", ["acks1-leader-loss", "reorder-without-idempotence"])
def test_itf_export_reads_back_with_itf_py(capsys, tmp_path, name):
    src = CORPUS / f"{name}.json"
    trace = load_trace(src)
    out = tmp_path / "t.itf.json"
    rc, _, _ = run(capsys, "export", "--itf", str(src), "--out", str(out))
    assert rc == 0
    raw = json.loads(out.read_text())
    itf = itf_py.trace_from_json(raw)
    assert len(itf.states) == len(trace.steps)
    assert "leader" in itf.vars and "replicas" in itf.vars and "action" in itf.vars
    for k, (st, (action, obs)) in enumerate(zip(itf.states, trace.steps)):
        v = st.values
        assert st.meta["index"] == k
        assert v["leader"] == obs.leader and v["leader_epoch"] == obs.leader_epoch
        assert v["isr"] == frozenset(obs.isr) and v["in_flight"] == frozenset(obs.in_flight)
        assert len(v["replicas"]) == len(obs.replicas)
        for rep, r in zip(v["replicas"], obs.replicas):
            assert rep.log_end_offset == r.log_end_offset and rep.alive == r.alive
            assert [tuple(b.records) for b in rep.log] == [tuple(b.records) for b in r.log]
        assert v["mbt::actionTaken"] == ("init" if action is None else action[0])
        assert type(v["action"]).__name__ == ("init" if action is None else action[0])
    # ints are ITF bigints throughout
    assert raw["states"][0]["leader"] == {"#bigint": "0"}
    assert raw["#meta"]["ackcheck"]["violation"]["invariant"] == trace.violation.invariant
    assert raw["states"][trace.violation.step]["#meta"]["violation"] == trace.violation.invariant
    # the same to stdout
    rc, text, _ = run(capsys, "export", "--itf", str(src))
    assert rc == 0 and json.loads(text) == raw


def test_itf_round_trips_through_itf_py_writer():
    t = load_trace(CORPUS / "duplicate-without-idempotence.json")
    raw = trace_to_itf(t)
    back = itf_py.trace_to_json(itf_py.trace_from_json(raw))
    assert itf_py.trace_from_json(back).states[-1].values["committed_log"] == \
        itf_py.trace_from_json(raw).states[-1].values["committed_log"]


def test_itf_export_of_a_lasso_carries_its_loop():
    """A liveness counterexample found by the engine: ITF's `loop` is its loop_start, and
    itf-py reads it back."""
    from ackcheck import build_config
    from ackcheck.checker.engines.check import run_check

    r = run_check(build_config({"acks": "1"}), ["eventually-visible"])
    assert r.verdict == "violated" and r.trace.loop_start is not None
    raw = trace_to_itf(r.trace)
    assert raw["loop"] == r.trace.loop_start
    assert itf_py.trace_from_json(raw).loop == r.trace.loop_start
    assert "loop" not in trace_to_itf(load_trace(CORPUS / "duplicate-without-idempotence.json"))


def test_export_bad_usage(capsys, tmp_path):
    rc, _, err = run(capsys, "export", str(CORPUS / "acks1-leader-loss.json"))
    assert rc == 2 and "--itf" in err
    rc, _, err = run(capsys, "export", "--itf", str(tmp_path / "nope.json"))
    assert rc == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "ackcheck-trace", "version": 1, "steps": "nope"}')
    rc, _, err = run(capsys, "export", "--itf", str(bad))
    assert rc == 2 and "Traceback" not in err
