"""The trace viewer's pages, without a browser: the embedded data, its escaping, and the
commands that write pages (view, check, replay, matrix, audit). The pages are exercised in
a real browser in test_viewer_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from ackcheck.checker.cli import main as cli
from ackcheck.checker.viewer import embed_json, involved, page_data, render_page
from ackcheck.invariants.catalogue import BY_ID
from ackcheck.traces.format import load_trace, trace_from_dict
from ackcheck.traces.render import describe_action

CORPUS = Path(__file__).resolve().parent.parent / "traces" / "corpus"
HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"><!--'


def embedded(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', page, re.S)
    assert m, "no embedded trace data"
    return json.loads(m.group(1))


def test_embedded_json_cannot_leave_its_script_element():
    data = {"s": HOSTILE, "sep": "a\u2028b\u2029c", "amp": "&lt;"}
    text = embed_json(data)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert json.loads(text) == data


def test_page_data_of_a_corpus_trace():
    trace = load_trace(CORPUS / "acks1-leader-loss.json")
    data = page_data(trace, command="ackcheck check --acks 1")
    assert len(data["steps"]) == len(trace.steps)
    assert [s["text"] for s in data["steps"]] == [describe_action(a) for a, _ in trace.steps]
    assert data["steps"][1]["actor"] == "producer"
    assert data["steps"][2]["actor"] == "broker 0" and data["steps"][2]["lane"] == "broker-0"
    v = data["violation"]
    assert v["invariant"] == "acked-write-survives" and v["step"] == trace.violation.step
    assert v["description"] == BY_ID["acked-write-survives"].description
    assert v["records"] == [1] and v["offsets"] == [0]
    assert data["brokers"] == 3 and data["kafka_version"] == "4.1"
    assert ["acks", "1"] in data["config"]
    assert data["loop_start"] is None


def test_involved_records_and_offsets_from_messages():
    assert involved("record 1 appears twice in leader 0's log (offsets 0 and 1)") == {"records": [1], "offsets": [0, 1]}
    assert involved("record 2 was sent after record 1 but landed before it (offset 1 < 2)") == \
        {"records": [1, 2], "offsets": [1, 2]}
    assert involved("brokers 0 and 1 both lead epoch 2") == {"records": [], "offsets": []}


def test_the_page_is_self_contained_and_allows_only_its_own_script(tmp_path):
    trace = load_trace(CORPUS / "minisr1-power-loss.json")
    page = render_page(page_data(trace))
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    assert "{{" not in page
    assert embedded(page)["violation"]["invariant"] == trace.violation.invariant
    # the CSP names the hash of the one inline script: nothing else can run
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page


def test_hostile_strings_stay_data(tmp_path):
    d = json.loads((CORPUS / "acks1-leader-loss.json").read_text())
    d["config"][HOSTILE] = HOSTILE
    d["violation"]["invariant"] = HOSTILE
    d["violation"]["message"] = HOSTILE
    d["corpus"]["name"] = HOSTILE
    trace = trace_from_dict(d)
    page = render_page(page_data(trace, raw=d, command=HOSTILE))
    assert "window.__pwned" not in page.replace("window.__pwned=1", "")  # sanity of the payload
    assert "<img" not in page and "</script><script>" not in page
    assert page.count("<script") == 2  # the data element and the page's own script
    assert embedded(page)["violation"]["message"] == HOSTILE


def test_loop_start_is_shown():
    d = json.loads((CORPUS / "acks1-leader-loss.json").read_text())
    trace = trace_from_dict(d)
    assert page_data(trace, raw={**d, "loop_start": 3})["loop_start"] == 3
    assert page_data(trace, raw={**d, "loop_start": 99})["loop_start"] is None  # not a step: ignored
    assert page_data(trace, raw=d)["loop_start"] is None


def test_view_html_writes_the_page_with_model_internals(tmp_path, capsys):
    out = tmp_path / "v.html"
    assert cli(["view", str(CORPUS / "acks1-leader-loss.json"), "--html", str(out)]) == 0
    data = embedded(out.read_text(encoding="utf-8"))
    assert data["command"].startswith("ackcheck check --acks 1")
    # the model's internals of step 2: broker 0 answered batch 0's request, the response is in the network
    assert data["steps"][2]["internals"]["responses"] == ["batch 0 attempt 1 \u2190 broker 0: NONE, base offset 0"]
    assert data["steps"][1]["internals"]["requests"] == ["batch 0 attempt 1 \u2192 broker 0"]
    assert data["internals_note"] is None


def test_view_html_bad_output_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    rc = cli(["view", str(CORPUS / "acks1-leader-loss.json"), "--html", str(tmp_path / "f" / "v.html")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--html" in err and len(err.splitlines()) == 1


def test_check_html_shows_the_trace_the_engine_found(tmp_path, capsys):
    out, tr = tmp_path / "c.html", tmp_path / "c.json"
    assert cli(["check", "--acks", "1", "--html", str(out), "--trace-out", str(tr)]) == 1
    data = embedded(out.read_text(encoding="utf-8"))
    trace = load_trace(tr)
    assert len(data["steps"]) == len(trace.steps)
    assert data["violation"]["invariant"] == trace.violation.invariant == "acked-write-survives"


def test_replay_html_puts_the_broker_beside_the_model(tmp_path, capsys):
    out = tmp_path / "r.html"
    rc = cli(["replay", str(CORPUS / "acks1-leader-loss.json"), "--on", "broker", "--keep-dir", str(tmp_path / "kd"),
              "--html", str(out)])
    assert rc == 0
    data = embedded(out.read_text(encoding="utf-8"))
    r = data["replay"]
    assert r["conformant"] and r["confirmed"]
    assert len(r["observations"]) == len(data["steps"])
    assert r["observations"] == [s["obs"] for s in data["steps"]]


def test_matrix_html_dir_links_every_violated_cell_to_an_existing_page(tmp_path, capsys):
    out = tmp_path / "m"
    rc = cli(["matrix", "--acks", "1,all", "--min-insync-replicas", "1", "--unclean", "false", "--idempotence", "false",
              "--max-in-flight", "5", "--retries", "3", "--no-seed", "--guarantee", "no-acked-loss",
              "--format", "html", "--out", str(out), "--no-cache", "--jobs", "1"])
    assert rc == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"#]*\.html)"', index)
    assert links, "the acks=1 row violates no-acked-loss: its cell links a page"
    for link in links:
        page = out / link
        assert page.is_file() and not Path(link).is_absolute()
        data = embedded(page.read_text(encoding="utf-8"))
        assert data["violation"]["invariant"] == "acked-write-survives"
        assert (page.parent / data["back_link"]).resolve() == (out / "index.html").resolve()


def test_audit_html_links_trace_pages(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = cli(["audit", "--acks", "1", "--guarantee", "no-acked-loss", "--no-fix", "--no-cache", "--jobs", "1",
              "--trace-dir", "traces", "--html", "report/audit.html"])
    assert rc == 1
    text = (tmp_path / "report" / "audit.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]*)"', text)
    assert links == ["../traces/no-acked-loss.html"]
    assert embedded((tmp_path / "traces" / "no-acked-loss.html").read_text(encoding="utf-8"))["violation"]


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.json")))
def test_every_corpus_trace_renders_with_model_internals(name, tmp_path, capsys):
    out = tmp_path / "p.html"
    assert cli(["view", str(CORPUS / name), "--html", str(out)]) == 0
    data = embedded(out.read_text(encoding="utf-8"))
    assert data["violation"] and data["command"]
    assert all("internals" in s for s in data["steps"]), data["internals_note"]
