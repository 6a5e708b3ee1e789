"""Parametric tests of abnormal returns: time-series t, cross-sectional t, Patell, BMP.

Every test is a pure function of the arrays in :mod:`backtest.study.arrays` and
returns a :class:`TestResult`.  The window-level tests work on one
:class:`WindowCAR`; a daily test is the same function applied to the one-day
window [t, t].  Instances whose inputs are NaN are dropped and the number used
is reported as ``n``; a test that cannot run returns ``TestResult.invalid``.

Conventions (textbook, Campbell, Lo and MacKinlay 1997, ch. 4):

* ``sigma_i`` is the residual standard deviation with L_i - k_i degrees of
  freedom and ``WindowCAR.var`` the forecast-error-corrected Var(CAR_i); the
  standardised CAR is SCAR_i = CAR_i / sqrt(var_i).
* All p-values are two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from backtest.study.arrays import AbnormalReturns, FloatArray, IntArray, TestResult, WindowCAR

#: Fewest instances for a test that estimates a cross-sectional variance.
MIN_CROSS_SECTION = 2


def null_text(w: WindowCAR, what: str = "CAAR") -> str:
    """The null hypothesis in words, e.g. ``"CAAR[-1,+1] = 0"`` or ``"AAR[+1] = 0"``."""
    if w.start == w.end:
        day = f"{w.start:+d}".replace("+0", "0")
        name = "AR" if what == "CAR" else "AAR"
        return f"{name}[{day}] = 0"
    return f"{what}{w.label} = 0"


def select(n: int, idx: IntArray | None) -> IntArray:
    """Row indices of the instances in a group (all rows when ``idx`` is None).

    ``idx`` may be integer positions or a boolean mask of length n.
    """
    if idx is None:
        return np.arange(n, dtype=np.int64)
    idx = np.asarray(idx)
    if idx.dtype == np.bool_:
        return np.flatnonzero(idx).astype(np.int64)
    return idx.astype(np.int64)


def two_sided_t(stat: float, dof: float) -> float:
    """2 P(T > |stat|), T ~ t(dof) (scipy.special.stdtr: cheap for scalars)."""
    return float(2.0 * special.stdtr(dof, -abs(stat)))


def two_sided_z(stat: float) -> float:
    """2 P(Z > |stat|), Z ~ N(0,1)."""
    return float(2.0 * special.ndtr(-abs(stat)))


def day_window(ar: AbnormalReturns, day: int) -> WindowCAR:
    """The one-day window [day, day], for the daily version of every window test.

    car = AR on that day, var = sigma^2 * fe (the forecast-error-corrected
    Var(AR)), days = 1 where present; a one-day BHAR is the AR itself.
    """
    cols = np.flatnonzero(ar.rel_days == day)
    n = ar.n
    if cols.size == 0:
        nan = np.full(n, np.nan)
        return WindowCAR(day, day, nan, nan, np.zeros(n, dtype=np.int64), nan)
    a = ar.event[:, cols[0]]
    var = ar.sigma**2 * ar.fe[:, cols[0]]
    return WindowCAR(day, day, a, var, np.isfinite(a).astype(np.int64), a.copy())


# --------------------------------------------------------------------------- time series


@dataclass(frozen=True, slots=True)
class InstanceT:
    """Time-series t of every instance: CAR_i / sqrt(Var CAR_i) ~ t(L_i - k_i).

    Arrays of length n; NaN where the instance has no CAR or no variance.
    """

    statistic: FloatArray
    pvalue: FloatArray
    dof: IntArray


def time_series_t_all(ar: AbnormalReturns, w: WindowCAR) -> InstanceT:
    """Vectorised per-instance time-series t (Campbell, Lo and MacKinlay 1997, eq. 4.4.12)."""
    dof = (ar.n_est - ar.k).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where((w.var > 0) & (dof > 0), w.car / np.sqrt(w.var), np.nan)
        p = 2.0 * special.stdtr(np.maximum(dof, 1), -np.abs(stat))  # = 2 t.sf(|stat|)
    return InstanceT(stat, np.where(np.isfinite(stat), p, np.nan), dof)


def time_series_t(ar: AbnormalReturns, w: WindowCAR, i: int) -> TestResult:
    """Time-series t of instance ``i``: t = CAR_i / sqrt(Var CAR_i), t(L_i - k_i)."""
    name, null = "time_series_t", null_text(w, "CAR") + f" (instance {i})"
    dof = int(ar.n_est[i] - ar.k[i])
    dist = f"t({dof})"
    car, var = float(w.car[i]), float(w.var[i])
    if not math.isfinite(car):
        return TestResult.invalid(name, null, dist, 0, "no abnormal return in the window")
    if dof < 1:
        return TestResult.invalid(name, null, dist, 1, f"L - k = {dof} < 1")
    if not (math.isfinite(var) and var > 0):
        return TestResult.invalid(name, null, dist, 1, "zero or missing CAR variance")
    stat = car / math.sqrt(var)
    return TestResult(name, stat, two_sided_t(stat, dof), null, dist, 1)


# --------------------------------------------------------------------------- cross section


def _finite(x: FloatArray, rows: IntArray) -> FloatArray:
    v = x[rows]
    return v[np.isfinite(v)]


def cross_sectional_t(ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None = None) -> TestResult:
    """Cross-sectional t: CAAR / (s_CAR / sqrt n), t(n - 1).

    s_CAR is the cross-sectional standard deviation of the CARs (n - 1
    denominator).  Assumes independent instances: over-rejects when event
    dates are clustered (Brown and Warner 1985; Kolari and Pynnönen 2010).
    """
    car = _finite(w.car, select(ar.n, idx))
    return _mean_t("cross_sectional_t", null_text(w), car, "CARs")


def mean_sd(x: FloatArray) -> tuple[float, float]:
    """``(np.mean(x), np.std(x, ddof=1))`` of a 1-D array with n >= 2, bit for bit: the
    same ufunc reductions in the same order, without the wrappers' per-call overhead
    (a tenth of a millisecond, paid by tens of thousands of small tests a run)."""
    n = x.shape[0]
    total = np.add.reduce(x)
    dev = x - total / n
    var = float(np.add.reduce(dev * dev)) / (n - 1)
    return float(total) / n, math.sqrt(var)


def _mean_t(name: str, null: str, x: FloatArray, what: str) -> TestResult:
    n = int(x.size)
    mean, sd = mean_sd(x) if n >= MIN_CROSS_SECTION else (math.nan, math.nan)
    return mean_t_result(name, null, n, mean, sd, what)


def mean_t_result(name: str, null: str, n: int, mean: float, sd: float, what: str) -> TestResult:
    """The t of a mean, mean / (sd / sqrt n) ~ t(n - 1), from the mean and sd of n values
    (:func:`mean_sd`); invalid with the reason when n < 2 or sd is not positive."""
    dist = f"t({n - 1})"
    if n < MIN_CROSS_SECTION:
        return TestResult.invalid(name, null, dist, n, f"n = {n} < {MIN_CROSS_SECTION} {what}")
    if not sd > 0:
        return TestResult.invalid(name, null, dist, n, f"zero cross-sectional variance of {what}")
    stat = mean / (sd / math.sqrt(n))
    return TestResult(name, stat, two_sided_t(stat, n - 1), null, dist, n)


@dataclass(frozen=True, slots=True)
class Standardised:
    """SCARs of the usable instances of a group, with their L_i - k_i."""

    rows: IntArray
    scar: FloatArray
    dof: FloatArray


def standardised(ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None) -> Standardised:
    """The standardised CARs of a group, dropping instances without CAR or variance."""
    rows = select(ar.n, idx)
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = w.car[rows] / np.sqrt(w.var[rows])
    ok = np.isfinite(scar) & (w.var[rows] > 0)
    rows = rows[ok]
    return Standardised(rows, scar[ok], (ar.n_est[rows] - ar.k[rows]).astype(np.float64))


def patell_z(ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None = None) -> TestResult:
    """Patell (1976) Z: sum_i SCAR_i / sqrt(sum_i (L_i - k_i) / (L_i - k_i - 2)), N(0,1).

    Each SCAR_i is t(L_i - k_i) distributed under the null with variance
    (L_i - k_i) / (L_i - k_i - 2) (Patell 1976, eq. 8; the CAR form in Campbell,
    Lo and MacKinlay 1997, eq. 4.4.24 with the forecast-error-corrected
    variance).  Needs L_i - k_i > 2.
    """
    name, null, dist = "patell_z", null_text(w), "N(0,1)"
    s = standardised(ar, w, idx)
    n = int(s.scar.size)
    if n < 1:
        return TestResult.invalid(name, null, dist, n, "no instance with a CAR and its variance")
    if np.any(s.dof <= 2):
        return TestResult.invalid(name, null, dist, n, "L - k <= 2 for some instance")
    stat = float(np.sum(s.scar) / math.sqrt(np.sum(s.dof / (s.dof - 2.0))))
    return TestResult(name, stat, two_sided_z(stat), null, dist, n)


def bmp_t(ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None = None) -> TestResult:
    """Boehmer, Musumeci and Poulsen (1991) standardised cross-sectional t.

    t = mean(SCAR) / (s_SCAR / sqrt n) with s_SCAR the cross-sectional sd of the
    SCARs (n - 1 denominator), t(n - 1) (BMP 1991, eq. 3 with SCAR in place of
    the one-day SR).  Robust to event-induced variance, not to cross-correlation.
    """
    s = standardised(ar, w, idx)
    return _mean_t("bmp_t", null_text(w), s.scar, "SCARs")
