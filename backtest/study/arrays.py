"""The array contract between the study's model layer and its statistics layer.

Rows are event instances (one security x one event x one stage); columns are
relative days.  Missing or masked observations are NaN.  No pandas here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def window_label(start: int, end: int) -> str:
    """``[-1,+1]``-style label of the window [start, end], used in every output frame."""

    def f(x: int) -> str:
        return f"{x:+d}" if x else "0"

    return f"[{f(start)},{f(end)}]"


def column_nanmean(x: FloatArray) -> FloatArray:
    """Means of the columns of ``x`` over their finite entries; NaN where a column has none.

    The one nan-mean of the study (portfolios of instances, the spread, estudy2's
    cross-sectional means): rows are summed in order, then divided by their count.
    """
    ok = np.isfinite(x)
    cnt = ok.sum(axis=0)
    s = np.where(ok, x, 0.0).sum(axis=0)
    return np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)


@dataclass(frozen=True, slots=True)
class AbnormalReturns:
    """Abnormal returns of n instances, with what the tests need.

    est:       (n, L) estimation-window abnormal returns (OLS residuals for the
               market model), aligned on relative days ``est_days``.
    event:     (n, W) event-window abnormal returns on relative days ``rel_days``.
    n_est:     (n,) non-missing estimation observations L_i.
    k:         (n,) parameters of the normal-return model (0 market-adjusted,
               1 constant mean, 2 market model, 1 + factors for factor models).
    sigma:     (n,) residual standard deviation, sqrt(SSR_i / (L_i - k_i)).
    fe:        (n, W) forecast-error factor: Var(AR_it) = sigma_i**2 * fe_it
               (1 where the model has no estimated parameters).
    cluster:   (n,) integer id of the event-date cluster (instances of one event
               and stage that share a calendar date of day 0).
    """

    est: FloatArray
    event: FloatArray
    est_days: IntArray
    rel_days: IntArray
    n_est: IntArray
    k: IntArray
    sigma: FloatArray
    fe: FloatArray
    cluster: IntArray

    @property
    def n(self) -> int:
        return int(self.event.shape[0])

    def window_mask(self, start: int, end: int) -> npt.NDArray[np.bool_]:
        """Columns of ``event`` inside the window [start, end] (relative days)."""
        return (self.rel_days >= start) & (self.rel_days <= end)


@dataclass(frozen=True, slots=True)
class WindowCAR:
    """Cumulative abnormal returns of n instances over one window [start, end].

    car:      (n,) sum of the window's abnormal returns (NaN if none present).
    var:      (n,) estimated Var(CAR_i): sigma_i**2 * l'(I + X*(X'X)^-1 X*')l for
              OLS models (Campbell, Lo and MacKinlay 1997, eq. 4.4.9-4.4.11);
              sigma_i**2 * days for models without estimated parameters.
    days:     (n,) number of non-missing days that entered the sum.
    bhar:     (n,) buy-and-hold abnormal return prod(1+R) - prod(1+R_normal).
    """

    start: int
    end: int
    car: FloatArray
    var: FloatArray
    days: IntArray
    bhar: FloatArray

    @property
    def label(self) -> str:
        return window_label(self.start, self.end)

    @property
    def scar(self) -> FloatArray:
        """Standardised CAR, CAR_i / sqrt(Var CAR_i)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.car / np.sqrt(self.var)


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test: what it tests, its statistic, p-value and reference distribution.

    A test that cannot run (too few observations, zero variance) is returned
    with ``valid=False`` and a ``reason``; its statistic and p-value are NaN.
    """

    __test__ = False  # not a pytest test class, despite its name

    test: str
    statistic: float
    pvalue: float
    null: str
    distribution: str
    n: int
    valid: bool = True
    reason: str = ""

    @classmethod
    def invalid(cls, test: str, null: str, distribution: str, n: int, reason: str) -> TestResult:
        return cls(test, math.nan, math.nan, null, distribution, n, False, reason)

    def significant(self, level: float = 0.05) -> bool:
        return self.valid and self.pvalue < level


@dataclass(frozen=True, slots=True)
class DesignArrays:
    """Returns and regressors of n instances on relative days (NaN = missing).

    r_est (n, L), x_est (n, L, p): estimation window on ``est_days``.
    r_evt (n, W), x_evt (n, W, p): event span on ``rel_days``.
    colmask (n, p): regressor column j is used for instance i (optional columns
    such as the US lag exist only for some securities).
    evt_dates (n, W): session date of each event-span day (NaT outside the data).
    cluster (n,): id of the calendar cluster (same market and day-0 date; see
    :func:`backtest.study.design.calendar_clusters`).
    est_masked (n,): estimation days with a return that were masked because another
    event of the security (an instance or a ``masks`` row) covers them.
    """

    r_est: FloatArray
    x_est: FloatArray
    r_evt: FloatArray
    x_evt: FloatArray
    colmask: np.ndarray
    est_days: IntArray
    rel_days: IntArray
    evt_dates: np.ndarray
    cluster: IntArray
    columns: tuple[str, ...]
    est_masked: IntArray

    @property
    def n(self) -> int:
        return int(self.r_evt.shape[0])

    def take(self, keep: np.ndarray) -> DesignArrays:
        """The rows ``keep`` (boolean mask or integer index)."""
        return DesignArrays(
            self.r_est[keep],
            self.x_est[keep],
            self.r_evt[keep],
            self.x_evt[keep],
            self.colmask[keep],
            self.est_days,
            self.rel_days,
            self.evt_dates[keep],
            self.cluster[keep],
            self.columns,
            self.est_masked[keep],
        )
