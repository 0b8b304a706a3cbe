"""Bounded model checking with iterative deepening, and k-induction, on z3.

BMC: the initial state S0 (concrete), one fresh state per step, and the transition
relation between consecutive states (an action index per step picks one instance of
encoding.py; that instance must be enabled and the next state is its effect). At depth
K = 0, 1, 2, ... the solver is asked for a state S_K that breaks a selected invariant; the
first K that is satisfiable gives a shortest counterexample (every shorter depth was
unsatisfiable). The solver's action sequence is decoded into Model actions, replayed on
the Python model and re-judged by the catalogue before it is reported, as an ordinary
v1 trace.

k-induction (`induction=True`): after the base case (BMC to depth K), the step case asks
for K+1 consecutive states from an *arbitrary* state where the invariants and the
assumed auxiliary invariants hold in the first K and fail in the last. Unsatisfiable:
they hold in every reachable state, at every depth (for this cluster size and these
bounds). Satisfiable: a counterexample to induction - not a real execution (its first
state may be unreachable); strengthen with `--assume-invariant`.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

import z3

from ackcheck.checker.engines.prove.encoding import Encoding, S
from ackcheck.checker.engines.prove.layout import check_fragment
from ackcheck.checker.engines.prove.ops import AND, EQ, INT_BITS, NOT, OR, ite, set_int_bits
from ackcheck.checker.engines.prove.properties import AUX, BAD, BAD_STEP, types_parts
from ackcheck.checker.engines.result import Result, Stats
from ackcheck.invariants.catalogue import Judge, select
from ackcheck.model.protocol import ActionError, Model, action_str
from ackcheck.model.state import observe
from ackcheck.traces.format import Trace, Violation
from ackcheck.traces.settings import Config


class Disagreement(RuntimeError):
    """The solver's path does not replay on the Python model (a conformance bug)."""


@dataclass
class ProveInfo:
    """What `prove` adds to the common Result: per-depth timings and the induction outcome."""

    depth_reached: int = -1
    solver_seconds: float = 0.0
    per_depth: list = field(default_factory=list)  # [(depth, seconds, answer)]
    induction: str | None = None  # None | "proved" | "cti" | "unknown" | "assumption-fails"
    cti: dict | None = None  # counterexample to induction
    note: str | None = None
    assumed: list = field(default_factory=list)
    lemmas: list | None = None  # the Houdini lemmas the search assumed (None: not looked for)
    lemma_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"depth_reached": self.depth_reached, "solver_seconds": round(self.solver_seconds, 3),
                "per_depth": [{"depth": k, "seconds": round(t, 3), "answer": a} for k, t, a in self.per_depth],
                "induction": self.induction, "counterexample_to_induction": self.cti,
                "assumed_invariants": list(self.assumed), "note": self.note,
                "lemmas": self.lemmas, "lemma_seconds": round(self.lemma_seconds, 3)}


def default_invariants(config: Config) -> list[str]:
    return [inv.id for inv in select(None, config) if inv.id in BAD or inv.id in BAD_STEP]


def _check(solver: z3.Solver, *assumptions):
    """solver.check in a worker thread, so Ctrl-C interrupts z3 (Context.interrupt)."""
    box = {}

    def run():
        try:
            box["r"] = solver.check(*assumptions)
        except z3.Z3Exception as e:  # pragma: no cover - interrupted in an odd place
            box["e"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        while th.is_alive():
            th.join(0.1)
    except KeyboardInterrupt:
        solver.ctx.interrupt()
        th.join()
        raise
    if "e" in box:
        return z3.unknown
    return box["r"]


def _same(a, b) -> bool:
    if isinstance(a, z3.ExprRef) and isinstance(b, z3.ExprRef):
        return a.eq(b)
    if isinstance(a, z3.ExprRef) or isinstance(b, z3.ExprRef):
        return False
    return a == b and type(a) is type(b)


class FreshSolver:
    """A solver that starts afresh for every check (bit-blasting to SAT, which z3 only does
    for non-incremental problems), keeping the assertions added so far."""

    def __init__(self, logic: str = "QF_BV"):
        self.logic = logic
        self.assertions = []
        self.params = {}
        self.last = None
        self.ctx = z3.main_ctx()

    def add(self, *fs) -> None:
        self.assertions.extend(fs)

    def set(self, key, value) -> None:
        self.params[key] = value

    def check(self, *assumptions):
        s = z3.SolverFor(self.logic)
        s.set("ctrl_c", False)  # Ctrl-C reaches Python, which interrupts z3 (_check)
        for k, v in self.params.items():
            s.set(k, v)
        s.add(*self.assertions)
        s.add(*assumptions)
        self.last = s
        return s.check()

    def model(self):
        return self.last.model()

    def reason_unknown(self):
        return self.last.reason_unknown() if self.last is not None else "not run"


class Relation:
    """The transition relation T(X, act, Y) over two generic states, built once per
    encoding; each step of an unrolling is a substitution of it (one z3 call)."""

    def __init__(self, enc: Encoding):
        self.enc = enc
        self.x = enc.fresh("x")
        self.y = enc.fresh("y")
        set_int_bits(enc.bits)
        self.act = z3.BitVec("act", enc.act_bits)
        self.names = [n for n, _ in enc.leaves(self.x)]
        results = enc.step_all(self.x)
        parts = [_as_z3(OR(*[AND(EQ(self.act, i), en) for i, (en, _) in enumerate(results)]))]
        per = [[v for _, v in enc.leaves(t)] for _, t in results]
        for idx, (_, var) in enumerate(enc.leaves(self.y)):
            groups: list[tuple[object, list[int]]] = []
            for i, lv in enumerate(per):
                v = lv[idx]
                for g in groups:
                    if _same(g[0], v):
                        g[1].append(i)
                        break
                else:
                    groups.append((v, [i]))
            expr = groups[-1][0]
            for v, idxs in reversed(groups[:-1]):
                expr = ite(OR(*[EQ(self.act, i) for i in idxs]), v, expr)
            parts.append(var == expr)
        self.formula = z3.And(*parts)
        self.x_leaves = [v for _, v in enc.leaves(self.x)]
        self.y_leaves = [v for _, v in enc.leaves(self.y)]

    def instance(self, cur: list, act, nxt: list):
        pairs = [(a, _as_z3(b, a)) for a, b in zip(self.x_leaves, cur)]
        pairs += [(a, b) for a, b in zip(self.y_leaves, nxt)]
        pairs.append((self.act, act))
        return z3.substitute(self.formula, *pairs)


_RELATIONS: dict = {}


def relation_for(enc: Encoding) -> Relation:
    key = (enc.config, id(enc))
    if key not in _RELATIONS:
        _RELATIONS.clear()
        _RELATIONS[key] = Relation(enc)
    return _RELATIONS[key]


class Unrolling:
    """States S_0..S_k and the transitions between them, added to a solver as they grow."""

    def __init__(self, enc: Encoding, solver: z3.Solver, first: S, tag: str, symmetry: bool = False):
        self.enc, self.solver, self.tag = enc, solver, tag
        self.rel = relation_for(enc)
        self.states = [first]
        self.acts = []
        self.names = self.rel.names
        # Symmetry breaking (BMC from the initial state only): brokers 1..R-1 start alike and
        # the relation treats them alike, so every path has a renaming, of the same length,
        # in which they are first named by an action in the order 1, 2, ... Only such paths
        # are searched. used[m]: broker m was named by an earlier action.
        self.symmetry = symmetry and enc.R > 2
        self.used = [False] * enc.R
        self.names_broker = [[i for i, inst in enumerate(enc.instances) if m in _broker_args(inst)]
                             for m in range(enc.R)]

    def extend(self) -> None:
        enc = self.enc
        k = len(self.acts)
        s = self.states[-1]
        nxt = enc.fresh(f"{self.tag}{k + 1}")
        act = z3.BitVec(f"act_{self.tag}{k}", enc.act_bits)
        self.solver.add(self.rel.instance([v for _, v in enc.leaves(s)], act, [v for _, v in enc.leaves(nxt)]))
        if self.symmetry:
            names = [OR(*[EQ(act, i) for i in self.names_broker[m]]) for m in range(enc.R)]
            for m in range(2, enc.R):
                self.solver.add(_as_z3(OR(NOT(names[m]), self.used[m - 1], names[m - 1])))
            self.used = [OR(self.used[m], names[m]) for m in range(enc.R)]
        self.states.append(nxt)
        self.acts.append(act)

    def values(self, m: z3.ModelRef, k: int) -> dict:
        return _evaluate(self.states[k], m)


_BROKER_ARGS = {"producer_send": (1,), "producer_receive": (1,), "broker_handle_produce": (1,),
                "follower_fetch": (0, 1), "leader_shrink_isr": (0, 1), "broker_learn": (0,),
                "controller_alter_partition": (0,), "controller_elect": (0,), "crash": (0,), "restart": (0,),
                "power_loss": (0,), "flush": (0,), "other_producer_write": (0,), "lose_request": (1,),
                "lose_response": (1,), "follower_fetch_delayed": (0,), "leader_handle_delayed_fetch": (0, 1),
                "consumer_poll": (0,), "consumer_reset": (0,)}


def _broker_args(inst) -> set[int]:
    return {inst.args[p] for p in _BROKER_ARGS.get(inst.name, ())}


def _evaluate(s: S, m: z3.ModelRef) -> dict:
    def ev(v):
        if isinstance(v, list):
            return [ev(x) for x in v]
        if isinstance(v, (bool, int)):
            return v
        r = m.eval(v, model_completion=True)
        if z3.is_true(r):
            return True
        if z3.is_false(r):
            return False
        return r.as_signed_long()
    return {k: ev(v) for k, v in s.f.items()}


def _bad(enc: Encoding, s: S, ids: list[str], prev: S | None = None):
    """A selected invariant breaks in s (or, for a step invariant, on the step prev -> s)."""
    return OR(*[BAD[i](enc, s) for i in ids if i in BAD],
              *[BAD_STEP[i](enc, prev, s) for i in ids if i in BAD_STEP and prev is not None])


def _aux(enc: Encoding, s: S, ids: list[str]):
    return AND(*[AUX[i](enc, s) for i in ids])


SOLVERS = ("cadical", "z3")  # BMC's backends: CaDiCaL on the bit-blasted relation (sat.py), or z3 itself


def prove(config: Config, invariant_ids: list[str] | None = None, *, depth: int = 10, induction: bool = False,
          assume: list[str] | tuple = (), timeout: float | None = None, progress=None,
          symmetry: bool = True, solver: str = "cadical", lemmas: bool = True,
          lemmas_after: float | None = None) -> tuple[Result, ProveInfo]:
    """Run BMC to `depth` (and the k-induction step with `induction`). `progress(text)` is
    called once per depth. `solver`: the BMC backend, "cadical" (incremental SAT on the
    bit-blasted relation, sat.py) or "z3" (a fresh z3 solver per depth); the induction step
    is z3's. `lemmas` (cadical only): strengthen with the catalogue lemmas Houdini finds
    inductive (sat.Houdini), looked for once `lemmas_after` seconds of solving have passed
    (default LEMMAS_AFTER), for no longer than the search has taken; at once and to the end
    with `induction` or `lemmas_after=0`. Raises NotEncoded for configurations outside the fragment."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r} (known: {', '.join(SOLVERS)})")
    check_fragment(config, invariant_ids)
    ids = list(invariant_ids) if invariant_ids else default_invariants(config)
    for a in assume:
        if a not in AUX:
            from ackcheck.traces.settings import ConfigError, suggest
            raise ConfigError(f"--assume-invariant {a}: unknown auxiliary invariant{suggest(a, AUX)} "
                              f"(known: {', '.join(AUX)})")
    aux_ids = (["types"] if induction else []) + [a for a in assume if a != "types"]
    consumer = any(inv.needs_consumer for inv in select(ids, config))
    enc = Encoding(config, committed_log="leader-completeness" in ids, consumer=consumer)
    set_int_bits(enc.bits)
    model = Model(config)
    stats = Stats(complete=False)
    result = Result("prove", config, ids, stats=stats)
    info = ProveInfo(assumed=aux_ids)
    t0 = time.perf_counter()
    deadline = None if not timeout else t0 + timeout
    if solver == "cadical":
        from ackcheck.checker.engines.prove.incremental import LEMMAS_AFTER, prove_incremental

        return prove_incremental(result, info, stats, enc, model, config, ids, aux_ids, depth, induction,
                                 deadline, progress, symmetry, lemmas,
                                 LEMMAS_AFTER if lemmas_after is None else lemmas_after, t0)
    solver = FreshSolver()
    unroll = Unrolling(enc, solver, enc.from_state(model.init()), "", symmetry=symmetry)
    timed_check = _timed_check(info, deadline)

    def say(text):
        if progress is not None:
            progress(text)
    try:
        for k in range(depth + 1):
            if k > 0:
                unroll.extend()
            r, dt = timed_check(solver, _as_z3(_bad(enc, unroll.states[k], ids,
                                                    unroll.states[k - 1] if k else None)))
            info.per_depth.append((k, dt, str(r)))
            if r == z3.sat:
                m = solver.model()
                _report(result, info, enc, lambda j: unroll.values(m, j),
                        lambda j: m.eval(unroll.acts[j], model_completion=True).as_long(), k, ids, model, config)
                stats.max_depth = k
                say(f"depth {k}: violation found ({dt:.2f}s)")
                return _finish(result, info, stats, t0)
            if r == z3.unknown and solver.reason_unknown() in ("canceled", "interrupted from keyboard"):
                raise KeyboardInterrupt
            if r == z3.unknown:
                result.unknown = True
                info.note = f"the solver gave up at depth {k} ({solver.reason_unknown()})"
                say(f"depth {k}: unknown ({solver.reason_unknown()})")
                return _finish(result, info, stats, t0)
            if aux_ids:
                ra, _ = timed_check(solver, _as_z3(NOT(_aux(enc, unroll.states[k], aux_ids))))
                if ra == z3.sat:
                    m = solver.model()
                    v = unroll.states[k]
                    failing = [a for a in aux_ids if z3.is_false(m.eval(_as_z3(AUX[a](enc, v)),
                                                                       model_completion=True))]
                    result.unknown = True
                    info.induction = "assumption-fails"
                    info.note = (f"assumed invariant {', '.join(failing)} does not hold in a state reachable "
                                 f"in {k} steps: it cannot strengthen the induction")
                    return _finish(result, info, stats, t0)
            info.depth_reached = stats.max_depth = k
            say(f"depth {k}: no violation ({dt:.2f}s solver, {time.perf_counter() - t0:.1f}s total)")
        if induction:
            _induction_step(result, info, enc, ids, aux_ids, depth, timed_check, say)
    except KeyboardInterrupt:
        result.interrupted = True
    return _finish(result, info, stats, t0)


def _timed_check(info: ProveInfo, deadline: float | None):
    """check(solver, *assumptions) -> (answer, seconds) within the deadline, counted in info."""
    def timed_check(s, *assumptions):
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 0:
                return z3.unknown, 0.0
            s.set("timeout", max(1, int(left * 1000)))
        t = time.perf_counter()
        r = _check(s, *assumptions)
        dt = time.perf_counter() - t
        info.solver_seconds += dt
        return r, dt
    return timed_check


def _as_z3(x, like=None):
    if isinstance(x, bool):
        return z3.BoolVal(x)
    if isinstance(x, int):
        return z3.BitVecVal(x, like.size() if like is not None else INT_BITS[0])
    return x


def _finish(result: Result, info: ProveInfo, stats: Stats, t0: float):
    stats.seconds = time.perf_counter() - t0
    return result, info


def _report(result, info, enc, values, act, k, ids, model: Model, config: Config) -> None:
    """Decode the solver's path (`values(j)`: state j's fields, `act(j)`: the index of step
    j's instance), replay it on the Python model, re-judge it there."""
    actions = [enc.instances[act(j)].decode(values(j)) for j in range(k)]
    judge = Judge(select(ids, config), config)
    s = model.init()
    path = [(None, s)]
    found = judge.initial(s)
    where = 0
    for j, a in enumerate(actions, 1):
        if found:
            break
        try:
            t = model.step(s, a)
        except ActionError as e:
            raise Disagreement(f"step {j}: the solver's {action_str(a)} does not replay on the model: {e}") from None
        found = judge(s, t)
        where = j
        path.append((a, t))
        s = t
    if not found or where != k:
        raise Disagreement(f"the solver's {k}-step path does not break {', '.join(ids)} on the model "
                           f"({'at step ' + str(where) if found else 'not at all'})")
    trace = Trace(config=config.as_dict(), steps=[(a, observe(st)) for a, st in path])
    trace.violation = Violation(found[0], found[1], k)
    result.violation = found
    result.trace = trace
    info.depth_reached = k


def _induction_step(result, info, enc, ids, aux_ids, k, timed_check, say, lemmas=()) -> None:
    """`lemmas`: properties already proved for every reachable state (Houdini's), assumed
    in every state of the step, the last included."""
    solver = FreshSolver()
    first = enc.fresh("i0")
    unroll = Unrolling(enc, solver, first, "i")
    for j in range(k):
        solver.add(_as_z3(NOT(_bad(enc, unroll.states[j], ids, unroll.states[j - 1] if j else None))))
        solver.add(_as_z3(_aux(enc, unroll.states[j], aux_ids)))
        solver.add(*[_as_z3(f(enc, unroll.states[j])) for f in lemmas])
        unroll.extend()
    last = unroll.states[k]
    solver.add(*[_as_z3(f(enc, last)) for f in lemmas])
    solver.add(_as_z3(OR(_bad(enc, last, ids, unroll.states[k - 1] if k else None), NOT(_aux(enc, last, aux_ids)))))
    r, dt = timed_check(solver)
    info.per_depth.append((f"step-{k}", dt, str(r)))
    if r == z3.unsat:
        result.proved = True
        info.induction = "proved"
        say(f"induction step at k={k}: proved ({dt:.2f}s)")
        return
    if r == z3.unknown:
        result.unknown = True
        info.induction = "unknown"
        info.note = f"the solver gave up on the induction step ({solver.reason_unknown()})"
        say(f"induction step at k={k}: unknown")
        return
    m = solver.model()
    actions = []
    for j in range(k):
        vals = unroll.values(m, j)
        idx = m.eval(unroll.acts[j], model_completion=True).as_long()
        actions.append(action_str(enc.instances[idx].decode(vals)))
    end = unroll.values(m, k)
    broken = [i for i in ids if i in BAD and z3.is_true(m.eval(_as_z3(BAD[i](enc, last)), model_completion=True))]
    broken += [i for i in ids if i in BAD_STEP and k > 0 and z3.is_true(
        m.eval(_as_z3(BAD_STEP[i](enc, unroll.states[k - 1], last)), model_completion=True))]
    broken += [f"aux:{a}" for a in aux_ids if z3.is_false(m.eval(_as_z3(AUX[a](enc, last)), model_completion=True))]
    if "aux:types" in broken:
        broken += [f"types: {name}" for name, e in types_parts(enc, last)
                   if z3.is_false(m.eval(_as_z3(e), model_completion=True))]
    info.induction = "cti"
    info.cti = {"k": k, "actions": actions, "breaks": broken,
                "start": _summary(enc, unroll.values(m, 0)), "end": _summary(enc, end)}
    say(f"induction step at k={k}: counterexample to induction ({dt:.2f}s)")


def _summary(enc: Encoding, v: dict) -> dict:
    """A readable digest of an encoded state (for counterexamples to induction)."""
    reps = []
    for b in range(enc.R):
        log = [f"{v['lrec'][b][j]}@e{v['lep'][b][j]}" for j in range(max(0, min(v["leo"][b], enc.L)))]
        reps.append({"broker": b, "alive": v["alive"][b], "leader": v["rep_leader"][b],
                     "leader_epoch": v["rep_epoch"][b], "log": log, "log_end_offset": v["leo"][b],
                     "high_watermark": v["hw"][b], "isr_view": [m for m in range(enc.R) if v["rep_isr"][b][m]],
                     "follower_leos": v["fleo"][b],
                     "pending_isr_change": {"proposed": [m for m in range(enc.R) if v["ic_prop"][b][m]],
                                            "effective": [m for m in range(enc.R) if v["ic_eff"][b][m]]}
                     if v["ic"][b] else None})
    return {"controller": {"leader": v["c_leader"], "leader_epoch": v["c_epoch"],
                           "isr": [m for m in range(enc.R) if v["c_isr"][m]]},
            "replicas": reps,
            "batches": [{"batch": i, "status": v["st"][i], "offset": v["off"][i]} for i in range(enc.NB)]}


def stderr_progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
