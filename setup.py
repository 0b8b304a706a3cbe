"""Build of the optional compiled model (ackcheck/_compiled.py says what and why).

Everything else about the package is in pyproject.toml. The modules listed in
ackcheck/_compiled.py are compiled by Cython from their unchanged .py source; a failed
compile (no C compiler, no Cython) leaves them as Python and the install goes on.
"""

import hashlib
import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
COMPILED = runpy.run_path(str(ROOT / "ackcheck" / "_compiled.py"))
MODULES, SIDECAR, PURE_ENV = COMPILED["COMPILED"], COMPILED["SIDECAR"], COMPILED["PURE_ENV"]


def extensions():
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("ackcheck: Cython not available; the model stays pure Python", file=sys.stderr)
        return []
    exts = [Extension(name, [source]) for name, source in MODULES.items()]
    try:
        return cythonize(exts, build_dir="build/cython", quiet=True, nthreads=2,
                         compiler_directives={"language_level": 3, "binding": True})
    except Exception as e:  # noqa: BLE001 - an optional build: say why and go on
        print(f"ackcheck: Cython could not translate the model ({e}); it stays pure Python", file=sys.stderr)
        return []


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
        source = ROOT / MODULES[ext.name]
        stem = ext.name.rpartition(".")[2]
        (target.parent / f"{stem}{SIDECAR}").write_text(hashlib.sha256(source.read_bytes()).hexdigest() + "\n")

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
