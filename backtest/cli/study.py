"""`mib study` commands: parse options, call the study engine, write and print results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backtest.cli.options import (
    DEFAULT_OUT_ROOT,
    DEFAULT_PLACEBO,
    DEFAULT_SEED,
    DEFAULT_STAGE,
    DemoOpt,
    FromCacheOpt,
    LaggedUsOpt,
    LogOpt,
    LogVersionOpt,
    PlaceboOpt,
    PricesDirOpt,
    SeedOpt,
    StageOpt,
    UniverseFileOpt,
    VerboseOpt,
    at_least,
)

if TYPE_CHECKING:
    from backtest.pipeline import RunSpec
    from backtest.study.results import StudyResult
    from backtest.study.spec import StudySpec

app = typer.Typer(no_args_is_help=True)


def _register_intraday() -> None:
    from backtest.cli.intraday_cmd import register_study

    register_study(app)


_register_intraday()

STUDY_OPTIONS: dict[str, str] = {
    "min_estimation_obs": "--min-obs",
    "placebo_draws": "--placebo",
    "seed": "--seed",
    "estimation": "--estimation",
    "windows": "--window",
    "model": "--model",
    "missing": "--missing",
    "overlap": "--overlap",
    "lagged_us": "--lagged-us",
}
"""StudySpec fields and the option that sets each (errors name the option)."""


def _min_obs(value: int | None) -> int | None:
    """--min-obs: at least 3 estimation observations (two parameters and a residual)."""
    if value is None:
        return None
    return at_least(value, "--min-obs", 3, "estimation observations")


@app.callback()
def _study() -> None:
    """Event studies: abnormal returns and tests."""


@app.command("run")
def run(
    returns: Annotated[
        Path | None,
        typer.Option("--returns", help="wide date x security returns CSV (bring-your-own mode)"),
    ] = None,
    benchmark: Annotated[
        Path | None,
        typer.Option(
            "--benchmark", help="benchmark returns CSV: one shared column or one per security"
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option("--events", help="events CSV: event_id, security, day0 [, group, event_type]"),
    ] = None,
    estimation: Annotated[
        str, typer.Option("--estimation", help="estimation window START:END in relative sessions")
    ] = "-250:-11",
    window: Annotated[
        list[str] | None, typer.Option("--window", help="event window START:END (repeatable)")
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="market | constant_mean | market_adjusted "
            "(estudy2 names sim, mean_adj, mrkt_adj also accepted)",
        ),
    ] = "market",
    conventions: Annotated[
        str, typer.Option("--conventions", help="textbook (Campbell-Lo-MacKinlay) | estudy2")
    ] = "textbook",
    min_obs: Annotated[
        int | None,
        typer.Option(
            "--min-obs",
            callback=_min_obs,
            help="fewest estimation observations (default 120; under "
            "--conventions estudy2, estudy2's own rule: 3, i.e. every "
            "security it can fit)",
        ),
    ] = None,
    log_returns: Annotated[
        bool, typer.Option("--log-returns", help="the returns are log returns (affects BHAR)")
    ] = False,
    missing: Annotated[
        str,
        typer.Option(
            "--missing",
            help="missing event-window returns: require_day0 (skip a missing "
            "day, but no CAR for a window whose day 0 is missing) | drop_day "
            "(skip every missing day, day 0 included) | drop_instance (drop "
            "the instance)",
        ),
    ] = "require_day0",
    overlap: Annotated[
        str,
        typer.Option(
            "--overlap",
            help="a security-day shared by several events, in pooled statistics: "
            "merge (once; excluded when their expected signs conflict) | "
            "first | drop",
        ),
    ] = "merge",
    placebo: PlaceboOpt = DEFAULT_PLACEBO,
    seed: SeedOpt = DEFAULT_SEED,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="catalog mode: parent folder of run folders, the run goes to "
            "DIR/<run-id>/ (default reports/); bring-your-own mode: the output "
            "folder itself (required)",
        ),
    ] = None,
    demo: DemoOpt = False,
    prices_dir: PricesDirOpt = None,
    from_cache: FromCacheOpt = False,
    stage: StageOpt = DEFAULT_STAGE,
    log: LogOpt = None,
    log_version: LogVersionOpt = None,
    universe: UniverseFileOpt = None,
    lagged_us: LaggedUsOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run an event study and write ar.csv, car.csv, tests.csv, attrition.csv and run.json.

    Bring-your-own mode: --returns, --benchmark, --events.  Catalog mode (no --returns):
    the curated event log aligned to each exchange, with prices from --demo,
    --prices-dir, --from-cache or Yahoo Finance.
    """
    from backtest.cli.options import log_version_number, price_choice
    from backtest.errors import SpecError
    from backtest.runio import check_output_folder

    spec = _spec(
        estimation,
        window,
        model,
        conventions,
        min_obs,
        log_returns,
        missing,
        placebo,
        seed,
        overlap,
        lagged_us,
    )
    prices = price_choice(demo, prices_dir, from_cache)
    source = prices.source
    if returns is None:
        from backtest.cli.backtest import default_run_dir
        from backtest.runspec import RunSpec, stage_choice

        for flag, val in (("--benchmark", benchmark), ("--events", events)):
            if val is not None:
                raise SpecError(
                    "bring-your-own option without --returns",
                    field=flag,
                    expected="--returns R.csv --benchmark M.csv --events E.csv "
                    "together, or none of them (catalog mode)",
                )
        run = RunSpec(
            source=source,
            prices_dir=prices.spec_dirs,
            stage=stage_choice(stage),
            log_path=str(log) if log else None,
            log_version=log_version_number(log_version, log),
            universe_path=str(universe) if universe else None,
            seed=seed,
        )
        target = default_run_dir("study", source, seed, out or DEFAULT_OUT_ROOT)
        check_output_folder(target, field="--out", what="the study tables")
        _catalog_mode(spec, run, target, verbose=verbose)
        return
    if lagged_us:
        raise SpecError(
            "--lagged-us needs the catalog mode (the universe says which names trade in "
            "Asia and which benchmark is American)",
            field="--lagged-us",
            expected="no --returns, or a US column in your own regressors via the Python API",
        )
    if source != "yahoo":
        raise SpecError(
            "a price source has no use in bring-your-own mode",
            field="--demo/--prices-dir/--from-cache",
            expected="either --returns/--benchmark/--events or one price source",
        )
    for flag, val in (("--benchmark", benchmark), ("--events", events), ("--out", out)):
        if val is None:
            raise SpecError("option required in bring-your-own mode", field=flag)
    from backtest.api.study import event_study
    from backtest.byo_io import read_inputs

    assert benchmark is not None and events is not None and out is not None
    check_output_folder(out, field="--out", what="the study tables")
    inputs = read_inputs(returns, benchmark, events)
    result = event_study(inputs.returns_frame, inputs.benchmark, inputs.events, spec=spec)
    names = _write(
        result,
        out,
        {
            "mode": "bring-your-own",
            "inputs": {"returns": str(returns), "benchmark": str(benchmark), "events": str(events)},
        },
    )
    typer.echo(result.summary())
    typer.echo(f"tables: {out} ({', '.join(names)})")


def _write(result: StudyResult, out: Path, provenance: dict[str, object]) -> list[str]:
    """The study's files, staged beside ``out`` and moved in once complete."""
    from backtest.byo_io import write_outputs
    from backtest.runio import staged_folder

    with staged_folder(out) as stage:
        paths = write_outputs(result, stage, provenance)
    return [p.name for p in paths]


def _catalog_mode(spec: StudySpec, run: RunSpec, out: Path, *, verbose: bool = False) -> None:
    from backtest.cli.run import print_lines, step_printer
    from backtest.coverage import benchmark_lines
    from backtest.pipeline import prepare_inputs
    from backtest.steps import run_catalog_study
    from backtest.study.byo import require_survivors

    with step_printer() as say:
        say(
            "Loading the event log, aligning events to each exchange's sessions, loading "
            "prices" + (" (synthetic market)" if run.source == "demo" else "")
        )
        got = prepare_inputs(run)
        say("Running the event study")
        result, _, choice = run_catalog_study(
            got.panel, got.universe, got.alignment, got.catalog, spec, run.stage
        )
        require_survivors(result)
        say("Writing tables and provenance")
        names = _write(
            result,
            out,
            {
                "mode": "catalog",
                "source": run.source,
                "synthetic": got.panel.synthetic,
                "content_hash": got.panel.content_hash(),
                "log_version": str(got.catalog.version),
                "stage": run.stage,
            },
        )
    if got.panel.synthetic:
        typer.echo("SYNTHETIC DATA: simulated prices, not market data")
    print_lines(benchmark_lines(choice.chosen, choice.dropped))
    typer.echo(str(result.summary(full=verbose)))
    if not verbose:
        typer.echo("(lead tests only: every test is in tests.csv; --verbose prints them all)")
    typer.echo(f"tables: {out} ({', '.join(names)})")


def _spec(
    estimation: str,
    windows: list[str] | None,
    model: str,
    conventions: str,
    min_obs: int | None,
    log_returns: bool,
    missing: str,
    placebo: int,
    seed: int,
    overlap: str = "merge",
    lagged_us: bool = False,
) -> StudySpec:
    from typing import get_args

    from pydantic import ValidationError

    from backtest.api.study import model_name
    from backtest.errors import SpecError
    from backtest.study.spec import MissingPolicy, StudySpec, parse_window

    name = model_name(model, "--model")
    if conventions not in ("textbook", "estudy2"):
        raise SpecError(
            "unknown conventions",
            field="--conventions",
            value=conventions,
            expected="textbook | estudy2",
        )
    if missing not in get_args(MissingPolicy):
        raise SpecError(
            "unknown missing-day policy",
            field="--missing",
            value=missing,
            expected=" | ".join(get_args(MissingPolicy)),
        )
    if overlap not in ("merge", "first", "drop"):
        raise SpecError(
            "unknown overlap policy",
            field="--overlap",
            value=overlap,
            expected="merge | first | drop",
        )
    est = parse_window(estimation, field="--estimation")
    wins = tuple(parse_window(w, field="--window") for w in windows) if windows else None
    kw: dict[str, object] = {  # min_estimation_obs None: the conventions' own minimum
        "model": name,
        "lagged_us": lagged_us,
        "conventions": conventions,
        "estimation": est,
        "min_estimation_obs": min_obs,
        "returns": "log" if log_returns else "simple",
        "missing": missing,
        "placebo_draws": placebo,
        "seed": seed,
        "overlap": overlap,
    }
    if wins:
        kw["windows"] = wins
    try:
        return StudySpec.model_validate(kw)
    except ValidationError as exc:  # one line naming the option
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise SpecError(
            str(first["msg"]).removeprefix("Value error, "),
            field=STUDY_OPTIONS.get(field, f"study spec {field}".strip()),
            value=first.get("input") if not isinstance(first.get("input"), dict) else None,
        ) from None
