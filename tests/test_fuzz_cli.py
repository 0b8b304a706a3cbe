"""`ackcheck fuzz`: the check contract (exit codes, JSON shape), seeds, trace output."""

import json

from ackcheck.checker.cli import main
from ackcheck.checker.engines.check import replay_on_model
from ackcheck.traces.format import load_trace

SMALL = ["--max-records", "1", "--max-crashes", "1", "--max-isr-shrinks", "1", "--steps", "30"]


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_acks1_loss_found_json_contract_and_trace(capsys, tmp_path):
    t = tmp_path / "f.json"
    rc, out, _ = run(capsys, "fuzz", "--acks", "1", "--seed", "1", "--json", "--trace-out", str(t), *SMALL,
                     "--examples", "300", "--invariant", "acked-write-survives")
    assert rc == 1
    d = json.loads(out)
    rc2, out2, _ = run(capsys, "check", "--acks", "1", "--json")
    assert rc2 == 1
    assert set(json.loads(out2)) <= set(d)  # the same shape as `check` (plus "fuzz")
    assert d["engine"] == "fuzz" and d["verdict"] == "violated"
    assert d["violation"]["invariant"] == "acked-write-survives"
    assert d["fuzz"]["seed"] == 1 and d["fuzz"]["minimized_steps"] <= d["fuzz"]["shrunk_steps"]
    assert d["trace"]["violation"]["invariant"] == "acked-write-survives"
    trace = load_trace(t)
    assert trace.as_dict() == d["trace"]
    rep = replay_on_model(trace)
    assert rep.ok and rep.mismatch is None and rep.violation[2] == trace.violation.step
    rc, out, _ = run(capsys, "view", str(t))
    assert rc == 0 and "acked-write-survives violated" in out


def test_no_violation_is_reported_as_such(capsys):
    rc, out, _ = run(capsys, "fuzz", "--acks", "all", "--min-insync-replicas", "2", "--seed", "2", *SMALL,
                     "--examples", "25", "--invariant", "acked-write-survives")
    assert rc == 0
    assert "NO VIOLATION FOUND" in out and "not a proof" in out and "HOLDS" not in out
    rc, out, _ = run(capsys, "fuzz", "--acks", "all", "--min-insync-replicas", "2", "--seed", "2", *SMALL,
                     "--examples", "25", "--invariant", "acked-write-survives", "--json")
    d = json.loads(out)
    assert rc == 0 and d["verdict"] == "no-violation-found" and d["violation"] is None and d["trace"] is None
    assert d["stats"]["complete"] is False and d["stats"]["transitions"] > 0


def test_fuzz_default_bounds_apply_only_where_not_given(capsys):
    _, out, _ = run(capsys, "fuzz", "--acks", "1", "--seed", "1", "--json", "--examples", "5", "--steps", "5",
                    "--max-crashes", "0", "--invariant", "hw-bound")
    d = json.loads(out)
    from ackcheck.checker.cli.fuzz import FUZZ_DEFAULT_BOUNDS

    assert d["bounds"]["max_crashes"] == 0
    assert d["bounds"]["max_records"] == FUZZ_DEFAULT_BOUNDS["max_records"]
    assert "max_crashes" not in d["fuzz"]["defaulted_bounds"]


def test_seed_makes_the_run_reproducible(capsys):
    argv = ["fuzz", "--acks", "1", "--json", "--seed", "11", *SMALL, "--examples", "200", "--max-records", "2"]
    _, a, _ = run(capsys, *argv)
    _, b, _ = run(capsys, *argv)
    da, db = json.loads(a), json.loads(b)
    assert da["trace"] == db["trace"]
    assert da["stats"]["transitions"] == db["stats"]["transitions"]
    assert da["stats"]["distinct_states"] == db["stats"]["distinct_states"]


def test_bad_usage_exits_2(capsys):
    for argv in (["fuzz", "--examples", "0"], ["fuzz", "--steps", "0"], ["fuzz", "--invariant", "nope"],
                 ["fuzz", "--acks", "7"], ["fuzz", "--seed", "-1"], ["fuzz", "--max-records", "99"],
                 ["fuzz", "--bogus"]):
        rc, _, err = run(capsys, *argv)
        assert rc == 2, argv
        assert "Traceback" not in err and err.count("\n") == 1, err


def test_no_minimize_keeps_hypothesis_trace(capsys):
    rc, out, _ = run(capsys, "fuzz", "--acks", "1", "--seed", "1", "--json", "--no-minimize", *SMALL,
                     "--examples", "300")
    d = json.loads(out)
    assert rc == 1 and d["fuzz"]["minimized_steps"] is None
    assert len(d["trace"]["steps"]) - 1 == d["fuzz"]["shrunk_steps"]
