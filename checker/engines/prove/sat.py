"""BMC on an incremental SAT solver: the z3 relation bit-blasted to CNF once, unrolled by
renaming variables, and solved by CaDiCaL (through PySAT) with assumptions; and Houdini,
which finds the inductive lemmas that unrolling is strengthened with (incremental.py).

Why: z3 bit-blasts a bit-vector problem to SAT only when it is not incremental, so bmc.py's
z3 backend starts a fresh solver at every depth and throws away what it learned proving
the shallower depths unsatisfiable. Here the relation T(x, act, y) over two generic states
(bmc.Relation, the same formula the z3 backend substitutes) is bit-blasted once by z3's
own tactics (simplify, bit-blast, tseitin-cnf), and each step of the unrolling is a copy
of that clause set with x, act and y renamed to the step's variables - integer arithmetic
on a numpy array. CaDiCaL keeps every learned clause from depth to depth; the question
"does a selected invariant break at depth k" is asked under an assumption literal that
activates the bad-state clauses of that depth only, and once it is answered no, the
literal is fixed false, so the solver also knows that no shorter path breaks anything.

The encoding is not a second one: every clause comes from the z3 relation that
tests/test_prove_conformance.py checks against model/protocol.py, and a path the solver
finds is decoded and replayed on the Python model before it is reported (bmc._report),
exactly as with the z3 backend. tests/test_prove_sat.py checks that both backends give the
same verdict and the same shortest length.
"""

from __future__ import annotations

import time

import numpy as np
import z3

from ackcheck.checker.engines.prove.encoding import Encoding, S
from ackcheck.checker.engines.prove.layout import Layout

_SLICE_CONFLICTS = 20_000  # about 0.1-1 s of CaDiCaL on these relations: the timeout's granularity
SOLVER = "cadical195"  # CaDiCaL 1.9.5: as fast as any of PySAT's incremental solvers here (docs/prove.md)


def _bit_view(v, tag: str):
    """Names of Boolean constants standing for the bits of leaf v (least significant
    first), and the bit-vector (or Boolean) term made of them that replaces v in a formula."""
    if z3.is_bool(v):
        return [tag], z3.Bool(tag)
    names = [f"{tag}#{j}" for j in range(v.size())]
    one, zero = z3.BitVecVal(1, 1), z3.BitVecVal(0, 1)
    parts = [z3.If(z3.Bool(n), one, zero) for n in reversed(names)]
    return names, (parts[0] if len(parts) == 1 else z3.Concat(*parts))


_VIEWS: dict = {}


def _group_view(gname: str, leaves: list):
    """(bit names per leaf, substitution pairs) for a group of leaves, built once per group
    (a relation's state has thousands of bits: every lemma's formula reuses the view)."""
    key = (gname, tuple(v.get_id() for v in leaves))
    if key not in _VIEWS:
        if len(_VIEWS) > 64:
            _VIEWS.clear()
        names, subs = [], []
        for i, v in enumerate(leaves):
            bits, term = _bit_view(v, f"{gname}!{i}")
            names.append(bits)
            subs.append((v, term))
        _VIEWS[key] = (names, subs)
    return _VIEWS[key]


class Blasted:
    """A z3 formula over named groups of leaves, as CNF: `lits` (all literals, flat),
    `starts` (each clause's first index), `nvars`, and per group and leaf the CNF variable
    of each bit (0: the formula does not mention that bit)."""

    def __init__(self, formula, groups: list[tuple[str, list]]):
        subs = []
        bit_names = {}
        for gname, leaves in groups:
            per, pairs = _group_view(gname, leaves)
            bit_names[gname] = per
            subs.extend(pairs)
        goal = z3.Goal()
        goal.add(z3.substitute(formula, *subs) if subs else formula)
        out = z3.Then("simplify", "bit-blast", "simplify", "tseitin-cnf")(goal)
        if len(out) != 1:  # pragma: no cover - tseitin-cnf gives one goal
            raise RuntimeError("bit-blasting gave more than one goal")
        names: dict[str, int] = {}
        lits: list[int] = []
        starts: list[int] = []
        self.nvars = 0
        for line in out[0].dimacs(include_names=True).splitlines():
            if line.startswith("p"):
                self.nvars = int(line.split()[2])
            elif line.startswith("c"):
                _, idx, name = line.split(maxsplit=2)
                names[name] = int(idx)
            elif line:
                starts.append(len(lits))
                lits.extend(int(x) for x in line.split()[:-1])
        self.lits = np.array(lits, dtype=np.int64)
        self.starts = starts
        self.groups = {g: [[names.get(n, 0) for n in per] for per in leaves] for g, leaves in bit_names.items()}

    def clauses(self, binding: dict, fresh) -> list[list[int]]:
        """The clauses with each group's bits renamed to `binding[group]` (per leaf, per
        bit) and every other variable to a fresh one (`fresh(n)` gives the first of n)."""
        rename = np.zeros(self.nvars + 1, dtype=np.int64)
        for gname, per in self.groups.items():
            for vars_, targets in zip(per, binding[gname]):
                for v, t in zip(vars_, targets):
                    if v:
                        rename[v] = t
        free = np.flatnonzero(rename == 0)[1:]
        if len(free):
            rename[free] = fresh(len(free)) + np.arange(len(free))
        mapped = np.where(self.lits > 0, rename[np.abs(self.lits)], -rename[np.abs(self.lits)]).tolist()
        ends = self.starts[1:] + [len(mapped)]
        return [mapped[a:b] for a, b in zip(self.starts, ends)]


def relation_cnf(rel) -> Blasted:
    """The relation T(x, act, y) as CNF, bit-blasted once per relation."""
    cnf = getattr(rel, "cnf", None)
    if cnf is None:
        cnf = rel.cnf = Blasted(rel.formula, [("x", rel.x_leaves), ("y", rel.y_leaves), ("a", [rel.act])])
    return cnf


class SatUnrolling:
    """S_0 (a concrete state) .. S_k on CaDiCaL: each state a block of CNF variables, one
    per bit of every leaf; the same interface as bmc.Unrolling for the search loop."""

    def __init__(self, enc: Encoding, rel, first: S, symmetry: bool, broker_actions: list[list[int]]):
        from pysat.solvers import Solver

        self.enc, self.rel = enc, rel
        self.solver = Solver(name=SOLVER)
        self.top = 0
        self.T = relation_cnf(rel)
        self.widths = [len(b) for b in self.T.groups["x"]]
        self.act_width = rel.act.size()
        self.blocks = [self._block()]
        self.acts: list[list[int]] = []
        self._bads: dict = {}
        for vars_, (_, value) in zip(self.blocks[0], enc.leaves(first)):
            self._fix(vars_, value)
        # symmetry breaking, as bmc.Unrolling: brokers 2..R-1 are first named (as an action
        # argument) only after the broker before them
        self.symmetry = symmetry and enc.R > 2
        if self.symmetry:
            used_in = [z3.Bool(f"used_in{m}") for m in range(enc.R)]
            used_out = [z3.Bool(f"used_out{m}") for m in range(enc.R)]
            names = [z3.Or(*[rel.act == i for i in broker_actions[m]]) if broker_actions[m] else z3.BoolVal(False)
                     for m in range(enc.R)]
            parts = [z3.Implies(names[m], z3.Or(used_in[m - 1], names[m - 1])) for m in range(2, enc.R)]
            parts += [used_out[m] == z3.Or(used_in[m], names[m]) for m in range(enc.R)]
            self.SYM = Blasted(z3.And(*parts), [("a", [rel.act]), ("i", used_in), ("o", used_out)])
            self.used = [[self._fresh(1)] for _ in range(enc.R)]
            for (v,) in self.used:
                self.solver.add_clause([-v])
        self.states = self.blocks  # (len(states) - 1 is the depth, as bmc.Unrolling)

    def _fresh(self, n: int) -> int:
        first = self.top + 1
        self.top += n
        return first

    def _block(self) -> list[list[int]]:
        return [[self._fresh(1) for _ in range(w)] for w in self.widths]

    def _fix(self, vars_: list[int], value) -> None:
        if isinstance(value, bool):
            self.solver.add_clause([vars_[0] if value else -vars_[0]])
            return
        for j, v in enumerate(vars_):  # two's complement: Python's >> keeps the sign
            self.solver.add_clause([v if (value >> j) & 1 else -v])

    def extend(self) -> None:
        nxt = self._block()
        act = [self._fresh(1) for _ in range(self.act_width)]
        self.solver.append_formula(self.T.clauses({"x": self.blocks[-1], "y": nxt, "a": [act]}, self._fresh))
        if self.symmetry:
            out = [[self._fresh(1)] for _ in range(self.enc.R)]
            self.solver.append_formula(self.SYM.clauses({"a": [act], "i": self.used, "o": out}, self._fresh))
            self.used = out
        self.blocks.append(nxt)
        self.acts.append(act)

    def flag(self, key, formula, groups: list[tuple[str, list]], binding: dict) -> int:
        """A fresh literal f with f == formula (over the leaves in `groups`, bound to this
        unrolling's variables by `binding`): passed as an assumption, it asks for the
        formula; fixed false (forbid), it asserts the formula's negation."""
        if key not in self._bads:
            f = z3.Bool("flag")
            self._bads[key] = Blasted(f == formula, [*groups, ("f", [f])])
        lit = self._fresh(1)
        self.solver.append_formula(self._bads[key].clauses({**binding, "f": [[lit]]}, self._fresh))
        return lit

    def solve(self, assumptions: list[int], timeout: float | None) -> bool | None:
        """True (sat), False (unsat) or None (the timeout passed). Runs in the calling
        thread: PySAT's CaDiCaL turns Ctrl-C into KeyboardInterrupt there. With a timeout
        the search runs in slices of conflicts (CaDiCaL keeps what it learned between
        them) and stops at the first slice boundary past the deadline."""
        solver = self.solver
        deadline = None if not timeout else time.perf_counter() + timeout
        while True:
            if deadline is not None:
                solver.conf_budget(_SLICE_CONFLICTS)
            r = _solve(solver, assumptions)
            if r is not None or deadline is None:
                return r
            if time.perf_counter() >= deadline:
                return None

    def forbid(self, lit: int) -> None:
        self.solver.add_clause([-lit])

    # -- decoding the solver's model
    def model(self) -> set[int]:
        return {v for v in self.solver.get_model() if v > 0}

    def values(self, true: set[int], k: int) -> dict:
        """The k-th state's fields (as bmc._evaluate gives them) from a model."""
        flat = []
        for vars_, leaf in zip(self.blocks[k], self.rel.x_leaves):
            if z3.is_bool(leaf):
                flat.append(vars_[0] in true)
            else:
                n = sum(1 << j for j, v in enumerate(vars_) if v in true)
                flat.append(n - (1 << len(vars_)) if n >> (len(vars_) - 1) else n)
        return Layout.from_leaves(self.rel.x, flat)  # rel.x: an S of z3 constants, the same nesting

    def act(self, true: set[int], k: int) -> int:
        return sum(1 << j for j, v in enumerate(self.acts[k]) if v in true)

    def close(self) -> None:
        self.solver.delete()


class Houdini:
    """The largest subset H of `candidates` (name -> f(enc, state), a property written over
    ops.py, so it evaluates on the concrete initial state and builds z3 terms on rel.y) that
    holds in the initial state and is inductive: every state satisfying all of H steps
    only to states satisfying all of H. Houdini (Flanagan and Leino, 2001): drop the
    candidates that fail initially, then repeatedly ask the solver for one step from a
    state satisfying every survivor to one breaking some survivor, and drop those it breaks
    there, until no such step exists.

    Why it is sound to assume H: by induction on the length of a path from the initial
    state, every reachable state satisfies every member of H. So asserting H at every step
    of an unrolling removes only unreachable states: every path, and every path length, that
    existed is still there, and BMC's shortest counterexamples stay shortest. What the
    lemmas buy is pruning: the solver no longer explores unreachable corners of the
    state vector (a follower offset beyond a log's end, two leaders of one epoch, ...)
    when it refutes a depth.

    `run(budget)` works for at most about `budget` seconds of solving and can be called
    again to go on where it stopped (the solver keeps what it learned): BMC gives it time
    in proportion to its own, so on a wide configuration where the lemmas are expensive
    to find they never cost more than the search they are meant to speed up."""

    def __init__(self, enc: Encoding, rel, init: S, candidates: dict):
        self.enc, self.rel, self.candidates = enc, rel, candidates
        self.alive = [name for name, f in candidates.items() if f(enc, init) is True]
        self.solver = None
        self.result: list[str] | None = None if self.alive else []
        self.seconds = 0.0
        self._steps = None

    def _work(self):
        """The whole computation as a generator that yields after every piece of work
        (the relation's clauses, each candidate's, each slice of conflicts), so run() can
        stop at its budget and resume; it ends with self.result set."""
        from pysat.solvers import Solver

        enc, rel = self.enc, self.rel
        top = [0]

        def fresh(n: int) -> int:
            first = top[0] + 1
            top[0] += n
            return first
        T = relation_cnf(rel)
        yield
        x = [[fresh(1) for _ in bits] for bits in T.groups["x"]]
        y = [[fresh(1) for _ in bits] for bits in T.groups["x"]]
        self.solver = solver = Solver(name=SOLVER)
        solver.append_formula(T.clauses({"x": x, "y": y, "a": [[fresh(1) for _ in T.groups["a"][0]]]}, fresh))
        yield
        broken_x, broken_y = {}, {}  # name -> literal equivalent to "this candidate is false" in x / y
        for name in self.alive:
            flag = z3.Bool("flag")
            cnf = Blasted(flag == z3.Not(_z3_bool(self.candidates[name](enc, rel.y))),
                          [("y", rel.y_leaves), ("f", [flag])])
            for block, out in ((x, broken_x), (y, broken_y)):
                out[name] = fresh(1)
                solver.append_formula(cnf.clauses({"y": block, "f": [[out[name]]]}, fresh))
            yield
        while self.alive:
            some = fresh(1)
            solver.add_clause([-some, *[broken_y[n] for n in self.alive]])
            assumptions = [some, *[-broken_x[n] for n in self.alive]]
            while True:
                solver.conf_budget(_SLICE_CONFLICTS)
                sat = _solve(solver, assumptions)
                if sat is not None:
                    break
                yield
            true = {v for v in solver.get_model() if v > 0} if sat else set()
            solver.add_clause([-some])
            if not sat:
                break
            self.alive = [n for n in self.alive if broken_y[n] not in true]
            yield
        self.result = self.alive

    def run(self, budget: float) -> list[str] | None:
        """H, or None when `budget` seconds passed first (call again to go on)."""
        if self.result is not None:
            return self.result
        if self._steps is None:
            self._steps = self._work()
        t0 = time.perf_counter()
        try:
            for _ in self._steps:
                if time.perf_counter() - t0 >= budget:
                    return None
        finally:
            self.seconds += time.perf_counter() - t0
        self.close()
        return self.result

    def close(self) -> None:
        if self._steps is not None:
            self._steps.close()
            self._steps = None
        if self.solver is not None:
            self.solver.delete()
            self.solver = None


def houdini(enc: Encoding, rel, init: S, candidates: dict) -> list[str]:
    """Houdini run to the end (no budget)."""
    return Houdini(enc, rel, init, candidates).run(float("inf"))


def _solve(solver, assumptions: list[int]) -> bool | None:
    """solve_limited in the calling thread: PySAT's CaDiCaL catches Ctrl-C there and
    reports it as its C module's `error`, which becomes KeyboardInterrupt again."""
    import pysolvers

    try:
        return solver.solve_limited(assumptions=assumptions)
    except pysolvers.error as e:
        if "interrupt" in str(e):
            raise KeyboardInterrupt from None
        raise


def _z3_bool(v):
    return z3.BoolVal(v) if isinstance(v, bool) else v
