"""The service's imports form no loop and never point up (walked with `tests/import_graph.py`).

The floors, lowest first. A module may import modules on its own floor or below, never above;
a module's floor is that of the longest name below matching it (the name itself or a prefix
ending at a dot; `inngest_app` names the package's `__init__` only), and every module must have
one.

  0 foundations: settings, logs, event and input models, SDK glue (`serve`, `sdk_memos`,
    `bodylimit`), alert formatting, the store's transport protocol and migration reader, and
    `pages` (the static-page server and the dashboard's files). They import no other floor.
  1 edges: the store's connections, the guarded outbound client, request auth, the Inngest
    client.
  2 repositories (`repos/`), one per aggregate, and the one domain model they store as is
    (`skills.library`: the skill definition).
  3 domain: each family's logic and API clients (`queries/`, `github/`, `stripe/`,
    `workspaces/`, `skills/`, `monitoring/`), which may read repositories' row types.
  4 the services container (settings, store, HTTP clients, and parts it holds without knowing
    them: `Services.part`).
  5 family run-time parts built on the container (`skills.runtime`: library, provider,
    storage).
  6 the function families (`functions/`).
  7 HTTP routes (`routes/`; a route may reuse a family's event names) and the OpenAPI document
    generated from them.
  8 the app factory and the entry points (`app`, `main`, `cli/`, `__main__`).

Apart from the floors, the offline executor (`inngest_app.testing`) is a tool: it imports itself,
settings and the static-page server it shares with the usage dashboard (`pages`: headers, file
routes, the shared stylesheet; the viewer's own files live in `testing/static`) and nothing else
of the service; nothing of the service imports it.

Loops are looked for among all imports: module-level, function-level and under
`if TYPE_CHECKING:` alike (a type-only import runs nothing, but two modules whose types need
each other are still a loop: the executor's pages know it through `testing/surface.py`'s
protocol instead).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import Edge, cycles, graph, upward

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("inngest_app", "functions")
TOOL = "inngest_app.testing"
TOOL_MAY_IMPORT = frozenset({"inngest_app.settings", "inngest_app.pages"})
FLOORS: dict[str, int] = {
    "inngest_app": 0,  # the package itself: its version
    "inngest_app.settings": 0,
    "inngest_app.logs": 0,
    "inngest_app.events": 0,
    "inngest_app.inputs": 0,
    "inngest_app.alerts": 0,
    "inngest_app.sdk_memos": 0,
    "inngest_app.sdk_json": 0,
    "inngest_app.heap": 0,
    "inngest_app.bodylimit": 0,
    "inngest_app.serve": 0,
    "inngest_app.pages": 0,
    "inngest_app.store.transport": 0,
    "inngest_app.store.migrate": 0,
    "inngest_app.store": 1,
    "inngest_app.outbound": 1,
    "inngest_app.auth": 1,
    "inngest_app.client": 1,
    "inngest_app.repos": 2,
    "inngest_app.skills.library": 2,
    "inngest_app.queries": 3,
    "inngest_app.github": 3,
    "inngest_app.stripe": 3,
    "inngest_app.workspaces": 3,
    "inngest_app.skills": 3,
    "inngest_app.monitoring": 3,
    "inngest_app.services": 4,
    "inngest_app.skills.runtime": 5,
    "functions": 6,
    "inngest_app.routes": 7,
    "inngest_app.openapi": 7,
    "inngest_app.app": 8,
    "inngest_app.main": 8,
    "inngest_app.cli": 8,
    "inngest_app.__main__": 8,
}


def floor_in(floors: dict[str, int], module: str, exact: frozenset[str] = frozenset()) -> int:
    """The floor of the longest name in `floors` that is `module` or a package above it (a name
    in `exact` matches only itself)."""
    if module in floors:
        return floors[module]
    name = module.rpartition(".")[0]
    while name:
        if name in floors and name not in exact:
            return floors[name]
        name = name.rpartition(".")[0]
    raise KeyError(f"{module} has no floor: add it to FLOORS")


def floor_of(module: str) -> int:
    """The floor of a module of the service."""
    return floor_in(FLOORS, module, exact=frozenset({"inngest_app"}))


def in_tool(module: str) -> bool:
    """Whether `module` is part of the offline executor."""
    return module == TOOL or module.startswith(f"{TOOL}.")


def listing(edges: list[Edge]) -> str:
    """One edge a line, with its floors."""
    return "\n".join(f"  {e} [floor {floor_of(e.source)} -> {floor_of(e.target)}]" for e in edges)


@pytest.fixture(scope="module")
def service() -> dict[str, list[Edge]]:
    """The graph of the service's packages."""
    return graph(ROOT, PACKAGES)


def test_every_module_has_a_floor(service: dict[str, list[Edge]]) -> None:
    unplaced = []
    for module in service:
        if in_tool(module):
            continue
        try:
            floor_of(module)
        except KeyError:
            unplaced.append(module)
    assert unplaced == [], f"modules without a floor (add them to FLOORS): {unplaced}"


def test_no_import_loop(service: dict[str, list[Edge]]) -> None:
    loops = cycles(service)
    assert loops == [], "import loops:\n" + "\n".join("  " + " -> ".join(c) for c in loops)


def test_no_module_imports_a_higher_floor(service: dict[str, list[Edge]]) -> None:
    served = {m: [e for e in es if not in_tool(e.target)] for m, es in service.items()}
    up = upward({m: es for m, es in served.items() if not in_tool(m)}, floor_of)
    assert up == [], "upward imports:\n" + listing(up)


def test_the_offline_executor_is_a_tool_apart(service: dict[str, list[Edge]]) -> None:
    outward = [
        edge
        for module, edges in service.items()
        if in_tool(module)
        for edge in edges
        if not in_tool(edge.target) and edge.target not in TOOL_MAY_IMPORT
    ]
    assert outward == [], "the executor imports the service:\n" + "\n".join(
        f"  {e}" for e in outward
    )
    inward = [
        edge
        for module, edges in service.items()
        if not in_tool(module)
        for edge in edges
        if in_tool(edge.target)
    ]
    assert inward == [], "the service imports its test executor:\n" + "\n".join(
        f"  {e}" for e in inward
    )


def test_the_walk_sees_the_imports_it_judges(service: dict[str, list[Edge]]) -> None:
    # known edges of the real tree, one of each kind, so an empty walk cannot pass the tests
    targets = {(e.source, e.target, e.typing_only) for es in service.values() for e in es}
    assert ("inngest_app.app", "functions", False) in targets  # `from functions import ...`
    assert ("inngest_app.services", "inngest_app.outbound", True) in targets  # TYPE_CHECKING
    assert ("inngest_app.testing.executor", "inngest_app.testing.rest", False) in targets
    assert len(service) > 100


# --- the checker itself, on a tiny package written for each test ----------------------------


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Files of a synthetic package `pkg` under `root` (relative path -> source)."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


LAYERED = {
    "pkg/__init__.py": "",
    "pkg/low.py": "import json\n",
    "pkg/mid.py": "from pkg import low\nfrom pkg.low import json\n",
    "pkg/high/__init__.py": "",
    "pkg/high/top.py": "from ..mid import low\nfrom . import leaf\n",
    "pkg/high/leaf.py": "from pkg.mid import *\n",
}
TOY_FLOORS = {"pkg": 0, "pkg.low": 0, "pkg.mid": 1, "pkg.high": 2}


def toy_floor(module: str) -> int:
    """The synthetic package's floors."""
    return floor_in(TOY_FLOORS, module)


def test_the_checker_passes_a_layered_package_and_resolves_every_import_form(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path, LAYERED)
    edges = graph(tmp_path, ["pkg"])
    pairs = {m: [e.target for e in es] for m, es in edges.items()}
    assert pairs == {
        "pkg": [],
        "pkg.low": [],  # `json` is not of the tree
        "pkg.mid": ["pkg.low"],  # `from pkg import low` is the submodule, not the package
        "pkg.high": [],
        "pkg.high.top": ["pkg.high.leaf", "pkg.mid"],  # relative, both levels
        "pkg.high.leaf": ["pkg.mid"],
    }
    assert cycles(edges) == []
    assert upward(edges, toy_floor) == []


@pytest.mark.parametrize(
    "low_source",
    [
        "from pkg import mid\n",  # module level
        "def later():\n    from pkg.high import top\n    return top\n",  # inside a function
        "try:\n    import pkg.high.leaf\nexcept ImportError:\n    pass\n",  # nested statement
    ],
)
def test_the_checker_finds_a_loop_and_the_upward_import_that_closes_it(
    tmp_path: Path, low_source: str
) -> None:
    write_tree(tmp_path, {**LAYERED, "pkg/low.py": low_source})
    edges = graph(tmp_path, ["pkg"])
    loops = cycles(edges)
    assert loops and all(loop[0] == loop[-1] and "pkg.low" in loop for loop in loops), loops
    [up] = upward(edges, toy_floor)
    assert (up.source, up.typing_only) == ("pkg.low", False)
    assert toy_floor(up.target) > toy_floor("pkg.low")


def test_a_type_checking_import_closes_a_loop_and_points_up(tmp_path: Path) -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.mid import low\n"
    write_tree(tmp_path, {**LAYERED, "pkg/low.py": source})
    edges = graph(tmp_path, ["pkg"])
    assert cycles(edges) == [["pkg.mid", "pkg.low", "pkg.mid"]]
    [up] = upward(edges, toy_floor)
    assert (up.source, up.target, up.typing_only) == ("pkg.low", "pkg.mid", True)


def test_a_module_outside_every_floor_is_named() -> None:
    assert floor_in(TOY_FLOORS, "pkg.high.leaf") == 2  # the longest matching name
    assert floor_in(TOY_FLOORS, "pkg.other") == 0  # under the package's own floor
    with pytest.raises(KeyError, match="pkg.other has no floor"):
        floor_in(TOY_FLOORS, "pkg.other", exact=frozenset({"pkg"}))
    with pytest.raises(KeyError, match="inngest_app.new_module has no floor"):
        floor_of("inngest_app.new_module")
