"""What the commands share: the one-line error, the counterexample printout, the config summary."""

from __future__ import annotations

import sys

from ackcheck.traces.perturbations import bounds_text


def one_line(text: str) -> str:
    """`text` with control characters (newlines, carriage returns, ...) escaped, so an error
    that quotes user input stays on one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def err(msg: str) -> int:
    print(f"ackcheck: error: {one_line(msg)}", file=sys.stderr)
    return 2



# ------------------------------------------------------------------------------ check
def print_counterexample(trace, *, full: bool, trace_out: str | None) -> None:
    """A counterexample's steps (the summary, or every step's cluster state with `full`)
    and where it was kept; shared by check and fuzz."""
    from ackcheck.traces.render import render, summary_lines

    print(render(trace) if full else "\n".join(summary_lines(trace, limit=40)))
    if trace_out:
        print(f"trace written to {trace_out} (ackcheck view {trace_out})")
    else:
        print("(--trace-out FILE keeps it; --full prints every step's cluster state)")


def describe_config(config) -> str:
    props = config.kafka_properties()
    kv = " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in props.items()
                  if k not in ("auto.leader.rebalance.enable", "auto.offset.reset"))
    bounds = bounds_text(config.bounds.as_dict())
    off = [k for k, v in config.rules if not v]
    return (f"kafka {config.kafka_version}: {kv}\nbounds: {bounds}"
            + (f"\nrules off: {', '.join(off)}" if off else ""))


def write_trace_out(trace, path: str | None) -> str | None:
    """Keep a counterexample where --trace-out asks; the error line if that fails."""
    if not path or trace is None:
        return None
    try:
        trace.write(path)
    except OSError as e:
        return f"--trace-out {path}: {e.strerror}"
    return None
