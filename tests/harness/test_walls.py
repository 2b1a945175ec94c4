"""The import walls of the library (docs/architecture.md), read from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"
REFERENCE_PACKAGES = {"apps", "config", "scenarios"}  # the reference platform's top level


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


LEAVES = {"harness.durations"}  # modules that import nothing of the harness themselves


def test_the_fakes_import_nothing_else_of_the_harness():
    offenders = {
        str(path.relative_to(HARNESS)): sorted(
            m
            for m in _imports(path)
            if m.startswith("harness") and not m.startswith("harness.fakes") and m not in LEAVES
        )
        for path in sorted((HARNESS / "fakes").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_leaves_are_leaves():
    for leaf in LEAVES:
        path = HARNESS.parent / (leaf.replace(".", "/") + ".py")
        assert not [m for m in _imports(path) if m.startswith("harness")], leaf


def test_the_library_never_imports_the_reference_platform():
    offenders = {
        str(path.relative_to(HARNESS)): sorted(
            m for m in _imports(path) if m.split(".")[0] in REFERENCE_PACKAGES
        )
        for path in sorted(HARNESS.rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
