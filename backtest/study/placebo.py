"""Placebo (permutation) inference on pseudo-event dates drawn from event-free periods.

For each draw, every real event-date cluster gets one pseudo date (all its
securities share it, as in the real study), drawn uniformly from the dates on
which each member's pseudo event window fits in its data and overlaps none of
its real event windows.  The chosen statistic is recomputed for every group and
window; the p-value is (1 + #{|stat_b| >= |stat|}) / (B + 1) over the B draws
where the statistic exists (e.g. Good 2005, ch. 3; this is the 'placebo' or
'pseudo-event' design of e.g. Kolari and Pynnönen 2010, section 4).

Speed: prefix sums (backtest.study.kernels.prefix_features) give any window's OLS
fit, CAR and forecast-error-corrected CAR variance in O(1); they are stored
time-major per group of securities sharing their sessions, so the members of a
cluster, which share the pseudo date, are read from adjacent memory.  A numba
kernel accumulates the group statistics without (draws x instances) temporaries
for large problems; :func:`accumulate_numpy` is its plain twin (tested equal).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from backtest.study.arrays import FloatArray, IntArray, TestResult, WindowCAR
from backtest.study.fitted import signed_subsets, unit_signs
from backtest.study.kernels import (
    SINGULAR_TOL,
    car_from_sums,
    covered_sessions,
    estudy2_sums_fit,
    fit_from_sums,
    prefix_features,
)

if TYPE_CHECKING:
    from backtest.study.design import Regressors
    from backtest.study.fitted import Fitted
    from backtest.study.spec import StudySpec

PlaceboStatistic = Literal["caar", "bmp"]
Engine = Literal["auto", "numpy", "numba"]
# Draws x instances per block of the numpy accumulation: small enough that a block's
# gathered window sums stay in the CPU caches (real data, 1,000 draws x 646 instances:
# 1.5 s with blocks of 1,000,000, 0.8 s with 50,000).  Each (draw, subset) sum lies in
# one block, so the block size never changes a result.
CHUNK_ELEMENTS = 50_000
NUMBA_MIN_WORK = 2_000_000  # draws x instances above which the compiled loop is used


@dataclass(frozen=True, slots=True)
class PlaceboSetup:
    """Everything a draw needs.

    P (N, F): prefix features of all index groups, flattened time-major: instance i
    reads session t of its security at row base[i] + t * stride[i].
    pos_table (G, Tc): position in group g's sessions of the first session on or
    after calendar date c (the group's length if none); the calendar is the sorted
    union of all sessions, as day numbers (:attr:`calendar`).  clus (n,): cluster 0..K-1.
    eligible[k]: calendar indices allowed as pseudo dates of cluster k.
    """

    P: FloatArray
    base: IntArray
    stride: IntArray
    grp: IntArray
    pos_table: IntArray
    clus: IntArray
    eligible: tuple[IntArray, ...]
    p: int
    intercept: bool
    k: int
    calendar: IntArray


@dataclass(frozen=True, slots=True)
class _GroupData:
    prefix: FloatArray
    inside: np.ndarray
    pos: IntArray
    secs: list[str]


def _group_data(
    index: pd.DatetimeIndex,
    secs: list[str],
    f: Fitted,
    returns: Mapping[str, pd.Series],
    market: Regressors,
    spec: StudySpec,
    cal: np.ndarray,
    masks: pd.DataFrame | None = None,
) -> _GroupData:
    """Prefix features of one index group with real event windows masked, and the
    calendar dates whose pseudo windows fit in the group's sessions."""
    from backtest.study.design import _member, _regressors, _values
    from backtest.study.models import model_def

    model = model_def(spec)
    T, S = len(index), len(secs)
    y = np.column_stack([_values(returns[s]) for s in secs])
    slopes = [j for j, c in enumerate(model.columns) if c != model.offset]
    x = np.zeros((T, S, 0))
    if model.columns:
        X, have, shared = _regressors(index, secs, market, model.columns)
        X = np.broadcast_to(X[:, None, :], (T, S, X.shape[-1])) if shared else X
        if model.offset:
            y = y - X[:, :, model.columns.index(model.offset)]
        x = np.where(np.asarray(have)[None, :, slopes], X[:, :, slopes], np.nan)
    lab = f.labels[_member(f.labels["security"].to_numpy(), secs)]
    col = pd.Index(secs).get_indexer(lab["security"])
    real = index.get_indexer(pd.DatetimeIndex(lab["day0"]))
    if masks is not None and len(masks):  # other catalog events and confounders
        mk = masks[_member(masks["security"].to_numpy(dtype=object), secs)]
        mpos = index.get_indexer(pd.DatetimeIndex(mk["day0"]))
        col = np.concatenate([col, pd.Index(secs).get_indexer(mk["security"])[mpos >= 0]])
        real = np.concatenate([real, mpos[mpos >= 0]])
    lo, hi = spec.event_span
    y = np.where(covered_sessions(real, col, lo, hi, T, S).T, np.nan, y)
    pos = np.searchsorted(_day_numbers(index), cal, side="left")
    inside = (pos + spec.estimation[0] >= 0) & (pos + hi <= T - 1)
    return _GroupData(prefix_features(y, x), inside, pos.astype(np.int64), secs)


def _normal_masks(masks: pd.DataFrame | None) -> pd.DataFrame | None:
    if masks is None or not len(masks):
        return None
    return pd.DataFrame(
        {
            "security": masks["security"].astype(str).to_numpy(dtype=object),
            "day0": pd.to_datetime(masks["day0"]).dt.tz_localize(None).dt.normalize().to_numpy(),
        }
    )


def _day_numbers(index: pd.DatetimeIndex) -> np.ndarray:
    """Days since 1970-01-01 (independent of the index's time unit)."""
    return np.asarray(index.to_numpy().astype("datetime64[D]"), dtype=np.int64)


def placebo_setup(
    f: Fitted,
    returns: Mapping[str, pd.Series],
    market: Regressors,
    spec: StudySpec,
    masks: pd.DataFrame | None = None,
) -> PlaceboSetup:
    """Prefix sums, calendar positions and each cluster's eligible pseudo dates.

    ``masks`` are the (security, day0) rows the real study masked (other catalog
    events, confounders): their event spans are masked from the pseudo estimation
    windows and no pseudo event window may overlap them, as for real instances.
    """
    from backtest.study.design import _index_groups
    from backtest.study.models import model_def

    model = model_def(spec)
    secs = list(dict.fromkeys(f.labels["security"].to_numpy(dtype=object)))
    groups = _index_groups(secs, returns)
    cal = np.unique(np.concatenate([_day_numbers(g[0]) for g in groups]))
    mk = _normal_masks(masks)
    data = [_group_data(idx, gs, f, returns, market, spec, cal, mk) for idx, gs in groups]
    offsets = np.cumsum([0] + [d.prefix.shape[0] * d.prefix.shape[1] for d in data])
    where = {s: (g, j) for g, d in enumerate(data) for j, s in enumerate(d.secs)}
    lab_secs = f.labels["security"].to_numpy(dtype=object)
    gi = np.fromiter((where[s][0] for s in lab_secs), dtype=np.int64, count=len(lab_secs))
    ci = np.fromiter((where[s][1] for s in lab_secs), dtype=np.int64, count=len(lab_secs))
    stride = np.array([len(d.secs) for d in data], dtype=np.int64)
    sec_row = np.concatenate([[0], np.cumsum([len(d.secs) for d in data])])[gi] + ci
    clus = np.unique(f.ar.cluster, return_inverse=True)[1].astype(np.int64)
    day0 = pd.DatetimeIndex(f.labels["day0"])
    real = np.zeros(len(gi), dtype=np.int64)
    for g, (idx, _) in enumerate(groups):
        real[gi == g] = idx.get_indexer(day0[gi == g])
    pos_table = np.stack([d.pos for d in data])
    lo, hi = spec.event_span
    b_sec, b_gi, b_real = sec_row, gi, real
    if mk is not None and len(mk):
        known = mk["security"].isin(list(where)).to_numpy()
        m_secs = mk["security"].to_numpy(dtype=object)[known]
        m_gi = np.fromiter((where[x][0] for x in m_secs), dtype=np.int64, count=len(m_secs))
        m_ci = np.fromiter((where[x][1] for x in m_secs), dtype=np.int64, count=len(m_secs))
        m_row = np.concatenate([[0], np.cumsum([len(d.secs) for d in data])])[m_gi] + m_ci
        m_day = pd.DatetimeIndex(mk["day0"].to_numpy()[known])
        m_real = np.full(len(m_gi), -1, dtype=np.int64)
        for g, (idx, _) in enumerate(groups):
            m_real[m_gi == g] = idx.get_indexer(m_day[m_gi == g])
        ok = m_real >= 0
        b_sec = np.concatenate([sec_row, m_row[ok]])
        b_gi = np.concatenate([gi, m_gi[ok]])
        b_real = np.concatenate([real, m_real[ok]])
    eligible = _cluster_eligible(
        clus,
        sec_row,
        gi,
        real,
        pos_table,
        np.stack([d.inside for d in data]),
        hi - lo,
        blockers=(b_sec, b_gi, b_real),
    )
    P = np.concatenate([d.prefix.reshape(-1, d.prefix.shape[-1]) for d in data])
    p = len([c for c in model.columns if c != model.offset])
    return PlaceboSetup(
        P,
        offsets[gi] + ci,
        stride[gi],
        gi,
        pos_table,
        clus,
        eligible,
        p,
        model.intercept,
        int(model.intercept) + p,
        cal,
    )


def _cluster_eligible(
    clus: IntArray,
    sec_row: IntArray,
    gi: IntArray,
    real: IntArray,
    pos_table: IntArray,
    inside: np.ndarray,
    width: int,
    blockers: tuple[IntArray, IntArray, IntArray] | None = None,
) -> tuple[IntArray, ...]:
    """Calendar indices allowed as pseudo dates of each cluster: every member's windows
    fit in its sessions, and the pseudo event window (``width`` + 1 sessions) overlaps no
    real event window of any member, i.e. |pseudo day 0 - real day 0| > width.

    ``blockers`` (security row, index group, position) lists every day 0 that blocks
    a pseudo window: the instances themselves by default, plus the masked events."""
    b_sec, b_gi, b_real = blockers if blockers is not None else (sec_row, gi, real)
    n_sec = int(max(sec_row.max(), b_sec.max())) + 1 if len(sec_row) else 0
    out = []
    for c in range(int(clus.max()) + 1 if len(clus) else 0):
        here = clus == c
        is_member = np.zeros(n_sec, dtype=bool)
        is_member[sec_row[here]] = True
        sel = is_member[b_sec]  # every blocking day 0 of a member security
        ok = inside[np.unique(gi[here])].all(axis=0)
        diff = np.zeros(pos_table.shape[1] + 1, dtype=np.int64)
        big = int(b_real.max()) + 1
        code = np.unique(b_gi[sel] * big + b_real[sel])
        for g in np.unique(code // big):
            r = code[code // big == g] % big
            np.add.at(diff, np.searchsorted(pos_table[g], r - width, side="left"), 1)
            np.add.at(diff, np.searchsorted(pos_table[g], r + width, side="right"), -1)
        out.append(np.flatnonzero(ok & ~(np.cumsum(diff)[:-1] > 0)))
    return tuple(out)


def draw_dates(setup: PlaceboSetup, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, K) calendar indices, one pseudo date per cluster per draw (-1: none eligible)."""
    out = np.full((draws, len(setup.eligible)), -1, dtype=np.int64)
    for c, el in enumerate(setup.eligible):
        if len(el):
            out[:, c] = el[rng.integers(0, len(el), size=draws)]
    return out


def accumulate_numpy(
    st: PlaceboSetup,
    cal: np.ndarray,
    member: np.ndarray,
    n_sub: int,
    spec: StudySpec,
    windows: tuple[tuple[int, int], ...],
) -> FloatArray:
    """(B, n_sub, W, 4) sums over the valid pseudo instances of each subset: count, CAR,
    SCAR and SCAR^2.  Plain numpy; :func:`_accumulate_numba` is the compiled twin."""
    B, n = cal.shape[0], len(st.base)
    acc = np.zeros((B, n_sub, len(windows), 4))
    step = max(1, CHUNK_ELEMENTS // max(n, 1))
    e2 = spec.conventions == "estudy2"  # the same variances as the real statistic
    e0, e1 = spec.estimation
    last = st.P.shape[0] - 1
    # the prefix columns up to the x sums, all car_from_sums reads (the x-products dropped)
    PW = np.ascontiguousarray(st.P[:, : 3 + st.p])
    # the instances with a j-th subset, for each j
    cols = [np.flatnonzero(member[:, j] >= 0) for j in range(member.shape[1])]
    for s0 in range(0, B, step):
        c = cal[s0 : s0 + step][:, st.clus]
        t = st.pos_table[st.grp[None, :], np.maximum(c, 0)]

        def rows(off: int, t: np.ndarray = t) -> np.ndarray:
            return np.clip(st.base + (t + off) * st.stride, 0, last)

        A = st.P[rows(e1 + 1)] - st.P[rows(e0)]
        fit = fit_from_sums(A, st.p, st.intercept, st.k)
        if e2:
            fit = estudy2_sums_fit(fit, A, st.p, st.k)
        valid = (c >= 0) & (fit.n >= spec.min_estimation_obs) & (fit.sigma2 > 0)
        nb = c.shape[0]
        bidx = np.arange(nb)[:, None] * n_sub
        # the prefix rows at each window end, gathered once (windows share ends)
        at = {off: PW[rows(off)] for off in sorted({x for a, b in windows for x in (a, b + 1)})}
        for w, (a, b) in enumerate(windows):
            car, var = car_from_sums(
                at[b + 1] - at[a], fit, st.p, st.intercept, forecast_error=not e2
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                scar = car / np.sqrt(var)
            ok = valid & np.isfinite(scar)
            for j, cj in enumerate(cols):
                m = ok[:, cj]
                flat = (bidx + member[cj, j][None, :])[m]
                sc = scar[:, cj][m]
                for q, v in enumerate((None, car[:, cj][m], sc, sc * sc)):
                    acc[s0 : s0 + step, :, w, q] += np.bincount(
                        flat, weights=v, minlength=nb * n_sub
                    ).reshape(nb, n_sub)
    return acc


prange = range  # the plain loop's range; the compiled twin sees numba.prange instead
singular_tol = SINGULAR_TOL  # a plain float the compiled loop reads as a constant


def _accumulate_loop(
    P: FloatArray,
    base: IntArray,
    stride: IntArray,
    grp: IntArray,
    pos_table: IntArray,
    cal: IntArray,
    clus: IntArray,
    member: IntArray,
    e0: int,
    e1: int,
    wa: IntArray,
    wb: IntArray,
    p: int,
    intercept: bool,
    k: int,
    min_obs: int,
    e2: bool,
    acc: FloatArray,
) -> None:
    """Loop of :func:`accumulate_numba` (p <= 1); plain Python here, and compiled by
    :func:`compiled_accumulate_loop` with ``prange`` bound to numba's parallel range.
    ``e2``: estudy2 conventions (residual variance with n - 1 degrees of freedom around
    the residual mean, no forecast-error factor), as
    :func:`backtest.study.kernels.estudy2_sums_fit`."""
    B, n, N = cal.shape[0], base.shape[0], P.shape[0]
    for b in prange(B):
        for i in range(n):
            c = cal[b, clus[i]]
            if c < 0:
                continue
            t = pos_table[grp[i], c]
            r0, r1 = base[i] + (t + e0) * stride[i], base[i] + (t + e1 + 1) * stride[i]
            if r0 < 0 or r1 >= N:
                continue
            nn = P[r1, 0] - P[r0, 0]
            if nn < min_obs:
                continue
            sy, syy = P[r1, 1] - P[r0, 1], P[r1, 2] - P[r0, 2]
            beta, xbar, sinv = 0.0, 0.0, 0.0
            if intercept:
                ybar = sy / nn
                tss = syy - sy * ybar
            else:
                ybar, tss = 0.0, syy
            if p == 1:
                sx, sxx, sxy = P[r1, 3] - P[r0, 3], P[r1, 4] - P[r0, 4], P[r1, 5] - P[r0, 5]
                xbar = sx / nn if intercept else 0.0
                scc, scy = sxx - sx * xbar, sxy - sx * ybar
                if not scc > singular_tol * max(sxx, 1e-300):  # kernels.usable_design
                    continue
                sinv = 1.0 / scc
                beta = scy * sinv
                tss -= beta * scy
            alpha = ybar - xbar * beta
            sigma2 = max(tss, 0.0) / (nn - k)
            if e2:
                rsum = sy - nn * alpha
                if p == 1:
                    rsum -= beta * (P[r1, 3] - P[r0, 3])
                sigma2 = max(max(tss, 0.0) - rsum * rsum / nn, 0.0) / (nn - 1)
            if not sigma2 > 0:
                continue
            for w in range(wa.shape[0]):
                q0 = base[i] + (t + wa[w]) * stride[i]
                q1 = base[i] + (t + wb[w] + 1) * stride[i]
                d = P[q1, 0] - P[q0, 0]
                if d <= 0:
                    continue
                car = P[q1, 1] - P[q0, 1] - d * alpha
                fac = d + (d * d / nn if intercept and not e2 else 0.0)
                if p == 1:
                    swx = P[q1, 3] - P[q0, 3]
                    car -= swx * beta
                    if not e2:
                        u = swx - d * xbar
                        fac += u * u * sinv
                var = sigma2 * fac
                if not var > 0:
                    continue
                scar = car / np.sqrt(var)
                for j in range(member.shape[1]):
                    s = member[i, j]
                    if s < 0:
                        continue
                    acc[b, s, w, 0] += 1.0
                    acc[b, s, w, 1] += car
                    acc[b, s, w, 2] += scar
                    acc[b, s, w, 3] += scar * scar


@functools.cache
def compiled_accumulate_loop() -> Callable[..., None]:
    """:func:`_accumulate_loop` compiled by numba (parallel over draws), built once.

    The compiled function is the same code with its own globals, in which ``prange``
    is ``numba.prange``; the module's globals are never rewritten, and the plain
    loop stays plain Python (tested equal to the compiled one).
    """
    import numba

    scope = {**_accumulate_loop.__globals__, "prange": numba.prange}
    fn = types.FunctionType(_accumulate_loop.__code__, scope, "_accumulate_loop")
    compiled: Callable[..., None] = numba.njit(parallel=True)(fn)
    return compiled


def accumulate_numba(
    st: PlaceboSetup,
    cal: np.ndarray,
    member: np.ndarray,
    n_sub: int,
    spec: StudySpec,
    windows: tuple[tuple[int, int], ...],
) -> FloatArray:
    """Compiled twin of :func:`accumulate_numpy` (models with at most one slope)."""
    acc = np.zeros((cal.shape[0], n_sub, len(windows), 4))
    wa = np.array([a for a, _ in windows], dtype=np.int64)
    wb = np.array([b for _, b in windows], dtype=np.int64)
    compiled_accumulate_loop()(
        st.P,
        st.base,
        st.stride,
        st.grp,
        st.pos_table,
        cal,
        st.clus,
        member,
        spec.estimation[0],
        spec.estimation[1],
        wa,
        wb,
        st.p,
        st.intercept,
        st.k,
        spec.min_estimation_obs,
        spec.conventions == "estudy2",
        acc,
    )
    return acc


def group_statistic(acc: FloatArray, kind: PlaceboStatistic) -> FloatArray:
    """The statistic from accumulated sums (.., 4): CAAR = sum CAR / n, or the BMP t
    mean(SCAR) / (sd(SCAR) / sqrt n) (Boehmer, Musumeci and Poulsen 1991)."""
    n, s1, s2, s3 = acc[..., 0], acc[..., 1], acc[..., 2], acc[..., 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "caar":
            return np.where(n > 0, s1 / n, np.nan)
        mean = s2 / n
        sd = np.sqrt(np.maximum(s3 - n * mean * mean, 0.0) / (n - 1))
        return np.where(n > 1, mean / (sd / np.sqrt(n)), np.nan)


def _real_statistic(w: WindowCAR, rows: np.ndarray, kind: PlaceboStatistic) -> tuple[float, int]:
    """The statistic of the real study over ``rows`` (same formula as the draws)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = w.car[rows] / np.sqrt(w.var[rows])
    ok = np.isfinite(scar) & (w.var[rows] > 0)
    car, sc = w.car[rows][ok], scar[ok]
    acc = np.array([ok.sum(), car.sum(), sc.sum(), (sc * sc).sum()], dtype=float)
    return float(group_statistic(acc, kind)), int(ok.sum())


def permutation_pvalue(stat: float, draws: np.ndarray) -> tuple[float, int]:
    """(1 + #{|stat_b| >= |stat|}) / (B + 1) over the finite draws, and B."""
    d = draws[np.isfinite(draws)]
    if not np.isfinite(stat) or not d.size:
        return float("nan"), int(d.size)
    return float((1 + np.sum(np.abs(d) >= abs(stat))) / (d.size + 1)), int(d.size)


def membership(n: int, subsets: list[np.ndarray]) -> np.ndarray:
    """(n, m) subset ids of each instance (-1 padded; m = most subsets of any instance)."""
    count = np.zeros(n, dtype=np.int64)
    for rows in subsets:
        count[rows] += 1
    out = np.full((n, max(int(count.max()) if n else 0, 1)), -1, dtype=np.int64)
    fill = np.zeros(n, dtype=np.int64)
    for s, rows in enumerate(subsets):
        out[rows, fill[rows]] = s
        fill[rows] += 1
    return out


def placebo_distribution(
    f: Fitted,
    returns: Mapping[str, pd.Series],
    market: Regressors,
    spec: StudySpec,
    groups: list[np.ndarray],
    engine: Engine = "auto",
    signs: np.ndarray | None = None,
    signed: list[bool] | None = None,
    masks: pd.DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(len(groups), len(windows), B) statistics of the pseudo-event draws, and for each
    group the fewest eligible pseudo dates of any of its clusters.

    A group flagged in ``signed`` is a signed pool: each member's pseudo CAR and SCAR
    enter multiplied by its sign in ``signs`` (+1 or -1), exactly like the real
    statistic on the signed view.  It is accumulated as two plain groups (the +1 and
    the -1 members) and combined: counts and squared SCARs add, sums of CAR and SCAR
    subtract.
    """
    st = placebo_setup(f, returns, market, spec, masks)
    n_dates = np.array([len(e) for e in st.eligible], dtype=np.int64)
    fewest = np.array(
        [int(n_dates[np.unique(st.clus[g])].min()) if len(g) else 0 for g in groups], dtype=np.int64
    )
    cal = draw_dates(st, spec.placebo_draws, np.random.default_rng(spec.seed))
    flags = signed or [False] * len(groups)
    parts: list[np.ndarray] = []
    plan: list[tuple[int, int | None]] = []
    for rows, is_signed in zip(groups, flags, strict=True):
        if is_signed and signs is not None:
            plan.append((len(parts), len(parts) + 1))
            parts += [rows[signs[rows] > 0], rows[signs[rows] < 0]]
        else:
            plan.append((len(parts), None))
            parts.append(rows)
    member = membership(len(st.base), parts)
    use_numba = engine == "numba" or (
        engine == "auto" and st.p <= 1 and cal.shape[0] * len(st.base) >= NUMBA_MIN_WORK
    )
    acc_fn = accumulate_numba if use_numba else accumulate_numpy
    acc_parts = acc_fn(st, cal, member, len(parts), spec, spec.placebo_targets)
    flip = np.array([1.0, -1.0, -1.0, 1.0])
    acc = np.stack(
        [
            acc_parts[:, a] if b is None else acc_parts[:, a] + flip * acc_parts[:, b]
            for a, b in plan
        ],
        axis=1,
    )
    stats = group_statistic(acc, spec.placebo_statistic)  # (B, groups, windows)
    return np.transpose(stats, (1, 2, 0)), fewest


def placebo_rows(
    f: Fitted,
    returns: Mapping[str, pd.Series],
    market: Regressors,
    spec: StudySpec,
    masks: pd.DataFrame | None = None,
) -> list[tuple[object, ...]]:
    """Rows of the tests table: the placebo p-value of each level x event x group x window."""
    from backtest.study.results import test_row
    from backtest.study.spec import window_label

    signed = signed_subsets(f)
    subs = [*f.subsets, *signed]
    is_signed = [False] * len(f.subsets) + [True] * len(signed)
    signs = unit_signs(f.labels)
    dist, fewest = placebo_distribution(
        f, returns, market, spec, [s[3] for s in subs], signs=signs, signed=is_signed, masks=masks
    )
    log = spec.returns == "log"
    name = f"placebo_{spec.placebo_statistic}"
    rows = []
    for w, (a, b) in enumerate(spec.placebo_targets):
        wc = f.fit.window(a, b, f.arrays.rel_days, log, missing=spec.missing)
        wsigned = replace(wc, car=wc.car * signs)
        label = window_label(a, b)
        what = "CAAR" if spec.placebo_statistic == "caar" else "mean SCAR"
        null = f"{what}{label} = 0 (pseudo-event dates)"
        for g, (level, event, group, idx) in enumerate(subs):
            stat, n = _real_statistic(wsigned if is_signed[g] else wc, idx, spec.placebo_statistic)
            p, nb = permutation_pvalue(stat, dist[g, w])
            dname = f"placebo (B={nb}, seed={spec.seed}, dates>={fewest[g]})"
            if fewest[g] < spec.placebo_min_dates:
                r = TestResult.invalid(
                    name,
                    null,
                    dname,
                    n,
                    f"only {fewest[g]} event-free pseudo dates for a cluster "
                    f"(need {spec.placebo_min_dates})",
                )
            elif not np.isfinite(p):
                r = TestResult.invalid(name, null, dname, n, "no valid pseudo-event draw")
            else:
                r = TestResult(name, stat, p, null, dname, n)
            rows.append(test_row(level, event, group, label, None, r))
    return rows
