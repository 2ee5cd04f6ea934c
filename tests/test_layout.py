"""The house keeps its shape: no import cycle, no step reaching into another, short classes.

What the README's Layout promises, checked on the source: a room imports only rooms
below it, the router fits on one screen, and no class needs more than a screen or two.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "saasus_mw"
STEPS = {"saasus_mw.journey.arrival", "saasus_mw.journey.picker", "saasus_mw.journey.link"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The saasus_mw modules ``path`` imports, at run time or for type checking alike."""
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            if target.startswith("saasus_mw"):
                found.add(target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("saasus_mw")}
    return found - {name}


GRAPH = {_module(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join((*path[path.index(module) :], module)))
        if module in done:
            return
        for target in GRAPH.get(module, ()):
            visit(target, (*path, module))
        done.add(module)

    for module in GRAPH:
        visit(module, ())


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_step_reaches_into_no_other_step(step: str) -> None:
    assert not GRAPH[step] & (STEPS - {step})


def test_nothing_in_the_middleware_imports_the_stand_in() -> None:
    users = {m for m, targets in GRAPH.items() if any(t.startswith("saasus_mw.testing") for t in targets)}
    assert {m for m in users if not m.startswith(("saasus_mw.testing", "saasus_mw.cli"))} == set()


def _classes() -> list[tuple[str, int]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text("utf-8")).body:
            if isinstance(node, ast.ClassDef):
                found.append((f"{_module(path)}.{node.name}", (node.end_lineno or node.lineno) - node.lineno + 1))
    return found


def test_no_class_over_a_couple_of_screens() -> None:
    assert [(name, lines) for name, lines in _classes() if lines > 220] == []


def test_the_router_fits_on_one_screen() -> None:
    router = PACKAGE / "flow.py"
    assert len(router.read_text("utf-8").splitlines()) <= 200
    assert dict(_classes())["saasus_mw.flow.Flow"] <= 150
