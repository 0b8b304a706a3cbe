"""Operators that work on plain Python values and on z3 terms alike.

The symbolic transition relation (encoding.py) is written once with these: given a state
of Python ints and bools it computes the concrete successor (fast, used by the conformance
test over thousands of states); given a state of z3 constants it builds the z3 relation
that the bounded model checker and k-induction solve. A z3 term never reaches a Python
`if` (z3 refuses to cast a symbolic Boolean), so every branch on the state goes through
`ite` / `merge`.
"""

from __future__ import annotations

import z3


def is_concrete(x) -> bool:
    return isinstance(x, (bool, int))


# Integers are 8-bit two's-complement bit-vectors in z3 (offsets, epochs, counters are
# small; message timestamps get 16 bits): the solver bit-blasts them to SAT, which is much
# faster on this relation than linear integer arithmetic (docs/prove.md has the figures).
INT_BITS = [8]  # set per encoding (Encoding.bits): the fewer, the faster
WIDE_BITS = 16


def set_int_bits(n: int) -> None:
    INT_BITS[0] = n


def K(v: int):
    """A concrete integer as a z3 term of the default width."""
    return z3.BitVecVal(v, INT_BITS[0])


def ite(c, a, b):
    if isinstance(c, bool):
        return a if c else b
    if isinstance(a, z3.ExprRef) and isinstance(b, z3.ExprRef) and a.eq(b):
        return a
    if is_concrete(a) and is_concrete(b):
        if a == b and type(a) is type(b):
            return a
        if not isinstance(a, bool):
            return z3.If(c, K(a), K(b))
    return z3.If(c, a, b)


def AND(*xs):
    rest = []
    for x in xs:
        if isinstance(x, bool):
            if not x:
                return False
            continue
        rest.append(x)
    if not rest:
        return True
    return rest[0] if len(rest) == 1 else z3.And(*rest)


def OR(*xs):
    rest = []
    for x in xs:
        if isinstance(x, bool):
            if x:
                return True
            continue
        rest.append(x)
    if not rest:
        return False
    return rest[0] if len(rest) == 1 else z3.Or(*rest)


def NOT(x):
    return (not x) if isinstance(x, bool) else z3.Not(x)


def IMPLIES(a, b):
    return OR(NOT(a), b)


def EQ(a, b):
    r = a == b
    return bool(r) if isinstance(r, bool) else r


def NE(a, b):
    return NOT(EQ(a, b))


def MIN(a, b):
    return ite(LE(a, b), a, b)


def MAX(a, b):
    return ite(LE(b, a), a, b)


def LE(a, b):
    r = a <= b
    return bool(r) if isinstance(r, bool) else r


def LT(a, b):
    r = a < b
    return bool(r) if isinstance(r, bool) else r


def COUNT(bools):
    """How many of the Booleans hold (an Int term, or an int)."""
    total = 0
    for x in bools:
        total = total + ite(x, 1, 0)
    return total


def SELECT(values, idx, default=-1):
    """values[idx] for a possibly symbolic index (default when out of range)."""
    if is_concrete(idx):
        return values[idx] if 0 <= idx < len(values) else default
    out = default
    for i in range(len(values) - 1, -1, -1):
        out = ite(idx == i, values[i], out)
    return out
