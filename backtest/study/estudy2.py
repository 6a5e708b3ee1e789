"""Test statistics under estudy2's conventions (the ``estudy2`` preset).

Re-implemented from the formulas documented for estudy2 0.10.0 (Rudnytskyi,
R package; see ``reference/estudy2/README.md`` section 4), on event-time arrays:
rows are securities (instances), columns relative days.  When every instance
shares day 0, event time is estudy2's calendar time.

estudy2 quirks copied on purpose (so that the preset reproduces its numbers):
* the cross-sectional "sum" Σ*_t x = (N / n_t) Σ_{i non-missing} x_it (Patell, the
  sign, Corrado sign, rank, modified-rank and Wilcoxon statistics);
* every sd uses n - 1, including the OLS residual sd (Patell, Boehmer);
* Patell's denominator sums (L_i - 2)/(L_i - 4) over all N securities, and its
  market mean and Sxx use every estimation day where the market is present;
* Lamb uses the first security's market series;
* CAR tests sum daily statistics over the days with 100 n_t / N > percentage
  and divide by sqrt(days).
estudy2's event window is the span of the study's windows: its daily rank-type tests
rank over estimation + that span (estudy2's definition), while ``car_rank_test`` ranks
over estimation + the one CAR window, so a window's CAR tests do not depend on which
other windows are requested.  estudy2 reports no p-values; like the reference, the
Wilcoxon p is 2 min(psignrank(V, n'), psignrank(V - 1, n', lower.tail = FALSE)) with
R's rounding of a non-integer V (:func:`signrank_pvalue`).
References: Brown and Warner (1980, 1985); Patell (1976); Boehmer, Musumeci and
Poulsen (1991); Lamb (1995); Cowan (1992); Corrado (1989); Corrado and Zivney (1992);
Wilcoxon (1945).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats as sst

from backtest.study.arrays import FloatArray, IntArray, TestResult
from backtest.study.ranks import signrank_cdfs as signrank_cdfs  # the one exact null of W+
from backtest.study.spec import StudySpec, window_label

if TYPE_CHECKING:
    from backtest.study.fitted import Fitted


@dataclass(frozen=True, slots=True)
class Estudy2Input:
    """ARs and market series of N securities.

    ar_est (N, LE) estimation ARs; ar_evt (N, W) event ARs; m_est, m_evt the
    market regressor on the same days (present even where the security's return is
    missing); n_est (N,) estudy2's estimation_length; sim: the market model (Patell,
    Boehmer and Lamb need it).
    """

    ar_est: FloatArray
    ar_evt: FloatArray
    m_est: FloatArray
    m_evt: FloatArray
    n_est: IntArray
    sim: bool


@dataclass(frozen=True, slots=True)
class DailyStat:
    """One estudy2 daily test over the W event days."""

    name: str
    statistic: FloatArray
    pvalue: FloatArray
    n: IntArray
    distribution: list[str]
    valid: bool = True
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CarStat:
    """One estudy2 CAR (whole-window) test."""

    name: str
    statistic: float
    pvalue: float
    days: int
    car_mean: float
    distribution: str
    valid: bool = True
    reason: str = ""


def _two_sided(stat: np.ndarray, dist: str, df: np.ndarray | float | None) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if dist == "t":
            return np.asarray(2.0 * sst.t.sf(np.abs(stat), df), dtype=np.float64)
        return np.asarray(2.0 * sst.norm.sf(np.abs(stat)), dtype=np.float64)


def _sum_star(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """estudy2's Σ*: rowMeans(x, na.rm=TRUE) * ncol, per column of an (N, T) array."""
    n = (~np.isnan(x)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(x, axis=0) * x.shape[0] / n, n


def _nanmean0(x: np.ndarray) -> np.ndarray:
    n = (~np.isnan(x)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.nansum(x, axis=0) / n, dtype=np.float64)


def _nansd(x: np.ndarray, axis: int) -> np.ndarray:
    n = (~np.isnan(x)).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.nansum(x, axis=axis, keepdims=True) / np.expand_dims(n, axis)
        return np.asarray(np.sqrt(np.nansum((x - m) ** 2, axis=axis) / (n - 1)), dtype=np.float64)


def _s85(x: Estudy2Input) -> float:
    return float(_nansd(_nanmean0(x.ar_est)[None, :], axis=1)[0])


def _market_terms(m_est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and centred sum of squares of each row's market series over E (present days)."""
    mbar = np.nanmean(m_est, axis=1)
    sxx = np.nansum((m_est - mbar[:, None]) ** 2, axis=1)
    return mbar, sxx


def _sar(x: Estudy2Input) -> np.ndarray:
    s = _nansd(x.ar_est, axis=1)
    mbar, sxx = _market_terms(x.m_est)
    c = 1.0 + 1.0 / x.n_est[:, None] + (x.m_evt - mbar[:, None]) ** 2 / sxx[:, None]
    return np.asarray(x.ar_evt / (s[:, None] * np.sqrt(c)), dtype=np.float64)


def parametric(x: Estudy2Input) -> list[DailyStat]:
    """BW1980, BW1985, t-test, Patell, Boehmer and Lamb for each event day."""
    N = x.ar_evt.shape[0]
    n_t = (~np.isnan(x.ar_evt)).sum(axis=0)
    aar = _nanmean0(x.ar_evt)
    lbar = float(np.mean(x.n_est))
    s80 = math.sqrt(float(np.nansum(_nansd(x.ar_est, axis=1) ** 2))) / N
    s85 = _s85(x)
    out = []
    bw80 = aar / s80
    out.append(
        DailyStat(
            "brown_warner_1980",
            bw80,
            _two_sided(bw80, "t", lbar - 1),
            n_t,
            [f"t({lbar - 1:g})"] * len(aar),
        )
    )
    bw85 = aar / s85
    out.append(
        DailyStat(
            "brown_warner_1985",
            bw85,
            _two_sided(bw85, "t", lbar - 1),
            n_t,
            [f"t({lbar - 1:g})"] * len(aar),
        )
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        tt = aar / _nansd(x.ar_evt, axis=0) * np.sqrt(n_t)
    out.append(
        DailyStat("t_test", tt, _two_sided(tt, "t", n_t - 1), n_t, [f"t({k - 1})" for k in n_t])
    )
    if not x.sim:
        why = "estudy2 runs Patell, Boehmer and Lamb for the market model only"
        nan = np.full(len(aar), np.nan)
        for name in ("patell", "boehmer", "lamb"):
            out.append(DailyStat(name, nan, nan, n_t, [""] * len(aar), False, why))
        return out
    sar = _sar(x)
    sum_sar, _ = _sum_star(sar)
    pt = sum_sar / math.sqrt(float(np.sum((x.n_est - 2) / (x.n_est - 4))))
    out.append(DailyStat("patell", pt, _two_sided(pt, "norm", None), n_t, ["N(0,1)"] * len(aar)))
    with np.errstate(invalid="ignore", divide="ignore"):
        bh = _nanmean0(sar) / _nansd(sar, axis=0) * np.sqrt(n_t)
    out.append(
        DailyStat("boehmer", bh, _two_sided(bh, "t", n_t - 1), n_t, [f"t({k - 1})" for k in n_t])
    )
    mbar, sxx = _market_terms(x.m_est[:1])
    lamb = aar / (s85 * np.sqrt(1.0 + 1.0 / lbar + (x.m_evt[0] - mbar[0]) ** 2 / sxx[0]))
    out.append(DailyStat("lamb", lamb, _two_sided(lamb, "norm", None), n_t, ["N(0,1)"] * len(aar)))
    return out


def _norm_stat(name: str, stat: np.ndarray, n_t: np.ndarray) -> DailyStat:
    return DailyStat(name, stat, _two_sided(stat, "norm", None), n_t, ["N(0,1)"] * len(stat))


def _full_period(x: Estudy2Input) -> tuple[np.ndarray, int]:
    """F = E ∪ W (estimation days followed by event days) and the first event column."""
    return np.concatenate([x.ar_est, x.ar_evt], axis=1), x.ar_est.shape[1]


def _ranks(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average-tie ranks within each row (NaN kept) and T_i, the non-missing count."""
    return sst.rankdata(f, axis=1, nan_policy="omit"), (~np.isnan(f)).sum(axis=1)


def nonparametric(x: Estudy2Input) -> list[DailyStat]:
    """Sign, generalized sign, Corrado sign, rank, modified rank and Wilcoxon per event day."""
    a = x.ar_evt
    n_t = (~np.isnan(a)).sum(axis=0)
    pos = np.where(np.isnan(a), np.nan, (a > 0).astype(float))
    sb, _ = _sum_star(pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        sign = (sb - 0.5 * n_t) / np.sqrt(0.25 * n_t)
        est = x.ar_est[~np.isnan(x.ar_est)]
        p = float(np.mean(est > 0))
        gsign = (sb - n_t * p) / np.sqrt(n_t * p * (1.0 - p))
    f, e = _full_period(x)
    med = np.nanmedian(f, axis=1)
    g = np.sign(f - med[:, None])
    gs, n_s = _sum_star(g)
    k, t_i = _ranks(f)
    tbar = float(np.mean(t_i))
    with np.errstate(invalid="ignore", divide="ignore"):
        s_cs = math.sqrt(np.nansum((gs / np.sqrt(n_s)) ** 2) / tbar)
        csign = gs[e:] / (np.sqrt(n_t) * s_cs)
        d, _ = _sum_star(k - ((t_i + 1) / 2.0)[:, None])
        s_r = math.sqrt(np.nansum((d / n_s) ** 2) / tbar)
        rank = (d[e:] / n_t) / s_r
        du, _ = _sum_star(k / (t_i + 1.0)[:, None] - 0.5)
        s_m = math.sqrt(np.nansum((du / np.sqrt(n_s)) ** 2) / tbar)
        mrank = du[e:] / (np.sqrt(n_t) * s_m)
    return [
        _norm_stat("sign", sign, n_t),
        _norm_stat("generalized_sign", gsign, n_t),
        _norm_stat("corrado_sign", csign, n_t),
        _norm_stat("rank", rank, n_t),
        _norm_stat("modified_rank", mrank, n_t),
        wilcoxon(a),
    ]


#: Largest n' (non-zero ARs of a day) with the exact signed-rank distribution; above it
#: the p-value is the normal approximation and its distribution label says so.
SIGNRANK_EXACT_MAX = 1000


def r_psignrank(q: float, n: int, cdf: np.ndarray) -> float:
    """R's ``psignrank(q, n)`` = P(V <= nearbyint(q + 1e-7)) (R 4.2 nmath/signrank.c).

    R rounds a non-integer q to the nearest integer (``R_forceint(x + 1e-7)``), so
    ``psignrank(24.5, 7)`` is P(V <= 25), not P(V <= 24).
    """
    k = float(np.rint(q + 1e-7))
    if k < 0:
        return 0.0
    if k >= n * (n + 1) // 2:
        return 1.0
    return float(cdf[int(k)])


def signrank_pvalue(v: float, n: int, cdf: np.ndarray | None) -> tuple[float, str]:
    """Two-sided p of a (possibly scaled, non-integer) V with n non-zero ARs, and its label.

    Exact (``cdf`` given): 2 min(psignrank(v, n), psignrank(v - 1, n, lower.tail=FALSE))
    capped at 1, both with R's rounding (:func:`r_psignrank`); the upper tail
    P(V >= k) is taken as P(V <= n(n+1)/2 - k) by symmetry.  A V beyond n(n+1)/2, which
    estudy2's N/n' scaling can produce, has p = 0 as in R.  Without ``cdf`` (n above
    SIGNRANK_EXACT_MAX): normal approximation, mean n(n+1)/4, variance
    n(n+1)(2n+1)/24, no continuity correction.
    """
    if cdf is None:
        mu, sd = n * (n + 1) / 4.0, math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
        p = float(min(1.0, 2.0 * sst.norm.sf(abs(v - mu) / sd)))
        return p, f"N(0,1) approx. of signrank({n})"
    m = n * (n + 1) // 2
    lo = r_psignrank(v, n, cdf)
    hi = r_psignrank(m - float(np.rint(v + 1e-7)), n, cdf)
    label = f"signrank({n}) exact"
    if abs(v - round(v)) > 1e-7:
        label += f", V={v:.6g} rounded as R's psignrank"
    if v > m:
        label += f", V above its maximum {m}"
    return float(min(1.0, 2.0 * min(lo, hi))), label


def wilcoxon(a: np.ndarray) -> DailyStat:
    """V_t = (N / N'_t) x (sum of ranks of |AR| over positive ARs), zeros and NaN dropped.

    p-value: :func:`signrank_pvalue` with n = N'_t (exact up to SIGNRANK_EXACT_MAX).
    """
    N = a.shape[0]
    stat = np.full(a.shape[1], np.nan)
    pval = np.full(a.shape[1], np.nan)
    nn = np.zeros(a.shape[1], dtype=np.int64)
    dist = ["signrank"] * a.shape[1]
    ok = ~np.isnan(a) & (a != 0)
    cdfs = signrank_cdfs({int(k) for k in ok.sum(axis=0) if 0 < k <= SIGNRANK_EXACT_MAX})
    for t in range(a.shape[1]):
        col = a[ok[:, t], t]
        nn[t] = len(col)
        if not len(col):
            continue
        r = sst.rankdata(np.abs(col))
        stat[t] = r[col > 0].sum() * N / len(col)
        pval[t], dist[t] = signrank_pvalue(float(stat[t]), len(col), cdfs.get(len(col)))
    return DailyStat("wilcoxon", stat, pval, nn, dist)


def car_tests(
    x: Estudy2Input, daily: dict[str, DailyStat], inside: np.ndarray, percentage: float
) -> list[CarStat]:
    """car_brown_warner_1985, car_lamb (market model) and car_rank_test over one window.

    ``inside`` (W,) marks the window's event days; only days with 100 n_t/N > percentage
    are kept.
    """
    N = x.ar_evt.shape[0]
    n_t = (~np.isnan(x.ar_evt)).sum(axis=0)
    kept = inside & (100.0 * n_t / N > percentage)
    tk = int(kept.sum())
    aar = _nanmean0(x.ar_evt)
    car_mean = float(np.mean(aar[kept])) if tk else math.nan
    out = []
    if tk == 0:
        why = f"no day of the window has more than {percentage:g}% of securities"
        return [
            CarStat(nm, math.nan, math.nan, 0, math.nan, "N(0,1)", False, why)
            for nm in ("car_lamb", "car_brown_warner_1985", "car_rank_test")
        ]
    lamb = daily["lamb"]
    if lamb.valid:
        s = float(np.sum(lamb.statistic[kept]) / math.sqrt(tk))
        out.append(
            CarStat(
                "car_lamb", s, float(_two_sided(np.array(s), "norm", None)), tk, car_mean, "N(0,1)"
            )
        )
    else:
        out.append(
            CarStat("car_lamb", math.nan, math.nan, tk, car_mean, "N(0,1)", False, lamb.reason)
        )
    s = float(np.sum(daily["brown_warner_1985"].statistic[kept]) / math.sqrt(tk))
    out.append(
        CarStat(
            "car_brown_warner_1985",
            s,
            float(_two_sided(np.array(s), "norm", None)),
            tk,
            car_mean,
            "N(0,1)",
        )
    )
    f = np.concatenate([x.ar_est, x.ar_evt[:, inside]], axis=1)
    k, t_i = _ranks(f)
    kbar = float(np.mean((t_i + 1) / 2.0))
    e = x.ar_est.shape[1]
    win = k[:, e:][:, kept[inside]]
    num = math.sqrt(tk) * (float(np.nanmean(win)) - kbar)
    den = math.sqrt(float(np.nansum((_nanmean0(k) - kbar) ** 2)) / float(np.mean(t_i)))
    s = num / den
    out.append(
        CarStat(
            "car_rank_test", s, float(_two_sided(np.array(s), "norm", None)), tk, math.nan, "N(0,1)"
        )
    )
    return out


def daily_tests(x: Estudy2Input) -> dict[str, DailyStat]:
    """All twelve estudy2 daily tests, by name."""
    return {d.name: d for d in (*parametric(x), *nonparametric(x))}


def estudy2_input(f: Fitted, spec: StudySpec) -> Estudy2Input:
    """The estudy2 arrays of a fitted study (market = ``spec.market_column``)."""
    a = f.arrays
    if spec.market_column in a.columns:
        j = a.columns.index(spec.market_column)
        m_est, m_evt = a.x_est[:, :, j], a.x_evt[:, :, j]
    else:
        m_est, m_evt = np.zeros_like(f.ar.est), np.zeros_like(f.ar.event)
    return Estudy2Input(
        f.ar.est,
        f.ar.event,
        m_est,
        m_evt,
        f.ar.n_est,
        spec.model == "market" and not spec.lagged_us,
    )


def _day_label(t: int) -> str:
    return f"{t:+d}" if t else "0"


def estudy2_rows(f: Fitted, spec: StudySpec) -> list[tuple[object, ...]]:
    """Rows of the tests table (level 'estudy2', all instances) for every estudy2 test."""
    from backtest.study.results import test_row

    x = estudy2_input(f, spec)
    daily = daily_tests(x)
    rows = []
    for d in daily.values():
        for j, t in enumerate(f.ar.rel_days):
            null = f"AAR[{_day_label(int(t))}] = 0"
            if d.valid and np.isfinite(d.statistic[j]):
                r = TestResult(
                    d.name,
                    float(d.statistic[j]),
                    float(d.pvalue[j]),
                    null,
                    d.distribution[j],
                    int(d.n[j]),
                )
            else:
                r = TestResult.invalid(
                    d.name,
                    null,
                    d.distribution[j],
                    int(d.n[j]),
                    d.reason or "statistic undefined on this day",
                )
            rows.append(test_row("estudy2", "*", "all", "", int(t), r))
    for a, b in spec.windows:
        inside = (f.ar.rel_days >= a) & (f.ar.rel_days <= b)
        label = window_label(a, b)
        for c in car_tests(x, daily, inside, spec.percentage):
            null = f"CAAR{label} = 0"
            r = (
                TestResult(c.name, c.statistic, c.pvalue, null, c.distribution, c.days)
                if c.valid
                else TestResult.invalid(c.name, null, c.distribution, c.days, c.reason)
            )
            rows.append(test_row("estudy2", "*", "all", label, None, r))
    return rows
