"""The regression corpus (traces/corpus/): every trace still reaches its recorded violation at
its recorded step on the model, every fixed config does not, and regenerating is byte-exact.

The fixed configs of two scenarios take ~30 s of BFS each (the same config: Kafka 4.1,
min.insync.replicas=2, one crash and one power loss); they run with ACKCHECK_SLOW=1.
"""

import json
import os
from pathlib import Path

import pytest

from ackcheck.checker.audit.corpus import SCENARIOS, check_fixed, default_dir, dumps, generate, verify_file
from ackcheck.checker.cli import main
from ackcheck.checker.engines.check import replay_on_model
from ackcheck.traces.format import load_trace, trace_from_dict

CORPUS = Path(__file__).resolve().parent.parent / "traces" / "corpus"
FILES = sorted(CORPUS.glob("*.json"))
SLOW = os.environ.get("ACKCHECK_SLOW") == "1"


def test_the_corpus_is_the_packaged_one_and_complete():
    assert default_dir().resolve() == CORPUS
    assert {f.stem for f in FILES} == {s.name for s in SCENARIOS}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_trace_replays_to_its_recorded_violation(path):
    d = json.loads(path.read_text())
    assert d["corpus"]["name"] == path.stem  # the loader ignores the extra top-level key
    trace = trace_from_dict(d)
    assert trace.as_dict() == {k: v for k, v in d.items() if k != "corpus"}
    v = trace.violation
    assert v is not None and v.invariant == d["corpus"]["invariant"]
    rep = replay_on_model(trace)
    assert rep.ok, rep.error
    assert rep.mismatch is None
    assert rep.violation[0] == v.invariant and rep.violation[2] == v.step


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fixed_config_does_not_break_the_invariant(sc):
    if sc.slow and not SLOW:
        pytest.skip("fixed config's BFS takes ~30 s: ACKCHECK_SLOW=1")
    d = json.loads((CORPUS / f"{sc.name}.json").read_text())
    fixed = d["corpus"]["fixed_config"]
    assert fixed == sc.fixed_config().as_dict()
    r = check_fixed(fixed, sc.invariant)
    assert r.violation is None and r.stats.complete


def test_regenerating_is_byte_identical(tmp_path):
    for sc in SCENARIOS:
        d, _ = generate(sc)
        (tmp_path / f"{sc.name}.json").write_text(dumps(d))
    for sc in SCENARIOS:
        assert (tmp_path / f"{sc.name}.json").read_bytes() == (CORPUS / f"{sc.name}.json").read_bytes(), (
            f"{sc.name}: the corpus is stale; run `ackcheck corpus regenerate`")


def test_corpus_cli(capsys, tmp_path):
    assert main(["corpus", "list"]) == 0
    assert "acks1-leader-loss" in capsys.readouterr().out
    rc = main(["corpus", "regenerate", "--dir", str(tmp_path), "--only", "acks1-leader-loss",
               "--only", "hw-truncation-0.10"])
    out = capsys.readouterr().out
    assert rc == 0 and "holds" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acks1-leader-loss.json", "hw-truncation-0.10.json"]
    assert (tmp_path / "acks1-leader-loss.json").read_bytes() == (CORPUS / "acks1-leader-loss.json").read_bytes()
    rc = main(["corpus", "verify", "--dir", str(tmp_path), "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["ok"] and all(t["fixed_states"] for t in d["traces"])
    rc = main(["corpus", "verify", "--skip-fixed"])
    assert rc == 0 and f"{len(FILES)}/{len(FILES)} corpus traces verified" in capsys.readouterr().out


def test_verify_detects_a_tampered_trace(capsys, tmp_path):
    d = json.loads((CORPUS / "acks1-leader-loss.json").read_text())
    d["violation"]["step"] -= 1
    (tmp_path / "bad.json").write_text(json.dumps(d))
    v = verify_file(tmp_path / "bad.json", fixed=False)
    assert not v.ok and "step" in v.problems[0]
    rc = main(["corpus", "verify", "--dir", str(tmp_path), "--skip-fixed"])
    assert rc == 1 and "FAIL" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{not json")
    assert not verify_file(tmp_path / "bad.json").ok


def test_corpus_bad_usage(capsys, tmp_path):
    assert main(["corpus"]) == 2
    assert main(["corpus", "regenerate", "--only", "nope", "--dir", str(tmp_path)]) == 2
    assert main(["corpus", "verify", "--dir", str(tmp_path)]) == 2  # empty
    assert main(["corpus", "frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_corpus_traces_render():
    from ackcheck.traces.render import render

    for f in FILES:
        assert "violated" in render(load_trace(f))
