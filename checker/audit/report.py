"""An audit rendered: the terminal table, markdown, and JUnit XML (one test case per guarantee)."""

from __future__ import annotations

import sys

from ackcheck import __version__
from ackcheck.checker.audit.core import Audit
from ackcheck.checker.audit.guarantees import describe_faults
from ackcheck.traces.settings import (
    Config,
)


def verdict_word(v: str) -> str:
    """HOLDS only for a finished search (engines/result.py verdict_of decides the verdict)."""
    return {"holds": "HOLDS", "violated": "VIOLATED"}.get(v, v.upper().replace("-", " "))


def config_line(config: Config) -> str:
    p = config.kafka_properties()
    flush = p["log.flush.interval.messages"]
    flush = "never" if flush == 9223372036854775807 else flush
    mode = "KRaft" if config.rule("kraft_controller") else "ZooKeeper"
    return (f"Kafka {config.kafka_version} ({mode}): acks={p['acks']} min.insync.replicas={p['min.insync.replicas']} "
            f"unclean.leader.election.enable={str(p['unclean.leader.election.enable']).lower()} "
            f"enable.idempotence={str(p['enable.idempotence']).lower()} "
            f"max.in.flight.requests.per.connection={p['max.in.flight.requests.per.connection']} "
            f"retries={p['retries']} log.flush.interval.messages={flush} replication.factor={p['replication.factor']}")


def fix_text(fix: dict | None) -> str:
    if not fix:
        return ""
    text = fix["text"]
    if fix.get("found") and fix.get("kind") == "config":
        text = text[0].upper() + text[1:]
    if fix.get("alternative"):
        text += "; or " + fix["alternative"]["text"]
    return text


def fix_short(fix: dict | None) -> str:
    """The change alone, for tables: 'acks=all', 'Kafka 4.1 + min.insync.replicas=2'."""
    if not fix:
        return ""
    if not fix.get("found"):
        return "none found"

    def one(changes: dict, version: str | None) -> str:
        parts = [f"{k}={v}" for k, v in changes.items()]
        if version:
            parts.insert(0, f"Kafka {version}")
        return " + ".join(parts)

    text = one(fix.get("changes") or {}, fix.get("kafka_version"))
    alt = fix.get("alternative")
    if alt:
        text += " or " + one(alt.get("changes") or {}, alt.get("kafka_version"))
    return text


def render_text(audit: Audit) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)

    def line(text: str = "", style: str | None = None) -> None:
        console.print(Text(text, style=style or ""), soft_wrap=True)

    line(f"ackcheck audit: {config_line(audit.config)}", "bold")
    line("sources: " + "; ".join(audit.sources))
    for n in audit.notes:
        line(f"note: {n}", "dim")
    t = Table(header_style="bold", expand=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("guarantee", no_wrap=True)
    t.add_column("what it means", ratio=3)
    t.add_column("states", justify="right", no_wrap=True)
    t.add_column("smallest fix (re-checked)", ratio=2, overflow="fold")
    for r in audit.results:
        style = {"holds": "green", "violated": "red bold"}.get(r.verdict, "yellow")
        req = " (required)" if r.guarantee.id in audit.required else ""
        word = verdict_word(r.verdict) + ("*" if r.run and not r.run.get("complete", True) else "")
        t.add_row(Text(word, style=style), Text(r.guarantee.id + req), Text(r.guarantee.title),
                  f"{(r.run or {}).get('states', 0):,}",
                  Text(fix_short(r.fix) if r.verdict == "violated" else "-"))
    console.print(t)
    if any(r.run and not r.run.get("complete", True) for r in audit.results):
        line("* no violation up to --max-depth steps: executions were cut, so this is not a proof", "dim")
    profiles: dict[str, list[str]] = {}
    for r in audit.results:
        profiles.setdefault(describe_faults(r.bounds), []).append(r.guarantee.id)
    line("fault assumptions (--max-crashes, --max-power-losses, --max-isr-shrinks, --max-lost-messages, "
         "--max-elections, --max-records, --max-attempts change them):", "bold")
    for text, ids in profiles.items():
        line(f"  {', '.join(ids)}: {text}")
    undecided = [r.guarantee.id for r in audit.results if r.verdict not in ("holds", "violated")]
    if undecided:
        line(f"not decided (the search was cut short, so no claim either way): {', '.join(undecided)}", "yellow")
    for r in audit.results:
        for w in r.warnings():
            line(f"warning: {r.guarantee.id}: {w}", "yellow")
    for r in audit.results:
        if r.verdict != "violated":
            continue
        line()
        v = r.run.get("violation") or {}
        line(f"{r.guarantee.id}: VIOLATED ({v.get('invariant')}): {v.get('message')}", "red bold")
        line(f"shortest counterexample ({len(r.run['trace']['steps']) - 1} steps):")
        for cl in r.counterexample():
            line(cl)
        if r.trace_file:
            line(f"full trace: {r.trace_file}  (ackcheck view {r.trace_file})")
        if r.fix:
            line(f"fix: {fix_text(r.fix)}", "bold")
            if r.fix.get("check"):
                line(f"  verified: {r.fix['check']['command']}  -> holds ({r.fix['check']['states']:,} states)", "dim")
            alt = r.fix.get("alternative")
            if alt and alt.get("check"):
                line(f"  verified: {alt['check']['command']}  -> holds ({alt['check']['states']:,} states)", "dim")
    line()
    held = sum(r.verdict == "holds" for r in audit.results)
    tail = f"{held}/{len(audit.results)} guarantees hold within the fault assumptions ({audit.seconds:.1f}s)"
    if audit.required:
        bad = [g for g in audit.required if g in audit.failed()]
        tail += (f"; required: {', '.join(audit.required)} -> "
                 + (f"FAILED ({', '.join(bad)})" if bad else "all hold"))
    line(tail, "bold")


def render_markdown(audit: Audit) -> str:
    out = ["# ackcheck audit", "", f"`{config_line(audit.config)}`", "",
           "Sources: " + "; ".join(f"`{s}`" for s in audit.sources), ""]
    if audit.notes:
        out += [f"- {n}" for n in audit.notes] + [""]
    out += ["| guarantee | verdict | what it means | fault assumptions | states | fix |", "|---|---|---|---|---|---|"]
    for r in audit.results:
        fix = fix_text(r.fix) if r.verdict == "violated" else ""
        out.append(f"| `{r.guarantee.id}` | **{verdict_word(r.verdict)}** | {r.guarantee.title} | "
                   f"{describe_faults(r.bounds)} | {(r.run or {}).get('states', 0):,} | {md_escape(fix)} |")
    for r in audit.results:
        if r.verdict != "violated":
            continue
        v = r.run.get("violation") or {}
        out += ["", f"## {r.guarantee.id}: violated", "", f"`{v.get('invariant')}`: {md_escape(v.get('message', ''))}",
                "", "```", *r.counterexample(), "```", ""]
        if r.trace_file:
            out.append(f"Full trace: `{r.trace_file}` (`ackcheck view {r.trace_file}`)")
            out.append("")
        if r.fix:
            out.append(f"**Fix:** {md_escape(fix_text(r.fix))}")
            if r.fix.get("check"):
                out += ["", f"Verified: `{r.fix['check']['command']}` holds ({r.fix['check']['states']:,} states)."]
    held = sum(r.verdict == "holds" for r in audit.results)
    out += ["", f"{held}/{len(audit.results)} guarantees hold ({audit.seconds:.1f}s, ackcheck {__version__})."]
    return "\n".join(out) + "\n"


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def junit_xml(audit: Audit) -> str:
    import xml.etree.ElementTree as ET

    failures = sum(r.verdict == "violated" for r in audit.results)
    skipped = sum(r.verdict not in ("holds", "violated") for r in audit.results)
    suites = ET.Element("testsuites", name="ackcheck audit", tests=str(len(audit.results)),
                        failures=str(failures), time=f"{audit.seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"ackcheck audit (Kafka {audit.config.kafka_version})",
                          tests=str(len(audit.results)), failures=str(failures), errors="0", skipped=str(skipped),
                          time=f"{audit.seconds:.3f}")
    props = ET.SubElement(suite, "properties")
    for k, v in audit.config.kafka_properties().items():
        ET.SubElement(props, "property", name=k, value=str(v).lower() if isinstance(v, bool) else str(v))
    ET.SubElement(props, "property", name="kafka.version", value=audit.config.kafka_version)
    for r in audit.results:
        tc = ET.SubElement(suite, "testcase", classname="ackcheck.audit", name=r.guarantee.id,
                           time=f"{(r.run or {}).get('seconds', 0):.3f}")
        sysout = [r.guarantee.title, f"invariants: {', '.join(r.guarantee.invariants)}",
                  f"fault assumptions: {describe_faults(r.bounds)}", f"states: {(r.run or {}).get('states', 0)}"]
        if r.verdict not in ("holds", "violated"):
            ET.SubElement(tc, "skipped", message=f"{r.verdict}: the search was cut short, nothing is claimed")
        elif r.verdict == "violated":
            v = r.run.get("violation") or {}
            f = ET.SubElement(tc, "failure", message=f"{v.get('invariant')}: {v.get('message')}",
                              type="GuaranteeViolated")
            body = ["shortest counterexample:", *r.counterexample(20)]
            if r.trace_file:
                body.append(f"full trace: {r.trace_file}")
            if r.fix:
                body.append(f"fix: {fix_text(r.fix)}")
            f.text = "\n".join(body)
        ET.SubElement(tc, "system-out").text = "\n".join(sysout)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
