"""bmc.prove() on CaDiCaL: iterative deepening on one incremental SAT solver
(sat.SatUnrolling), strengthened by the catalogue lemmas Houdini finds inductive
(sat.Houdini), then the induction step (bmc._induction_step) when asked for.

The loop mirrors bmc.prove's z3 loop - the same questions in the same order (a selected
invariant broken at depth k; with --induction or --assume-invariant, an assumption broken
at depth k), the same verdicts and notes - so the two backends can be compared answer by
answer (tests/test_prove_sat.py)."""

from __future__ import annotations

import time

from ackcheck.checker.engines.prove.bmc import (
    _as_z3,
    _aux,
    _bad,
    _broker_args,
    _finish,
    _induction_step,
    _report,
    _timed_check,
    relation_for,
)
from ackcheck.checker.engines.prove.layout import S
from ackcheck.checker.engines.prove.ops import NOT
from ackcheck.checker.engines.prove.properties import AUX, BAD
from ackcheck.checker.engines.prove.sat import Houdini, SatUnrolling

LEMMAS_AFTER = 1.0  # solver seconds before BMC looks for inductive lemmas (small searches never pay for it)


def _candidates(ids: list[str]) -> dict:
    """Houdini's candidates: every auxiliary invariant, and the selected state invariants."""
    out = {f"lemma {a}": AUX[a] for a in AUX}
    for i in ids:
        if i in BAD:
            out[f"invariant {i}"] = (lambda bad: lambda enc, s: NOT(bad(enc, s)))(BAD[i])
    return out


def prove_incremental(result, info, stats, enc, model, config, ids, aux_ids, depth, induction, deadline, progress,
                      symmetry, lemmas, lemmas_after, t0):
    """bmc.prove()'s BMC loop on CaDiCaL (sat.py): one solver for every depth, each depth's
    question asked under an assumption literal, which is fixed false once answered no.
    Once the search has cost `lemmas_after` seconds of solving (at once with --induction),
    the catalogue's lemmas that Houdini finds inductive are asserted at every step; Houdini
    works between depths, never longer in all than half what the search itself has taken."""
    rel = relation_for(enc)
    names_broker = [[i for i, inst in enumerate(enc.instances) if m in _broker_args(inst)] for m in range(enc.R)]
    unroll_init = enc.from_state(model.init())
    unroll = SatUnrolling(enc, rel, unroll_init, symmetry, names_broker)
    y_only = [("y", rel.y_leaves)]
    both = [("x", rel.x_leaves), ("y", rel.y_leaves)]
    candidates = _candidates(ids)
    proven: list[str] = []

    def say(text):
        if progress is not None:
            progress(text)

    def assert_lemmas(k: int) -> None:
        for name in proven:
            f = candidates[name]
            unroll.forbid(unroll.flag(name, _as_z3(NOT(f(enc, rel.y))), y_only, {"y": unroll.blocks[k]}))

    search = Houdini(enc, rel, unroll_init, candidates) if lemmas else None

    def find_lemmas() -> None:
        # Houdini's time is kept within half the search's own (a wide configuration's lemmas can
        # cost more than they save); with --induction the proof needs them, so no limit
        spent = time.perf_counter() - t0 - search.seconds
        budget = float("inf") if induction or lemmas_after <= 0 else max(lemmas_after, spent / 2) - search.seconds
        if deadline is not None:
            budget = min(budget, deadline - time.perf_counter())
        found = search.run(max(budget, 0.0))
        info.lemma_seconds = search.seconds
        if found is None:
            return
        proven.extend(found)
        info.lemmas = [n.split(" ", 1)[1] for n in found if n.startswith("lemma ")]
        for k in range(len(unroll.blocks)):
            assert_lemmas(k)
        shown = [n.split(" ", 1)[1] for n in found]
        say(f"lemmas: {len(found)} of {len(candidates)} candidates are inductive (Houdini, "
            f"{info.lemma_seconds:.1f}s), assumed at every step: {', '.join(shown) or 'none'}")

    def ask(lit):
        left = None
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None, 0.0
        t = time.perf_counter()
        r = unroll.solve([lit], left)
        dt = time.perf_counter() - t
        info.solver_seconds += dt
        return r, dt
    try:
        for k in range(depth + 1):
            if search is not None and info.lemmas is None and (induction or info.solver_seconds >= lemmas_after):
                find_lemmas()
            if k > 0:
                unroll.extend()
                assert_lemmas(k)
            if k == 0:
                lit = unroll.flag("bad0", _as_z3(_bad(enc, rel.y, ids)), y_only, {"y": unroll.blocks[0]})
            else:
                lit = unroll.flag("bad", _as_z3(_bad(enc, rel.y, ids, rel.x)), both,
                                  {"x": unroll.blocks[k - 1], "y": unroll.blocks[k]})
            r, dt = ask(lit)
            info.per_depth.append((k, dt, {True: "sat", False: "unsat", None: "unknown"}[r]))
            if r is True:
                true = unroll.model()
                _report(result, info, enc, lambda j: unroll.values(true, j), lambda j: unroll.act(true, j), k, ids,
                        model, config)
                stats.max_depth = k
                say(f"depth {k}: violation found ({dt:.2f}s)")
                return _finish(result, info, stats, t0)
            if r is None:
                result.unknown = True
                info.note = f"the solver gave up at depth {k} (--timeout)"
                say(f"depth {k}: unknown (--timeout)")
                return _finish(result, info, stats, t0)
            unroll.forbid(lit)  # no selected invariant breaks in k steps: a fact for every deeper depth
            if aux_ids:
                alit = unroll.flag("aux", _as_z3(NOT(_aux(enc, rel.y, aux_ids))), y_only, {"y": unroll.blocks[k]})
                ra, _ = ask(alit)
                if ra is True:
                    v = S(unroll.values(unroll.model(), k))
                    failing = [a for a in aux_ids if not AUX[a](enc, v)]
                    result.unknown = True
                    info.induction = "assumption-fails"
                    info.note = (f"assumed invariant {', '.join(failing)} does not hold in a state reachable "
                                 f"in {k} steps: it cannot strengthen the induction")
                    return _finish(result, info, stats, t0)
                if ra is None:
                    result.unknown = True
                    info.note = f"the solver gave up at depth {k} (--timeout)"
                    return _finish(result, info, stats, t0)
                unroll.forbid(alit)
            info.depth_reached = stats.max_depth = k
            say(f"depth {k}: no violation ({dt:.2f}s solver, {time.perf_counter() - t0:.1f}s total)")
    except KeyboardInterrupt:
        result.interrupted = True
        return _finish(result, info, stats, t0)
    finally:
        unroll.close()
        if search is not None:
            search.close()
    if induction:
        state_ids = [i for i in ids if i in BAD]
        if state_ids == ids and all(f"invariant {i}" in proven for i in ids):
            # 1-induction with the lemmas: the invariants are among Houdini's inductive set
            result.proved = True
            info.induction = "proved"
            info.note = "the invariants are inductive together with the lemmas Houdini kept"
            say("induction: proved (the invariants are inductive with the lemmas)")
            return _finish(result, info, stats, t0)
        try:
            _induction_step(result, info, enc, ids, aux_ids, depth, _timed_check(info, deadline), say,
                            lemmas=[candidates[n] for n in proven])
        except KeyboardInterrupt:
            result.interrupted = True
    return _finish(result, info, stats, t0)
