"""End-to-end CLI tests of the contract in docs/design.md (exit codes, JSON, traces, bad input)."""

import json

import pytest

from ackcheck.checker.cli import main
from ackcheck.checker.engines.check import replay_on_model
from ackcheck.traces.format import load_trace, trace_from_dict


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_acks1_json_contract(capsys, tmp_path):
    rc, out, _ = run(capsys, "check", "--acks", "1", "--json", "--trace-out", str(tmp_path / "t.json"))
    assert rc == 1
    j = json.loads(out)
    assert j["verdict"] == "violated"
    assert set(j) >= {"verdict", "config", "bounds", "invariants", "violation", "trace", "stats"}
    assert j["config"]["acks"] == "1" and j["violation"]["invariant"] == "acked-write-survives"
    assert set(j["stats"]) >= {"distinct_states", "transitions", "max_depth", "seconds"}
    trace = trace_from_dict(j["trace"])
    rep = replay_on_model(trace)
    assert rep.violation[0] == "acked-write-survives" and rep.violation[2] == trace.violation.step
    assert load_trace(tmp_path / "t.json").steps == trace.steps


def test_holds_exit_0(capsys):
    rc, out, _ = run(capsys, "check", "--acks", "all", "--min-insync-replicas", "2", "--invariant",
                     "acked-write-survives")
    assert rc == 0 and "HOLDS within bounds" in out and "Done. distinct=" in out


def test_power_loss_min_isr_1(capsys):
    rc, out, _ = run(capsys, "check", "--acks", "all", "--min-insync-replicas", "1", "--max-power-losses", "1")
    assert rc == 1 and "power" in out


@pytest.mark.parametrize("argv,needle", [
    (["check", "--acks", "7"], "--acks"),
    (["check", "--set", "acsk=1"], "did you mean 'acks'"),
    (["check", "--min-insync-replicas", "4"], "exceeds"),
    (["check", "--max-crashes", "-1"], "--max-crashes"),
    (["check", "--invariant", "acked-write-survive"], "did you mean"),
    (["check", "--bogus"], "unrecognized"),
    (["check", "--config", "/nonexistent.properties"], "no such file"),
    (["view", "/nonexistent.json"], "no such file"),
    (["nonsense"], "unknown command"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, needle):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_view_renders_and_rejects_malformed(capsys, tmp_path):
    p = tmp_path / "t.json"
    main(["check", "--acks", "1", "--trace-out", str(p)])
    capsys.readouterr()
    rc, out, _ = run(capsys, "view", str(p))
    assert rc == 0 and out.count("step ") >= 4 and "!! acked-write-survives" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "ackcheck-trace", "version": 1, "steps": "nope"}))
    rc, _, err = run(capsys, "view", str(bad))
    assert rc == 2 and "$." in err


def test_invariants_and_versions_list(capsys):
    rc, out, _ = run(capsys, "invariants")
    assert rc == 0 and "acked-write-survives" in out and "lost-write" in out
    rc, out, _ = run(capsys, "versions")
    assert rc == 0
    for v in ("0.10", "0.11", "2.0", "2.1", "3.7", "4.1"):
        assert v in out
    assert "KIP-101" in out and "KIP-966" in out


def test_config_file_and_notes(capsys, tmp_path):
    p = tmp_path / "producer.properties"
    p.write_text("bootstrap.servers=localhost:9092\nacks=1\n")
    rc, out, err = run(capsys, "check", "--config", str(p), "--invariant", "acked-write-survives")
    assert rc == 1
    assert "set aside" in err and "idempotence turned off" in err


@pytest.mark.parametrize("command", [["check", "--acks", "1"], ["prove", "--acks", "1", "--depth", "6"]])
def test_unwritable_trace_out_is_a_one_line_error(command, capsys, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    rc = main([*command, "--trace-out", str(blocked / "t.json")])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ackcheck: error")]
    assert rc == 2 and len(errors) == 1 and errors[0].startswith("ackcheck: error: --trace-out")


@pytest.mark.parametrize("preset", [None, "2"])
def test_the_command_line_starts_no_blas_threads(preset):
    """numpy's OpenBLAS starts a thread per core at import unless told otherwise; the command
    line tells it one (the searches use no linear algebra, and idle BLAS threads take CPU
    from the worker processes), and a user's own OPENBLAS_NUM_THREADS wins."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    code = ("import os, ackcheck.checker.cli, numpy; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    setting, threads = p.stdout.split()
    assert setting == (preset or "1")
    if preset is None:
        assert threads == "1"  # (the main thread alone)
