"""Daily tests of one group on every event day at once, bit for bit the one-day tests.

A study tests every group on each of its event days (the one-day windows [t, t]):
thousands of calls a run, each a handful of numpy operations on a few dozen values,
so the calls' overhead is most of their cost.  Here the days whose test uses the
same instances are stacked as the rows of one C-ordered matrix and reduced along
the rows.  numpy reduces each row of such a matrix exactly as it reduces that row
alone, and the element-wise steps are the same operations in the same order, so
every statistic, p-value and reason is the one the per-day call returns (a property
test holds them to it on random groups with missing values, ties and clusters).

The batched tests are :data:`BATCHED`; any other daily test is called day by day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from backtest.study.arrays import AbnormalReturns, FloatArray, IntArray, TestResult, WindowCAR
from backtest.study.clustering import (
    PortfolioT,
    StatsMemo,
    cluster_parts,
    finite_segment_means,
    portfolio_t,
    portfolio_t_result,
)
from backtest.study.stats import MIN_CROSS_SECTION, mean_t_result, null_text, select

DayTests = Callable[
    [AbnormalReturns, Sequence[WindowCAR], "IntArray | None", "StatsMemo | None"],
    list[TestResult],
]


def same_rows(ok: np.ndarray) -> list[tuple[IntArray, np.ndarray]]:
    """The days (rows of ``ok``, days x instances) grouped by which instances they use:
    each group's day indices, in order, and its boolean pattern."""
    groups: dict[bytes, list[int]] = {}
    for d in range(ok.shape[0]):
        groups.setdefault(ok[d].tobytes(), []).append(d)
    return [(np.array(days, dtype=np.int64), ok[days[0]]) for days in groups.values()]


def _mean_t_days(
    name: str, nulls: list[str], x: np.ndarray, ok: np.ndarray, what: str
) -> list[TestResult]:
    """:func:`backtest.study.stats._mean_t` of the finite ``ok`` values of each row of ``x``."""
    out: list[TestResult | None] = [None] * x.shape[0]
    for days, pattern in same_rows(ok):
        n = int(pattern.sum())
        if n >= MIN_CROSS_SECTION:
            block = np.ascontiguousarray(x[np.ix_(days, np.flatnonzero(pattern))])
            total = np.add.reduce(block, axis=1)  # each row as stats.mean_sd sums it alone
            dev = block - (total / n)[:, None]
            var = np.add.reduce(dev * dev, axis=1) / (n - 1)
            mean, sd = total / n, np.sqrt(var)
        else:
            mean = sd = np.full(days.size, math.nan)
        for j, d in enumerate(days):
            out[d] = mean_t_result(name, nulls[d], n, float(mean[j]), float(sd[j]), what)
    return [r for r in out if r is not None]


def cross_sectional_t_days(
    ar: AbnormalReturns,
    ws: Sequence[WindowCAR],
    idx: IntArray | None = None,
    memo: StatsMemo | None = None,
) -> list[TestResult]:
    """:func:`backtest.study.stats.cross_sectional_t` of each window of ``ws``."""
    rows = select(ar.n, idx)
    car = np.stack([w.car[rows] for w in ws])
    nulls = [null_text(w) for w in ws]
    return _mean_t_days("cross_sectional_t", nulls, car, np.isfinite(car), "CARs")


def bmp_t_days(
    ar: AbnormalReturns,
    ws: Sequence[WindowCAR],
    idx: IntArray | None = None,
    memo: StatsMemo | None = None,
) -> list[TestResult]:
    """:func:`backtest.study.stats.bmp_t` of each window of ``ws``."""
    rows = select(ar.n, idx)
    car = np.stack([w.car[rows] for w in ws])
    var = np.stack([w.var[rows] for w in ws])
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = car / np.sqrt(var)
    ok = np.isfinite(scar) & (var > 0)
    return _mean_t_days("bmp_t", [null_text(w) for w in ws], scar, ok, "SCARs")


def finite_segment_means_rows(x: FloatArray, cuts: IntArray, empty: FloatArray) -> FloatArray:
    """:func:`~backtest.study.clustering.finite_segment_means` of each row of ``x`` (days x
    values) with that row of ``empty``: the same sums, all rows at once when every value
    is finite (otherwise row by row)."""
    if not np.isfinite(x).all():
        return np.stack([finite_segment_means(x[d], cuts, empty[d]) for d in range(x.shape[0])])
    x = np.ascontiguousarray(x)  # numpy sums a row of a C-ordered matrix as it would alone
    days, size = x.shape
    if not cuts.size:
        return (np.add.reduce(x, axis=1) / size)[:, None] if size else np.array(empty)
    bounds = np.concatenate(([0], cuts, [size]))
    starts, counts = bounds[:-1], np.diff(bounds)
    out = np.array(empty, dtype=np.float64)
    small = counts < 8
    width = int(counts[small].max(initial=0))
    if width:  # fewer than 8 values: added one after another, as finite_segment_means does
        pos = starts[small][:, None] + np.minimum(np.arange(width), counts[small][:, None] - 1)
        grid = x[:, pos]  # (days, small segments, width)
        total = grid[:, :, 0].copy()
        for j in range(1, width):
            np.add(total, grid[:, :, j], out=total, where=(counts[small] > j)[None, :])
        out[:, small] = total / counts[small]
    for k in np.flatnonzero(np.bincount(counts)[8:]) + 8:
        which = np.flatnonzero(counts == k)
        block = x[:, starts[which][:, None] + np.arange(k)].reshape(days * which.size, k)
        sums = np.add.reduce(np.ascontiguousarray(block), axis=1)  # not the strided view
        out[:, which] = (sums / k).reshape(days, which.size)
    return out


def portfolio_t_days(
    ar: AbnormalReturns,
    ws: Sequence[WindowCAR],
    idx: IntArray | None = None,
    memo: StatsMemo | None = None,
) -> list[TestResult]:
    """:func:`backtest.study.clustering.portfolio_t` of each one-day window of ``ws``
    (:func:`~backtest.study.clustering.portfolio_by_cluster` with the days that share
    their instances done together); other windows are tested one by one."""
    rows_all = select(ar.n, idx)
    cols = [np.flatnonzero(ar.window_mask(w.start, w.end)) for w in ws]
    out: list[TestResult | None] = [None] * len(ws)
    one = [d for d, c in enumerate(cols) if c.size == 1 and ws[d].start == ws[d].end]
    for d in sorted(set(range(len(ws))) - set(one)):
        out[d] = portfolio_t(ar, ws[d], idx, memo=memo)
    if one:
        car = np.stack([ws[d].car[rows_all] for d in one])
        var = np.stack([ws[d].var[rows_all] for d in one])
        for group, pattern in same_rows(np.isfinite(car)):
            days = [one[g] for g in group]
            rows = rows_all[pattern]
            if not rows.size:
                none, empty = np.zeros(0, np.int64), np.zeros(0)
                pt = PortfolioT(none, empty, empty, none, none)
                for d in days:
                    out[d] = portfolio_t_result(pt, null_text(ws[d]))
                continue
            cl = cluster_parts(ar, rows, True, memo)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = (var[np.ix_(group, np.flatnonzero(pattern))] / ar.sigma[rows] ** 2)[
                    :, cl.order
                ]
            q = cl.q[:, [int(cols[d][0]) for d in days]]  # (clusters, days)
            has_q = np.isfinite(q)
            f = finite_segment_means_rows(ratio, cl.cuts, has_q.T.astype(np.float64)).T
            car_p = np.where(np.isnan(q), 0.0, q)
            with np.errstate(invalid="ignore", divide="ignore"):
                s2 = cl.ssq / cl.dof
                stat = car_p / np.sqrt(s2[:, None] * f)
            valid = (cl.dof >= 1)[:, None] & has_q & (s2 > 0)[:, None] & (f > 0)
            stat = np.where(valid, stat, np.nan)
            ids = cl.ids.astype(np.int64)
            for j, d in enumerate(days):
                pt = PortfolioT(ids, car_p[:, j], stat[:, j], cl.dof, cl.sizes)
                out[d] = portfolio_t_result(pt, null_text(ws[d]))
    return [r for r in out if r is not None]


BATCHED: dict[str, DayTests] = {
    "cross_sectional_t": cross_sectional_t_days,
    "bmp_t": bmp_t_days,
    "portfolio_t": portfolio_t_days,
}
"""The daily tests computed for all days at once, by their registry names."""


def daily_results(
    name: str,
    tests: Mapping[str, Callable[..., TestResult]],
    ar: AbnormalReturns,
    ws: Sequence[WindowCAR],
    idx: IntArray | None,
    memo: StatsMemo | None,
) -> list[TestResult]:
    """Test ``name`` of the group ``idx`` on each one-day window of ``ws``: batched when
    it is in :data:`BATCHED`, otherwise ``tests[name]`` day by day."""
    batch = BATCHED.get(name)
    if batch is not None and ws:
        return batch(ar, ws, idx, memo)
    return [tests[name](ar, w, idx) for w in ws]
