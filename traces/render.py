"""Render a trace for people: each step's action, then the cluster as it stands.

Per replica: log (offset:record@epoch), LEO, HW, flushed offset, alive, the leader it
believes in; the controller's leader, epoch, ISR (and ELR); producer outcomes; the
consumer's position and commit. What changed since the previous step is marked with `*`
and the step where the invariant broke is flagged.
"""

from __future__ import annotations

from ackcheck.traces.format import ACTIONS, Trace
from ackcheck.traces.observation import OUTCOME_NAMES, Observation, flat_entries, partition_lag

ACTION_TEXT = {
    "producer_send": "producer sends batch {batch} to broker {broker}",
    "producer_receive": "producer receives the response to batch {batch} (attempt {attempt})",
    "producer_timeout": "producer times out batch {batch} (NetworkException / request.timeout.ms)",
    "producer_expire": "batch {batch} expires in the accumulator (delivery.timeout.ms, no leader)",
    "other_producer_write": "another producer's record is appended by leader {broker}",
    "broker_handle_produce": "broker {broker} handles the produce request for batch {batch} (attempt {attempt})",
    "leader_timeout_produce": "broker {broker} times out acks=all batch {batch} (REQUEST_TIMED_OUT)",
    "follower_fetch": "broker {broker} fetches from its leader",
    "follower_fetch_delayed": "broker {broker}'s fetch request is held up in the network (its fetcher moves on)",
    "leader_handle_delayed_fetch": "broker {broker} handles {follower}'s delayed fetch request",
    "leader_shrink_isr": "leader {broker} proposes to remove {follower} from the ISR (AlterPartition)",
    "broker_learn": "broker {broker} learns the controller's decision for epoch {leader_epoch}",
    "controller_elect": "controller elects broker {broker} ({reason})",
    "controller_alter_partition": "controller handles leader {broker}'s ISR change (commits or rejects it)",
    "crash": "broker {broker}'s process crashes (page cache survives)",
    "power_loss": "broker {broker}'s host loses power (unflushed page cache lost)",
    "restart": "broker {broker} restarts and recovers its log",
    "flush": "the OS flushes broker {broker}'s page cache to disk",
    "lose_request": "the network loses the produce request of batch {batch} (attempt {attempt})",
    "lose_response": "the network loses the response to batch {batch} (attempt {attempt})",
    "consumer_poll": "consumer polls one record and commits",
    "consumer_reset": "consumer's offset is out of range: auto.offset.reset",
}


def action_str(action) -> str:
    """An action as a call, `name(arg, ...)`: the one compact form used in every output."""
    name, *args = action
    return f"{name}({', '.join(str(x) for x in args)})"


def describe_action(action) -> str:
    if action is None:
        return "initial state"
    name, *args = action
    return ACTION_TEXT.get(name, name).format(**dict(zip(ACTIONS[name], args)))


def _replica_lines(obs: Observation) -> list[str]:
    lines = []
    for b, r in enumerate(obs.replicas):
        log = " ".join(f"{o}:{rec}@{e}" for o, rec, e in flat_entries(r.log)) or "(empty)"
        role = "leader" if r.leader == b else (f"follows {r.leader}" if r.leader >= 0 else "no leader known")
        state = "up" if r.alive else "DOWN"
        lines.append(
            f"  broker {b} [{state:4}] epoch {r.leader_epoch:>2} {role:<15} LEO {r.log_end_offset} "
            f"HW {r.high_watermark} flushed {r.flushed_offset} | {log}"
        )
    return lines


def observation_lines(obs: Observation) -> list[str]:
    leader = "offline (-1)" if obs.leader < 0 else str(obs.leader)
    elr = f" ELR {list(obs.elr)}" if obs.elr else ""
    lines = [f"  controller: leader {leader} epoch {obs.leader_epoch} ISR {list(obs.isr)}{elr}"]
    lines += _replica_lines(obs)
    outs = []
    for i, (kind, off) in enumerate(obs.outcomes):
        name = OUTCOME_NAMES[kind]
        outs.append(f"{i + 1}:{name}" + (f"@{off}" if name == "ok" and off >= 0 else ""))
    lag = partition_lag(obs)
    lines.append(f"  producer: {' '.join(outs)}" + (f"  in flight: {list(obs.in_flight)}" if obs.in_flight else ""))
    lines.append(
        f"  consumer: position {obs.consumer_position} committed {obs.committed_offset} lag {lag['lag']}"
        + (f"  read {[f'{o}:{r}' for o, r in obs.consumer_read]}" if obs.consumer_read else "")
    )
    return lines


def render(trace: Trace, *, color: bool = False) -> str:
    out = []
    cfg = trace.config
    props = ", ".join(f"{k}={v}" for k, v in cfg.items() if k not in ("rules", "bounds"))
    out.append(f"config: {props}")
    if "rules" in cfg:
        off = [k for k, v in cfg["rules"].items() if not v]
        out.append("rules off: " + (", ".join(off) if off else "none"))
    prev_lines: list[str] = []
    vstep = trace.violation.step if trace.violation else -1
    loop = trace.loop_start
    for k, (action, obs) in enumerate(trace.steps):
        out.append("")
        out.append(f"step {k}: {describe_action(action)}")
        lines = observation_lines(obs)
        for i, line in enumerate(lines):
            changed = k > 0 and (i >= len(prev_lines) or prev_lines[i] != line)
            out.append(("*" if changed else " ") + line)
        prev_lines = lines
        if k == vstep:
            out.append(f"  !! {trace.violation.invariant} violated: {trace.violation.message}")
        if k == loop and k < len(trace.steps) - 1:
            out.append(f"  <- the loop starts here: steps {k + 1}-{len(trace.steps) - 1} repeat forever")
    if loop is not None:
        out.append("")
        out.append(loop_text(trace))
    if trace.violation is None:
        out.append("")
        out.append("(no violation recorded in this trace)")
    return "\n".join(out)


def loop_text(trace: Trace) -> str:
    """How a lasso (a liveness counterexample) goes on after its last step."""
    last, k = len(trace.steps) - 1, trace.loop_start
    if k == last:
        return f"(loop) from step {k} on the execution stays in this state forever: no fair action is left"
    return f"(loop) after step {last} the state is step {k}'s again: steps {k + 1}-{last} repeat forever"


def summary_lines(trace: Trace, limit: int = 12) -> list[str]:
    """A few readable lines: the actions of the trace, numbered, and the violation."""
    lines = []
    acts = trace.steps[1:]
    shown = acts if len(acts) <= limit else acts[: limit // 2] + [None] + acts[-limit // 2:]
    n = 0
    for item in shown:
        if item is None:
            lines.append("   ...")
            n = len(acts) - limit // 2
            continue
        n += 1
        mark = " (loop from here)" if trace.loop_start is not None and n == trace.loop_start + 1 \
            and n < len(trace.steps) else ""
        lines.append(f"  {n:>2}. {describe_action(item[0])}{mark}")
    if trace.loop_start is not None:
        lines.append("  " + loop_text(trace))
    if trace.violation:
        lines.append(f"  => {trace.violation.invariant}: {trace.violation.message}")
    return lines
