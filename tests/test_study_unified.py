"""One implementation per idea (issue 17): each shared kernel pinned against
independent values, and the study and strategy packages free of import cycles."""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from backtest.study.arrays import AbnormalReturns, WindowCAR, column_nanmean, window_label
from backtest.study.clustering import (
    StatsMemo,
    estimation_portfolio,
    portfolio_by_cluster,
    portfolio_car_variance,
)
from backtest.study.kernels import covered_sessions, fit_from_sums, fit_ols, prefix_features
from backtest.study.ranks import signrank_cdfs, wilcoxon_signed_rank
from backtest.study.registry import make_tests

ROOT = Path(__file__).resolve().parents[1] / "backtest"


def test_column_nanmean_skips_missing_and_is_nan_for_an_empty_column():
    x = np.array([[1.0, np.nan, 2.0], [3.0, np.nan, np.nan], [np.inf, np.nan, 4.0]])
    got = column_nanmean(x)
    assert got[0] == 2.0 and math.isnan(got[1]) and got[2] == 3.0


def test_one_window_label_everywhere():
    w = WindowCAR(-5, 10, np.zeros(1), np.ones(1), np.ones(1, np.int64), np.zeros(1))
    assert w.label == window_label(-5, 10) == "[-5,+10]"
    assert window_label(0, 1) == "[0,+1]" and window_label(-1, 0) == "[-1,0]"
    from backtest.study.spec import window_label as spec_label

    assert spec_label is window_label


def _ar(rng: np.random.Generator, n: int = 6, L: int = 30, W: int = 5) -> AbnormalReturns:
    est = rng.normal(0, 0.01, (n, L))
    est[0, :3] = np.nan
    event = rng.normal(0, 0.01, (n, W))
    return AbnormalReturns(
        est=est,
        event=event,
        est_days=np.arange(-40, -40 + L),
        rel_days=np.arange(-2, -2 + W),
        n_est=np.isfinite(est).sum(axis=1).astype(np.int64),
        k=np.full(n, 2, dtype=np.int64),
        sigma=np.full(n, 0.01),
        fe=np.ones((n, W)),
        cluster=np.array([0, 0, 0, 1, 1, 1], dtype=np.int64),
    )


def test_portfolio_variance_is_the_one_of_the_portfolio_test():
    rng = np.random.default_rng(4)
    ar = _ar(rng)
    inside = ar.window_mask(-1, 1)
    car = ar.event[:, inside].sum(axis=1)
    w = WindowCAR(-1, 1, car, ar.sigma**2 * 3.2, np.full(6, 3), car.copy())
    rows = np.array([0, 1, 2])
    # by hand: p_t = mean AR of the members, s^2 = sum p_t^2 / (L_p - k), f = 3.2
    p = np.nanmean(ar.est[rows], axis=0)
    s2 = np.sum(p**2) / (p.size - 2)
    assert estimation_portfolio(ar, rows).dof == 28
    assert portfolio_car_variance(ar, w, rows) == pytest.approx(s2 * 3.2, rel=1e-13)
    pt = portfolio_by_cluster(ar, w)
    q = ar.event[np.ix_(rows, np.flatnonzero(inside))].mean(axis=0)
    assert pt.stat[0] == pytest.approx(q.sum() / math.sqrt(s2 * 3.2), rel=1e-12)


def test_memo_changes_no_statistic():
    rng = np.random.default_rng(5)
    ar = _ar(rng)
    plain, memo = make_tests(7, n_boot=99), StatsMemo()
    kept = make_tests(7, n_boot=99, memo=memo)
    for a, b in ((-2, 2), (-1, 1), (0, 0), (1, 1), (-1, 1)):
        inside = ar.window_mask(a, b)
        car = ar.event[:, inside].sum(axis=1)
        w = WindowCAR(a, b, car, ar.sigma**2 * inside.sum(), np.full(6, 1), car)
        for name in plain:
            for idx in (None, np.array([0, 1, 3, 4])):
                x, y = plain[name](ar, w, idx), kept[name](ar, w, idx)
                assert (x.statistic == y.statistic) or (
                    math.isnan(x.statistic) and math.isnan(y.statistic)
                ), name
    assert memo.rbar and memo.est and memo.by_window and memo.est_ranks


def _sums_design(y: np.ndarray, x: np.ndarray):
    """fit_ols and fit_from_sums on the same single estimation window."""
    n, L, p = x.shape
    ols = fit_ols(y, x, np.ones((n, L), bool), np.ones((n, p), bool), True)
    P = prefix_features(y.T, np.swapaxes(x, 0, 1))
    sums = fit_from_sums(P[-1] - P[0], p, True, 1 + p)
    return ols, sums


def test_one_singularity_rule_for_both_ols_fits():
    rng = np.random.default_rng(6)
    L = 40
    good = rng.normal(size=(L, 2))
    const = np.column_stack([rng.normal(size=L), np.full(L, 0.3)])  # a constant column
    twin = np.column_stack([good[:, 0], 2.0 * good[:, 0] + 1e-14 * rng.normal(size=L)])
    x = np.stack([good, const, twin])
    y = rng.normal(size=(3, L))
    ols, sums = _sums_design(y, x)
    assert ols.ok.tolist() == [True, False, False]
    assert np.isfinite(sums.b).all(axis=-1).tolist() == [True, False, False]
    np.testing.assert_allclose(sums.b[0], ols.coef[0], rtol=1e-10)
    # one regressor: a constant market is singular for both, a varying one is not
    x1 = np.stack([good[:, :1], np.full((L, 1), 0.01)])
    ols1, sums1 = _sums_design(y[:2], x1)
    assert ols1.ok.tolist() == [True, False]
    assert np.isfinite(sums1.b[:, 0]).tolist() == [True, False]


def test_covered_sessions_marks_each_span_clipped_to_the_data():
    got = covered_sessions(np.array([1, 8, 4]), np.array([0, 0, 1]), -1, 1, 10, 2)
    want = np.zeros((2, 10), bool)
    want[0, [0, 1, 2, 7, 8, 9]] = True
    want[1, [3, 4, 5]] = True
    assert np.array_equal(got, want)


def test_exact_signed_rank_null_equals_enumeration():
    n = 9
    sums = [sum(s) for k in range(n + 1) for s in itertools.combinations(range(1, n + 1), k)]
    cdf = np.cumsum(np.bincount(sums)) / 2**n
    assert np.array_equal(signrank_cdfs({n})[n], cdf)
    car = np.array([0.5, -1.2, 2.3, 0.7, -0.1, 1.9, 3.1, -2.6, 0.9])
    w = WindowCAR(0, 1, car, np.ones(n), np.ones(n, np.int64), car)
    ar = AbnormalReturns(
        np.zeros((n, 3)), np.zeros((n, 2)), np.arange(3), np.arange(2), np.full(n, 3),
        np.zeros(n, np.int64), np.ones(n), np.ones((n, 2)), np.arange(n),
    )  # fmt: skip
    r = wilcoxon_signed_rank(ar, w)
    w_plus = int(r.statistic)
    assert w_plus == 1 + 4 + 5 + 6 + 7 + 8  # ranks of |car| of the positive CARs
    p = 2 * min(cdf[w_plus], 1 - cdf[w_plus - 1])
    assert r.pvalue == pytest.approx(p, rel=1e-15)


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports anywhere (type-checking blocks too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n for n in names if n.startswith(package + ".") and n.count(".") == 2}
    return out


@pytest.mark.parametrize("package", ["study", "strategy"])
def test_no_import_cycle_inside_the_numerics_packages(package):
    full = f"backtest.{package}"
    files = {f"{full}.{p.stem}": p for p in (ROOT / package).glob("*.py")}
    graph = {m: _imports(p, full) & set(files) - {m} for m, p in files.items()}
    seen: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        if seen.get(m) == 2:
            return
        assert seen.get(m) != 1, " -> ".join([*stack[stack.index(m) :], m])
        seen[m] = 1
        for d in sorted(graph[m]):
            visit(d, [*stack, m])
        seen[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_kept_signed_rank_null_is_the_one_pass_null_and_read_only():
    from backtest.study.ranks import signrank_cdf

    for n in (2, 9, 31, 50):
        assert np.array_equal(signrank_cdf(n), signrank_cdfs({n})[n])
        assert signrank_cdf(n) is signrank_cdf(n)
        with pytest.raises(ValueError):
            signrank_cdf(n)[0] = 1.0
