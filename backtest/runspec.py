"""The run specification: one frozen, typed spec, validated once at the boundary.

:class:`RunSpec` holds every option of ``mib run`` (and of the commands that
share its first steps).  Its string options are ``Literal`` choices taken from
the layer that owns them (:data:`backtest.alignment.spec.StageChoice`,
:data:`backtest.study.spec.ModelName`, :data:`backtest.strategy.spec.StrategyName`),
and it builds each layer's own spec (:meth:`RunSpec.align_spec`,
:meth:`RunSpec.study_spec`, :meth:`RunSpec.strategy_spec`), so a run and its
layers cannot disagree and nothing downstream re-validates a string.

This module imports only specs; loading data is :mod:`backtest.inputs`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backtest.alignment.spec import AlignSpec, Coverage, StageChoice
from backtest.errors import SpecError
from backtest.strategy.spec import DEFAULT_HOLD, StrategyName, StrategySpec
from backtest.study.spec import DEFAULT_SEED, StudySpec
from backtest.synth import Plant

Source = Literal["demo", "yahoo", "csv", "cache"]
RunModel = Literal["market", "market_adjusted", "constant_mean"]
"""Normal-return models a run's main study can use: the :data:`~backtest.study.spec.ModelName`
choices that need nothing but prices and the security's benchmark (``factor`` needs
factor columns, which the main study is not given; the robustness grid adds FF3)."""
MinConfidence = Literal["low", "medium", "high"]
Overlap = Literal["merge", "first", "drop"]

# The demo's planted effects: tightening pushes US incumbents down on day 0 and
# lifts Chinese substitutes with a short drift; easing does the opposite to
# incumbents.  Tests and the report read them back from the run.
DEMO_PLANTS: tuple[Plant, ...] = (
    Plant(match="tightening", group="us_incumbent", day0=-0.03),
    Plant(match="tightening", group="cn_substitute", day0=0.02, drift=0.005, drift_sessions=3),
    Plant(match="easing", group="us_incumbent", day0=0.02),
)
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 1), (0, 1), (0, 5), (-5, 10))


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


def _choice(value: object, choices: tuple[str, ...], what: str, field: str) -> object:
    """``value`` if it is one of ``choices``, else a one-line :class:`SpecError`."""
    if isinstance(value, str) and value not in choices:
        raise SpecError(what, field=field, value=value, expected=", ".join(choices))
    return value


def stage_choice(value: str) -> StageChoice:
    """``value`` as a stage choice, or a one-line :class:`SpecError` naming ``--stage``."""
    choices = get_args(StageChoice)
    if value not in choices:
        raise SpecError(
            "unknown event stage", field="--stage", value=value, expected=", ".join(choices)
        )
    return cast(StageChoice, value)


class RunSpec(BaseModel):
    """Everything that defines a run; stored in ``run.json`` (``spec``, and each layer's
    spec under ``specs``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Source = "demo"
    # One directory, or several in priority order: each symbol's files are stitched on
    # returns (first wins where they overlap; see backtest.market.stitch).
    prices_dir: str | tuple[str, ...] | None = None
    factors_dir: str | None = None
    log_path: str | None = None
    log_version: int | None = None
    universe_path: str | None = None
    stage: StageChoice = "official"
    # Events below this confidence (and every confounder) get per-event results but
    # enter no pooled statistic (backtest.eventlog.pooling).
    min_confidence: MinConfidence = "medium"
    # A security-day shared by several events in pooled statistics (backtest.study.overlap).
    overlap: Overlap = "merge"
    seed: int = Field(default=DEFAULT_SEED, ge=0)
    plants: tuple[Plant, ...] = DEMO_PLANTS
    estimation: tuple[int, int] = (-250, -11)
    windows: tuple[tuple[int, int], ...] = DEFAULT_WINDOWS
    model: RunModel = "market"
    # The previous US session's return as one more slope for Chinese and Hong Kong names
    # (StudySpec.lagged_us; the column comes from backtest.returns.study_inputs).
    lagged_us: bool = False
    placebo_draws: int = Field(default=1000, ge=0)
    strategy: StrategyName = "substitution_spread"
    hold: int = Field(default=DEFAULT_HOLD, ge=1, le=60)
    start: str = "2018-01-02"
    end: str | None = None
    out_root: str = "reports"
    run_id: str | None = None
    pdf: bool = True
    # Optional intraday bar folders (priority order) and the zone of naive stamps:
    # the "minutes after the news" tables (backtest.intraday.run.intraday_tables).
    bars_dirs: tuple[str, ...] = ()
    bars_tz: str | None = None

    @field_validator("stage", mode="before")
    @classmethod
    def _known_stage(cls, value: object) -> object:
        return _choice(value, get_args(StageChoice), "unknown event stage", "--stage")

    @field_validator("model", mode="before")
    @classmethod
    def _known_model(cls, value: object) -> object:
        return _choice(value, get_args(RunModel), "unknown normal-return model", "--model")

    @field_validator("strategy", mode="before")
    @classmethod
    def _known_strategy(cls, value: object) -> object:
        return _choice(value, get_args(StrategyName), "unknown strategy", "--strategy")

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
    def _consistent(self) -> RunSpec:
        if self.end is not None and self.end <= self.start:
            raise SpecError(
                "the price history ends before it starts",
                field="end",
                value=self.end,
                expected=f"a day after start {self.start}",
            )
        self.study_spec()  # windows and estimation must make a study: fail here, not mid-run
        return self

    # -- the layer specs: built here, so the run and its layers agree ------------------

    def align_spec(self, *, alternate: bool = False, coverage: Coverage = "affected") -> AlignSpec:
        """Day 0 of the run's stage (``alternate``: the other plausible day 0 of date-only
        stages; ``coverage="all"``: every security for every event, for the masks)."""
        return AlignSpec(stage=self.stage, alternate=alternate, coverage=coverage)

    def study_spec(self) -> StudySpec:
        """The main study: the run's model, windows, placebo draws, seed and overlap policy."""
        return StudySpec(
            model=self.model,
            lagged_us=self.lagged_us,
            estimation=self.estimation,
            windows=self.windows,
            placebo_draws=self.placebo_draws,
            seed=self.seed,
            overlap=self.overlap,
        )

    def strategy_spec(self) -> StrategySpec:
        """The backtest: the run's strategy and holding period, every other option default."""
        return StrategySpec(strategy=self.strategy, hold=self.hold)

    def layer_specs(self) -> dict[str, Any]:
        """Each layer's spec as stored in ``run.json`` (``specs``); method notes read them."""
        return {
            "align": self.align_spec().model_dump(mode="json"),
            "study": self.study_spec().model_dump(mode="json"),
            "strategy": self.strategy_spec().model_dump(mode="json"),
        }
