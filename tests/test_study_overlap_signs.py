"""Overlapping events, calendar clusters, expected signs and masked placebo dates.

Expectations come from the construction of each panel: which security-days are
shared, which signs are planted, and what one event alone gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.study.engine import run_study
from backtest.study.overlap import apply_overlap_policy
from backtest.study.spec import StudySpec
from backtest.summaries import pooled_car

SPEC = StudySpec(
    estimation=(-120, -11),
    min_estimation_obs=80,
    windows=((0, 0), (0, 1)),
    placebo_draws=0,
    daily_tests=(),
    tests=("cross_sectional_t", "portfolio_t", "kp_bmp_t"),
)


def _market(n_sec: int = 8, T: int = 500, seed: int = 11, plant: dict | None = None):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2021-01-04", periods=T)
    m = pd.Series(rng.normal(0, 0.01, T), index=idx, name="market")
    rets = {}
    for i in range(n_sec):
        r = 0.9 * m.to_numpy() + rng.normal(0, 0.015, T)
        for (sec, pos), eff in (plant or {}).items():
            if sec == f"S{i}":
                r[pos] += eff
        rets[f"S{i}"] = pd.Series(r, index=idx)
    return idx, rets, m


def _inst(idx, rows):
    return pd.DataFrame(
        [(e, s, idx[p], "us_incumbent", d, sg, "XNAS") for e, s, p, d, sg in rows],
        columns=["event_id", "security", "day0", "group", "direction", "expected_sign", "exchange"],
    )


def test_two_events_on_one_day_pool_like_one_event():
    idx, rets, m = _market()
    secs = list(rets)
    base = [(f"e{p}", s, p, "tightening", -1) for p in (200, 300, 400) for s in secs]
    twin = [("e300-twin", s, 300, "tightening", -1) for s in secs]
    one = run_study(_inst(idx, base), rets, m, SPEC).tests
    two = run_study(_inst(idx, base + twin), rets, m, SPEC)
    cols = ["event", "group", "window", "test", "statistic", "pvalue", "n"]
    pooled = ("direction=tightening,sign=-1", "direction=tightening,signed")
    a = one[(one["level"] == "pooled") & one["event"].isin(pooled)][cols].reset_index(drop=True)
    b = two.tests[(two.tests["level"] == "pooled") & two.tests["event"].isin(pooled)][
        cols
    ].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert (two.overlaps["decision"] == "merged: enters pools once").all()
    assert len(two.overlaps) == len(secs)
    # The twin keeps its own per-event result.
    assert "e300-twin" in set(two.tests.loc[two.tests["level"] == "event", "event"])
    # pooled_car: same rows with and without the twin (one calendar cluster per date).
    p1 = pooled_car(
        run_study(_inst(idx, base), rets, m, SPEC).car,
        run_study(_inst(idx, base), rets, m, SPEC).instances,
    )
    p2 = pooled_car(two.car, two.instances)
    pd.testing.assert_frame_equal(p1.reset_index(drop=True), p2.reset_index(drop=True))
    assert (p2.loc[p2["sign"] == "-1", "n_clusters"] == 3).all()


def test_conflicting_signs_on_one_security_day_leave_every_pool():
    idx, rets, m = _market()
    rows = [(f"t{p}", "S0", p, "tightening", -1) for p in (150, 250, 350)]
    rows += [
        ("ease", "S0", 250, "easing", 1),
        ("ease", "S1", 250, "easing", 1),
        ("e2", "S1", 400, "easing", 1),
    ]
    res = run_study(_inst(idx, rows), rets, m, SPEC)
    ov = res.overlaps.set_index("security")
    assert ov.loc["S0", "decision"] == "excluded from pools: expected signs conflict"
    inst = res.instances.set_index(["event_id", "security"])
    assert not inst.loc[("t250", "S0"), "pool"] and not inst.loc[("ease", "S0"), "pool"]
    t = res.tests
    tight = t[
        (t["level"] == "pooled")
        & (t["event"] == "direction=tightening,sign=-1")
        & (t["test"] == "cross_sectional_t")
    ]
    assert (tight["n"] == 2).all()  # t150 and t350 only
    # first: the first instance enters (t250 for S0), whatever the signs
    first = run_study(_inst(idx, rows), rets, m, SPEC.model_copy(update={"overlap": "first"}))
    fi = first.instances.set_index(["event_id", "security"])
    assert fi.loc[("t250", "S0"), "pool"] and not fi.loc[("ease", "S0"), "pool"]
    drop = apply_overlap_policy(_inst(idx, rows), "drop")[0].set_index(["event_id", "security"])
    assert not drop.loc[("t250", "S0"), "pool"] and not drop.loc[("ease", "S0"), "pool"]
    assert drop.loc[("t150", "S0"), "pool"]


def test_signed_pool_sees_what_a_mixed_pool_averages_away():
    # Four events; on each, S0-S3 are expected to fall (sign -1) and fall 3 %, S4-S7 are
    # expected to gain (+1) and gain 3 %.  Mixed, they average to about zero; by sign they
    # are about -3 % and +3 %, and signed (AR x sign) about +3 %.
    days = (200, 260, 320, 380)
    plant = {(f"S{i}", p): (-0.03 if i < 4 else 0.03) for i in range(8) for p in days}
    idx, rets, m = _market(plant=plant)
    rows = [(f"e{p}", f"S{i}", p, "tightening", -1 if i < 4 else 1) for p in days for i in range(8)]
    res = run_study(_inst(idx, rows), rets, m, SPEC)
    c = res.caar.set_index(["level", "event", "group", "window"])["caar"]
    down = c[("pooled", "direction=tightening,sign=-1", "us_incumbent", "[0,0]")]
    up = c[("pooled", "direction=tightening,sign=+1", "us_incumbent", "[0,0]")]
    signed = c[("pooled", "direction=tightening,signed", "*", "[0,0]")]
    assert down == pytest.approx(-0.03, abs=0.008)
    assert up == pytest.approx(0.03, abs=0.008)
    assert signed == pytest.approx(0.03, abs=0.006)
    assert signed == pytest.approx((up - down) / 2, abs=1e-12)
    p = pooled_car(res.car, res.instances)
    row = p[(p["sign"] == "signed") & (p["group"] == "*") & (p["window"] == "[0,0]")].iloc[0]
    assert row["mean_car"] == pytest.approx(0.03, abs=0.006) and row["n_clusters"] == 4
    assert row["pvalue"] < 0.01


def test_placebo_dates_avoid_masked_events():
    from backtest.study.placebo import placebo_setup

    idx, rets, m = _market(n_sec=3, T=600)
    rows = [(f"e{p}", f"S{i}", p, "tightening", -1) for p in (300, 450) for i in range(3)]
    inst = _inst(idx, rows)
    spec = SPEC.model_copy(update={"placebo_draws": 50})
    masks = pd.DataFrame({"security": ["S0", "S1", "S2"], "day0": [idx[380]] * 3})
    from backtest.study.design import build_design
    from backtest.study.engine import fit_instances

    f = fit_instances(build_design(inst, rets, m, spec, masks), spec)
    plain = placebo_setup(f, rets, m, spec)
    masked = placebo_setup(f, rets, m, spec, masks)
    lo, hi = spec.event_span
    width = hi - lo
    cal = pd.to_datetime(masked.calendar.astype("datetime64[D]"))
    pos380 = idx.get_loc(idx[380])
    for el in masked.eligible:
        dates = cal[el]
        pos = idx.get_indexer(dates)
        assert (np.abs(pos - pos380) > width).all()
    assert sum(len(e) for e in masked.eligible) < sum(len(e) for e in plain.eligible)
    res = run_study(inst, rets, m, spec, masks=masks)
    assert (res.tests["test"] == "placebo_bmp").any()
