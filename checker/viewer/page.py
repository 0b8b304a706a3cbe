"""Build the data a viewer page shows, and fill the template with it.

`page_data` turns a trace into plain JSON-able data: the header (config, bounds, Kafka
version and protocol rules, the command that reproduces the trace), the violated
invariant explained in one sentence with the records and offsets its message names, and
per step the action in words with its actor and the observation (the trace's own JSON
form, traces/format.py). Optional extras per step - the model's internals and a replay's
observations - are passed in by the caller. `render_page` embeds that data in the
template; the page's script draws the lanes and computes what changed between steps.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from pathlib import Path

from ackcheck.invariants.catalogue import BY_ID
from ackcheck.invariants.liveness import LIVENESS_BY_ID
from ackcheck.traces.format import Trace, observation_to_json
from ackcheck.traces.render import describe_action

# the template's placeholders, each replaced exactly once
_SLOTS = ("{{TITLE}}", "{{CSS}}", "{{JS}}", "{{DATA}}", "{{SCRIPT_HASH}}")


def actor_of(action) -> tuple[str, str]:
    """(who acts, the lane it acts in) for an action: ('broker 1', 'broker-1'),
    ('controller', 'controller'), ('producer', 'producer'), ('network', 'network'), ..."""
    if action is None:
        return ("", "")
    name, *args = action
    if name.startswith("producer_"):
        return ("producer", "producer")
    if name.startswith("consumer_"):
        return ("consumer", "consumer")
    if name.startswith("controller_"):
        return ("controller", "controller")
    if name in ("lose_request", "lose_response"):
        return ("network", "producer")
    broker = args[0]
    if name in ("crash", "power_loss"):
        return (f"fault on broker {broker}", f"broker-{broker}")
    if name == "flush":
        return (f"the OS of broker {broker}", f"broker-{broker}")
    return (f"broker {broker}", f"broker-{broker}")


# faults the bounds count (crashes, power losses, lost messages, delayed fetches): marked in the step list
FAULTS = frozenset({"crash", "power_loss", "lose_request", "lose_response", "follower_fetch_delayed"})

_RECORD = re.compile(r"\brecords? (\d+)")
_OFFSET = re.compile(r"\boffsets? (\d+)(?: and (\d+))?")
_OFFSET_SET = re.compile(r"\(offset (\d+) < (\d+)\)")


def involved(message: str) -> dict[str, list[int]]:
    """The record ids and offsets a violation message names (invariants/catalogue.py
    phrases them as 'record N ... at offset K')."""
    records = sorted({int(m) for m in _RECORD.findall(message)})
    offsets: set[int] = set()
    for a, b in _OFFSET.findall(message):
        offsets.add(int(a))
        if b:
            offsets.add(int(b))
    for a, b in _OFFSET_SET.findall(message):
        offsets.update((int(a), int(b)))
    return {"records": records, "offsets": sorted(offsets)}


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def page_data(trace: Trace, *, raw: dict | None = None, command: str | None = None, title: str | None = None,
              internals: list | None = None, internals_note: str | None = None, replay: dict | None = None,
              back_link: str | None = None) -> dict:
    """Everything a page shows, as JSON-able data.

    raw: the trace's JSON object as read (for fields this version of the format does not
    parse: ``loop_start`` of a lasso, ``corpus`` notes); internals: per step a dict of
    lists of strings (or None) describing model state the observation does not hold;
    replay: {"on", "summary", "observations": [observation JSON or None per step], ...}.
    """
    raw = raw or {}
    cfg = trace.config if isinstance(trace.config, dict) else {}
    props = [[str(k), _scalar(v)] for k, v in cfg.items() if k not in ("rules", "bounds", "kafka.version")]
    rules = cfg.get("rules") if isinstance(cfg.get("rules"), dict) else {}
    bounds = cfg.get("bounds") if isinstance(cfg.get("bounds"), dict) else {}
    violation = None
    if trace.violation is not None:
        v = trace.violation
        inv = BY_ID.get(v.invariant) or LIVENESS_BY_ID.get(v.invariant)
        violation = {
            "invariant": v.invariant,
            "description": inv.description if inv else "",
            "anomaly": inv.anomaly if inv else "",
            "message": v.message,
            "step": v.step,
            "liveness": v.invariant in LIVENESS_BY_ID,
            **involved(v.message),
        }
    loop_start = raw.get("loop_start", getattr(trace, "loop_start", None))
    if not (isinstance(loop_start, int) and not isinstance(loop_start, bool) and 0 <= loop_start < len(trace.steps)):
        loop_start = None
    corpus = raw.get("corpus") if isinstance(raw.get("corpus"), dict) else None
    steps = []
    for k, (action, obs) in enumerate(trace.steps):
        actor, lane = actor_of(action)
        step = {
            "action": action[0] if action else None,
            "args": list(action[1:]) if action else [],
            "text": describe_action(action),
            "actor": actor,
            "lane": lane,
            "fault": bool(action) and action[0] in FAULTS,
            "obs": observation_to_json(obs),
        }
        if internals is not None and k < len(internals) and internals[k] is not None:
            step["internals"] = internals[k]
        steps.append(step)
    if title is None:
        if violation:
            title = f"{violation['invariant']} violated at step {violation['step']}"
        else:
            title = f"trace of {len(trace.steps) - 1} steps"
        if corpus and isinstance(corpus.get("name"), str):
            title = f"{corpus['name']}: {title}"
    if command is None and corpus and isinstance(corpus.get("command"), str):
        command = corpus["command"]
    return {
        "title": title,
        "kafka_version": _scalar(cfg.get("kafka.version", "")),
        "config": props,
        "rules": [[str(k), bool(v)] for k, v in rules.items()],
        "bounds": [[str(k), _scalar(v)] for k, v in bounds.items()],
        "command": command,
        "description": corpus.get("description") if corpus and isinstance(corpus.get("description"), str) else None,
        "violation": violation,
        "loop_start": loop_start,
        "brokers": max((len(s["obs"]["replicas"]) for s in steps), default=0),
        "steps": steps,
        "internals_note": internals_note,
        "replay": replay,
        "back_link": back_link,
    }


def embed_json(data) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' (so no '</script>' and no
    '<!--'), and no U+2028/U+2029 line separators."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _asset(name: str) -> str:
    return resources.files("ackcheck.checker.viewer").joinpath(name).read_text(encoding="utf-8")


def render_page(data: dict) -> str:
    """The self-contained HTML page for `page_data`'s data."""
    page = _asset("page.html")
    js = _asset("viewer.js")
    # the Content-Security-Policy allows exactly this script: should markup ever get into
    # the page, no inline script or event handler of it would run
    digest = base64.b64encode(hashlib.sha256(f"\n{js}\n".encode()).digest()).decode()
    values = {
        "{{SCRIPT_HASH}}": f"sha256-{digest}",
        "{{TITLE}}": html.escape(f"ackcheck: {data.get('title', 'trace')}"),
        "{{CSS}}": _asset("viewer.css"),
        "{{JS}}": js,
        "{{DATA}}": embed_json(data),
    }
    # one pass, so nothing inserted is itself searched for placeholders
    return re.sub("|".join(re.escape(s) for s in _SLOTS), lambda m: values[m.group(0)], page)


def write_page(data: dict, out: str | Path) -> Path:
    """Write the page for `data` to `out` (OSError propagates: the caller names its flag)."""
    out = Path(out)
    out.write_text(render_page(data), encoding="utf-8")
    return out
