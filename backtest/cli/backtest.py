"""`mib backtest` commands: parse options, call the strategy engine, render, write tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backtest.cli.options import (
    DEFAULT_HOLD,
    DEFAULT_OUT_ROOT,
    DEFAULT_SEED,
    DEFAULT_STAGE,
    DemoOpt,
    FromCacheOpt,
    HoldOpt,
    LogOpt,
    LogVersionOpt,
    OutRootOpt,
    PricesDirOpt,
    SeedOpt,
    StageOpt,
    UniverseFileOpt,
    VerboseOpt,
)

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.pipeline import RunSpec
    from backtest.strategy import BacktestResult, RobustnessResult, StrategySpec
    from backtest.universe import Universe

app = typer.Typer(no_args_is_help=True)


def load_inputs(spec: RunSpec) -> tuple[PricePanel, pd.DataFrame, Universe]:
    """Panel, aligned instances and universe from the pipeline's shared first steps."""
    from backtest.pipeline import prepare_inputs

    got = prepare_inputs(spec)
    return got.panel, got.instances, got.universe


def _spec(
    strategy: str, hold: int, fees: float | None, lag: int, stop: float | None, hedge: bool
) -> StrategySpec:
    from backtest.strategy import Costs, StrategyError, StrategySpec

    if fees is not None and not 0.0 <= fees <= 500.0:
        raise StrategyError(
            "fee out of range",
            field="--fees",
            value=fees,
            expected="basis points between 0 and 500",
        )
    costs = Costs().with_fee(fees) if fees is not None else Costs()
    return StrategySpec.model_validate(
        {
            "strategy": strategy,
            "hold": hold,
            "entry_lag": lag,
            "stop_loss": stop,
            "hedge": hedge,
            "costs": costs,
        }
    )


def write_outputs(
    out: Path, result: BacktestResult, robust: RobustnessResult | None, panel: PricePanel
) -> None:
    """Tables (trades, metrics, equity, attrition, robustness) and ``run.json`` into ``out``.

    ``run.json`` lists every table file with its SHA-256 (:func:`backtest.steps.write_run`).
    """
    import datetime as dt

    from backtest import __version__
    from backtest.steps import write_run

    tables = robust.tables() if robust is not None else result.tables()
    write_run(
        out,
        tables,
        {
            "kind": "backtest",
            "version": __version__,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "spec": result.spec.model_dump(mode="json"),
            "policies": result.policies,
            "configurations_tried": result.n_configurations,
            "data": {"synthetic": panel.synthetic, "content_hash": panel.content_hash()},
        },
    )


def default_run_dir(kind: str, source: str, seed: int, root: Path = Path("reports")) -> Path:
    """``reports/<UTC time>-<kind>-<source>-s<seed>``, never an existing folder."""
    import datetime as dt

    base = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{kind}-{source}-s{seed}"
    path, k = root / base, 1
    while path.exists():
        k += 1
        path = root / f"{base}-{k}"
    return path


@app.command("run")
def run(
    strategy: Annotated[
        str, typer.Option(help="short_incumbents | long_substitutes | substitution_spread")
    ] = "substitution_spread",
    hold: HoldOpt = DEFAULT_HOLD,
    fees: Annotated[
        float | None,
        typer.Option(help="Fee in bps per order in every market (default: per-market defaults)."),
    ] = None,
    lag: Annotated[int, typer.Option(help="Extra sessions to wait before entering.")] = 0,
    stop: Annotated[float | None, typer.Option(help="Stop-loss as a fraction, e.g. 0.05.")] = None,
    hedge: Annotated[bool, typer.Option(help="Hedge every leg with its first benchmark.")] = False,
    robustness: Annotated[
        bool, typer.Option(help="Also sweep entry lag 0-5, hold 1-20 and leave each event out.")
    ] = True,
    demo: DemoOpt = False,
    prices_dir: PricesDirOpt = None,
    from_cache: FromCacheOpt = False,
    stage: StageOpt = DEFAULT_STAGE,
    log: LogOpt = None,
    log_version: LogVersionOpt = None,
    universe_file: UniverseFileOpt = None,
    seed: SeedOpt = DEFAULT_SEED,
    out: OutRootOpt = DEFAULT_OUT_ROOT,
    verbose: VerboseOpt = False,
) -> None:
    """Backtest a strategy on the aligned events, after costs and venue rules.

    Writes tables/ (parquet and CSV) and run.json into a new run folder under --out
    (default reports/<run-id>/); progress goes to stderr, a short summary and the path
    of the tables to stdout (the full robustness sweep with --verbose).
    """
    from backtest.cli.options import log_version_number, price_choice
    from backtest.cli.run import step_printer
    from backtest.runio import check_output_folder, staged_folder
    from backtest.runspec import RunSpec, stage_choice
    from backtest.strategy import robustness as sweep
    from backtest.strategy import run_backtest

    prices = price_choice(demo, prices_dir, from_cache)
    spec = _spec(strategy, hold, fees, lag, stop, hedge)
    run = RunSpec(
        source=prices.source,
        prices_dir=prices.spec_dirs,
        stage=stage_choice(stage),
        log_path=str(log) if log else None,
        log_version=log_version_number(log_version, log),
        universe_path=str(universe_file) if universe_file else None,
        seed=seed,
        hold=hold,
    )
    run_dir = default_run_dir("backtest", prices.source, seed, out)
    check_output_folder(run_dir, field="--out", what="the backtest tables")
    with step_printer() as say:
        say(
            "Loading the event log, aligning events to each exchange's sessions, loading "
            "prices" + (" (synthetic market)" if prices.source == "demo" else "")
        )
        panel, instances, universe = load_inputs(run)
        if robustness:
            say(
                f"Backtesting {spec.strategy} with robustness sweeps (entry lag 0-5, "
                "hold 1-20, leave one event out)"
            )
            robust = sweep(panel, instances, universe, spec)
            result = robust.base
        else:
            say(f"Backtesting {spec.strategy}")
            robust, result = None, run_backtest(panel, instances, universe, spec)
        say("Writing tables and provenance")
        with staged_folder(run_dir) as stage_dir:
            write_outputs(stage_dir, result, robust, panel)
    typer.echo(result.summary())
    if robust is not None:
        text = robust.summary()
        typer.echo("")
        typer.echo(text if verbose else text.splitlines()[0] + " (--verbose prints the sweep)")
    typer.echo(f"\ntables: {run_dir / 'tables'}")
