"""run_study: frames, invariants, planted effects, the spread, and clustering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.study.engine import run_study
from backtest.study.spec import StudySpec

FAST = dict(
    placebo_draws=0,
    daily_tests=(),
    estimation=(-120, -11),
    min_estimation_obs=80,
    windows=((-1, 1), (0, 1), (0, 5)),
)


def synth(
    n_sec: int = 30,
    T: int = 400,
    seed: int = 0,
    rho: float = 0.3,
    event_days: tuple[int, ...] = (250,),
    effect: dict[str, float] | None = None,
):
    """Market model returns with a common shock across securities (cross-correlation
    rho of residuals) and optional planted day-0 effects per group."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=T)
    m = rng.normal(0.0003, 0.01, T)
    common = rng.normal(0, 0.02, T)
    groups = np.where(np.arange(n_sec) % 2 == 0, "cn_substitute", "us_incumbent")
    rets = {}
    for i in range(n_sec):
        e = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.normal(0, 0.02, T)
        r = 0.0002 + rng.uniform(0.6, 1.4) * m + e
        for d in event_days:
            r[d] += (effect or {}).get(groups[i], 0.0)
        rets[f"S{i:03d}"] = pd.Series(r, index=idx)
    inst = pd.DataFrame(
        [
            (f"ev{j}", s, idx[d], groups[i])
            for j, d in enumerate(event_days)
            for i, s in enumerate(rets)
        ],
        columns=["event_id", "security", "day0", "group"],
    )
    return inst, rets, pd.Series(m, index=idx, name="market")


def test_frames_and_columns():
    inst, rets, m = synth()
    res = run_study(inst, rets, m, StudySpec(**FAST))
    # The README's "Output columns (stable)", the same in memory and in the CSV files.
    assert list(res.ar.columns) == ["event_id", "security", "rel_day", "date", "ar", "group"]
    assert list(res.car.columns) == [
        "event_id",
        "security",
        "window",
        "car",
        "car_se",
        "group",
        "bhar",
        "days",
        "t_stat",
        "t_pvalue",
    ]
    assert list(res.tests.columns) == [
        "level",
        "group",
        "window",
        "rel_day",
        "test",
        "statistic",
        "pvalue",
        "n",
        "event",
        "null",
        "distribution",
        "valid",
        "reason",
    ]
    assert len(res.car) == 30 * 3 and len(res.ar) == 30 * 7
    # CAR is the sum of the tidy ARs over the window
    ar = res.ar[(res.ar.rel_day >= -1) & (res.ar.rel_day <= 1)].groupby("security")["ar"].sum()
    car = res.car[res.car.window == "[-1,+1]"].set_index("security")["car"]
    np.testing.assert_allclose(car.loc[ar.index], ar, rtol=1e-12)
    assert res.to_frame().equals(res.tests)
    ci = res.conf_int(0.9)
    assert (ci["lower"] < ci["caar"]).all() and (ci["caar"] < ci["upper"]).all()
    assert "Attrition" in str(res.summary()) and "portfolio_t" in str(res.summary(full=True))


def test_market_adjusted_zero_when_stock_is_market():
    inst, rets, m = synth(n_sec=4)
    rets = {s: m.copy() for s in rets}
    res = run_study(inst, rets, m, StudySpec(**FAST, model="market_adjusted"))
    assert np.abs(res.ar["ar"]).max() == 0.0


def test_reorder_and_scale_invariance():
    inst, rets, m = synth(n_sec=12, seed=3, effect={"cn_substitute": 0.02})
    spec = StudySpec(**FAST, tests=("cross_sectional_t", "bmp_t", "patell_z", "portfolio_t"))
    base = run_study(inst, rets, m, spec).tests.set_index(["group", "window", "test"])
    shuffled = run_study(inst.sample(frac=1.0, random_state=1), rets, m, spec)
    t2 = shuffled.tests.set_index(["group", "window", "test"]).loc[base.index]
    np.testing.assert_allclose(t2["statistic"], base["statistic"], rtol=1e-10)
    k = 3.0
    scaled = run_study(inst, {s: r * k for s, r in rets.items()}, m * k, spec)
    t3 = scaled.tests.set_index(["group", "window", "test"]).loc[base.index]
    np.testing.assert_allclose(t3["statistic"], base["statistic"], rtol=1e-9)
    a0 = run_study(inst, rets, m, spec).ar["ar"].to_numpy()
    np.testing.assert_allclose(scaled.ar["ar"].to_numpy(), k * a0, rtol=1e-9)


def test_planted_effect_recovered_and_spread():
    inst, rets, m = synth(
        n_sec=40,
        seed=4,
        rho=0.0,
        event_days=(250, 330),
        effect={"cn_substitute": 0.05, "us_incumbent": -0.02},
    )
    res = run_study(inst, rets, m, StudySpec(**FAST))
    caar = res.caar.set_index(["level", "event", "group", "window"])["caar"]
    assert caar[("pooled", "*", "cn_substitute", "[0,+1]")] == pytest.approx(0.05, abs=0.01)
    assert caar[("pooled", "*", "us_incumbent", "[0,+1]")] == pytest.approx(-0.02, abs=0.01)
    t = res.tests.set_index(["level", "event", "group", "window", "test"])
    assert t.loc[("event", "ev0", "cn_substitute", "[0,+1]", "portfolio_t"), "pvalue"] < 0.01
    spread = res.tests[res.tests.level == "spread_event"]
    assert set(spread.event) == {"ev0", "ev1"}
    assert (spread.group == "cn_substitute-us_incumbent").all()
    sp = spread[spread.window == "[0,+1]"]
    assert (sp.statistic > 3).all()
    pooled = res.tests[(res.tests.level == "spread_pooled") & (res.tests.window == "[0,+1]")]
    assert len(pooled) == 1 and pooled.n.iloc[0] == 2


def test_spread_car_equals_difference_of_group_means():
    inst, rets, m = synth(n_sec=10, seed=5, effect={"cn_substitute": 0.03})
    from backtest.study.design import build_design
    from backtest.study.engine import fit_instances, spread_portfolios, spread_window

    spec = StudySpec(**FAST)
    f = fit_instances(build_design(inst, rets, m, spec), spec)
    _names, ar = spread_portfolios(f, spec)
    w = spread_window(ar, 0, 1)
    car = f.windows[1].car
    g = f.labels["group"].to_numpy()
    assert w.car[0] == pytest.approx(
        car[g == "cn_substitute"].mean() - car[g == "us_incumbent"].mean(), rel=1e-12
    )


@pytest.mark.slow
def test_clustering_null_rejection_rates():
    """Nothing planted, one shared event date, cross-correlated residuals: the naive
    cross-sectional t over-rejects; the portfolio test stays near 5 %."""
    spec = StudySpec(
        **{**FAST, "windows": ((0, 1),)}, tests=("cross_sectional_t", "portfolio_t", "kp_bmp_t")
    )
    rej = {"cross_sectional_t": 0, "portfolio_t": 0, "kp_bmp_t": 0}
    n_sim = 200
    for s in range(n_sim):
        inst, rets, m = synth(n_sec=15, T=220, seed=100 + s, rho=0.3, event_days=(200,))
        t = run_study(inst, rets, m, spec).tests
        t = t[(t.level == "event") & (t.group == "cn_substitute")].set_index("test")
        for k in rej:
            rej[k] += bool(t.loc[k, "pvalue"] < 0.05)
    rate = {k: v / n_sim for k, v in rej.items()}
    assert rate["cross_sectional_t"] > 0.15
    assert 0.02 <= rate["portfolio_t"] <= 0.09
    assert 0.02 <= rate["kp_bmp_t"] <= 0.09


def test_factor_model_and_us_lag_regressor_match_statsmodels():
    """Factor model with an optional previous-US-session regressor (non-synchronous
    trading): securities with the column get it, others are fitted without it."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(8)
    idx = pd.bdate_range("2022-01-03", periods=200)
    fac = pd.DataFrame(rng.normal(0, 0.01, (200, 2)), index=idx, columns=["mkt", "smb"])
    lag = pd.Series(rng.normal(0, 0.01, 200), index=idx)
    rets, market = {}, {}
    for s, has_lag in (("CN", True), ("US", False)):
        r = 0.0003 + fac @ [1.1, 0.4] + (0.5 * lag if has_lag else 0) + rng.normal(0, 0.01, 200)
        r.iloc[[20, 40]] = np.nan
        rets[s] = r
        market[s] = fac.assign(us_market_prev=lag) if has_lag else fac
    inst = pd.DataFrame({"event_id": "e", "security": ["CN", "US"], "day0": idx[170]})
    spec = StudySpec(**FAST, model="factor", factors=("mkt", "smb"), lagged_us=True)
    res = run_study(inst, rets, market, spec)
    par = res.params.set_index("security")
    est = slice(170 - 120, 170 - 10)
    for s, cols in (("CN", ["mkt", "smb", "us_market_prev"]), ("US", ["mkt", "smb"])):
        X = market[s].iloc[est][cols]
        y = rets[s].iloc[est]
        ok = y.notna()
        ols = sm.OLS(y[ok], sm.add_constant(X[ok])).fit()
        assert par.loc[s, "alpha"] == pytest.approx(ols.params["const"], rel=1e-9)
        for c in cols:
            assert par.loc[s, f"beta_{c}"] == pytest.approx(ols.params[c], rel=1e-9)
        assert par.loc[s, "k"] == len(cols) + 1
        assert par.loc[s, "sigma"] == pytest.approx(np.sqrt(ols.scale), rel=1e-9)
    assert np.isnan(par.loc["US", "beta_us_market_prev"])


def test_summary_leads_with_clustering_robust_tests():
    inst, rets, m = synth(n_sec=10, seed=6)
    res = run_study(inst, rets, m, StudySpec(**FAST))
    text = str(res.summary(full=True))
    lines = [ln for ln in text.splitlines() if "[0,+1]" in ln and "event " in ln]
    tests = [ln.split()[4] for ln in lines if "cn_substitute" in ln]
    # The registry's lead tests first (kp_bmp_t holds its size under clustering and
    # event-induced variance); the portfolio t (over-rejects when event-day variance
    # rises) and the naive tests after them.
    assert tests.index("kp_bmp_t") < tests.index("cross_sectional_t")
    assert tests.index("kp_bmp_t") < tests.index("portfolio_t")
    assert tests.index("kp_bmp_t") < tests.index("bmp_t")


def test_pooling_by_direction_and_the_spread_by_direction():
    # Three events: two tightening (incumbents -3 %, substitutes +2 % planted on both),
    # one easing with nothing planted.  Pooled rows appear per direction; the
    # tightening spread equals the mean over its events of (mean sub AR - mean inc AR).
    inst, rets, m = synth(
        n_sec=10,
        T=700,
        event_days=(250, 420, 600),
        effect={"us_incumbent": -0.03, "cn_substitute": 0.02},
    )
    inst["direction"] = inst["event_id"].map(
        {"ev0": "tightening", "ev1": "tightening", "ev2": "easing"}
    )
    for s in rets:  # undo the plant on the easing event
        g = "cn_substitute" if int(s[1:]) % 2 == 0 else "us_incumbent"
        rets[s].iloc[600] -= {"us_incumbent": -0.03, "cn_substitute": 0.02}[g]
    res = run_study(inst, rets, m, StudySpec(**FAST))
    t = res.tests
    pooled = t[(t.level == "pooled") & (t.window == "[0,+1]") & (t.test == "portfolio_cs_t")]
    assert set(pooled["event"]) >= {"direction=tightening"}
    assert "direction=easing" not in set(pooled["event"])  # one event: not pooled
    sp = t[(t.level == "spread_pooled") & (t.window == "[0,+1]")]
    tight = sp[sp.event == "direction=tightening"].iloc[0]
    car = res.car[res.car.window == "[0,+1]"].copy()
    car["event"] = car["event_id"]
    per_event = car.groupby(["event", "group"])["car"].mean().unstack()
    spreads = (per_event["cn_substitute"] - per_event["us_incumbent"]).loc[["ev0", "ev1"]]
    expected_t = spreads.mean() / (spreads.std(ddof=1) / np.sqrt(2))
    assert tight["statistic"] == pytest.approx(expected_t, rel=1e-9)
    assert tight["n"] == 2
    assert spreads.mean() == pytest.approx(0.05, abs=0.02)
