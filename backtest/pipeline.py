"""The whole run: catalog -> alignment -> prices -> study -> backtest -> tables -> report.

Each step is one call into the module that owns it; this module only wires
them, records provenance and writes the run folder.  Prices come from exactly
the source the spec names: a real run never falls back to synthetic prices.
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backtest import __version__
from backtest.errors import SpecError
from backtest.synth import Plant

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.universe import Universe

Source = Literal["demo", "yahoo", "csv", "cache"]
Progress = Callable[[str], None]

# The demo's planted effects: tightening pushes US incumbents down on day 0 and
# lifts Chinese substitutes with a short drift; easing does the opposite to
# incumbents.  Tests and the report read them back from the run.
DEMO_PLANTS: tuple[Plant, ...] = (
    Plant(match="tightening", group="us_incumbent", day0=-0.03),
    Plant(match="tightening", group="cn_substitute", day0=0.02, drift=0.005, drift_sessions=3),
    Plant(match="easing", group="us_incumbent", day0=0.02),
)
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 1), (0, 1), (0, 5), (-5, 10))
# Free space a run folder needs before the run starts (the demo's is ~15 MB with its PDF).
RUN_FOLDER_BYTES = 64_000_000


def parse_day(text: str, field: str) -> dt.date:
    """A calendar day written ``YYYY-MM-DD``; anything else is a :class:`SpecError`."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise SpecError(
            "not a date", field=field, value=text, expected="YYYY-MM-DD, a real calendar day"
        ) from None


def check_seed(seed: int, field: str = "--seed") -> int:
    """Seeds of ``numpy.random.default_rng`` are integers >= 0."""
    if seed < 0:
        raise SpecError(
            "seed must not be negative", field=field, value=seed, expected="an integer >= 0"
        )
    return seed


def price_source(
    *, demo: bool = False, prices_dirs: Sequence[Path] = (), from_cache: bool = False
) -> Source:
    """The one price source the options name: the shared check of every command.

    Naming two sources is an error, never a silent pick; each ``--prices-dir`` must
    be an existing directory.  None named means Yahoo Finance.
    """
    dirs = list(prices_dirs)
    given = [
        flag
        for flag, on in (
            ("--demo", demo),
            ("--prices-dir", bool(dirs)),
            ("--from-cache", from_cache),
        )
        if on
    ]
    if len(given) > 1:
        raise SpecError(
            "choose one price source",
            field="--demo/--prices-dir/--from-cache",
            value=" ".join(given),
            expected="at most one of them",
        )
    for d in dirs:
        if not Path(d).is_dir():
            raise SpecError(
                "prices directory not found",
                field="--prices-dir",
                value=str(d),
                expected="an existing directory of CSV files",
            )
    return "demo" if demo else "csv" if dirs else "cache" if from_cache else "yahoo"


class RunSpec(BaseModel):
    """Everything that defines a run; stored in ``run.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Source = "demo"
    # One directory, or several in priority order: each symbol's files are stitched on
    # returns (first wins where they overlap; see backtest.market.stitch).
    prices_dir: str | tuple[str, ...] | None = None
    factors_dir: str | None = None
    log_path: str | None = None
    log_version: int | None = None
    universe_path: str | None = None
    stage: str = "official"
    # Events below this confidence (and every confounder) get per-event results but
    # enter no pooled statistic (backtest.eventlog.pooling).
    min_confidence: Literal["low", "medium", "high"] = "medium"
    # A security-day shared by several events in pooled statistics (backtest.study.overlap).
    overlap: Literal["merge", "first", "drop"] = "merge"
    seed: int = Field(default=7, ge=0)
    plants: tuple[Plant, ...] = DEMO_PLANTS
    estimation: tuple[int, int] = (-250, -11)
    windows: tuple[tuple[int, int], ...] = DEFAULT_WINDOWS
    model: str = "market"
    placebo_draws: int = Field(default=1000, ge=0)
    strategy: str = "substitution_spread"
    hold: int = Field(default=5, ge=1, le=60)
    start: str = "2018-01-02"
    end: str | None = None
    out_root: str = "reports"
    run_id: str | None = None
    pdf: bool = True

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, value: str) -> str:
        from backtest.alignment.spec import STAGE_CHOICES

        if value not in STAGE_CHOICES:
            raise SpecError(
                "unknown event stage",
                field="--stage",
                value=value,
                expected=", ".join(STAGE_CHOICES),
            )
        return value

    @field_validator("log_path")
    @classmethod
    def _log_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise SpecError(
                "event log not found",
                field="--log",
                value=value,
                expected="an existing event log file (see events/README.md)",
            )
        return value

    @field_validator("start", "end")
    @classmethod
    def _is_day(cls, value: str | None, info: Any) -> str | None:
        if value is not None:
            parse_day(value, info.field_name)
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> RunSpec:
        if self.end is not None and self.end <= self.start:
            raise SpecError(
                "the price history ends before it starts",
                field="end",
                value=self.end,
                expected=f"a day after start {self.start}",
            )
        return self


@dataclass(frozen=True)
class RunOutcome:
    """Where a finished run was written."""

    run_dir: Path
    html: Path
    pdf: Path | None
    tables: tuple[str, ...]
    summary: tuple[str, ...] = ()  # the sample used: events, securities, biggest losses
    notes: tuple[str, ...] = ()  # fallback benchmarks and other choices to say aloud


def _noop(_: str) -> None:
    return None


def new_run_id(spec: RunSpec, now: dt.datetime) -> str:
    """A sortable, unique-enough id: UTC time, source and seed."""
    return spec.run_id or f"{now:%Y%m%dT%H%M%S}-{spec.source}-s{spec.seed}"


def load_prices_for(
    spec: RunSpec, universe: Universe, instances: pd.DataFrame
) -> tuple[PricePanel, pd.DataFrame]:
    """Prices from the source the spec names, and the planted table (empty unless demo)."""
    import pandas as pd

    if spec.source == "demo":
        from backtest.synth import SynthSpec, make_market

        end = spec.end or SynthSpec().end
        market = make_market(
            universe,
            instances,
            SynthSpec(seed=spec.seed, start=spec.start, end=end, plants=spec.plants),
        )
        return market.panel, market.planted
    from backtest.market import load_prices

    panel = load_prices(
        spec.source,
        list(universe.symbols),
        universe=universe,
        prices_dir=spec.prices_dir,
        start=spec.start,
        end=spec.end,
    )
    return panel, pd.DataFrame()


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "mib": __version__}
    for name in (
        "numpy",
        "pandas",
        "scipy",
        "exchange-calendars",
        "vectorbt",
        "numba",
        "yfinance",
        "pydantic",
        "matplotlib",
        "weasyprint",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def load_factors(spec: RunSpec) -> pd.DataFrame | None:
    """Fama-French daily factors from ``spec.factors_dir`` (every Ken French CSV in it)."""
    if spec.factors_dir is None:
        return None
    from backtest.errors import InputFileError
    from backtest.market import load_ff_factors

    files = sorted(Path(spec.factors_dir).glob("F-F_*daily*.csv"))
    if not files:
        raise InputFileError(
            "no Ken French daily factor files (F-F_*daily*.csv)",
            file=spec.factors_dir,
            expected="the files from Ken French's "
            "data library, e.g. F-F_Research_Data_Factors_daily.csv",
        )
    three = [f for f in files if "5_Factors" not in f.name] or files
    return load_ff_factors(three)


@dataclass(frozen=True)
class Inputs:
    """What every analysis step starts from: catalog, universe, alignment and prices."""

    catalog: Any
    universe: Universe
    alignment: Any
    panel: PricePanel
    planted: pd.DataFrame

    @property
    def instances(self) -> pd.DataFrame:
        return self.alignment.instances


def prepare_inputs(spec: RunSpec) -> Inputs:
    """Catalog at the spec's log version, its alignment, and prices from the spec's source."""
    from backtest import steps

    catalog, universe = steps.load_inputs(spec)
    alignment = steps.align_events(catalog, universe, spec)
    panel, planted = load_prices_for(spec, universe, alignment.instances)
    return Inputs(catalog, universe, alignment, panel, planted)


def demo_inputs(seed: int = 7) -> Inputs:
    """Inputs on the synthetic market with the demo's planted effects."""
    return prepare_inputs(RunSpec(source="demo", seed=seed))


def run_folder(spec: RunSpec, now: dt.datetime) -> Path:
    """``<out_root>/<run-id>``; an automatic id never reuses an existing folder."""
    root = Path(spec.out_root)
    base = new_run_id(spec, now)
    path, k = root / base, 1
    while spec.run_id is None and path.exists():
        k += 1
        path = root / f"{base}-{k}"
    return path


def run_pipeline(spec: RunSpec, progress: Progress | None = None) -> RunOutcome:
    """Run every step and write ``<out_root>/<run-id>/``; returns the paths written.

    The output folder is checked before any computation (writable, room for a run
    folder); the run folder is written into a hidden folder beside it and renamed
    into place at the end, so a failure leaves a complete run folder or none.
    """
    from backtest import steps
    from backtest.runio import check_output_folder, staged_folder

    say = progress or _noop
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run_dir = run_folder(spec, now)
    check_output_folder(run_dir, field="--out", need_bytes=RUN_FOLDER_BYTES, what="a run folder")
    tables: dict[str, Any] = {}
    say(
        "Loading the event log, aligning events to each exchange's sessions, loading prices"
        + (" (synthetic market)" if spec.source == "demo" else "")
    )
    inputs = prepare_inputs(spec)
    catalog, universe, alignment = inputs.catalog, inputs.universe, inputs.alignment
    panel, planted = inputs.panel, inputs.planted
    tables["events"] = steps.events_table(catalog)
    tables.update(steps.data_tables(panel, universe, alignment, planted))
    say("Running the event study")
    # Every catalog event's day 0 on every security, aligned once and shared by the
    # main study and every study of the robustness grid.
    masks = steps.event_masks(catalog, universe, spec.stage)
    study = steps.study(
        panel, universe, alignment, catalog, spec, masks=masks, findings=tables["findings"]
    )
    tables.update(study)
    if not planted.empty:
        tables["plant_check"] = steps.plant_check(
            planted, study["ar"], alignment.instances, spec.plants
        )
    say("Robustness: model x window x test x day-0 policy")
    tables["spec_grid"] = steps.spec_grid(
        panel, universe, catalog, spec, alignment=alignment, masks=masks
    )
    say("Backtesting the event strategy (vectorbt)")
    tables.update(steps.backtest(panel, universe, alignment, spec))
    say("Writing tables and provenance")
    manifest = steps.manifest(spec, catalog, panel, universe, now, run_dir.name)
    from backtest.report.build import build_report

    with staged_folder(run_dir, replace=True) as stage:
        steps.write_run(stage, tables, manifest)
        say("Building the HTML and PDF report")
        files = build_report(stage, pdf=spec.pdf)
    return RunOutcome(
        run_dir=run_dir,
        html=run_dir / files.html.name,
        pdf=run_dir / files.pdf.name if files.pdf is not None else None,
        tables=tuple(sorted(tables)),
        summary=steps.sample_summary(tables),
        notes=steps.benchmark_notes(tables),
    )
