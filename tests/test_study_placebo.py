"""Placebo inference on pseudo-event dates: kernels, the compiled twin, and behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.study.design import build_design
from backtest.study.engine import fit_instances, run_study
from backtest.study.kernels import (
    car_from_sums,
    car_variance_factor,
    event_ar,
    fit_from_sums,
    fit_ols,
    prefix_features,
)
from backtest.study.placebo import (
    accumulate_numba,
    accumulate_numpy,
    draw_dates,
    group_statistic,
    membership,
    permutation_pvalue,
    placebo_setup,
)
from backtest.study.spec import StudySpec

SPEC = StudySpec(
    estimation=(-100, -11),
    min_estimation_obs=60,
    windows=((-1, 1), (0, 3)),
    placebo_draws=199,
    daily_tests=(),
    tests=("cross_sectional_t",),
    seed=7,
    placebo_min_dates=20,
    placebo_statistic="caar",
)  # the CAAR variant


def synth(n_sec=12, T=700, seed=0, effect=0.0, n_events=3, days=None):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2015-01-01", periods=T)
    m = rng.normal(0.0003, 0.01, T)
    common = rng.normal(0, 0.01, T)
    days = np.linspace(200, T - 60, n_events).astype(int) if days is None else np.array(days)
    rets = {}
    for i in range(n_sec):
        r = 0.0001 + rng.uniform(0.7, 1.3) * m + common + rng.normal(0, 0.015, T)
        r[days] += effect
        rets[f"S{i:02d}"] = pd.Series(r, index=idx)
    inst = pd.DataFrame(
        [(f"e{j}", s, idx[d]) for j, d in enumerate(days) for s in rets],
        columns=["event_id", "security", "day0"],
    )
    return inst, rets, pd.Series(m, index=idx, name="market")


@pytest.mark.parametrize("p,intercept", [(1, True), (0, True), (0, False), (2, True)])
def test_prefix_sum_fit_equals_kernel_fit(p, intercept):
    rng = np.random.default_rng(p)
    T = 300
    x = rng.normal(0, 0.01, (T, 1, p))
    y = 0.0004 + x.sum(axis=-1) * 1.1 + rng.normal(0, 0.02, (T, 1))
    y[rng.random((T, 1)) < 0.05] = np.nan
    P = prefix_features(y, x)[:, 0, :]
    pos = np.array([120, 200, 280])
    k = int(intercept) + p
    fit = fit_from_sums(P[pos - 10] - P[pos - 100], p, intercept, k)
    car, var = car_from_sums(P[pos + 4] - P[pos - 1], fit, p, intercept)
    ie = pos[:, None] + np.arange(-100, -10)[None, :]
    iw = pos[:, None] + np.arange(-1, 4)[None, :]
    cm = np.ones((3, p), bool)
    direct = fit_ols(y[ie, 0], x[ie, 0, :], ~np.isnan(y[ie, 0]), cm, intercept)
    ar = event_ar(y[iw, 0], x[iw, 0, :], cm, direct)
    est = direct if (intercept or p) else None
    dvar = direct.ssr / (direct.n_obs - k) * car_variance_factor(x[iw, 0, :], ~np.isnan(ar), est)
    np.testing.assert_allclose(car, np.nansum(ar, axis=1), rtol=1e-9)
    np.testing.assert_allclose(var, dvar, rtol=1e-9)
    np.testing.assert_allclose(fit.alpha, direct.alpha, rtol=1e-8, atol=1e-13)


@pytest.fixture(scope="module")
def setup():
    inst, rets, m = synth()
    f = fit_instances(build_design(inst, rets, m, SPEC), SPEC)
    return f, rets, m, placebo_setup(f, rets, m, SPEC)


def test_pseudo_dates_shared_in_cluster_and_event_free(setup):
    f, rets, _m, st = setup
    cal = draw_dates(st, 50, np.random.default_rng(0))
    idx = rets["S00"].index
    real = set(idx.get_indexer(pd.DatetimeIndex(f.labels["day0"])))
    lo, hi = SPEC.event_span
    for b in range(50):
        t = st.pos_table[st.grp, cal[b, st.clus]]
        for c in np.unique(st.clus):  # one pseudo date per cluster
            assert len(np.unique(t[st.clus == c])) == 1
        for pos in t:  # the pseudo window overlaps no real event window
            assert all(abs(int(pos) - r) > hi - lo for r in real)
            assert pos + SPEC.estimation[0] >= 0 and pos + hi < len(idx)


@pytest.mark.parametrize("conventions", ["textbook", "estudy2"])
@pytest.mark.slow
def test_numba_twin_equals_numpy(setup, conventions):
    f, _, _, st = setup
    spec = SPEC.model_copy(update={"conventions": conventions})
    subs = [s[3] for s in f.subsets]
    member = membership(len(st.base), subs)
    cal = draw_dates(st, 40, np.random.default_rng(1))
    a = accumulate_numpy(st, cal, member, len(subs), spec, SPEC.windows)
    b = accumulate_numba(st, cal, member, len(subs), spec, SPEC.windows)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert (a[..., 0] > 0).all()


def test_blocks_and_shared_window_ends_change_no_bit(setup, monkeypatch):
    """The numpy accumulation works in blocks of draws and gathers each window end once;
    neither changes a sum: one draw per block, and each window alone, give exactly the
    same numbers."""
    from backtest.study import placebo

    f, _, _, st = setup
    subs = [s[3] for s in f.subsets]
    member = membership(len(st.base), subs)
    cal = draw_dates(st, 30, np.random.default_rng(3))
    windows = ((0, 0), (0, 1), (-1, 1), (0, 3), (-1, 3))
    whole = accumulate_numpy(st, cal, member, len(subs), SPEC, windows)
    assert (whole[..., 0] > 0).any()
    monkeypatch.setattr(placebo, "CHUNK_ELEMENTS", 1)
    np.testing.assert_array_equal(
        accumulate_numpy(st, cal, member, len(subs), SPEC, windows), whole
    )
    monkeypatch.undo()
    for w, win in enumerate(windows):
        alone = accumulate_numpy(st, cal, member, len(subs), SPEC, (win,))
        np.testing.assert_array_equal(alone[:, :, 0], whole[:, :, w])


@pytest.mark.parametrize("conventions", ["textbook", "estudy2"])
def test_draw_statistic_equals_direct_study(conventions):
    """A draw's CAAR and BMP t equal run_study at the same pseudo date, on returns whose
    real event window is blanked (the placebo masks it out of estimation windows), under
    each conventions preset (estudy2: R's var of the residuals, no forecast-error term)."""
    spec = SPEC.model_copy(update={"conventions": conventions})
    inst, rets, m = synth(n_events=1)
    f = fit_instances(build_design(inst, rets, m, spec), spec)
    st = placebo_setup(f, rets, m, spec)
    subs = [s[3] for s in f.subsets]
    member = membership(len(st.base), subs)
    cal = draw_dates(st, 3, np.random.default_rng(2))
    acc = accumulate_numpy(st, cal, member, len(subs), spec, SPEC.windows)
    pos0 = rets["S00"].index.get_loc(inst["day0"].iloc[0])
    lo, hi = SPEC.event_span
    blank = {
        s: r.where((np.arange(len(r)) < pos0 + lo) | (np.arange(len(r)) > pos0 + hi))
        for s, r in rets.items()
    }
    for b in range(3):
        day = pd.Timestamp(st.calendar[cal[b, 0]].astype("datetime64[D]"))
        res = run_study(
            inst.assign(day0=day),
            blank,
            m,
            spec.model_copy(update={"placebo_draws": 0, "tests": ("bmp_t",)}),
        )
        caar = res.caar.set_index("window")["caar"]
        t = res.tests  # (the estudy2 preset adds its own statistics under level estudy2)
        bmp = t[(t["test"] == "bmp_t") & (t["level"] == "event")].set_index("window")["statistic"]
        for w, label in enumerate(("[-1,+1]", "[0,+3]")):
            assert group_statistic(acc, "caar")[b, 0, w] == pytest.approx(caar[label], rel=1e-9)
            assert group_statistic(acc, "bmp")[b, 0, w] == pytest.approx(bmp[label], rel=1e-9)


def test_permutation_pvalue_formula():
    draws = np.array([0.1, -0.5, 0.3, np.nan, 2.0])
    p, b = permutation_pvalue(0.3, draws)
    assert b == 4 and p == pytest.approx((1 + 3) / 5)
    assert np.isnan(permutation_pvalue(np.nan, draws)[0])


def test_placebo_null_and_planted():
    null = run_study(*synth(seed=3), SPEC)
    planted = run_study(*synth(seed=3, effect=0.04), SPEC)

    def pv(res):
        t = res.tests
        return t[(t.test == "placebo_caar") & (t.level == "pooled") & (t.window == "[0,+3]")]

    assert pv(planted)["pvalue"].iloc[0] <= 0.01
    assert pv(null)["pvalue"].iloc[0] > 0.05
    assert pv(null)["valid"].all()
    again = run_study(*synth(seed=3), SPEC)
    pd.testing.assert_frame_equal(pv(again), pv(null))  # the seed fixes the draws


def test_placebo_invalid_without_event_free_dates():
    inst, rets, m = synth(T=130, days=[110])
    res = run_study(inst, rets, m, SPEC)
    t = res.tests[res.tests.test == "placebo_caar"]
    assert len(t) and not t["valid"].any()
    assert t["reason"].str.contains("event-free").all()
