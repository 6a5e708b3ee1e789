"""Invariants of every registered test, and what happens on degenerate input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.study import arrays
from backtest.study.arrays import AbnormalReturns, WindowCAR
from backtest.study.clustering import kp_bmp_t, portfolio_t
from backtest.study.registry import CLUSTER_ROBUST, TESTS, make_tests, run_all
from backtest.study.stats import bmp_t, cross_sectional_t, patell_z, time_series_t

BOOT = make_tests(seed=5, n_boot=199)


def random_study(
    seed: int, n: int, clusters: int, missing: bool = True
) -> tuple[AbnormalReturns, WindowCAR]:
    """n instances in ``clusters`` clusters, 40 estimation and 5 event days, k = 2."""
    rng = np.random.default_rng(seed)
    est = rng.normal(0, 0.02, (n, 40)) + 0.01 * rng.normal(size=(1, 40))
    event = rng.normal(0.002, 0.02, (n, 5))
    if missing:
        est[rng.random((n, 40)) < 0.05] = np.nan
    n_est = np.isfinite(est).sum(axis=1)
    sigma = np.sqrt(np.nansum(est**2, axis=1) / (n_est - 2))
    fe = 1 + rng.uniform(0, 0.1, (n, 5))
    cluster = rng.integers(0, clusters, n).astype(np.int64) * 7 + 3
    ar = AbnormalReturns(
        est,
        event,
        np.arange(-50, -10, dtype=np.int64),
        np.arange(-2, 3, dtype=np.int64),
        n_est.astype(np.int64),
        np.full(n, 2, dtype=np.int64),
        sigma,
        fe,
        cluster,
    )
    inw = ar.window_mask(0, 1)
    car = event[:, inw].sum(axis=1)
    var = sigma**2 * fe[:, inw].sum(axis=1) * 1.05
    return ar, WindowCAR(0, 1, car, var, np.full(n, 2, dtype=np.int64), np.full(n, np.nan))


def permute(
    ar: AbnormalReturns, w: WindowCAR, order: np.ndarray
) -> tuple[AbnormalReturns, WindowCAR]:
    return (
        AbnormalReturns(
            ar.est[order],
            ar.event[order],
            ar.est_days,
            ar.rel_days,
            ar.n_est[order],
            ar.k[order],
            ar.sigma[order],
            ar.fe[order],
            ar.cluster[order],
        ),
        WindowCAR(w.start, w.end, w.car[order], w.var[order], w.days[order], w.bhar[order]),
    )


def scale(ar: AbnormalReturns, w: WindowCAR, c: float) -> tuple[AbnormalReturns, WindowCAR]:
    return (
        AbnormalReturns(
            ar.est * c,
            ar.event * c,
            ar.est_days,
            ar.rel_days,
            ar.n_est,
            ar.k,
            ar.sigma * c,
            ar.fe,
            ar.cluster,
        ),
        WindowCAR(w.start, w.end, w.car * c, w.var * c * c, w.days, w.bhar * c),
    )


def _same(a: arrays.TestResult, b: arrays.TestResult) -> None:
    assert a.valid == b.valid and a.n == b.n and a.distribution == b.distribution
    if a.valid:
        assert b.statistic == pytest.approx(a.statistic, rel=1e-9, abs=1e-12)
        assert b.pvalue == pytest.approx(a.pvalue, rel=1e-9, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), n=st.integers(6, 30), clusters=st.integers(1, 7), data=st.data()
)
def test_reordering_instances_changes_nothing(
    seed: int, n: int, clusters: int, data: st.DataObject
) -> None:
    ar, w = random_study(seed, n, clusters)
    order = np.array(data.draw(st.permutations(range(n))))
    ar2, w2 = permute(ar, w, order)
    for _name, fn in BOOT.items():
        _same(fn(ar, w, None), fn(ar2, w2, None))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(6, 30),
    clusters=st.integers(1, 7),
    c=st.floats(1e-3, 1e3),
)
def test_scaling_abnormal_returns_leaves_statistics_unchanged(
    seed: int, n: int, clusters: int, c: float
) -> None:
    ar, w = random_study(seed, n, clusters)
    ar2, w2 = scale(ar, w, c)
    for name, fn in BOOT.items():
        a, b = fn(ar, w, None), fn(ar2, w2, None)
        if name == "cluster_bootstrap" and a.valid:  # its statistic is the CAAR itself
            assert b.statistic == pytest.approx(a.statistic * c, rel=1e-9)
            assert b.pvalue == pytest.approx(a.pvalue, rel=1e-9)
        else:
            _same(a, b)
    for i in range(n):
        _same(time_series_t(ar, w, i), time_series_t(ar2, w2, i))


def test_group_selection_by_mask_or_positions_is_the_same() -> None:
    ar, w = random_study(4, 20, 3)
    mask = ar.cluster != ar.cluster[0]
    for fn in BOOT.values():
        _same(fn(ar, w, mask), fn(ar, w, np.flatnonzero(mask)))


def test_nan_instances_are_dropped_and_counted() -> None:
    ar, w = random_study(8, 12, 2, missing=False)
    car = w.car.copy()
    car[[1, 5]] = np.nan
    w_nan = WindowCAR(w.start, w.end, car, w.var, w.days, w.bhar)
    keep = np.array([i for i in range(12) if i not in (1, 5)])
    for name in (
        "cross_sectional_t",
        "patell_z",
        "bmp_t",
        "kp_bmp_t",
        "generalized_sign",
        "grank_t",
        "wilcoxon",
        "corrado_rank",
    ):
        res = TESTS[name](ar, w_nan, None)
        assert res.valid and res.n == 10, name
    # for the cross-sectional statistics, dropping is the same as selecting the rest
    for fn in (cross_sectional_t, patell_z, bmp_t, kp_bmp_t):
        _same(fn(ar, w_nan, None), fn(ar, w, keep))


def test_one_instance_is_invalid_for_cross_sectional_tests() -> None:
    ar, w = random_study(1, 6, 1)
    idx = np.array([2])
    for name in (
        "cross_sectional_t",
        "bmp_t",
        "kp_bmp_t",
        "generalized_sign",
        "grank_t",
        "wilcoxon",
        "portfolio_cs_t",
        "cluster_bootstrap",
    ):
        res = BOOT[name](ar, w, idx)
        assert not res.valid and math.isnan(res.statistic) and math.isnan(res.pvalue), name
        assert res.reason, name
    assert patell_z(ar, w, idx).valid  # Patell and the portfolio t need no cross-section
    assert portfolio_t(ar, w, idx).valid


def test_zero_variance_is_invalid_with_a_reason() -> None:
    ar, w = random_study(2, 8, 1, missing=False)
    same = WindowCAR(0, 1, np.full(8, 0.01), w.var, w.days, w.bhar)
    res = cross_sectional_t(ar, same)
    assert not res.valid and "zero" in res.reason
    zero = AbnormalReturns(
        np.zeros_like(ar.est),
        np.zeros_like(ar.event),
        ar.est_days,
        ar.rel_days,
        ar.n_est,
        ar.k,
        np.zeros(8),
        ar.fe,
        ar.cluster,
    )
    wz = WindowCAR(0, 1, np.zeros(8), np.zeros(8), w.days, w.bhar)
    for name, fn in BOOT.items():
        r = fn(zero, wz, None)
        assert not r.valid and r.reason, name
    assert not time_series_t(zero, wz, 0).valid


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_no_test_raises_on_degenerate_input(n: int) -> None:
    ar, w = random_study(3, max(n, 1), 1)
    if n == 0:
        idx = np.array([], dtype=np.int64)
    else:
        idx = None
        w = WindowCAR(0, 1, np.full(n, np.nan), w.var, w.days, w.bhar)
    out = run_all(ar, w, idx, BOOT)
    for name, res in out.items():
        assert isinstance(res, arrays.TestResult)
        assert not res.valid and res.reason, name


def test_without_shared_clusters_kp_bmp_is_bmp() -> None:
    ar, w = random_study(6, 10, 1)
    solo = AbnormalReturns(
        ar.est,
        ar.event,
        ar.est_days,
        ar.rel_days,
        ar.n_est,
        ar.k,
        ar.sigma,
        ar.fe,
        np.arange(10, dtype=np.int64),
    )
    _same_stat = kp_bmp_t(solo, w).statistic
    assert _same_stat == pytest.approx(bmp_t(solo, w).statistic, rel=1e-14)


def test_registry_names_and_nulls() -> None:
    ar, w = random_study(9, 30, 8)
    assert CLUSTER_ROBUST <= set(TESTS)
    for name, res in run_all(ar, w).items():
        assert res.valid, (name, res.reason)
        assert "[0,+1]" in res.null
    day = WindowCAR(
        1,
        1,
        ar.event[:, 3],
        ar.sigma**2 * ar.fe[:, 3],
        np.ones(30, dtype=np.int64),
        np.full(30, np.nan),
    )
    assert cross_sectional_t(ar, day).null == "AAR[+1] = 0"


def test_group_of_a_study_equals_the_group_as_its_own_study() -> None:
    # The rank tests reuse ranks computed once per study; a group selected with idx
    # must give what the group's own arrays give (fresh, uncached).
    ar, w = random_study(12, 25, 4)
    idx = np.flatnonzero(ar.cluster != ar.cluster[3])
    sub_ar, sub_w = permute(ar, w, idx)
    for fn in BOOT.values():
        _same(fn(ar, w, idx), fn(sub_ar, sub_w, None))
        _same(fn(ar, w, None), fn(*permute(ar, w, np.arange(25)), None))


def test_mean_sd_is_numpys_mean_and_std_bit_for_bit():
    """stats.mean_sd replaces np.mean and np.std(ddof=1) in the small tests: equal to the
    last bit on sizes around numpy's pairwise-summation blocks, scales and strides."""
    import numpy as np

    from backtest.study.stats import mean_sd

    rng = np.random.default_rng(11)
    for _ in range(3000):
        n = int(rng.integers(2, 300))
        x = rng.standard_t(3, size=2 * n) * 10 ** rng.uniform(-6, 3)
        for v in (x[:n], x[::2]):
            assert mean_sd(v) == (float(np.mean(v)), float(np.std(v, ddof=1)))


def test_finite_segment_means_are_numpys_mean_of_each_segment_bit_for_bit():
    """clustering.finite_segment_means replaces a loop of ``seg[isfinite(seg)].mean()``
    over the clusters of the portfolio test: equal to the last bit on segments from 0 to
    hundreds of finite values (numpy's pairwise blocks start at 8 and split at 128),
    with NaN and inf among them, and ``empty`` where a segment has no finite value."""
    import numpy as np

    from backtest.study.clustering import finite_segment_means

    rng = np.random.default_rng(12)
    for _ in range(3000):
        n = int(rng.integers(1, 600))
        x = rng.standard_t(3, size=n) * 10 ** rng.uniform(-8, 3)
        x[rng.random(n) < rng.uniform(0.0, 0.6)] = np.nan
        x[rng.random(n) < 0.02] = np.inf
        k = int(rng.integers(0, min(n, 40)))
        cuts = (
            np.sort(rng.choice(np.arange(1, n), size=min(k, n - 1), replace=False)) if n > 1 else []
        )
        cuts = np.asarray(cuts, dtype=np.int64)
        empty = rng.integers(0, 5, size=cuts.size + 1).astype(np.float64)
        expected = [
            float(seg[np.isfinite(seg)].mean()) if np.isfinite(seg).any() else e
            for seg, e in zip(np.split(x, cuts), empty, strict=True)
        ]
        got = finite_segment_means(x, cuts, empty)
        assert got.tobytes() == np.array(expected).tobytes()
