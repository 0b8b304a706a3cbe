"""The compiled model: the same Python source, compiled by Cython when ackcheck is installed.

The explorer spends its time in the model's actions and the symmetry reduction, plain
Python over tuples. setup.py compiles those modules with Cython (`COMPILED` below), from
the same .py files, unchanged: there is no second implementation of the semantics, only a
faster build of the one in model/. Where no C compiler or no Cython is at hand, the
install goes on without it and ackcheck runs the .py files as they are. setup.py patches
Cython's item-access helpers in the generated C so that a tuple subclass with tuple's own
item access (every NamedTuple) is read the way an exact tuple is (`_patch_tuple_items`:
the same slot, so the same results; tests/test_compiled.py checks both kinds of subclass),
and compares two ints of one digit inline (`_patch_int_compare`: long_richcompare's own
reading of their values; tests/test_compiled.py checks edge values).

A compiled module is used only while it is the build of the source beside it: setup.py
records each source's SHA-256 next to its extension (`<module>.source-sha256`), and the
finder installed here (first thing `import ackcheck` does) loads the extension only when
that record matches the .py file as it is now. An edited model/protocol.py therefore runs
as Python until the next `pip install -e .`, never as a stale build.
`ACKCHECK_PURE_PYTHON=1` runs the .py files even when a matching build is there (to compare
the two, or to debug); `ackcheck --version` says which is in use.

`ACCELERATORS` are the exception: C from the start, because what they compute is
CPython's, not the model's (checker/engines/_fingerprint.c: `hash(state)` with the hashes
of shared subtrees remembered; model/_tuples.c: `tuple.__new__` for NamedTuples). They are
built, recorded and refused when stale the same way; with no usable build their import
fails and the caller uses the builtin.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

# module -> its source, relative to the repository root (setup.py compiles exactly these)
COMPILED = {
    "ackcheck.model.state": "model/state.py",
    "ackcheck.model.protocol": "model/protocol.py",
    "ackcheck.model.truncation": "model/truncation.py",
    "ackcheck.model.symmetry": "model/symmetry.py",
    "ackcheck.model.independence": "model/independence.py",
    "ackcheck.traces.observation": "traces/observation.py",
    "ackcheck.invariants.catalogue": "invariants/catalogue.py",
    "ackcheck.checker.engines.seen": "checker/engines/seen.py",
    "ackcheck.checker.engines.explore": "checker/engines/explore.py",
}
# module -> its C source: hand-written extensions with no Python twin (an accelerator whose
# callers fall back to a builtin when it cannot be imported); built, recorded and checked
# for staleness like the modules above, but a missing or stale build is an ImportError
ACCELERATORS = {
    "ackcheck.checker.engines._fingerprint": "checker/engines/_fingerprint.c",
    "ackcheck.model._tuples": "model/_tuples.c",
}
SIDECAR = ".source-sha256"  # appended to the module's file stem: protocol.source-sha256
PURE_ENV = "ACKCHECK_PURE_PYTHON"

# module -> "compiled" or why not (filled as modules are found)
STATUS: dict[str, str] = {}
_warned: list[str] = []


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


STALE = "changed since it was compiled"  # (choose()'s reason for a build of other source text)


def _extension(directory: Path, stem: str) -> Path | None:
    return next((directory / f"{stem}{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES
                 if (directory / f"{stem}{suffix}").is_file()), None)


def choose(directory: Path, stem: str, suffix: str = ".py") -> tuple[Path | None, str]:
    """(the extension to load or None for the source, and why) for module `stem` in `directory`."""
    source = directory / f"{stem}{suffix}"
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None, f"{PURE_ENV} is set"
    ext = _extension(directory, stem)
    if ext is None:
        return None, "not compiled (no C compiler or Cython at install time)"
    record = directory / f"{stem}{SIDECAR}"
    if not source.is_file():  # installed without its source: the build is all there is
        return ext, "compiled"
    try:
        recorded = record.read_text().strip()
    except OSError:
        return None, f"no {record.name} beside the build"
    if recorded != source_digest(source):
        return None, f"{source.name} {STALE} (pip install -e . rebuilds it)"
    return ext, "compiled"


class _Finder:
    """A meta-path finder for the modules in COMPILED only: the extension when it is the
    build of the current source, else the source itself."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname in ACCELERATORS and path:
            return cls._accelerator(fullname, path)
        if fullname not in COMPILED or not path:
            return None
        stem = fullname.rpartition(".")[2]
        for entry in path:
            directory = Path(entry)
            source = directory / f"{stem}.py"
            if not source.is_file() and _extension(directory, stem) is None:
                continue
            ext, why = choose(directory, stem)
            STATUS[fullname] = why
            if STALE in why and not _warned:
                # (once per process: an edited module is slower, not wrong - say why)
                _warned.append(fullname)
                print(f"ackcheck: {why}; running it as Python", file=sys.stderr)
            if ext is not None:
                return _extension_spec(fullname, ext)
            loader = importlib.machinery.SourceFileLoader(fullname, str(source))
            return importlib.util.spec_from_file_location(fullname, source, loader=loader)
        return None

    @staticmethod
    def _accelerator(fullname, path):
        """An ACCELERATORS module: its build when that is the build of the .c beside it
        (or there is no .c: an installed package), else ModuleNotFoundError with the reason."""
        stem = fullname.rpartition(".")[2]
        why = "not found"
        for entry in path:
            directory = Path(entry)
            if _extension(directory, stem) is None:
                continue
            ext, why = choose(directory, stem, ".c")
            if ext is not None:
                STATUS[fullname] = why
                return _extension_spec(fullname, ext)
        STATUS[fullname] = why
        raise ModuleNotFoundError(f"{fullname}: {why}", name=fullname)


def _extension_spec(fullname: str, ext: Path):
    loader = importlib.machinery.ExtensionFileLoader(fullname, str(ext))
    return importlib.util.spec_from_file_location(fullname, ext, loader=loader)


def install() -> None:
    if not any(f is _Finder for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder)


def _import_all() -> None:
    for name in COMPILED:
        __import__(name)


def in_use() -> bool:
    """Whether every module in COMPILED runs compiled (imports them to find out)."""
    _import_all()
    return all(STATUS.get(name) == "compiled" for name in COMPILED)


def status() -> str:
    """One line: whether the model runs compiled, or why not."""
    if in_use():
        return "compiled (Cython)"
    whys = {STATUS.get(name, "imported before ackcheck's finder") for name in COMPILED}
    return "pure Python: " + "; ".join(sorted(whys - {"compiled"}))
