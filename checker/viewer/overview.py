"""The overview page of an audit: one row per guarantee, each violated one linking to the
viewer page of its counterexample. Static HTML (every string escaped), no script."""

from __future__ import annotations

import html

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#fff;border-bottom:1px solid #d8dce4;padding:14px 22px}
h1{font-size:20px;margin:0 0 6px}
main{padding:14px 22px}
code,pre,.kv dd{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace}
dl{display:flex;flex-wrap:wrap;gap:3px 6px;margin:6px 0}
.kv{display:inline-flex;border:1px solid #d8dce4;border-radius:4px;font-size:12px;overflow:hidden}
.kv dt{padding:1px 5px;background:#eef0f4;color:#5d6677}.kv dd{margin:0;padding:1px 6px}
ul.notes{margin:6px 0;padding-left:18px;color:#5d6677;font-size:13px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #d8dce4;padding:6px 9px;text-align:left;vertical-align:top;font-size:13px}
thead th{background:#eef1f6;font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#5d6677}
td.verdict{font-weight:700;white-space:nowrap}
tr.holds td.verdict{background:#e8f5e9;color:#2e7d32}
tr.violated td.verdict{background:#fdecea;color:#c62828}
tr.undecided td.verdict{background:#fff3e0;color:#b45f06}
td a{color:#1565c0;font-weight:600}
.msg{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;color:#7f1d1d}
.small{font-size:12px;color:#5d6677}
pre{margin:4px 0 0;padding:4px 8px;background:#1d2330;color:#e8eaf0;border-radius:4px;white-space:pre-wrap;
overflow-wrap:anywhere;font-size:11.5px}
"""


def render_audit_html(data: dict) -> str:
    """data: an audit's JSON form (checker/audit/core.py Audit.as_dict) whose guarantees may
    carry "page" (a relative link to the trace's viewer page) and "fix_text"."""
    e = html.escape
    cfg = "".join(f"<div class='kv'><dt>{e(str(k))}</dt><dd>{e(_text(v))}</dd></div>"
                  for k, v in (data.get("config") or {}).items())
    notes = "".join(f"<li>{e(str(n))}</li>" for n in data.get("notes") or [])
    sources = "; ".join(str(s) for s in data.get("sources") or []) or "command-line flags"
    rows = []
    for g in data.get("guarantees") or []:
        verdict = str(g.get("verdict", ""))
        cls = verdict if verdict in ("holds", "violated") else "undecided"
        detail = []
        v = g.get("violation") or {}
        if verdict == "violated":
            detail.append(f"<div><code>{e(str(v.get('invariant', '')))}</code>: "
                          f"<span class='msg'>{e(str(v.get('message', '')))}</span></div>")
            if g.get("page"):
                detail.append(f'<div><a href="{e(str(g["page"]))}">open the counterexample, step by step</a></div>')
            elif g.get("trace_file"):
                detail.append(f"<div class='small'>trace: <code>{e(str(g['trace_file']))}</code></div>")
            if g.get("fix_text"):
                detail.append(f"<div>fix: {e(str(g['fix_text']))}</div>")
        if g.get("reproduce"):
            detail.append(f"<pre>{e(str(g['reproduce']))}</pre>")
        rows.append(
            f"<tr class='{cls}'><td><code>{e(str(g.get('id', '')))}</code><div class='small'>"
            f"{e(str(g.get('description', '')))}</div></td><td class='verdict'>{e(verdict)}</td>"
            f"<td class='small'>{e(str(g.get('faults', '')))}<br>{int(g.get('states') or 0):,} states</td>"
            f"<td>{''.join(detail)}</td></tr>")
    held = sum(1 for g in data.get("guarantees") or [] if g.get("verdict") == "holds")
    total = len(data.get("guarantees") or [])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>ackcheck audit: Kafka {e(str(data.get('kafka_version', '')))}</title>
<style>{_CSS}</style></head><body>
<header><h1>ackcheck audit: Kafka {e(str(data.get('kafka_version', '')))} &mdash; {held}/{total} guarantees hold</h1>
<div class="small">sources: {e(sources)}; ackcheck {e(str(data.get('ackcheck', '')))}</div>
<dl>{cfg}</dl><ul class="notes">{notes}</ul></header>
<main><table><thead><tr><th>guarantee</th><th>verdict</th><th>fault assumptions</th><th>counterexample, fix, reproduce</th>
</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></main></body></html>
"""


def _text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
