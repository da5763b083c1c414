"""The import graph of a source tree, read with `ast` (nothing is imported), and its faults.

An edge is one `import`/`from ... import` statement of a module naming another module of the
tree, at module level or inside a function alike. `from pkg import name` points at `pkg.name`
when that is a module of the tree, else at `pkg`; relative imports are resolved. The parent
packages Python imports implicitly on the way to a module are not edges. Imports under
`if TYPE_CHECKING:` are edges too, marked `typing_only`: they run nothing, but two modules whose
types need each other are still a loop, and still say which way a dependency points.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Edge:
    """`source` imports `target` at `line`."""

    source: str
    target: str
    line: int
    typing_only: bool

    def __str__(self) -> str:
        kind = " (TYPE_CHECKING)" if self.typing_only else ""
        return f"{self.source} -> {self.target} (line {self.line}){kind}"


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of `packages` under `root` by dotted name (a package by its `__init__`)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement, with whether it sits under `if TYPE_CHECKING:`."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, typing_only))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(tree, False)
    return found


def graph(root: Path, packages: Iterable[str]) -> dict[str, list[Edge]]:
    """Each module's edges to other modules of the tree."""
    known = modules(root, packages)

    def owner(name: str) -> str | None:  # the module of the tree a dotted name lives in
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, list[Edge]] = {}
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        found: dict[tuple[str, bool], Edge] = {}
        for node, typing_only in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [owner(alias.name) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")[: None if is_package else -1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else owner(base)
                    for alias in node.names
                ]
            for target in targets:
                if target is None or target == module:
                    continue
                edge = Edge(module, target, node.lineno, typing_only)
                key = (target, typing_only)
                if key not in found or found[key].line > edge.line:
                    found[key] = edge
        edges[module] = sorted(found.values(), key=lambda e: (e.target, e.typing_only))
    return edges


def cycles(edges: dict[str, list[Edge]]) -> list[list[str]]:
    """The import loops (TYPE_CHECKING imports included), each a path back to its start."""
    successors = {m: sorted({e.target for e in es}) for m, es in edges.items()}
    loops: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:  # depth-first; the tree is small and shallow
        state[module] = 1
        path.append(module)
        for target in successors.get(module, []):
            if state.get(target) == 1:
                loops.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(successors):
        if module not in state:
            visit(module)
    return loops


def upward(edges: dict[str, list[Edge]], floor_of: Callable[[str], int]) -> list[Edge]:
    """Edges (typing-only ones too) from a module to one on a higher floor."""
    return [
        edge
        for module_edges in edges.values()
        for edge in module_edges
        if floor_of(edge.target) > floor_of(edge.source)
    ]
