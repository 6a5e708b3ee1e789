"""The study specification: a small frozen pydantic model validated once, at the boundary.

Everything that changes a number is here, with a named policy; the result
records the spec it was run with.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backtest.errors import SpecError
from backtest.study.arrays import window_label as window_label  # re-exported: the one labeller

ModelName = Literal["constant_mean", "market_adjusted", "market", "factor"]
"""Normal-return model.

constant_mean:    E[R_it] = mu_i (estimated mean over the estimation window).
market_adjusted:  E[R_it] = R_mt (no estimated parameters); R_mt is the security's own
                  benchmark column ``market_column`` (the first benchmark with prices
                  that the universe lists for it, or the analyst's benchmark column).
market:           E[R_it] = a_i + b_i R_mt (OLS; Campbell, Lo and MacKinlay 1997, 4.3.2).
factor:           E[R_it] = a_i + sum_j b_ij F_jt (OLS on the named factor columns).

``lagged_us`` adds, to market and factor, the previous US session's benchmark return as
one more slope (Dimson 1979) for the securities whose regressors carry it.
"""

DEFAULT_SEED = 7
"""Seed of every random draw of a study (placebo dates, cluster bootstraps), and of
``mib``'s ``--seed``."""

DEFAULT_BOOTSTRAP_DRAWS = 999
"""Draws of the cluster bootstraps: p-values on a grid of 1/1000."""

Conventions = Literal["textbook", "estudy2"]
"""textbook: residual variance SSR/(L-k), CLM forecast-error-corrected CAR variance.
estudy2: estudy2 0.10's choices (sd with n-1, no forecast-error term in CAR variance,
its own test statistics; see backtest.study.estudy2)."""

MissingPolicy = Literal["require_day0", "drop_day", "drop_instance"]
"""What a missing event-window return does to a CAR.

require_day0 (default): a missing day is skipped (the CAR sums the days present and
the number of days is reported), except day 0: an instance whose day-0 return is
missing gets no CAR in any window that contains day 0 (it stays in the windows that
do not, e.g. [-5,-1]).  drop_day: every missing day is skipped, day 0 included, so a
CAR may miss the event day itself.  drop_instance: an instance with any missing
event-window return goes to the attrition table."""

DEFAULT_MIN_ESTIMATION_OBS = 120
"""Fewest estimation observations under the textbook conventions."""

ESTUDY2_MIN_ESTIMATION_OBS = 3
"""Fewest estimation observations under the estudy2 preset, unless set explicitly.

estudy2 0.10 applies no minimum of its own: ``returns()`` fits every security on the
non-missing (mean_adj) or complete (sim, mrkt_adj) estimation days it has, and its
``estimation_length`` is that count.  mib's floor is 3 (below it the market model's
residual sd with n - 1 is identically zero), so the preset keeps every security
estudy2 keeps except those with 1 or 2 estimation observations."""

ReturnKind = Literal["simple", "log"]

TestName = Literal[
    "cross_sectional_t",
    "patell_z",
    "bmp_t",
    "kp_patell_z",
    "kp_bmp_t",
    "portfolio_t",
    "portfolio_cs_t",
    "corrado_rank",
    "generalized_sign",
    "grank_t",
    "wilcoxon",
    "cluster_bootstrap",
    "wild_cluster_bootstrap",
]
"""Every window test :mod:`backtest.study.registry` implements, in report order."""

DEFAULT_TESTS: tuple[str, ...] = get_args(TestName)
"""Window tests, by their names in :mod:`backtest.study.registry`."""

DEFAULT_DAILY_TESTS: tuple[str, ...] = ("cross_sectional_t", "bmp_t", "portfolio_t")
"""Tests of each single event day (the one-day window [t, t])."""


class StudySpec(BaseModel):
    """How to run an event study (frozen; validated on construction).

    Windows are inclusive pairs of relative days counted in the security's own
    sessions (day 0 = the first session that reflects the news).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: ModelName = "market"
    market_column: str = Field(default="market", description="regressor column of the market")
    factors: tuple[str, ...] = Field(default=(), description="factor columns (model='factor')")
    lagged_us: bool = Field(
        default=False,
        description="add the return of the last US session that closed before the "
        "security's session opened as one more slope (Dimson 1979), for securities whose "
        "regressors carry `us_lag_column` (Chinese and Hong Kong names: "
        "backtest.returns.previous_us_return); model market or factor",
    )
    us_lag_column: str = "us_market_prev"
    estimation: tuple[int, int] = (-250, -11)
    windows: tuple[tuple[int, int], ...] = ((-1, 1), (0, 1), (0, 5), (-5, 10))
    min_estimation_obs: int = Field(
        default=DEFAULT_MIN_ESTIMATION_OBS,
        ge=3,
        description="fewest estimation observations; when not given, 120 (textbook) or "
        "ESTUDY2_MIN_ESTIMATION_OBS (conventions='estudy2', estudy2's own rule)",
    )
    mask_window: tuple[int, int] = Field(
        default=(-1, 1),
        description="days around another event's day 0 (the security's other instances and "
        "`masks` rows) dropped from an estimation window (policy "
        "mask_other_events); (0, -1) masks nothing",
    )
    returns: ReturnKind = "simple"
    missing: MissingPolicy = "require_day0"
    overlap: Literal["merge", "first", "drop"] = Field(
        default="merge",
        description="a security-day shared by several events in pooled statistics: merge "
        "(once; excluded if expected signs conflict), first, or drop (see "
        "backtest.study.overlap)",
    )
    conventions: Conventions = "textbook"
    placebo_draws: int = Field(default=1000, ge=0)
    placebo_windows: tuple[tuple[int, int], ...] = Field(
        default=(), description="windows with placebo inference (default: all windows)"
    )
    placebo_statistic: Literal["caar", "bmp"] = Field(
        default="bmp",
        description="statistic recomputed on pseudo-event dates: bmp (mean standardised "
        "CAR, default: it holds its size under event-induced variance, see "
        "backtest.study.properties) or caar",
    )
    placebo_min_dates: int = Field(
        default=20,
        ge=1,
        description="fewest distinct event-free pseudo dates per cluster for a valid placebo",
    )
    seed: int = Field(
        default=DEFAULT_SEED, ge=0, description="seed of the placebo draws and the bootstraps"
    )
    tests: tuple[str, ...] = DEFAULT_TESTS
    daily_tests: tuple[str, ...] = DEFAULT_DAILY_TESTS
    bootstrap_draws: int = Field(
        default=DEFAULT_BOOTSTRAP_DRAWS,
        ge=99,
        description="draws of the event-level (cluster) bootstraps",
    )
    spread: tuple[str, str] = Field(
        default=("cn_substitute", "us_incumbent"),
        description="substitution spread: first group minus second group",
    )
    percentage: float = Field(
        default=90.0, ge=0, le=100, description="estudy2 CAR tests keep days with 100 n_t/N > this"
    )

    @model_validator(mode="before")
    @classmethod
    def _preset_min_obs(cls, data: object) -> object:
        """An unset (or None) minimum follows the conventions: estudy2's own rule under
        the estudy2 preset (ESTUDY2_MIN_ESTIMATION_OBS), else 120; a given value is kept."""
        if isinstance(data, dict) and data.get("min_estimation_obs") is None:
            preset = data.get("conventions") == "estudy2"
            return {
                **data,
                "min_estimation_obs": ESTUDY2_MIN_ESTIMATION_OBS
                if preset
                else DEFAULT_MIN_ESTIMATION_OBS,
            }
        return data

    @field_validator("estimation")
    @classmethod
    def _est(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] > v[1]:
            raise ValueError(f"estimation window start {v[0]} is after its end {v[1]}")
        return v

    @field_validator("windows", "placebo_windows")
    @classmethod
    def _wins(cls, v: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        for a, b in v:
            if a > b:
                raise ValueError(f"event window [{a},{b}]: start is after end")
        return tuple(dict.fromkeys(v))

    @model_validator(mode="after")
    def _consistent(self) -> StudySpec:
        if not self.windows:
            raise ValueError("at least one event window is required")
        first = min(a for a, _ in self.windows)
        if self.estimation[1] >= first:
            raise ValueError(
                f"estimation window {list(self.estimation)} overlaps the event window "
                f"starting at {first}; the estimation window must end before it"
            )
        if self.model == "factor" and not self.factors:
            raise ValueError("model 'factor' needs at least one factor column")
        if self.lagged_us and self.model not in ("market", "factor"):
            raise ValueError(
                f"lagged_us adds an estimated slope; model '{self.model}' estimates none "
                "(use model 'market' or 'factor')"
            )
        if self.min_estimation_obs > self.estimation[1] - self.estimation[0] + 1:
            raise ValueError(
                f"min_estimation_obs={self.min_estimation_obs} exceeds the estimation "
                f"window length {self.estimation[1] - self.estimation[0] + 1}"
            )
        return self

    @property
    def event_span(self) -> tuple[int, int]:
        """The smallest range of relative days covering every event window."""
        return min(a for a, _ in self.windows), max(b for _, b in self.windows)

    @property
    def placebo_targets(self) -> tuple[tuple[int, int], ...]:
        return self.placebo_windows or self.windows


_WINDOW_RE = re.compile(r"^\s*([+-]?\d+)\s*:\s*([+-]?\d+)\s*$")


def parse_window(text: str, *, field: str = "window") -> tuple[int, int]:
    """Parse ``"-250:-11"`` into ``(-250, -11)``; raise :class:`SpecError` otherwise."""
    m = _WINDOW_RE.match(text)
    if m is None:
        raise SpecError(
            "not a window",
            field=field,
            value=text,
            expected="START:END with integer relative days, e.g. -1:1",
        )
    a, b = int(m.group(1)), int(m.group(2))
    if a > b:
        raise SpecError(
            "window start is after its end", field=field, value=text, expected="START <= END"
        )
    return a, b
