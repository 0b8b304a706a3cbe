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


def test_idempotent_five_in_flight_no_duplicates_without_other_producers(capsys):
    """One producer alone, no crash: a follower can only fall behind this producer's own
    appends, so no batch is refused before the next lands (the KAFKA-15591 duplicate needs
    the log end to move otherwise: other producers, or a new leader)."""
    rc, j = check(capsys, "--set", "enable.idempotence=true", "--set", "retries=3", "--invariant", "no-duplicates",
                  "--invariant", "producer-order")
    assert rc == 0 and j["verdict"] == "holds"


def test_kafka_15591_duplicate_without_a_crash(capsys):
    """KAFKA-15591 (also KAFKA-14312, KAFKA-19880): the leader holds no state for the new
    producer id; another producer's record lets the followers fall out of the ISR; batch 0
    is refused NOT_ENOUGH_REPLICAS, batch 1 is appended with sequence 1 (KAFKA-8710), the
    answers are lost, batch 0's retry gets OUT_OF_ORDER_SEQUENCE_NUMBER, the client bumps its
    epoch and re-stamps batch 1 (KAFKA-8805), which is appended again."""
    rc, j = check(capsys, "--set", "enable.idempotence=true", "--set", "retries=3", "--max-isr-shrinks", "2",
                  "--max-other-writes", "1", "--invariant", "no-duplicates")
    assert rc == 1 and j["violation"]["invariant"] == "no-duplicates"
    names = [s["action"]["name"] for s in j["trace"]["steps"][1:]]
    assert "crash" not in names and "controller_elect" not in names and "other_producer_write" in names
    log = j["trace"]["steps"][-1]["observation"]["replicas"][0]["log"]
    twice = [b for b in log if b["records"] == [2]]
    # the same record under two stamps: (epoch 0, sequence 1), then re-stamped (epoch 1, sequence 0)
    assert [(b["producer_epoch"], b["base_sequence"]) for b in twice] == [(0, 1), (1, 0)]


def test_kafka_15591_in_flight_one_is_the_fix(capsys):
    rc, j = check(capsys, "--set", "enable.idempotence=true", "--set", "retries=3", "--set",
                  "max.in.flight.requests.per.connection=1", "--max-isr-shrinks", "2", "--max-other-writes", "1",
                  "--invariant", "no-duplicates")
    assert rc == 0 and j["verdict"] == "holds"


@pytest.mark.skipif(__import__("os").environ.get("ACKCHECK_SLOW") != "1", reason="slow (~30 s): ACKCHECK_SLOW=1")
def test_kafka_15591_duplicate_after_a_failover(capsys):
    """The same duplicate when a crash and a new leader move the log end instead: any
    producer id the leader holds no state for will do, a failover is not needed."""
    rc = main(["check", *[a for a in COMMON if a not in ("--max-crashes", "0")], "--max-crashes", "1",
               "--set", "enable.idempotence=true", "--set", "retries=3", "--invariant", "no-duplicates", "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 1 and j["violation"]["invariant"] == "no-duplicates"


def test_producer_order_holds_with_three_attempts(capsys):
    """With 3 attempts the model used to find a reorder Kafka cannot produce: the broker
    handled batch 0's retry while batch 1 was parked in purgatory on the same connection
    (the SocketServer keeps that channel muted), and an OUT_OF_ORDER_SEQUENCE_NUMBER for a
    batch that was not the next one bumped the epoch (TransactionManager.canRetry retries it
    unchanged). Both fixed, the same bounds keep the order."""
    rc = main(["check", "--acks", "all", "--replication-factor", "2", "--min-insync-replicas", "2", "--max-records",
               "2", "--max-lost-messages", "1", "--set", "enable.idempotence=true", "--set", "retries=3",
               "--max-attempts", "3", "--invariant", "producer-order", "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 0 and j["verdict"] == "holds"


def test_out_of_order_for_a_batch_that_is_not_next_retries_without_a_bump():
    """TransactionManager.canRetry: batch 1 was acknowledged (last acked sequence 1), so
    batch 0 (sequence 0) is not the next one - its OUT_OF_ORDER_SEQUENCE_NUMBER is retried
    unchanged; once its attempts are spent it fails and handleFailedBatch bumps the epoch."""
    from conftest import make_config

    from ackcheck.model.protocol import Model
    from ackcheck.model.state import B_FAILED, B_OK, B_RETRY

    cfg = make_config({"acks": "all", "min.insync.replicas": "2", "enable.idempotence": "true", "retries": "3"},
                      None, (), max_records=2, max_crashes=0, max_isr_shrinks=2, max_other_writes=1, max_attempts=3)
    m = Model(cfg)
    s = m.init()
    for a in [("producer_send", 0, 0), ("producer_send", 1, 0), ("other_producer_write", 0),
              ("leader_shrink_isr", 0, 1), ("controller_alter_partition", 0),
              ("leader_shrink_isr", 0, 2), ("controller_alter_partition", 0),
              ("broker_handle_produce", 0, 0, 1), ("producer_receive", 0, 1),  # NOT_ENOUGH_REPLICAS
              ("follower_fetch", 1), ("controller_alter_partition", 0),
              ("broker_handle_produce", 0, 1, 1), ("follower_fetch", 1), ("follower_fetch", 1),
              ("producer_receive", 1, 1),  # batch 1 acknowledged with sequence 1
              ("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 2), ("producer_receive", 0, 2)]:
        s = m.step(s, a)
    assert s.last_acked_sequence == 1 and s.batches[1].status == B_OK
    b0 = s.batches[0]
    assert (b0.status, s.producer_epoch, b0.producer_epoch, b0.base_sequence) == (B_RETRY, 0, 0, 0)
    for a in [("producer_send", 0, 0), ("broker_handle_produce", 0, 0, 3), ("producer_receive", 0, 3)]:
        s = m.step(s, a)
    assert s.batches[0].status == B_FAILED and s.producer_epoch == 1 and s.last_acked_sequence == -1
