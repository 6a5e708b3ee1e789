"""A run folder as result objects: the study rebuilt from its tables, the backtest, the catalog.

:class:`backtest.runio.Run` (returned by :func:`backtest.load_run`) delegates here;
nothing is written to the run folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.errors import InputFileError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from backtest.api.catalog import Catalog
    from backtest.pipeline import RunSpec
    from backtest.runio import Run
    from backtest.study.results import StudyResult

NOT_STUDY_REASONS = frozenset({"benchmark_missing", "no_prices"})
"""Attrition reasons a run adds before the study (no benchmark covers the instance,
no prices): in the run's ``attrition`` table, not in the study's own attrition."""

STUDY_TABLES = ("ar", "car", "tests", "caar", "attrition", "params")


def study_spec_of_run(manifest: Mapping[str, Any], path: Path) -> Any:
    """The :class:`StudySpec` a run's study used, from the run spec in ``run.json``.

    The pipeline builds it from the run spec's model, estimation and event windows,
    placebo draws, seed and overlap policy (:func:`backtest.steps.study`).
    """
    from pydantic import ValidationError

    from backtest.study.spec import StudySpec

    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        raise InputFileError(
            "run.json has no run spec", file=path / "run.json", field="spec", expected="an object"
        )
    keys = ("model", "estimation", "windows", "placebo_draws", "seed", "overlap", "lagged_us")
    try:
        return StudySpec(**{k: spec[k] for k in keys if k in spec})
    except ValidationError as exc:
        raise InputFileError(
            f"run spec is not a study spec: {exc.errors()[0]['msg']}",
            file=path / "run.json",
            field="spec",
        ) from None


def study_from_run(run: Run) -> StudyResult:
    """The run's :class:`StudyResult`, rebuilt from its tables (nothing recomputed).

    The run's ``attrition`` table also lists instances lost before the study (no
    covering benchmark, no prices: :data:`NOT_STUDY_REASONS`); they stay in
    ``run.coverage`` and are left out here, so the summary reads as the study's own.
    """
    from backtest.study.results import StudyResult

    missing = [t for t in STUDY_TABLES if t not in run.tables]
    if missing:
        raise InputFileError(
            "the run has no event study tables",
            file=run.path / "tables",
            field=missing[0],
            expected="a run folder written by `mib run` or `mib study run --demo`",
        )
    att = run.tables["attrition"]
    att = att[~att["reason"].isin(NOT_STUDY_REASONS)].reset_index(drop=True)
    params = run.tables["params"]
    return StudyResult(
        spec=study_spec_of_run(run.manifest, run.path),
        ar=run.tables["ar"],
        car=run.tables["car"],
        tests=run.tables["tests"],
        caar=run.tables["caar"],
        attrition=att,
        params=params,
        n_input=len(params) + len(att),
        overlaps=run.tables.get("overlaps"),
        instances=run.tables.get("study_instances"),
    )


@dataclass(frozen=True, slots=True)
class RunBacktest:
    """A run's event-driven backtest, from its tables.

    metrics: one row per statistic (strategy and buy-and-hold benchmark);
    trades: one row per leg; equity: daily equity, tidy (date, series, equity);
    robustness: every configuration of the entry-lag, holding-period and
    leave-one-event-out sweeps; attrition: instances not traded, and why.
    """

    metrics: pd.DataFrame
    trades: pd.DataFrame
    equity: pd.DataFrame
    robustness: pd.DataFrame
    attrition: pd.DataFrame

    def plot(self) -> Figure:
        """Daily equity of the strategy and its buy-and-hold benchmark (a new Figure)."""
        from backtest.api.plots import _figure

        fig, ax = _figure()
        for name, part in self.equity.groupby("series", sort=False):
            ax.plot(part["date"], part["equity"], label=str(name), linewidth=1.2)
        ax.set_xlabel("date")
        ax.set_ylabel("equity")
        ax.set_title("Strategy and buy-and-hold equity", fontsize=9)
        if len(self.equity):
            ax.legend(fontsize=7)
        return fig


def backtest_from_run(run: Run) -> RunBacktest:
    """The backtest tables of a run (empty frames where the run made none)."""
    t = run.table
    return RunBacktest(
        metrics=t("backtest_metrics"),
        trades=t("backtest_trades"),
        equity=t("backtest_equity"),
        robustness=t("backtest_robustness"),
        attrition=t("backtest_attrition"),
    )


def catalog_of_run(run: Run) -> Catalog:
    """The catalog at the run's log version (the log file named in ``run.json``)."""
    from backtest.api.catalog import Catalog

    log = run.manifest.get("log", {})
    version = log.get("version") or run.manifest.get("run", {}).get("log_version")
    path = log.get("path")
    if not path or not version:
        raise InputFileError(
            "run.json names no event log",
            file=run.path / "run.json",
            field="log",
            expected="a run of the catalog (mib run), not a bring-your-own study",
        )
    if not Path(path).is_file():
        raise InputFileError(
            "the run's event log is not here",
            file=path,
            field="log.path",
            expected=f"the log the run used, at {version}",
        )
    spec = run.manifest.get("spec", {})
    return Catalog.load(path, version=str(version), universe=spec.get("universe_path"))


def run(spec: RunSpec | None = None) -> Run:
    """Run the whole pipeline (catalog, prices, study, backtest, report) and load the run.

    Parameters
    ----------
    spec:
        A :class:`backtest.pipeline.RunSpec` (default: the demo on the synthetic
        market, written under ``reports/``).

    Returns
    -------
    Run
        The run folder loaded back (:func:`backtest.load_run`).
    """
    from backtest.pipeline import RunSpec, run_pipeline
    from backtest.runio import load_run

    outcome = run_pipeline(spec if spec is not None else RunSpec())
    return load_run(outcome.run_dir)
