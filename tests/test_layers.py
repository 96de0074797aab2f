"""The pipeline flows one way: no module imports a higher stage, and no modules inside a stage
import each other in a circle. The stage order is :mod:`pssc_sim._layers`; the imports are read
with ``ast`` from every module, imports inside functions included."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pssc_sim._layers import ACCESSORS, STAGES, allowed, stage_of

PACKAGE = Path(__file__).resolve().parent.parent / "pssc_sim"

#: Imports on their way out (test_every_allowance_is_still_needed fails once one is gone):
LEAVING: frozenset[tuple[str, str]] = frozenset()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(node: ast.AST, module: str) -> Iterator[str]:
    """The pssc_sim modules one import statement names."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            full = f"{base}.{alias.name}"
            yield full if full in MODULES else base


def typing_only(tree: ast.AST) -> set[ast.AST]:
    """The statements under ``if TYPE_CHECKING:``: imports for annotations, never run."""
    return {
        inner
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }


def edges(*, annotations: bool) -> set[tuple[str, str]]:
    """(importer, imported) for every import of a pssc_sim module, anywhere in a module (those
    for annotations only with ``annotations``)."""
    found = set()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = set() if annotations else typing_only(tree)
        for node in ast.walk(tree):
            if node in skip:
                continue
            for target in imported(node, module):
                if target.split(".")[0] == "pssc_sim" and target != module:
                    found.add((module, target))
    return found


#: Every import, for the stage order: an annotation names a stage as much as a call does.
EDGES = edges(annotations=True)
#: Imports that run, for cycles: a type named back for an annotation is no circle at run time.
RUNTIME_EDGES = edges(annotations=False)


def test_every_module_has_a_stage() -> None:
    unplaced = [m for m in MODULES if stage_of(m) is None]
    assert not unplaced, f"add these to pssc_sim/_layers.py: {unplaced}"


def test_the_stage_order_is_a_dag_naming_only_stages() -> None:
    for stage, below in STAGES.items():
        assert set(below) <= set(STAGES), stage
        assert all(stage not in allowed(b) for b in below), f"{stage} is in a cycle of stages"


def test_no_module_imports_a_higher_stage() -> None:
    upward = sorted(
        f"{a} ({stage_of(a)}) imports {b} ({stage_of(b)})"
        for a, b in EDGES - LEAVING - ACCESSORS
        if stage_of(b) not in allowed(stage_of(a) or "")
    )
    assert not upward, "\n".join(upward)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_circle_and_only_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycles_of_modules_inside_a_stage() -> None:
    graph: dict[str, set[str]] = {}
    for a, b in RUNTIME_EDGES - LEAVING - ACCESSORS:
        if stage_of(a) == stage_of(b):
            graph.setdefault(a, set()).add(b)
    found = cycles(graph)
    assert not found, "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("edge", sorted(LEAVING | ACCESSORS))
def test_every_allowance_is_still_needed(edge: tuple[str, str]) -> None:
    assert edge in EDGES, f"{edge} is gone: remove it from the allowances"


def test_importing_the_package_leaves_heavy_dependencies_unloaded() -> None:
    heavy = ("matplotlib", "pysd", "pint", "networkx", "scipy.integrate", "numba")
    code = f"import sys, pssc_sim; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_running_a_model_on_a_fixed_step_loads_no_solver_plotting_or_table_library() -> None:
    heavy = ("matplotlib", "pysd", "pint", "networkx", "scipy", "pandas", "numba")
    code = (
        "import sys\nfrom pssc_sim.cli import main\nmain(['run', 'models/teacup'])\n"
        f"print('loaded:' + ','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert run.stdout.strip().splitlines()[-1] == "loaded:", run.stdout[-500:]
