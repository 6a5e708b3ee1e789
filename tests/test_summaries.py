"""Report aggregates: CAAR paths and event-level pooled CARs, checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from backtest.summaries import SPREAD, caar_paths, pooled_car


def test_caar_path_cumulates_per_security_then_averages():
    ar = pd.DataFrame(
        {
            "event_id": ["e"] * 6,
            "security": ["A", "A", "A", "B", "B", "B"],
            "group": ["g"] * 6,
            "rel_day": [-1, 0, 1] * 2,
            "ar": [0.01, -0.02, 0.005, 0.03, -0.04, 0.0],
        }
    )
    p = caar_paths(ar, start=-1, end=1).set_index("rel_day")
    # CAR_A = 0.01, -0.01, -0.005 ; CAR_B = 0.03, -0.01, -0.01
    assert p.loc[-1, "caar"] == pytest.approx(0.02)
    assert p.loc[0, "caar"] == pytest.approx(-0.01)
    assert p.loc[1, "caar"] == pytest.approx(-0.0075)
    # se at day -1: sd(0.01, 0.03) / sqrt(2) = 0.0141421 / 1.41421 = 0.01
    assert p.loc[-1, "se"] == pytest.approx(0.01)
    assert p.loc[0, "se"] == pytest.approx(0.0)
    assert (p["n"] == 2).all()


def test_pooled_car_uses_the_event_as_the_unit_and_builds_the_spread():
    car = pd.DataFrame(
        {
            "event_id": ["e1", "e1", "e1", "e2", "e2", "e3", "e3"],
            "security": ["N", "A", "C", "N", "C", "N", "C"],
            "group": [
                "us_incumbent",
                "us_incumbent",
                "cn_substitute",
                "us_incumbent",
                "cn_substitute",
                "us_incumbent",
                "cn_substitute",
            ],
            "window": ["[0,+1]"] * 7,
            "car": [-0.04, -0.02, 0.05, -0.01, 0.02, -0.03, 0.00],
        }
    )
    events = pd.DataFrame({"event_id": ["e1", "e2", "e3"], "direction": ["tightening"] * 3})
    out = pooled_car(car, events).set_index("group")
    inc = out.loc["us_incumbent"]
    # Event means: e1 -0.03 (two securities count once), e2 -0.01, e3 -0.03.
    assert inc["mean_car"] == pytest.approx(-0.07 / 3)
    sd = pd.Series([-0.03, -0.01, -0.03]).std()
    assert inc["se"] == pytest.approx(sd / math.sqrt(3))
    assert inc["n_events"] == 3 and inc["n_instances"] == 4
    assert inc["pvalue"] == pytest.approx(2 * stats.t.sf(abs(inc["t"]), 2))
    spread = out.loc[SPREAD]
    # Spreads per event: 0.05+0.03=0.08, 0.02+0.01=0.03, 0.00+0.03=0.03
    assert spread["mean_car"] == pytest.approx(0.14 / 3)
    assert spread["n_events"] == 3


def test_single_event_has_no_standard_error():
    car = pd.DataFrame(
        {
            "event_id": ["e1"],
            "security": ["N"],
            "group": ["us_incumbent"],
            "window": ["[0,0]"],
            "car": [-0.02],
        }
    )
    events = pd.DataFrame({"event_id": ["e1"], "direction": ["tightening"]})
    row = pooled_car(car, events).iloc[0]
    assert math.isnan(row["se"]) and math.isnan(row["pvalue"])


def test_pooled_car_by_expected_sign_with_calendar_clusters():
    # e2 and e3 fall on one US date (cluster US2): NVDA-like N counts once per cluster.
    # S is a Chinese name that e1 targets (sign -1) while C is expected to gain (+1).
    inst = pd.DataFrame(
        {
            "event_id": ["e1", "e1", "e1", "e2", "e2", "e3"],
            "security": ["N", "C", "S", "N", "C", "A"],
            "direction": ["tightening"] * 6,
            "expected_sign": [-1, 1, -1, -1, 1, -1],
            "cluster": ["US1", "CN1", "CN1", "US2", "CN2", "US2"],
            "pool": [True] * 6,
        }
    )
    car = pd.DataFrame(
        {
            "event_id": inst["event_id"],
            "security": inst["security"],
            "group": [
                "us_incumbent",
                "cn_substitute",
                "cn_substitute",
                "us_incumbent",
                "cn_substitute",
                "us_incumbent",
            ],
            "window": ["[0,0]"] * 6,
            "car": [-0.04, 0.05, -0.03, -0.02, 0.01, -0.06],
        }
    )
    out = pooled_car(car, inst).set_index(["sign", "group"])
    down = out.loc[("-1", "us_incumbent")]
    # clusters: US1 -0.04; US2 mean(-0.02, -0.06) = -0.04
    assert down["mean_car"] == pytest.approx(-0.04)
    assert (down["n_clusters"], down["n_events"], down["n_instances"]) == (2, 3, 3)
    assert out.loc[("+1", "cn_substitute"), "mean_car"] == pytest.approx(0.03)
    assert math.isnan(out.loc[("-1", "cn_substitute"), "se"])  # one cluster
    # signed, all groups: US1 +0.04, CN1 mean(+0.05, +0.03), US2 +0.04, CN2 +0.01
    assert out.loc[("signed", "*"), "mean_car"] == pytest.approx(0.13 / 4)
    # spread per event: e1 0.05 - (-0.04); e2 0.01 - (-0.02); e3 has no Chinese gainer
    sp = out.loc[("spread", SPREAD)]
    assert sp["mean_car"] == pytest.approx(0.06) and sp["n_events"] == 2
    # a security-day the overlap policy took out of pools does not count
    out2 = pooled_car(car, inst.assign(pool=[True, True, True, True, True, False]))
    d2 = out2.set_index(["sign", "group"]).loc[("-1", "us_incumbent")]
    assert d2["mean_car"] == pytest.approx((-0.04 - 0.02) / 2)


def test_robust_centre_trims_at_least_one_from_each_end_from_five_values():
    import pandas as pd

    from backtest.summaries import robust_centre

    c = robust_centre(pd.Series([0.40, 0.01, 0.02, 0.03, -0.30, float("nan")]))
    assert c["n"] == 5 and c["trimmed_k"] == 1
    assert c["trimmed_mean"] == pytest.approx((0.01 + 0.02 + 0.03) / 3, abs=1e-15)
    assert c["median"] == pytest.approx(0.02, abs=1e-15)
    assert c["mean"] == pytest.approx(0.16 / 5, abs=1e-15)
    three = robust_centre(pd.Series([0.1, 0.2, 0.9]))
    assert three["trimmed_k"] == 0 and three["trimmed_mean"] == pytest.approx(0.4, abs=1e-15)


def test_spread_summary_by_hand_with_the_top_contributor_and_limit_events():
    from backtest.summaries import spread_summary

    spreads = [0.10, -0.02, 0.03, 0.05, 0.40, 0.01]
    ev = pd.DataFrame(
        {
            "direction": "tightening",
            "window": "[0,+1]",
            "event_id": [f"e{k}" for k in range(6)],
            "spread": spreads,
            "contribution": [s / 6 for s in spreads],
            "limit_days": [0, 0, 2, 0, 5, 0],
        }
    )
    other = ev.assign(direction="easing", spread=0.01, contribution=0.01 / 6, limit_days=0)
    s = spread_summary(pd.concat([ev, other.iloc[:2]], ignore_index=True))
    assert s["direction"].tolist() == ["easing", "tightening"]  # sorted
    t = s[s["direction"] == "tightening"].iloc[0]
    assert t["n_events"] == 6 and t["trimmed_k"] == 1
    assert t["mean"] == pytest.approx(0.57 / 6, abs=1e-15)
    assert t["median"] == pytest.approx((0.03 + 0.05) / 2, abs=1e-15)
    # sorted -0.02 0.01 0.03 0.05 0.10 0.40: one dropped from each end
    assert t["trimmed_mean"] == pytest.approx((0.01 + 0.03 + 0.05 + 0.10) / 4, abs=1e-15)
    assert t["top_event"] == "e4"
    assert t["top_share"] == pytest.approx(0.40 / 0.61, abs=1e-12)  # of sum |contribution|
    assert t["limit_events"] == 2
    assert spread_summary(ev.iloc[:0]).empty
