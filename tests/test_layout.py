"""The import rules of the layout (docs/design.md), read from the source with `ast`:

    traces   <- model, invariants, broker, checker      (traces imports none of them)
    model    <- checker
    invariants <- checker
    broker   <- checker                                  (broker never imports model)
    inside checker/: engines <- audit <- cli; lag <- cli; nothing imports cli
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package (as imported) -> the ackcheck packages it may import
ALLOWED = {
    "traces": {"traces"},
    "model": {"traces", "model"},
    "invariants": {"traces", "invariants"},
    "broker": {"traces", "broker"},
    "checker.engines": {"traces", "model", "invariants", "broker", "checker.engines"},
    "checker.lag": {"traces", "checker.lag"},
    "checker.audit": {"traces", "model", "invariants", "broker", "checker.engines", "checker.audit",
                      "checker.viewer"},
    "checker.viewer": {"traces", "invariants", "checker.viewer"},
    "checker.cli": {"traces", "model", "invariants", "broker", "checker.engines", "checker.audit", "checker.lag",
                    "checker.viewer", "checker.cli"},
}
FOLDER = {"traces": "traces", "model": "model", "invariants": "invariants", "broker": "broker",
          "checker.engines": "checker/engines", "checker.lag": "checker/lag", "checker.audit": "checker/audit",
          "checker.viewer": "checker/viewer", "checker.cli": "checker/cli"}


def package_of(module: str) -> str | None:
    """'ackcheck.checker.engines.explore' -> 'checker.engines'; 'ackcheck.model.state' -> 'model'."""
    parts = module.split(".")
    if parts[0] != "ackcheck" or len(parts) < 2:
        return None
    if parts[1] == "checker" and len(parts) >= 3:
        return f"checker.{parts[2]}"
    return parts[1]


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            if node.module in ("ackcheck.checker", "ackcheck"):
                out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / FOLDER[package]).rglob("*.py")):
        for line, module in imports_of(path):
            target = package_of(module)
            if target is None or target in ("__version__",) or module == "ackcheck":
                continue
            if target in {"checker", "__init__"} or (ROOT / "ackcheck" / f"{target}.py").is_file():
                continue  # (the namespace root's own modules, ackcheck/*.py, import none of ours)
            if target not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_import_rules(package):
    assert violations(package) == []


def test_the_rule_check_can_fail(tmp_path, monkeypatch):
    """The checker of the rules sees a forbidden import (so the test above can fail)."""
    fake = tmp_path / "broker"
    fake.mkdir()
    (fake / "x.py").write_text("from ackcheck.model.protocol import Model\n")
    monkeypatch.setitem(FOLDER, "broker", str(fake))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("broker") == [f"{Path('broker') / 'x.py'}:1 imports ackcheck.model.protocol"]


def test_only_the_command_line_imports_the_command_line():
    for path in sorted(ROOT.glob("**/*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".git", ".ci-venv", "tests", "bench", "build") or rel.parts[:2] == ("checker", "cli") \
                or rel.parts[0] == "ackcheck" and rel.name == "__main__.py" or "site-packages" in rel.parts:
            continue
        for line, module in imports_of(path):
            assert not module.startswith("ackcheck.checker.cli"), f"{rel}:{line} imports {module}"


def test_no_giant_modules():
    """Small modules named for what they hold: none of checker/ over 600 lines (the
    explorer's hot loop is kept in one piece on purpose)."""
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "checker").rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600 and p.name != "explore.py"}
    assert big == {}


def test_public_api():
    import ackcheck

    for name in ackcheck.__all__:
        assert getattr(ackcheck, name) is not None
    assert {"check", "machine_for", "build_config", "load_trace", "INVARIANTS"} <= set(ackcheck.__all__)

