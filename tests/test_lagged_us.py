"""The lagged-US regressor (StudySpec.lagged_us): alignment by hand, and the loading
planted in the synthetic market recovered within its standard error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from backtest.errors import SpecError
from backtest.market.calendars import sessions
from backtest.returns import (
    US_LAG_COLUMN,
    default_us_lag_benchmark,
    previous_us_return,
    study_inputs,
    us_lag_column,
)
from backtest.study.engine import run_study
from backtest.study.spec import StudySpec
from backtest.synth import PROFILE, SynthSpec, make_market
from backtest.universe import Universe, load_universe

# --- alignment, by hand -----------------------------------------------------------------
# January-February 2024: Shanghai closed 9-16 February (Chinese New Year), New York closed
# Monday 19 February (Presidents' Day).  The US return of session D is written as the
# number 0.MMDD (e.g. 0.0216 for 16 February), so the value says which session fed a day.
US_DAYS = sessions("XNYS", "2024-01-02", "2024-02-23")
US = pd.Series([float(f"0.{d:%m%d}") for d in US_DAYS], index=US_DAYS)

SHANGHAI_BY_HAND = {  # Shanghai session -> the US session that closed before it opened
    "2024-02-01": "2024-01-31",
    "2024-02-02": "2024-02-01",
    "2024-02-05": "2024-02-02",  # Monday: the US Friday
    "2024-02-06": "2024-02-05",
    "2024-02-07": "2024-02-06",
    "2024-02-08": "2024-02-07",
    "2024-02-19": "2024-02-16",  # after the Chinese holiday: the last US session before it
    "2024-02-20": "2024-02-16",  # after the US holiday: again the US Friday
    "2024-02-21": "2024-02-20",
    "2024-02-22": "2024-02-21",
}
HONG_KONG_BY_HAND = {  # Hong Kong closed 12-13 February 2024
    "2024-02-09": "2024-02-08",
    "2024-02-14": "2024-02-13",  # not the 9th: the US traded through the HK holiday
    "2024-02-19": "2024-02-16",
    "2024-02-20": "2024-02-16",
}


def _value(day: str) -> float:
    return float(f"0.{pd.Timestamp(day):%m%d}")


def test_the_calendars_are_the_ones_the_hand_example_assumes():
    sh = sessions("XSHG", "2024-02-01", "2024-02-22")
    assert [f"{d:%Y-%m-%d}" for d in sh] == list(SHANGHAI_BY_HAND)
    assert pd.Timestamp("2024-02-19") not in US_DAYS and pd.Timestamp("2024-02-16") in US_DAYS
    hk = sessions("XHKG", "2024-02-09", "2024-02-20")
    assert [f"{d:%Y-%m-%d}" for d in hk] == [
        "2024-02-09",
        "2024-02-14",
        "2024-02-15",
        "2024-02-16",
        "2024-02-19",
        "2024-02-20",
    ]


@pytest.mark.parametrize(
    ("calendar", "by_hand"), [("XSHG", SHANGHAI_BY_HAND), ("XHKG", HONG_KONG_BY_HAND)]
)
def test_each_asian_day_gets_the_us_session_that_closed_before_it_opened(calendar, by_hand):
    days = pd.DatetimeIndex(list(by_hand))
    got = previous_us_return(US, days)
    assert got.name == US_LAG_COLUMN
    assert got.to_numpy().tolist() == [_value(u) for u in by_hand.values()]
    # The calendar-filled column the study inputs use agrees.
    assert us_lag_column(US, "XNYS", days).tolist() == [_value(u) for u in by_hand.values()]


def test_a_us_session_without_a_return_stays_missing():
    gap = US.copy()
    gap[pd.Timestamp("2024-02-07")] = np.nan  # a missing SPY bar on a real session
    days = pd.DatetimeIndex(["2024-02-07", "2024-02-08", "2024-02-19"])
    got = previous_us_return(gap, days).to_numpy()
    assert got[0] == _value("2024-02-06") and np.isnan(got[1]) and got[2] == _value("2024-02-16")


def test_before_and_after_the_us_data_the_lag_is_missing():
    short = US[US.index <= "2024-02-13"]  # the US series ends on 13 February
    days = pd.DatetimeIndex(["2024-01-02", "2024-02-08", "2024-02-19", "2024-02-20"])
    got = us_lag_column(short, "XNYS", days)
    # 2 January: no US session of the data before it; 19-20 February: the US sessions
    # before them (the 16th) have no data, and the 13th must not stand in for them.
    assert np.isnan(got[0]) and got[1] == _value("2024-02-07")
    assert np.isnan(got[2]) and np.isnan(got[3])


# --- the column in the study inputs ------------------------------------------------------

SYMBOLS = ("002371.SZ", "0981.HK", "NVDA", "SOXX", "SPY", "000300.SS", "^HSI")


def _universe(bench_of_asia: str) -> Universe:
    """The real universe cut to a few names; Chinese names measured against ``bench_of_asia``."""
    full = load_universe()
    secs = []
    for s in SYMBOLS:
        sec = full[s]
        if sec.mic in ("XSHE", "XHKG"):
            sec = sec.model_copy(update={"benchmarks": (bench_of_asia,)})
        secs.append(sec)
    return Universe(securities=tuple(secs))


@pytest.fixture(scope="module")
def market():
    spec = SynthSpec(seed=11, start="2019-01-02", end="2024-06-28", suspension_rate=0.0)
    return make_market(_universe("SOXX"), spec=spec)


def test_the_default_lag_benchmark_is_the_first_us_benchmark_of_the_us_semis():
    # events/universe.yaml lists [SPY, SOXX] for AVGO, the first us_semis name.
    assert default_us_lag_benchmark(load_universe()) == "SPY"
    assert default_us_lag_benchmark(_universe("SOXX")) is None  # no us_semis name in it


def test_study_inputs_add_the_column_to_chinese_and_hong_kong_names_only(market):
    u = _universe("SOXX")
    inputs = study_inputs(market.panel, u, ["002371.SZ", "0981.HK", "NVDA"], us_lag="SPY")
    spy = market.panel.close("SPY").pct_change()
    for sym in ("002371.SZ", "0981.HK"):
        col = inputs.market[sym][US_LAG_COLUMN]
        day = pd.Timestamp("2024-02-20")  # Shanghai and Hong Kong: after the US holiday
        assert col[day] == pytest.approx(spy[pd.Timestamp("2024-02-16")], rel=1e-12)
        day = pd.Timestamp("2024-02-21")
        assert col[day] == pytest.approx(spy[pd.Timestamp("2024-02-20")], rel=1e-12)
    assert US_LAG_COLUMN not in inputs.market["NVDA"].columns
    with pytest.raises(SpecError, match="lagged US benchmark"):
        study_inputs(market.panel, u, ["002371.SZ"], us_lag="000300.SS")


def test_lagged_us_needs_a_model_with_slopes():
    with pytest.raises(ValueError, match="lagged_us adds an estimated slope"):
        StudySpec(model="market_adjusted", lagged_us=True)


# --- the planted loading, recovered ------------------------------------------------------
# backtest/synth.py: latent_factors adds 0.35 x the previous US-time day's US shock to the
# China factor and 0.5 x to the Hong Kong factor; a security's market part is
# beta_m x its region's factor (PROFILE).  SPY is 1.0 x the US factor plus an
# idiosyncratic volatility of 0.01 a year (against 0.17 for the factor), so the loading
# on the previous US session's SPY return is beta_m x 0.35 (or 0.5) x 0.17^2 / (0.17^2 +
# 0.01^2).  Measured against same-date SOXX (which carries the same day's US and
# semiconductor shocks, not the previous day's), that loading is all the lag can pick up.
ATTENUATION = 0.17**2 / (0.17**2 + PROFILE["SPY"][2] ** 2)
PLANTED = {
    "002371.SZ": PROFILE["002371.SZ"][0] * 0.35 * ATTENUATION,
    "0981.HK": PROFILE["0981.HK"][0] * 0.5 * ATTENUATION,
}
EST = (-1000, -11)


def _independent_fit(market, sym: str, day0: pd.Timestamp) -> tuple[float, float]:
    """OLS of the stock on [1, SOXX same date, SPY of the previous New York session] by
    statsmodels, with the lag built here from closes (not by backtest.returns)."""
    cal = {"002371.SZ": "XSHG", "0981.HK": "XHKG"}[sym]
    own = sessions(cal, "2019-01-02", "2024-06-28")
    r = market.panel.close(sym).reindex(own).pct_change()
    soxx = market.panel.close("SOXX").pct_change().reindex(own)
    spy = market.panel.close("SPY").pct_change().dropna()  # no gaps: every US session
    lag = pd.Series(
        [spy[spy.index < d].iloc[-1] if (spy.index < d).any() else np.nan for d in own],
        index=own,
    )
    pos = own.get_loc(day0)
    rows = own[pos + EST[0] : pos + EST[1] + 1]
    frame = pd.DataFrame({"y": r, "m": soxx, "lag": lag}).loc[rows].dropna()
    fit = sm.OLS(frame["y"], sm.add_constant(frame[["m", "lag"]])).fit()
    return float(fit.params["lag"]), float(fit.bse["lag"])


def test_the_study_recovers_the_planted_lag_loading(market):
    day0 = pd.Timestamp("2024-05-31")
    inst = pd.DataFrame(
        {"event_id": "e1", "security": list(PLANTED), "day0": day0, "group": "cn_substitute"}
    )
    inputs = study_inputs(market.panel, _universe("SOXX"), list(PLANTED), us_lag="SPY")
    spec = StudySpec(
        model="market",
        lagged_us=True,
        estimation=EST,
        windows=((0, 1),),
        min_estimation_obs=900,
        placebo_draws=0,
        mask_window=(0, -1),
    )
    res = run_study(inst, inputs.returns, inputs.market, spec)
    params = res.params.set_index("security")
    for sym, planted in PLANTED.items():
        beta, se = _independent_fit(market, sym, day0)
        got = params.loc[sym, f"beta_{US_LAG_COLUMN}"]
        assert got == pytest.approx(beta, rel=1e-9)  # the same OLS as statsmodels
        assert abs(got - planted) < 2.0 * se, (sym, got, planted, se)
        assert got / se > 4.0  # a lag misaligned by one session would find nothing
    # Without the option the same column is ignored and the fit has one slope fewer.
    plain = run_study(
        inst, inputs.returns, inputs.market, spec.model_copy(update={"lagged_us": False})
    )
    assert f"beta_{US_LAG_COLUMN}" not in plain.params.columns
    assert (plain.params["k"] == 2).all() and (res.params["k"] == 3).all()


def test_a_lag_one_session_off_finds_no_loading(market):
    """The alignment matters: SPY of the same New York date (which closes after the
    Asian session) carries none of the planted loading."""
    sym, day0 = "002371.SZ", pd.Timestamp("2024-05-31")
    own = sessions("XSHG", "2019-01-02", "2024-06-28")
    r = market.panel.close(sym).reindex(own).pct_change()
    soxx = market.panel.close("SOXX").pct_change().reindex(own)
    same_day = market.panel.close("SPY").pct_change().reindex(own)
    pos = own.get_loc(day0)
    rows = own[pos + EST[0] : pos + EST[1] + 1]
    frame = pd.DataFrame({"y": r, "m": soxx, "lag": same_day}).loc[rows].dropna()
    fit = sm.OLS(frame["y"], sm.add_constant(frame[["m", "lag"]])).fit()
    assert abs(fit.params["lag"] - PLANTED[sym]) > 3.0 * fit.bse["lag"]
