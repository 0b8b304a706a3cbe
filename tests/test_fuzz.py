"""The Hypothesis machine (checker/engines/fuzz.py): rules from the model, invariants from the catalogue."""

import json
import os
import unittest

import pytest
from conftest import make_config
from hypothesis import HealthCheck, Phase, settings

import ackcheck
from ackcheck.checker.engines.check import replay_on_model
from ackcheck.checker.engines.fuzz import (
    FAMILIES,
    FAMILY_OF,
    InvariantViolation,
    ModelMachine,
    machine_for,
    run_fuzz,
    trace_from_actions,
)
from ackcheck.traces.format import ACTIONS, trace_from_dict
from ackcheck.traces.render import render

ACKS1 = make_config({"acks": "1"}, max_records=1, max_crashes=1)
SAFE = make_config({"acks": "all", "min.insync.replicas": "2"}, max_records=1, max_crashes=1)


def test_every_action_of_the_vocabulary_has_a_family():
    missing = [name for name in ACTIONS if name not in FAMILY_OF]
    assert not missing, f"actions without a fuzz rule family: {missing}"
    assert FAMILIES["other"] == ()


def test_machine_rules_and_invariants():
    M = machine_for(ACKS1)
    assert issubclass(M, ModelMachine)
    rules = {r.function.__name__ for r in M.setup_state().rules}
    # no consumer rule: no selected invariant that needs the consumer... acks=1 selects all
    assert {"producer", "broker_produce", "fetch", "crash", "quiescent"} <= rules
    assert "other" not in rules
    names = {i.function.__name__ for i in M.setup_state().invariants}
    assert names == {"state_invariants", "step_invariants"}
    only = machine_for(ACKS1, ["acked-write-survives"])
    assert "consumer" not in {r.function.__name__ for r in only.setup_state().rules}
    assert only.invariant_ids == ("acked-write-survives",)


def test_unknown_invariant_is_a_config_error():
    from ackcheck.traces.settings import ConfigError

    with pytest.raises(ConfigError, match="unknown invariant"):
        machine_for(ACKS1, ["no-such-thing"])


def test_fuzz_finds_acks1_loss_and_the_trace_replays_to_the_same_step():
    r = run_fuzz(ACKS1, ["acked-write-survives"], examples=300, steps=30, seed=1)
    assert r.verdict == "violated" and r.exit_code == 1
    assert r.violation[0] == "acked-write-survives"
    t = r.trace
    assert t.violation.step == len(t.steps) - 1
    # the trace round-trips through JSON and replays on the model to the same violation
    loaded = trace_from_dict(json.loads(t.dumps()))
    rep = replay_on_model(loaded)
    assert rep.ok and rep.mismatch is None
    assert rep.violation[0] == "acked-write-survives" and rep.violation[2] == t.violation.step
    assert "acked-write-survives violated" in render(loaded)
    d = r.as_dict()
    assert d["engine"] == "fuzz" and d["verdict"] == "violated"


def test_no_violation_is_not_holds():
    r = run_fuzz(SAFE, ["acked-write-survives"], examples=40, steps=30, seed=3)
    assert r.violation is None and r.exit_code == 0
    assert r.verdict == "no-violation-found"
    assert r.as_dict()["stats"]["complete"] is False
    assert r.stats.transitions > 0 and r.executions >= 40 and r.stats.distinct_states > 1


def test_same_seed_same_run():
    cfg = make_config({"acks": "1"}, max_records=2, max_crashes=1)
    a = run_fuzz(cfg, ["acked-write-survives"], examples=60, steps=30, seed=7)
    b = run_fuzz(cfg, ["acked-write-survives"], examples=60, steps=30, seed=7)
    assert a.stats.transitions == b.stats.transitions and a.executions == b.executions
    assert (a.trace.as_dict() if a.trace else None) == (b.trace.as_dict() if b.trace else None)
    c = run_fuzz(cfg, ["acked-write-survives"], examples=60, steps=30, seed=8)
    assert (c.stats.transitions, c.executions) != (a.stats.transitions, a.executions)


def test_bounds_bound_perturbations_and_steps_bound_length():
    cfg = make_config({"acks": "all"}, max_records=2, max_crashes=1, max_isr_shrinks=0, max_depth=0)
    M = machine_for(cfg, ["acked-write-survives"])
    seen = []
    orig = M._take

    def spy(self, family, data):
        orig(self, family, data)
        seen.append(list(self.actions))

    M._take = spy
    M.TestCase.settings = settings(max_examples=40, stateful_step_count=25, database=None, deadline=None,
                                   suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    with open(os.devnull, "w") as sink:
        result = unittest.TextTestRunner(stream=sink).run(M.TestCase())
    assert result.wasSuccessful()
    assert seen
    for acts in seen:
        assert len(acts) <= 25
        assert sum(1 for a in acts if a[0] in ("crash", "power_loss")) <= 1
        assert not any(a[0] in ("lose_request", "lose_response", "power_loss") for a in acts)
        assert not any(a[0] == "controller_elect" and a[2] == "rebalance" for a in acts)


def test_max_depth_of_the_config_caps_executions():
    cfg = make_config({"acks": "1"}, max_records=2, max_depth=4)
    r = run_fuzz(cfg, ["acked-write-survives"], examples=30, steps=30, seed=1)
    assert r.stats.max_depth <= 4


def test_testcase_for_a_users_suite(tmp_path):
    """machine_for(config).TestCase is a unittest.TestCase pytest can collect."""
    Safe = machine_for(SAFE, ["acked-write-survives"], examples=15, steps=20)
    assert issubclass(Safe.TestCase, unittest.TestCase)
    Safe.TestCase().runTest()  # passes

    out = tmp_path / "found.json"
    Lossy = machine_for(ACKS1, ["acked-write-survives"], trace_out=out, examples=300, steps=30)
    Lossy.TestCase.settings = settings(Lossy.TestCase.settings, database=None, derandomize=True)
    with pytest.raises(InvariantViolation) as e:
        Lossy.TestCase().runTest()
    assert e.value.invariant == "acked-write-survives"
    assert out.exists()
    rep = replay_on_model(trace_from_dict(json.loads(out.read_text())))
    assert rep.violation[0] == "acked-write-survives" and rep.violation[2] == e.value.step


def test_trace_from_actions_stops_at_the_first_violation():
    r = run_fuzz(ACKS1, ["acked-write-survives"], examples=300, steps=30, seed=1)
    acts = r.trace.actions
    t = trace_from_actions(ACKS1, acts + acts[-1:], ["acked-write-survives"])
    assert len(t.steps) == len(acts) + 1
    full = trace_from_actions(ACKS1, acts, ["acked-write-survives"], stop_at_violation=False)
    assert full.violation.step == t.violation.step


def test_shrinking_budget_keeps_the_shortest_failure_seen():
    """With no time to shrink, the run stops at once (through public Hypothesis API only)
    and still reports a failure whose trace breaks the invariant on replay."""
    from ackcheck.checker.engines.fuzz import run_fuzz

    cfg = ackcheck.build_config({"acks": "1"}, max_records=2, max_crashes=1)
    unbounded = run_fuzz(cfg, ["acked-write-survives"], seed=3, examples=200)
    capped = run_fuzz(cfg, ["acked-write-survives"], seed=3, examples=200, shrink_seconds=0)
    assert capped.violation and capped.violation[0] == "acked-write-survives"
    assert capped.trace.violation is not None
    assert len(unbounded.trace.steps) <= len(capped.trace.steps)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # (the dropped exception)
@pytest.mark.parametrize("handler", ["default", "library"])
def test_ctrl_c_dropped_by_a_gc_callback_still_stops_the_run(handler):
    # The interpreter prints and drops an exception raised in a garbage-collector callback
    # (Hypothesis keeps one), so a Ctrl-C whose KeyboardInterrupt lands there used to leave
    # the run going to its last example. Here a gc callback sends the SIGINT to this process
    # and runs a few bytecodes, so the handler's KeyboardInterrupt is raised inside it.
    # "library": the process has its own SIGINT handler (one that does not raise); the run
    # calls it and still stops.
    import gc
    import signal
    import time

    called = []
    before = signal.signal(signal.SIGINT, signal.default_int_handler if handler == "default"
                           else lambda signum, frame: called.append(signum))
    start = time.perf_counter()
    sent = []

    def interrupt_from_inside_gc(phase, info):
        if phase == "stop" and not sent and time.perf_counter() - start > 0.5:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # (the handler runs here, inside the callback)
                pass

    gc.callbacks.append(interrupt_from_inside_gc)
    try:
        r = run_fuzz(SAFE, ["acked-write-survives"], examples=5000, steps=30, seed=3)
    finally:
        gc.callbacks.remove(interrupt_from_inside_gc)
        restored = signal.signal(signal.SIGINT, before)
    assert sent, "no garbage collection ran during the run"
    assert r.interrupted and r.verdict == "incomplete"
    assert r.executions < 5000
    assert called == ([] if handler == "default" else [signal.SIGINT])
    assert restored is not None and (handler == "library") == (restored is not signal.default_int_handler)
