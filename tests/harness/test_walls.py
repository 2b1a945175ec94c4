"""The walls of the library (docs/architecture.md), read from the source with ``ast``.

Each folder may import only the folders below it on the data path; no module imports itself
back through another (no cycles; in ``harness/sim`` not even for type hints); only the
simulation's facade imports its private core; checkers and the report never reach the live
database; no module is over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"
REFERENCE_PACKAGES = {"apps", "config", "scenarios"}  # reference/apps, reference/config, scenarios/
LEAVES = {
    "harness.brokers",
    "harness.distributions",
    "harness.durations",
    "harness.names",
    "harness.options",
    "harness.errors",
    "harness.patching",
    "harness.spellings",
}  # import nothing of the harness themselves

# folder → the harness modules it may import (prefixes), besides itself and the leaves
ALLOWED = {
    "fakes": (),
    "record": ("harness.fakes.ledger", "harness.sim.cluster"),
    "checkers": ("harness.record", "harness.sim.cluster"),
    "scenario": ("harness.fakes", "harness.checkers", "harness.sim.cluster"),
    "infra": (),
    "sim": ("harness.record", "harness.infra", "harness.fakes"),
    "report": ("harness.record", "harness.checkers", "harness.fakes.faults"),
    "run": (
        "harness.record", "harness.checkers", "harness.scenario", "harness.sim",
        "harness.infra", "harness.fakes", "harness.compat", "harness.report",
    ),
    "search": ("harness.run", "harness.scenario", "harness.sim", "harness.record",
               "harness.checkers", "harness.fakes", "harness.infra"),
}  # fmt: skip


def _imports(path: Path, typing: bool = False) -> set[str]:
    """Every module a file imports, at runtime (``if TYPE_CHECKING:`` blocks count only with
    ``typing``)."""
    tree = ast.parse(path.read_text())
    typing_only = set()
    for node in ast.walk(tree):
        if typing:
            break
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            typing_only |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(HARNESS.rglob("*.py"))}


def _harness_imports(path: Path, typing: bool = False) -> set[str]:
    """The harness modules a file imports (``from harness.x import y`` counts x, and x.y when
    y is a module)."""
    out = set()
    for name in _imports(path, typing):
        if name == "harness" or name.startswith("harness."):
            out.add(name if name in MODULES else name.rsplit(".", 1)[0])
    return {m for m in out if m in MODULES}


def test_each_folder_imports_only_what_lies_below_it():
    offenders = {}
    for name, path in MODULES.items():
        parts = name.split(".")
        if len(parts) < 3 or parts[1] not in ALLOWED:
            continue
        folder = parts[1]
        allowed = (f"harness.{folder}", *ALLOWED[folder], *LEAVES)
        bad = sorted(m for m in _harness_imports(path) if not m.startswith(allowed))
        if bad:
            offenders[name] = bad
    assert offenders == {}


def test_leaves_are_leaves():
    """A leaf imports nothing of the harness but other leaves (``harness.options`` reads
    durations and raises the harness's errors); the cycle test keeps them a tree."""
    for leaf in LEAVES:
        assert _harness_imports(MODULES[leaf]) <= LEAVES, leaf


def test_no_import_cycles():
    graph = {name: _harness_imports(path) - {name} for name, path in MODULES.items()}
    # a package's __init__ re-exporting its own modules is not a cycle through it
    graph = {
        name: {m for m in deps if not (m.startswith(name + ".") and name + "." in m)}
        for name, deps in graph.items()
    }
    cycle = _cycle(graph)
    assert not cycle, " → ".join(cycle)


def test_the_simulation_has_no_import_cycle_not_even_for_type_hints():
    """``harness/sim``: no module imports another that imports it back, ``TYPE_CHECKING``
    imports included (the processes never reach back into the Simulation)."""
    sim = {name: path for name, path in MODULES.items() if name.startswith("harness.sim.")}
    graph = {
        name: (_harness_imports(path, typing=True) & set(sim)) - {name}
        for name, path in sim.items()
    }
    cycle = _cycle(graph)
    assert not cycle, " → ".join(cycle)


def test_only_the_facade_imports_the_private_core():
    core = "harness.sim._core"
    assert core in MODULES  # the rule guards something
    offenders = {
        name: sorted(m for m in _harness_imports(path, typing=True) if m.startswith(core))
        for name, path in MODULES.items()
        if not (name == core or name.startswith(core + ".")) and name != "harness.sim.simulation"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    facade = _harness_imports(MODULES["harness.sim.simulation"], typing=True)
    assert any(m.startswith(core) for m in facade)
    back = {
        n
        for n, p in MODULES.items()
        if n.startswith(core) and "harness.sim.simulation" in _harness_imports(p, typing=True)
    }
    assert back == set()  # the core never names its facade


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (module → modules it imports), or ``[]``."""
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle.extend([*trail, node, dep])
                return True
            if state.get(dep) is None and visit(dep, [*trail, node]):
                return True
        state[node] = 2
        return False

    for node in sorted(graph):
        if state.get(node) is None and visit(node, []):
            break
    return cycle


def test_checkers_and_the_report_never_touch_the_live_database():
    for name, path in MODULES.items():
        if name.startswith(("harness.checkers", "harness.report")):
            touched = {m for m in _imports(path) if m.startswith(("django.db", "django.apps"))}
            assert not touched, (name, touched)


def test_the_library_never_imports_the_reference_platform():
    offenders = {
        name: sorted(m for m in _imports(path) if m.split(".")[0] in REFERENCE_PACKAGES)
        for name, path in MODULES.items()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_library_ships_no_test_modules():
    """Nothing in the wheel looks like tests to pytest (a sweep's items come from a plugin)."""
    patterns = ("test_*.py", "*_test.py", "conftest.py")  # pytest's python_files, conftest
    found = sorted(name for name, p in MODULES.items() if any(p.match(pat) for pat in patterns))
    for name, path in MODULES.items():  # nor a test function or class in another module
        for node in ast.parse(path.read_text()).body:
            kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            if isinstance(node, kinds) and node.name.lower().startswith("test"):
                found.append(f"{name}.{node.name}")
    assert found == []


def test_no_module_is_over_500_lines():
    long = {name: n for name, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}


def test_no_function_is_over_60_lines():
    long = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (n := node.end_lineno - node.lineno + 1) > 60:
                long[f"{name}.{node.name}"] = n
    assert long == {}
