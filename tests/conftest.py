"""Shared fixtures: demo runs (computed once per session) and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover - run from the repository root as a package
    from tests.shared_support import require_shared

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (read-only test data)."""
    return require_shared()


def _demo(tmp_root: Path, plants, *, seed: int, pdf: bool):
    from backtest.pipeline import RunSpec, run_pipeline

    spec = RunSpec(
        source="demo",
        plants=plants,
        seed=seed,
        placebo_draws=200,
        out_root=str(tmp_root),
        run_id=f"demo-s{seed}-{len(plants)}",
        pdf=pdf,
    )
    return run_pipeline(spec)


@pytest.fixture(scope="session")
def planted_run(tmp_path_factory):
    """The demo with a planted -5 % day-0 AR for US incumbents on tightening events."""
    from backtest.synth import Plant

    plants = (Plant(match="tightening", group="us_incumbent", day0=-0.05),)
    return _demo(tmp_path_factory.mktemp("planted"), plants, seed=7, pdf=True)


@pytest.fixture(scope="session")
def null_run(tmp_path_factory):
    """The same demo with nothing planted."""
    return _demo(tmp_path_factory.mktemp("null"), (), seed=7, pdf=False)
