"""The matrix: the audit's guarantees (columns) over a space of Kafka configurations and the
seed notes' scenarios (rows), run through the audit's runner, rendered as markdown, JSON or
HTML (violated cells link to their trace and its viewer page)."""

from __future__ import annotations

import html
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ackcheck import __version__
from ackcheck.checker.audit.guarantees import (
    Guarantee,
    describe_faults,
    profile_bounds,
)
from ackcheck.checker.audit.runs import Pool, run_group, run_key
from ackcheck.traces import eras
from ackcheck.traces.settings import Config, ConfigError, Setting, build_config

# the dimensions of the space: flag, Kafka property, default values, allowed values check
DIMENSIONS = (
    ("acks", "acks", "1,all"),
    ("min_insync_replicas", "min.insync.replicas", "1,2"),
    ("unclean", "unclean.leader.election.enable", "false,true"),
    ("idempotence", "enable.idempotence", "false,true"),
    ("max_in_flight", "max.in.flight.requests.per.connection", "1,5"),
    ("retries", "retries", "0,3"),
)


SHORT = {
    "acks": "acks", "min.insync.replicas": "minISR", "unclean.leader.election.enable": "unclean",
    "enable.idempotence": "idem", "max.in.flight.requests.per.connection": "inflight", "retries": "retries",
    "log.flush.interval.messages": "flush", "kafka.version": "kafka",
}


@dataclass
class Row:
    label: str
    settings: dict[str, str]  # the Kafka properties that define the row
    kafka_version: str | None = None
    seed: str | None = None  # the seed claim id, for seed scenarios
    config: Config | None = None
    invalid: str | None = None  # why Kafka rejects it
    cells: dict[str, dict] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        if self.seed:
            return "seed-" + self.seed
        return "_".join(f"{SHORT.get(k, k)}-{v}" for k, v in self.settings.items()).replace(".", "")


def space_rows(values: dict[str, list[str]], rf: int, version: str | None) -> list[Row]:
    keys = [prop for _, prop, _ in DIMENSIONS]
    rows = []
    for combo in itertools.product(*(values[prop] for prop in keys)):
        settings = dict(zip(keys, combo))
        label = " ".join(f"{SHORT[k]}={v}" for k, v in settings.items())
        rows.append(Row(label, settings, version))
    return rows


def seed_rows(version: str | None) -> list[Row]:
    from ackcheck.checker.audit.seed_scenarios import SEED_SCENARIOS

    return [Row(f"seed: {s.label}", dict(s.settings), s.kafka_version or version, seed=s.id)
            for s in SEED_SCENARIOS]


def build_row(row: Row, rf: int, rule_overrides: list[str]) -> None:
    settings = [Setting(k, v, f"matrix {row.label}") for k, v in row.settings.items()]
    if not any(k in ("replication.factor",) for k in row.settings):
        settings.insert(0, Setting("replication.factor", str(rf), "--replication-factor"))
    try:
        row.config = build_config(settings, kafka_version=row.kafka_version, rule_overrides=rule_overrides)
    except ConfigError as e:
        msg = str(e)
        row.invalid = msg.split(": ", 1)[1] if ": " in msg else msg


@dataclass
class Matrix:
    rows: list[Row]
    guarantees: list[Guarantee]
    bounds: dict[str, dict[str, int]]  # guarantee id -> bounds
    space: dict[str, list[str]]
    kafka_version: str
    replication_factor: int
    seconds: float = 0.0
    runs: int = 0
    states: int = 0
    cached_runs: int = 0
    interrupted: bool = False  # Ctrl-C: the cells not decided read "incomplete"

    def as_dict(self) -> dict:
        return {
            "ackcheck": __version__,
            "kafka_version": self.kafka_version,
            "replication_factor": self.replication_factor,
            "space": self.space,
            "guarantees": [{"id": g.id, "description": g.title, "invariants": list(g.invariants),
                            "bounds": self.bounds[g.id], "faults": describe_faults(self.bounds[g.id])}
                           for g in self.guarantees],
            "rows": [{
                "label": r.label,
                "seed": r.seed,
                "settings": r.settings,
                "config": r.config.kafka_properties() if r.config else None,
                "kafka_version": r.config.kafka_version if r.config else r.kafka_version,
                "valid": r.invalid is None,
                "invalid": r.invalid,
                "cells": r.cells,
            } for r in self.rows],
            "runs": self.runs,
            "cached_runs": self.cached_runs,
            "states": self.states,
            "seconds": round(self.seconds, 2),
            "interrupted": self.interrupted,
        }


def run_matrix(rows: list[Row], guarantees: list[Guarantee], *, overrides: dict[str, int], rf: int,
               rule_overrides: list[str], cache_dir: str | None, jobs: int | None, trace_dir: Path,
               link_base: Path | None, progress: bool, cluster: str | None = None) -> Matrix:
    t0 = time.perf_counter()
    bounds = {g.id: profile_bounds(g.profile, overrides) for g in guarantees}
    groups: dict[tuple, list[Guarantee]] = {}
    for g in guarantees:
        groups.setdefault(tuple(sorted(bounds[g.id].items())), []).append(g)
    for row in rows:
        build_row(row, rf, rule_overrides)
    # one task per distinct (canonical config, group): equivalent rows share it. Tasks whose
    # state graphs are isomorphic (verdict_config) run one after the other: when the first
    # holds, the others take its verdict; when it is violated they run for their own trace.
    tasks: dict[str, tuple[Config, list[str], list[tuple[Row, list[Guarantee]]]]] = {}
    for row in rows:
        if row.config is None:
            continue
        for key, members in groups.items():
            cfg = row.config.with_bounds(**dict(key))
            invs = [i for g in members for i in g.invariants]
            k = run_key(cfg, invs)
            if k not in tasks:
                tasks[k] = (cfg, invs, [])
            tasks[k][2].append((row, members))
    chains: dict[str, list[tuple]] = {}
    for cfg, invs, users in tasks.values():
        chains.setdefault(run_key(cfg, invs, verdict_only=True), []).append((cfg, invs, users))
    m = Matrix(rows, guarantees, bounds, {}, rows[0].config.kafka_version if rows and rows[0].config else
               eras.NEWEST, rf)
    bar = _progress(len(tasks)) if progress else None
    pool = Pool(jobs, cluster)

    def record(out: dict, users, *, shared: bool = False) -> None:
        per = out["per_invariant"]
        if not shared:
            m.runs += len(out["runs"])
            m.cached_runs += sum(1 for r in out["runs"] if r.get("cached"))
            m.states += sum(r["states"] for r in out["runs"] if not r.get("cached"))
        for row, members in users:
            for g in members:
                row.cells[g.id] = _cell(row, g, per, bounds[g.id], trace_dir, link_base)
                if shared:
                    row.cells[g.id]["isomorphic_to"] = out["config_label"]
        if bar:
            bar.advance()

    def done_for(chain: list[tuple]):
        _cfg, _invs, users = chain[0]

        def done(out: dict) -> None:
            record(out, users)
            rest = chain[1:]
            all_hold = len(out["runs"]) == 1 and out["runs"][0]["verdict"] == "holds"
            if all_hold:
                shared = {**out, "config_label": users[0][0].label}
                for _, _, other_users in rest:
                    record(shared, other_users, shared=True)
            elif rest:
                pool.submit(run_group, (rest[0][0], rest[0][1], cache_dir), done_for(rest))
        return done

    # the costliest groups first keeps both cores busy to the end
    def weight(chain) -> int:
        c = chain[0][0]
        return (c.bounds.max_records * 4 + c.bounds.max_isr_shrinks + 3 * c.bounds.max_power_losses
                + 2 * (c.min_insync_replicas > 1))

    for chain in sorted(chains.values(), key=lambda ch: -weight(ch)):
        pool.submit(run_group, (chain[0][0], chain[0][1], cache_dir), done_for(chain))
    try:
        pool.drain()
    except KeyboardInterrupt:
        # Ctrl-C: the cells decided so far are kept (and their runs cached: a rerun takes
        # them from the cache); the others read "incomplete", never "holds"
        m.interrupted = True
        for row in rows:
            if row.invalid is None:
                for g in guarantees:
                    row.cells.setdefault(g.id, {"verdict": "incomplete", "states": 0, "seconds": 0.0,
                                                "cached": False})
    finally:
        pool.close()
        if bar:
            bar.stop()
    m.seconds = time.perf_counter() - t0
    return m


def _cell(row: Row, g: Guarantee, per: dict, bounds: dict, trace_dir: Path, link_base: Path | None) -> dict:
    runs = [per[i] for i in g.invariants if i in per]
    violated = [r for r in runs if r["verdict"] == "violated"]
    r = min(violated, key=lambda r: len(r["trace"]["steps"])) if violated else runs[-1]
    cell = {"verdict": r["verdict"], "states": r["states"], "seconds": r["seconds"], "cached": r.get("cached", False)}
    if violated:
        trace = dict(r["trace"])
        trace["config"] = row.config.with_bounds(**bounds).as_dict()  # equivalent rows share runs
        path = trace_dir / f"{row.slug}.{g.id}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(trace, indent=1) + "\n", encoding="utf-8")
        except OSError:
            path = None
        from ackcheck.traces.format import trace_from_dict
        from ackcheck.traces.render import summary_lines

        cell.update(
            invariant=r["violation"]["invariant"],
            message=r["violation"]["message"],
            steps=len(r["trace"]["steps"]) - 1,
            trace_file=_link(path, link_base) if path else None,
            counterexample=summary_lines(trace_from_dict(r["trace"]), limit=12),
        )
    return cell


def _link(path: Path, base: Path | None) -> str:
    if base is None:
        return str(path)
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return str(path)


class _Bar:
    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("matrix"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=Console(stderr=True), transient=True)
        self.task = self.p.add_task("runs", total=total)
        self.p.start()

    def advance(self) -> None:
        self.p.advance(self.task)

    def stop(self) -> None:
        self.p.stop()


def _progress(total: int) -> _Bar | None:
    if not sys.stderr.isatty() or total == 0:
        return None
    return _Bar(total)


def cell_text(cell: dict | None) -> str:
    if not cell:
        return ""
    if cell["verdict"] == "holds":
        return f"holds ({cell['states']:,})"
    if cell["verdict"] != "violated":  # a cut-short run (engines/result.py verdict_of): never "holds"
        return f"{cell['verdict']} ({cell['states']:,})"
    return "VIOLATED"


def render_markdown(m: Matrix) -> str:
    out = [f"# ackcheck matrix (Kafka {m.kafka_version}, replication factor {m.replication_factor})", "",
           (f"{sum(r.invalid is None for r in m.rows)} configurations x {len(m.guarantees)} guarantees; "
           f"{m.runs} runs ({m.cached_runs} from the cache), {m.states:,} states explored, {m.seconds:.1f}s "
           f"(ackcheck {__version__})."), "",
           ("A cell *holds* when every execution within the guarantee's fault assumptions keeps it (the number "
           "is the distinct states explored); *violated* links to the shortest counterexample's trace "
           "(`ackcheck view FILE`)."), "", "| guarantee | invariants | fault assumptions |", "|---|---|---|"]
    for g in m.guarantees:
        out.append(f"| `{g.id}`: {g.title} | {', '.join(f'`{i}`' for i in g.invariants)} | "
                   f"{describe_faults(m.bounds[g.id])} |")
    out += ["", "| configuration | " + " | ".join(f"`{g.id}`" for g in m.guarantees) + " |",
            "|---|" + "---|" * len(m.guarantees)]
    for r in m.rows:
        if r.invalid:
            out.append(f"| {r.label} | invalid (Kafka rejects: {_md(r.invalid)}) |" + " |" * (len(m.guarantees) - 1))
            continue
        cells = []
        for g in m.guarantees:
            c = r.cells.get(g.id)
            if c and c["verdict"] == "violated":
                link = f"[violated]({c['trace_file']})" if c.get("trace_file") else "violated"
                cells.append(f"**{link}** ({c['steps']} steps)")
            else:
                cells.append(cell_text(c))
        out.append(f"| {_md(r.label)} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_html(m: Matrix) -> str:
    e = html.escape
    head = "".join(f"<th title='{e(g.title)}&#10;{e(', '.join(g.invariants))}&#10;{e(describe_faults(m.bounds[g.id]))}'>"
                   f"{e(g.id)}</th>" for g in m.guarantees)
    body = []
    for r in m.rows:
        cls = " class='seed'" if r.seed else ""
        if r.invalid:
            body.append(f"<tr{cls}><th>{e(r.label)}</th><td class='invalid' colspan='{len(m.guarantees)}'>"
                        f"invalid (Kafka rejects: {e(r.invalid)})</td></tr>")
            continue
        tds = []
        for g in m.guarantees:
            c = r.cells.get(g.id)
            if not c:
                tds.append("<td></td>")
            elif c["verdict"] == "holds":
                tds.append(f"<td class='holds' title='{c['states']:,} states'>holds<br><small>{c['states']:,}</small></td>")
            elif c["verdict"] != "violated":
                tds.append(f"<td title='{c['states']:,} states'>{e(c['verdict'])}<br><small>{c['states']:,}</small></td>")
            else:
                tip = e(f"{c['invariant']}: {c['message']}\n" + "\n".join(c.get("counterexample", [])))
                # the viewer page of the trace when one was written beside it (ackcheck.checker.viewer)
                target = c.get("page") or c.get("trace_file")
                link = f'<a href="{e(target)}">violated</a>' if target else "violated"
                tds.append(f"<td class='violated' title='{tip}'>{link}<br><small>{c['steps']} steps</small></td>")
        body.append(f"<tr{cls}><th>{e(r.label)}</th>{''.join(tds)}</tr>")
    legend = "".join(f"<li><code>{e(g.id)}</code>: {e(g.title)} &mdash; invariants {e(', '.join(g.invariants))}; "
                     f"{e(describe_faults(m.bounds[g.id]))}</li>" for g in m.guarantees)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ackcheck matrix</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse;font-size:13px}}
th,td{{border:1px solid #ccc;padding:4px 8px;text-align:center}}
tbody th{{text-align:left;font-weight:normal;font-family:monospace;white-space:nowrap}}
td.holds{{background:#e3f4e3}} td.violated{{background:#fbe0e0;font-weight:bold}}
td.invalid{{background:#eee;color:#777;font-style:italic}}
tr.seed th{{background:#fff7dd}} small{{color:#555;font-weight:normal}} a{{color:#a00}}
</style></head><body>
<h1>ackcheck matrix</h1>
<p>Kafka {e(m.kafka_version)}, replication factor {m.replication_factor}:
{sum(r.invalid is None for r in m.rows)} configurations &times; {len(m.guarantees)} guarantees;
{m.runs} runs ({m.cached_runs} cached), {m.states:,} states, {m.seconds:.1f}s, ackcheck {e(__version__)}.
Hover a cell for its counterexample; the link opens its trace (a viewer page with <code>--format html --out DIR</code>, else the JSON for <code>ackcheck view FILE</code>).</p>
<ul>{legend}</ul>
<table><thead><tr><th>configuration</th>{head}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""
