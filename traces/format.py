"""The trace format (version 1): the contract between engines, viewer, broker and corpus.

```
{"format": "ackcheck-trace", "version": 1, "config": {...},
 "steps": [{"action": {"name": ..., args...} | null, "observation": {...}}, ...],
 "violation": {"invariant": ..., "message": ..., "step": k} | null}
```
Step 0 is the initial state (action null). Loading is strict and reports the JSON path
of the first bad field: a trace is untrusted input (never eval, never pickle).

A liveness counterexample (a lasso) adds `"loop_start": k`: after the last step the
execution returns to step k's state and repeats steps k+1.. forever (k = the last step:
it stays in the last state forever). A reader that ignores the field still reads the
prefix and one round of the loop as an ordinary trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ackcheck.traces.observation import (
    OUTCOME_NAMES,
    Batch,
    Observation,
    Replica,
    partition_lag,
)

FORMAT = "ackcheck-trace"
VERSION = 1

# The action vocabulary: name -> argument names, in order. Every nondeterministic choice
# is an argument, so a trace replays exactly.
ACTIONS: dict[str, tuple[str, ...]] = {
    # producer (client)
    "producer_send": ("batch", "broker"),
    "producer_receive": ("batch", "attempt"),
    "producer_timeout": ("batch",),
    "producer_expire": ("batch",),
    "other_producer_write": ("broker",),
    # partition leader / brokers
    "broker_handle_produce": ("broker", "batch", "attempt"),
    "leader_timeout_produce": ("broker", "batch", "attempt"),
    "follower_fetch": ("broker",),
    "follower_fetch_delayed": ("broker",),
    "leader_handle_delayed_fetch": ("broker", "follower"),
    "leader_shrink_isr": ("broker", "follower"),
    "broker_learn": ("broker", "leader_epoch"),
    # controller
    "controller_elect": ("broker", "reason"),
    "controller_alter_partition": ("broker",),
    # faults and healing
    "crash": ("broker",),
    "power_loss": ("broker",),
    "restart": ("broker",),
    "flush": ("broker",),
    "lose_request": ("batch", "attempt"),
    "lose_response": ("batch", "attempt"),
    # consumer
    "consumer_poll": (),
    "consumer_reset": (),
}

ELECTION_REASONS = ("failover", "unclean", "elr", "last_known_leader", "rebalance")

Action = tuple  # (name, *args), e.g. ("follower_fetch", 1)


class TraceError(ValueError):
    """A malformed trace: the message starts with the JSON path of the first bad field."""


def action_to_json(action: Action | None) -> dict | None:
    if action is None:
        return None
    name, *args = action
    return {"name": name, **dict(zip(ACTIONS[name], args))}


def action_from_json(d, path: str) -> Action | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise TraceError(f"{path}: expected an object or null")
    if "name" not in d:
        raise TraceError(f"{path}.name: missing")
    name = d["name"]
    if not isinstance(name, str):
        raise TraceError(f"{path}.name: expected an action name (a string), got {_show(name)}")
    if name not in ACTIONS:
        raise TraceError(f"{path}.name: unknown action {_show(name)}")
    args = []
    for a in ACTIONS[name]:
        if a not in d:
            raise TraceError(f"{path}.{a}: missing")
        v = d[a]
        if a == "reason":
            if not isinstance(v, str) or v not in ELECTION_REASONS:
                raise TraceError(f"{path}.reason: expected one of {', '.join(ELECTION_REASONS)}, got {_show(v)}")
        elif not _is_int(v) or not 0 <= v <= _MAX_ARG:
            raise TraceError(f"{path}.{a}: expected a non-negative integer ({name}'s signature: "
                             f"{', '.join(ACTIONS[name]) or 'no arguments'}), got {_show(v)}")
        args.append(v)
    extra = set(d) - set(ACTIONS[name]) - {"name"}
    if extra:
        raise TraceError(f"{path}.{sorted(extra)[0]}: unexpected field")
    return (name, *args)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# Action arguments are broker ids, batch numbers, attempts and leader epochs: small and
# non-negative. A bound keeps a hostile trace from reaching the engines with a huge index.
_MAX_ARG = 2**31 - 1


def _show(v) -> str:
    """A JSON value, shortened for a one-line error."""
    text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


# The types of a trace's `config` object (Config.as_dict()): Kafka properties are scalars,
# `rules` maps rule names to booleans, `bounds` bound names to integers. What the values
# mean is checked when a command builds a Config from them (settings.config_from_dict).
def check_config_types(config, path: str = "$.config") -> None:
    if not isinstance(config, dict):
        raise TraceError(f"{path}: expected an object")
    for k, v in config.items():
        if k == "rules":
            if not isinstance(v, dict):
                raise TraceError(f"{path}.rules: expected an object of rule names to true or false")
            for rk, rv in v.items():
                if not isinstance(rv, bool):
                    raise TraceError(f"{path}.rules.{rk}: expected true or false, got {_show(rv)}")
        elif k == "bounds":
            if not isinstance(v, dict):
                raise TraceError(f"{path}.bounds: expected an object of bound names to integers")
            for bk, bv in v.items():
                if not _is_int(bv):
                    raise TraceError(f"{path}.bounds.{bk}: expected an integer, got {_show(bv)}")
        elif not (isinstance(v, (str, bool)) or _is_int(v)):
            raise TraceError(f"{path}.{k}: expected a string, number or boolean, got {_show(v)}")


# ----------------------------------------------------------------------------- observation

def observation_to_json(o: Observation) -> dict:
    reps = []
    for i, r in enumerate(o.replicas):
        off = 0
        log = []
        for b in r.log:
            log.append({
                "base_offset": off,
                "leader_epoch": b.leader_epoch,
                "records": list(b.records),
                "producer_epoch": b.producer_epoch,
                "base_sequence": b.base_sequence,
            })
            off += len(b.records)
        reps.append({
            "broker": i,
            "alive": r.alive,
            "log": log,
            "log_end_offset": r.log_end_offset,
            "high_watermark": r.high_watermark,
            "flushed_offset": r.flushed_offset,
            "leader_epoch": r.leader_epoch,
            "leader": r.leader,
            "follower_leos": list(r.follower_leos),
            "isr": list(r.isr),
        })
    return {
        "leader": o.leader,
        "leader_epoch": o.leader_epoch,
        "isr": list(o.isr),
        "elr": list(o.elr),
        "replicas": reps,
        "producer": [
            {"record": i + 1, "outcome": OUTCOME_NAMES[k], "offset": off} for i, (k, off) in enumerate(o.outcomes)
        ],
        "in_flight": list(o.in_flight),
        "ack_isr_sizes": list(o.ack_isr_sizes),
        "consumer": {
            "position": o.consumer_position,
            "committed_offset": o.committed_offset,
            "read": [{"offset": a, "record": b} for a, b in o.consumer_read],
        },
        "committed_log": list(o.committed_log),
        "lag": partition_lag(o),
    }


class _R:
    """Strict reader of a JSON object with path-aware errors."""

    def __init__(self, d, path: str):
        if not isinstance(d, dict):
            raise TraceError(f"{path}: expected an object")
        self.d, self.path = d, path

    def get(self, key: str):
        if key not in self.d:
            raise TraceError(f"{self.path}.{key}: missing")
        return self.d[key]

    def int(self, key: str) -> int:
        v = self.get(key)
        if not _is_int(v):
            raise TraceError(f"{self.path}.{key}: expected an integer, got {_show(v)}")
        return v

    def bool(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            raise TraceError(f"{self.path}.{key}: expected true or false, got {_show(v)}")
        return v

    def list(self, key: str) -> list:
        v = self.get(key)
        if not isinstance(v, list):
            raise TraceError(f"{self.path}.{key}: expected a list, got {_show(v)}")
        return v

    def ints(self, key: str) -> tuple[int, ...]:
        v = self.list(key)
        for i, x in enumerate(v):
            if not _is_int(x):
                raise TraceError(f"{self.path}.{key}[{i}]: expected an integer, got {_show(x)}")
        return tuple(v)


def observation_from_json(d, path: str) -> Observation:
    r = _R(d, path)
    replicas = []
    for i, rd in enumerate(r.list("replicas")):
        rp = f"{path}.replicas[{i}]"
        rr = _R(rd, rp)
        if "broker" in rd and (not _is_int(rd["broker"]) or rd["broker"] != i):
            raise TraceError(f"{rp}.broker: expected {i} (replicas are listed by broker id)")
        log = []
        expect = 0
        for j, bd in enumerate(rr.list("log")):
            bp = f"{rp}.log[{j}]"
            br = _R(bd, bp)
            if br.int("base_offset") != expect:
                raise TraceError(f"{bp}.base_offset: expected {expect}")
            recs = br.ints("records")
            if not recs:
                raise TraceError(f"{bp}.records: a batch holds at least one record")
            log.append(Batch(br.int("leader_epoch"), recs, br.int("producer_epoch"), br.int("base_sequence")))
            expect += len(recs)
        leo = rr.int("log_end_offset")
        if leo != expect:
            raise TraceError(f"{rp}.log_end_offset: {leo} but the log holds {expect} records")
        replicas.append(Replica(
            rr.bool("alive"), tuple(log), leo, rr.int("high_watermark"), rr.int("flushed_offset"),
            rr.int("leader_epoch"), rr.int("leader"), rr.ints("follower_leos"), rr.ints("isr"),
        ))
    outcomes = []
    for i, pd in enumerate(r.list("producer")):
        pp = f"{path}.producer[{i}]"
        pr = _R(pd, pp)
        if pr.int("record") != i + 1:
            raise TraceError(f"{pp}.record: expected {i + 1}")
        name = pr.get("outcome")
        if name not in OUTCOME_NAMES:
            raise TraceError(f"{pp}.outcome: expected one of {', '.join(OUTCOME_NAMES)}")
        outcomes.append((OUTCOME_NAMES.index(name), pr.int("offset")))
    lag = d.get("lag")
    if lag is not None:  # derived (partition_lag); checked for its types only
        lr = _R(lag, f"{path}.lag")
        for k, v in lag.items():
            if v is not None and not _is_int(v):
                raise TraceError(f"{lr.path}.{k}: expected an integer or null, got {_show(v)}")
    c = _R(r.get("consumer"), f"{path}.consumer")
    read = []
    for i, e in enumerate(c.list("read")):
        er = _R(e, f"{path}.consumer.read[{i}]")
        read.append((er.int("offset"), er.int("record")))
    return Observation(
        replicas=tuple(replicas),
        leader=r.int("leader"),
        leader_epoch=r.int("leader_epoch"),
        isr=r.ints("isr"),
        elr=r.ints("elr"),
        outcomes=tuple(outcomes),
        in_flight=r.ints("in_flight"),
        ack_isr_sizes=r.ints("ack_isr_sizes"),
        consumer_position=c.int("position"),
        committed_offset=c.int("committed_offset"),
        consumer_read=tuple(read),
        committed_log=r.ints("committed_log"),
    )


# ----------------------------------------------------------------------------------- trace

@dataclass
class Violation:
    invariant: str
    message: str
    step: int

    def as_dict(self) -> dict:
        return {"invariant": self.invariant, "message": self.message, "step": self.step}


@dataclass
class Trace:
    config: dict  # Config.as_dict()
    steps: list[tuple[Action | None, Observation]] = field(default_factory=list)
    violation: Violation | None = None
    loop_start: int | None = None  # a lasso: the step the last step's state returns to

    def as_dict(self) -> dict:
        d = {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config,
            "steps": [
                {"action": action_to_json(a), "observation": observation_to_json(o)} for a, o in self.steps
            ],
            "violation": self.violation.as_dict() if self.violation else None,
        }
        if self.loop_start is not None:
            d["loop_start"] = self.loop_start
        return d

    def dumps(self) -> str:
        return json.dumps(self.as_dict(), indent=1)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps() + "\n", encoding="utf-8")

    @property
    def actions(self) -> list[Action]:
        return [a for a, _ in self.steps[1:]]


def trace_from_dict(d) -> Trace:
    if not isinstance(d, dict):
        raise TraceError("$: expected an object")
    if d.get("format") != FORMAT:
        raise TraceError(f"$.format: expected {FORMAT!r}")
    if not _is_int(d.get("version")) or d.get("version") != VERSION:
        raise TraceError(f"$.version: expected {VERSION} (this ackcheck reads trace format v{VERSION})")
    config = d.get("config")
    check_config_types(config)
    steps_raw = d.get("steps")
    if not isinstance(steps_raw, list):
        raise TraceError("$.steps: expected a list")
    if not steps_raw:
        raise TraceError("$.steps: empty (step 0 is the initial state)")
    steps = []
    for k, s in enumerate(steps_raw):
        sp = f"$.steps[{k}]"
        if not isinstance(s, dict):
            raise TraceError(f"{sp}: expected an object")
        if "action" not in s:
            raise TraceError(f"{sp}.action: missing")
        a = action_from_json(s["action"], f"{sp}.action")
        if k == 0 and a is not None:
            raise TraceError(f"{sp}.action: step 0 is the initial state (action null)")
        if k > 0 and a is None:
            raise TraceError(f"{sp}.action: missing action")
        steps.append((a, observation_from_json(s.get("observation"), f"{sp}.observation")))
    v = d.get("violation")
    violation = None
    if v is not None:
        vr = _R(v, "$.violation")
        inv, msg = vr.get("invariant"), vr.get("message")
        if not isinstance(inv, str):
            raise TraceError("$.violation.invariant: expected a string")
        if not isinstance(msg, str):
            raise TraceError("$.violation.message: expected a string")
        step = vr.int("step")
        if not 0 <= step < len(steps):
            raise TraceError(f"$.violation.step: {step} is not a step of this trace")
        violation = Violation(inv, msg, step)
    loop_start = d.get("loop_start")
    if loop_start is not None:
        if not _is_int(loop_start) or not 0 <= loop_start < len(steps):
            raise TraceError(f"$.loop_start: expected the index of a step of this trace (0-{len(steps) - 1})")
        if loop_start < len(steps) - 1 and loop_key(steps[loop_start][1]) != loop_key(steps[-1][1]):
            raise TraceError(f"$.loop_start: the last step's state is not step {loop_start}'s: the loop does not close")
    return Trace(config=config, steps=steps, violation=violation, loop_start=loop_start)


def loop_key(o: Observation) -> Observation:
    """What must repeat for a loop to close: the observation, without the ghost history
    (committed_log, ack_isr_sizes) and flushed offsets, which may be forgotten by the
    explorer once they cannot matter."""
    reps = tuple(r._replace(flushed_offset=0) for r in o.replicas)
    return o._replace(replicas=reps, committed_log=(), ack_isr_sizes=())


def load_trace(path: str | Path) -> Trace:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TraceError(f"{p}: cannot read: {e}") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise TraceError(f"{p}: not JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    try:
        return trace_from_dict(d)
    except TraceError as e:
        raise TraceError(f"{p}: {e}") from None
