"""Each statistic against an independent number: a worked example, scipy or statsmodels.

The worked examples spell the papers' formulas out step by step in plain Python
(loops, explicit sums), separately from the vectorised implementation.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from backtest.study.arrays import AbnormalReturns, WindowCAR
from backtest.study.clustering import (
    cluster_bootstrap,
    kp_bmp_t,
    kp_patell_z,
    pairwise_corr,
    portfolio_cs_t,
    portfolio_t,
    wild_cluster_bootstrap_test,
    within_cluster_rbar,
)
from backtest.study.ranks import corrado_rank, generalized_sign, grank_t, wilcoxon_signed_rank
from backtest.study.stats import (
    bmp_t,
    cross_sectional_t,
    day_window,
    patell_z,
    time_series_t,
    time_series_t_all,
)

NAN = math.nan

# A tiny study: 5 instances, 6 estimation days, 3 event days [-1, 0, +1], k = 1
# (constant-mean model: residuals sum to zero over the present days), two clusters.
EST = np.array(
    [
        [0.010, -0.020, 0.005, 0.015, -0.010, 0.000],
        [0.012, -0.015, 0.001, 0.020, -0.008, -0.010],
        [-0.004, -0.010, 0.009, NAN, -0.006, 0.011],
        [0.020, 0.003, -0.011, -0.007, 0.006, -0.011],
        [0.015, -0.001, -0.013, -0.004, 0.010, -0.007],
    ]
)
EVENT = np.array(
    [
        [0.004, 0.030, 0.012],
        [-0.002, 0.025, 0.020],
        [0.001, 0.018, -0.004],
        [0.006, -0.012, 0.015],
        [-0.003, 0.022, 0.009],
    ]
)
CLUSTER = np.array([0, 0, 0, 1, 1], dtype=np.int64)
K = 1


def _by_hand_sigma(row: np.ndarray) -> float:
    vals = [v for v in row if not math.isnan(v)]
    return math.sqrt(sum(v * v for v in vals) / (len(vals) - K))


def tiny() -> tuple[AbnormalReturns, WindowCAR]:
    n = EST.shape[0]
    n_est = np.isfinite(EST).sum(axis=1)
    sigma = np.array([_by_hand_sigma(r) for r in EST])
    fe = 1 + 1 / n_est[:, None] * np.ones((1, 3))  # constant mean: Var(AR) = s^2 (1 + 1/L)
    ar = AbnormalReturns(
        EST,
        EVENT,
        np.arange(-16, -10, dtype=np.int64),
        np.array([-1, 0, 1], dtype=np.int64),
        n_est.astype(np.int64),
        np.full(n, K, dtype=np.int64),
        sigma,
        fe,
        CLUSTER,
    )
    car = EVENT[:, 1:].sum(axis=1)  # window [0, +1]
    # CLM for the constant-mean model: Var(CAR over D days) = s^2 (D + D^2 / L)
    var = sigma**2 * (2 + 4 / n_est)
    return ar, WindowCAR(0, 1, car, var, np.full(n, 2, dtype=np.int64), np.full(n, NAN))


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _sd(xs: list[float]) -> float:
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _pearson_pairwise(a: np.ndarray, b: np.ndarray) -> float:
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if not (math.isnan(x) or math.isnan(y))]
    mx = _mean([p[0] for p in pairs])
    my = _mean([p[1] for p in pairs])
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    syy = sum((y - my) ** 2 for _, y in pairs)
    return sxy / math.sqrt(sxx * syy)


def _rank_within(values: list[float]) -> list[float]:
    """Average ranks by counting: 1 + #smaller + (#equal others) / 2."""
    return [
        1 + sum(v < x for v in values) + 0.5 * (sum(v == x for v in values) - 1) for x in values
    ]


# ----------------------------------------------------------------- KP, Patell, BMP


def test_kp_worked_example_two_clusters() -> None:
    ar, w = tiny()
    scar = [w.car[i] / math.sqrt(w.var[i]) for i in range(5)]
    # Step 1: correlations of the estimation residuals, within-cluster pairs only.
    within = [(0, 1), (0, 2), (1, 2), (3, 4)]
    r = [_pearson_pairwise(EST[a], EST[b]) for a, b in within]
    rbar = _mean(r)
    # Step 2: P = sum_c n_c (n_c - 1) ordered within-cluster pairs = 3*2 + 2*1.
    n, p = 5, 8
    # Step 3: BMP t and Patell Z as in the papers.
    t_bmp = _mean(scar) / (_sd(scar) / math.sqrt(n))
    z_pat = sum(scar) / math.sqrt(sum((L - K) / (L - K - 2) for L in (6, 6, 5, 6, 6)))
    # Step 4: the KP factors generalised to clusters (one cluster: KP 2010 exactly).
    f_bmp = math.sqrt((1 - rbar * p / (n * (n - 1))) / (1 + rbar * p / n))
    f_pat = 1 / math.sqrt(1 + rbar * p / n)

    cc = within_cluster_rbar(EST, CLUSTER)
    assert cc.rbar == pytest.approx(rbar, rel=1e-12)
    assert (cc.pairs, cc.excess) == (4, pytest.approx(p / n))
    assert bmp_t(ar, w).statistic == pytest.approx(t_bmp, rel=1e-12)
    assert patell_z(ar, w).statistic == pytest.approx(z_pat, rel=1e-12)
    kb, kz = kp_bmp_t(ar, w), kp_patell_z(ar, w)
    assert kb.statistic == pytest.approx(t_bmp * f_bmp, rel=1e-12)
    assert kb.pvalue == pytest.approx(2 * sps.t.sf(abs(t_bmp * f_bmp), 4), rel=1e-12)
    assert kz.statistic == pytest.approx(z_pat * f_pat, rel=1e-12)
    assert kz.pvalue == pytest.approx(2 * sps.norm.sf(abs(z_pat * f_pat)), rel=1e-12)


def test_kp_worked_example_one_cluster_is_kolari_pynnonen_2010() -> None:
    ar, w = tiny()
    idx = np.array([0, 1, 2])
    scar = [w.car[i] / math.sqrt(w.var[i]) for i in idx]
    rbar = _mean([_pearson_pairwise(EST[a], EST[b]) for a, b in ((0, 1), (0, 2), (1, 2))])
    t_bmp = _mean(scar) / (_sd(scar) / math.sqrt(3))
    z_pat = sum(scar) / math.sqrt(sum((L - K) / (L - K - 2) for L in (6, 6, 5)))
    # KP 2010: t_adj = t_BMP sqrt((1 - r̄) / (1 + (n - 1) r̄)), z_adj = z sqrt(1 / (1 + (n - 1) r̄))
    assert kp_bmp_t(ar, w, idx).statistic == pytest.approx(
        t_bmp * math.sqrt((1 - rbar) / (1 + 2 * rbar)), rel=1e-12
    )
    assert kp_patell_z(ar, w, idx).statistic == pytest.approx(
        z_pat * math.sqrt(1 / (1 + 2 * rbar)), rel=1e-12
    )


def test_pairwise_corr_matches_numpy_on_complete_pairs() -> None:
    r = pairwise_corr(EST)
    ok = np.isfinite(EST[0]) & np.isfinite(EST[2])
    assert r[0, 2] == pytest.approx(np.corrcoef(EST[0, ok], EST[2, ok])[0, 1], rel=1e-12)
    assert r[3, 4] == pytest.approx(np.corrcoef(EST[3], EST[4])[0, 1], rel=1e-12)
    np.testing.assert_allclose(r, r.T, rtol=1e-14)


def test_rbar_complete_data_shortcut_matches_corrcoef() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 60)) + 0.6 * rng.normal(size=(1, 60))
    x[:, 7] = np.nan  # a day no member has (e.g. a masked confounder date)
    r = np.corrcoef(np.delete(x, 7, axis=1))
    expected = r[np.triu_indices(40, k=1)].mean()
    cc = within_cluster_rbar(x, np.zeros(40, dtype=np.int64))
    assert cc.rbar == pytest.approx(expected, rel=1e-10)
    assert cc.pairs == 780
    x[3, 11] = np.nan  # now the pairwise-complete path
    ok = np.isfinite(x[3]) & np.isfinite(x[5])
    r35 = np.corrcoef(x[3, ok], x[5, ok])[0, 1]
    assert pairwise_corr(x)[3, 5] == pytest.approx(r35, rel=1e-12)
    cc2 = within_cluster_rbar(x, np.zeros(40, dtype=np.int64))
    assert cc2.rbar == pytest.approx(expected, abs=2e-3)
    assert cc2.pairs == 780


# ----------------------------------------------------------------- GRANK, Corrado, sign


def test_grank_worked_example() -> None:
    ar, w = tiny()
    n = 5
    # Step 1: SCAR_i and its re-standardisation by the cross-sectional sd (KP 2011).
    scar = [w.car[i] / math.sqrt(w.var[i]) for i in range(n)]
    s_scar = _sd(scar)
    scar_star = [s / s_scar for s in scar]
    # Step 2: generalised SARs: estimation SARs AR/sigma, then SCAR* as time point 0.
    gsar = [[v / ar.sigma[i] for v in EST[i]] + [scar_star[i]] for i in range(n)]
    # Step 3: U_it = rank / (T_i + 1) - 1/2, ranks over each instance's present values.
    u = []
    for row in gsar:
        present = [v for v in row if not math.isnan(v)]
        ranks = iter(_rank_within(present))
        t_i = len(present)
        u.append([NAN if math.isnan(v) else next(ranks) / (t_i + 1) - 0.5 for v in row])
    # Step 4: mean ranks per time point, S_Ubar^2 = (1/T) sum_t (n_t/n) Ubar_t^2.
    big_t = 7
    ubar, n_t = [], []
    for t in range(big_t):
        col = [u[i][t] for i in range(n) if not math.isnan(u[i][t])]
        ubar.append(_mean(col))
        n_t.append(len(col))
    s_u = math.sqrt(sum(n_t[t] / n * ubar[t] ** 2 for t in range(big_t)) / big_t)
    # Step 5: Z and t_grank = Z sqrt((T - 2) / (T - 1 - Z^2)) ~ t(T - 2).
    z = ubar[-1] / s_u
    t_grank = z * math.sqrt((big_t - 2) / (big_t - 1 - z * z))

    res = grank_t(ar, w)
    assert res.statistic == pytest.approx(t_grank, rel=1e-12)
    assert res.distribution == "t(5)"
    assert res.pvalue == pytest.approx(2 * sps.t.sf(abs(t_grank), 5), rel=1e-12)
    assert res.n == 5


def test_corrado_worked_example_complete_data() -> None:
    # Corrado (1989) with raw ranks K_it over the estimation days and the days of the
    # window tested (T = 6 + D; day -1 is in neither window below), S(K) =
    # sqrt((1/T) sum_t (Kbar_t - (T+1)/2)^2), multi-day: sum / (sqrt(D) S(K)).
    ar, w = tiny()
    rows = [0, 1, 3, 4]  # instance 2 has a missing day; Corrado's raw form needs none
    day0 = day_window(ar, 0)
    np.testing.assert_array_equal(day0.car, EVENT[:, 1])
    for cols, win in (([1, 2], w), ([1], day0)):  # [0,+1] and [0,0]
        full = [list(EST[i]) + [EVENT[i][c] for c in cols] for i in rows]
        big_t = len(full[0])
        ranks = [_rank_within(r) for r in full]
        dev = [_mean([ranks[j][t] for j in range(4)]) - (big_t + 1) / 2 for t in range(big_t)]
        s_k = math.sqrt(sum(d * d for d in dev) / big_t)
        z = sum(dev[6:]) / (math.sqrt(len(cols)) * s_k)
        res = corrado_rank(ar, win, np.array(rows))
        assert res.statistic == pytest.approx(z, rel=1e-12)


def test_generalized_sign_worked_example() -> None:
    ar, w = tiny()
    # Cowan (1992): p̂ = mean_i (share of positive estimation ARs), w = # CAR_i > 0.
    shares = []
    for i in range(5):
        vals = [v for v in EST[i] if not math.isnan(v)]
        shares.append(sum(v > 0 for v in vals) / len(vals))
    p = _mean(shares)
    wins = sum(c > 0 for c in w.car)
    z = (wins - 5 * p) / math.sqrt(5 * p * (1 - p))
    res = generalized_sign(ar, w)
    assert res.statistic == pytest.approx(z, rel=1e-12)
    assert res.pvalue == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-12)


# ----------------------------------------------------------------- scipy checks


def test_cross_sectional_t_matches_scipy() -> None:
    ar, w = tiny()
    ref = sps.ttest_1samp(w.car, 0.0)
    res = cross_sectional_t(ar, w)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.distribution == "t(4)" and res.null == "CAAR[0,+1] = 0"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_wilcoxon_exact_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    car = rng.normal(0.004, 0.02, size=17)
    ar, w = _with_cars(car)
    res = wilcoxon_signed_rank(ar, w)
    ref = sps.wilcoxon(car, method="exact")
    greater = sps.wilcoxon(car, alternative="greater", method="exact")
    assert res.statistic == pytest.approx(greater.statistic, rel=1e-12)  # W+
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)


def test_wilcoxon_ties_and_zeros_match_scipy_asymptotic() -> None:
    car = np.array([0.01, -0.02, 0.01, 0.03, 0.0, -0.01, 0.02, 0.04, 0.02, -0.005, 0.015])
    ar, w = _with_cars(car)
    res = wilcoxon_signed_rank(ar, w)
    ref = sps.wilcoxon(car, zero_method="wilcox", correction=False, method="asymptotic")
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.n == 10  # the zero CAR is dropped


def _with_cars(car: np.ndarray) -> tuple[AbnormalReturns, WindowCAR]:
    n = car.size
    rng = np.random.default_rng(0)
    est = rng.normal(0, 0.01, size=(n, 30))
    ar = AbnormalReturns(
        est,
        car[:, None],
        np.arange(-40, -10, dtype=np.int64),
        np.array([0], dtype=np.int64),
        np.full(n, 30, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.sqrt((est**2).mean(axis=1)),
        np.ones((n, 1)),
        np.zeros(n, dtype=np.int64),
    )
    return ar, WindowCAR(0, 0, car, ar.sigma**2, np.ones(n, dtype=np.int64), np.full(n, NAN))


# ----------------------------------------------------------------- statsmodels: dummy regression


def _market_model_study(seed: int) -> tuple[AbnormalReturns, WindowCAR, np.ndarray, np.ndarray]:
    """4 securities sharing one event date, market model fitted in numpy, CLM variances."""
    rng = np.random.default_rng(seed)
    big_l, rel = 60, np.arange(-2, 3)
    m = rng.normal(0, 0.01, big_l + 5)
    resid = rng.normal(0, 0.02, (big_l + 5, 4)) + 0.01 * rng.normal(size=(big_l + 5, 1))
    ret = 0.001 + m[:, None] * np.array([0.8, 1.0, 1.2, 1.5]) + resid
    x = np.column_stack([np.ones(big_l + 5), m])
    xe, xw = x[:big_l], x[big_l:]
    coef = np.linalg.solve(xe.T @ xe, xe.T @ ret[:big_l])
    est, event = (ret[:big_l] - xe @ coef).T, (ret[big_l:] - xw @ coef).T
    sigma = np.sqrt((est**2).sum(axis=1) / (big_l - 2))
    v = np.eye(5) + xw @ np.linalg.inv(xe.T @ xe) @ xw.T  # CLM eq. 4.4.8
    inw = (rel >= 0) & (rel <= 1)
    ar = AbnormalReturns(
        est,
        event,
        np.arange(-big_l - 10, -10, dtype=np.int64),
        rel.astype(np.int64),
        np.full(4, big_l, dtype=np.int64),
        np.full(4, 2, dtype=np.int64),
        sigma,
        np.tile(np.diag(v), (4, 1)),
        np.zeros(4, dtype=np.int64),
    )
    w = WindowCAR(
        0,
        1,
        event[:, inw].sum(axis=1),
        sigma**2 * v[np.ix_(inw, inw)].sum(),
        np.full(4, 2, dtype=np.int64),
        np.full(4, NAN),
    )
    return ar, w, ret, m


def _dummy_t(y: np.ndarray, m: np.ndarray) -> tuple[float, float, float]:
    """OLS of y on [1, m, a dummy for each of the 5 event days]; t of D0 + D1 = 0."""
    d = np.zeros((65, 5))
    d[60:, :] = np.eye(5)
    res = sm.OLS(y, np.column_stack([np.ones(65), m, d])).fit()
    tt = res.t_test(np.array([[0, 0, 0, 0, 1, 1, 0]]))
    return float(tt.tvalue.item()), float(tt.pvalue.item()), float(res.df_resid)


def test_time_series_t_equals_dummy_regression() -> None:
    ar, w, ret, m = _market_model_study(7)
    for i in range(4):
        t, p, dof = _dummy_t(ret[:, i], m)
        res = time_series_t(ar, w, i)
        assert res.statistic == pytest.approx(t, rel=1e-10)
        assert res.pvalue == pytest.approx(p, rel=1e-8)
        assert res.distribution == f"t({int(dof)})"


def test_vectorised_time_series_t_and_daily_window() -> None:
    ar, w, ret, m = _market_model_study(7)
    allt = time_series_t_all(ar, w)
    for i in range(4):
        one = time_series_t(ar, w, i)
        assert allt.statistic[i] == pytest.approx(one.statistic, rel=1e-14)
        assert allt.pvalue[i] == pytest.approx(one.pvalue, rel=1e-12)
    # the daily test on day +1 is the dummy regression's t of D1 alone
    d = np.zeros((65, 5))
    d[60:, :] = np.eye(5)
    fit = sm.OLS(ret[:, 2], np.column_stack([np.ones(65), m, d])).fit()
    assert time_series_t(ar, day_window(ar, 1), 2).statistic == pytest.approx(
        float(fit.tvalues[5]), rel=1e-10
    )


def test_portfolio_t_equals_dummy_regression_on_the_portfolio() -> None:
    ar, w, ret, m = _market_model_study(11)
    t, p, dof = _dummy_t(ret.mean(axis=1), m)
    res = portfolio_t(ar, w)
    assert res.statistic == pytest.approx(t, rel=1e-10)
    assert res.pvalue == pytest.approx(p, rel=1e-8)
    assert res.distribution == f"t({int(dof)})" == "t(58)"


def test_portfolio_across_clusters_combines_cluster_ts() -> None:
    studies = [_market_model_study(s) for s in (21, 22, 23)]
    ts = [_dummy_t(ret.mean(axis=1), m)[0] for _, _, ret, m in studies]
    ar = AbnormalReturns(
        *(np.concatenate([getattr(s[0], f) for s in studies]) for f in ("est", "event")),
        studies[0][0].est_days,
        studies[0][0].rel_days,
        *(
            np.concatenate([getattr(s[0], f) for s in studies])
            for f in ("n_est", "k", "sigma", "fe")
        ),
        np.repeat(np.array([5, 9, 2], dtype=np.int64), 4),
    )
    w = WindowCAR(
        0,
        1,
        *(
            np.concatenate([getattr(s[1], f) for s in studies])
            for f in ("car", "var", "days", "bhar")
        ),
    )
    z = sum(ts) / math.sqrt(3 * 58 / 56)  # Stouffer-Patell over independent clusters
    assert portfolio_t(ar, w).statistic == pytest.approx(z, rel=1e-10)
    cs = sps.ttest_1samp(ts, 0.0)
    res = portfolio_cs_t(ar, w)
    assert res.statistic == pytest.approx(cs.statistic, rel=1e-10)
    assert res.pvalue == pytest.approx(cs.pvalue, rel=1e-10)


# ----------------------------------------------------------------- bootstrap


def test_cluster_bootstrap_matches_analytic_standard_error() -> None:
    # 400 single-instance clusters of iid CARs: the bootstrap distribution of the mean
    # has sd s * sqrt((C-1)/C) / sqrt(C); the 95% percentile interval is about +-1.96 that.
    rng = np.random.default_rng(3)
    car = rng.normal(0.001, 0.02, 400)
    ar, w = _with_cars(car)
    ar = AbnormalReturns(
        ar.est,
        ar.event,
        ar.est_days,
        ar.rel_days,
        ar.n_est,
        ar.k,
        ar.sigma,
        ar.fe,
        np.arange(400, dtype=np.int64),
    )
    b = cluster_bootstrap(ar, w, rng=np.random.default_rng(9), n_boot=4000)
    se = car.std(ddof=0) / math.sqrt(400)
    assert b.caar == pytest.approx(car.mean(), rel=1e-12)
    assert (b.high - b.low) / 2 == pytest.approx(1.959964 * se, rel=0.06)
    z = car.mean() / se
    assert b.pvalue == pytest.approx(2 * sps.norm.sf(abs(z)), abs=0.03)
    again = cluster_bootstrap(ar, w, rng=9, n_boot=4000)
    assert (again.low, again.high, again.pvalue) == (b.low, b.high, b.pvalue)


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    # 6 clusters whose members are identical within the cluster: the bootstrap mean
    # can only take values of means of cluster means, so its spread equals that of
    # the 6 cluster means resampled, not of 60 independent instances.
    means = np.array([-0.02, -0.01, 0.0, 0.005, 0.01, 0.03])
    car = np.repeat(means, 10)
    ar, w = _with_cars(car)
    ar = AbnormalReturns(
        ar.est,
        ar.event,
        ar.est_days,
        ar.rel_days,
        ar.n_est,
        ar.k,
        ar.sigma,
        ar.fe,
        np.repeat(np.arange(6, dtype=np.int64), 10),
    )
    b = cluster_bootstrap(ar, w, rng=1, n_boot=20000)
    se_clusters = means.std(ddof=0) / math.sqrt(6)
    assert (b.high - b.low) / 2 == pytest.approx(1.96 * se_clusters, rel=0.1)


def _wild_by_hand(sums: list[float], counts: list[int]) -> tuple[float, float]:
    """Cameron, Gelbach and Miller (2008) wild cluster bootstrap-t, all sign vectors."""
    c, big_n = len(sums), sum(counts)

    def t_of(s: list[float]) -> float:
        theta = sum(s) / big_n
        v = c / (c - 1) * sum((s[j] - counts[j] * theta) ** 2 for j in range(c)) / big_n**2
        return theta / math.sqrt(v)

    t = t_of(sums)
    flips = list(itertools.product((1.0, -1.0), repeat=c))
    hits = sum(abs(t_of([f[j] * sums[j] for j in range(c)])) >= abs(t) - 1e-12 for f in flips)
    return t, hits / len(flips)


def _clustered_cars(car: np.ndarray, cluster: np.ndarray) -> tuple[AbnormalReturns, WindowCAR]:
    ar, w = _with_cars(car)
    return (
        AbnormalReturns(
            ar.est,
            ar.event,
            ar.est_days,
            ar.rel_days,
            ar.n_est,
            ar.k,
            ar.sigma,
            ar.fe,
            cluster.astype(np.int64),
        ),
        w,
    )


def test_wild_cluster_bootstrap_enumerated_by_hand() -> None:
    rng = np.random.default_rng(12)
    cluster = np.repeat(np.array([4, 1, 9, 7, 2, 3]), [3, 5, 2, 4, 1, 3])
    car = rng.normal(0.01, 0.02, cluster.size)
    ar, w = _clustered_cars(car, cluster)
    ids = sorted(set(cluster.tolist()))
    sums = [float(car[cluster == c].sum()) for c in ids]
    counts = [int((cluster == c).sum()) for c in ids]
    t, p = _wild_by_hand(sums, counts)
    res = wild_cluster_bootstrap_test(ar, w)
    assert res.statistic == pytest.approx(t, rel=1e-12)
    assert res.pvalue == pytest.approx(p, rel=1e-12)
    assert "2^6" in res.distribution


def test_wild_cluster_bootstrap_random_draws_approach_enumeration() -> None:
    rng = np.random.default_rng(13)
    cluster = np.repeat(np.arange(15), 2)
    car = rng.normal(0.004, 0.02, 30)
    ar, w = _clustered_cars(car, cluster)
    sums = [float(car[cluster == c].sum()) for c in range(15)]
    t, p = _wild_by_hand(sums, [2] * 15)
    res = wild_cluster_bootstrap_test(ar, w, rng=np.random.default_rng(1), n_boot=9999)
    assert res.statistic == pytest.approx(t, rel=1e-12)
    assert res.pvalue == pytest.approx(p, abs=0.015)  # Monte Carlo sd ~ 0.005
