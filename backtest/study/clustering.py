"""Inference that stays valid when event dates are clustered.

* Kolari and Pynnönen (2010) cross-correlation adjustments of the Patell and
  BMP statistics, with the average correlation taken over pairs of instances
  in the same event-date cluster.
* The portfolio (crude-dependence) test: one equally weighted portfolio per
  cluster, its variance from the portfolio's own estimation-window residuals
  (Brown and Warner 1980, 1985), and its combination across clusters.
* An event-level (cluster) bootstrap of the pooled CAAR.

Pure functions of :mod:`backtest.study.arrays`; p-values are two-sided.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from backtest.study.arrays import (
    AbnormalReturns,
    FloatArray,
    IntArray,
    TestResult,
    WindowCAR,
    column_nanmean,
)
from backtest.study.stats import (
    MIN_CROSS_SECTION,
    bmp_t,
    null_text,
    patell_z,
    select,
    standardised,
    two_sided_t,
    two_sided_z,
)

#: Fewest pairwise-complete days for a correlation to count in r̄.
MIN_COMMON_DAYS = 3
#: Fewest event clusters for the cluster bootstrap.
MIN_BOOTSTRAP_CLUSTERS = 5


# --------------------------------------------------------------------------- correlations


def pairwise_corr(x: FloatArray, rows: IntArray | None = None) -> FloatArray:
    """Pearson correlations of rows of x (all, or ``rows``) with every row, pairwise-complete.

    Each pair uses its own means and variances over the days both rows have
    (R's ``cor(use = "pairwise.complete.obs")``).  NaN where fewer than
    ``MIN_COMMON_DAYS`` days are common or a row is constant on them.
    Returns a (len(rows), m) block of the m x m correlation matrix.
    """
    mask = np.isfinite(x)
    xf = np.where(mask, x, 0.0)
    mf = mask.astype(np.float64)
    sel = slice(None) if rows is None else rows
    xa, ma = xf[sel], mf[sel]
    n_ij = ma @ mf.T
    sx_i = xa @ mf.T  # sum of x_i over the days where x_j is present
    sx_j = ma @ xf.T  # sum of x_j over the days where x_i is present
    var_i = (xa * xa) @ mf.T - sx_i * sx_i / np.maximum(n_ij, 1.0)
    var_j = ma @ (xf * xf).T - sx_j * sx_j / np.maximum(n_ij, 1.0)
    cov = xa @ xf.T - sx_i * sx_j / np.maximum(n_ij, 1.0)
    bad = (n_ij < MIN_COMMON_DAYS) | ~(var_i > 0) | ~(var_j > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(np.where(bad, 1.0, var_i * var_j))
    r[bad] = np.nan
    return r


def _pair_sum(x: FloatArray, block: int = 512) -> tuple[float, int]:
    """Sum and count of the finite correlations over unordered pairs of rows of x.

    Complete data: the sum of all entries of the correlation matrix is
    ||sum_i z_i||^2 / (L - 1) with z_i the standardised rows, so the pairs sum
    is (that - m) / 2, in O(m L).  Otherwise pairwise-complete, in row blocks.
    """
    m = x.shape[0]
    x = x[:, np.isfinite(x).any(axis=0)]  # days no member has never enter a pair
    if np.all(np.isfinite(x)) and x.shape[1] >= MIN_COMMON_DAYS:
        sd = np.std(x, axis=1, ddof=1)
        if np.all(sd > 0):
            z = (x - x.mean(axis=1, keepdims=True)) / sd[:, None]
            tot = float(np.sum(np.sum(z, axis=0) ** 2)) / (x.shape[1] - 1)
            return (tot - m) / 2.0, m * (m - 1) // 2
    total, count = 0.0, 0
    for start in range(0, m, block):
        rows = np.arange(start, min(start + block, m))
        r = pairwise_corr(x, rows)
        upper = r[np.arange(m)[None, :] > rows[:, None]]
        upper = upper[np.isfinite(upper)]
        total += float(upper.sum())
        count += int(upper.size)
    return total, count


@dataclass(frozen=True, slots=True)
class CrossCorrelation:
    """Average within-cluster correlation of estimation-window residuals.

    rbar:   mean of the pairwise correlations over all unordered pairs of
            instances that share a cluster (NaN if there is no such pair with
            enough common days).
    pairs:  number of pairs that entered the mean.
    excess: sum_c n_c (n_c - 1) / n, the ordered within-cluster pairs per
            instance; (n - 1) for one cluster, 0 when no two instances share a
            cluster.
    """

    rbar: float
    pairs: int
    excess: float


def within_cluster_rbar(est: FloatArray, cluster: IntArray) -> CrossCorrelation:
    """r̄ over within-cluster pairs of the rows of ``est`` (instances x days).

    Pairs in different clusters are not used: their event windows lie on
    different calendar dates, so their SCARs are treated as independent.
    """
    n = int(est.shape[0])
    total, pairs, ordered = 0.0, 0, 0
    for c in np.unique(cluster):
        members = np.flatnonzero(cluster == c)
        m = members.size
        ordered += m * (m - 1)
        if m < 2:
            continue
        s, k = _pair_sum(est[members])
        total += s
        pairs += k
    rbar = total / pairs if pairs else math.nan
    return CrossCorrelation(rbar, pairs, ordered / n if n else 0.0)


@dataclass(frozen=True, slots=True)
class StatsMemo:
    """Window-independent quantities of the tests of one :class:`AbnormalReturns`.

    r̄ (by the rows it is taken over), each cluster portfolio's estimation-window
    variance and daily abnormal returns (by its member rows) and the ranks of the
    estimation ARs (GRANK) do not depend on the window; each instance's standardised
    ranks over estimation + window days (Corrado) do not depend on the group; and a
    study tests many windows, days and groups of the same arrays.  The caller that
    owns the arrays makes one memo for them and passes it to every test (``memo=``; see
    :func:`backtest.study.registry.make_tests`); it is filled on first use and dropped
    with the arrays.  Never share one memo between two AbnormalReturns.  Results do
    not depend on it: without a memo every quantity is computed afresh.
    """

    rbar: dict[bytes, CrossCorrelation] = field(default_factory=dict)
    est: dict[bytes, EstimationPortfolio] = field(default_factory=dict)
    event: dict[bytes, FloatArray] = field(default_factory=dict)
    by_window: dict[tuple[bytes, ...], PortfolioT] = field(default_factory=dict)
    clusters: dict[tuple[bytes, bool], ClusterParts] = field(default_factory=dict)
    est_ranks: dict[str, FloatArray] = field(default_factory=dict)
    window_ranks: dict[tuple[int, int], FloatArray] = field(default_factory=dict)


def _kp_inputs(
    ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None, memo: StatsMemo | None
) -> CrossCorrelation:
    rows = standardised(ar, w, idx).rows
    key = rows.tobytes()
    hit = memo.rbar.get(key) if memo is not None else None
    if hit is None:
        hit = within_cluster_rbar(ar.est[rows], ar.cluster[rows])
        if memo is not None:
            memo.rbar[key] = hit
    return hit


def kp_factor_bmp(cc: CrossCorrelation, n: int) -> float:
    """Kolari and Pynnönen (2010) factor for the BMP t, generalised to clusters.

    With one cluster it is sqrt((1 - r̄) / (1 + (n - 1) r̄)) (KP 2010, the
    adjusted BMP statistic of section 2).  With several clusters of sizes n_c
    and within-cluster correlation r̄ (zero across clusters), with
    P = sum_c n_c (n_c - 1): Var(mean SCAR) = (1 + r̄ P / n) / n and
    E[s_SCAR^2] = 1 - r̄ P / (n (n - 1)), so the factor is
    sqrt((1 - r̄ P / (n (n - 1))) / (1 + r̄ P / n)).
    """
    if cc.pairs == 0:
        return 1.0
    p_over_n = cc.excess
    return math.sqrt((1.0 - cc.rbar * p_over_n / (n - 1)) / (1.0 + cc.rbar * p_over_n))


def kp_factor_patell(cc: CrossCorrelation) -> float:
    """Kolari and Pynnönen (2010) factor for the Patell Z: 1 / sqrt(1 + r̄ P / n).

    One cluster: sqrt(1 / (1 + (n - 1) r̄)) (KP 2010, adjusted Patell statistic).
    """
    if cc.pairs == 0:
        return 1.0
    return 1.0 / math.sqrt(1.0 + cc.rbar * cc.excess)


def _kp_invalid(cc: CrossCorrelation, n: int) -> str:
    if cc.excess > 0 and cc.pairs == 0:
        return "no within-cluster pair has enough common estimation days for a correlation"
    if cc.pairs and not (1.0 + cc.rbar * cc.excess > 0):
        return f"average correlation {cc.rbar:.4f} too negative for the adjustment"
    if cc.pairs and n > 1 and not (1.0 - cc.rbar * cc.excess / (n - 1) > 0):
        return f"average correlation {cc.rbar:.4f} too large for the adjustment"
    return ""


def _kp_adjusted(
    name: str,
    base: TestResult,
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None,
    factor: Callable[[CrossCorrelation], float],
    pvalue: Callable[[float], float],
    memo: StatsMemo | None = None,
) -> TestResult:
    """``base`` scaled by a Kolari-Pynnönen factor, or invalid with the reason."""
    if not base.valid:
        return TestResult.invalid(name, base.null, base.distribution, base.n, base.reason)
    cc = _kp_inputs(ar, w, idx, memo)
    reason = _kp_invalid(cc, base.n)
    if reason:
        return TestResult.invalid(name, base.null, base.distribution, base.n, reason)
    stat = base.statistic * factor(cc)
    return TestResult(name, stat, pvalue(stat), base.null, base.distribution, base.n)


def kp_bmp_t(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    memo: StatsMemo | None = None,
) -> TestResult:
    """BMP t adjusted for cross-correlation (Kolari and Pynnönen 2010), t(n - 1)."""
    base = bmp_t(ar, w, idx)
    return _kp_adjusted(
        "kp_bmp_t",
        base,
        ar,
        w,
        idx,
        lambda cc: kp_factor_bmp(cc, base.n),
        lambda t: two_sided_t(t, base.n - 1),
        memo,
    )


def kp_patell_z(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    memo: StatsMemo | None = None,
) -> TestResult:
    """Patell Z adjusted for cross-correlation (Kolari and Pynnönen 2010), N(0,1)."""
    return _kp_adjusted(
        "kp_patell_z", patell_z(ar, w, idx), ar, w, idx, kp_factor_patell, two_sided_z, memo
    )


# --------------------------------------------------------------------------- portfolio


@dataclass(frozen=True, slots=True)
class PortfolioT:
    """Portfolio test of each cluster (arrays over the clusters, sorted by id).

    car:   portfolio CAR (sum over the window of the daily mean AR).
    stat:  car / (s_p sqrt(f)); s_p^2 = sum_t p_t^2 / (L_p - k) from the
           portfolio's estimation-window residuals p_t, f the mean over members
           of Var(CAR_i) / sigma_i^2 (the number of days when no parameter is
           estimated, larger by the forecast-error term otherwise).
    dof:   L_p - k, the reference t distribution's degrees of freedom.
    size:  members of each cluster.
    """

    cluster: IntArray
    car: FloatArray
    stat: FloatArray
    dof: IntArray
    size: IntArray


@dataclass(frozen=True, slots=True)
class EstimationPortfolio:
    """The equally weighted portfolio of some instances over the estimation window.

    ssq:  sum_t p_t^2 over the days where the portfolio has a residual p_t.
    dof:  L_p - k (days with a residual minus the members' largest k).
    """

    ssq: float
    dof: int

    @property
    def variance(self) -> float:
        """s_p^2 = sum_t p_t^2 / (L_p - k); NaN when L_p - k < 1."""
        return self.ssq / self.dof if self.dof >= 1 else math.nan


def estimation_portfolio(
    ar: AbnormalReturns, rows: IntArray, memo: StatsMemo | None = None
) -> EstimationPortfolio:
    """The estimation-window portfolio of ``rows`` (Brown and Warner 1980, 1985)."""
    key = rows.tobytes()
    got = memo.est.get(key) if memo is not None else None
    if got is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            p = column_nanmean(ar.est[rows])
        p = p[np.isfinite(p)]
        got = EstimationPortfolio(float(np.sum(p**2)), int(p.size - np.max(ar.k[rows])))
        if memo is not None:
            memo.est[key] = got
    return got


def car_variance_ratio(ar: AbnormalReturns, w: WindowCAR, rows: IntArray) -> FloatArray:
    """Var(CAR_i) / sigma_i^2 of ``rows`` where finite: the forecast-error factor of each
    member's CAR (its number of days when nothing is estimated)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        f = w.var[rows] / ar.sigma[rows] ** 2
    return f[np.isfinite(f)]


def portfolio_car_variance(
    ar: AbnormalReturns, w: WindowCAR, rows: IntArray, memo: StatsMemo | None = None
) -> float:
    """Var(CAR_p) = s_p^2 f of the equally weighted portfolio of ``rows`` (one cluster),
    f the mean of its members' :func:`car_variance_ratio`; NaN when L_p - k < 1 or no
    member has a CAR variance.  The one portfolio variance of the study: the
    portfolio test and the portfolio standard error of the CAAR table use it."""
    est = estimation_portfolio(ar, rows, memo)
    fac = car_variance_ratio(ar, w, rows)
    if est.dof < 1 or not fac.size:
        return math.nan
    return est.ssq / est.dof * float(fac.mean())


def event_portfolio(
    ar: AbnormalReturns, rows: IntArray, memo: StatsMemo | None = None, *, one_day: bool = False
) -> FloatArray:
    """The equally weighted portfolio's abnormal return on every event day (NaN where no
    member has one).

    ``one_day``: each day's mean summed as a one-day window's is (numpy sums a single
    column pairwise and several columns row by row; the two can differ in the last bit,
    and each window keeps the sums it always had).
    """
    key = rows.tobytes() + (b"1" if one_day else b"")
    got = memo.event.get(key) if memo is not None else None
    if got is None:
        x = ar.event[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            got = column_nanmean(np.asfortranarray(x) if one_day else x)
        if memo is not None:
            memo.event[key] = got
    return got


@dataclass(frozen=True, slots=True)
class ClusterParts:
    """The window-independent part of :func:`portfolio_by_cluster` for one set of rows:
    the clusters, each one's members, event-day portfolio ARs and estimation portfolio."""

    ids: IntArray
    order: IntArray
    cuts: IntArray
    parts: list[IntArray]
    q: FloatArray  # (clusters, event days)
    ssq: FloatArray
    dof: IntArray
    sizes: IntArray


def cluster_parts(
    ar: AbnormalReturns, rows: IntArray, one: bool, memo: StatsMemo | None
) -> ClusterParts:
    """The clusters of ``rows`` with their members, event-day portfolio ARs (``one``: summed
    as a one-day window's, :func:`event_portfolio`) and estimation portfolios (memoised)."""
    key = (rows.tobytes(), one)
    hit = memo.clusters.get(key) if memo is not None else None
    if hit is not None:
        return hit
    ids, inv = np.unique(ar.cluster[rows], return_inverse=True)
    order = np.argsort(inv, kind="stable") if ids.size > 1 else np.arange(rows.size)
    cuts = np.flatnonzero(np.diff(inv[order])) + 1
    parts = np.split(rows[order], cuts)
    q = np.stack([event_portfolio(ar, part, memo, one_day=one) for part in parts])
    ests = [estimation_portfolio(ar, part, memo) for part in parts]
    got = ClusterParts(
        ids,
        order,
        cuts,
        parts,
        q,
        np.array([e.ssq for e in ests], dtype=np.float64),
        np.array([e.dof for e in ests], dtype=np.int64),
        np.array([part.size for part in parts], dtype=np.int64),
    )
    if memo is not None:
        memo.clusters[key] = got
    return got


def finite_segment_means(x: FloatArray, cuts: IntArray, empty: FloatArray) -> FloatArray:
    """The mean of the finite values of each segment of ``x`` (split before each index
    in ``cuts``, as :func:`numpy.split`), ``empty[i]`` for a segment with none.

    Bit for bit ``seg[np.isfinite(seg)].mean()`` segment by segment, summed in numpy's
    own order: fewer than 8 values one after another (here a column at a time, for all
    such segments at once); 8 or more pairwise, as the rows of one C-ordered matrix per
    count, which numpy reduces row by row exactly as each row alone.  Then divided by
    the count.  A property test holds this to numpy's result on random segments.
    """
    fin = np.isfinite(x)
    if not cuts.size:  # one segment (one cluster: an event's own group)
        v = x[fin]
        return np.array([np.add.reduce(v) / v.size if v.size else empty[0]], dtype=np.float64)
    seg = np.zeros(x.size, np.int64)
    seg[cuts] = 1
    np.cumsum(seg, out=seg)
    vals, of = x[fin], seg[fin]
    counts = np.bincount(of, minlength=cuts.size + 1)
    starts = np.cumsum(counts) - counts
    out = np.array(empty, dtype=np.float64)
    small = counts < 8
    width = int(counts[small].max(initial=0))
    if width:
        keep = small[of]
        grid = np.zeros((counts.size, width))
        grid[of[keep], (np.arange(vals.size) - starts[of])[keep]] = vals[keep]
        total = grid[:, 0].copy()
        for j in range(1, width):
            np.add(total, grid[:, j], out=total, where=counts > j)
        has = small & (counts > 0)
        out[has] = total[has] / counts[has]
    for k in np.flatnonzero(np.bincount(counts)[8:]) + 8:
        which = np.flatnonzero(counts == k)
        block = vals[starts[which][:, None] + np.arange(k)]
        out[which] = block.sum(axis=1) / k
    return out


def portfolio_by_cluster(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    memo: StatsMemo | None = None,
) -> PortfolioT:
    """The portfolio t of every cluster of the group (instances without a CAR dropped).

    Per cluster: CAR_p = sum over the window of the portfolio's daily AR q_t, f the
    mean of the members' :func:`car_variance_ratio` (the number of days with a q_t when
    no member has one), and t = CAR_p / sqrt(s_p^2 f) with s_p^2 of
    :func:`estimation_portfolio`.
    """
    rows = select(ar.n, idx)
    rows = rows[np.isfinite(w.car[rows])]
    key = (rows.tobytes(), np.array([w.start, w.end]).tobytes(), w.car.tobytes(), w.var.tobytes())
    hit = memo.by_window.get(key) if memo is not None else None
    if hit is not None:
        return hit
    if not rows.size:
        empty = np.zeros(0)
        got = PortfolioT(
            np.zeros(0, np.int64), empty, empty, np.zeros(0, np.int64), np.zeros(0, np.int64)
        )
        return got
    cols = np.flatnonzero(ar.window_mask(w.start, w.end))
    one = cols.size == 1
    cl = cluster_parts(ar, rows, one, memo)
    ids, order, cuts, ssq, dof, sizes = cl.ids, cl.order, cl.cuts, cl.ssq, cl.dof, cl.sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (w.var[rows] / ar.sigma[rows] ** 2)[order]
    q = np.ascontiguousarray(cl.q[:, cols])
    has_q = np.isfinite(q)
    f = finite_segment_means(ratio, cuts, has_q.sum(axis=1).astype(np.float64))
    if one:  # a one-day window: each cluster's sum is its single day's value or 0
        car = np.where(np.isnan(q[:, 0]), 0.0, q[:, 0])
    else:  # row by row: numpy reduces each row of a C-ordered matrix as it would alone
        car = np.nansum(q, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = ssq / dof
        stat = car / np.sqrt(s2 * f)
    stat = np.where((dof >= 1) & has_q.any(axis=1) & (s2 > 0) & (f > 0), stat, np.nan)
    got = PortfolioT(ids.astype(np.int64), car, stat, dof, sizes)
    if memo is not None:
        memo.by_window[key] = got
    return got


def portfolio_t(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    memo: StatsMemo | None = None,
) -> TestResult:
    """Portfolio (clustered-date) test of the group.

    One cluster: the portfolio t ~ t(L_p - k) (Brown and Warner 1985's crude
    dependence adjustment, with the forecast-error factor of the members).
    Several clusters (events on different dates, independent): the portfolio
    t's are combined like Patell's, Z = sum_c t_c / sqrt(sum_c nu_c / (nu_c - 2)),
    N(0,1).  Clusters whose portfolio t cannot be formed are dropped.
    """
    return portfolio_t_result(portfolio_by_cluster(ar, w, idx, memo), null_text(w))


def portfolio_t_result(pt: PortfolioT, null: str) -> TestResult:
    """:func:`portfolio_t` from the clusters' portfolio t's."""
    name = "portfolio_t"
    ok = np.isfinite(pt.stat)
    n = int(pt.size[ok].sum())
    if not ok.any():
        dist = "t" if pt.cluster.size <= 1 else "N(0,1)"
        return TestResult.invalid(
            name, null, dist, n, "no cluster with a portfolio variance (too few days or zero)"
        )
    if ok.sum() == 1:
        t, dof = float(pt.stat[ok][0]), int(pt.dof[ok][0])
        return TestResult(name, t, two_sided_t(t, dof), null, f"t({dof})", n)
    nu = pt.dof[ok].astype(np.float64)
    if np.any(nu <= 2):
        return TestResult.invalid(name, null, "N(0,1)", n, "portfolio L - k <= 2 in a cluster")
    z = float(pt.stat[ok].sum() / math.sqrt(np.sum(nu / (nu - 2.0))))
    return TestResult(name, z, two_sided_z(z), null, "N(0,1)", n)


def portfolio_cs_t(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    memo: StatsMemo | None = None,
) -> TestResult:
    """Cross-cluster t of the standardised portfolio CARs: mean(t_c) / (sd(t_c) / sqrt C).

    t(C - 1); needs C >= 2 clusters.  Like BMP across events: robust to
    event-induced variance that differs between events.
    """
    name, null = "portfolio_cs_t", null_text(w)
    pt = portfolio_by_cluster(ar, w, idx, memo)
    ok = np.isfinite(pt.stat)
    c, n = int(ok.sum()), int(pt.size[ok].sum())
    dist = f"t({c - 1})"
    if c < MIN_CROSS_SECTION:
        return TestResult.invalid(name, null, dist, n, f"C = {c} < 2 event clusters")
    sd = float(np.std(pt.stat[ok], ddof=1))
    if not sd > 0:
        return TestResult.invalid(name, null, dist, n, "zero variance of the portfolio t's")
    t = float(np.mean(pt.stat[ok])) / (sd / math.sqrt(c))
    return TestResult(name, t, two_sided_t(t, c - 1), null, dist, n)


# --------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True, slots=True)
class BootstrapCI:
    """Cluster bootstrap of the pooled CAAR (mean CAR over instances).

    low/high: percentile interval at ``level``; pvalue: share of centred draws
    |CAAR*_b - CAAR| at least |CAAR|, (1 + count) / (B + 1).
    """

    caar: float
    low: float
    high: float
    pvalue: float
    level: float
    n_boot: int
    clusters: int
    n: int
    valid: bool = True
    reason: str = ""


def cluster_bootstrap(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    rng: np.random.Generator | int = 0,
    n_boot: int = 9999,
    level: float = 0.95,
) -> BootstrapCI:
    """Resample event clusters with replacement; percentile CI and p-value of the CAAR.

    ``rng`` is a numpy Generator or an integer seed (a fresh Generator is made
    from it, so the same seed gives the same draws).
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    rows = select(ar.n, idx)
    rows = rows[np.isfinite(w.car[rows])]
    ids, inv = np.unique(ar.cluster[rows], return_inverse=True)
    c, n = int(ids.size), int(rows.size)
    caar = float(np.mean(w.car[rows])) if n else math.nan
    if c < MIN_BOOTSTRAP_CLUSTERS:
        return BootstrapCI(
            caar,
            math.nan,
            math.nan,
            math.nan,
            level,
            n_boot,
            c,
            n,
            False,
            f"C = {c} < {MIN_BOOTSTRAP_CLUSTERS} event clusters",
        )
    sums = np.bincount(inv, weights=w.car[rows], minlength=c)
    counts = np.bincount(inv, minlength=c).astype(np.float64)
    draw = gen.integers(0, c, size=(n_boot, c))
    boot = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    extreme = int(np.sum(np.abs(boot - caar) >= abs(caar)))
    if not np.ptp(boot) > 0:
        return BootstrapCI(
            caar,
            math.nan,
            math.nan,
            math.nan,
            level,
            n_boot,
            c,
            n,
            False,
            "all cluster means are equal: zero bootstrap variance",
        )
    return BootstrapCI(
        caar, float(lo), float(hi), (1 + extreme) / (n_boot + 1), level, n_boot, c, n
    )


def cluster_bootstrap_test(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    rng: np.random.Generator | int = 0,
    n_boot: int = 9999,
) -> TestResult:
    """The cluster bootstrap as a TestResult; the statistic is the CAAR itself."""
    b = cluster_bootstrap(ar, w, idx, rng=rng, n_boot=n_boot)
    name, null = "cluster_bootstrap", null_text(w)
    dist = f"cluster bootstrap (B={n_boot}, C={b.clusters})"
    if not b.valid:
        return TestResult.invalid(name, null, dist, b.n, b.reason)
    return TestResult(name, b.caar, b.pvalue, null, dist, b.n)


def _cluster_sums(
    ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None
) -> tuple[FloatArray, FloatArray, int]:
    rows = select(ar.n, idx)
    rows = rows[np.isfinite(w.car[rows])]
    _, inv = np.unique(ar.cluster[rows], return_inverse=True)
    sums = np.bincount(inv, weights=w.car[rows])
    counts = np.bincount(inv).astype(np.float64)
    return np.asarray(sums, dtype=np.float64), counts, int(rows.size)


def _cluster_t(sums: FloatArray, counts: FloatArray) -> FloatArray:
    """CAAR / cluster-robust se along the last axis (sums may be (B, C) sign-flipped)."""
    c, big_n = counts.size, counts.sum()
    theta = sums.sum(axis=-1) / big_n
    resid = sums - counts * theta[..., None]
    var = c / (c - 1) * np.sum(resid**2, axis=-1) / big_n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(theta / np.sqrt(var), dtype=np.float64)


def wild_cluster_bootstrap_test(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    *,
    rng: np.random.Generator | int = 0,
    n_boot: int = 9999,
) -> TestResult:
    """Wild cluster bootstrap-t of the pooled CAAR, null imposed, Rademacher weights.

    Cameron, Gelbach and Miller (2008, section 3.3): t = CAAR / se_CR with the
    cluster-robust se_CR^2 = C/(C-1) sum_c (S_c - N_c CAAR)^2 / N^2 (S_c the sum
    of cluster c's CARs, N_c its size).  Under the null the restricted
    residuals are the CARs themselves; each draw flips the sign of whole
    clusters, S*_c = v_c S_c with v_c = +-1, and recomputes t*.
    p = share of |t*| >= |t|.  When 2^C <= n_boot every sign vector is
    enumerated (an exact randomisation test under symmetry; with C = 5 the
    smallest attainable p is 1/16).  The statistic is the cluster-robust t.
    """
    name, null = "wild_cluster_bootstrap", null_text(w)
    sums, counts, n = _cluster_sums(ar, w, idx)
    c = int(sums.size)
    if c < MIN_BOOTSTRAP_CLUSTERS:
        return TestResult.invalid(
            name,
            null,
            "wild cluster bootstrap-t",
            n,
            f"C = {c} < {MIN_BOOTSTRAP_CLUSTERS} event clusters",
        )
    t = float(_cluster_t(sums, counts))
    if not math.isfinite(t):
        return TestResult.invalid(
            name, null, "wild cluster bootstrap-t", n, "zero cluster-robust variance"
        )
    if 2**c <= n_boot:
        signs = 1.0 - 2.0 * ((np.arange(2**c)[:, None] >> np.arange(c)) & 1)
        dist = f"wild cluster bootstrap-t (all 2^{c} sign flips)"
        t_star = _cluster_t(signs * sums, counts)
        p = float(np.mean(np.abs(t_star) >= abs(t) * (1 - 1e-12)))
    else:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        signs = gen.choice(np.array([-1.0, 1.0]), size=(n_boot, c))
        dist = f"wild cluster bootstrap-t (B={n_boot}, C={c})"
        t_star = _cluster_t(signs * sums, counts)
        p = (1 + int(np.sum(np.abs(t_star) >= abs(t)))) / (n_boot + 1)
    return TestResult(name, t, p, null, dist, n)
