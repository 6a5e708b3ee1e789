"""Rank and sign tests: Corrado rank, Cowan generalised sign, GRANK, Wilcoxon signed-rank.

Ranks use average ranks for ties.  Missing observations are NaN and are left
out of each instance's ranking, so that instance i has T_i ranked days and its
standardised ranks are U_it = K_it / (T_i + 1) - 1/2 (Corrado and Zivney 1992;
Kolari and Pynnönen 2011, eq. for U_it).  With no missing data this is
Corrado's (1989) K_it - (T + 1)/2 divided by T + 1, and the statistics below
are unchanged by that common scale.  All p-values are two-sided.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from backtest.study.arrays import AbnormalReturns, FloatArray, IntArray, TestResult, WindowCAR
from backtest.study.clustering import StatsMemo
from backtest.study.stats import (
    MIN_CROSS_SECTION,
    null_text,
    select,
    standardised,
    two_sided_t,
    two_sided_z,
)

#: Largest sample for which the exact signed-rank distribution is used (as scipy).
WILCOXON_EXACT_MAX = 50


def average_ranks(x: FloatArray) -> FloatArray:
    """Per row, average ranks (ties share their mean rank) of the finite entries; NaN stays.

    Vectorised: one argsort per row, tie groups found on the sorted rows
    (the same ranks as ``scipy.stats.rankdata(x, axis=1, nan_policy="omit")``).
    """
    n, t = x.shape
    # Tied values get their group's mean rank, so the sort need not be stable.
    order = np.argsort(x, axis=1)  # NaN sort last
    srt = np.take_along_axis(x, order, axis=1)
    pos = np.broadcast_to(np.arange(t), (n, t))
    differs = srt[:, 1:] != srt[:, :-1]  # NaN != NaN, so NaNs never form a tie group
    ranks = np.empty((n, t))
    if differs.all():  # no ties (the usual case for returns): rank = position + 1
        np.put_along_axis(ranks, order, np.where(np.isfinite(srt), pos + 1.0, np.nan), axis=1)
        return ranks
    first = np.concatenate([np.ones((n, 1), dtype=bool), differs], axis=1)
    last = np.concatenate([differs, np.ones((n, 1), dtype=bool)], axis=1)
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=1)
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, pos, t), axis=1), axis=1), axis=1)
    avg = np.where(np.isfinite(srt), (start + end) / 2.0 + 1.0, np.nan)
    np.put_along_axis(ranks, order, avg, axis=1)
    return ranks


def standardised_ranks(x: FloatArray) -> FloatArray:
    """Per row, U = rank / (T_i + 1) - 1/2 over the finite entries; NaN stays NaN."""
    k = average_ranks(x)
    t = np.sum(np.isfinite(x), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(k / (t + 1.0) - 0.5, dtype=np.float64)


def _est_ranks(ar: AbnormalReturns, memo: StatsMemo | None) -> FloatArray:
    """Average ranks of the estimation ARs (window-independent: kept in ``memo``)."""
    hit = memo.est_ranks.get("est") if memo is not None else None
    if hit is None:
        hit = average_ranks(ar.est)
        if memo is not None:
            memo.est_ranks["est"] = hit
    return hit


def _column_means(u: FloatArray) -> tuple[FloatArray, FloatArray]:
    ok = np.isfinite(u)
    n_t = ok.sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(ok, u, 0.0).sum(axis=0) / n_t
    return ubar, n_t


def _rank_sd(ubar: FloatArray, n_t: FloatArray, n: int) -> tuple[float, int]:
    """S_U = sqrt((1/T) sum_t (n_t / n) Ubar_t^2) over the T days with data (KP 2011)."""
    have = n_t > 0
    big_t = int(have.sum())
    s2 = float(np.sum(n_t[have] / n * ubar[have] ** 2)) / big_t if big_t else math.nan
    return math.sqrt(s2) if s2 > 0 else math.nan, big_t


def corrado_rank(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    memo: StatsMemo | None = None,
) -> TestResult:
    """Corrado (1989) rank test, N(0,1), on the window's mean standardised ranks.

    Ranks within each instance over the estimation window and the days of the window
    tested, W = [start, end] (Corrado 1989: estimation and event days; Cowan 1992 and
    Campbell and Wasley 1993 for multi-day windows; estudy2's ``car_rank_test`` ranks
    over the same span).  Only the window tested enters, so the statistic of [0,0] is
    the same whichever other windows the study requests.  With U_it = K_it / (T_i + 1)
    - 1/2 over those T_i = L_i + D_i ranked days, daily (Corrado 1989, eq. 3-4):
    Z = Ubar_0 / S_U; multi-day (Cowan 1992; Campbell and Wasley 1993):
    Z = sum_{t in W} Ubar_t / (S_U sqrt(n sum_{t in W} 1 / n_t)), which is
    sqrt(D) S_U with no missing days.  S_U = sqrt((1/T) sum_t (n_t / n) Ubar_t^2) over
    the T days of estimation + W with data, so it picks up cross-correlation.
    """
    name, null, dist = "corrado_rank", null_text(w), "N(0,1)"
    rows = select(ar.n, idx)
    rows = rows[np.isfinite(w.car[rows])]
    n = int(rows.size)
    if n < 1:
        return TestResult.invalid(name, null, dist, 0, "no instance with a CAR")
    in_w = np.flatnonzero(ar.window_mask(w.start, w.end))
    u = _window_ranks(ar, w, in_w, memo)[rows]
    ubar, n_t = _column_means(u)
    s_u, _ = _rank_sd(ubar, n_t, n)
    cols = ar.est.shape[1] + np.arange(in_w.size)
    cols = cols[n_t[cols] > 0]
    if not math.isfinite(s_u):
        return TestResult.invalid(name, null, dist, n, "zero variance of the mean ranks")
    if cols.size == 0:
        return TestResult.invalid(name, null, dist, n, "no abnormal return in the window")
    z = float(np.sum(ubar[cols]) / (s_u * math.sqrt(n * np.sum(1.0 / n_t[cols]))))
    return TestResult(name, z, two_sided_z(z), null, dist, n)


def _window_ranks(
    ar: AbnormalReturns, w: WindowCAR, in_w: IntArray, memo: StatsMemo | None
) -> FloatArray:
    """Every instance's standardised ranks over its estimation days and the window's
    days: row by row, so the rows of a group are the group's own ranks (kept in
    ``memo`` per window, shared by every group tested on it)."""
    key = (w.start, w.end)
    hit = memo.window_ranks.get(key) if memo is not None else None
    if hit is None:
        hit = standardised_ranks(np.hstack([ar.est, ar.event[:, in_w]]))
        if memo is not None:
            memo.window_ranks[key] = hit
    return hit


def generalized_sign(ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None = None) -> TestResult:
    """Cowan (1992) generalised sign test, N(0,1).

    p̂ = (1/n) sum_i (1/L_i) sum_{t in E} 1[AR_it > 0] from the estimation
    window; w = number of instances with CAR_i > 0;
    Z = (w - n p̂) / sqrt(n p̂ (1 - p̂)) (Cowan 1992, eq. 1).
    """
    name, null, dist = "generalized_sign", null_text(w), "N(0,1)"
    rows = select(ar.n, idx)
    rows = rows[np.isfinite(w.car[rows])]
    est = ar.est[rows]
    has_est = np.isfinite(est).sum(axis=1) > 0
    rows, est = rows[has_est], est[has_est]
    n = int(rows.size)
    if n < MIN_CROSS_SECTION:
        return TestResult.invalid(name, null, dist, n, f"n = {n} < {MIN_CROSS_SECTION}")
    share = np.sum(est > 0, axis=1) / np.sum(np.isfinite(est), axis=1)
    p = float(np.mean(share))
    if not 0.0 < p < 1.0:
        return TestResult.invalid(name, null, dist, n, f"estimation share of positive ARs {p}")
    wins = int(np.sum(w.car[rows] > 0))
    z = (wins - n * p) / math.sqrt(n * p * (1.0 - p))
    return TestResult(name, z, two_sided_z(z), null, dist, n)


def grank_t(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    memo: StatsMemo | None = None,
) -> TestResult:
    """Generalised rank test of Kolari and Pynnönen (2011), t(T - 2).

    KP 2011, section 2:
    1. SCAR_i = CAR_i / S(CAR_i) (forecast-error-corrected), re-standardised
       by its cross-sectional sd: SCAR*_i = SCAR_i / S_SCAR (robust to
       event-induced volatility).
    2. Generalised SARs: GSAR_it = SAR_it = AR_it / sigma_i on the estimation
       days and GSAR_i0 = SCAR*_i, the whole CAR window as one day "0".
    3. U_it = rank(GSAR_it) / (T_i + 1) - 1/2 within each instance.
    4. Z = Ubar_0 / S_Ubar, S_Ubar^2 = (1/T) sum_t (n_t / n) Ubar_t^2 over the
       T = L + 1 time points: the time-series variance of the mean rank, which
       absorbs cross-correlation.
    5. t_grank = Z sqrt((T - 2) / (T - 1 - Z^2)) ~ t(T - 2).
    """
    name, null = "grank_t", null_text(w)
    s = standardised(ar, w, idx)
    n = int(s.scar.size)
    dist = f"t({ar.est.shape[1] - 1})"
    if n < MIN_CROSS_SECTION:
        return TestResult.invalid(name, null, dist, n, f"n = {n} < {MIN_CROSS_SECTION} SCARs")
    sd = float(np.std(s.scar, ddof=1))
    if not sd > 0:
        return TestResult.invalid(name, null, dist, n, "zero cross-sectional variance of SCARs")
    u = _grank_u(ar, s.rows, s.scar / sd, memo)
    ubar, n_t = _column_means(u)
    s_u, big_t = _rank_sd(ubar, n_t, n)
    dist = f"t({big_t - 2})"
    if not math.isfinite(s_u) or big_t < 3:
        return TestResult.invalid(name, null, dist, n, "zero variance of the mean ranks")
    z = float(ubar[-1]) / s_u
    t = z * math.sqrt((big_t - 2) / (big_t - 1 - z * z))
    return TestResult(name, t, two_sided_t(t, big_t - 2), null, dist, n)


def _grank_u(
    ar: AbnormalReturns, rows: IntArray, g: FloatArray, memo: StatsMemo | None
) -> FloatArray:
    """U_it of [estimation SARs | SCAR*] per instance, from the cached estimation ranks.

    Adding g = SCAR*_i to the T_i estimation values raises each value's
    average rank by 1 if g is below it and by 1/2 if tied; g's own rank is
    1 + #{SAR < g} + #{SAR = g} / 2.  Ranks of SAR_it = AR_it / sigma_i are
    those of AR_it (sigma_i > 0).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = ar.est[rows] / ar.sigma[rows, None]
    rank = _est_ranks(ar, memo)[rows]
    gg = g[:, None]
    rank = rank + (gg < sar) + 0.5 * (gg == sar)
    own = 1.0 + np.sum(sar < gg, axis=1) + 0.5 * np.sum(sar == gg, axis=1)
    t_i = np.sum(np.isfinite(sar), axis=1) + 1.0
    u = np.hstack([rank, own[:, None]]) / (t_i[:, None] + 1.0) - 0.5
    return np.asarray(u, dtype=np.float64)


def signrank_cdfs(ns: set[int]) -> dict[int, np.ndarray]:
    """Exact null CDFs of the Wilcoxon signed-rank sum V for each n in ``ns``.

    One pass of the recursion P_j(v) = (P_{j-1}(v) + P_{j-1}(v - j)) / 2 (rank j is
    positive or not with probability 1/2) up to the largest n; the CDF of n is kept
    when the pass reaches it.  cdf[v] = P(V <= v), v = 0 .. n(n+1)/2.
    """
    out: dict[int, np.ndarray] = {}
    top = max(ns, default=0)
    pmf = np.zeros(top * (top + 1) // 2 + 1)
    pmf[0] = 1.0
    for j in range(1, top + 1):
        m = j * (j + 1) // 2
        pmf[j : m + 1] = (pmf[j : m + 1] + pmf[: m + 1 - j]) / 2.0  # the right side is a copy
        pmf[:j] /= 2.0
        if j in ns:
            out[j] = np.cumsum(pmf[: m + 1])
    return out


@functools.lru_cache(maxsize=64)
def signrank_cdf(n: int) -> np.ndarray:
    """``signrank_cdfs({n})[n]``, read-only and kept: a study tests many groups of the
    same size."""
    cdf = signrank_cdfs({n})[n]
    cdf.flags.writeable = False
    return cdf


def wilcoxon_signed_rank(
    ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None = None
) -> TestResult:
    """Wilcoxon signed-rank test of median CAR = 0; the statistic is W+.

    Zero CARs are dropped (Wilcoxon's convention).  With at most 50 non-zero
    CARs and no tied |CAR| the p-value is exact, 2 min(P(W+ <= w), P(W+ >= w));
    otherwise the normal approximation with the tie-corrected variance
    n(n+1)(2n+1)/24 - sum(t^3 - t)/48, without continuity correction.
    """
    name, null = "wilcoxon", "median " + null_text(w, "CAR")
    x = w.car[select(ar.n, idx)]
    x = x[np.isfinite(x) & (x != 0)]
    n = int(x.size)
    if n < MIN_CROSS_SECTION:
        return TestResult.invalid(name, null, "signed-rank", n, f"n = {n} < 2 non-zero CARs")
    ranks = average_ranks(np.abs(x)[None, :])[0]
    w_plus = float(ranks[x > 0].sum())
    _, ties = np.unique(np.abs(x), return_counts=True)
    if n <= WILCOXON_EXACT_MAX and np.all(ties == 1):
        cdf = signrank_cdf(n)
        k = round(w_plus)
        p = 2.0 * min(cdf[k], 1.0 - cdf[k - 1] if k > 0 else 1.0)
        return TestResult(name, w_plus, min(1.0, p), null, f"signed-rank({n}) exact", n)
    mean = n * (n + 1) / 4.0
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float(np.sum(ties**3 - ties)) / 48.0
    z = (w_plus - mean) / math.sqrt(var)
    return TestResult(name, w_plus, two_sided_z(z), null, f"signed-rank({n}) normal approx.", n)
