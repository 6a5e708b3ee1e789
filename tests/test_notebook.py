"""The three notebooks execute under nbclient from the repository root and from notebooks/
(as `jupyter execute` does), find their run through MIB_RUN, and write nothing into it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


def _execute(name: str, cwd: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()


@pytest.mark.parametrize("cwd", [REPO, NOTEBOOKS], ids=["repo-root", "notebooks"])
@pytest.mark.parametrize("name", ["quickstart", "bring_your_own", "backtest"])
def test_notebook_executes_and_leaves_the_run_alone(planted_run, monkeypatch, name, cwd):
    run_dir = planted_run.run_dir
    before = _snapshot(run_dir)
    monkeypatch.setenv("MIB_RUN", str(run_dir))
    _execute(name, cwd)
    assert _snapshot(run_dir) == before


def test_without_a_run_the_message_says_what_to_set(monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv("MIB_RUN", raising=False)
    assert "MIB_RUN" not in os.environ
    with pytest.raises(nbclient.exceptions.CellExecutionError) as err:
        _execute("quickstart", NOTEBOOKS)
    text = str(err.value)
    assert "InputFileError" in text and "MIB_RUN: no run folder given" in text
