"""`ackcheck replay`: execute a trace on the reference broker (or the model) and compare.

Every action of the trace is applied to a fresh cluster writing real files; after each
step the broker's own observation is compared field by field with the trace's (the first
difference is reported with the step, the field and both values), and the invariants are
judged on the broker's observations. A counterexample is *confirmed* when the same
invariant breaks at the same step."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ackcheck.traces.format import ACTIONS, Trace, TraceError, observation_to_json
from ackcheck.traces.render import action_str
from ackcheck.traces.settings import Config, ConfigError, config_from_dict

CONSUMER_ACTIONS = frozenset({"consumer_poll", "consumer_reset"})


# ------------------------------------------------------------------------ differences
def first_difference(expected, actual, path: str = ""):
    """The first (path, expected, actual) where two JSON values differ, or None."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k in list(expected) + [k for k in actual if k not in expected]:
            if k not in expected or k not in actual:
                return (f"{path}.{k}".lstrip("."), expected.get(k, "<missing>"), actual.get(k, "<missing>"))
            d = first_difference(expected[k], actual[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (a, b) in enumerate(zip(expected, actual)):
            d = first_difference(a, b, f"{path}[{i}]")
            if d:
                return d
        if len(expected) != len(actual):
            return (path.lstrip("."), expected, actual)
        return None
    if expected != actual or type(expected) is not type(actual):
        return (path.lstrip("."), expected, actual)
    return None


def observation_difference(expected, actual):
    """First difference between two Observations, on their JSON form (trace paths)."""
    if expected == actual:
        return None
    return first_difference(observation_to_json(expected), observation_to_json(actual))


# ------------------------------------------------------------------------- validation
def trace_config(trace: Trace) -> Config:
    try:
        return config_from_dict(trace.config)
    except ConfigError as e:
        raise TraceError(f"$.config: {e}") from None


def check_action_args(trace: Trace, config: Config) -> None:
    """Arguments must name brokers and batches of this configuration (bad input, exit 2)."""
    rf = config.replication_factor
    nbatches = -(-config.bounds.max_records // config.records_per_batch)
    for k, (a, _) in enumerate(trace.steps[1:], 1):
        name, *args = a
        for argname, v in zip(ACTIONS[name], args):
            p = f"$.steps[{k}].action.{argname}"
            if argname in ("broker", "follower") and not 0 <= v < rf:
                raise TraceError(f"{p}: {v} is not a broker of this config (replication.factor={rf})")
            if argname == "batch" and not 0 <= v < nbatches:
                raise TraceError(f"{p}: {v} is not a batch of this config ({nbatches} batches)")
            if argname in ("attempt", "leader_epoch") and v < (1 if argname == "attempt" else 0):
                raise TraceError(f"{p}: {v} is out of range")


def judged_invariants(trace: Trace, config: Config, ids: list[str] | None) -> list[str]:
    from ackcheck.checker.engines.check import check_invariant_ids
    from ackcheck.invariants.catalogue import select

    if ids:
        check_invariant_ids(ids, liveness=True)
        return list(ids)
    if trace.violation is not None:
        from ackcheck.invariants.catalogue import BY_ID
        from ackcheck.invariants.liveness import LIVENESS_BY_ID

        if trace.violation.invariant in LIVENESS_BY_ID and trace.loop_start is not None:
            return [trace.violation.invariant]  # a lasso: judged by judge_lasso
        if trace.violation.invariant not in BY_ID:
            raise TraceError(f"$.violation.invariant: unknown invariant {trace.violation.invariant!r}")
        return [trace.violation.invariant]
    return [inv.id for inv in select(None, config)]


def judge_steps(observations: list, config: Config, ids: list[str]):
    """First (invariant, message, step) broken along a list of observations, or None."""
    from ackcheck.invariants.catalogue import BY_ID, Judge

    judge = Judge([BY_ID[i] for i in ids if i in BY_ID], config)
    if not observations:
        return None
    v = judge.initial(observations[0])
    if v:
        return (v[0], v[1], 0)
    for k in range(1, len(observations)):
        v = judge(observations[k - 1], observations[k])
        if v:
            return (v[0], v[1], k)
    return None


def judge_lasso(trace: Trace, observations: list, config: Config, ids: list[str]):
    """A liveness lasso (trace.loop_start) replayed: (property, message, loop_start) when the
    replayed observations close the loop - the last step's state is the loop start's again,
    so the loop can run forever - and the property's goal waits at every step of it."""
    from ackcheck.checker.engines.liveness import lasso_confirmed

    return lasso_confirmed(trace, observations, config, ids)


# ----------------------------------------------------------------------------- replay
@dataclass
class ReplayReport:
    on: str
    steps: int = 0  # actions executed
    seconds: float = 0.0
    first_difference: dict | None = None
    error: str | None = None  # an action the implementation refused
    violation: tuple[str, str, int] | None = None  # judged on the implementation's observations
    expected: tuple[str, str, int] | None = None  # the trace's violation
    invariants: list[str] = field(default_factory=list)
    observations: list = field(default_factory=list)
    data_dir: str | None = None
    recoveries: list = field(default_factory=list)

    @property
    def conformant(self) -> bool:
        return self.first_difference is None and self.error is None

    @property
    def confirmed(self) -> bool:
        if self.expected is None:
            return False
        return self.violation is not None and self.violation[0] == self.expected[0] \
            and self.violation[2] == self.expected[2]

    @property
    def ok(self) -> bool:
        if self.expected is not None:
            return self.confirmed and self.conformant
        return self.conformant and self.violation is None

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        v = self.violation
        return {
            "on": self.on,
            "confirmed": self.confirmed,
            "conformant": self.conformant,
            "first_difference": self.first_difference,
            "error": self.error,
            "violation": {"invariant": v[0], "message": v[1], "step": v[2]} if v else None,
            "expected_violation": ({"invariant": self.expected[0], "message": self.expected[1],
                                    "step": self.expected[2]} if self.expected else None),
            "invariants": self.invariants,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "steps_per_second": round(self.steps_per_second, 1),
            "data_dir": self.data_dir,
        }


def _diff_entry(k: int, action, expected, actual) -> dict | None:
    d = observation_difference(expected, actual)
    if d is None:
        return None
    return {"step": k, "action": action_str(action) if action else None, "field": d[0],
            "trace": d[1], "actual": d[2]}


def replay_on_broker(trace: Trace, *, config: Config | None = None, data_dir: str | Path | None = None,
                     invariant_ids: list[str] | None = None, segment_bytes: int | None = None,
                     keep: bool = False, fsync: bool = True) -> ReplayReport:
    """Run the trace's actions on a fresh broker cluster; compare and judge every step."""
    from ackcheck.broker.cluster import ActionNotEnabled, Cluster
    from ackcheck.broker.log import DEFAULT_SEGMENT_BYTES

    config = config or trace_config(trace)
    check_action_args(trace, config)
    ids = judged_invariants(trace, config, invariant_ids)
    from ackcheck.invariants.catalogue import BY_ID

    report = ReplayReport("broker", invariants=ids)
    if trace.violation is not None:
        report.expected = (trace.violation.invariant, trace.violation.message, trace.violation.step)
    tmp = None
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="ackcheck-replay-")
        data_dir = tmp
    report.data_dir = str(data_dir)
    consumer = any(BY_ID[i].needs_consumer for i in ids if i in BY_ID) or any(
        a[0] in CONSUMER_ACTIONS for a in trace.actions)
    t0 = time.perf_counter()
    cluster = Cluster(config, data_dir, segment_bytes=segment_bytes or DEFAULT_SEGMENT_BYTES,
                      consumer=consumer, fsync=fsync)
    try:
        obs = cluster.observe()
        report.observations.append(obs)
        report.first_difference = _diff_entry(0, None, trace.steps[0][1], obs)
        for k, (action, expected) in enumerate(trace.steps[1:], 1):
            try:
                cluster.apply(action)
            except ActionNotEnabled as e:
                report.error = f"step {k}: {e}"
                if report.first_difference is None:
                    report.first_difference = {"step": k, "action": action_str(action), "field": "action",
                                               "trace": "enabled", "actual": str(e)}
                break
            report.steps += 1
            obs = cluster.observe()
            report.observations.append(obs)
            if report.first_difference is None:
                report.first_difference = _diff_entry(k, action, expected, obs)
        report.seconds = time.perf_counter() - t0
        report.recoveries = list(cluster.recoveries)
    finally:
        if keep or tmp is None:
            cluster.close(clean=False)
        if tmp is not None and not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report.violation = judge_steps(report.observations, config, ids) or judge_lasso(trace, report.observations,
                                                                                    config, ids)
    return report


def replay_model(trace: Trace, *, config: Config | None = None, invariant_ids: list[str] | None = None) -> ReplayReport:
    """The same replay on the model (ackcheck.checker.engines.check.replay_on_model)."""
    from ackcheck.checker.engines.check import replay_on_model
    from ackcheck.invariants.catalogue import BY_ID

    config = config or trace_config(trace)
    check_action_args(trace, config)
    ids = judged_invariants(trace, config, invariant_ids)
    report = ReplayReport("model", invariants=ids)
    if trace.violation is not None:
        report.expected = (trace.violation.invariant, trace.violation.message, trace.violation.step)
    # the model leaves the consumer out unless a judged invariant needs it: bring it in
    # when the trace drives the consumer
    model_ids = [i for i in ids if i in BY_ID]  # a liveness property is judged on the lasso, not per step
    if any(a[0] in CONSUMER_ACTIONS for a in trace.actions) and not any(
            BY_ID[i].needs_consumer for i in ids if i in BY_ID):
        model_ids.append(next(inv.id for inv in BY_ID.values() if inv.needs_consumer))
    t0 = time.perf_counter()
    r = replay_on_model(trace, model_ids, config)
    report.seconds = time.perf_counter() - t0
    report.observations = [o for _, o in r.steps]
    report.steps = len(r.steps) - 1
    for k, (a, o) in enumerate(r.steps):
        d = _diff_entry(k, a, trace.steps[k][1], o)
        if d:
            report.first_difference = d
            break
    if not r.ok:
        report.error = r.error
        if report.first_difference is None:
            k = len(r.steps)
            report.first_difference = {"step": k, "action": action_str(trace.steps[k][0]), "field": "action",
                                       "trace": "enabled", "actual": r.error}
    report.violation = judge_steps(report.observations, config, ids) or judge_lasso(trace, report.observations,
                                                                                    config, ids)
    return report
