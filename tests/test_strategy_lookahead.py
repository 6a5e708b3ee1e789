"""Acceptance (property): no trade ever enters at a price set before the news was knowable.

Random catalogs (times anywhere, including exactly at opens and closes, weekends
and holidays), random strategies, lags and hedges, on bars with random
suspensions, missing opens and limit-up sessions.  Every trade's entry price
must be the open or close of a bar whose instant on its own exchange is
strictly after ``knowable_at_utc``; undelayed entries must be the *first*
such price (after the lag); A-share stocks never exit on the entry session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backtest.market.calendars import session_bounds
from backtest.strategy import STRATEGIES, StrategyError, StrategySpec, run_backtest

try:
    from test_strategy_support import UNIVERSE, instances, make_panel, random_bars
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.test_strategy_support import UNIVERSE, instances, make_panel, random_bars

SYMBOLS = ("NVDA", "AMD", "688981.SS", "002371.SZ", "0981.HK")
BASE = {
    s.symbol: random_bars(s.symbol, "2023-12-01", "2024-09-30", np.random.default_rng(i), vol=0.03)
    for i, s in enumerate(UNIVERSE.securities)
}
LO, HI = pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-07-31", tz="UTC")
BOUNDS = {
    cal: session_bounds(cal).loc["2024-01-02":"2024-07-31"] for cal in ("XNYS", "XSHG", "XHKG")
}


@st.composite
def knowable_times(draw) -> pd.Timestamp:
    if draw(st.booleans()):
        secs = draw(st.integers(0, int((HI - LO).total_seconds())))
        return LO + pd.Timedelta(seconds=secs)
    bounds = BOUNDS[draw(st.sampled_from(sorted(BOUNDS)))]
    k = draw(st.integers(0, len(bounds) - 1))
    edge = bounds.iloc[k][draw(st.sampled_from(["open", "close"]))]
    return edge + pd.Timedelta(nanoseconds=draw(st.sampled_from([-1, 0, 1])))


@st.composite
def perturbed_panel(draw):
    """Suspensions (dropped bars), missing opens and limit-up opens on the base bars."""
    bars = {}
    for sym, frame in BASE.items():
        f = frame.copy()
        n = len(f)
        if UNIVERSE[sym].is_a_share and UNIVERSE[sym].kind == "stock":
            ups = draw(st.lists(st.integers(1, n - 1), max_size=15))
            prev = f["close"].shift(1).to_numpy()
            for i in ups:
                f.iloc[i, f.columns.get_loc("open")] = prev[i] * (1 + UNIVERSE[sym].price_limit)
        nan_open = draw(st.lists(st.integers(0, n - 1), max_size=15))
        f.iloc[nan_open, f.columns.get_loc("open")] = np.nan
        drop = draw(st.lists(st.integers(1, n - 1), max_size=10, unique=True))
        bars[sym] = f.drop(index=f.index[drop])
    return make_panel(bars)


def _ideal(sym: str, t: pd.Timestamp, lag: int, bars: pd.DataFrame) -> tuple[pd.Timestamp, str]:
    """The first price after ``t`` (plus lag) by a direct reading of the rule."""
    b = session_bounds(UNIVERSE[sym].calendar)
    after = b[b["close"] > t]
    phase = "open" if after["open"].iloc[0] > t else "close"
    session = after.index[lag]
    if phase == "open" and not np.isfinite(bars.loc[session, "open"]):
        phase = "close"
    return session, phase


def _check_trade(tr, panel, spec) -> None:
    sec = UNIVERSE[tr.security]
    bounds = session_bounds(sec.calendar)
    bar = panel.bars[tr.security].loc[tr.entry_date]
    # the entry price is a price of that bar, set at that session's open or close instant
    assert tr.entry_price == bar[tr.entry_phase]
    assert tr.entry_time == bounds.loc[tr.entry_date, tr.entry_phase]
    assert tr.entry_time > tr.knowable_at_utc, (tr.security, tr.knowable_at_utc, tr.entry_time)
    assert tr.exit_time > tr.entry_time
    assert tr.exit_time == bounds.loc[tr.exit_date, tr.exit_phase]
    if sec.is_a_share and sec.kind == "stock":
        assert tr.exit_date > tr.entry_date  # T+1
    if tr.role == "signal" and tr.entry_delay == 0 and tr.entry_waits == "":
        ideal = _ideal(tr.security, tr.knowable_at_utc, spec.entry_lag, panel.bars[tr.security])
        assert (tr.entry_date, tr.entry_phase) == ideal


EDGES = [
    pd.Timestamp("2024-04-16 13:30", tz="UTC"),  # exactly the New York open
    pd.Timestamp("2024-04-16 01:30", tz="UTC"),  # exactly the Shanghai open
    pd.Timestamp("2024-04-16 08:00", tz="UTC"),  # exactly the Hong Kong close
    pd.Timestamp("2024-04-16 20:00", tz="UTC"),
]  # exactly the New York close


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    times=st.lists(knowable_times(), min_size=1, max_size=5),
    directions=st.lists(st.sampled_from(["tightening", "easing"]), min_size=5, max_size=5),
    strategy=st.sampled_from(STRATEGIES),
    hedge=st.booleans(),
    lag=st.integers(0, 2),
    hold=st.integers(1, 5),
    panel=perturbed_panel(),
)
@example(
    times=EDGES,
    directions=["tightening"] * 5,
    strategy="substitution_spread",
    hedge=True,
    lag=0,
    hold=1,
    panel=make_panel(BASE),
)
@example(
    times=EDGES,
    directions=["easing"] * 5,
    strategy="short_incumbents",
    hedge=False,
    lag=1,
    hold=2,
    panel=make_panel(BASE),
)
def test_no_trade_enters_before_the_news_is_knowable(
    times, directions, strategy, hedge, lag, hold, panel
):
    events = [(f"ev-{k}", directions[k], t) for k, t in enumerate(times)]
    spec = StrategySpec(strategy=strategy, hedge=hedge, entry_lag=lag, hold=hold, leg_fraction=0.02)
    try:
        res = run_backtest(panel, instances(events, SYMBOLS), UNIVERSE, spec)
    except StrategyError:
        return  # nothing tradable in this catalog: nothing can look ahead
    assert len(res.trades) > 0
    for tr in res.trades.itertuples(index=False):
        _check_trade(tr, panel, spec)
