"""`ackcheck replay` and `ackcheck chaos` through the CLI dispatcher: exit codes, JSON, files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from kafka.record.memory_records import MemoryRecords

from ackcheck.checker.cli import main
from ackcheck.checker.engines.check import run_check
from ackcheck.traces.format import Trace, load_trace
from ackcheck.traces.settings import Setting, build_config


@pytest.fixture(scope="module")
def acks1_trace(tmp_path_factory) -> str:
    # bounds pinned: the schedule is send, handle, receive, rebalance to broker 1
    cfg = build_config([Setting("acks", "1", "test")],
                       bounds={"max_records": 2, "max_crashes": 1, "max_elections": 1})
    result = run_check(cfg)
    assert [a[0] for a in result.trace.actions] == ["producer_send", "broker_handle_produce", "producer_receive",
                                                    "controller_elect"]
    path = tmp_path_factory.mktemp("traces") / "a1.json"
    result.trace.write(path)
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_confirms_with_json(acks1_trace, capsys):
    code, out, _ = run(capsys, "replay", acks1_trace, "--json")
    assert code == 0
    d = json.loads(out)
    assert {"confirmed", "conformant", "first_difference", "violation", "steps", "seconds",
            "steps_per_second"} <= set(d)
    assert d["confirmed"] is True and d["conformant"] is True and d["first_difference"] is None
    assert d["violation"]["invariant"] == "acked-write-survives" and d["steps"] == 4


def test_replay_text_and_model(acks1_trace, capsys):
    code, out, _ = run(capsys, "replay", acks1_trace)
    assert code == 0 and "CONFIRMED acked-write-survives at step 4" in out and "conformance:" in out
    code, out, _ = run(capsys, "replay", acks1_trace, "--on", "model")
    assert code == 0 and "on the model" in out and "CONFIRMED" in out


def test_replay_keep_dir_holds_kafka_segments(acks1_trace, tmp_path, capsys):
    keep = tmp_path / "data"
    code, out, _ = run(capsys, "replay", acks1_trace, "--on", "broker", "--keep-dir", str(keep), "--json")
    assert code == 0 and json.loads(out)["data_dir"] == str(keep)
    logs = [os.path.join(dp, n) for dp, _, ns in os.walk(keep) for n in ns if n.endswith(".log")]
    nonempty = [p for p in logs if os.path.getsize(p) > 0]
    assert nonempty
    n = 0
    for p in nonempty:
        mr = MemoryRecords(Path(p).read_bytes())
        while (b := mr.next_batch()) is not None:
            assert b.validate_crc() and b.magic == 2
            n += len(list(b))
    assert n >= 1
    # a non-empty keep dir is refused
    code, _, err = run(capsys, "replay", acks1_trace, "--keep-dir", str(keep))
    assert code == 2 and "--keep-dir" in err


def test_replay_reports_the_first_divergence(acks1_trace, tmp_path, capsys):
    d = json.loads(Path(acks1_trace).read_text())
    d["steps"][3]["observation"]["producer"][0]["offset"] = 7
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    code, out, _ = run(capsys, "replay", str(bad))
    assert code == 1
    assert "DIVERGENCE at step 3 (producer_receive(0, 1)): producer[0].offset" in out
    code, out, _ = run(capsys, "replay", str(bad), "--json")
    j = json.loads(out)
    assert j["conformant"] is False and j["first_difference"]["field"] == "producer[0].offset"
    assert (j["first_difference"]["trace"], j["first_difference"]["actual"]) == (7, 0)


def test_replay_action_not_enabled_is_a_divergence(acks1_trace, tmp_path, capsys):
    d = json.loads(Path(acks1_trace).read_text())
    d["steps"][1], d["steps"][2] = d["steps"][2], d["steps"][1]  # handle before send
    bad = tmp_path / "swapped.json"
    bad.write_text(json.dumps(d))
    code, out, _ = run(capsys, "replay", str(bad), "--json")
    j = json.loads(out)
    assert code == 1 and j["first_difference"]["step"] == 1 and j["first_difference"]["field"] == "action"
    assert "not enabled" in j["error"]


def test_replay_not_confirmed_and_no_violation(acks1_trace, tmp_path, capsys):
    d = json.loads(Path(acks1_trace).read_text())
    d["violation"]["step"] = 3  # the broker breaks it at step 4, not 3
    p = tmp_path / "wrong-step.json"
    p.write_text(json.dumps(d))
    code, out, _ = run(capsys, "replay", str(p))
    assert code == 1 and "NOT CONFIRMED" in out
    t = load_trace(acks1_trace)
    prefix = Trace(config=t.config, steps=t.steps[:4], violation=None)  # before the election
    p2 = tmp_path / "prefix.json"
    prefix.write(p2)
    code, out, _ = run(capsys, "replay", str(p2))
    assert code == 0 and "no violation" in out


@pytest.mark.parametrize("content,message", [
    ('{"format": "ackcheck-trace", "version": 1, "config": {}, "steps": []}', "$.steps: empty"),
    ("not json", "not JSON"),
    ('{"format": "other"}', "$.format"),
])
def test_replay_bad_input_exits_2_with_one_line(content, message, tmp_path, capsys):
    p = tmp_path / "t.json"
    p.write_text(content)
    code, out, err = run(capsys, "replay", str(p), "--on", "broker")
    assert code == 2 and message in err and not out
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_replay_unknown_violated_invariant_is_bad_input(acks1_trace, tmp_path, capsys):
    d = json.loads(Path(acks1_trace).read_text())
    d["violation"]["invariant"] = "acked-writes-survive"
    p = tmp_path / "u.json"
    p.write_text(json.dumps(d))
    code, _, err = run(capsys, "replay", str(p))
    assert code == 2 and "$.violation.invariant: unknown invariant" in err


def test_replay_bad_broker_index_and_missing_file(acks1_trace, tmp_path, capsys):
    d = json.loads(Path(acks1_trace).read_text())
    d["steps"][1]["action"]["broker"] = 7
    p = tmp_path / "b.json"
    p.write_text(json.dumps(d))
    code, _, err = run(capsys, "replay", str(p))
    assert code == 2 and "$.steps[1].action.broker: 7 is not a broker" in err
    code, _, err = run(capsys, "replay", str(tmp_path / "nope.json"))
    assert code == 2 and "no such file" in err


def test_chaos_json_finds_acks1_loss_and_writes_a_replayable_trace(tmp_path, capsys):
    out_path = tmp_path / "chaos.json"
    found = None
    for seed in range(1, 9):
        code, out, _ = run(capsys, "chaos", "--acks", "1", "--seed", str(seed), "--steps", "300", "--json",
                           "--trace-out", str(out_path))
        assert code in (0, 1)
        if code == 1:
            found = json.loads(out)
            break
    assert found is not None
    assert found["verdict"] == "violated" and found["violation"]["invariant"] == "acked-write-survives"
    assert found["runs"][0]["steps"] >= 1 and found["runs"][0]["steps_per_second"] > 0
    assert found["model_conformance"]["ok"] is True
    assert found["model_conformance"]["violation_on_model"]["confirmed"] is True
    assert found["trace"]["violation"] == {k: found["violation"][k] for k in ("invariant", "message", "step")}
    code, out, _ = run(capsys, "replay", str(out_path))
    assert code == 0 and "CONFIRMED" in out
    code, out, _ = run(capsys, "replay", str(out_path), "--on", "model")
    assert code == 0


def test_chaos_text_summary_without_violation(capsys):
    code, out, _ = run(capsys, "chaos", "--seed", "3", "--steps", "120", "--runs", "2", "--invariant", "hw-bound",
                       "--max-power-losses", "1")
    assert code == 0
    assert "run 0:" in out and "run 1:" in out and "steps/s" in out and "faults:" in out
    assert "model conformance: ok" in out and "no violation of 1 invariant(s) in 240 steps" in out


def test_chaos_keep_going_counts_violations(capsys):
    code, out, _ = run(capsys, "chaos", "--acks", "1", "--seed", "2", "--steps", "300", "--keep-going",
                       "--no-model-check", "--json")
    d = json.loads(out)
    assert code == 1 and d["steps"] == 300 and d["runs"][0]["violations"] >= 2
    assert d["model_conformance"]["ok"] is None


@pytest.mark.parametrize("argv,message", [
    (["chaos", "--steps", "10"], "--seed"),
    (["chaos", "--seed", "1", "--steps", "0"], "--steps 0"),
    (["chaos", "--seed", "1", "--invariant", "no-such-thing"], "unknown invariant"),
    (["chaos", "--seed", "1", "--acks", "2"], "acks"),
    (["chaos", "--seed", "x"], "invalid int"),
])
def test_chaos_bad_usage_exits_2(argv, message, capsys):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_chaos_with_delayed_fetches(capsys):
    code, out, _ = run(capsys, "chaos", "--seed", "1", "--steps", "300", "--max-delayed-fetches", "1",
                       "--keep-going", "--json")
    d = json.loads(out)
    assert code in (0, 1) and d["bounds"]["max_delayed_fetches"] == 1
    assert d["runs"][0]["faults_injected"]["delayed_fetch"] >= 1
    assert d["model_conformance"]["ok"] is True
    # without the bound, no fetch is ever held up
    code, out, _ = run(capsys, "chaos", "--seed", "1", "--steps", "300", "--keep-going", "--json")
    d = json.loads(out)
    assert "max_delayed_fetches" not in d["bounds"] and d["runs"][0]["faults_injected"]["delayed_fetch"] == 0


def test_replay_of_a_trace_with_a_delayed_fetch(tmp_path, capsys):
    """A stale fetch counted before KIP-320 (tests/test_broker_delayed_fetch.py): the trace
    carries the bound in its config and replays through the CLI on both sides."""
    from ackcheck.model.protocol import Model
    from ackcheck.model.state import observe

    cfg = build_config([Setting("acks", "all", "test")], kafka_version="2.1",
                       rule_overrides=["fenced_leader_epoch=off"],
                       bounds={"max_records": 2, "max_elections": 2, "max_crashes": 1, "max_delayed_fetches": 1})
    actions = [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("follower_fetch", 1),
               ("follower_fetch_delayed", 1), ("controller_elect", 2, "rebalance"), ("broker_learn", 2, 1),
               ("broker_learn", 1, 1), ("follower_fetch", 1), ("crash", 2), ("controller_elect", 0, "failover"),
               ("broker_learn", 0, 2), ("leader_handle_delayed_fetch", 0, 1), ("controller_elect", 1, "rebalance")]
    model = Model(cfg)
    s = model.init()
    steps = [(None, observe(s))]
    for a in actions:
        s = model.step(s, a)
        steps.append((a, observe(s)))
    path = tmp_path / "stale.json"
    Trace(config=cfg.as_dict(), steps=steps).write(path)
    assert load_trace(path).config["bounds"]["max_delayed_fetches"] == 1
    code, out, _ = run(capsys, "replay", str(path), "--invariant", "leader-completeness", "--json")
    d = json.loads(out)
    assert code == 1 and d["conformant"] is True and d["first_difference"] is None
    assert d["violation"]["invariant"] == "leader-completeness" and d["violation"]["step"] == len(actions)
    code, out, _ = run(capsys, "replay", str(path), "--on", "model", "--invariant", "leader-completeness", "--json")
    assert json.loads(out)["conformant"] is True
