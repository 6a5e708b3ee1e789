"""run_study: design -> model fit -> abnormal-return arrays -> tests -> labelled result.

The flow is explicit: :func:`backtest.study.design.build_design` (pandas in,
arrays out), :func:`backtest.study.models.fit_model` (numpy), the statistics of
:mod:`backtest.study.registry` (numpy), and one labelling step at the end
(the ``*_frame`` functions of :mod:`backtest.study.results`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from backtest.errors import SpecError
from backtest.study.arrays import AbnormalReturns, TestResult, WindowCAR, column_nanmean
from backtest.study.clustering import StatsMemo, portfolio_car_variance
from backtest.study.daily import daily_results
from backtest.study.design import Design, Regressors, build_design
from backtest.study.fitted import Fitted as Fitted  # re-exported
from backtest.study.fitted import Subset, pools, signed_subsets, signed_view, unit_signs
from backtest.study.fitted import event_key as event_key  # re-exported
from backtest.study.fitted import subsets as subsets  # re-exported
from backtest.study.models import fit_model
from backtest.study.results import (
    CAAR_COLUMNS,
    TEST_COLUMNS,
    StudyResult,
    ar_frame,
    attrition_with,
    car_frame,
    params_frame,
    test_row,
)
from backtest.study.spec import StudySpec, window_label

TestFn = Callable[..., TestResult]


def _multi_cluster_tests() -> frozenset[str]:
    """Tests that need several calendar clusters (never run on one event)."""
    from backtest.study.registry import TESTS, properties

    return frozenset(t for t in TESTS if properties(t).min_clusters > 1)


MULTI_CLUSTER_TESTS = _multi_cluster_tests()


def test_registry(spec: StudySpec, memo: StatsMemo | None = None) -> dict[str, TestFn]:
    """The window tests named in ``spec.tests`` and ``spec.daily_tests``; ``memo`` when
    every call will be on one AbnormalReturns (:func:`make_tests`)."""
    from backtest.study.registry import make_tests

    reg = make_tests(spec.seed, n_boot=spec.bootstrap_draws, memo=memo)
    unknown = [t for t in dict.fromkeys((*spec.tests, *spec.daily_tests)) if t not in reg]
    if unknown:
        raise SpecError(
            "unknown test", field="tests", value=unknown, expected=f"names among {sorted(reg)}"
        )
    return reg


def fit_instances(design: Design, spec: StudySpec) -> Fitted:
    """Fit the model; instances with a singular design or zero variance go to attrition."""
    arrays, labels, attrition = design.arrays, design.labels, design.attrition
    mf = fit_model(arrays, design.model, spec.conventions)
    bad = ~mf.ok
    if bad.any():
        attrition = attrition_with(
            attrition,
            labels[bad],
            "singular_design",
            "regressors collinear or residual variance zero",
        )
        arrays, labels = arrays.take(~bad), labels[~bad].reset_index(drop=True)
        mf = fit_model(arrays, design.model, spec.conventions)
    if spec.conventions != "estudy2":  # the raw estimation windows are no longer needed
        n = arrays.n
        arrays = replace(arrays, r_est=np.empty((n, 0)), x_est=np.empty((n, 0, 0)))
    ar = AbnormalReturns(
        est=mf.ar_est,
        event=mf.ar_evt,
        est_days=arrays.est_days,
        rel_days=arrays.rel_days,
        n_est=mf.fit.n_obs,
        k=mf.k,
        sigma=np.sqrt(mf.sigma2),
        fe=mf.fe,
        cluster=arrays.cluster,
    )
    log = spec.returns == "log"
    windows = tuple(
        mf.window(a, b, arrays.rel_days, log, missing=spec.missing) for a, b in spec.windows
    )
    slopes = tuple(c for c in arrays.columns if c != design.model.offset)
    return Fitted(arrays, labels, mf, ar, windows, attrition, slopes, pools(labels, arrays.cluster))


def run_study(
    instances: pd.DataFrame,
    returns: Mapping[str, pd.Series],
    market: Regressors,
    spec: StudySpec | None = None,
    *,
    masks: pd.DataFrame | None = None,
) -> StudyResult:
    """Run an event study.

    instances: one row per event instance, columns event_id, security, day0 and
    optionally group, event_type, stage.  returns[security]: returns on that
    security's own sessions.  market: regressors per security (mapping) or shared
    (a Series is the market column).  masks: optional (security, day0) rows of other
    events (e.g. confounders) masked out of estimation windows.  See
    :class:`StudySpec` for the options.
    """
    from backtest.study.overlap import apply_overlap_policy

    spec = spec or StudySpec()
    reg = test_registry(spec)
    pooled, overlaps = apply_overlap_policy(instances, spec.overlap)
    design = build_design(pooled, returns, market, spec, masks)
    f = fit_instances(design, spec)
    vs = views(f)
    rows = group_tests(f, spec, vs) + spread_tests(f, spec, reg)
    if spec.conventions == "estudy2" and f.ar.n:
        from backtest.study.estudy2 import estudy2_rows

        rows += estudy2_rows(f, spec)
    if spec.placebo_draws and f.ar.n:
        from backtest.study.placebo import placebo_rows

        rows += placebo_rows(f, returns, market, spec, masks)
    tests = pd.DataFrame(rows, columns=list(TEST_COLUMNS))
    tests["rel_day"] = tests["rel_day"].astype("Int64")
    caar = pd.DataFrame(caar_rows(f, spec, vs), columns=list(CAAR_COLUMNS))
    return StudyResult(
        spec=spec,
        ar=ar_frame(f),
        car=car_frame(f, spec),
        tests=tests,
        caar=caar,
        attrition=f.attrition.reset_index(drop=True),
        params=params_frame(f),
        n_input=len(instances),
        overlaps=overlaps,
        instances=f.labels.assign(cluster=f.ar.cluster),
    )


def study_tests(
    instances: pd.DataFrame,
    returns: Mapping[str, pd.Series],
    market: Regressors,
    spec: StudySpec | None = None,
    *,
    masks: pd.DataFrame | None = None,
    keep: Callable[[str, str], bool] | None = None,
) -> pd.DataFrame:
    """The ``tests`` table of :func:`run_study` alone, its rows limited to the (level,
    event) pairs ``keep`` accepts (all when None).

    For callers that report a few test rows (the robustness grid): the subsets
    ``keep`` rejects are never tested and the other tables (ARs, CARs, CAARs) are
    not built.  Every row kept is the row :func:`run_study` computes, in its order.
    """
    from backtest.study.overlap import apply_overlap_policy

    spec = spec or StudySpec()
    reg = test_registry(spec)
    pooled, _ = apply_overlap_policy(instances, spec.overlap)
    design = build_design(pooled, returns, market, spec, masks)
    f = fit_instances(design, spec)
    vs = views(f)
    if keep is not None:
        vs = [replace(v, subsets=tuple(s for s in v.subsets if keep(s[0], s[1]))) for v in vs]
    rows = group_tests(f, spec, vs)
    extra = spread_tests(f, spec, reg)
    if spec.conventions == "estudy2" and f.ar.n:
        from backtest.study.estudy2 import estudy2_rows

        extra += estudy2_rows(f, spec)
    if spec.placebo_draws and f.ar.n:
        from backtest.study.placebo import placebo_rows

        extra += placebo_rows(f, returns, market, spec, masks)
    rows += [r for r in extra if keep is None or keep(str(r[0]), str(r[8]))]
    tests = pd.DataFrame(rows, columns=list(TEST_COLUMNS))
    tests["rel_day"] = tests["rel_day"].astype("Int64")
    return tests


@dataclass(frozen=True, slots=True)
class View:
    """ARs and window CARs to test with their subsets: the plain view, or the signed
    view (AR times expected sign) with the signed pools.  ``sign`` multiplies the daily
    ARs; ``memo`` keeps the window-independent parts of the tests of these ARs
    (:class:`~backtest.study.clustering.StatsMemo`), shared by the tests and the
    CAAR table."""

    ar: AbnormalReturns
    windows: tuple[WindowCAR, ...]
    subsets: tuple[Subset, ...]
    sign: np.ndarray
    memo: StatsMemo


def views(f: Fitted) -> list[View]:
    """The plain view with every subset, and the signed view with the signed pools."""
    out = [View(f.ar, f.windows, f.subsets, np.ones(f.ar.n), StatsMemo())]
    signed = signed_subsets(f)
    if signed:
        ar, wins = signed_view(f)
        out.append(View(ar, wins, signed, unit_signs(f.labels), StatsMemo()))
    return out


def group_tests(
    f: Fitted, spec: StudySpec, vs: list[View] | None = None
) -> list[tuple[object, ...]]:
    """Window and daily tests of every level x event x group, signed pools included."""
    rows: list[tuple[object, ...]] = []
    days = (
        {
            int(t): f.fit.window(
                int(t), int(t), f.arrays.rel_days, spec.returns == "log", with_bhar=False
            )
            for t in f.arrays.rel_days
        }
        if spec.daily_tests
        else {}
    )
    for v in vs if vs is not None else views(f):
        ar, windows, subs, vreg = v.ar, v.windows, v.subsets, test_registry(spec, v.memo)
        sdays = {t: replace(w, car=w.car * v.sign) for t, w in days.items()}
        dws = list(sdays.values())
        for level, event, group, idx in subs:
            names = [t for t in spec.tests if level == "pooled" or t not in MULTI_CLUSTER_TESTS]
            for w in windows:
                for name in names:
                    rows.append(
                        test_row(
                            level,
                            event,
                            group,
                            window_label(w.start, w.end),
                            None,
                            vreg[name](ar, w, idx),
                        )
                    )
            daily = [
                daily_results(name, vreg, ar, dws, idx, v.memo)
                for name in spec.daily_tests
                if not (level == "event" and name in MULTI_CLUSTER_TESTS)
            ]
            for j, t in enumerate(sdays):
                rows += [test_row(level, event, group, "", t, res[j]) for res in daily]
    return rows


def spread_portfolios(f: Fitted, spec: StudySpec) -> tuple[list[str], AbnormalReturns] | None:
    """One row per event with both spread groups: mean AR of the first group minus the
    mean AR of the second, on the estimation and event days.

    sigma^2 = sum p_t^2 / (L_p - k) over the spread's estimation days (k the largest
    number of parameters among members) and fe = 1: Var(CAR) = sigma^2 x days.
    """
    a, b = spec.spread
    ev = event_key(f.labels)
    grp = f.labels["group"].to_numpy()
    names, est, evt, ks = [], [], [], []
    for e in dict.fromkeys(ev):
        ia, ib = (ev == e) & (grp == a), (ev == e) & (grp == b)
        if not ia.any() or not ib.any():
            continue
        with np.errstate(invalid="ignore"):
            est.append(column_nanmean(f.ar.est[ia]) - column_nanmean(f.ar.est[ib]))
            evt.append(column_nanmean(f.ar.event[ia]) - column_nanmean(f.ar.event[ib]))
        ks.append(int(max(f.ar.k[ia].max(), f.ar.k[ib].max())))
        names.append(str(e))
    if not names:
        return None
    est_a, evt_a, k = np.array(est), np.array(evt), np.array(ks, dtype=np.int64)
    n_est = np.isfinite(est_a).sum(axis=1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(np.nansum(est_a**2, axis=1) / (n_est - k))
    ar = AbnormalReturns(
        est_a,
        evt_a,
        f.ar.est_days,
        f.ar.rel_days,
        n_est,
        k,
        sigma,
        np.ones_like(evt_a),
        np.arange(len(names), dtype=np.int64),
    )
    return names, ar


def spread_window(ar: AbnormalReturns, start: int, end: int) -> WindowCAR:
    inside = ar.window_mask(start, end)
    present = np.isfinite(ar.event) & inside[None, :]
    days = present.sum(axis=1).astype(np.int64)
    car = np.where(days > 0, np.where(present, ar.event, 0.0).sum(axis=1), np.nan)
    return WindowCAR(start, end, car, ar.sigma**2 * days, days, np.full(ar.n, np.nan))


def spread_tests(f: Fitted, spec: StudySpec, reg: Mapping[str, TestFn]) -> list[tuple[object, ...]]:
    """The substitution spread: per event its time-series t; across events a
    cross-sectional t of the spread CARs (events on different dates are independent)."""
    from backtest.study.stats import time_series_t

    got = spread_portfolios(f, spec)
    if got is None:
        return []
    names, ar = got
    label = f"{spec.spread[0]}-{spec.spread[1]}"
    pools = _spread_pools(f, names)
    rows: list[tuple[object, ...]] = []
    for a, b in spec.windows:
        w = spread_window(ar, a, b)
        wl = window_label(a, b)
        for i, e in enumerate(names):
            rows.append(test_row("spread_event", e, label, wl, None, time_series_t(ar, w, i)))
        for key, idx in pools:
            if len(idx) > 1:
                rows.append(
                    test_row(
                        "spread_pooled", key, label, wl, None, reg["cross_sectional_t"](ar, w, idx)
                    )
                )
    return rows


def _spread_pools(f: Fitted, names: list[str]) -> list[tuple[str, np.ndarray]]:
    """Spread events pooled: all of them ('*') and, where known, by direction."""
    by_key = dict(zip(event_key(f.labels), f.labels["direction"], strict=True))
    direction = np.array([str(by_key.get(n, "")) for n in names], dtype=object)
    flag = (
        f.labels["pool"].to_numpy(dtype=bool)
        if "pool" in f.labels
        else np.ones(len(f.labels), bool)
    )
    in_pool = dict(zip(event_key(f.labels), flag, strict=True))
    ok = np.array([bool(in_pool.get(n, True)) for n in names], dtype=bool)
    pools = [("*", np.flatnonzero(ok))]
    for d in sorted(set(direction[ok]) - {""}):
        pools.append((f"direction={d}", np.flatnonzero(ok & (direction == d))))
    return pools


def caar_rows(f: Fitted, spec: StudySpec, vs: list[View] | None = None) -> list[tuple[object, ...]]:
    """CAAR per level x event x group x window, with two standard errors.

    se_cross_section = sd(CAR_i) / sqrt(n) (assumes independent instances).
    se_portfolio: for each date cluster c, the equally weighted portfolio of its
    members has residual variance s_c^2 = sum_t p_t^2 / (L_p - k) over the estimation
    days and Var(CAR_c) = s_c^2 f_c (f_c the mean over members of Var(CAR_i)/sigma_i^2);
    the group's CAAR = sum_c (n_c / n) CAR_c, so se^2 = sum_c (n_c / n)^2 s_c^2 f_c.
    """
    rows: list[tuple[object, ...]] = []
    for v in vs if vs is not None else views(f):
        rows += _caar_rows(v.ar, v.windows, v.subsets, v.memo)
    return rows


def _caar_rows(
    ar: AbnormalReturns, windows: tuple[WindowCAR, ...], subs: tuple[Subset, ...], memo: StatsMemo
) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for level, event, group, idx in subs:
        for w in windows:
            use = idx[np.isfinite(w.car[idx])]
            n = len(use)
            caar = float(np.mean(w.car[use])) if n else np.nan
            se_cs = float(np.std(w.car[use], ddof=1) / np.sqrt(n)) if n > 1 else np.nan
            clusters = np.unique(ar.cluster[use])
            var = 0.0
            for c in clusters:
                rows_c = use[ar.cluster[use] == c]
                var += (len(rows_c) / n) ** 2 * portfolio_car_variance(ar, w, rows_c, memo)
            rows.append(
                (
                    level,
                    event,
                    group,
                    window_label(w.start, w.end),
                    n,
                    len(clusters),
                    caar,
                    se_cs,
                    float(np.sqrt(var)) if n else np.nan,
                )
            )
    return rows
