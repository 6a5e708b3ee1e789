"""The package's imports run one way: no cycle among module-level imports.

The graph is read statically by ``.ci/import_cycles.py`` (``ast``, nothing is
imported); these tests run it on the house and, to show it can fail, on small
packages written here with a known answer.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow  # parses every module; run by .ci/run (pytest -m slow)

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "import_cycles.py"


@pytest.fixture(scope="module")
def ic() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["import_cycles"] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_no_module_level_import_cycle_in_backtest(ic):
    graph = ic.build_graph()
    assert "backtest.pipeline" in graph.modules and "backtest.study.engine" in graph.modules
    bad = ic.new_cycles(graph)
    assert bad == [], "module-level import cycles:\n" + "\n".join(" -> ".join(c) for c in bad)


def test_every_allow_listed_edge_still_exists(ic):
    graph = ic.build_graph()
    stale = [e for e in ic.ALLOWED_EDGES if e[1] not in graph.module_level.get(e[0], set())]
    assert stale == [], f"remove these allow-list entries, their cycles are gone: {stale}"


def test_run_layers_import_downwards_only(ic):
    """runspec <- inputs <- steps <- pipeline: no layer imports one above it, even lazily."""
    edges = ic.build_graph().edges(deferred=True)
    order = ["backtest.runspec", "backtest.inputs", "backtest.steps", "backtest.pipeline"]
    for i, low in enumerate(order):
        above = set(order[i + 1 :])
        assert edges[low] & above == set(), f"{low} imports {edges[low] & above}"
    assert "backtest.steps" in edges["backtest.pipeline"]
    assert "backtest.inputs" in edges["backtest.steps"]


def test_a_planted_module_level_cycle_is_found_and_printed(ic, tmp_path, capsys):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": "import pkg.c\n",
            "c.py": "from .a import thing\nthing = 1\n",
            "d.py": "import pkg.a\n",  # into the cycle, not part of it
        },
    )
    graph = ic.build_graph(root, "pkg")
    assert graph.module_level["pkg.c"] == {"pkg.a"}  # relative import resolved
    assert ic.cycles(graph.edges()) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    # allowing one edge of the cycle clears it; a second, separate cycle still fails
    assert ic.cycles(ic.without(graph.edges(), {("pkg.c", "pkg.a")})) == []


def test_deferred_and_type_checking_imports_are_not_module_level(ic, tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "sub/__init__.py": "",
            "sub/x.py": """\
                from typing import TYPE_CHECKING
                import typing
                if TYPE_CHECKING:
                    from pkg.sub import y
                if typing.TYPE_CHECKING:
                    from pkg import z
                else:
                    import json
                def f():
                    from . import y
                    return y
                class K:
                    from pkg import w
                """,
            "sub/y.py": "from pkg.sub.x import f\n",
            "z.py": "from pkg.sub import x\n",
            "w.py": "import json\n",
        },
    )
    graph = ic.build_graph(root, "pkg")
    assert graph.module_level["pkg.sub.x"] == {"pkg.w"}  # the class body runs on import
    assert graph.function_level["pkg.sub.x"] == {"pkg.sub.y"}
    assert ic.cycles(graph.edges()) == []
    assert ic.cycles(graph.edges(deferred=True)) == [["pkg.sub.x", "pkg.sub.y", "pkg.sub.x"]]


def test_the_script_exits_1_on_a_cycle_outside_the_allow_list(ic, tmp_path, monkeypatch, capsys):
    root = _package(
        tmp_path, {"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "import pkg.a\n"}
    )
    monkeypatch.setattr(ic, "ROOT", root)
    monkeypatch.setattr(ic, "PACKAGE", "pkg")
    monkeypatch.setattr(ic.build_graph, "__defaults__", (root, "pkg"))
    assert ic.main([]) == 1
    assert "NOT ALLOWED: pkg.a -> pkg.b -> pkg.a" in capsys.readouterr().out
    monkeypatch.setattr(ic, "ALLOWED_EDGES", {("pkg.b", "pkg.a"): "test"})
    assert ic.main([]) == 0
