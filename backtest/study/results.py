"""The study result: frozen, labelled, tidy frames; presentation (backtest.api) only formats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from backtest.study.arrays import TestResult
from backtest.study.spec import StudySpec, window_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from backtest.api.summary import Summary
    from backtest.study.fitted import Fitted

AR_COLUMNS = ("event_id", "security", "rel_day", "date", "ar", "group")
"""Columns of :attr:`StudyResult.ar` and ``ar.csv``, in the README's stable order."""
CAR_COLUMNS = (
    "event_id",
    "security",
    "window",
    "car",
    "car_se",
    "group",
    "bhar",
    "days",
    "t_stat",
    "t_pvalue",
)
"""Columns of :attr:`StudyResult.car` and ``car.csv``, in the README's stable order."""
TEST_COLUMNS = (
    "level",
    "group",
    "window",
    "rel_day",
    "test",
    "statistic",
    "pvalue",
    "n",
    "event",
    "null",
    "distribution",
    "valid",
    "reason",
)
"""Columns of :attr:`StudyResult.tests` and ``tests.csv``, in the README's stable order."""
CAAR_COLUMNS = (
    "level",
    "event",
    "group",
    "window",
    "n",
    "clusters",
    "caar",
    "se_cross_section",
    "se_portfolio",
)


POOL_KEY = ("pool", "window", "test")
"""Index of :attr:`StudyResult.pvalues` and :attr:`StudyResult.tstats`."""

FRAME_KINDS = (
    "tests",
    "ar",
    "car",
    "bhar",
    "caar",
    "pooled",
    "attrition",
    "params",
    "overlaps",
    "instances",
    "pvalues",
)
"""What :meth:`StudyResult.to_frame` can return."""


def pool_label(level: str, event: str, group: str) -> str:
    """The label of one tested set of instances: ``"<level> <event> / <group>"``.

    >>> pool_label("pooled", "direction=tightening,signed", "*")
    'pooled direction=tightening,signed / *'
    """
    return f"{level} {event} / {group}"


@dataclass(frozen=True, slots=True)
class StudyResult:
    """Everything an event study produced (frozen; every property returns a new frame).

    ar:        one row per instance x relative day (event_id, security, group, rel_day,
               date, ar); days without a return are absent.
    car:       one row per instance x window: car, car_se (sqrt of the CAR variance
               under the conventions), bhar, days present, and the instance's
               time-series t and p-value.
    tests:     one row per test: level ('event', 'pooled', 'spread_event',
               'spread_pooled', 'estudy2'), event (event id, event type or '*'),
               group, window (or '' for a daily test) and rel_day (or NA).
    caar:      CAAR per level x event x group x window with the cross-sectional and
               portfolio (clustered-date) standard errors.
    attrition: dropped instances with the reason.
    params:    per instance: alpha, slopes (beta_<column>), sigma, n_est, k, and
               est_masked (estimation days masked because of other events).
    overlaps:  security-days shared by several events and what the overlap policy
               decided for pooled statistics (see backtest.study.overlap).
    instances: the instances used (event_id, security, group, day0, direction,
               expected_sign, exchange, pool, cluster): who entered pools, and the
               calendar cluster each belongs to.

    Labelled views: :attr:`pvalues` and :attr:`tstats` (Series indexed by pool,
    window and test), :attr:`pooled` (the event-level t across calendar clusters),
    :attr:`bhar`; presentation: :meth:`summary`, :meth:`plot_caar`,
    :meth:`plot_paths`; export: :meth:`to_frame`.
    """

    spec: StudySpec
    ar: pd.DataFrame
    car: pd.DataFrame
    tests: pd.DataFrame
    caar: pd.DataFrame
    attrition: pd.DataFrame
    params: pd.DataFrame
    n_input: int
    overlaps: pd.DataFrame | None = None
    instances: pd.DataFrame | None = None

    @property
    def n_used(self) -> int:
        """Instances that entered the study (after attrition)."""
        return len(self.params)

    @property
    def bhar(self) -> pd.DataFrame:
        """Buy-and-hold abnormal returns: one row per instance x window."""
        cols = ["event_id", "security", "group", "window", "bhar", "days"]
        return self.car.loc[:, cols].copy()

    @property
    def pooled(self) -> pd.DataFrame:
        """Pooled CARs with the calendar cluster as the unit (``event_t``).

        One row per direction x expected sign (``-1``, ``+1``, ``signed``: CAR times
        the expected sign, and ``spread``) x group x window: mean_car, se, t, pvalue
        (two-sided, t(n_clusters - 1)), n_events, n_clusters, n_instances.  See
        :func:`backtest.summaries.pooled_car`.  Empty when the instances are unknown.
        """
        from backtest.summaries import POOLED_COLUMNS, pooled_car

        if self.instances is None or self.car.empty:
            return pd.DataFrame(columns=["direction", *POOLED_COLUMNS])
        return pooled_car(self.car, self.instances, by="direction", spread=self.spec.spread)

    def _labelled(self, column: str) -> pd.Series:
        t = self.lead_frame(all_tests=True)
        index = pd.MultiIndex.from_frame(t.loc[:, list(POOL_KEY)])
        return pd.Series(t[column].to_numpy(dtype=float), index=index, name=column)

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-value of every window test, indexed by (pool, window, test).

        ``pool`` is :func:`pool_label` of the test's level, event and group; the
        event-level t across calendar clusters (:attr:`pooled`) appears as test
        ``event_t`` of the signed and spread pools.  Daily tests stay in :attr:`tests`.
        """
        return self._labelled("pvalue")

    @property
    def tstats(self) -> pd.Series:
        """The statistic of every window test (t, z or rank statistic; its reference
        distribution is in :attr:`tests`), indexed like :attr:`pvalues`."""
        return self._labelled("statistic")

    def lead_frame(self, *, all_tests: bool = False) -> pd.DataFrame:
        """Window tests with their pool label, registry order (lead tests first).

        Columns: pool, level, event, group, window, test, statistic, pvalue, n,
        distribution, valid, reason, lead (the registry's lead tests,
        :func:`backtest.study.registry.lead_tests`).  ``all_tests=False`` keeps
        the lead tests only.
        """
        from backtest.api.summary import labelled_tests

        return labelled_tests(self, all_tests=all_tests)

    def attrition_summary(self) -> pd.DataFrame:
        """Instances in, dropped for each reason, used."""
        rows = [("input", self.n_input)]
        counts = self.attrition["reason"].value_counts(sort=False)
        rows += [(f"dropped: {r}", int(c)) for r, c in counts.items()]
        rows.append(("used", self.n_used))
        if "est_masked" in self.params and len(self.params):
            rows.append(
                ("estimation days masked (other events)", int(self.params["est_masked"].sum()))
            )
        return pd.DataFrame(rows, columns=["stage", "instances"])

    def to_frame(self, kind: str = "tests") -> pd.DataFrame:
        """One of the result's tables as a new DataFrame.

        kind: one of :data:`FRAME_KINDS` (default ``tests``: one row per level x event
        x group x window/day x test); ``pvalues`` is the labelled window tests
        (:meth:`lead_frame` with every test).  Raises :class:`SpecError` for another kind.
        """
        from backtest.errors import SpecError

        frames = {
            "tests": lambda: self.tests,
            "ar": lambda: self.ar,
            "car": lambda: self.car,
            "bhar": lambda: self.bhar,
            "caar": lambda: self.caar,
            "pooled": lambda: self.pooled,
            "attrition": lambda: self.attrition,
            "params": lambda: self.params,
            "overlaps": lambda: self.overlaps if self.overlaps is not None else pd.DataFrame(),
            "instances": lambda: self.instances if self.instances is not None else pd.DataFrame(),
            "pvalues": lambda: self.lead_frame(all_tests=True),
        }
        if kind not in frames:
            raise SpecError(
                "unknown table", field="kind", value=kind, expected=" | ".join(FRAME_KINDS)
            )
        return frames[kind]().copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """CAAR confidence intervals from the portfolio (clustered-date) standard error.

        The interval is CAAR +- z_{(1+level)/2} se_portfolio (normal approximation);
        the cross-sectional interval, which ignores clustering, is given beside it.
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        z = float(special.ndtri(0.5 + level / 2.0))  # the normal quantile
        out = self.caar.copy()
        out["lower"] = out["caar"] - z * out["se_portfolio"]
        out["upper"] = out["caar"] + z * out["se_portfolio"]
        out["lower_cross_section"] = out["caar"] - z * out["se_cross_section"]
        out["upper_cross_section"] = out["caar"] + z * out["se_cross_section"]
        return out

    def summary(self, *, full: bool = False) -> Summary:
        """A compact summary: the sample, the lead tests per pool and window, the
        placebo p-value and warnings (about 40 lines at most).

        ``full=True`` lists every window test instead of the lead tests.  The result
        prints as text (``print(result.summary())``) and renders as a table in a
        notebook (``_repr_html_``).
        """
        from backtest.api.summary import build_summary

        return build_summary(self, full=full)

    def plot_caar(self, pool: str | None = None, *, band: float = 0.95) -> Figure:
        """The CAAR path of one pool over relative days, with a confidence band.

        pool: a label of :attr:`pvalues` (e.g. ``"event <event_id> / <group>"`` or
        ``"pooled direction=tightening,signed / *"``); None = the summary's first
        pool.  Returns a matplotlib Figure; the global backend is never changed.
        """
        from backtest.api.plots import plot_caar

        return plot_caar(self, pool, band=band)

    def plot_paths(self, event_id: str | None = None) -> Figure:
        """CAAR paths of every event x group (or of one event) on one figure."""
        from backtest.api.plots import plot_paths

        return plot_paths(self, event_id)

    def __str__(self) -> str:
        return str(self.summary())


# --------------------------------------------------------------------------- labelling
# The one step that attaches labels to the kernel arrays (``f`` is engine.Fitted).


def test_row(
    level: str, event: str, group: str, window: str, rel_day: int | None, r: TestResult
) -> tuple[object, ...]:
    """A row of the tests table from a :class:`TestResult` (in :data:`TEST_COLUMNS` order)."""
    return (
        level,
        group,
        window,
        rel_day,
        r.test,
        r.statistic,
        r.pvalue,
        r.n,
        event,
        r.null,
        r.distribution,
        r.valid,
        r.reason,
    )


def attrition_with(
    attrition: pd.DataFrame, labels: pd.DataFrame, reason: str, detail: str
) -> pd.DataFrame:
    """The attrition table with the instances ``labels`` added for ``reason``."""
    extra = labels[["event_id", "security", "day0", "group"]].assign(reason=reason, detail=detail)
    if not len(attrition):
        return extra.reset_index(drop=True)
    return pd.concat([attrition, extra], ignore_index=True)


def ar_frame(f: Fitted) -> pd.DataFrame:
    """Tidy ARs: one row per instance x event day with a return."""
    lab, ev = f.labels, f.ar.event
    n, w = ev.shape
    keep = np.isfinite(ev).ravel()
    rep = np.repeat(np.arange(n), w)[keep]
    return pd.DataFrame(
        {
            "event_id": lab["event_id"].to_numpy()[rep],
            "security": lab["security"].to_numpy()[rep],
            "rel_day": np.tile(f.ar.rel_days, n)[keep],
            "date": pd.to_datetime(f.arrays.evt_dates.ravel()[keep]),
            "ar": ev.ravel()[keep],
            "group": lab["group"].to_numpy()[rep],
        }
    )


def car_frame(f: Fitted, spec: StudySpec) -> pd.DataFrame:
    """Tidy CARs: one row per instance x window, with the instance's time-series t."""
    from backtest.study.stats import time_series_t_all

    parts = []
    for w in f.windows:
        ts = time_series_t_all(f.ar, w)
        parts.append(
            pd.DataFrame(
                {
                    "event_id": f.labels["event_id"].to_numpy(),
                    "security": f.labels["security"].to_numpy(),
                    "window": window_label(w.start, w.end),
                    "car": w.car,
                    "car_se": np.sqrt(w.var),
                    "group": f.labels["group"].to_numpy(),
                    "bhar": w.bhar,
                    "days": w.days,
                    "t_stat": ts.statistic,
                    "t_pvalue": ts.pvalue,
                }
            )
        )
    if not parts or not f.ar.n:
        return pd.DataFrame(columns=list(CAR_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def params_frame(f: Fitted) -> pd.DataFrame:
    """Per instance: alpha, one beta per slope column, sigma, n_est, k."""
    fit = f.fit.fit
    out = f.labels[["event_id", "security", "group", "day0"]].copy()
    out["alpha"] = fit.alpha
    for j, name in enumerate(f.slope_names):
        out[f"beta_{name}"] = np.where(fit.colmask[:, j], fit.coef[:, j], np.nan)
    out["sigma"] = f.ar.sigma
    out["n_est"] = f.ar.n_est
    out["k"] = f.ar.k
    out["est_masked"] = f.arrays.est_masked
    return out
