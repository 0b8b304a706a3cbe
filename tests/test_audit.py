"""`ackcheck audit`: guarantees of Kafka configs, fixes found by re-checking, CI outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ctrl_c_after

from ackcheck.checker.audit import core as audit_core
from ackcheck.checker.audit import fixes as audit_fixes
from ackcheck.checker.audit.core import Audit, set_aside, write_traces
from ackcheck.checker.audit.fixes import Base, _single_changes, fix_candidates, search_fix
from ackcheck.checker.audit.guarantees import BY_ID, GUARANTEES, profile_bounds
from ackcheck.checker.audit.runs import run_key
from ackcheck.checker.cli import audit as audit_cli
from ackcheck.checker.cli import main as cli_main
from ackcheck.traces.format import load_trace
from ackcheck.traces.settings import ConfigError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kafka-config"  # Kafka's sample configs


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    """One cache for the module: checks repeated across tests run once."""
    return str(tmp_path_factory.mktemp("ackcheck-cache"))


def run_audit(capsys, tmp_path, cache, *args) -> tuple[int, str, str]:
    rc = cli_main(["audit", "--cache-dir", cache, "--trace-dir", str(tmp_path / "traces"), *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def defaults_json(tmp_path_factory, cache) -> dict:
    """The audit of Kafka's defaults (the README's main command), once."""
    tmp = tmp_path_factory.mktemp("defaults")
    args = audit_cli.build_parser().parse_args(["--json", "--cache-dir", cache, "--trace-dir", str(tmp / "traces")])
    base, config, notes, sources = audit_cli.build_audit_config(args)
    results = audit_core.run_audit(base, config, list(GUARANTEES), overrides={}, cache_dir=cache, jobs=2)
    a = Audit(config, sources, notes, results, 0.0, [])
    write_traces(a, str(tmp / "traces"))
    return json.loads(json.dumps(a.as_dict()))


# ------------------------------------------------------------------------------ defaults
def test_defaults_report_every_guarantee(defaults_json):
    g = defaults_json["guarantees"]
    assert [x["id"] for x in g] == [x.id for x in GUARANTEES]
    assert {"no-acked-loss", "no-acked-loss-power-loss", "no-duplicates", "send-order-kept",
            "read-never-disappears", "consumers-never-skip"} <= {x["id"] for x in g}
    for x in g:
        assert x["verdict"] in ("holds", "violated")
        assert x["invariants"] and x["bounds"] and x["description"] and x["faults"]
        assert x["states"] > 0
        assert set(x) >= {"id", "description", "verdict", "invariants", "bounds", "states", "seconds",
                          "counterexample", "trace_file", "fix"}
    assert defaults_json["kafka_version"] == "4.1"
    assert defaults_json["config"]["acks"] == "all"


def test_defaults_survive_crashes_but_not_power_loss(defaults_json):
    by = {x["id"]: x for x in defaults_json["guarantees"]}
    assert by["no-acked-loss"]["verdict"] == "holds"  # kill -9 keeps the page cache
    power = by["no-acked-loss-power-loss"]
    assert power["verdict"] == "violated"  # min.insync.replicas=1: a lone leader acknowledges
    assert any("power" in line for line in power["counterexample"])
    assert power["fix"]["found"] and power["fix"]["changes"] == {"min.insync.replicas": "2"}
    assert "min.insync.replicas=2" in power["fix"]["text"]
    trace = load_trace(power["trace_file"])
    assert trace.violation.invariant == "acked-write-survives"
    assert by["read-never-disappears"]["verdict"] == "holds"  # no unclean election by default


def test_defaults_duplicate_kafka_15591_fixed_by_one_in_flight(defaults_json):
    """Kafka's defaults (idempotence on, 5 in flight): a leadership move gives the producer a
    leader with no state for its id, and the KAFKA-15591 duplicate follows; the honest fix
    is one request in flight, at its throughput cost."""
    dup = {x["id"]: x for x in defaults_json["guarantees"]}["no-duplicates"]
    assert dup["verdict"] == "violated" and dup["bounds"]["max_crashes"] == 0
    assert dup["fix"]["found"] and dup["fix"]["changes"] == {"max.in.flight.requests.per.connection": "1"}
    assert "throughput" in dup["fix"]["text"]
    assert load_trace(dup["trace_file"]).violation.invariant == "no-duplicates"


def test_min_isr_2_loses_a_write_to_a_crash_and_a_power_loss_on_41(tmp_path, capsys, cache):
    """Kafka 4.1 with min.insync.replicas=2 keeps every write under a crash and under a
    power loss, but not under both: the last-known-leader election (KIP-966) re-elects the
    broker that lost its page cache. The fix found and re-checked is min.insync.replicas=3
    or an fsync per message."""
    rc, out, _ = run_audit(capsys, tmp_path, cache, "--json", "--set", "min.insync.replicas=2",
                           "--guarantee", "no-acked-loss", "--guarantee", "no-acked-loss-power-loss",
                           "--guarantee", "no-acked-loss-crash-and-power-loss")
    by = {x["id"]: x for x in json.loads(out)["guarantees"]}
    assert rc == 1
    assert by["no-acked-loss"]["verdict"] == "holds" and by["no-acked-loss-power-loss"]["verdict"] == "holds"
    mixed = by["no-acked-loss-crash-and-power-loss"]
    assert mixed["verdict"] == "violated"
    assert mixed["bounds"]["max_crashes"] == 1 and mixed["bounds"]["max_power_losses"] == 1
    trace = load_trace(mixed["trace_file"])
    last = trace.steps[-1][0]
    assert last[0] == "controller_elect" and last[2] == "last_known_leader"
    assert mixed["fix"]["found"]
    assert mixed["fix"]["changes"] in ({"min.insync.replicas": "3"}, {"log.flush.interval.messages": "1"})


def test_power_loss_profile_is_separate(defaults_json):
    by = {x["id"]: x for x in defaults_json["guarantees"]}
    assert by["no-acked-loss"]["bounds"]["max_power_losses"] == 0
    assert by["no-acked-loss-power-loss"]["bounds"]["max_power_losses"] == 1
    assert by["no-duplicates"]["bounds"]["max_lost_messages"] >= 1


# ------------------------------------------------------------------------- real files
def test_acks1_producer_file_loses_acked_writes_and_fix_is_acks_all(tmp_path, capsys, cache):
    prod = tmp_path / "producer.properties"
    prod.write_text("acks=1\nenable.idempotence=false\n")
    broker = tmp_path / "server.properties"
    broker.write_text("min.insync.replicas=1\nunclean.leader.election.enable=false\n")
    rc, out, _ = run_audit(capsys, tmp_path, cache, "--producer", str(prod), "--broker", str(broker),
                           "--guarantee", "no-acked-loss", "--json")
    j = json.loads(out)
    (g,) = j["guarantees"]
    assert g["verdict"] == "violated" and rc == 1
    assert g["fix"]["changes"] == {"acks": "all"}
    assert "acks=all" in g["fix"]["text"]
    assert g["fix"]["check"]["verdict"] == "holds"
    assert Path(g["trace_file"]).exists()
    assert j["sources"] == [f"broker: {broker}", f"producer: {prod}"]


def test_require_gates_only_the_listed_guarantees(tmp_path, capsys, cache):
    prod = tmp_path / "producer.properties"
    prod.write_text("acks=1\n")
    common = ["--producer", str(prod), "--guarantee", "no-acked-loss", "--guarantee", "read-never-disappears",
              "--no-fix"]
    rc, out, _ = run_audit(capsys, tmp_path, cache, *common, "--require", "no-acked-loss")
    assert rc == 1
    assert "FAILED (no-acked-loss)" in out
    rc, out, _ = run_audit(capsys, tmp_path, cache, *common, "--require", "read-never-disappears")
    assert rc == 0  # no-acked-loss fails, but it is not required
    rc, _, _ = run_audit(capsys, tmp_path, cache, *common)
    assert rc == 1  # without --require: every guarantee must hold


def test_junit_xml_one_testcase_per_guarantee(tmp_path, capsys, cache):
    prod = tmp_path / "producer.properties"
    prod.write_text("acks=1\n")
    xml_file = tmp_path / "audit.xml"
    run_audit(capsys, tmp_path, cache, "--producer", str(prod), "--guarantee", "no-acked-loss",
              "--guarantee", "read-never-disappears", "--no-fix", "--junit-xml", str(xml_file))
    root = ET.parse(xml_file).getroot()
    cases = {tc.get("name"): tc for tc in root.iter("testcase")}
    assert set(cases) == {"no-acked-loss", "read-never-disappears"}
    assert cases["no-acked-loss"].find("failure") is not None
    assert "acked-write-survives" in cases["no-acked-loss"].find("failure").get("message")
    assert cases["read-never-disappears"].find("failure") is None
    assert root.get("failures") == "1"


def test_markdown_report(tmp_path, capsys, cache):
    prod = tmp_path / "producer.properties"
    prod.write_text("acks=1\n")
    rc, out, _ = run_audit(capsys, tmp_path, cache, "--producer", str(prod), "--guarantee", "no-acked-loss",
                           "--markdown")
    assert rc == 1
    assert "| guarantee | verdict |" in out
    assert "## no-acked-loss: violated" in out and "**Fix:** Set acks=all" in out


def test_table_output_prints_fault_assumptions_and_counterexample(tmp_path, capsys, cache):
    prod = tmp_path / "producer.properties"
    prod.write_text("acks=1\n")
    rc, out, _ = run_audit(capsys, tmp_path, cache, "--producer", str(prod), "--guarantee", "no-acked-loss",
                           "--max-isr-shrinks", "1")
    assert rc == 1
    assert "fault assumptions" in out and "2 process crashes" in out and "1 ISR shrink " in out
    assert "shortest counterexample" in out and "crashes" in out
    assert "fix: Set acks=all (producer)" in out


def test_kafka_fixture_files_load_with_set_aside_notes():
    p = audit_cli.build_parser()
    args = p.parse_args(["--broker", str(FIXTURES / "server.properties"),
                         "--producer", str(FIXTURES / "producer.properties")])
    _, config, notes, _sources = audit_cli.build_audit_config(args)
    aside = set_aside(notes)
    assert {"log.dirs", "num.network.threads", "zookeeper.connect", "bootstrap.servers"} <= set(aside)
    assert config.min_insync_replicas == 1 and config.acks == "all"
    assert any("ZooKeeper" in n for n in notes)
    assert any("offsets.topic.replication.factor=1" in n for n in notes)
    args = p.parse_args(["--broker", str(FIXTURES / "kraft" / "server.properties"), "--kafka-version", "3.9"])
    _, config, notes, _ = audit_cli.build_audit_config(args)
    assert config.rule("kraft_controller")  # process.roles: a KRaft node even on 3.9
    assert "process.roles" in set_aside(notes)


def test_kafka_fixture_audit_is_useful(tmp_path, capsys, cache):
    rc, out, _ = run_audit(capsys, tmp_path, cache, "--broker", str(FIXTURES / "server.properties"),
                           "--producer", str(FIXTURES / "producer.properties"),
                           "--guarantee", "no-acked-loss-power-loss", "--json")
    j = json.loads(out)
    assert rc == 1
    assert j["guarantees"][0]["verdict"] == "violated"
    assert "min.insync.replicas=2" in j["guarantees"][0]["fix"]["text"]
    assert "log.dirs" in j["set_aside"]


def test_misplaced_setting_is_ignored_with_a_note(tmp_path):
    broker = tmp_path / "server.properties"
    broker.write_text("acks=0\nmin.insync.replicas=2\n")
    args = audit_cli.build_parser().parse_args(["--broker", str(broker)])
    _, config, notes, _ = audit_cli.build_audit_config(args)
    assert config.acks == "all" and config.min_insync_replicas == 2
    assert any("acks is a producer setting" in n and "server.properties:1" in n for n in notes)


def test_topic_overrides_broker(tmp_path):
    broker = tmp_path / "server.properties"
    broker.write_text("min.insync.replicas=1\nunclean.leader.election.enable=true\n")
    topic = tmp_path / "topic.properties"
    topic.write_text("min.insync.replicas=2\n")
    args = audit_cli.build_parser().parse_args(["--broker", str(broker), "--topic", str(topic)])
    _, config, _, _ = audit_cli.build_audit_config(args)
    assert config.min_insync_replicas == 2 and config.unclean_leader_election_enable


# ------------------------------------------------------------------------------ errors
def test_bad_property_exits_2_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.properties"
    bad.write_text("# producer\nacks=banana\n")
    rc = cli_main(["audit", "--producer", str(bad), "--no-cache"])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{bad}:2" in err and "acks=banana" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_input_no_traceback_from_the_console_script(tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_text("acks=banana\n")
    p = subprocess.run([sys.executable, "-m", "ackcheck", "audit", "--producer", str(bad), "--no-cache"],
                       capture_output=True, text=True, cwd=tmp_path, check=False)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr + p.stdout
    assert "bad.properties:1" in p.stderr


@pytest.mark.parametrize("argv, needle", [
    (["--require", "no-acked-los"], "did you mean 'no-acked-loss'"),
    (["--guarantee", "bogus"], "unknown guarantee"),
    (["--max-crashes", "99"], "--max-crashes"),
    (["--producer", "/nonexistent/producer.properties"], "no such file"),
])
def test_usage_errors(argv, needle):
    with pytest.raises(ConfigError, match=needle):
        audit_cli.main(argv + ["--no-cache"])


# ------------------------------------------------------------------------- fix search
def test_fix_candidates_order():
    from ackcheck.traces.settings import build_config

    cfg = build_config([], kafka_version="3.6")
    same, newer = fix_candidates(cfg, BY_ID["no-acked-loss-power-loss"])
    assert same[0].changes == (("min.insync.replicas", "2"),)
    assert same[1].changes == (("log.flush.interval.messages", "1"),)
    assert [c.version for c in newer[:4]] == ["3.7", "3.9", "4.0", "4.1"]
    assert all(c.version for c in newer)


def test_fix_with_fsync_cost_also_names_the_version_that_avoids_it(cache, monkeypatch):
    # Kafka 4.0 without ELR: min.insync.replicas=2 does not survive a power loss, fsync does,
    # and Kafka 4.1 (KIP-966) does with min.insync.replicas=2. (min.insync.replicas=3 = RF
    # also does, at the cost of every write failing while a broker is down: left out here.)
    from ackcheck.traces.settings import Setting

    real = _single_changes
    monkeypatch.setattr(audit_fixes, "_single_changes", lambda c, kind: [] if kind == "min_isr" else real(c, kind))
    base = Base([Setting("min.insync.replicas", "2", "test")], "4.0", [],
                      profile_bounds("power"))
    fix = search_fix(base, "no-acked-loss-power-loss", cache)
    assert fix["found"] and fix["kind"] == "config"
    assert fix["changes"] == {"log.flush.interval.messages": "1"}
    alt = fix["alternative"]
    assert alt["kafka_version"] == "4.1" and "KIP-966" in alt["text"]


def test_no_config_fix_says_which_version_would(cache, monkeypatch):
    from ackcheck.traces.settings import Setting

    real = _single_changes
    monkeypatch.setattr(audit_fixes, "_single_changes",
                        lambda c, kind: [] if kind in ("flush", "min_isr") else real(c, kind))
    base = Base([Setting("min.insync.replicas", "2", "test")], "4.0", [], profile_bounds("power"))
    fix = search_fix(base, "no-acked-loss-power-loss", cache)
    assert fix["kind"] == "version" and fix["kafka_version"] == "4.1"
    assert fix["text"].startswith("cannot be restored by configuration on Kafka 4.0")


# ------------------------------------------------------------------------------ cache
def test_second_run_comes_from_the_cache(tmp_path, capsys):
    cache = str(tmp_path / "c")
    argv = ["--acks", "1", "--guarantee", "no-acked-loss", "--json"]
    run_audit(capsys, tmp_path, cache, *argv)
    _rc, out, _ = run_audit(capsys, tmp_path, cache, *argv)
    g = json.loads(out)["guarantees"][0]
    assert g["cached"] is True and g["verdict"] == "violated"
    assert g["fix"]["check"]["verdict"] == "holds"
    assert list(Path(cache).glob("*.json"))


def test_cache_key_depends_on_bounds_invariants_and_config():
    from ackcheck.traces.settings import build_config

    a = build_config([], bounds=profile_bounds("crash"))
    assert run_key(a, ["acked-write-survives"]) == run_key(a, ["acked-write-survives"])
    assert run_key(a, ["acked-write-survives"]) != run_key(a, ["no-duplicates"])
    assert run_key(a, ["x"]) != run_key(a.with_bounds(max_crashes=3), ["x"])
    b = build_config([], bounds=profile_bounds("crash"), kafka_version="3.6")
    assert run_key(a, ["x"]) != run_key(b, ["x"])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_mid_audit_reports_what_was_decided(tmp_path, jobs):
    # bounds far beyond a few seconds' work, so the signal lands while guarantees are open;
    # the audit then prints its report (JSON here) with the rest undecided - no traceback,
    # and every file it writes (traces, HTML, JUnit) copes with guarantees that have no run.
    # Inline (--jobs 1) a search in this process takes the signal: the audit stops too.
    rc, out, err, _ = ctrl_c_after(["audit", "--max-crashes", "3", "--max-elections", "2", "--no-cache", "--jobs",
                                    jobs, "--json", "--trace-dir", str(tmp_path / "traces"),
                                    "--html", str(tmp_path / "a.html"), "--junit-xml", str(tmp_path / "a.xml")], 3)
    assert "Traceback" not in err, err[-2000:]
    d = json.loads(out)
    assert d["summary"]["undecided"] >= 1, d["summary"]
    undecided = [g for g in d["guarantees"] if g["verdict"] == "incomplete"]
    assert undecided and not any(g["complete"] for g in undecided if g["states"] == 0)
    assert rc == d["exit_code"] and rc in (1, 4)
    assert (tmp_path / "a.html").exists() and ET.parse(tmp_path / "a.xml").getroot() is not None
