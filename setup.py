"""Build of the optional compiled model (ackcheck/_compiled.py says what and why).

Everything else about the package is in pyproject.toml. The modules listed in
ackcheck/_compiled.py are compiled by Cython from their unchanged .py source; a failed
compile (no C compiler, no Cython) leaves them as Python and the install goes on.
"""

import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
COMPILED = runpy.run_path(str(ROOT / "ackcheck" / "_compiled.py"))
MODULES, SIDECAR, PURE_ENV = COMPILED["COMPILED"], COMPILED["SIDECAR"], COMPILED["PURE_ENV"]
ACCELERATORS = COMPILED["ACCELERATORS"]  # hand-written C, built beside the Cython modules
_digest = COMPILED["source_digest"]  # (the digest the import finder compares)
BUILD_DIR = "build/cython"  # the generated C, kept between installs (a rebuild regenerates only what changed)


def extensions():
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return []
    plain_c = [Extension(name, [source]) for name, source in ACCELERATORS.items()]
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("ackcheck: Cython not available; the model stays pure Python", file=sys.stderr)
        return plain_c
    exts = [Extension(name, [source]) for name, source in MODULES.items()]
    # cythonize reuses a generated .c that is newer than its .py; a .c generated from other
    # source text (a file restored with an old mtime) would then be built and recorded as
    # this source's build. So each .c keeps the digest of the source it came from, and goes
    # when that is not the source now.
    for source in MODULES.values():
        generated, record = _generated(source)
        if generated.exists() and (not record.exists() or record.read_text().strip() != _digest(ROOT / source)):
            generated.unlink()
    try:
        out = cythonize(exts, build_dir=BUILD_DIR, quiet=True, nthreads=2,
                        compiler_directives={"language_level": 3, "binding": True})
    except Exception as e:  # noqa: BLE001 - an optional build: say why and go on
        print(f"ackcheck: Cython could not translate the model ({e}); it stays pure Python", file=sys.stderr)
        return plain_c
    for source in MODULES.values():
        generated, record = _generated(source)
        _patch_tuple_items(generated)
        _patch_int_compare(generated)
        record.write_text(_digest(ROOT / source) + "\n")
    return out + plain_c


# Cython reads the item of an *exact* tuple directly (PyTuple_GET_ITEM), but the item of a
# tuple subclass - every State, Replica, Batch and message of the model is a NamedTuple -
# through the type's mp_subscript slot, with an index object made for the call. The model
# indexes such tuples tens of millions of times a second, so the generated C is patched
# at two places: a tuple subclass whose mp_subscript *is* tuple's own (every NamedTuple;
# not a subclass that defines __getitem__) is read the exact tuple's way. The result is the
# same by construction (the same slot function, the same index arithmetic, anything else -
# a negative or out-of-range index, a bool, a big int - takes Cython's own path); only the
# call goes. A .c file whose text does not match (another Cython) is left as it is.
_PATCHED = "/* ackcheck: items of tuple subclasses read directly (setup.py) */"
_SAME_SUBSCRIPT = ("(PyTuple_Check({o}) && Py_TYPE({o})->tp_as_mapping != NULL && "
                   "Py_TYPE({o})->tp_as_mapping->mp_subscript == PyTuple_Type.tp_as_mapping->mp_subscript)")
_INT_ITEM_HEAD = ("static CYTHON_INLINE PyObject *__Pyx_GetItemInt_Fast(PyObject *o, Py_ssize_t i, int is_list,\n"
                  "                                                     CYTHON_NCP_UNUSED int wraparound,\n")
_INT_ITEM_TUPLE = "    else if (PyTuple_CheckExact(o)) {\n"
_ITEM_HEAD = "static PyObject *__Pyx_PyObject_GetItem(PyObject *obj, PyObject *key) {\n"
_ITEM_FAST = (
    "    if (PyLong_CheckExact(key) && " + _SAME_SUBSCRIPT.format(o="obj") + ") {\n"
    "        Py_ssize_t n = PyLong_AsSsize_t(key);\n"
    "        if (n == -1 && PyErr_Occurred()) {\n"
    "            PyErr_Clear();\n"
    "        } else if (n >= 0 && n < PyTuple_GET_SIZE(obj)) {\n"
    "            PyObject *r = PyTuple_GET_ITEM(obj, n);\n"
    "            Py_INCREF(r);\n"
    "            return r;\n"
    "        }\n"
    "    }\n")


def _patch_tuple_items(generated: Path) -> None:
    """Patch a generated .c file (above); once, and only where its text is as expected."""
    try:
        text = generated.read_text()
    except OSError:
        return
    if _PATCHED in text:
        return
    at = text.find(_INT_ITEM_HEAD)
    tup = text.find(_INT_ITEM_TUPLE, at) if at >= 0 else -1
    constant = at >= 0 and 0 <= tup - at < 1200  # (the tuple branch of that helper)
    if constant:
        fast = "    else if (PyTuple_CheckExact(o) || " + _SAME_SUBSCRIPT.format(o="o") + ") {\n"
        text = text[:tup] + fast + text[tup + len(_INT_ITEM_TUPLE):]
    item = text.find(_ITEM_HEAD)
    if item >= 0:
        body = item + len(_ITEM_HEAD)
        text = text[:body] + _ITEM_FAST + text[body:]
    if constant or item >= 0:
        generated.write_text(_marked(text, _PATCHED))


def _marked(text: str, marker: str) -> str:
    """The generated C with a patch's marker after Cython's own first line (which Cython
    reads to know its output)."""
    first, _, rest = text.partition("\n")
    return first + "\n" + marker + "\n" + rest


# The model compares ints everywhere (`a < b`, `x != y` on offsets, epochs, broker ids), and
# Cython compiles each such comparison of two objects to PyObject_RichCompare: a call through
# the type's tp_richcompare slot to long_richcompare. The second patch puts a fast path in
# front of it, in every generated module: two exact ints of at most one 30-bit digit - every
# number of the model - are compared inline, their values read as long_richcompare reads
# them (CPython 3.11's layout: the sign in the size, the digits after it; on other versions
# the patch adds nothing). The same answer, Py_True or Py_False; anything else - bools, big
# ints, floats, tuples - calls PyObject_RichCompare itself.
_COMPARE_PATCHED = "/* ackcheck: comparisons of small ints inline (setup.py) */"
_INCLUDE_PYTHON = '#include "Python.h"\n'
_COMPARE_FAST = r"""#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
static inline PyObject *__ackcheck_RichCompare(PyObject *a, PyObject *b, int op) {
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {
        Py_ssize_t sa = Py_SIZE(a), sb = Py_SIZE(b);
        if (sa >= -1 && sa <= 1 && sb >= -1 && sb <= 1) {
            long x = (long)sa * (long)((PyLongObject *)a)->ob_digit[0];
            long y = (long)sb * (long)((PyLongObject *)b)->ob_digit[0];
            int r;
            switch (op) {
            case Py_LT: r = x < y; break;
            case Py_LE: r = x <= y; break;
            case Py_EQ: r = x == y; break;
            case Py_NE: r = x != y; break;
            case Py_GT: r = x > y; break;
            default: r = x >= y; break;
            }
            PyObject *res = r ? Py_True : Py_False;
            Py_INCREF(res);
            return res;
        }
    }
    return (PyObject_RichCompare)(a, b, op);
}
#define PyObject_RichCompare(a, b, op) __ackcheck_RichCompare(a, b, op)
#endif
"""


def _patch_int_compare(generated: Path) -> None:
    """Put the fast path for small ints in front of PyObject_RichCompare (above); once,
    right after the first #include of Python.h."""
    try:
        text = generated.read_text()
    except OSError:
        return
    at = text.find(_INCLUDE_PYTHON)
    if _COMPARE_PATCHED in text or at < 0:
        return
    end = at + len(_INCLUDE_PYTHON)
    text = text[:end] + _COMPARE_FAST + text[end:]
    generated.write_text(_marked(text, _COMPARE_PATCHED))


def _generated(source: str) -> tuple[Path, Path]:
    """The C that cythonize generates from `source`, and the record of the source digest it came from."""
    generated = ROOT / BUILD_DIR / Path(source).with_suffix(".c")
    return generated, generated.with_name(generated.name + SIDECAR)


class OptionalBuildExt(build_ext):
    """build_ext that never fails the install, and records each build's source digest."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = 2

    def run(self):
        try:
            super().run()
        except Exception as e:  # noqa: BLE001
            print(f"ackcheck: the compiled model was not built ({e}); it stays pure Python", file=sys.stderr)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:  # noqa: BLE001
            print(f"ackcheck: {ext.name} not compiled ({e}); it stays pure Python", file=sys.stderr)
            return
        self._record(ext, Path(self.get_ext_fullpath(ext.name)))

    @staticmethod
    def _record(ext, target: Path) -> None:
        """Write the digest of the source this extension was built from, beside it."""
        source = ROOT / {**MODULES, **ACCELERATORS}[ext.name]
        stem = ext.name.rpartition(".")[2]
        (target.parent / f"{stem}{SIDECAR}").write_text(_digest(source) + "\n")

    def copy_extensions_to_source(self):  # editable installs: the builds and their digests into the tree
        super().copy_extensions_to_source()
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            inplace_file, regular_file = self._get_inplace_equivalent(build_py, ext)
            if os.path.exists(regular_file):
                self._record(ext, Path(inplace_file))

    def get_outputs(self):  # the digests travel with the extensions into wheels
        outputs = super().get_outputs()
        records = (Path(o).parent / f"{Path(o).name.split('.')[0]}{SIDECAR}" for o in outputs)
        return outputs + [str(r) for r in records if r.is_file()]


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
