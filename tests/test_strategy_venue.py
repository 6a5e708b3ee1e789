"""Acceptance: A-share venue rules (limit-up entry, T+1 exit, suspension, limit-down exit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError
from backtest.strategy import StrategyError, StrategySpec, prepare, run_backtest
from backtest.strategy.plan import make_plan

try:
    from test_strategy_support import UNIVERSE, bars_from, instances, make_panel, session_dates, utc
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.test_strategy_support import (
        UNIVERSE,
        bars_from,
        instances,
        make_panel,
        session_dates,
        utc,
    )

NEWS = utc("2024-04-10 12:00")  # after Shanghai's close on 04-10: first price is the 04-11 open
DAY0 = "2024-04-11"
LONG = StrategySpec(strategy="long_substitutes", hold=3)


def _bars(
    symbol: str,
    *,
    ret: dict[str, float] | None = None,
    gap: dict[str, float] | None = None,
    low: dict[str, float] | None = None,
    drop: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Bars with a 0.5 % daily rise; ``ret``/``gap`` set a session's close/open return against
    the previous close, ``low`` its low as a fraction of its open; ``drop`` suspends sessions."""
    dates = session_dates(symbol, "2024-03-20", "2024-05-10")
    r = pd.Series(0.005, index=dates)
    g = pd.Series(0.0025, index=dates)
    for d, v in (ret or {}).items():
        r[pd.Timestamp(d)] = v
    for d, v in (gap or {}).items():
        g[pd.Timestamp(d)] = v
    close = 40.0 * np.cumprod(1.0 + r.to_numpy())
    prev = np.concatenate([[40.0], close[:-1]])
    open_ = prev * (1.0 + g.to_numpy())
    lo = np.fmin(open_, close)
    for d, v in (low or {}).items():
        k = dates.get_loc(pd.Timestamp(d))
        lo[k] = open_[k] * v
    frame = bars_from(dates, close, open_, lo, np.fmax(open_, close))
    return frame.drop(index=pd.DatetimeIndex(list(drop)))


def _run(symbol: str, bars: pd.DataFrame, spec: StrategySpec = LONG, direction="tightening"):
    panel = make_panel({symbol: bars})
    return run_backtest(panel, instances([("ev", direction, NEWS)], [symbol]), UNIVERSE, spec)


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_unblocked_a_share_enters_at_the_first_open_after_the_news():
    t = _run("688981.SS", _bars("688981.SS")).trades.iloc[0]
    assert (t["entry_date"], t["entry_phase"], t["entry_delay"]) == (pd.Timestamp(DAY0), "open", 0)
    assert t["exit_date"] == pd.Timestamp("2024-04-16") and t["exit_reason"] == "hold"


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_limit_up_entry_day_delays_the_entry_to_the_next_session():
    bars = _bars("688981.SS", ret={DAY0: 0.20}, gap={DAY0: 0.20})  # STAR: locked at +20 %
    t = _run("688981.SS", bars).trades.iloc[0]
    assert (t["entry_date"], t["entry_phase"]) == (pd.Timestamp("2024-04-12"), "open")
    assert t["entry_delay"] == 1 and t["entry_waits"] == "limit_up"
    assert t["entry_price"] == pytest.approx(bars.loc["2024-04-12", "open"])
    # the hold counts from the actual entry session
    assert t["exit_date"] == pd.Timestamp("2024-04-17")


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_main_board_limit_is_ten_percent_within_the_tolerance():
    locked = _bars("002371.SZ", ret={DAY0: 0.0995}, gap={DAY0: 0.0995})
    assert _run("002371.SZ", locked).trades.iloc[0]["entry_waits"] == "limit_up"
    free = _bars("002371.SZ", ret={DAY0: 0.098}, gap={DAY0: 0.098})
    assert _run("002371.SZ", free).trades.iloc[0]["entry_delay"] == 0


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_entry_blocked_longer_than_max_wait_is_skipped_and_listed():
    days = session_dates("688981.SS", DAY0, "2024-04-22")
    locked = {f"{d:%Y-%m-%d}": 0.20 for d in days}
    bars = _bars("688981.SS", ret=locked, gap=locked)
    res_wait = _run(
        "688981.SS", bars, StrategySpec(strategy="long_substitutes", max_entry_wait=len(days))
    )
    assert res_wait.trades.iloc[0]["entry_delay"] == len(days)
    with pytest.raises(StrategyError, match="nothing to trade"):
        _run("688981.SS", bars)
    prep = prepare(
        make_panel({"688981.SS": bars}),
        instances([("ev", "tightening", NEWS)], ["688981.SS"]),
        UNIVERSE,
        LONG,
    )
    _, dropped = make_plan(prep.venue, prep.legs)
    assert dropped["reason"].tolist() == ["entry_wait_exceeded"]


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_stop_hit_on_the_entry_session_exits_next_session_under_t_plus_one():
    spec = StrategySpec(strategy="long_substitutes", hold=3, stop_loss=0.05)
    bars = _bars("688981.SS", low={DAY0: 0.90})  # trades 10 % below the open on the entry day
    t = _run("688981.SS", bars, spec).trades.iloc[0]
    assert t["entry_date"] == pd.Timestamp(DAY0)
    assert (t["exit_reason"], t["exit_waits"]) == ("stop", "t_plus_one")
    assert (t["exit_date"], t["exit_phase"]) == (pd.Timestamp("2024-04-12"), "open")
    assert t["exit_price"] == pytest.approx(bars.loc["2024-04-12", "open"])


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_us_stop_fills_at_the_level_on_the_entry_session():
    spec = StrategySpec(strategy="short_incumbents", hold=3, stop_loss=0.05)
    bars = _bars("NVDA", low={"2024-04-10": 0.90})
    t = _run("NVDA", bars, spec, direction="easing").trades.iloc[0]  # easing -> long NVDA
    assert (t["entry_date"], t["entry_phase"]) == (pd.Timestamp("2024-04-10"), "open")
    assert (t["exit_reason"], t["exit_waits"]) == ("stop", "")
    assert t["exit_date"] == pd.Timestamp("2024-04-10")
    assert t["exit_price"] == pytest.approx(0.95 * t["entry_price"], rel=1e-12)


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_suspended_entry_session_moves_the_entry_to_the_next_bar():
    t = _run("688981.SS", _bars("688981.SS", drop=(DAY0,))).trades.iloc[0]
    assert (t["entry_date"], t["entry_phase"]) == (pd.Timestamp("2024-04-12"), "open")
    assert (t["entry_delay"], t["entry_waits"]) == (1, "suspended")


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_suspended_exit_session_exits_at_the_next_price():
    t = _run("688981.SS", _bars("688981.SS", drop=("2024-04-16",))).trades.iloc[0]
    assert (t["exit_date"], t["exit_phase"]) == (pd.Timestamp("2024-04-17"), "open")
    assert (t["exit_delay"], t["exit_waits"], t["exit_reason"]) == (1, "suspended", "hold")


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_limit_down_exit_session_waits_for_the_next_session():
    bars = _bars("688981.SS", ret={"2024-04-16": -0.20})
    t = _run("688981.SS", bars).trades.iloc[0]
    assert (t["exit_date"], t["exit_phase"]) == (pd.Timestamp("2024-04-17"), "open")
    assert (t["exit_delay"], t["exit_waits"]) == (1, "limit_down")


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_us_listing_has_no_price_limit_or_t_plus_one():
    bars = _bars("NVDA", ret={"2024-04-10": 0.30}, gap={"2024-04-10": 0.30})
    t = _run("NVDA", bars, StrategySpec(strategy="short_incumbents"), "easing").trades.iloc[0]
    assert (t["entry_date"], t["entry_delay"]) == (pd.Timestamp("2024-04-10"), 0)


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_close_only_bars_enter_at_the_first_close_after_the_news():
    bars = _bars("0981.HK").assign(open=np.nan)
    res = _run("0981.HK", bars)
    t = res.trades.iloc[0]
    # Hong Kong closed at 08:00 UTC on 04-10, before the news: the 04-11 close, not its open
    assert (t["entry_date"], t["entry_phase"], t["entry_delay"]) == (pd.Timestamp(DAY0), "close", 0)
    assert "that session's close" in res.policies["entry"]
    with pytest.raises(DataError, match="missing_open"):
        _run("0981.HK", bars, StrategySpec(strategy="long_substitutes", missing_open="refuse"))
