"""The robustness grid is shared out between the run's child and the run itself: the same
table whoever computes which day-0 policy, also when the child claims policies and fails."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest


def _grid(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "tables" / "spec_grid.parquet")


@pytest.mark.slow
def test_policies_a_failed_child_claimed_are_computed_by_the_run(tmp_path, monkeypatch):
    from backtest import steps
    from backtest.pipeline import RunSpec, run_pipeline

    monkeypatch.delenv("MIB_SERIAL", raising=False)
    if (os.cpu_count() or 1) < 2:
        pytest.skip("no child on one core")
    parent, real = os.getpid(), steps.grid_parts
    seen: list[int] = []

    def claim_all_then_fail(*args, which=None, **kwargs):
        if os.getpid() != parent and which is not None:
            list(which)  # the child claims every policy, then dies before returning one
            raise RuntimeError("child lost after claiming")
        got = real(*args, which=which, **kwargs)
        seen.extend(got)
        return got

    monkeypatch.setattr(steps, "grid_parts", claim_all_then_fail)
    failed = run_pipeline(RunSpec(source="demo", out_root=str(tmp_path / "failed"), pdf=False))
    assert sorted(seen) == list(range(len(steps.GRID_POLICIES)))  # all done here instead
    monkeypatch.setattr(steps, "grid_parts", real)
    normal = run_pipeline(RunSpec(source="demo", out_root=str(tmp_path / "normal"), pdf=False))
    grid = _grid(failed.run_dir)
    assert set(grid["policy"]) == {p for p, _ in steps.GRID_POLICIES}
    pd.testing.assert_frame_equal(grid, _grid(normal.run_dir), check_exact=True)
