import json

import pytest
from conftest import make_config

from ackcheck.checker.engines.check import run_check
from ackcheck.traces.format import TraceError, load_trace, trace_from_dict
from ackcheck.traces.render import render


@pytest.fixture(scope="module")
def acks1_trace():
    r = run_check(make_config({"acks": "1"}), ["acked-write-survives"])
    assert r.trace is not None
    return r.trace


def test_roundtrip(tmp_path, acks1_trace):
    p = tmp_path / "t.json"
    acks1_trace.write(p)
    t = load_trace(p)
    assert t.steps == acks1_trace.steps
    assert t.violation == acks1_trace.violation
    assert t.as_dict() == acks1_trace.as_dict()


@pytest.mark.parametrize("mutate,path", [
    (lambda d: d.update(steps="nope"), "$.steps"),
    (lambda d: d.update(version=2), "$.version"),
    (lambda d: d["steps"][1]["action"].update(name="explode"), "$.steps[1].action.name"),
    (lambda d: d["steps"][1]["observation"]["replicas"][0].update(high_watermark="x"),
     "$.steps[1].observation.replicas[0].high_watermark"),
    (lambda d: d["steps"][0]["observation"]["replicas"][0].update(log_end_offset=5),
     "$.steps[0].observation.replicas[0].log_end_offset"),
    (lambda d: d["violation"].update(step=99), "$.violation.step"),
])
def test_strict_loading_names_the_bad_field(acks1_trace, mutate, path):
    d = json.loads(acks1_trace.dumps())
    mutate(d)
    with pytest.raises(TraceError) as e:
        trace_from_dict(d)
    assert str(e.value).startswith(path)


def test_not_json(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("{nope")
    with pytest.raises(TraceError, match="not JSON"):
        load_trace(p)


def test_render_marks_changes_and_violation(acks1_trace):
    text = render(acks1_trace)
    assert "step 0: initial state" in text
    assert "!! acked-write-survives violated" in text
    assert "\n*" in text  # changed lines are marked
    assert "0:1@0" in text  # offset:record@epoch
