"""Design: relative days on each security's own sessions; attrition with reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.errors import SpecError
from backtest.returns import previous_us_return
from backtest.study.design import build_design
from backtest.study.engine import run_study
from backtest.study.spec import StudySpec, parse_window

SPEC = StudySpec(
    estimation=(-60, -6),
    windows=((-1, 1), (0, 3)),
    min_estimation_obs=40,
    placebo_draws=0,
    daily_tests=(),
    tests=("cross_sectional_t",),
)


def _sessions(holiday: bool) -> pd.DatetimeIndex:
    d = pd.bdate_range("2024-01-01", periods=140)
    if holiday:  # a week-long closure (like Golden Week) on the second calendar
        d = d[(d < "2024-04-01") | (d > "2024-04-05")]
    return pd.DatetimeIndex(d, name="date")


def _market(seed: int = 0):
    rng = np.random.default_rng(seed)
    us, cn = _sessions(False), _sessions(True)
    mkt = pd.Series(rng.normal(0, 0.01, len(us)), index=us, name="market")
    rets = {}
    for s, idx in (("US1", us), ("US2", us), ("CN1", cn)):
        m = mkt.reindex(idx).fillna(0.0)
        rets[s] = pd.Series(0.8 * m.to_numpy() + rng.normal(0, 0.02, len(idx)), index=idx)
    return rets, mkt


def test_relative_days_count_own_sessions():
    rets, mkt = _market()
    inst = pd.DataFrame(
        {"event_id": "e", "security": ["US1", "CN1"], "day0": ["2024-03-28", "2024-04-08"]}
    )
    d = build_design(inst, rets, mkt, SPEC)
    assert len(d.attrition) == 0
    dates = pd.DatetimeIndex(d.arrays.evt_dates[1])
    # CN1: day -1 is 2024-03-29 (the session before the closure), +1 is 04-09
    assert dates[list(d.arrays.rel_days).index(-1)] == pd.Timestamp("2024-03-29")
    assert dates[list(d.arrays.rel_days).index(1)] == pd.Timestamp("2024-04-09")
    us_dates = pd.DatetimeIndex(d.arrays.evt_dates[0])
    assert us_dates[list(d.arrays.rel_days).index(3)] == pd.Timestamp("2024-04-02")
    # estimation window: 55 sessions of CN1's own index, ending 6 sessions before day 0
    pos = rets["CN1"].index.get_loc(pd.Timestamp("2024-04-08"))
    np.testing.assert_array_equal(d.arrays.r_est[1], rets["CN1"].to_numpy()[pos - 60 : pos - 5])
    # the market regressor follows CN1's sessions too
    np.testing.assert_array_equal(
        d.arrays.x_est[1, :, 0], mkt.reindex(rets["CN1"].index).to_numpy()[pos - 60 : pos - 5]
    )


def test_attrition_reasons_never_crash():
    rets, mkt = _market()
    idx = rets["US1"].index
    rets["FLAT"] = pd.Series(0.001, index=idx)
    rets["EMPTY"] = pd.Series(np.nan, index=idx)
    holes = rets["US2"].copy()
    holes.iloc[74:82] = np.nan
    rets["HOLES"] = holes
    short = rets["US2"].copy()
    short.iloc[:60] = np.nan
    rets["SHORT"] = short
    rows = [
        ("ok", "US1", "2024-03-28"),
        ("ok", "US1", "2024-03-28"),  # duplicate
        ("x", "NOPE", "2024-03-28"),  # no return series
        ("x", "US2", "2030-01-01"),  # outside the data
        ("x", "CN1", "2024-04-02"),  # closure: not a row of CN1
        ("x", "US2", "2024-01-20"),  # day0 on a Saturday: not a row
        ("x", "SHORT", "2024-04-15"),  # 60 - 36 = too few estimation returns
        ("x", "FLAT", "2024-04-15"),  # constant returns
        ("x", "EMPTY", "2024-04-15"),  # all missing
        ("x", "US2", pd.Timestamp(idx[-1]).strftime("%Y-%m-%d")),  # no event-window data
        ("y", "HOLES", idx[77].strftime("%Y-%m-%d")),  # no event returns at all
    ]
    inst = pd.DataFrame(rows, columns=["event_id", "security", "day0"])
    res = run_study(inst, rets, mkt, SPEC)
    reasons = res.attrition["reason"].tolist()
    assert reasons.count("duplicate_instance") == 1
    for r in (
        "no_returns",
        "day0_outside_data",
        "day0_not_a_row",
        "estimation_too_short",
        "constant_returns",
        "all_missing_returns",
        "no_event_returns",
    ):
        assert r in reasons, r
    assert reasons.count("day0_not_a_row") == 2
    assert res.n_used == 2  # US1 once, and US2 on its last day (event days +1.. missing)
    summary = res.attrition_summary().set_index("stage")["instances"]
    assert summary["input"] == len(rows) and summary["used"] == 2
    assert summary.sum() - summary["input"] - summary["used"] == len(rows) - 2
    assert "dropped: constant_returns" in str(res.summary())
    valid = res.tests[res.tests["valid"]]
    assert np.isfinite(valid["statistic"]).all() and np.isfinite(valid["pvalue"]).all()
    assert res.tests.loc[~res.tests["valid"], "reason"].str.len().gt(0).all()


def test_missing_day_policy_and_regressors():
    rets, mkt = _market()
    s = rets["US2"].copy()
    s.loc["2024-03-29"] = np.nan  # day +1 of the event
    rets["US2"] = s
    inst = pd.DataFrame({"event_id": "e", "security": ["US2"], "day0": ["2024-03-28"]})
    keep = run_study(inst, rets, mkt, SPEC)
    car = keep.car.set_index("window")
    assert car.loc["[-1,+1]", "days"] == 2
    drop = run_study(inst, rets, mkt, SPEC.model_copy(update={"missing": "drop_instance"}))
    assert drop.attrition["reason"].tolist() == ["missing_event_day"]
    none = run_study(inst, rets, {"OTHER": mkt}, SPEC)
    assert none.attrition["reason"].tolist() == ["missing_regressor"]
    const = run_study(inst, rets, pd.Series(0.002, index=mkt.index, name="market"), SPEC)
    assert const.attrition["reason"].tolist() == ["singular_design"]


def test_other_events_masked_from_estimation():
    rets, mkt = _market()
    inst = pd.DataFrame(
        {"event_id": ["a", "b"], "security": "US1", "day0": ["2024-04-01", "2024-05-13"]}
    )
    d = build_design(inst, rets, mkt, SPEC)
    pos_a = rets["US1"].index.get_loc(pd.Timestamp("2024-04-01"))
    pos_b = rets["US1"].index.get_loc(pd.Timestamp("2024-05-13"))
    est_pos = pos_b + d.arrays.est_days
    # Policy mask_other_events: event a's days -1..+1 (SPEC.mask_window) leave b's
    # estimation window; nothing else does.
    masked = (est_pos >= pos_a - 1) & (est_pos <= pos_a + 1)
    assert masked.sum() == 3
    assert np.isnan(d.arrays.r_est[1][masked]).all()
    assert not np.isnan(d.arrays.r_est[1][~masked]).any()
    wide = build_design(inst, rets, mkt, SPEC.model_copy(update={"mask_window": (-1, 3)}))
    hit = (est_pos >= pos_a - 1) & (est_pos <= pos_a + 3)
    assert np.isnan(wide.arrays.r_est[1][hit]).all() and hit.sum() == 5


def test_previous_us_session_return():
    us = pd.Series(
        [0.01, 0.02, 0.03], index=pd.to_datetime(["2025-04-14", "2025-04-15", "2025-04-17"])
    )
    cn = pd.DatetimeIndex(pd.to_datetime(["2025-04-14", "2025-04-16", "2025-04-18"]))
    got = previous_us_return(us, cn)
    assert np.isnan(got.iloc[0])  # no US session strictly before
    assert got.iloc[1] == 0.02  # Wed 16th in Asia: the US Tue 15th close
    assert got.iloc[2] == 0.03


def test_spec_validation():
    assert parse_window("-250:-11") == (-250, -11)
    with pytest.raises(SpecError, match="window"):
        parse_window("0-4")
    with pytest.raises(SpecError, match="after"):
        parse_window("3:1")
    with pytest.raises(ValueError, match="overlaps"):
        StudySpec(estimation=(-10, 0))
    with pytest.raises(ValueError, match="factor"):
        StudySpec(model="factor")
    with pytest.raises(ValueError):
        StudySpec(missing="skip")
    with pytest.raises(SpecError, match="unknown test"):
        rets, mkt = _market()
        inst = pd.DataFrame({"event_id": "e", "security": ["US1"], "day0": ["2024-03-28"]})
        run_study(inst, rets, mkt, SPEC.model_copy(update={"tests": ("nope",)}))


def test_confounder_masks_counted():
    rets, mkt = _market()
    inst = pd.DataFrame({"event_id": ["b"], "security": ["US1"], "day0": ["2024-05-13"]})
    masks = pd.DataFrame({"security": ["US1", "US2"], "day0": ["2024-04-01", "2024-04-01"]})
    plain = run_study(inst, rets, mkt, SPEC)
    masked = run_study(inst, rets, mkt, SPEC, masks=masks)
    span = SPEC.mask_window[1] - SPEC.mask_window[0] + 1
    assert plain.params["est_masked"].tolist() == [0]
    assert masked.params["est_masked"].tolist() == [span]
    assert masked.params["n_est"].iloc[0] == plain.params["n_est"].iloc[0] - span
    summary = masked.attrition_summary().set_index("stage")["instances"]
    assert summary["estimation days masked (other events)"] == span
    d = build_design(inst, rets, mkt, SPEC, masks)
    pos_a = rets["US1"].index.get_loc(pd.Timestamp("2024-04-01"))
    pos_b = rets["US1"].index.get_loc(pd.Timestamp("2024-05-13"))
    est_pos = pos_b + d.arrays.est_days
    hit = (est_pos >= pos_a - 1) & (est_pos <= pos_a + 1)
    assert np.isnan(d.arrays.r_est[0][hit]).all() and not np.isnan(d.arrays.r_est[0][~hit]).any()


def test_one_default_per_concept():
    """Seed, bootstrap draws and holding period: one default each, the CLI's."""
    from backtest.cli import options
    from backtest.runspec import RunSpec
    from backtest.strategy.spec import DEFAULT_HOLD, StrategySpec
    from backtest.study import registry
    from backtest.study.spec import DEFAULT_BOOTSTRAP_DRAWS, DEFAULT_SEED

    assert (DEFAULT_SEED, DEFAULT_BOOTSTRAP_DRAWS, DEFAULT_HOLD) == (7, 999, 5)
    spec = StudySpec()
    assert (spec.seed, spec.bootstrap_draws) == (7, 999)
    assert (registry.DEFAULT_SEED, registry.DEFAULT_BOOT) == (7, 999)
    assert options.DEFAULT_SEED == RunSpec().seed == 7
    assert options.DEFAULT_HOLD == RunSpec().hold == StrategySpec().hold == 5
    # The registry's default bootstrap is the spec's: 999 draws give p on a 1/1000 grid.
    boot = registry.TESTS["cluster_bootstrap"]
    assert boot.keywords == {"rng": 7, "n_boot": 999}


def test_the_run_window_option_is_the_one_window_parser():
    from backtest.cli.run import _parse_window

    assert _parse_window(" -5 : 10 ") == parse_window("-5:10") == (-5, 10)
    for bad, msg in (("3:1", "window start is after its end"), ("zero", "not a window")):
        with pytest.raises(SpecError, match=msg) as err:
            _parse_window(bad)
        assert err.value.field == "--window"
