"""The steps of a run, one function each; :mod:`backtest.pipeline` calls them in order.

Each step calls the module that owns the work and returns tidy tables keyed
by their file stem in ``tables/``.  Steps import downwards only (specs, inputs,
the layers); the run's prose (``method``, ``grid_note``, ``backtest_note`` in
``run.json``) is generated from the specs stored beside it, never restated here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.eventlog.pooling import DEFAULT_MIN_CONFIDENCE, MinConfidence

if TYPE_CHECKING:
    import pandas as pd

    from backtest.alignment.instances import Alignment
    from backtest.alignment.spec import StageChoice
    from backtest.eventlog.catalog import Catalog
    from backtest.market.panel import PricePanel
    from backtest.returns import BenchmarkChoice, StudyInputs
    from backtest.runio import EncodedTable
    from backtest.runspec import RunSpec
    from backtest.study.results import StudyResult
    from backtest.study.spec import StudySpec
    from backtest.universe import Universe

TIMELINE_SYMBOL = ("SOXX", "^SOX", "SMH", "SPY")


def events_table(catalog: Catalog) -> pd.DataFrame:
    """The catalog as a table, ``id`` renamed ``event_id`` for joins."""
    return catalog.to_frame().rename(columns={"id": "event_id"})


def _timeline_prices(panel: PricePanel) -> pd.DataFrame:
    import pandas as pd

    sym = next((s for s in TIMELINE_SYMBOL if s in panel), None)
    if sym is None:
        return pd.DataFrame(columns=["symbol", "date", "close"])
    close = panel.close(sym)
    return pd.DataFrame({"symbol": sym, "date": close.index, "close": close.to_numpy()})


def _price_meta(panel: PricePanel) -> pd.DataFrame:
    import dataclasses

    import pandas as pd

    return pd.DataFrame([dataclasses.asdict(m) for m in panel.meta.values()])


def _findings(panel: PricePanel, universe: Universe) -> pd.DataFrame:
    """Data-check findings (gaps, limit hits, suspensions...) from the market layer."""
    from backtest.market import verify

    return verify(panel, universe).frame


def data_tables(
    panel: PricePanel, universe: Universe, alignment: Alignment, planted: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Instances, alignment attrition, price provenance, data checks, planted effects."""
    tables = {
        "instances": alignment.instances,
        "align_attrition": alignment.attrition,
        "price_meta": _price_meta(panel),
        "timeline_prices": _timeline_prices(panel),
        "findings": _findings(panel, universe),
    }
    if not planted.empty:
        tables["planted"] = planted
    return tables


def manifest(
    spec: RunSpec,
    catalog: Catalog,
    panel: PricePanel,
    universe: Universe,
    now: dt.datetime,
    run_id: str,
) -> dict[str, Any]:
    """``run.json``: what was run, on what, by which versions, when.

    The common head (:func:`backtest.runio.manifest_header`), the run spec
    (``spec``) and the spec of each layer it composes (``specs``: align, study,
    strategy); the method notes are generated from the stored specs.
    """
    from backtest.runio import manifest_header, package_versions

    head = manifest_header("run", now)
    stored, specs = spec.model_dump(mode="json"), spec.layer_specs()
    sources = sorted({m.source for m in panel.meta.values()})
    desc = (
        f"SYNTHETIC market (seed {spec.seed})"
        if panel.synthetic
        else f"{', '.join(sources)}"
        + (f" from {_dirs_text(spec.prices_dir)}" if spec.prices_dir else "")
    )
    return {
        **head,
        "method": method_notes(stored, specs),
        "grid_note": grid_note(stored, specs),
        "backtest_note": backtest_note(specs),
        "run": {
            "run_id": run_id,
            "created_at": head["created_at"],
            "package_version": head["version"],
            "log_version": str(catalog.version),
            "seed": spec.seed,
        },
        "spec": stored,
        "specs": specs,
        "log": {
            "path": str(catalog.path),
            "version": str(catalog.version),
            "events": len(catalog.events),
        },
        "data": {
            "source": spec.source,
            "synthetic": panel.synthetic,
            "description": desc,
            "content_hash": panel.content_hash(),
            "symbols": len(panel.symbols),
            "notes": list(panel.notes),
        },
        "universe": {"securities": len(universe.securities)},
        "versions": package_versions(),
        "provenance": {
            "log version": str(catalog.version),
            "price source": desc,
            "price content sha256": panel.content_hash(),
            "mib": head["version"],
            "run created (UTC)": head["created_at"],
            "seed": spec.seed,
        },
    }


def _dirs_text(dirs: str | tuple[str, ...]) -> str:
    if isinstance(dirs, str):
        return dirs
    return " + ".join(dirs) + " (stitched on returns, first wins)"


def _days(span: list[int] | tuple[int, int]) -> str:
    lo, hi = span
    return f"{lo:+d}..{hi:+d}" if (lo, hi) != (0, -1) else "none"


def method_notes(run: Mapping[str, Any], specs: Mapping[str, Any]) -> list[str]:
    """The conventions of a run, in words, for the report's method section.

    Generated from the run spec and the layer specs as stored in ``run.json``
    (``spec``, ``specs``): every number here is read from them.
    """
    from backtest.study.registry import method_note, ordered_tests

    al, st = specs["align"], specs["study"]
    lo, hi = st["estimation"]
    return [
        "Returns: simple close-to-close returns of adjusted closes on each security's own "
        "exchange sessions; a move across a suspension is assigned to the next bar.",
        f"Day 0: the first session on the security's exchange whose close is after the news "
        f"became public (stage '{al['stage']}'); date-only stages are placed by the policy "
        f"'{al['unknown_time']}' (flagged time_assumed), clamped by any not_before/not_after "
        "bound; the robustness grid re-runs with the alternative day 0.",
        f"Normal returns: {st['model']} model estimated over sessions [{lo}, {hi}] (at least "
        f"{st['min_estimation_obs']} observations); other catalog events' days "
        f"{_days(st['mask_window'])} are masked out of estimation windows; the market proxy "
        "is the security's first benchmark with prices.",
        "Variances: residual variance with L - k degrees of freedom; CAR variance with the "
        "forecast-error correction of Campbell, Lo and MacKinlay (1997, ch. 4)."
        if st["conventions"] == "textbook"
        else f"Variances: the '{st['conventions']}' conventions (backtest.study.spec).",
        "Pools: by direction and by the log's expected sign (names expected to fall and "
        "names expected to gain are never averaged together), plus signed pools (AR times "
        "expected sign). Confounders and events below the minimum confidence "
        f"({run['min_confidence']}) are not pooled. The unit of inference is the calendar "
        "cluster (market and day-0 date); a security-day shared by several events enters "
        f"each pooled statistic once (overlap policy '{st['overlap']}', tables/overlaps.csv). "
        f"Placebo dates: {st['placebo_draws']} draws (seed {st['seed']}) avoiding every "
        "catalog event and confounder, with the study's masks.",
        "The tests are led by those that hold their size when every security reacts on the "
        "same date and news days are more volatile than estimation days, decided by "
        "simulation (benchmarks/bench_rejection.py):",
        *(method_note(t) for t in ordered_tests()),
    ]


def grid_note(run: Mapping[str, Any], specs: Mapping[str, Any]) -> str:
    """What the robustness grid's cells are, counted from :func:`grid_models` and
    :data:`GRID_POLICIES` (the same lists :func:`spec_grid` runs)."""
    models = grid_models(with_factors=run.get("factors_dir") is not None)
    return (
        "Each cell is the statistic of a test on tightening events pooled across "
        "events, on signed abnormal returns (AR times the log's expected sign: "
        "positive = prices moved as expected; rows: group | normal-return model "
        "| day-0 policy; 'alternate' moves date-only announcements to after the "
        "close of business). "
        f"{len(models) * len(GRID_POLICIES)} studies "
        f"({len(models)} models x {len(GRID_POLICIES)} day-0 policies), "
        f"tests {', '.join(grid_tests())}, "
        f"{len(specs['study']['windows'])} windows."
    )


def backtest_note(specs: Mapping[str, Any]) -> str:
    """The backtest in one paragraph, from the stored strategy spec and the sweeps run."""
    import inspect

    from backtest.strategy import robustness

    sweeps = inspect.signature(robustness).parameters
    lags, holds = list(sweeps["lags"].default), list(sweeps["holds"].default)
    sp = specs["strategy"]
    return (
        f"Strategy {sp['strategy']}, hold {sp['hold']} sessions; entries only "
        "at the first price set after the news was public on the security's "
        "exchange; per-market fees, slippage and stamp duty; A-share T+1 and "
        f"price limits. The robustness sweeps (entry lag {min(lags)}-{max(lags)}, holding "
        f"period {min(holds)}-{max(holds)}, leave one event out) say how many "
        "configurations were tried."
    )


def encode_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, EncodedTable]:
    """The parquet and CSV bytes of ``tables`` (:func:`backtest.runio.encode_table`), for
    :func:`write_run` to write later; a run encodes its study tables while the
    backtest finishes on the other core."""
    from backtest.runio import encode_table

    return {name: encode_table(frame) for name, frame in tables.items()}


def table_bytes(tables: Mapping[str, pd.DataFrame]) -> dict[str, tuple[bytes, bytes]]:
    """The parquet and CSV bytes of each table (:func:`encode_tables` without the frames:
    what a child sends back)."""
    return {name: (enc.parquet, enc.csv) for name, enc in encode_tables(tables).items()}


def with_bytes(
    tables: Mapping[str, pd.DataFrame], files: Mapping[str, tuple[bytes, bytes]]
) -> dict[str, EncodedTable]:
    """:func:`encode_tables` from :func:`table_bytes` of these same ``tables``."""
    from backtest.runio import EncodedTable

    return {name: EncodedTable(tables[name], *files[name]) for name in files}


def write_run(
    run_dir: Path,
    tables: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    encoded: Mapping[str, EncodedTable] | None = None,
) -> None:
    """Every table as parquet and CSV, then ``run.json`` last (its presence marks a run).

    ``run.json`` lists every table file with its SHA-256, so ``mib report build``
    refuses a run folder whose tables are missing or changed
    (:func:`backtest.runio.verify_run`).  Callers write into a staged folder
    (:func:`backtest.runio.staged_folder`) so a failure leaves nothing behind.
    ``encoded``: tables :func:`encode_tables` already turned into bytes.
    """
    from backtest.runio import write_run_folder

    write_run_folder(run_dir, tables, manifest, encoded)


def run_catalog_study(
    panel: PricePanel,
    universe: Universe,
    alignment: Alignment,
    catalog: Catalog,
    sspec: StudySpec,
    stage: StageChoice,
    factors: pd.DataFrame | None = None,
    min_confidence: MinConfidence = DEFAULT_MIN_CONFIDENCE,
    *,
    masks: pd.DataFrame | None = None,
) -> tuple[StudyResult, StudyInputs, BenchmarkChoice]:
    """The event study of the aligned instances, other catalog events masked.

    Each instance is measured against the first benchmark listed for its
    security that covers its windows (:func:`backtest.returns.choose_benchmarks`);
    the choice per instance and the instances no benchmark covers come back
    with the result.  Confounders and events below ``min_confidence`` get
    per-event results but enter no pool (:mod:`backtest.eventlog.pooling`).
    ``masks`` are the other events' days (:func:`event_masks`); a run computes
    them once and passes them to every study it runs.
    """
    from backtest.study.engine import run_study

    inputs, choice = study_sample(
        panel, universe, alignment, catalog, sspec, factors, min_confidence
    )
    result = run_study(
        choice.instances,
        inputs.returns,
        inputs.market,
        sspec,
        masks=event_masks(catalog, universe, stage) if masks is None else masks,
    )
    return result, inputs, choice


def study_sample(
    panel: PricePanel,
    universe: Universe,
    alignment: Alignment,
    catalog: Catalog,
    sspec: StudySpec,
    factors: pd.DataFrame | None = None,
    min_confidence: MinConfidence = DEFAULT_MIN_CONFIDENCE,
    *,
    returns_of: dict[tuple[str, ...], StudyInputs] | None = None,
) -> tuple[StudyInputs, BenchmarkChoice]:
    """The returns and the benchmark chosen per instance for :func:`run_catalog_study`.

    Depends on the study spec only through its estimation window and event span.
    ``returns_of``: the returns already read for a set of securities (same panel and
    factors), reused and filled in (the robustness grid reads them once for both
    day-0 policies).
    """
    from backtest.eventlog.pooling import pool_table
    from backtest.returns import choose_benchmarks, study_inputs

    pooled = pool_table(catalog.events, min_confidence).set_index("event_id")["pooled"]
    inst = alignment.instances.assign(
        pool=lambda d: d["event_id"].map(pooled).fillna(True).astype(bool)
    )
    secs = tuple(sorted(inst["security"].unique()))
    inputs = returns_of.get(secs) if returns_of is not None else None
    if inputs is None:
        inputs = study_inputs(panel, universe, list(secs), factors=factors)
        if returns_of is not None:
            returns_of[secs] = inputs
    keep = inst[inst["security"].isin(list(inputs.returns))]
    choice = choose_benchmarks(keep, inputs, sspec.estimation, sspec.event_span)
    return inputs, choice


def study(
    panel: PricePanel,
    universe: Universe,
    alignment: Alignment,
    catalog: Catalog,
    spec: RunSpec,
    *,
    masks: pd.DataFrame | None = None,
    findings: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The event study on the aligned instances, and the aggregates the report draws.

    ``masks`` (:func:`event_masks`) and ``findings`` (the data checks, for limit
    days inside spread windows) are computed here unless the run passes them.
    """
    sspec = spec.study_spec()
    result, inputs, choice = run_catalog_study(
        panel,
        universe,
        alignment,
        catalog,
        sspec,
        spec.stage,
        min_confidence=spec.min_confidence,
        masks=masks,
    )
    return {
        **_study_tables(
            panel, universe, alignment, catalog, spec, result, inputs, choice, findings
        ),
        **speed_tables(panel, alignment, result, choice, spec.model),
    }


def _study_tables(
    panel: PricePanel,
    universe: Universe,
    alignment: Alignment,
    catalog: Catalog,
    spec: RunSpec,
    result: StudyResult,
    inputs: StudyInputs,
    choice: BenchmarkChoice,
    findings: pd.DataFrame | None,
) -> dict[str, pd.DataFrame]:
    """The tables of :func:`study` but those of :func:`speed_tables`."""
    import pandas as pd

    from backtest.eventlog.pooling import pool_table
    from backtest.summaries import caar_paths, pooled_car, spread_events, spread_summary

    events = events_table(catalog)
    pools = pool_table(catalog.events, spec.min_confidence)
    used = result.instances
    car = result.car.merge(events[["event_id", "direction", "type"]], on="event_id", how="left")
    car_summary = (
        car.groupby(["event_id", "group", "window"], sort=False)["car"]
        .agg(caar="mean", n="count")
        .reset_index()
    )
    missing = pd.DataFrame(
        [
            {"event_id": "*", "security": s, "reason": "no_prices", "detail": why}
            for s, why in inputs.missing.items()
        ]
    )
    attrition = pd.concat([result.attrition, choice.dropped, missing], ignore_index=True)
    spread = spread_events(
        result.car,
        used,
        result.ar,
        limit_hits=_limit_hits(_findings(panel, universe) if findings is None else findings),
    )
    return {
        "ar": result.ar,
        "car": result.car,
        "tests": result.tests,
        "caar": result.caar,
        "attrition": attrition,
        "params": result.params,
        "paths": caar_paths(result.ar),
        "car_summary": car_summary,
        "pooled": pooled_car(result.car, used, by="direction"),
        "pooled_by_type": pooled_car(result.car, used, by="event_type"),
        "spread_events": spread,
        "spread_summary": spread_summary(spread),
        "pools": pools,
        "overlaps": result.overlaps,
        "study_instances": used,
        "benchmarks": choice.chosen,
        **coverage_tables(panel, universe, alignment, result.car, attrition, choice),
    }


def _limit_hits(findings: pd.DataFrame) -> pd.DataFrame:
    """(symbol, date) of sessions that hit a daily price limit (the data checks' finding)."""
    f = findings
    return f[f["check"] == "limit_hit"][["symbol", "date"]] if len(f) else f


def speed_tables(
    panel: PricePanel,
    alignment: Alignment,
    result: StudyResult,
    choice: BenchmarkChoice,
    model: str,
) -> dict[str, pd.DataFrame]:
    """How fast (:mod:`backtest.howfast`): the open split per instance, pooled speed
    measures, pooled signed CAAR paths and the cross-market order of reactions."""
    from backtest.howfast import cross_market, open_split, pooled_paths, pooled_speed

    used = result.instances if result.instances is not None else alignment.instances
    timing = alignment.instances[
        ["event_id", "security", "mic", "knowable_at_utc", "day0_open_utc", "day0_close_utc"]
    ].drop_duplicates(["event_id", "security"])
    inst = used.drop(columns=[c for c in ("mic",) if c in used.columns]).merge(
        timing, on=["event_id", "security"], how="left"
    )
    split = open_split(result.ar, inst, panel, choice.chosen, result.params, model=model)
    return {
        "open_split": split,
        "speed": pooled_speed(split, result.ar),
        "pooled_paths": pooled_paths(split, result.ar),
        "cross_market": cross_market(split),
    }


def coverage_tables(
    panel: PricePanel,
    universe: Universe,
    alignment: Alignment,
    car: pd.DataFrame,
    attrition: pd.DataFrame,
    choice: BenchmarkChoice | None,
) -> dict[str, pd.DataFrame]:
    """``coverage`` (one row per security) and ``losses`` (one row per lost instance)."""
    from backtest.coverage import coverage_table, loss_table, used_instances

    used = used_instances(car, alignment.instances)
    losses = loss_table(alignment.instances, alignment.attrition, attrition, used)
    cov = coverage_table(
        alignment.instances,
        losses,
        used,
        panel.meta,
        universe,
        choice.chosen if choice is not None else None,
    )
    return {"coverage": cov, "losses": losses}


def sample_summary(tables: dict[str, pd.DataFrame]) -> tuple[str, ...]:
    """Three lines on the sample a run used (from its ``coverage`` and ``losses`` tables)."""
    from backtest.coverage import summary_lines, used_instances

    if "coverage" not in tables:
        return ()
    used = used_instances(tables["car"], tables["instances"])
    return summary_lines(tables["coverage"], tables["losses"], used)


def benchmark_notes(tables: dict[str, pd.DataFrame]) -> tuple[str, ...]:
    """Console lines for instances on a fallback benchmark or lost for want of one."""
    from backtest.coverage import benchmark_lines

    if "benchmarks" not in tables:
        return ()
    return tuple(benchmark_lines(tables["benchmarks"], tables["attrition"]))


def event_masks(catalog: Catalog, universe: Universe, stage: StageChoice) -> pd.DataFrame:
    """Day 0 of every catalog event (confounders included) on every security.

    The study masks each one's event span out of the estimation windows of the
    other events (policy ``mask_other_events``), so an estimation window never
    contains another event's reaction.
    """
    from backtest.align import AlignSpec, align

    every = align(catalog.events, universe, AlignSpec(stage=stage, coverage="all"))
    return every.instances[["security", "day0", "event_id"]]


def preload() -> None:
    """Import what both processes of a run need (pandas, scipy.special, the study engine,
    the exchange calendars: about 1.1 s), once, before the run forks its child."""
    import exchange_calendars  # noqa: F401

    import backtest.study.engine  # noqa: F401


def warm_backtest() -> None:
    """Import what :func:`backtest` needs (vectorbt takes seconds), ahead of its inputs."""
    import vectorbt  # noqa: F401

    import backtest.strategy.execution  # noqa: F401


def backtest(
    panel: PricePanel, universe: Universe, alignment: Alignment, spec: RunSpec
) -> dict[str, pd.DataFrame]:
    """The event strategy, its robustness sweeps and the benchmark comparison."""
    from backtest.strategy import robustness

    out = robustness(panel, alignment.instances, universe, spec.strategy_spec()).tables()
    out.update(legs_benchmark(panel, out["backtest_trades"], out["backtest_equity"]))
    return out


def intraday(catalog: Catalog, universe: Universe, spec: RunSpec) -> dict[str, pd.DataFrame]:
    """``intraday_reaction`` and ``intraday_paths`` from the spec's bar folders (none: {}).

    Every catalog event the folders cover, at the run's stage, benchmarked and
    scaled by :mod:`backtest.intraday` (the report's "minutes after the news").
    """
    if not spec.bars_dirs:
        return {}
    from backtest.intraday.run import intraday_tables

    return intraday_tables(
        catalog, spec.bars_dirs, tz=spec.bars_tz, stage=spec.stage, universe=universe
    )


TRADING_DAYS = 252


def legs_benchmark(
    panel: PricePanel, trades: pd.DataFrame, equity: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The equal-weight, always-on position in the strategy's own legs.

    Every session of the strategy's equity curve, long an equal weight of the
    securities the strategy ever bought and short an equal weight of those it
    ever sold (close-to-close returns of the names trading that session, no
    costs): what holding the same names without the event timing would have
    earned.  ``backtest_legs`` is its equity (start 1) and
    ``backtest_legs_metrics`` its total and annual return, annual volatility,
    Sharpe (mean over standard deviation of daily returns times sqrt(252)) and
    maximum drawdown.
    """
    import numpy as np
    import pandas as pd

    empty = {
        "backtest_legs": pd.DataFrame(columns=["date", "equity"]),
        "backtest_legs_metrics": pd.DataFrame(columns=["metric", "value"]),
    }
    if trades.empty or equity.empty or "side" not in trades.columns:
        return empty
    dates = pd.DatetimeIndex(sorted(pd.to_datetime(equity["date"].unique())))
    legs = []
    for side, sign in (("long", 1.0), ("short", -1.0)):
        names = sorted(set(trades.loc[trades["side"] == side, "security"]) & set(panel.symbols))
        if names:
            rets = pd.concat({n: panel.returns(n) for n in names}, axis=1)
            legs.append(sign * rets.reindex(dates).mean(axis=1).fillna(0.0))
    if not legs:
        return empty
    daily = sum(legs[1:], legs[0]).iloc[1:]
    curve = (1.0 + daily).cumprod()
    years = len(daily) / TRADING_DAYS
    total = float(curve.iloc[-1] - 1.0) if len(curve) else float("nan")
    sd = float(daily.std(ddof=1))
    metrics = {
        "total_return": total,
        "annual_return": float((1.0 + total) ** (1.0 / years) - 1.0) if years > 0 else np.nan,
        "annual_volatility": sd * np.sqrt(TRADING_DAYS),
        "sharpe": float(daily.mean() / sd * np.sqrt(TRADING_DAYS)) if sd > 0 else np.nan,
        "max_drawdown": float((curve / curve.cummax() - 1.0).min()) if len(curve) else np.nan,
    }
    return {
        "backtest_legs": pd.DataFrame({"date": curve.index, "equity": curve.to_numpy()}),
        "backtest_legs_metrics": pd.DataFrame(
            {"metric": list(metrics), "value": list(metrics.values())}
        ),
    }


GRID_MODELS = ("market", "market_adjusted", "constant_mean")
FF3 = ("Mkt-RF", "SMB", "HML")
GRID_POLICIES: tuple[tuple[str, bool], ...] = (("assumed", False), ("alternate", True))
"""Day-0 policies of the grid: the run's own alignment, and ``AlignSpec.alternate``."""


def grid_models(*, with_factors: bool) -> tuple[str, ...]:
    """The grid's normal-return models; Fama-French three-factor when factors are given."""
    return GRID_MODELS + (("ff3",) if with_factors else ())


def grid_tests() -> tuple[str, ...]:
    """The naive cross-sectional t (the reference that over-rejects) and the registry's
    lead tests that need no random draws (placebo and bootstraps are in the main study)."""
    from backtest.study.registry import TESTS, lead_tests

    return (
        "cross_sectional_t",
        *(t for t in lead_tests() if t in TESTS and not t.endswith("bootstrap")),
    )


GRID_GROUPS = ("us_incumbent", "cn_substitute")


def _grid_row(level: str, event: str) -> bool:
    """The rows of a study's tests the grid reports: tightening events pooled (signed),
    and the tightening spread pooled."""
    return (event == "direction=tightening,signed" and level == "pooled") or (
        event == "direction=tightening" and level == "spread_pooled"
    )


def spec_grid(
    panel: PricePanel,
    universe: Universe,
    catalog: Catalog,
    spec: RunSpec,
    *,
    alignment: Alignment | None = None,
    masks: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tightening-event statistics over model x window x test x day-0 policy.

    Day-0 policy ``assumed`` places date-only stages by the authority's business
    hours; ``alternate`` uses the other plausible day 0 (after the close of
    business).  With Fama-French factors, a Fama-French three-factor model (raw
    returns on Mkt-RF, SMB, HML; US securities only) joins the models.  Placebo
    draws are off here; the main study carries them.  ``alignment`` (the run's own,
    i.e. policy ``assumed``) and ``masks`` are reused when given instead of being
    computed again.  The grid is :func:`assemble_grid` of every policy's
    :func:`grid_parts`.
    """
    return assemble_grid(
        grid_parts(panel, universe, catalog, spec, alignment=alignment, masks=masks)
    )


def grid_parts(
    panel: PricePanel,
    universe: Universe,
    catalog: Catalog,
    spec: RunSpec,
    *,
    alignment: Alignment | None = None,
    masks: pd.DataFrame | None = None,
    which: Iterable[int] | None = None,
) -> dict[int, list[pd.DataFrame]]:
    """The rows of :func:`spec_grid` of each day-0 policy ``which`` names (positions in
    :data:`GRID_POLICIES`; all when None): a frame per model, by position.  ``which`` is
    consumed lazily, one policy at a time, so two processes can share the policies by
    claiming them (:class:`backtest.background.Claims`)."""
    from backtest.align import align
    from backtest.inputs import load_factors
    from backtest.study.engine import study_tests
    from backtest.study.spec import StudySpec

    out: dict[int, list[pd.DataFrame]] = {}
    returns_of: dict[tuple[str, ...], StudyInputs] = {}
    for k in range(len(GRID_POLICIES)) if which is None else which:
        if not out:  # read once there is a policy to compute
            factors = load_factors(spec)
            models = grid_models(with_factors=factors is not None)
            if masks is None:
                masks = event_masks(catalog, universe, spec.stage)
        policy, alternate = GRID_POLICIES[k]
        want = spec.align_spec(alternate=alternate)
        if alignment is not None and alignment.spec == want:
            al = alignment
        else:
            al = align(catalog.events, universe, want)
        al = dataclasses.replace(
            al, instances=al.instances[al.instances["group"].isin(GRID_GROUPS)]
        )
        sample: tuple[StudyInputs, BenchmarkChoice] | None = None
        rows = []
        for model in models:
            kind = {"model": "factor", "factors": FF3} if model == "ff3" else {"model": model}
            sspec = StudySpec(
                **kind,
                estimation=spec.estimation,
                windows=spec.windows,
                placebo_draws=0,
                daily_tests=(),
                tests=grid_tests(),
            )
            # The sample and benchmarks depend on the policy, not on the model: chosen
            # once per policy; only the reported rows of the tests are computed.
            if sample is None:
                sample = study_sample(
                    panel,
                    universe,
                    al,
                    catalog,
                    sspec,
                    factors,
                    spec.min_confidence,
                    returns_of=returns_of,
                )
            inputs, choice = sample
            keep = study_tests(
                choice.instances,
                inputs.returns,
                inputs.market,
                sspec,
                masks=masks,
                keep=_grid_row,
            )
            rows.append(keep.assign(model=model, policy=policy))
        out[k] = rows
    return out


def assemble_grid(parts: Mapping[int, list[pd.DataFrame]]) -> pd.DataFrame:
    """The grid from its policies' rows (:func:`grid_parts`), in the order of
    :data:`GRID_POLICIES` whichever process computed each."""
    import pandas as pd

    rows = [frame for k in sorted(parts) for frame in parts[k]]
    if not rows:
        return pd.DataFrame()
    grid = pd.concat(rows, ignore_index=True)
    grid["row"] = grid["group"] + " | " + grid["model"] + " | " + grid["policy"]
    grid["col"] = grid["window"] + " " + grid["test"]
    return grid[
        ["row", "col", "group", "model", "policy", "window", "test", "statistic", "pvalue", "n"]
    ]


def plant_check(
    planted: pd.DataFrame, ar: pd.DataFrame, instances: pd.DataFrame, plants: Any
) -> pd.DataFrame:
    """Planted vs estimated for every planted effect of a synthetic run.

    Per plant (match, group) and component (day 0; drift over days +1..+k), over
    the instances the plant applies to (group, and direction or event type equal
    to ``match``) that have ARs: the planted effect summed from the planted table
    (same-day events add up) against the estimated AR (day 0) or CAR (+1..+k),
    each averaged within day-0 dates first (instances of one date share noise);
    the standard error is across dates.
    """
    import numpy as np
    import pandas as pd

    cols = [
        "match",
        "group",
        "component",
        "planted",
        "estimated",
        "se",
        "n_instances",
        "n_clusters",
    ]
    if planted.empty or ar.empty:
        return pd.DataFrame(columns=cols)
    p = planted.assign(date=pd.to_datetime(planted["date"]))
    tot = p.groupby(["security", "date"])["effect"].sum()
    a = ar.assign(date=pd.to_datetime(ar["date"]))
    rows = []
    for plant in plants:
        hit = instances[
            (instances["group"] == plant.group)
            & ((instances["direction"] == plant.match) | (instances["event_type"] == plant.match))
        ]
        keys = set(zip(hit["event_id"], hit["security"], strict=True))
        sub = a[[k in keys for k in zip(a["event_id"], a["security"], strict=True)]]
        comps = [("day 0", 0, 0)]
        if plant.drift_sessions and plant.drift:
            comps.append((f"drift, days +1..+{plant.drift_sessions}", 1, plant.drift_sessions))
        for name, lo, hi in comps:
            w = sub[sub["rel_day"].between(lo, hi)]
            w = w.assign(
                planted=[tot.get(k, 0.0) for k in zip(w["security"], w["date"], strict=True)]
            )
            per = w.groupby(["event_id", "security"]).agg(
                est=("ar", "sum"), pl=("planted", "sum"), n=("ar", "size")
            )
            per = per[per["n"] == hi - lo + 1]
            if per.empty:
                continue
            day0 = sub[sub["rel_day"] == 0].set_index(["event_id", "security"])["date"]
            per = per.assign(cluster=day0.reindex(per.index).to_numpy())
            day = per.groupby("cluster")[["est", "pl"]].mean()
            n_c = len(day)
            rows.append(
                {
                    "match": plant.match,
                    "group": plant.group,
                    "component": name,
                    "planted": float(day["pl"].mean()),
                    "estimated": float(day["est"].mean()),
                    "se": float(day["est"].std(ddof=1) / np.sqrt(n_c)) if n_c > 1 else np.nan,
                    "n_instances": len(per),
                    "n_clusters": n_c,
                }
            )
    return pd.DataFrame(rows, columns=cols)
