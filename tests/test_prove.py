"""`ackcheck prove`: BMC agrees with the explorer (verdict and shortest counterexample
length), its traces are ordinary traces, verdicts and exit codes are the common ones."""

from __future__ import annotations

import json
import os

import pytest

from ackcheck.checker.cli import main as cli
from ackcheck.checker.engines.check import replay_on_model, run_check
from ackcheck.checker.engines.prove.bmc import prove
from ackcheck.checker.engines.prove.layout import ENCODED_INVARIANTS
from ackcheck.traces.format import load_trace
from ackcheck.traces.settings import build_config, parse_set

SLOW = os.environ.get("ACKCHECK_SLOW") == "1"
INVS = list(ENCODED_INVARIANTS)

# (settings, bounds, BMC depth[, protocol rule overrides, version]): violations BFS finds
# within a few steps
CROSS = [
    (["acks=1"], {}, 6),
    (["acks=0"], dict(max_records=2), 4),
    (["acks=1", "min.insync.replicas=2"], dict(max_crashes=0, max_elections=1), 5),
    (["acks=1"], {}, 6, [], "3.6"),  # ZooKeeper mode
    (["acks=all", "min.insync.replicas=2"], {}, 5, ["maximal_isr=off"]),  # KIP-497
    (["acks=1"], dict(max_crashes=0, max_elections=2, max_isr_shrinks=0), 5, ["fenced_leader_epoch=off"]),  # KIP-320
]
CROSS_SLOW = [
    (["acks=all", "replication.factor=2", "unclean.leader.election.enable=true"], dict(max_crashes=2), 8),
    (["acks=all", "unclean.leader.election.enable=true"], dict(max_crashes=2), 9),
]


def _config(settings, bounds, rules=(), version=None):
    return build_config(parse_set(settings), bounds=bounds, rule_overrides=list(rules), kafka_version=version)


@pytest.mark.parametrize("case", CROSS + (CROSS_SLOW if SLOW else []), ids=lambda c: " ".join(c[0] + [f"{k}={v}" for k, v in c[1].items()] + list(c[3:4] and c[3]) + list(c[4:])))
def test_bmc_and_bfs_agree_on_verdict_and_shortest_length(case, tmp_path):
    settings, bounds, depth, *era = case
    config = _config(settings, bounds, *era)
    bfs = run_check(config, INVS)
    result, info = prove(config, INVS, depth=depth)
    assert result.verdict == bfs.verdict == "violated"
    assert len(result.trace.steps) == len(bfs.trace.steps)
    # the trace is an ordinary v1 trace that replays on the model with the same violation
    result.trace.write(tmp_path / "t.json")
    rep = replay_on_model(load_trace(tmp_path / "t.json"), INVS)
    assert rep.ok and rep.mismatch is None and rep.violation is not None
    assert rep.violation[2] == len(result.trace.steps) - 1


def test_symmetry_breaking_keeps_the_shortest_length():
    config = _config(["acks=1"], {})
    on, _ = prove(config, INVS, depth=6)
    off, _ = prove(config, INVS, depth=6, symmetry=False)
    assert len(on.trace.steps) == len(off.trace.steps) == 6


def test_safe_configuration_bounded_verdict():
    config = _config(["acks=all", "min.insync.replicas=2"], {})
    assert run_check(config, INVS).verdict == "holds"
    result, info = prove(config, INVS, depth=4)
    assert result.verdict == "no-violation-up-to-depth" and result.exit_code == 0
    assert info.depth_reached == 4 and len(info.per_depth) == 5


def test_cli_json_and_exit_codes(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc = cli(["prove", "--acks", "1", "--depth", "6", "--json", "--trace-out", str(out)])
    j = json.loads(capsys.readouterr().out)
    assert rc == 1 and j["verdict"] == "violated" and j["violation"]["invariant"] == "acked-write-survives"
    assert j["stats"]["depth_reached"] == 5 and j["stats"]["solver_seconds"] >= 0
    assert len(json.loads(out.read_text())["steps"]) == 6
    assert cli(["replay", str(out), "--on", "model"]) == 0
    capsys.readouterr()
    rc = cli(["prove", "--acks", "all", "--min-insync-replicas", "2", "--depth", "2", "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 0 and j["verdict"] == "no-violation-up-to-depth"


def test_cli_refuses_what_is_not_encoded(capsys):
    assert cli(["prove", "--set", "records.per.batch=2", "--max-records", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "records.per.batch other than 1 is not encoded symbolically" in err[0]
    assert cli(["prove", "--invariant", "sequence-contiguity"]) == 2
    assert "sequence-contiguity is not encoded" in capsys.readouterr().err
    assert cli(["prove", "--assume-invariant", "nonsense"]) == 2
    assert cli(["prove", "--depth", "-1"]) == 2


def test_timeout_is_unknown_not_holds(capsys):
    rc = cli(["prove", "--acks", "all", "--min-insync-replicas", "2", "--depth", "30", "--timeout", "0.5",
              "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 3 and j["verdict"] == "unknown"


STRENGTHENING = ["hw-le-leo", "fleo-le-leo", "leader-view", "single-leader", "followers-agree", "leader-in-isr",
                 "current-epoch-on-leader", "hw-below-isr-leos"]


def test_induction_reports_a_counterexample_to_induction_as_such():
    # without strengthening the step fails on an unreachable state: reported as a
    # counterexample to induction (no trace), the verdict stays bounded
    # (lemmas=False: the catalogue lemmas Houdini finds would prove it, test_prove_sat.py)
    config = _config(["acks=1", "replication.factor=2"], dict(max_crashes=0, max_isr_shrinks=0))
    result, info = prove(config, ["hw-bound"], depth=1, induction=True, lemmas=False)
    assert result.verdict == "no-violation-up-to-depth" and result.trace is None
    assert info.induction == "cti" and info.cti["breaks"] and info.cti["actions"]


def test_induction_proves_hw_bound_with_the_strengthening():
    config = _config(["acks=1", "replication.factor=2"], dict(max_crashes=0, max_isr_shrinks=0))
    result, info = prove(config, ["hw-bound"], depth=1, induction=True, assume=STRENGTHENING, lemmas=False)
    assert result.verdict == "proved" and result.exit_code == 0 and info.induction == "proved"


def test_an_assumption_that_is_not_invariant_cannot_prove(capsys):
    # isr-nonempty is false once KIP-966 empties the ISR of a crashed last member (RF 1)
    config = _config(["acks=1", "replication.factor=1"], dict(max_crashes=1))
    result, info = prove(config, ["hw-bound"], depth=2, induction=True, assume=["isr-nonempty"])
    assert result.verdict == "unknown" and info.induction == "assumption-fails"


ACROSS_LEADER_CHANGE = STRENGTHENING + ["isr-holds-leader-prefix", "entries-known-epoch", "epochs-sorted", "log-matching",
                                        "fetched-prefix-matches", "isr-holds-committed", "elr-below-min-isr",
                                        "leader-isr-is-controllers", "deposed-only-by-rebalance"]


def test_induction_proves_across_a_leader_change():
    # one crash at RF 2: the leader fails over, the follower leads the next epoch
    config = _config(["acks=1", "replication.factor=2"], dict(max_crashes=1, max_isr_shrinks=1))
    result, info = prove(config, ["hw-bound", "committed-prefix-agreement"], depth=1, induction=True,
                         assume=ACROSS_LEADER_CHANGE, lemmas=False)
    assert result.verdict == "proved" and info.induction == "proved"
    # without the lemma relating the leader's ISR view to the controller's, the step fails
    result, info = prove(config, ["hw-bound", "committed-prefix-agreement"], depth=1, induction=True,
                         assume=[a for a in ACROSS_LEADER_CHANGE if a != "leader-isr-is-controllers"], lemmas=False)
    assert result.verdict == "no-violation-up-to-depth" and info.induction == "cti"
