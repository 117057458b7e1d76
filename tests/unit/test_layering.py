"""The import arrows of ``src/gazescope`` run one way (DESIGN.md "Layout"), read from the source with ``ast``.

Every ``import x`` and ``from x import y`` counts, at module level or inside a function or class, absolute
or relative; ``from x import y`` names the module ``x.y`` when that is a module of gazescope, else ``x``.
Imports under ``if TYPE_CHECKING:`` never run: they are left out of the cycle check (and listed apart by
``benchmarks/import_graph.py``) but count for the layering rules, since a type is a dependency too.

* no import cycle between modules of gazescope (each cycle printed as a path of imports);
* nothing of the lower layers (``LOWER``) imports FastAPI or Starlette;
* nothing imports ``gazescope.api.routes`` or its modules but the app factory ``gazescope.api.app``;
* nothing of the lower layers imports ``gazescope.api`` or the CLI (``gazescope.cli``, ``cli_*``).

``python benchmarks/import_graph.py`` prints the same findings.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "gazescope"
SRC = Path(__file__).resolve().parents[2] / "src" / PACKAGE
WEB_FRAMEWORKS = ("fastapi", "starlette")
ROUTES = "gazescope.api.routes"
APP_FACTORY = "gazescope.api.app"
# below api/ and cli/: use cases, engine, science packages and the base modules (a package that does not
# exist yet simply has no module here)
LOWER = tuple(
    f"{PACKAGE}.{name}"
    for name in (
        "services",
        "engine",
        "calibration",
        "analytics",
        "storage",
        "vision",
        "tracking",
        "evaluation",
        "domain",
        "config",
        "errors",
    )
)


@dataclass(frozen=True)
class Import:
    """One imported module: ``source`` (a gazescope module) imports ``target`` at ``line`` of its file."""

    source: str
    target: str
    line: int
    type_checking: bool  # under ``if TYPE_CHECKING:`` only

    def __str__(self) -> str:
        kind = ", TYPE_CHECKING" if self.type_checking else ""
        return f"{self.source} (line {self.line}{kind}) imports {self.target}"


def in_package(module: str, package: str) -> bool:
    """Whether ``module`` is ``package`` or one of its submodules (``a.b`` is in ``a``, ``a.bc`` is not)."""
    return module == package or module.startswith(package + ".")


def module_names(src: Path = SRC) -> dict[str, Path]:
    """The dotted name of every module below ``src`` (``pkg/__init__.py`` is ``pkg``), to its file."""
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_checking: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement below ``node`` (in functions and classes too), with whether it is type-only."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, type_checking
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk_stmt(stmt, True)
            for stmt in child.orelse:
                yield from _walk_stmt(stmt, type_checking)
        else:
            yield from _walk(child, type_checking)


def _walk_stmt(stmt: ast.stmt, type_checking: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        yield stmt, type_checking
    else:
        yield from _walk(stmt, type_checking)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a (possibly relative) ``from ... import`` statement names."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str, path: Path, modules: Iterable[str]) -> list[Import]:
    """The modules ``module`` (whose file is ``path``) imports, gazescope's and third parties'."""
    known = set(modules)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node, type_checking in _walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _resolve(module, path.name == "__init__.py", node)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        for target in dict.fromkeys(targets):
            out.append(Import(module, target, node.lineno, type_checking))
    return out


def all_imports(src: Path = SRC) -> list[Import]:
    """Every import of every module below ``src``, in file and line order."""
    modules = module_names(src)
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


# ------------------------------------------------------------------------------------------------
# the rules: each returns its offenders as readable lines, none when the rule holds


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` (iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def _shortest_cycle(graph: dict[str, set[str]], start: str, members: set[str]) -> list[str]:
    """The shortest path ``start -> ... -> start`` inside ``members`` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return []


def import_cycles(imports: Iterable[Import], *, type_checking: bool = False) -> list[str]:
    """Import cycles between gazescope modules, one line per cycle (``a (line 3) -> b (line 9) -> a``: the
    line of ``a`` that imports ``b``...).

    Every member of a strongly connected component lies on at least one of the cycles listed for it.
    With ``type_checking`` the imports under ``if TYPE_CHECKING:`` count too (and are marked so).
    """
    graph: dict[str, set[str]] = {}
    edges: dict[tuple[str, str], Import] = {}  # the first import of each edge, a runtime one if any
    for imp in imports:
        if imp.type_checking and not type_checking:
            continue
        graph.setdefault(imp.source, set())
        if in_package(imp.target, PACKAGE):
            graph.setdefault(imp.target, set())
            graph[imp.source].add(imp.target)
            first = edges.get((imp.source, imp.target))
            if first is None or (first.type_checking and not imp.type_checking):
                edges[imp.source, imp.target] = imp
    out = []
    for component in sorted(_strongly_connected(graph)):
        members = set(component)
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        covered: set[str] = set()
        for start in component:
            if start in covered:
                continue
            cycle = _shortest_cycle(graph, start, members)
            covered.update(cycle)
            steps = []
            for a, b in itertools.pairwise(cycle):
                kind = ", TYPE_CHECKING" if edges[a, b].type_checking else ""
                steps.append(f"{a} (line {edges[a, b].line}{kind})")
            out.append(" -> ".join([*steps, cycle[-1]]))
    return out


def web_framework_imports(imports: Iterable[Import]) -> list[str]:
    """Modules of the lower layers that import FastAPI or Starlette."""
    return [
        str(imp)
        for imp in imports
        if any(in_package(imp.source, p) for p in LOWER)
        and any(in_package(imp.target, w) for w in WEB_FRAMEWORKS)
    ]


def route_imports(imports: Iterable[Import]) -> list[str]:
    """Imports of ``gazescope.api.routes`` or its modules by anything but the app factory."""
    return [str(imp) for imp in imports if in_package(imp.target, ROUTES) and imp.source != APP_FACTORY]


def is_cli(module: str) -> bool:
    """Whether ``module`` is the CLI: ``gazescope.cli`` (module or package) or a ``gazescope.cli_*`` module."""
    return in_package(module, f"{PACKAGE}.cli") or module.startswith(f"{PACKAGE}.cli_")


def upward_imports(imports: Iterable[Import]) -> list[str]:
    """Modules of the lower layers that import ``gazescope.api`` or the CLI."""
    return [
        str(imp)
        for imp in imports
        if any(in_package(imp.source, p) for p in LOWER)
        and (in_package(imp.target, f"{PACKAGE}.api") or is_cli(imp.target))
    ]


# ------------------------------------------------------------------------------------------------
# the tests


def _failure(what: str, offenders: list[str]) -> str:
    return f"{len(offenders)} {what}:\n  " + "\n  ".join(offenders)


def test_the_walk_finds_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "gazescope"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import leaf\n")
    (pkg / "sub" / "leaf.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import fastapi.routing\n"
        "from .. import base\n"
        "from ..sub import leaf as me\n"
        "if TYPE_CHECKING:\n"
        "    from gazescope.api import thing\n"
        "def f():\n"
        "    from starlette.websockets import WebSocket\n"
    )
    found = {(i.source, i.target, i.line, i.type_checking) for i in all_imports(pkg)}
    assert found == {
        ("gazescope.sub", "gazescope.sub.leaf", 1, False),
        ("gazescope.sub.leaf", "typing", 1, False),
        ("gazescope.sub.leaf", "fastapi.routing", 2, False),
        ("gazescope.sub.leaf", "gazescope.base", 3, False),
        ("gazescope.sub.leaf", "gazescope.sub.leaf", 4, False),
        ("gazescope.sub.leaf", "gazescope.api", 6, True),
        ("gazescope.sub.leaf", "starlette.websockets", 8, False),
    }


def test_cycles_are_reported_as_paths() -> None:
    imports = [
        Import("gazescope.a", "gazescope.b", 1, False),
        Import("gazescope.b", "gazescope.c", 2, False),
        Import("gazescope.c", "gazescope.a", 3, False),
        Import("gazescope.c", "gazescope.d", 4, False),
        Import("gazescope.d", "gazescope.c", 5, True),
        Import("gazescope.e", "gazescope.e", 6, False),
    ]
    assert import_cycles(imports) == [
        "gazescope.a (line 1) -> gazescope.b (line 2) -> gazescope.c (line 3) -> gazescope.a",
        "gazescope.e (line 6) -> gazescope.e",
    ]
    assert import_cycles(imports, type_checking=True)[1] == (
        "gazescope.d (line 5, TYPE_CHECKING) -> gazescope.c (line 4) -> gazescope.d"
    )


def test_no_import_cycle_inside_gazescope() -> None:
    cycles = import_cycles(all_imports())
    assert not cycles, _failure("import cycle(s) inside gazescope (runtime imports)", cycles)


def test_lower_layers_do_not_import_fastapi_or_starlette() -> None:
    offenders = web_framework_imports(all_imports())
    assert not offenders, _failure(
        "import(s) of FastAPI/Starlette below api/ (only gazescope.api may use them)", offenders
    )


def test_only_the_app_factory_imports_route_modules() -> None:
    offenders = route_imports(all_imports())
    assert not offenders, _failure(f"import(s) of {ROUTES} outside {APP_FACTORY}", offenders)


def test_lower_layers_do_not_import_api_or_cli() -> None:
    offenders = upward_imports(all_imports())
    assert not offenders, _failure("import(s) of gazescope.api or the CLI from a layer below them", offenders)
