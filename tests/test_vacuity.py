"""Vacuity witnesses: every invariant declares them, the explorer reports the ones never
reached, and --strict-vacuity turns that into exit 1."""

from __future__ import annotations

import json

from ackcheck import build_config
from ackcheck.checker.cli import main as cli
from ackcheck.checker.engines.check import run_check
from ackcheck.invariants.catalogue import INVARIANTS
from ackcheck.invariants.liveness import LIVENESS
from ackcheck.invariants.witnesses import WITNESSES, Watcher
from ackcheck.model.protocol import Model


def run(capsys, *argv):
    rc = cli(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_every_invariant_declares_witnesses():
    for inv in (*INVARIANTS, *LIVENESS):
        assert WITNESSES.get(inv.id), f"{inv.id} has no vacuity witness"
    assert set(WITNESSES) == {inv.id for inv in (*INVARIANTS, *LIVENESS)}


def test_witnesses_reached_when_the_bounds_allow_them():
    r = run_check(build_config({"acks": "all", "min.insync.replicas": "2"}, max_records=2, max_isr_shrinks=0),
                  ["acked-write-survives", "committed-prefix-agreement", "no-duplicates", "producer-order"])
    assert r.verdict == "holds"
    assert r.warnings == [], r.warnings


def test_unreached_witnesses_are_reported():
    # one record: producer-order holds vacuously; no crash and no election: no leader change
    r = run_check(build_config({"acks": "all"}, max_crashes=0, max_isr_shrinks=0),
                  ["producer-order", "acked-write-survives"])
    assert r.verdict == "holds"
    text = "\n".join(r.warnings)
    assert "producer-order: witness two-records-acknowledged" in text
    assert "acked-write-survives: witness leader-change" in text
    assert "record-acknowledged" not in text


def test_watcher_drops_reached_witnesses():
    cfg = build_config({"acks": "1"})
    w = Watcher(["acked-write-survives"], cfg)
    m = Model(cfg)
    s = m.init()
    assert w(None, s)  # nothing reached yet
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 1), ("producer_receive", 0, 1)]:
        t = m.step(s, a)
        w(s, t)
        s = t
    assert "record-acknowledged" in w.reached and "leader-change" not in w.reached
    assert [x.name for _, x in w.unreached()] == ["leader-change"]


def test_truncation_is_a_step_witness():
    cfg = build_config({"acks": "1"}, max_crashes=1)
    r = run_check(cfg, ["committed-prefix-agreement"])
    assert not any("log-truncated" in x for x in r.warnings)
    r0 = run_check(build_config({"acks": "1"}, max_crashes=0, max_isr_shrinks=0), ["committed-prefix-agreement"])
    assert any("log-truncated" in x for x in r0.warnings)


def test_cli_warning_and_strict_vacuity(capsys):
    args = ["check", "--acks", "all", "--max-crashes", "0", "--max-isr-shrinks", "0", "--invariant", "producer-order"]
    rc, out, _ = run(capsys, *args)
    assert rc == 0 and "warning: vacuity: producer-order" in out
    rc, out, _ = run(capsys, *args, "--strict-vacuity")
    assert rc == 1
    rc, out, _ = run(capsys, *args, "--strict-vacuity", "--json")
    j = json.loads(out)
    assert rc == 1 and j["verdict"] == "holds" and j["warnings"]
    # with the witnesses reachable, --strict-vacuity changes nothing
    rc, out, _ = run(capsys, "check", "--acks", "all", "--max-records", "2", "--max-isr-shrinks", "0",
                     "--invariant", "producer-order", "--strict-vacuity")
    assert rc == 0 and "warning" not in out


def test_liveness_runs_report_witnesses(capsys):
    rc, out, _ = run(capsys, "check", "--acks", "all", "--max-crashes", "0", "--max-isr-shrinks", "0",
                     "--invariant", "eventually-leader", "--strict-vacuity")
    assert rc == 1 and "partition-offline" in out


def test_watcher_pickles_and_merges_what_other_workers_reached():
    import pickle

    cfg = build_config({"acks": "all"})
    w = pickle.loads(pickle.dumps(Watcher(["acked-write-survives"], cfg)))
    w.mark_reached({"leader-change"})
    assert [x.name for _, x in w.unreached()] == ["record-acknowledged"]
