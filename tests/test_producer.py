"""The producer as Kafka ships it (issue: retries, in-flight, idempotence), found by the engine
end to end through the CLI, as a user would run it."""

import json

import pytest

from ackcheck.checker.cli import main
from ackcheck.checker.engines.check import replay_on_model
from ackcheck.traces.format import trace_from_dict

COMMON = ["--acks", "all", "--replication-factor", "3", "--min-insync-replicas", "2", "--max-records", "2",
          "--max-lost-messages", "1", "--max-crashes", "0"]


def check(capsys, *extra):
    rc = main(["check", *COMMON, *extra, "--json"])
    j = json.loads(capsys.readouterr().out)
    return rc, j


def test_duplicate_without_idempotence_after_retry(capsys):
    rc, j = check(capsys, "--set", "enable.idempotence=false", "--set", "retries=3", "--set",
                  "max.in.flight.requests.per.connection=1", "--invariant", "no-duplicates")
    assert rc == 1 and j["violation"]["invariant"] == "no-duplicates"
    trace = trace_from_dict(j["trace"])
    names = [a[0] for a in trace.actions]
    # the batch was appended, its answer never arrived (lost / REQUEST_TIMED_OUT), the retry appended again
    assert names.count("broker_handle_produce") == 2
    assert {"lose_response", "leader_timeout_produce", "lose_request"} & set(names)
    rep = replay_on_model(trace)
    assert rep.violation[0] == "no-duplicates" and rep.violation[2] == trace.violation.step


def test_reorder_with_two_in_flight(capsys):
    rc, j = check(capsys, "--set", "enable.idempotence=false", "--set", "retries=3", "--set",
                  "max.in.flight.requests.per.connection=2", "--invariant", "producer-order")
    assert rc == 1 and j["violation"]["invariant"] == "producer-order"


def test_one_in_flight_keeps_order(capsys):
    rc, j = check(capsys, "--set", "enable.idempotence=false", "--set", "retries=3", "--set",
                  "max.in.flight.requests.per.connection=1", "--invariant", "producer-order")
    assert rc == 0 and j["verdict"] == "holds"


def test_retries_zero_no_duplicate_but_a_failed_send(capsys):
    rc, j = check(capsys, "--set", "enable.idempotence=false", "--set", "retries=0", "--invariant",
                  "no-duplicates")
    assert rc == 0
    # ... while a send can fail for good: failed-write-invisible still holds, and failures exist
    from conftest import make_config

    from ackcheck.checker.engines.check import run_check
    cfg = make_config({"acks": "all", "min.insync.replicas": "2", "enable.idempotence": "false", "retries": "0"},
                      max_records=1, max_crashes=1)
    assert cfg.bounds.max_attempts >= 2 and run_check(cfg, ["failed-write-invisible"]).verdict == "holds"


def test_idempotent_producer_dedups_a_retry(capsys):
    rc, j = check(capsys, "--set", "enable.idempotence=true", "--set", "retries=3", "--set",
                  "max.in.flight.requests.per.connection=1", "--invariant", "no-duplicates", "--invariant",
                  "producer-order")
    assert rc == 0 and j["verdict"] == "holds" and j["stats"]["distinct_states"] > 100


@pytest.mark.parametrize("setting", ["max.in.flight.requests.per.connection=6", "retries=0", "acks=1"])
def test_explicit_idempotence_conflicts_exit_2(capsys, setting):
    rc = main(["check", "--set", "enable.idempotence=true", "--set", setting])
    err = capsys.readouterr().err
    assert rc == 2 and "conflicts" in err and "Traceback" not in err


def test_default_idempotence_turned_off_is_reported(capsys):
    rc = main(["check", "--set", "max.in.flight.requests.per.connection=6", "--invariant", "no-duplicates"])
    err = capsys.readouterr().err
    assert rc in (0, 1) and "enable.idempotence turned off" in err


def test_idempotent_five_in_flight_no_duplicates_without_failover(capsys):
    rc, j = check(capsys, "--set", "enable.idempotence=true", "--set", "retries=3", "--invariant", "no-duplicates",
                  "--invariant", "producer-order")
    assert rc == 0 and j["verdict"] == "holds"


@pytest.mark.skipif(__import__("os").environ.get("ACKCHECK_SLOW") != "1", reason="slow (~30 s): ACKCHECK_SLOW=1")
def test_idempotence_hole_new_leader_without_producer_state(capsys):
    """Kafka accepts any sequence from a producer it has no state for (ProducerAppendInfo:
    NO_PRODUCER_EPOCH). After a failover, a first batch refused with NOT_ENOUGH_REPLICAS
    lets the second land with sequence 1; the KIP-360 epoch bump then re-sequences and
    re-sends it: a duplicate even with enable.idempotence=true."""
    rc = main(["check", *[a for a in COMMON if a not in ("--max-crashes", "0")], "--max-crashes", "1",
               "--set", "enable.idempotence=true", "--set", "retries=3", "--invariant", "no-duplicates", "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 1 and j["violation"]["invariant"] == "no-duplicates"
    names = [s["action"]["name"] for s in j["trace"]["steps"][1:]]
    assert "crash" in names and "controller_elect" in names
