"""Report aggregates: CAAR paths and event-level pooled CARs, checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from backtest.summaries import SPREAD, caar_paths, pooled_car


def test_caar_path_cumulates_per_security_then_averages():
    ar = pd.DataFrame({
        "event_id": ["e"] * 6, "security": ["A", "A", "A", "B", "B", "B"],
        "group": ["g"] * 6, "rel_day": [-1, 0, 1] * 2,
        "ar": [0.01, -0.02, 0.005, 0.03, -0.04, 0.0],
    })
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
    car = pd.DataFrame({
        "event_id": ["e1", "e1", "e1", "e2", "e2", "e3", "e3"],
        "security": ["N", "A", "C", "N", "C", "N", "C"],
        "group": ["us_incumbent", "us_incumbent", "cn_substitute", "us_incumbent",
                  "cn_substitute", "us_incumbent", "cn_substitute"],
        "window": ["[0,+1]"] * 7,
        "car": [-0.04, -0.02, 0.05, -0.01, 0.02, -0.03, 0.00],
    })
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
    car = pd.DataFrame({"event_id": ["e1"], "security": ["N"], "group": ["us_incumbent"],
                        "window": ["[0,0]"], "car": [-0.02]})
    events = pd.DataFrame({"event_id": ["e1"], "direction": ["tightening"]})
    row = pooled_car(car, events).iloc[0]
    assert math.isnan(row["se"]) and math.isnan(row["pvalue"])
