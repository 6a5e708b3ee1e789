"""notebooks/quickstart.ipynb runs top to bottom on a demo run and redraws a chart."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_executes(planted_run, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("MIB_RUN", str(planted_run.run_dir))
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent.parent)}},
    )
    client.execute()
    out = planted_run.run_dir / "quickstart_car_paths.png"
    assert out.exists() and out.stat().st_size > 5_000
