"""Trace export for `ackcheck export --itf`.

    The Informal Trace Format of Apalache and Quint
    (https://apalache-mc.org/docs/adr/015adr-trace.html): `{"#meta", "vars", "states"}`,
    one state per trace step with `"#meta": {"index": k}`. Integers are
    `{"#bigint": "n"}`, lists are JSON arrays (ITF sequences), the ISR, ELR and in-flight
    records are `{"#set": [...]}` (they are sets), and structures are ITF records (JSON
    objects). Variables: the observation's fields (`leader`, `leader_epoch`, `isr`,
    `elr`, `replicas`, `producer`, `in_flight`, `ack_isr_sizes`, `consumer`,
    `committed_log`), `action` - the action that led to the state as an ITF variant
    `{"tag": name, "value": {args}}` (`init` for step 0) - and `mbt::actionTaken` (the
    action name, as Quint's model-based-testing traces carry it). The run's config and
    the violation are in the top-level `#meta`. A liveness counterexample (a lasso) carries
    ITF's top-level `"loop"`: the index of the state the last state returns to (the
    trace's `loop_start`)."""

from __future__ import annotations

from ackcheck.traces.format import (
    Trace,
    action_to_json,
    observation_to_json,
)

ITF_SETS = frozenset({"isr", "elr", "in_flight"})


ITF_VARS = ("action", "mbt::actionTaken", "leader", "leader_epoch", "isr", "elr", "replicas", "producer",
            "in_flight", "ack_isr_sizes", "consumer", "committed_log")


def itf_value(v, key: str | None = None):
    """A JSON value of an observation -> its ITF encoding."""
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, int):
        return {"#bigint": str(v)}
    if isinstance(v, (list, tuple)):
        items = [itf_value(x) for x in v]
        if key in ITF_SETS:
            return {"#set": items}
        return items
    if isinstance(v, dict):
        return {k: itf_value(x, k) for k, x in v.items()}
    raise TypeError(f"cannot encode {type(v).__name__} in ITF")


def itf_action(action) -> dict:
    if action is None:
        return {"tag": "init", "value": {}}
    d = action_to_json(action)
    name = d.pop("name")
    return {"tag": name, "value": {k: itf_value(v) for k, v in d.items()}}


def trace_to_itf(trace: Trace, *, source: str | None = None) -> dict:
    states = []
    for k, (action, obs) in enumerate(trace.steps):
        o = observation_to_json(obs)
        o.pop("lag", None)  # derived from the other fields
        st: dict = {"#meta": {"index": k}}
        st["action"] = itf_action(action)
        st["mbt::actionTaken"] = "init" if action is None else action[0]
        for var in ITF_VARS[2:]:
            st[var] = itf_value(o[var], var)
        if trace.violation is not None and trace.violation.step == k:
            st["#meta"]["violation"] = trace.violation.invariant
        states.append(st)
    meta = {
        "format": "ITF",
        "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
        "source": source or "ackcheck",
        "description": "ackcheck trace of one Kafka partition (export --itf)",
        "ackcheck": {"trace-format-version": 1, "config": trace.config,
                     "violation": trace.violation.as_dict() if trace.violation else None},
    }
    out = {"#meta": meta, "vars": list(ITF_VARS), "states": states}
    if trace.loop_start is not None:
        out["loop"] = trace.loop_start
    return out
