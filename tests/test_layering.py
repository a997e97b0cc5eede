"""Modules import downwards only: the layer order is the table of the architecture chapter
(book/architecture.md, "Layers"), read here; every import of visent/, in functions and under
``TYPE_CHECKING`` too, is checked against it, and the modules' imports form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "visent"
CHAPTER = ROOT / "book" / "architecture.md"
LABEL = "(import-layers)="


def layer_table() -> list[list[str]]:
    """The chapter's layers, lowest first: one line of unit names each (a unit is a top-level module
    or subpackage of visent)."""
    text = CHAPTER.read_text()
    assert LABEL in text, f"{CHAPTER} lost its {LABEL} section with the layer table"
    block = text.split(LABEL, 1)[1].split("```")[1]  # the first fenced block after the label
    return [line.split() for line in block.splitlines()[1:] if line.strip()]  # [0]: the fence's language


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """``visent.data.layouts.vso`` -> ``data``; the package itself (its ``visent.load``) -> ``visent``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "visent"


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """The visent modules that ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "visent"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "visent":
            for alias in node.names:  # `from visent import cv` imports the module visent.cv
                child = f"{node.module}.{alias.name}"
                found.add(child if is_module(child) else node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) - {module_name(path)} for path in sorted(PACKAGE.rglob("*.py"))}


def test_the_chapters_layer_table_names_every_unit_once():
    table = layer_table()
    listed = [unit for layer in table for unit in layer]
    assert len(listed) == len(set(listed)), f"{CHAPTER}: a unit is in two layers: {listed}"
    units = {unit_of(module) for module in import_graph()}
    missing = sorted(units - set(listed))
    assert not missing, f"{missing} have no layer: add them to the table under {LABEL} in {CHAPTER}"


def test_modules_import_downwards_only():
    rank = {unit: i for i, layer in enumerate(layer_table()) for unit in layer}
    upward = [
        f"{module} (layer {rank[unit_of(module)]}) imports {target} (layer {rank[unit_of(target)]})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if rank.get(unit_of(target), -1) > rank.get(unit_of(module), -1)
    ]
    assert not upward, "upward imports, against the layers of book/architecture.md:\n" + "\n".join(upward)


def test_the_modules_imports_form_no_cycle():
    graph = import_graph()
    state: dict[str, str] = {}  # "open" while on the DFS stack, "done" after
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_check_sees_an_upward_import_and_a_cycle(tmp_path):
    """The checks can fail: an import inside a function, and one under TYPE_CHECKING, are found."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from visent.pipeline import run\n"
        "def f():\n    from visent import cv\n"
    )
    assert imports_of(module) == {"visent.pipeline", "visent.cv"}
