"""`ackcheck view TRACE [--html OUT.html]`: a trace step by step, in the terminal or as a page.

The page (ackcheck.checker.viewer) shows what the trace's observations hold; this module
adds what only the model knows - produce requests and responses in the network, acks=all
requests parked on a leader, pending AlterPartition requests, the controller's messages in
flight, batch attempts - by replaying the trace's actions on the model, for as long as the
model's observations agree with the trace's.
"""

from __future__ import annotations

import json
from pathlib import Path

from ackcheck.checker.cli.options import ArgumentParser
from ackcheck.traces.format import Trace, load_trace
from ackcheck.traces.settings import ConfigError


def model_internals(trace: Trace) -> tuple[list | None, str | None]:
    """Per step the model's internals as lists of sentences (None where unknown), and a note
    when they stop early (the model no longer produces the trace's observations)."""
    from ackcheck.checker.engines.check import judged_run
    from ackcheck.invariants.catalogue import BY_ID
    from ackcheck.model.protocol import ActionError
    from ackcheck.model.state import observe
    from ackcheck.traces.settings import config_from_dict

    try:
        config = config_from_dict(trace.config)
    except ConfigError as e:
        return None, f"model internals not shown: the trace's config is not one ackcheck builds ({e})"
    actions = trace.actions
    attempts = []
    inv = trace.violation.invariant if trace.violation and trace.violation.invariant in BY_ID else None
    # the lean model leaves out ghosts (and the consumer) no selected invariant needs; with
    # every invariant selected it observes everything the trace holds
    for ids in ([inv] if inv else None, None):
        out: list = []
        try:
            for k, _a, s, _v in judged_run(config, actions, ids):
                if k >= len(trace.steps) or observe(s) != trace.steps[k][1]:
                    break
                out.append(_internals(s))
        except ActionError:
            pass
        attempts.append(out)
        if len(out) == len(trace.steps):
            return out, None
    best = max(attempts, key=len)
    if not best:
        return None, "model internals not shown: this version of the model does not reproduce the trace's initial state"
    return best + [None] * (len(trace.steps) - len(best)), (
        f"model internals shown up to step {len(best) - 1}: from step {len(best)} this version of the model "
        "observes something else than the trace")


def _internals(s) -> dict:
    from ackcheck.model import state as st

    status = {st.B_QUEUED: "queued", st.B_IN_FLIGHT: "in flight", st.B_RETRY: "waiting to retry",
              st.B_OK: "acknowledged", st.B_FAILED: "failed", st.B_INDETERMINATE: "indeterminate"}
    batches = [f"batch {i}: {status.get(b.status, b.status)}, {b.attempts} attempt(s)"
               + (f", base offset {b.offset}" if b.offset >= 0 else "")
               + (f", sequence {b.base_sequence}" if b.base_sequence >= 0 else "")
               for i, b in enumerate(s.batches)]
    requests = [f"batch {q.batch} attempt {q.attempt} \u2192 broker {q.broker}" for q in s.requests]
    responses = [f"batch {r.batch} attempt {r.attempt} \u2190 broker {r.broker}: {st.ERROR_NAMES[r.error]}"
                 + (f", base offset {r.base_offset}" if r.base_offset >= 0 else "")
                 for r in s.responses]
    purgatory = [f"broker {p.broker} holds batch {p.batch} attempt {p.attempt} until its HW reaches {p.end_offset}"
                 for p in s.purgatory]
    cmsgs = [f"to broker {m.broker}: epoch {m.leader_epoch}, leader {m.leader}, ISR {list(m.isr)}"
             for m in s.controller_messages]
    changes = [f"leader {c.leader} (epoch {c.leader_epoch}): ISR {list(c.base_isr)} \u2192 {list(c.proposed_isr)}"
               + (f", HW over {list(c.effective_isr)}" if c.effective_isr != c.proposed_isr else "")
               + (" (a re-added replica restarted since: KIP-903 rejects it)" if c.stale_broker_epoch else "")
               for c in s.isr_changes]
    delayed = [f"broker {f.follower}'s fetch to broker {f.leader} (epoch {f.leader_epoch}, offset {f.fetch_offset})"
               for f in s.delayed_fetches]
    out = {"batches": batches, "requests": requests, "responses": responses, "purgatory": purgatory,
           "controller_messages": cmsgs, "isr_changes": changes, "delayed_fetches": delayed}
    trunc = [str(b) for b, t in enumerate(s.fetcher_truncating) if t]
    if trunc:
        out["fetcher_truncating"] = [f"broker {b} truncates before it fetches" for b in trunc]
    return out


def reproduce_command(trace: Trace) -> str | None:
    """The `ackcheck check` command line that finds this trace again (None: the config is not
    one ackcheck builds)."""
    from ackcheck.checker.audit.fixes import check_command
    from ackcheck.traces.settings import config_from_dict

    try:
        config = config_from_dict(trace.config)
    except ConfigError:
        return None
    return check_command(config, [trace.violation.invariant] if trace.violation else [])


def trace_page_data(trace: Trace, *, raw: dict | None = None, replay: dict | None = None,
                    back_link: str | None = None, title: str | None = None) -> dict:
    from ackcheck.checker.viewer import page_data

    internals, note = model_internals(trace)
    return page_data(trace, raw=raw, command=reproduce_command(trace), internals=internals,
                     internals_note=note, replay=replay, back_link=back_link, title=title)


def write_trace_page(trace: Trace, out: str | Path, flag: str, **kw) -> Path:
    """Write the viewer page of `trace` to `out`; a bad path is a one-line error naming `flag`."""
    from ackcheck.checker.viewer import write_page

    data = trace_page_data(trace, **kw)
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        return write_page(data, out)
    except OSError as e:
        raise ConfigError(f"{flag} {out}: {e.strerror}") from None


def raw_json(path: str | Path) -> dict:
    """The trace file's JSON object (already validated by load_trace) for the fields the
    format does not parse (loop_start, corpus notes)."""
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def main(argv: list[str]) -> int:
    from ackcheck.traces.render import render

    p = ArgumentParser(prog="ackcheck view", description=(
        "Render a trace: every step's action and cluster state, in the terminal or (--html) as one "
        "self-contained page with a lane per broker, the controller, the producer and the consumer."))
    p.add_argument("trace", metavar="TRACE.json", help="a trace written by check --trace-out, fuzz, audit or matrix")
    p.add_argument("--html", metavar="OUT.html",
                   help="write the trace as a self-contained HTML page (no network needed) instead of printing it")
    args = p.parse_args(argv)
    trace = load_trace(args.trace)
    if args.html:
        out = write_trace_page(trace, args.html, "--html", raw=raw_json(args.trace))
        print(f"wrote {out} ({len(trace.steps) - 1} steps)")
        return 0
    print(render(trace))
    return 0


def write_audit_page(audit, out: str | Path) -> Path:
    """`ackcheck audit --html OUT.html`: the audit's overview page, and a viewer page beside
    each violated guarantee's trace file, linked relatively from the overview."""
    import os

    from ackcheck.checker.audit.report import fix_text
    from ackcheck.checker.viewer import render_audit_html

    out = Path(out)
    data = audit.as_dict()
    by_id = {r.guarantee.id: r for r in audit.results}
    for g in data["guarantees"]:
        r = by_id.get(g["id"])
        if r is None or r.verdict != "violated":
            continue
        if r.fix:
            g["fix_text"] = fix_text(r.fix)
        if r.trace_file:
            trace_path = Path(r.trace_file)
            page = trace_path.with_suffix(".html")
            write_trace_page(load_trace(trace_path), page, "--trace-dir", raw=raw_json(trace_path),
                             title=f"audit: {g['id']} ({g['violation']['invariant']})",
                             back_link=os.path.relpath(out.resolve(), page.resolve().parent))
            g["page"] = os.path.relpath(page.resolve(), out.resolve().parent)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_audit_html(data), encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--html {out}: {e.strerror}") from None
    return out
