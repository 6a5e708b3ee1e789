"""Normal-return models: which regressors each needs and how its abnormal return is formed.

A model is described, not executed, here: the design step gathers the columns a
model names, and :mod:`backtest.study.kernels` fits them.  Every model has the form

    AR_it = (R_it - offset_it) - X_it' b_i

where ``offset`` is a fixed expected return (the security's benchmark for
market-adjusted, 0 otherwise) and ``X`` the estimated part
(intercept and regressors; empty for models without estimated parameters).
Campbell, Lo and MacKinlay (1997, ch. 4) give the constant-mean and market
models; the factor model is the same OLS with more columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.study.arrays import DesignArrays, FloatArray, IntArray, WindowCAR
from backtest.study.kernels import (
    OLSFit,
    bhar,
    car_variance_factor,
    event_ar,
    fit_ols,
    forecast_factor,
    required_days,
    window_sums,
)
from backtest.study.spec import Conventions, MissingPolicy, StudySpec


@dataclass(frozen=True, slots=True)
class ModelDef:
    """What a normal-return model needs from the design."""

    name: str
    offset: str | None  # regressor column subtracted with weight 1, or None
    regressors: tuple[str, ...]  # estimated slope columns (may include the US-lag column)
    intercept: bool
    optional: tuple[str, ...]  # regressors used only where the security has them

    @property
    def columns(self) -> tuple[str, ...]:
        """Every regressor column the design must gather, offset first."""
        cols = ((self.offset,) if self.offset else ()) + self.regressors + self.optional
        return tuple(dict.fromkeys(cols))

    @property
    def estimated(self) -> bool:
        return self.intercept or bool(self.regressors) or bool(self.optional)


def model_def(spec: StudySpec) -> ModelDef:
    """The :class:`ModelDef` of ``spec.model`` (with the US-lag regressor if asked)."""
    lag = (spec.us_lag_column,) if spec.lagged_us else ()
    if spec.model == "constant_mean":
        return ModelDef("constant_mean", None, (), True, ())
    if spec.model == "market_adjusted":
        return ModelDef("market_adjusted", spec.market_column, (), False, ())
    if spec.model == "market":
        return ModelDef("market", None, (spec.market_column,), True, lag)
    return ModelDef("factor", None, tuple(spec.factors), True, lag)


@dataclass(frozen=True, slots=True)
class ModelFit:
    """A fitted normal-return model for n instances (arrays only).

    ar_est (n, L), ar_evt (n, W): abnormal returns; y_evt the returns net of the
    offset; xs_evt (n, W, p) the slope regressors; sigma2 (n,) residual variance
    under the conventions; k (n,) estimated parameters; fe (n, W) forecast-error
    factors (1 under estudy2 conventions, which apply none to CARs).
    """

    fit: OLSFit
    ar_est: FloatArray
    ar_evt: FloatArray
    r_evt: FloatArray
    xs_evt: FloatArray
    sigma2: FloatArray
    k: IntArray
    fe: FloatArray
    textbook: bool

    @property
    def ok(self) -> np.ndarray:
        return self.fit.ok & np.isfinite(self.sigma2) & (self.sigma2 >= 0)

    def window(
        self,
        start: int,
        end: int,
        rel_days: IntArray,
        log: bool,
        with_bhar: bool = True,
        missing: MissingPolicy = "require_day0",
    ) -> WindowCAR:
        """CAR, its variance, days and BHAR over [start, end] (BHAR NaN if not asked).

        ``missing``: under require_day0 an instance without a day-0 return has no CAR
        (NaN, 0 days) in a window that contains day 0.
        """
        inside = (rel_days >= start) & (rel_days <= end)
        car, days = window_sums(self.ar_evt, inside, required_days(rel_days, inside, missing))
        present = ~np.isnan(self.ar_evt) & inside[None, :] & (days > 0)[:, None]
        if self.textbook:
            est = self.fit if self.fit.intercept or self.xs_evt.shape[-1] else None
            factor = car_variance_factor(self.xs_evt, present, est)
        else:
            factor = days.astype(float)
        var = np.where(days > 0, self.sigma2 * factor, np.nan)
        bh = (
            np.where(days > 0, bhar(self.r_evt, self.ar_evt, inside, log), np.nan)
            if with_bhar
            else np.full(len(car), np.nan)
        )
        return WindowCAR(start, end, car, var, days, bh)


def fit_model(a: DesignArrays, model: ModelDef, conventions: Conventions) -> ModelFit:
    """Fit ``model`` to every instance of the design.

    textbook: sigma_i^2 = SSR_i / (L_i - k_i) (k = 0 for market-adjusted, so SSR is
    the plain sum of squared ARs), forecast-error factors of Campbell, Lo and
    MacKinlay (1997, 4.4.7).  estudy2: sigma_i^2 = the sample variance of the
    estimation ARs with L_i - 1 degrees of freedom (R's var), no forecast-error factor.
    """
    cols = a.columns
    off = cols.index(model.offset) if model.offset else None
    slope = [j for j, c in enumerate(cols) if c != model.offset]
    y_est = a.r_est - a.x_est[:, :, off] if off is not None else a.r_est
    y_evt = a.r_evt - a.x_evt[:, :, off] if off is not None else a.r_evt
    xs_est, xs_evt = a.x_est[:, :, slope], a.x_evt[:, :, slope]
    cm = a.colmask[:, slope]
    use = ~np.isnan(y_est)
    if slope:
        use &= ~(np.isnan(xs_est) & cm[:, None, :]).any(axis=-1)
    fit = fit_ols(y_est, xs_est, use, cm, model.intercept)
    ar_evt = event_ar(y_evt, xs_evt, cm, fit)
    k = (int(model.intercept) + fit.p_used).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if conventions == "textbook":
            sigma2 = fit.ssr / (fit.n_obs - k)
            fe = forecast_factor(xs_evt, fit)
        else:
            centred = fit.ssr - fit.n_obs * fit.resid_mean**2
            sigma2 = centred / (fit.n_obs - 1)
            fe = np.ones(ar_evt.shape)
    return ModelFit(
        fit, fit.resid, ar_evt, a.r_evt, xs_evt, sigma2, k, fe, conventions == "textbook"
    )
