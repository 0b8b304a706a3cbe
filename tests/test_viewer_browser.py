"""The trace viewer in a real browser: Debian's chromium driven by Playwright.

Pages are written by the commands themselves (`ackcheck view --html`, `replay --html`),
opened from disk, stepped through with the keyboard, and judged on the DOM. Screenshots
go to $ACKCHECK_ARTIFACTS (or the test's tmp_path) for people to look at.

Skips, saying why, only when no chromium is installed (CI installs it: .ci/run).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ackcheck.checker.cli import main as cli
from ackcheck.checker.viewer import page_data, render_page
from ackcheck.traces.format import trace_from_dict

CORPUS = Path(__file__).resolve().parent.parent / "traces" / "corpus"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None:
    pytest.skip("no chromium installed (apt-get install chromium): the viewer's browser tests need one",
                allow_module_level=True)

from playwright import sync_api  # noqa: E402  (the test extra installs it; only the browser may be missing)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    d = Path(os.environ["ACKCHECK_ARTIFACTS"]) if os.environ.get("ACKCHECK_ARTIFACTS") else tmp_path / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


class Page:
    """A viewer page open in the browser, collecting script errors and dialogs."""

    def __init__(self, browser, path: Path, viewer: bool = True):
        self.page = browser.new_page(viewport={"width": 1500, "height": 1000})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

        def dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)
        self.page.goto(path.resolve().as_uri())
        if viewer:
            self.page.wait_for_selector("body[data-ready=true]")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def changed(self) -> set[str]:
        return set(self.page.eval_on_selector_all(".column:first-child .changed[data-k]",
                                                  "els => els.map(e => e.dataset.k)"))

    def shot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=True)

    def close(self) -> None:
        self.page.close()


def view(name: str, tmp_path: Path) -> Path:
    out = tmp_path / (Path(name).stem + ".html")
    assert cli(["view", str(CORPUS / name), "--html", str(out)]) == 0
    return out


def test_corpus_trace_lanes_keyboard_and_violation(browser, tmp_path, artifacts, capsys):
    trace = json.loads((CORPUS / "acks1-leader-loss.json").read_text())
    n = len(trace["steps"]) - 1
    pg = Page(browser, view("acks1-leader-loss.json", tmp_path))
    try:
        p = pg.page
        assert "acked-write-survives" in pg.text("#title")
        assert "every record the producer was told succeeded" in pg.text("#v-sentence")
        assert pg.text("#command").startswith("ackcheck check --acks 1")
        # a lane per broker, the controller, the producer and the consumer
        assert pg.count(".lane.broker") == 3
        assert pg.count(".lane.controller") == pg.count(".lane.producer") == pg.count(".lane.consumer") == 1
        assert pg.count("#steps li") == n + 1
        assert pg.text("#counter") == f"step 0 / {n}"
        pg.shot(artifacts / "viewer-acks1-step0.png")
        p.keyboard.press("ArrowRight")
        assert pg.text("#counter") == f"step 1 / {n}"
        assert pg.text("#now-actor") == "producer"
        assert "producer sends batch 0 to broker 0" in pg.text("#now-text")
        p.keyboard.press("ArrowRight")
        # broker 0 appended record 1 at offset 0, in its page cache only
        cell = p.locator('.column:first-child .rec[data-k="b0.o0"]')
        assert cell.text_content() == "0: 1 @ 0"
        assert "cache" in cell.get_attribute("class")
        assert p.locator('.lane[data-lane="broker-0"]').get_attribute("class").count("acting") == 1
        pg.shot(artifacts / "viewer-acks1-step2.png")
        p.keyboard.press("End")
        assert pg.text("#counter") == f"step {n} / {n}"
        assert pg.page.is_visible("#now-violation")
        assert "acked-write-survives is broken here" in pg.text("#now-violation")
        # the record involved is outlined wherever it is; the new leader lacks offset 0
        assert pg.count(".column:first-child .rec.involved") >= 1
        assert pg.count('.lane[data-lane="broker-1"] .rec.missing') == 1
        assert "current" in p.locator(f'#steps li[data-step="{n}"]').get_attribute("class")
        pg.shot(artifacts / "viewer-acks1-violation.png")
        p.keyboard.press("Home")
        assert pg.text("#counter") == f"step 0 / {n}"
        p.keyboard.press("ArrowLeft")  # stays at the first step
        assert pg.text("#counter") == f"step 0 / {n}"
        assert pg.errors == [] and pg.dialogs == []
    finally:
        pg.close()


def test_a_link_can_open_one_step(browser, tmp_path):
    path = view("acks1-leader-loss.json", tmp_path)
    pg = browser.new_page()
    try:
        pg.goto(path.resolve().as_uri() + "#step-3")
        pg.wait_for_selector("body[data-ready=true]")
        assert pg.inner_text("#counter") == "step 3 / 5"
        pg.keyboard.press("ArrowRight")
        assert pg.evaluate("location.hash") == "#step-4"
    finally:
        pg.close()


def test_exactly_what_changed_is_highlighted(browser, tmp_path, artifacts, capsys):
    pg = Page(browser, view("acks1-leader-loss.json", tmp_path))
    try:
        p = pg.page
        assert pg.changed() == set()  # the initial state changes nothing
        p.keyboard.press("ArrowRight")
        p.keyboard.press("ArrowRight")  # step 2: broker 0 handles the produce request
        changed = pg.changed()
        assert {"b0.o0", "b0.leo", "b0.fleos", "p.inflight"} <= changed
        assert "i.batches.0" not in changed  # still in flight: the response is on its way
        # the response is new in the network; the request it answers is gone (listed, not drawn)
        assert {k for k in changed if k.startswith("i.responses#")} == {
            "i.responses#batch 0 attempt 1 \u2190 broker 0: NONE, base offset 0"}
        assert not {k for k in changed if k.startswith("i.requests#")}
        # nothing of the followers, the controller, or broker 0's HW moved
        assert not {k for k in changed if k.startswith(("b1.", "b2.", "c."))}
        assert "b0.hw" not in changed
        items = p.eval_on_selector_all("#changes li", "els => els.map(e => e.textContent)")
        assert "broker 0: LEO: 0 \u2192 1" in items
        assert "produce request in the network: batch 0 attempt 1 \u2192 broker 0 \u2192 gone" in items
        assert len(items) == len(changed) + 1  # and the request that left
        p.keyboard.press("ArrowRight")
        p.keyboard.press("ArrowRight")  # step 4: broker 0's process crashes
        changed = pg.changed()
        assert {"b0.alive", "c.leader", "c.isr"} <= changed
        assert "b0.o0" not in changed  # the page cache survives a process crash: the record stays
        assert p.locator('.lane[data-lane="broker-0"]').get_attribute("class").count("dead") == 1
        pg.shot(artifacts / "viewer-acks1-crash.png")
    finally:
        pg.close()


def test_a_truncated_record_is_shown_gone(browser, tmp_path, artifacts, capsys):
    """hw-truncation-0.10: a follower truncates to its HW (before KIP-101) and loses the
    record; the step shows it as gone from that broker's log."""
    data = json.loads((CORPUS / "hw-truncation-0.10.json").read_text())
    pg = Page(browser, view("hw-truncation-0.10.json", tmp_path))
    try:
        gone = None
        for k in range(1, len(data["steps"])):
            pg.page.keyboard.press("ArrowRight")
            if pg.count(".column:first-child .rec.removed"):
                gone = k
                break
        assert gone is not None, "no step removes a record"
        assert pg.count(".column:first-child .rec.removed.involved") >= 1
        pg.shot(artifacts / "viewer-hw-truncation-gone.png")
        pg.page.keyboard.press("End")
        pg.shot(artifacts / "viewer-hw-truncation-violation.png")
        assert pg.errors == []
    finally:
        pg.close()


HOSTILE = [
    "<script>window.__pwned = 1; alert('xss')</script>",
    '<img src=x onerror="window.__pwned = 2; alert(2)">',
    "</script><script>window.__pwned = 3</script>",
    '"><svg onload="window.__pwned = 4">',
    "javascript:alert(5)",
]


def test_hostile_strings_run_no_script(browser, tmp_path, artifacts):
    d = json.loads((CORPUS / "acks1-leader-loss.json").read_text())
    for i, h in enumerate(HOSTILE):
        d["config"][f"label{i}{h}"] = h
    d["violation"]["invariant"] = HOSTILE[0]
    d["violation"]["message"] = HOSTILE[1] + " record 1 at offset 0"
    d["corpus"]["name"] = HOSTILE[2]
    d["corpus"]["description"] = HOSTILE[3]
    trace = trace_from_dict(d)
    data = page_data(trace, raw=d, command=HOSTILE[2], title=None, back_link=HOSTILE[4])
    # record ids and labels as strings, as a foreign or future trace could hold them
    for s in data["steps"]:
        s["text"] = HOSTILE[s["args"][0] % len(HOSTILE)] if s["args"] and isinstance(s["args"][0], int) else HOSTILE[1]
        s["actor"] = HOSTILE[3] if s["actor"] else ""
        for r in s["obs"]["replicas"]:
            for b in r["log"]:
                b["records"] = [HOSTILE[1] for _ in b["records"]]
        for p in s["obs"]["producer"]:
            p["record"] = HOSTILE[0]
        s["internals"] = {"requests": [HOSTILE[2]], "isr_changes": [HOSTILE[1]]}
    data["violation"]["records"] = [HOSTILE[1]]
    page = tmp_path / "hostile.html"
    page.write_text(render_page(data), encoding="utf-8")
    pg = Page(browser, page)
    try:
        p = pg.page
        for key in ("ArrowRight", "ArrowRight", "End", "ArrowLeft"):
            p.keyboard.press(key)
        assert p.evaluate("window.__pwned") is None
        assert pg.dialogs == []
        assert pg.count("img") == 0 and pg.count("svg") == 0 and pg.count("script") == 2
        # the strings are there, as text
        assert HOSTILE[2] in pg.text("#title")
        assert HOSTILE[0] in pg.text("#v-id")
        assert HOSTILE[1] in pg.text(".column:first-child .lane.broker .rec .rid")
        assert HOSTILE[2] in pg.text("#command")
        assert not p.locator("#back").is_visible()  # a javascript: link is not made a link
        pg.shot(artifacts / "viewer-hostile.png")
    finally:
        pg.close()


def test_replay_on_the_broker_beside_the_model(browser, tmp_path, artifacts, capsys):
    out = tmp_path / "replay.html"
    assert cli(["replay", str(CORPUS / "minisr1-power-loss.json"), "--on", "broker",
                "--keep-dir", str(tmp_path / "kd"), "--html", str(out)]) == 0
    pg = Page(browser, out)
    try:
        n = pg.count("#steps li")
        assert pg.count(".column") == 2
        assert "reference broker" in pg.text(".column:nth-child(2) .coltitle")
        assert pg.count("#steps li .agreeflag") == n  # the broker agrees at every step
        assert pg.count(".disagree") == 0
        pg.page.keyboard.press("End")
        assert pg.count(".column:nth-child(2) .lane.broker") == pg.count(".column:first-child .lane.broker")
        pg.shot(artifacts / "viewer-replay-broker.png")
    finally:
        pg.close()


def test_a_disagreeing_replay_is_marked(browser, tmp_path, artifacts):
    d = json.loads((CORPUS / "acks1-leader-loss.json").read_text())
    trace = trace_from_dict(d)
    broker_obs = [json.loads(json.dumps(s["observation"])) for s in d["steps"]]
    broker_obs[3]["replicas"][1]["high_watermark"] = 7  # the "broker" differs at step 3
    data = page_data(trace, raw=d, replay={"on": "reference broker", "summary": ["DIVERGENCE at step 3"],
                                           "conformant": False, "confirmed": False, "observations": broker_obs})
    page = tmp_path / "dis.html"
    page.write_text(render_page(data), encoding="utf-8")
    pg = Page(browser, page)
    try:
        flags = pg.page.eval_on_selector_all("#steps li.step-disagree", "els => els.map(e => e.dataset.step)")
        assert flags == ["3"]
        for _ in range(3):
            pg.page.keyboard.press("ArrowRight")
        dis = pg.page.eval_on_selector_all(".column:nth-child(2) .disagree[data-k]", "els => els.map(e => e.dataset.k)")
        assert dis == ["b1.hw"]
        assert "broker 1: HW: model 0, broker 7" in pg.text(".disagreements")
        pg.shot(artifacts / "viewer-replay-disagree.png")
    finally:
        pg.close()


def test_a_lasso_marks_its_loop(browser, tmp_path, artifacts):
    d = json.loads((CORPUS / "acks1-leader-loss.json").read_text())
    data = page_data(trace_from_dict(d), raw={**d, "loop_start": 2})
    page = tmp_path / "loop.html"
    page.write_text(render_page(data), encoding="utf-8")
    pg = Page(browser, page)
    try:
        loop = pg.page.eval_on_selector_all("#steps li.loop", "els => els.map(e => e.dataset.step)")
        assert loop == ["2", "3", "4", "5"]
        assert pg.count(".loopband") == 1
        pg.page.keyboard.press("End")
        assert "steps 2\u20135 can repeat forever" in pg.text("#now-loop")
    finally:
        pg.close()


def test_the_matrix_page_links_open_viewer_pages(browser, tmp_path, artifacts, capsys):
    out = tmp_path / "m"
    assert cli(["matrix", "--acks", "1", "--min-insync-replicas", "1", "--unclean", "false", "--idempotence", "false",
                "--max-in-flight", "5", "--retries", "3", "--no-seed", "--guarantee", "no-acked-loss",
                "--format", "html", "--out", str(out), "--no-cache", "--jobs", "1"]) == 0
    pg = Page(browser, out / "index.html", viewer=False)
    try:
        pg.page.click("td.violated a")
        pg.page.wait_for_selector("body[data-ready=true]")
        assert "acked-write-survives" in pg.text("#title")
        pg.page.click("#back")
        pg.page.wait_for_selector("td.violated a")
    finally:
        pg.close()


def test_a_lasso_the_engine_found(browser, tmp_path, artifacts, capsys):
    """acks=1 loses an acknowledged record, so it never becomes readable: a liveness lasso."""
    out, tr = tmp_path / "lasso.html", tmp_path / "lasso.json"
    assert cli(["check", "--acks", "1", "--invariant", "eventually-visible", "--trace-out", str(tr),
                "--html", str(out)]) == 1
    loop_start = json.loads(tr.read_text())["loop_start"]
    assert isinstance(loop_start, int)
    pg = Page(browser, out)
    try:
        assert "The liveness property: every acknowledged record eventually becomes readable" in pg.text("#v-sentence")
        loop = pg.page.eval_on_selector_all("#steps li.loop", "els => els.map(e => Number(e.dataset.step))")
        assert loop and loop[0] == loop_start
        pg.page.keyboard.press("End")
        assert pg.page.is_visible("#now-loop") and "\u21bb" in pg.text("#now-loop")
        pg.shot(artifacts / "viewer-lasso.png")
    finally:
        pg.close()
