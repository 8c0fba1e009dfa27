"""The package imports one way, from the bottom up (docs/DESIGN.md, "Layers"), and has no import circle.

Every ``import`` of a ``glossfree`` module is read from the source, at module level, inside
functions and under ``if TYPE_CHECKING:`` alike: a lower layer never imports a higher one. Modules
of one layer may import each other, but never in a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import glossfree

SRC = Path(glossfree.__file__).resolve().parent

# Bottom to top. A module belongs to the layer of the longest prefix listed for it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("glossfree", "glossfree.errors", "glossfree.io", "glossfree.config")),
    (
        "data",
        (
            "glossfree.data", "glossfree.text", "glossfree.evaluation", "glossfree.alignment",
            "glossfree.features.config", "glossfree.features.cache", "glossfree.features.dataset",
            "glossfree.features.preprocess", "glossfree.segmentation",
        ),
    ),  # fmt: skip
    ("models", ("glossfree.models", "glossfree.features.extractors")),
    ("objectives", ("glossfree.objectives",)),
    ("training parts", ("glossfree.training", "glossfree.checkpoint")),
    ("tasks", ("glossfree.training.tasks",)),
    ("engine", ("glossfree.training.engine",)),
    ("inference", ("glossfree.inference", "glossfree.features.extract", "glossfree.baselines")),
    ("entry points", ("glossfree.cli", "glossfree.demo")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SRC.rglob("*.py")}


def layer_of(module: str) -> int:
    best, level = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), index
    assert level is not None, f"{module} is in no layer: add it to LAYERS (and to docs/DESIGN.md)"
    return level


def imported_modules(module: str) -> list[tuple[str, int]]:
    """``(imported glossfree module, line)`` for every import statement of ``module``."""
    path = MODULES[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from package import submodule`` imports the submodule
            targets = [f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("glossfree") and target != module:
                found.append((target, node.lineno))
    return found


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_a_higher_layer():
    upward = []
    for module in sorted(MODULES):
        own = layer_of(module)
        for target, line in imported_modules(module):
            if layer_of(target) > own:
                upward.append(
                    f"{module}:{line} ({LAYERS[own][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not upward, "imports that climb a layer:\n" + "\n".join(upward)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    graph = {module: {target for target, _ in imported_modules(module)} for module in MODULES}
    assert strongly_connected(graph) == []


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert layer_of("glossfree.training.tasks.islr") > layer_of("glossfree.training.recipe")
    assert layer_of("glossfree.features.extract") > layer_of("glossfree.features.cache")
    # imports inside functions and relative imports are read too
    assert "glossfree.models.slt" in {t for t, _ in imported_modules("glossfree.training.tasks.translation")}
    assert "glossfree.data.pose_io" in {t for t, _ in imported_modules("glossfree.training.tasks.base")}  # in a function


def test_no_module_imports_a_private_name_of_another():
    private = []
    for module, path in sorted(MODULES.items()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("glossfree"):
                names = [alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
                if names:
                    private.append(f"{module}:{node.lineno} imports {', '.join(names)} from {node.module}")
    assert not private, "\n".join(private)
