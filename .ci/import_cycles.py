"""The import graph of the ``backtest`` package, read statically, and its cycles.

Usage: ``python .ci/import_cycles.py [--all]``: prints every cycle among
module-level imports (exit 1 if there is one that the allow-list below does not
name); ``--all`` also lists the cycles that function-level (deferred) imports
would close, which are legal but worth knowing.

Every ``import``/``from ... import`` statement of every module is read with
:mod:`ast` (nothing is imported).  An import counts as *module-level* when it
runs on import of the module (top level, class bodies, top-level ``if``/``try``)
and as *function-level* when it sits inside a function.  Imports under
``if TYPE_CHECKING:`` never run and are left out.  ``import a.b.c`` and
``from a.b import c`` give an edge to the most specific module that exists
(``a.b.c``), not to the parent packages, like import-linter and pydeps.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "backtest"

# Known module-level cycles, each as the edge that closes it (importer, imported).  The
# check removes these edges and fails on any cycle left, so a new cycle is caught even
# inside a strongly connected part that already holds a known one.  Each entry names
# who is removing it; delete the entry with the cycle.
ALLOWED_EDGES: dict[tuple[str, str], str] = {}


@dataclass
class Graph:
    """Edges importer -> imported, split by where the import statement runs."""

    modules: set[str] = field(default_factory=set)
    module_level: dict[str, set[str]] = field(default_factory=dict)
    function_level: dict[str, set[str]] = field(default_factory=dict)

    def edges(self, *, deferred: bool = False) -> dict[str, set[str]]:
        """Module-level edges, plus the function-level ones when ``deferred``."""
        out = {m: set(self.module_level.get(m, ())) for m in self.modules}
        if deferred:
            for m, targets in self.function_level.items():
                out[m] |= targets
        return out


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement under ``node`` and whether it sits inside a function."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield from _imports_of(stmt, in_function)
            continue
        yield from _imports_of(child, in_function)


def _imports_of(child: ast.AST, in_function: bool) -> Iterator[tuple[ast.stmt, bool]]:
    if isinstance(child, ast.Import | ast.ImportFrom):
        yield child, in_function
        return
    deeper = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
    yield from _imports(child, deeper)


def _resolve(stmt: ast.stmt, importer: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules an import statement loads (most specific module only)."""
    if isinstance(stmt, ast.Import):
        names = [a.name for a in stmt.names]
    else:
        assert isinstance(stmt, ast.ImportFrom)
        base = stmt.module or ""
        if stmt.level:
            here = importer.split(".") if is_package else importer.split(".")[:-1]
            up = here[: len(here) - (stmt.level - 1)]
            base = ".".join([*up, base] if base else up)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in stmt.names]
    out = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != importer:
            out.add(name)
    return out


def build_graph(root: Path = ROOT, package: str = PACKAGE) -> Graph:
    """The import graph of every module of ``package`` under ``root``."""
    files = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph = Graph(modules=set(files))
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for stmt, in_function in _imports(tree):
            targets = _resolve(stmt, name, is_package, graph.modules)
            side = graph.function_level if in_function else graph.module_level
            side.setdefault(name, set()).update(targets)
    return graph


def _components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def _shortest_cycle(edges: dict[str, set[str]], comp: list[str]) -> list[str]:
    """One shortest cycle through the first module of a component: a -> ... -> a."""
    members, start = set(comp), comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for t in sorted(edges[node] & members):
                if t == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if t not in prev:
                    prev[t] = node
                    nxt.append(t)
        frontier = nxt
    return comp


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per strongly connected component of ``edges``."""
    return [_shortest_cycle(edges, comp) for comp in _components(edges)]


def without(edges: dict[str, set[str]], drop: set[tuple[str, str]]) -> dict[str, set[str]]:
    return {m: {t for t in ts if (m, t) not in drop} for m, ts in edges.items()}


def new_cycles(graph: Graph) -> list[list[str]]:
    """Module-level cycles left once the allow-listed edges are removed."""
    return cycles(without(graph.edges(), set(ALLOWED_EDGES)))


def main(argv: list[str]) -> int:
    graph = build_graph()
    known = cycles(graph.edges())
    for cyc in known:
        print("module-level cycle: " + " -> ".join(cyc))
    stale = [e for e in ALLOWED_EDGES if e[1] not in graph.module_level.get(e[0], set())]
    for a, b in stale:
        print(f"allow-list entry no longer needed: {a} -> {b}")
    if "--all" in argv:
        deferred = graph.edges(deferred=True)
        for comp in _components(deferred):
            print(
                f"{len(comp)} modules tied by function-level imports, e.g. "
                + " -> ".join(_shortest_cycle(deferred, comp))
                + ": "
                + ", ".join(comp)
            )
    bad = new_cycles(graph)
    for cyc in bad:
        print("NOT ALLOWED: " + " -> ".join(cyc))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
