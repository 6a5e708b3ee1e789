"""The study result: frozen, labelled, tidy frames; presentation only formats them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats as sst

from backtest.study.arrays import TestResult
from backtest.study.spec import StudySpec, window_label

if TYPE_CHECKING:
    from backtest.study.engine import Fitted

AR_COLUMNS = ("event_id", "security", "group", "rel_day", "date", "ar")
CAR_COLUMNS = (
    "event_id",
    "security",
    "group",
    "window",
    "car",
    "car_se",
    "bhar",
    "days",
    "t_stat",
    "t_pvalue",
)
TEST_COLUMNS = (
    "level",
    "event",
    "group",
    "window",
    "rel_day",
    "test",
    "statistic",
    "pvalue",
    "n",
    "null",
    "distribution",
    "valid",
    "reason",
)
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


@dataclass(frozen=True, slots=True)
class StudyResult:
    """Everything an event study produced.

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
        return len(self.params)

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

    def to_frame(self) -> pd.DataFrame:
        """The tests table (tidy; one row per level x event x group x window/day x test)."""
        return self.tests.copy()

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """CAAR confidence intervals from the portfolio (clustered-date) standard error.

        The interval is CAAR +- z_{(1+level)/2} se_portfolio (normal approximation);
        the cross-sectional interval, which ignores clustering, is given beside it.
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        z = float(sst.norm.ppf(0.5 + level / 2.0))
        out = self.caar.copy()
        out["lower"] = out["caar"] - z * out["se_portfolio"]
        out["upper"] = out["caar"] + z * out["se_portfolio"]
        out["lower_cross_section"] = out["caar"] - z * out["se_cross_section"]
        out["upper_cross_section"] = out["caar"] + z * out["se_cross_section"]
        return out

    def summary(self) -> str:
        """A plain-text summary: spec, attrition, and the window tests, clustering-robust first."""
        s = self.spec
        lines = [
            f"Event study: model={s.model} conventions={s.conventions} returns={s.returns}",
            f"estimation [{s.estimation[0]},{s.estimation[1]}], min obs {s.min_estimation_obs},"
            f" missing days: {s.missing}",
            "",
            "Attrition:",
        ]
        lines += [
            f"  {r.stage:<40s} {r.instances:>8d}" for r in self.attrition_summary().itertuples()
        ]
        win = self.tests[self.tests["window"] != ""]
        if len(win):
            from backtest.study.registry import ordered_tests

            order = {t: i for i, t in enumerate(ordered_tests())}  # lead tests first
            win = win.assign(_o=win["test"].map(lambda t: order.get(t, len(order))))
            win = win.sort_values(["level", "event", "group", "window", "_o"], kind="stable")
            lines += ["", "Window tests (clustering-robust tests first; p two-sided):"]
            lines.append(
                f"  {'level':<14s}{'event':<22s}{'group':<16s}{'window':<10s}"
                f"{'test':<24s}{'stat':>9s}{'p':>9s}{'n':>7s}"
            )
            for r in win.itertuples():
                stat = f"{r.statistic:9.3f}" if np.isfinite(r.statistic) else "      n/a"
                p = f"{r.pvalue:9.4f}" if np.isfinite(r.pvalue) else "      n/a"
                lines.append(
                    f"  {r.level:<14s}{str(r.event)[:21]:<22s}{r.group[:15]:<16s}"
                    f"{r.window:<10s}{r.test:<24s}{stat}{p}{int(r.n):7d}"
                    + ("" if r.valid else f"  ({r.reason})")
                )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------- labelling
# The one step that attaches labels to the kernel arrays (``f`` is engine.Fitted).


def test_row(
    level: str, event: str, group: str, window: str, rel_day: int | None, r: TestResult
) -> tuple:
    """A row of the tests table from a :class:`TestResult`."""
    return (
        level,
        event,
        group,
        window,
        rel_day,
        r.test,
        r.statistic,
        r.pvalue,
        r.n,
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
            "group": lab["group"].to_numpy()[rep],
            "rel_day": np.tile(f.ar.rel_days, n)[keep],
            "date": pd.to_datetime(f.arrays.evt_dates.ravel()[keep]),
            "ar": ev.ravel()[keep],
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
                    "group": f.labels["group"].to_numpy(),
                    "window": window_label(w.start, w.end),
                    "car": w.car,
                    "car_se": np.sqrt(w.var),
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
