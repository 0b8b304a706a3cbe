"""`ackcheck chaos`: seeded fault injection against the reference broker.

Random schedules (`random.Random(SEED)`) of produce / deliver / fetch / consume, process
crashes, power losses (real unflushed bytes dropped, sometimes a torn batch left for
recovery to cut), elections, stale controller messages and lost messages, within the
configuration's bounds, against a cluster writing real files; every invariant is judged
after every step. When a cluster reaches a state where nothing can happen any more, a
fresh one starts (a new *life*) until the run's step budget is spent.

Any violation is written as an ordinary trace (`--trace-out`), replayable with
`ackcheck replay` and reproducible from the seed. Reverse conformance: every life's
steps are replayed on the model (`replay_on_model`), so the model cannot silently lack a
behaviour the broker has; the first difference is reported."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace

from ackcheck.traces.format import Trace, Violation
from ackcheck.traces.settings import Config

# chaos explores longer executions than the exhaustive checker: unless a bound is given on
# the command line, these replace the checker's small defaults
CHAOS_BOUNDS = {"max_records": 6, "max_crashes": 3, "max_elections": 3, "max_isr_shrinks": 2}


CHAOS_SEGMENT_BYTES = 1024  # small segments, so runs roll them


@dataclass
class Life:
    trace: Trace
    faults: dict
    torn: int = 0
    recoveries: int = 0  # restarts that cut a torn or unflushed tail
    conformance: dict | None = None  # {"ok": bool, "first_difference": ...}


@dataclass
class RunSummary:
    run: int
    steps: int = 0
    seconds: float = 0.0
    lives: int = 0
    faults: dict = field(default_factory=dict)
    torn_writes: int = 0
    recoveries_cut: int = 0
    violations: int = 0
    model_checked: int = 0
    model_divergences: int = 0
    model_seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "run": self.run, "steps": self.steps, "seconds": round(self.seconds, 3),
            "steps_per_second": round(self.steps_per_second, 1), "lives": self.lives,
            "faults_injected": dict(self.faults, torn_writes=self.torn_writes),
            "recoveries_that_cut": self.recoveries_cut, "violations": self.violations,
            "model_conformance": {"lives_checked": self.model_checked, "divergences": self.model_divergences,
                                  "seconds": round(self.model_seconds, 3)},
        }


@dataclass
class ChaosResult:
    config: Config
    seed: int
    invariants: list[str]
    runs: list[RunSummary] = field(default_factory=list)
    violation: Violation | None = None
    violation_trace: Trace | None = None
    violation_where: tuple[int, int] | None = None  # (run, life)
    violation_model: dict | None = None  # the model's replay of the violating trace
    divergence: dict | None = None  # first model divergence
    divergent_trace: Trace | None = None
    interrupted: bool = False  # Ctrl-C: the lives finished before it are reported, the one running is dropped

    @property
    def steps(self) -> int:
        return sum(r.steps for r in self.runs)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.runs)


def chaos_config(args_bounds: dict, config: Config) -> Config:
    """The run's config: the checker's bounds where given, chaos defaults elsewhere."""
    extra = {k: v for k, v in CHAOS_BOUNDS.items() if k not in args_bounds}
    return replace(config, bounds=replace(config.bounds, **extra)) if extra else config


def model_conformance(trace: Trace, config: Config, ids: list[str]) -> dict:
    from ackcheck.checker.engines.replay import replay_model

    r = replay_model(trace, config=config, invariant_ids=ids)
    out = {"ok": r.conformant, "first_difference": r.first_difference, "seconds": r.seconds}
    if trace.violation is not None:
        out["confirmed"] = r.confirmed
        out["model_violation"] = list(r.violation) if r.violation else None
    return out


def run_chaos(config: Config, seed: int, *, steps: int = 300, runs: int = 1, invariant_ids: list[str] | None = None,
              segment_bytes: int = CHAOS_SEGMENT_BYTES, model_check: bool = True, fsync: bool = True,
              data_root: str | None = None, keep_going: bool = False, progress=None) -> ChaosResult:
    """Seeded chaos runs. A violation ends its life; it ends the whole run unless
    `keep_going` (then violations are counted and the first one is kept)."""
    from ackcheck.broker.cluster import Cluster
    from ackcheck.broker.schedule import Scheduler
    from ackcheck.checker.engines.check import check_invariant_ids
    from ackcheck.invariants.catalogue import Judge, select

    check_invariant_ids(invariant_ids)
    invs = select(invariant_ids, config)
    ids = [i.id for i in invs]
    consumer = any(i.needs_consumer for i in invs)
    judge = Judge(invs, config)
    rng = random.Random(seed)
    sched = Scheduler(rng)
    result = ChaosResult(config, seed, ids)
    root = data_root or tempfile.mkdtemp(prefix="ackcheck-chaos-")
    cluster = None
    try:
        for run in range(runs):
            summ = RunSummary(run)
            result.runs.append(summ)
            left = steps
            while left > 0 and (keep_going or result.violation is None):
                life_no = summ.lives
                summ.lives += 1
                d = f"{root}/run-{run}-life-{life_no}"
                t0 = time.perf_counter()
                cluster = Cluster(config, d, segment_bytes=segment_bytes, consumer=consumer, fsync=fsync)
                obs = cluster.observe()
                trace = Trace(config=config.as_dict(), steps=[(None, obs)])
                v = judge.initial(obs)
                torn = 0
                taken = 0
                while v is None and left > 0:
                    acts = cluster.enabled_actions()
                    if not acts:
                        break  # quiescent: nothing can happen any more
                    a, t = sched.choose(cluster, acts)
                    if t:
                        cluster.power_loss_torn(a[1], t)
                        torn += 1
                    else:
                        cluster.apply(a)
                    prev, obs = obs, cluster.observe()
                    trace.steps.append((a, obs))
                    left -= 1
                    taken += 1
                    v = judge(prev, obs)
                summ.seconds += time.perf_counter() - t0
                summ.steps += taken
                for k, n in cluster.faults_injected().items():
                    summ.faults[k] = summ.faults.get(k, 0) + n
                summ.torn_writes += torn
                summ.recoveries_cut += sum(1 for _, _, rep in cluster.recoveries if rep.truncated)
                cluster.close(clean=False)
                cluster = None
                shutil.rmtree(d, ignore_errors=True)
                first = False
                if v is not None:
                    summ.violations += 1
                    trace.violation = Violation(v[0], v[1], len(trace.steps) - 1)
                    if result.violation is None:
                        first = True
                        result.violation = trace.violation
                        result.violation_trace = trace
                        result.violation_where = (run, life_no)
                if model_check:
                    t1 = time.perf_counter()
                    mc = model_conformance(trace, config, ids)
                    summ.model_seconds += time.perf_counter() - t1
                    summ.model_checked += 1
                    if not mc["ok"]:
                        summ.model_divergences += 1
                        if result.divergence is None:
                            result.divergence = dict(mc["first_difference"] or {}, run=run, life=life_no)
                            result.divergent_trace = trace
                    if first:
                        result.violation_model = mc
                if progress is not None:
                    progress(summ)
            if result.violation is not None and not keep_going:
                break
    except KeyboardInterrupt:
        result.interrupted = True
        if cluster is not None:  # (the life in progress: its broker processes' files are closed)
            cluster.close(clean=False)
    finally:
        if data_root is None:
            shutil.rmtree(root, ignore_errors=True)
    return result
