"""The house rules that keep ppgen easy to live in, checked on its source with ``ast``.

- **Layers**: every import, at module level or inside a function, goes downwards or sideways in
  ``LAYERS`` (``CONTRIBUTING.md`` says why each layer sits where it does). A lower layer never
  imports a higher one, so (for example) no estimator knows about training and no evaluation is
  imported by training.
- **No cycles** between modules.
- **Short functions**: no function body (its docstring excluded) longer than ``MAX_BODY_LINES``.
- **One Registry class**, in ``ppgen/registry.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ppgen"

#: Bottom first. A module belongs to the first entry that is its name or a package above it.
LAYERS = [
    (
        "ppgen.registry",
        "ppgen.validation",
        "ppgen.catalogue",
        "ppgen.plots",
        "ppgen.progress",
        "ppgen",
    ),
    ("ppgen.data",),
    ("ppgen.models",),
    ("ppgen.program",),
    ("ppgen.inference",),
    ("ppgen.training",),
    ("ppgen.evaluation", "ppgen.analysis"),
    ("ppgen.runs",),
    ("ppgen.cli", "ppgen.demo", "ppgen.__main__"),
]
#: Sideways imports inside a layer that are not allowed either way: evaluation and analysis are
#: independent of each other.
INDEPENDENT = {("ppgen.evaluation", "ppgen.analysis"), ("ppgen.analysis", "ppgen.evaluation")}
MAX_BODY_LINES = 80


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every ppgen module ``name`` imports, wherever in the file the import stands."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ppgen"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ppgen":
                continue
            for alias in node.names:  # `from . import trace` imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in known else target)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def group(name: str) -> tuple[int, str]:
    """``(layer index, the LAYERS entry)`` of a module."""
    best = None
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if (name == entry or name.startswith(entry + ".")) and (
                best is None or len(entry) > len(best[1])
            ):
                best = (index, entry)
    assert best is not None, f"{name} is in no layer of LAYERS"
    return best


def test_every_import_goes_down_the_layers():
    wrong = []
    for name, targets in graph().items():
        layer, entry = group(name)
        for target in targets:
            target_layer, target_entry = group(target)
            if target_layer > layer or (entry, target_entry) in INDEPENDENT:
                wrong.append(f"{name} ({entry}) imports {target} ({target_entry})")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def body_lines(function: ast.FunctionDef) -> int:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body:
        return 0
    return body[-1].end_lineno - body[0].lineno + 1


def test_no_function_longer_than_the_limit():
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (lines := body_lines(node)) > MAX_BODY_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, f"functions over {MAX_BODY_LINES} lines:\n" + "\n".join(long)


def test_one_registry_class():
    defined = [
        f"{name}.{node.name}"
        for name, path in modules().items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and "Registry" in node.name
    ]
    assert defined == ["ppgen.registry.Registry"]


@pytest.mark.parametrize("name", ["ppgen.inference.trace", "ppgen.training.trainer"])
def test_the_graph_sees_imports_inside_functions(name):
    """The rule covers late imports too: the trainer's and the estimators' are in the graph."""
    edges = graph()
    assert name in edges and edges[name]
