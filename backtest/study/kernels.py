"""Numerical kernels of the study: numpy arrays in, numpy arrays out (no pandas, no I/O).

OLS is fitted for every instance at once, in centred form.  With an intercept and
slope regressors x (p columns), on the L_i complete estimation observations:

    b_i     = S_i^-1 sum_t (x_t - xbar)(y_t - ybar),   S_i = sum_t (x_t - xbar)(x_t - xbar)'
    a_i     = ybar - xbar' b_i
    AR_it   = y_t - a_i - x_t' b_i

and the forecast-error factor and CAR variance of Campbell, Lo and MacKinlay
(1997, eqs. 4.4.7-4.4.11), written in the same centred form (X = [1, x]):

    Var(AR_it)  = sigma_i^2 (1 + x_t'(X'X)^-1 x_t)     = sigma_i^2 (1 + 1/L_i + u_t' S_i^-1 u_t)
    Var(CAR_i)  = sigma_i^2 (l'l + l'X*(X'X)^-1 X*'l)  = sigma_i^2 (d + d^2/L_i + s' S_i^-1 s)

with u_t = x_t - xbar, l the indicator of the d window days present and
s = sum over those days of u_t.  The centred form is exact and better conditioned
than the raw normal equations.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from backtest.study.arrays import FloatArray, IntArray

SINGULAR_TOL = 1e-10


def usable_design(
    s: FloatArray, raw_diag: FloatArray, used: np.ndarray | None = None
) -> np.ndarray:
    """The one singularity rule of the study's OLS fits (per instance and per pseudo date).

    ``s`` (.., p, p): the centred cross-product of the slope regressors (the raw one
    without an intercept); ``raw_diag`` (.., p): their raw sums of squares; ``used``
    (.., p): the columns in the model (all when None).  A design is usable when every
    used column varies, s_jj > SINGULAR_TOL x its raw sum of squares, and, with several
    columns, the smallest eigenvalue of their correlation matrix exceeds SINGULAR_TOL
    (no column is nearly a combination of the others).
    """
    p = s.shape[-1]
    if p == 0:
        return np.ones(s.shape[:-2], dtype=bool)
    used = np.ones(s.shape[:-1], dtype=bool) if used is None else used
    diag = np.einsum("...ii->...i", s)
    varies = (diag > SINGULAR_TOL * np.maximum(raw_diag, 1e-300)) | ~used
    if p == 1:
        return np.asarray(varies[..., 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(used, np.sqrt(np.maximum(diag, 1e-300)), 1.0)
        corr = s / scale[..., :, None] / scale[..., None, :]
    off = used[..., :, None] & used[..., None, :]
    eye = np.eye(p, dtype=bool)
    corr = np.where(off, corr, np.where(eye, 1.0, 0.0))
    corr = np.where(np.isfinite(corr), corr, 0.0)
    ok = varies.all(axis=-1) & (np.linalg.eigvalsh(corr)[..., 0] > SINGULAR_TOL)
    return np.asarray(ok)


@dataclass(frozen=True, slots=True)
class OLSFit:
    """Per-instance fit of y on an intercept (if any) and p slope columns.

    coef (n, p) slopes (0 for unused columns); alpha (n,); ybar, xbar the
    estimation means; s_inv (n, p, p) the inverse centred cross-product (identity
    rows for unused columns); ssr (n,) sum of squared residuals; resid_mean (n,);
    n_obs (n,); p_used (n,); ok (n,) False where the design is singular; colmask
    (n, p) the slope columns used.
    """

    alpha: FloatArray
    coef: FloatArray
    xbar: FloatArray
    s_inv: FloatArray
    resid: FloatArray
    ssr: FloatArray
    resid_mean: FloatArray
    n_obs: IntArray
    p_used: IntArray
    intercept: bool
    ok: np.ndarray
    colmask: np.ndarray


def _masked_mean(v: np.ndarray, w: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(w, v, 0.0).sum(axis=1) / n)


FIT_CHUNK = 16_384


def fit_ols(
    y: FloatArray, x: FloatArray, use: np.ndarray, colmask: np.ndarray, intercept: bool
) -> OLSFit:
    """Fit every row of ``y`` (n, L) on ``x`` (n, L, p) over the observations ``use``.

    ``colmask`` (n, p) selects the slope columns of each row.  Without an intercept
    and without slopes (market-adjusted), the 'residual' is y itself.  Large problems
    are fitted in row chunks (same numbers, bounded temporaries).
    """
    n = y.shape[0]
    if n <= FIT_CHUNK:
        return _fit_ols(y, x, use, colmask, intercept)
    out: dict[str, np.ndarray] = {}
    for i in range(0, n, FIT_CHUNK):
        part = _fit_ols(
            y[i : i + FIT_CHUNK],
            x[i : i + FIT_CHUNK],
            use[i : i + FIT_CHUNK],
            colmask[i : i + FIT_CHUNK],
            intercept,
        )
        for f in fields(OLSFit):
            if f.name == "intercept":
                continue
            v = getattr(part, f.name)
            if f.name not in out:
                out[f.name] = np.empty((n, *v.shape[1:]), dtype=v.dtype)
            out[f.name][i : i + len(v)] = v
    return OLSFit(**out, intercept=intercept)


def _fit_ols(
    y: FloatArray, x: FloatArray, use: np.ndarray, colmask: np.ndarray, intercept: bool
) -> OLSFit:
    n, _, p = x.shape
    nobs = use.sum(axis=1)
    ybar = _masked_mean(y, use, nobs) if intercept else np.zeros(n)
    yc = np.where(use, y - ybar[:, None], 0.0)
    if p == 0:
        coef = np.zeros((n, 0))
        xbar = np.zeros((n, 0))
        s_inv = np.zeros((n, 0, 0))
        ok = nobs > 0
        resid_c = yc
    else:
        m = use[:, :, None] & colmask[:, None, :]
        xbar = np.where(m, x, 0.0).sum(axis=1) / np.maximum(nobs, 1)[:, None]
        if not intercept:
            xbar = np.zeros_like(xbar)
        xc = np.where(m, x - xbar[:, None, :], 0.0)
        raw = (np.where(m, x, 0.0) ** 2).sum(axis=1)
        if p == 1:
            s = np.einsum("nl,nl->n", xc[:, :, 0], xc[:, :, 0])
            ok = usable_design(s[:, None, None], raw, colmask)
            s_safe = np.where(colmask[:, 0] & ok, s, 1.0)
            coef = (np.einsum("nl,nl->n", xc[:, :, 0], yc) / s_safe)[:, None]
            s_inv = (1.0 / s_safe)[:, None, None]
        else:
            coef, s_inv, ok = _solve_centred(xc, yc, colmask, raw)
        resid_c = yc - np.einsum("nlp,np->nl", xc, coef)
    resid = np.where(use, resid_c, np.nan)
    ssr = np.where(use, resid_c, 0.0)
    ssr = np.einsum("nl,nl->n", ssr, ssr)
    alpha = ybar - np.einsum("np,np->n", xbar, coef) if intercept else np.zeros(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmean = np.where(use, resid_c, 0.0).sum(axis=1) / nobs
    return OLSFit(
        alpha,
        coef,
        xbar,
        s_inv,
        resid,
        ssr,
        rmean,
        nobs.astype(np.int64),
        colmask.sum(axis=1).astype(np.int64),
        intercept,
        ok & (nobs > 0),
        colmask,
    )


def _solve_centred(
    xc: np.ndarray, yc: np.ndarray, colmask: np.ndarray, raw: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slopes and inverse cross-products for p > 1 columns (unused columns get identity);
    ``raw`` (n, p) the raw sums of squares for :func:`usable_design`."""
    s = np.einsum("nlp,nlq->npq", xc, xc)
    sxy = np.einsum("nlp,nl->np", xc, yc)
    unused = ~colmask
    diag = np.einsum("npp->np", s)
    scale = np.where(unused, 1.0, np.sqrt(np.maximum(diag, 1e-300)))
    corr = s / scale[:, :, None] / scale[:, None, :]
    idx = np.arange(s.shape[1])
    corr[:, idx, idx] = np.where(unused, 1.0, corr[:, idx, idx])
    off = unused[:, :, None] | unused[:, None, :]
    corr = np.where(off & ~np.eye(s.shape[1], dtype=bool), 0.0, corr)
    ok = usable_design(s, raw, colmask)
    corr = np.where(ok[:, None, None], corr, np.eye(s.shape[1]))
    cinv = np.linalg.inv(corr)
    s_inv = cinv / scale[:, :, None] / scale[:, None, :]
    coef = np.einsum("npq,nq->np", s_inv, np.where(unused, 0.0, sxy))
    return coef, s_inv, ok


def event_ar(y: FloatArray, x: FloatArray, colmask: np.ndarray, fit: OLSFit) -> FloatArray:
    """Abnormal returns y - alpha - x'b on event days (NaN where y or a used x is missing)."""
    pred = fit.alpha[:, None] + np.einsum("nwp,np->nw", np.nan_to_num(x), fit.coef)
    bad = np.isnan(y)
    if x.shape[-1]:
        bad |= (np.isnan(x) & colmask[:, None, :]).any(axis=-1)
    return np.where(bad, np.nan, y - pred)


def forecast_factor(x: FloatArray, fit: OLSFit) -> FloatArray:
    """1 + x_t'(X'X)^-1 x_t per event day (1 for models without estimated parameters)."""
    out = np.ones(x.shape[:2])
    if fit.intercept:
        with np.errstate(invalid="ignore", divide="ignore"):
            out += (1.0 / fit.n_obs)[:, None]
    if x.shape[-1]:
        u = np.nan_to_num(x - fit.xbar[:, None, :])
        out += np.einsum("nwp,npq,nwq->nw", u, fit.s_inv, u)
    return out


def car_variance_factor(x: FloatArray, present: np.ndarray, fit: OLSFit | None) -> FloatArray:
    """l'l + l'X*(X'X)^-1 X*'l for the days ``present`` (n, W) of one window.

    ``fit`` None means no estimated parameters: the factor is the number of days.
    """
    d = present.sum(axis=1).astype(float)
    if fit is None or (not fit.intercept and x.shape[-1] == 0):
        return np.asarray(d, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = d + d * d / fit.n_obs
    if x.shape[-1]:
        u = np.where(present[:, :, None], np.nan_to_num(x - fit.xbar[:, None, :]), 0.0)
        s = u.sum(axis=1)
        out = out + np.einsum("np,npq,nq->n", s, fit.s_inv, s)
    return np.asarray(out, dtype=np.float64)


def covered_sessions(
    pos: IntArray, col: IntArray, start: int, end: int, n_sessions: int, n_cols: int
) -> np.ndarray:
    """(n_cols, n_sessions) mask of the sessions [pos + start, pos + end] of each
    (pos, col) pair, clipped to the data: the one masking rule of the study (other
    events' spans out of estimation windows, real event windows out of placebo draws).
    """
    busy = np.zeros((n_cols, n_sessions + 1), dtype=np.int32)
    np.add.at(busy, (col, np.clip(pos + start, 0, n_sessions)), 1)
    np.add.at(busy, (col, np.clip(pos + end + 1, 0, n_sessions)), -1)
    return np.asarray(np.cumsum(busy, axis=1)[:, :-1] > 0)


def window_sums(
    ar: FloatArray, window: np.ndarray, required: np.ndarray | None = None
) -> tuple[FloatArray, IntArray]:
    """CAR (sum of the window's non-missing ARs) and the number of days present.

    ``required`` (W,) marks days that must be present (see :func:`required_days`): an
    instance missing any of them gets no CAR (NaN) and 0 days, whatever else it has.
    """
    present = ~np.isnan(ar) & window[None, :]
    if required is not None and required.any():
        complete = ~(np.isnan(ar) & required[None, :]).any(axis=1)
        present &= complete[:, None]
    car = np.where(present, ar, 0.0).sum(axis=1)
    days = present.sum(axis=1)
    return np.where(days > 0, car, np.nan), days.astype(np.int64)


def required_days(rel_days: IntArray, window: np.ndarray, missing: str) -> np.ndarray | None:
    """Days of a window an instance's CAR cannot do without, under a missing-day policy.

    ``require_day0``: day 0, when the window contains it (a CAR that misses the event
    day measures something else); ``drop_day`` and ``drop_instance``: none (the design
    step has already dropped instances with a missing day under ``drop_instance``).
    """
    if missing != "require_day0":
        return None
    return np.asarray(window & (rel_days == 0))


def bhar(r: FloatArray, ar: FloatArray, window: np.ndarray, log: bool) -> FloatArray:
    """Buy-and-hold abnormal return over the window's days with an AR.

    simple returns: prod(1 + R) - prod(1 + R - AR); log returns: exp(sum R) - exp(sum(R - AR)).
    """
    present = ~np.isnan(ar) & window[None, :]
    rr = np.where(present, r, 0.0)
    nn = np.where(present, r - ar, 0.0)
    if log:
        out = np.exp(rr.sum(axis=1)) - np.exp(nn.sum(axis=1))
    else:
        out = np.prod(1.0 + rr, axis=1) - np.prod(1.0 + nn, axis=1)
    return np.where(present.any(axis=1), out, np.nan)


# --------------------------------------------------------------------------- prefix sums
# Any window's OLS fit from cumulative sums, in O(1) per (instance, window).  Row t + 1
# of a prefix array holds the sums over sessions 0..t of complete observations of
#   cnt, y, y^2, x (p), x x' (p*p, row-major), x y (p)
# so the sums over sessions [lo, hi] are P[hi + 1] - P[lo].  The fit is the centred
# form above with xbar = sx / n; y is the return net of any offset (market-adjusted).


def n_features(p: int) -> int:
    return 3 + 2 * p + p * p


def prefix_features(y: FloatArray, x: FloatArray) -> FloatArray:
    """(T + 1, S, F) prefix sums of the features of y (T, S) and x (T, S, p)."""
    T, S = y.shape
    p = x.shape[-1]
    ok = ~np.isnan(y)
    if p:
        ok &= ~np.isnan(x).any(axis=-1)
    y0 = np.where(ok, y, 0.0)
    x0 = np.where(ok[..., None], x, 0.0)
    out = np.zeros((T + 1, S, n_features(p)))
    out[1:, :, 0] = ok
    out[1:, :, 1] = y0
    out[1:, :, 2] = y0 * y0
    out[1:, :, 3 : 3 + p] = x0
    out[1:, :, 3 + p : 3 + p + p * p] = (x0[..., :, None] * x0[..., None, :]).reshape(T, S, p * p)
    out[1:, :, 3 + p + p * p :] = x0 * y0[..., None]
    np.cumsum(out, axis=0, out=out)
    return out


@dataclass(frozen=True, slots=True)
class SumsFit:
    """Fits from window sums (any leading shape): alpha, slopes b (.., p), xbar, the
    inverse centred cross-product s_inv (.., p, p), sigma^2 and n."""

    alpha: FloatArray
    b: FloatArray
    xbar: FloatArray
    s_inv: FloatArray
    sigma2: FloatArray
    n: FloatArray


def fit_from_sums(A: FloatArray, p: int, intercept: bool, k: int) -> SumsFit:
    """OLS of y on [1,] x from the feature sums ``A`` (.., F) of the estimation window;
    NaN slopes where :func:`usable_design` rejects the design (as :func:`fit_ols`)."""
    n, sy, syy = A[..., 0], A[..., 1], A[..., 2]
    sx = A[..., 3 : 3 + p]
    sxx = A[..., 3 + p : 3 + p + p * p].reshape(*A.shape[:-1], p, p)
    sxy = A[..., 3 + p + p * p :]
    with np.errstate(invalid="ignore", divide="ignore"):
        if intercept:
            ybar, xbar = sy / n, sx / n[..., None]
            scc = sxx - sx[..., :, None] * xbar[..., None, :]
            scy = sxy - sx * ybar[..., None]
            tss = syy - sy * ybar
        else:
            ybar, xbar = np.zeros_like(n), np.zeros_like(sx)
            scc, scy, tss = sxx, sxy, syy
        raw = np.einsum("...ii->...i", sxx)
        if p == 0:
            s_inv = np.zeros((*n.shape, 0, 0))
        elif p == 1:
            s_inv = np.where(usable_design(scc, raw)[..., None, None], 1.0 / scc, np.nan)
        else:
            ok = usable_design(scc, raw)
            s_inv = np.linalg.inv(np.where(ok[..., None, None], scc, np.eye(p)))
            s_inv = np.where(ok[..., None, None], s_inv, np.nan)
        b = np.einsum("...ij,...j->...i", s_inv, scy)
        ssr = tss - np.einsum("...i,...i->...", b, scy)
        sigma2 = np.maximum(ssr, 0.0) / (n - k)
        alpha = ybar - np.einsum("...i,...i->...", xbar, b)
    return SumsFit(alpha, b, xbar, s_inv, sigma2, n)


def estudy2_sums_fit(fit: SumsFit, A: FloatArray, p: int, k: int) -> SumsFit:
    """The fit with estudy2's residual variance: the sample variance of the estimation
    residuals (R's var: around their mean, n - 1 degrees of freedom)."""
    import dataclasses

    n, sy = A[..., 0], A[..., 1]
    sx = A[..., 3 : 3 + p]
    with np.errstate(invalid="ignore", divide="ignore"):
        rsum = sy - n * fit.alpha - np.einsum("...i,...i->...", sx, fit.b)
        ssr = fit.sigma2 * (n - k)
        sigma2 = np.maximum(ssr - rsum * rsum / n, 0.0) / (n - 1)
    return dataclasses.replace(fit, sigma2=sigma2)


def car_from_sums(
    W: FloatArray, fit: SumsFit, p: int, intercept: bool, *, forecast_error: bool = True
) -> tuple[FloatArray, FloatArray]:
    """CAR and its CLM variance sigma^2 (d + d^2/n + u' S^-1 u), u = sum x - d xbar,
    from the feature sums ``W`` (.., F) of an event window (NaN where no day is present).
    ``forecast_error=False`` (estudy2 conventions): sigma^2 d."""
    d, sy = W[..., 0], W[..., 1]
    sx = W[..., 3 : 3 + p]
    with np.errstate(invalid="ignore", divide="ignore"):
        car = sy - d * fit.alpha - np.einsum("...i,...i->...", sx, fit.b)
        if not forecast_error:
            ok = d > 0
            return np.where(ok, car, np.nan), np.where(ok, fit.sigma2 * d, np.nan)
        factor = d + (d * d / fit.n if intercept else 0.0)
        if p:
            u = sx - d[..., None] * fit.xbar
            factor = factor + np.einsum("...i,...ij,...j->...", u, fit.s_inv, u)
    ok = d > 0
    return np.where(ok, car, np.nan), np.where(ok, fit.sigma2 * factor, np.nan)
