"""The daily tests done for all days at once (backtest.study.daily) give, to the last bit,
what the one-day tests give day by day: statistics, p-values, n, distributions and
reasons, on random groups with missing days, zero variances, one or many clusters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.study.arrays import AbnormalReturns, TestResult
from backtest.study.clustering import StatsMemo, finite_segment_means, portfolio_t
from backtest.study.daily import (
    BATCHED,
    bmp_t_days,
    cross_sectional_t_days,
    daily_results,
    finite_segment_means_rows,
    portfolio_t_days,
)
from backtest.study.registry import make_tests
from backtest.study.stats import bmp_t, cross_sectional_t, day_window


def _same(a: TestResult, b: TestResult) -> bool:
    def eq(x: float, y: float) -> bool:
        return (math.isnan(x) and math.isnan(y)) or np.float64(x).tobytes() == np.float64(
            y
        ).tobytes()

    return (
        eq(a.statistic, b.statistic)
        and eq(a.pvalue, b.pvalue)
        and (a.test, a.null, a.distribution, a.n, a.valid, a.reason)
        == (b.test, b.null, b.distribution, b.n, b.valid, b.reason)
    )


def _random_ar(rng: np.random.Generator) -> AbnormalReturns:
    n = int(rng.integers(1, 60))
    n_est, width = int(rng.integers(3, 40)), int(rng.integers(1, 12))
    scale = 10.0 ** rng.uniform(-4, 0)
    est = rng.standard_t(4, size=(n, n_est)) * scale
    est[rng.random(est.shape) < rng.uniform(0, 0.3)] = np.nan
    event = rng.standard_t(3, size=(n, width)) * scale
    event[rng.random(event.shape) < rng.uniform(0, 0.4)] = np.nan
    event[rng.random(n) < 0.1] = np.nan  # instances with no event day at all
    sigma = np.abs(rng.normal(scale, scale / 3, n))
    sigma[rng.random(n) < 0.05] = 0.0
    fe = 1.0 + rng.exponential(0.05, size=(n, width))
    clusters = rng.integers(0, int(rng.integers(1, 12)), n)
    start = -int(rng.integers(0, width))
    return AbnormalReturns(
        est=est,
        event=event,
        est_days=np.arange(-n_est - 20, -20, dtype=np.int64),
        rel_days=np.arange(start, start + width, dtype=np.int64),
        n_est=np.isfinite(est).sum(axis=1).astype(np.int64),
        k=rng.integers(0, 3, n).astype(np.int64),
        sigma=sigma,
        fe=fe,
        cluster=clusters.astype(np.int64),
    )


def _groups(rng: np.random.Generator, n: int) -> list[np.ndarray | None]:
    return [
        None,
        np.flatnonzero(rng.random(n) < 0.5).astype(np.int64),
        rng.random(n) < 0.7,
        np.arange(min(n, 2), dtype=np.int64),
    ]


def test_batched_daily_tests_equal_the_one_day_tests_bit_for_bit() -> None:
    rng = np.random.default_rng(2026)
    per_day = {"cross_sectional_t": cross_sectional_t, "bmp_t": bmp_t}
    compared = 0
    for _ in range(120):
        ar = _random_ar(rng)
        # every event day, one day outside the span (no column) and a sign-flipped copy
        days = [int(t) for t in ar.rel_days] + [int(ar.rel_days[-1]) + 1]
        ws = [day_window(ar, t) for t in days]
        for idx in _groups(rng, ar.n):
            for name, batch in (
                ("cross_sectional_t", cross_sectional_t_days),
                ("bmp_t", bmp_t_days),
                ("portfolio_t", portfolio_t_days),
            ):
                memo = StatsMemo()
                got = batch(ar, ws, idx, memo)
                for w, g in zip(ws, got, strict=True):
                    if name == "portfolio_t":
                        want = portfolio_t(ar, w, idx, memo=StatsMemo())
                    else:
                        want = per_day[name](ar, w, idx)
                    assert _same(g, want), (name, w.start, g, want)
                    compared += 1
    assert compared > 4_000


def test_daily_results_use_the_registry_for_tests_without_a_batch() -> None:
    rng = np.random.default_rng(7)
    ar = _random_ar(rng)
    ws = [day_window(ar, int(t)) for t in ar.rel_days]
    reg = make_tests()
    assert set(BATCHED) == {"cross_sectional_t", "bmp_t", "portfolio_t"}
    for name in ("patell_z", "portfolio_t"):
        got = daily_results(name, reg, ar, ws, None, StatsMemo())
        assert all(_same(g, reg[name](ar, w, None)) for g, w in zip(got, ws, strict=True))
    assert daily_results("bmp_t", reg, ar, [], None, None) == []


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_finite_segment_means_rows_equal_each_row_alone(layout: str) -> None:
    """Row by row equal to finite_segment_means, also for a matrix that is a strided view
    (numpy sums the rows of a non-contiguous block in another order: the batch copies
    first; without that copy this test fails on the 8+ segments)."""
    rng = np.random.default_rng(5)
    for _ in range(500):
        days, n = int(rng.integers(1, 25)), int(rng.integers(1, 300))
        big = rng.standard_t(3, size=(days, 2 * n)) * 10 ** rng.uniform(-8, 3)
        x = big[:, ::2] if layout == "strided" else np.ascontiguousarray(big[:, :n])
        if rng.random() < 0.3:
            x[rng.random(x.shape) < 0.2] = np.nan
        k = int(rng.integers(0, min(n, 40)))
        picked = rng.choice(np.arange(1, n), size=min(k, n - 1), replace=False) if n > 1 else []
        cuts = np.sort(np.asarray(picked, dtype=np.int64))
        empty = rng.integers(0, 3, size=(days, cuts.size + 1)).astype(np.float64)
        got = finite_segment_means_rows(x, cuts, empty)
        want = np.stack([finite_segment_means(x[d], cuts, empty[d]) for d in range(days)])
        assert got.tobytes() == want.tobytes()
