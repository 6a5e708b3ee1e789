"""Kernels: vectorised OLS, forecast-error factors, CAR variances, BHAR, prefix-sum fits.

Independent numbers: statsmodels OLS per row, explicit matrix formulas of
Campbell, Lo and MacKinlay (1997, eqs. 4.4.7-4.4.11), hand-worked products.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.study.kernels import (
    bhar,
    car_variance_factor,
    event_ar,
    fit_ols,
    forecast_factor,
    window_sums,
)

sm = pytest.importorskip("statsmodels.api")


def _data(n: int, L: int, p: int, seed: int, nan_share: float = 0.1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, (n, L, p))
    beta = rng.normal(1, 0.3, (n, p))
    y = 0.001 + np.einsum("nlp,np->nl", x, beta) + rng.normal(0, 0.02, (n, L))
    y[rng.random((n, L)) < nan_share] = np.nan
    x[rng.random((n, L, p)) < nan_share / 2] = np.nan
    return y, x


def _use(y, x, colmask):
    return ~np.isnan(y) & ~(np.isnan(x) & colmask[:, None, :]).any(axis=-1)


@pytest.mark.parametrize("p", [1, 3])
def test_fit_matches_statsmodels(p):
    y, x = _data(12, 120, p, seed=p)
    colmask = np.ones((12, p), dtype=bool)
    if p == 3:
        colmask[::3, 2] = False  # an optional column absent for some rows
    use = _use(y, x, colmask)
    fit = fit_ols(y, x, use, colmask, intercept=True)
    assert fit.ok.all()
    for i in range(12):
        cols = np.flatnonzero(colmask[i])
        ols = sm.OLS(y[i][use[i]], sm.add_constant(x[i][use[i]][:, cols])).fit()
        np.testing.assert_allclose(fit.alpha[i], ols.params[0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(fit.coef[i, cols], ols.params[1:], rtol=1e-10)
        np.testing.assert_allclose(fit.ssr[i], ols.ssr, rtol=1e-10)
        np.testing.assert_allclose(fit.resid[i][use[i]], ols.resid, rtol=1e-8, atol=1e-14)
        assert fit.n_obs[i] == ols.nobs
        if p == 3 and not colmask[i, 2]:
            assert fit.coef[i, 2] == 0.0


@pytest.mark.parametrize("p", [1, 2])
def test_forecast_and_car_variance_factors(p):
    """fe_t = 1 + x_t'(X'X)^-1 x_t and l'l + l'X*(X'X)^-1 X*'l from explicit matrices."""
    y, x = _data(5, 80, p, seed=10 + p, nan_share=0.0)
    colmask = np.ones((5, p), dtype=bool)
    fit = fit_ols(y, x, _use(y, x, colmask), colmask, intercept=True)
    rng = np.random.default_rng(3)
    xe = rng.normal(0, 0.01, (5, 6, p))
    present = np.ones((5, 6), dtype=bool)
    present[1, 2] = False
    fe = forecast_factor(xe, fit)
    cv = car_variance_factor(xe, present, fit)
    for i in range(5):
        X = np.column_stack([np.ones(80), x[i]])
        V = np.linalg.inv(X.T @ X)
        Xs = np.column_stack([np.ones(6), xe[i]])
        np.testing.assert_allclose(fe[i], 1 + np.einsum("wi,ij,wj->w", Xs, V, Xs), rtol=1e-10)
        ind = present[i].astype(float)
        np.testing.assert_allclose(cv[i], ind @ ind + ind @ Xs @ V @ Xs.T @ ind, rtol=1e-10)
        # statsmodels: Var(mean prediction) / sigma^2 = x'(X'X)^-1 x
        ols = sm.OLS(y[i], X).fit()
        se = ols.get_prediction(Xs).se_mean
        np.testing.assert_allclose(fe[i], 1 + se**2 / ols.scale, rtol=1e-8)


def test_constant_mean_and_no_parameter_models():
    y, _ = _data(4, 60, 1, seed=5)
    empty = np.zeros((4, 60, 0))
    use = ~np.isnan(y)
    cm = fit_ols(y, empty, use, np.zeros((4, 0), bool), intercept=True)
    np.testing.assert_allclose(cm.alpha, np.nanmean(y, axis=1), rtol=1e-12)
    fe = forecast_factor(np.zeros((4, 3, 0)), cm)
    np.testing.assert_allclose(fe, 1 + 1 / use.sum(axis=1)[:, None] * np.ones((1, 3)))
    ma = fit_ols(y, empty, use, np.zeros((4, 0), bool), intercept=False)
    np.testing.assert_allclose(ma.ssr, np.nansum(y**2, axis=1), rtol=1e-12)
    np.testing.assert_array_equal(forecast_factor(np.zeros((4, 3, 0)), ma), 1.0)
    present = np.ones((4, 3), bool)
    np.testing.assert_array_equal(car_variance_factor(np.zeros((4, 3, 0)), present, None), 3.0)


def test_singular_design_flagged():
    y, x = _data(3, 50, 1, seed=7, nan_share=0.0)
    x[1] = 0.004  # constant regressor: slope not identified
    fit = fit_ols(y, x, _use(y, x, np.ones((3, 1), bool)), np.ones((3, 1), bool), True)
    assert fit.ok.tolist() == [True, False, True]
    y3, x3 = _data(3, 50, 2, seed=8, nan_share=0.0)
    x3[2, :, 1] = 2.0 * x3[2, :, 0]  # collinear columns
    f3 = fit_ols(y3, x3, _use(y3, x3, np.ones((3, 2), bool)), np.ones((3, 2), bool), True)
    assert f3.ok.tolist() == [True, True, False]


def test_event_ar_window_sums_and_bhar():
    y, x = _data(2, 40, 1, seed=9, nan_share=0.0)
    cm = np.ones((2, 1), bool)
    fit = fit_ols(y, x, _use(y, x, cm), cm, True)
    ye = np.array([[0.01, np.nan, 0.03], [0.02, -0.01, 0.0]])
    xe = np.array([[[0.005], [0.001], [0.002]], [[0.0], [0.01], [np.nan]]])
    ar = event_ar(ye, xe, cm, fit)
    exp = ye - fit.alpha[:, None] - fit.coef[:, 0][:, None] * xe[:, :, 0]
    np.testing.assert_allclose(ar, exp, rtol=1e-12)
    assert np.isnan(ar[0, 1]) and np.isnan(ar[1, 2])
    car, days = window_sums(ar, np.array([True, True, True]))
    np.testing.assert_allclose(car, [ar[0, 0] + ar[0, 2], ar[1, 0] + ar[1, 1]], rtol=1e-12)
    assert days.tolist() == [2, 2]
    b = bhar(ye, ar, np.array([True, True, True]), log=False)
    normal = ye - ar
    hand0 = (1 + ye[0, 0]) * (1 + ye[0, 2]) - (1 + normal[0, 0]) * (1 + normal[0, 2])
    assert b[0] == pytest.approx(hand0, rel=1e-12)
    bl = bhar(ye, ar, np.array([True, True, False]), log=True)
    hand1 = np.exp(ye[1, 0] + ye[1, 1]) - np.exp(normal[1, 0] + normal[1, 1])
    assert bl[1] == pytest.approx(hand1, rel=1e-12)


def test_car_additivity_property():
    """CAR over [a, c] = CAR[a, b] + CAR(b, c] for any split."""
    rng = np.random.default_rng(11)
    ar = rng.normal(0, 0.02, (30, 16))
    ar[rng.random(ar.shape) < 0.1] = np.nan
    days = np.arange(-5, 11)
    for a, b, c in [(-5, 0, 10), (-1, 1, 5), (0, 0, 1)]:
        whole, _ = window_sums(ar, (days >= a) & (days <= c))
        left, _ = window_sums(ar, (days >= a) & (days <= b))
        right, _ = window_sums(ar, (days > b) & (days <= c))
        np.testing.assert_allclose(
            whole, np.nan_to_num(left) + np.nan_to_num(right), rtol=1e-12, atol=1e-15
        )


def test_chunked_fit_equals_single_pass(monkeypatch):
    import backtest.study.kernels as k

    y, x = _data(50, 60, 2, seed=13)
    cm = np.ones((50, 2), bool)
    whole = fit_ols(y, x, _use(y, x, cm), cm, True)
    monkeypatch.setattr(k, "FIT_CHUNK", 7)
    parts = k.fit_ols(y, x, _use(y, x, cm), cm, True)
    for name in ("alpha", "coef", "s_inv", "ssr", "n_obs", "ok"):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name))
    np.testing.assert_array_equal(np.isnan(parts.resid), np.isnan(whole.resid))
