"""The counterexample viewer: one self-contained HTML page per trace.

The page is generated from a template (``page.html``, ``viewer.css``, ``viewer.js`` in this
package) with the trace embedded as JSON; nothing is loaded from the network and no
front-end build step is needed. Every string from the trace is inserted with
``textContent`` (never as markup) and the JSON is escaped so that it cannot leave its
``<script>`` element.

    from ackcheck.checker.viewer import page_data, render_page
    html = render_page(page_data(trace, command="ackcheck check --acks 1"))

This package imports only ``traces`` and ``invariants``; whoever knows more about a step
(the model's internals: requests and responses in the network, parked acks=all requests,
pending AlterPartition; a replay on the reference broker) passes it in as plain data.
"""

from __future__ import annotations

from ackcheck.checker.viewer.overview import render_audit_html
from ackcheck.checker.viewer.page import (
    actor_of,
    embed_json,
    involved,
    page_data,
    render_page,
    write_page,
)

__all__ = ["actor_of", "embed_json", "involved", "page_data", "render_audit_html", "render_page", "write_page"]
