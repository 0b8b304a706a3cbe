"""The compiled model (ackcheck/_compiled.py, setup.py): the Cython build of model/ and the
explorer is used only while it is the build of the source beside it, and it explores
exactly what the .py files explore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ackcheck import _compiled
from ackcheck.checker.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _module(tmp_path: Path, source: str = "X = 1\n") -> Path:
    (tmp_path / "mod.py").write_text(source)
    return tmp_path


def _fake_build(directory: Path, digest: str) -> None:
    import importlib.machinery

    (directory / f"mod{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    (directory / f"mod{_compiled.SIDECAR}").write_text(digest + "\n")


def test_no_build_means_the_source(tmp_path, monkeypatch):
    monkeypatch.delenv(_compiled.PURE_ENV, raising=False)
    ext, why = _compiled.choose(_module(tmp_path), "mod")
    assert ext is None and "not compiled" in why


def test_a_build_of_this_source_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv(_compiled.PURE_ENV, raising=False)
    d = _module(tmp_path)
    _fake_build(d, _compiled.source_digest(d / "mod.py"))
    ext, why = _compiled.choose(d, "mod")
    assert ext is not None and ext.name.startswith("mod.") and why == "compiled"


def test_a_stale_build_is_never_used(tmp_path, monkeypatch):
    monkeypatch.delenv(_compiled.PURE_ENV, raising=False)
    d = _module(tmp_path)
    _fake_build(d, _compiled.source_digest(d / "mod.py"))
    (d / "mod.py").write_text("X = 2\n")  # edited after the build
    ext, why = _compiled.choose(d, "mod")
    assert ext is None and "changed since it was compiled" in why
    (d / f"mod{_compiled.SIDECAR}").unlink()  # no record at all
    ext, why = _compiled.choose(d, "mod")
    assert ext is None and "source-sha256" in why


def test_pure_python_on_request(tmp_path, monkeypatch):
    d = _module(tmp_path)
    _fake_build(d, _compiled.source_digest(d / "mod.py"))
    monkeypatch.setenv(_compiled.PURE_ENV, "1")
    assert _compiled.choose(d, "mod")[0] is None


def test_version_says_which_build_runs(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert "model: compiled (Cython)" in out or "model: pure Python:" in out


def test_the_ci_build_is_compiled():
    """CI sets ACKCHECK_REQUIRE_COMPILED: there the suite must run the compiled build, so a
    broken compile cannot pass unnoticed as pure Python."""
    if not os.environ.get("ACKCHECK_REQUIRE_COMPILED"):
        pytest.skip("ACKCHECK_REQUIRE_COMPILED not set (CI sets it)")
    assert _compiled.in_use(), _compiled.status()


CONFIGS = [
    "--acks 1",
    "--acks all --min-insync-replicas 2",
    "--acks all --min-insync-replicas 2 --max-crashes 1 --max-power-losses 1",
    "--kafka-version 0.10 --acks all --replication-factor 2 --max-crashes 2",
    "--kafka-version 2.7 --acks all --replication-factor 2 --max-crashes 2 --invariant no-duplicates",
]


def _run(flags: str, pure: bool) -> dict:
    env = dict(os.environ)
    env[_compiled.PURE_ENV] = "1" if pure else "0"
    p = subprocess.run([sys.executable, "-m", "ackcheck", "check", *flags.split(), "--json", "--workers", "1"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


def _era_flags() -> list:
    """Every era scenario, its rule on and off (ACKCHECK_SLOW=1: minutes, pure Python included)."""
    from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS

    slow = bool(os.environ.get("ACKCHECK_SLOW"))
    return [pytest.param(f"{sc.flags()} --rule {sc.rule}={'on' if on else 'off'}", id=f"{sc.rule}-{'on' if on else 'off'}",
                         marks=() if slow else pytest.mark.skip("ACKCHECK_SLOW=1 runs it"))
            for sc in ERA_SCENARIOS for on in (True, False)]


@pytest.mark.parametrize("flags", CONFIGS + _era_flags())
def test_compiled_and_pure_explore_the_same(flags):
    if not _compiled.in_use():
        pytest.skip(f"the model is not compiled here ({_compiled.status()})")
    compiled, pure = _run(flags, pure=False), _run(flags, pure=True)
    for key in ("verdict", "violation", "trace"):
        assert compiled[key] == pure[key], key
    for key in ("distinct_states", "transitions", "max_depth", "complete"):
        assert compiled["stats"][key] == pure["stats"][key], key


def test_the_finder_loads_the_source_of_a_stale_build_and_says_so(tmp_path, monkeypatch, capsys):
    """End to end through the import system: a package whose module has a build recorded for
    other source text is imported from its .py, with one line on stderr."""
    monkeypatch.delenv(_compiled.PURE_ENV, raising=False)
    pkg = tmp_path / "ackfakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    _module(pkg, "WHERE = 'source'\n")
    _fake_build(pkg, "0" * 64)  # (an empty file: loading it as an extension would fail)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(_compiled.COMPILED, "ackfakepkg.mod", "ackfakepkg/mod.py")
    monkeypatch.setattr(_compiled, "_warned", [])
    _compiled.install()
    try:
        import ackfakepkg.mod as mod

        assert mod.WHERE == "source" and mod.__file__.endswith("mod.py")
        assert "mod.py changed since it was compiled" in capsys.readouterr().err
        assert _compiled.STATUS["ackfakepkg.mod"].startswith("mod.py changed")
    finally:
        for name in ("ackfakepkg.mod", "ackfakepkg"):
            sys.modules.pop(name, None)


class _Plain(tuple):
    """A tuple subclass with tuple's own item access, like every NamedTuple of the model."""

    __slots__ = ()


class _Shifted(tuple):
    """A tuple subclass with an item access of its own: item i is the stored item i + 1."""

    __slots__ = ()

    def __getitem__(self, i):
        return tuple.__getitem__(self, i + 1) if type(i) is int else tuple.__getitem__(self, i)


def test_the_compiled_build_reads_items_of_tuple_subclasses_as_python_does():
    """setup.py patches the generated C so that an item of a tuple subclass whose item
    access is tuple's own is read directly: a subclass with its own __getitem__ still goes
    through it, out-of-range and negative indices still behave as in Python, and the
    patch is in every compiled module's C (where the build is there)."""
    from ackcheck.model.protocol import _with_replica
    from ackcheck.model.symmetry import _ids

    # a constant index (s[0] in _with_replica) and an index object (pos[m] in _ids)
    assert _with_replica(_Plain(((1, 2, 3), 7)), 1, 9) == ((1, 9, 3), 7)
    assert _with_replica(_Shifted(((0,), (1, 2, 3), 7)), 1, 9) == ((1, 9, 3), (1, 2, 3), 7)
    assert _ids((2,), _Plain((10, 20, 30))) == (30,)
    assert _ids((1,), _Shifted((10, 20, 30))) == (30,)
    assert _ids((0, 1), _Shifted((10, 20, 30))) == (20, 30)
    assert _ids((-1,), _Plain((10, 20, 30))) == (30,)
    with pytest.raises(IndexError):
        _ids((3,), _Plain((10, 20, 30)))
    with pytest.raises(IndexError):
        _ids((2,), _Shifted((10, 20, 30)))
    if _compiled.in_use():
        generated = [ROOT / "build" / "cython" / Path(src).with_suffix(".c") for src in _compiled.COMPILED.values()]
        present = [g for g in generated if g.exists()]
        if present:  # (a wheel installed elsewhere has no generated C beside the source)
            helpers = 0
            for g in present:  # (every module with Cython's item helpers in it: all but state.py)
                text = g.read_text()
                if "__Pyx_PyObject_GetItem(PyObject *obj, PyObject *key) {" in text:
                    helpers += 1
                    assert "/* ackcheck: items of tuple subclasses" in text, g
                    assert text.count("mp_subscript == PyTuple_Type.tp_as_mapping->mp_subscript") == 2, g
            assert helpers >= len(present) - 2


EDGE = [0, 1, -1, 2, -2, 2 ** 30 - 1, 2 ** 30, -(2 ** 30 - 1), -(2 ** 30), 2 ** 62, -(2 ** 63), True, False,
        1.0, -0.5, 2 ** 30 + 0.5, float("inf")]


def test_the_compiled_build_compares_ints_as_python_does():
    """setup.py puts an inline path for two ints of one 30-bit digit in front of every
    PyObject_RichCompare of the generated C: through a compiled function that compares with
    != and > (symmetry._order: -1, 0 or 1 as two replicas' first fields compare), every
    pair of edge values - zero, signs, the one-digit limits, big ints, bools, floats -
    compares as in Python, and the patch is in every compiled module's C."""
    from ackcheck.model.symmetry import _order

    rest = (0, 0, 0, 0, 0, -1, (), ())  # (fields 1-8: equal, and neither names a leader)
    for x in EDGE:
        for y in EDGE:
            want = (1 if x > y else -1) if x != y else 0
            got = _order((x,) + rest, 0, (y,) + rest, 1, -1, (), (), (False, False), (False, False), -1)
            assert got == want, (x, y)
    if _compiled.in_use():
        generated = [ROOT / "build" / "cython" / Path(src).with_suffix(".c") for src in _compiled.COMPILED.values()]
        present = [g for g in generated if g.exists()]
        for g in present:  # (a wheel installed elsewhere has no generated C beside the source)
            text = g.read_text()
            assert "/* ackcheck: comparisons of small ints inline (setup.py) */" in text, g
            assert text.count("#define PyObject_RichCompare(a, b, op) __ackcheck_RichCompare(a, b, op)") == 1, g


def test_the_tuple_builder_builds_what_tuple_new_builds():
    """model/_tuples.c `build(cls, items)` stands in for tuple.__new__ in the model: the same
    type, items, equality, hash and collector tracking for every NamedTuple of the state
    and plain tuples, from lists and tuples; anything else (a tuple subclass with an
    instance dict, an iterator, a class that is no tuple) goes to tuple.__new__ itself,
    errors included; no reference is lost or leaked."""
    import gc
    from typing import NamedTuple

    try:
        from ackcheck.model._tuples import build
    except ImportError:
        assert not _compiled.in_use(), _compiled.STATUS.get("ackcheck.model._tuples")  # (built with the model)
        pytest.skip("model/_tuples.c is not built here")
    from ackcheck.model import protocol, symmetry

    assert protocol._new is build and symmetry._new is build
    from ackcheck.model.state import LeaderAndIsr, ProducerBatch, State
    from ackcheck.traces.observation import Replica

    class Point(NamedTuple):
        x: int
        y: tuple

    class WithDict(tuple):
        pass

    item = (10 ** 30, "x")
    cases = [(State, list(range(len(State._fields)))), (Replica, (True, (), 1, 1, 0, 0, 0, (0, -1, -1), (0,))),
             (LeaderAndIsr, [1, 2, 0, (0, 1)]), (ProducerBatch, (3, 1, 0, True, 0, 0, False)),
             (Point, [item, (item,)]), (tuple, [item, 2]), (tuple, ()), (tuple, []), (Point, ()),
             (WithDict, [1, 2]), (Point, iter([1, 2])), (tuple, "ab")]
    for cls, items in cases:
        want = tuple.__new__(cls, items if not hasattr(items, "__next__") else iter([1, 2]))
        got = build(cls, items)
        assert type(got) is type(want) and got == want and hash(got) == hash(want), (cls, items)
        assert gc.is_tracked(got) == gc.is_tracked(want), (cls, items)
    before = sys.getrefcount(item)
    made = [build(Point, [item, 2]) for _ in range(100)]
    assert sys.getrefcount(item) == before + 100
    del made
    assert sys.getrefcount(item) == before
    for cls, items in [(list, [1]), (int, [1]), (Point, 5)]:
        with pytest.raises(TypeError):
            tuple.__new__(cls, items)
        with pytest.raises(TypeError):
            build(cls, items)
    assert build(tuple) == tuple.__new__(tuple) == ()
    with pytest.raises(TypeError):
        tuple.__new__()
    with pytest.raises(TypeError):
        build()


def test_states_pickle_through_the_c_reducer_and_load_anywhere(tmp_path):
    """model/state.py registers model/_tuples.c `reduce` with copyreg for every NamedTuple of
    a state: reachable states round-trip through pickle equal and of the same types, shared
    subtrees stay shared, and the bytes name no ackcheck module but the classes - a pure
    Python process (no extension at all) loads them, and pickles written without the
    reducer (NamedTuple's own way) load here."""
    import copyreg
    import pickle

    from ackcheck.model import state as state_mod
    from ackcheck.model.protocol import Model
    from ackcheck.traces.settings import build_config

    if state_mod._reduce is None:
        assert not _compiled.in_use(), _compiled.STATUS.get("ackcheck.model._tuples")
        pytest.skip("model/_tuples.c is not built here")
    for cls in state_mod.PICKLED_BY_REDUCE:
        assert copyreg.dispatch_table[cls] is state_mod._reduce
    model = Model(build_config([], bounds={"max_records": 2, "max_crashes": 1, "max_elections": 1}))
    states, frontier = [model.init()], [model.init()]
    while len(states) < 3000:
        frontier = [t for s in frontier for _, t in model.successors(s)]
        states += frontier
    states = states[:3000]

    def types(x):
        return (type(x).__name__, tuple(types(y) for y in x)) if isinstance(x, tuple) else type(x).__name__

    blob = pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(blob)
    assert back == states and [types(s) for s in back] == [types(s) for s in states]
    assert back[1].batches is back[2].batches or states[1].batches is not states[2].batches
    assert b"_tuples" not in blob and b"__new__" in blob
    (tmp_path / "states.pickle").write_bytes(blob)
    code = ("import pickle, sys; from ackcheck import _compiled; "
            "states = pickle.load(open(sys.argv[1], 'rb')); "
            "assert not _compiled.in_use(); print(len(states), type(states[0]).__name__, states[5].replicas[0].leader)")
    env = dict(os.environ, **{_compiled.PURE_ENV: "1"})
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "states.pickle")], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["3000", "State", str(states[5].replicas[0].leader)]
    saved = {cls: copyreg.dispatch_table.pop(cls) for cls in state_mod.PICKLED_BY_REDUCE}
    try:
        old = pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        copyreg.dispatch_table.update(saved)
    assert b"__new__" not in old and pickle.loads(old) == states
