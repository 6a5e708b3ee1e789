"""load_run on a demo run: the study rebuilt from the tables summarises as the run's own
result did, in at most 60 lines; the backtest, catalog and coverage come back too."""

from __future__ import annotations

import matplotlib
import pytest

import backtest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_result(planted_run):
    """The run's StudyResult, recomputed the way the pipeline computes it."""
    from backtest.pipeline import RunSpec, prepare_inputs
    from backtest.steps import run_catalog_study
    from backtest.study.spec import StudySpec

    run = backtest.load_run(planted_run.run_dir)
    spec = RunSpec.model_validate(run.manifest["spec"])
    got = prepare_inputs(spec)
    sspec = StudySpec(
        model=spec.model,
        estimation=spec.estimation,
        windows=spec.windows,
        placebo_draws=spec.placebo_draws,
        seed=spec.seed,
        overlap=spec.overlap,
    )
    result, _, _ = run_catalog_study(
        got.panel,
        got.universe,
        got.alignment,
        got.catalog,
        sspec,
        spec.stage,
        min_confidence=spec.min_confidence,
    )
    return result


def test_rebuilt_study_summarises_like_the_runs_own_result(planted_run, own_result):
    study = backtest.load_run(planted_run.run_dir).study
    own = str(own_result.summary())
    assert str(study.summary()) == own
    assert len(own.splitlines()) <= 60
    assert study.n_input == own_result.n_input and study.n_used == own_result.n_used
    # the lead table's event-level t equals the run's stored pooled table
    pooled = backtest.load_run(planted_run.run_dir).table("pooled")
    row = pooled[
        (pooled["direction"] == "tightening")
        & (pooled["sign"] == "signed")
        & (pooled["group"] == "us_incumbent")
        & (pooled["window"] == "[0,+1]")
    ].iloc[0]
    key = ("pooled direction=tightening,signed / us_incumbent", "[0,+1]", "event_t")
    assert study.pvalues[key] == row["pvalue"] and study.tstats[key] == row["t"]


def test_planted_effect_leads_the_summary(planted_run):
    """US incumbents carry a planted -5 % on tightening days: signed CAAR about +5 %."""
    study = backtest.load_run(planted_run.run_dir).study
    table = study.summary().table.set_index(["pool", "window"])
    caar = table.loc[("pooled direction=tightening,signed / us_incumbent", "[0,0]"), "caar"]
    assert caar == pytest.approx(0.05, abs=0.015)
    assert (
        table.loc[("pooled direction=tightening,signed / us_incumbent", "[0,0]"), "kp_bmp_t"] < 0.01
    )


def test_backtest_catalog_coverage(planted_run):
    before = matplotlib.rcParams._get_backend_or_none()
    run = backtest.load_run(planted_run.run_dir)
    bt = run.backtest
    assert {"metric", "strategy", "benchmark"} <= set(bt.metrics.columns)
    assert set(bt.robustness["sweep"]) == {"lag", "hold", "leave_one_out"}
    assert len(bt.plot().axes[0].lines) >= 1
    assert run.catalog.version == run.manifest["log"]["version"]
    assert len(run.catalog.events) == run.manifest["log"]["events"]
    assert len(run.coverage) and "security" in run.coverage.columns
    fig = run.study.plot_caar("pooled direction=tightening,signed / us_incumbent")
    assert fig.axes[0].get_title().endswith("us_incumbent")
    assert matplotlib.rcParams._get_backend_or_none() == before
