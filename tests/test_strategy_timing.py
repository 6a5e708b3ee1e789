"""Entry timing kernels: the first executable price after the news, on each exchange."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.strategy.points import clock
from backtest.strategy.timing import (
    CLOSE,
    OPEN,
    ExecutionPoints,
    find_entry,
    find_exit,
    intended_point,
)


def _entry(calendar: str, knowable: str, lag: int = 0) -> tuple[pd.Timestamp, str]:
    clk = clock(calendar)
    s, ns = intended_point(clk.open_ns, clk.close_ns, pd.Timestamp(knowable).value, lag)
    phase = "open" if ns == clk.open_ns[s] else "close"
    return clk.sessions[s], phase


@pytest.mark.parametrize(
    ("knowable", "session", "phase"),
    [
        ("2024-04-16 12:00Z", "2024-04-16", "open"),  # before the 13:30 UTC open
        ("2024-04-16 13:30Z", "2024-04-16", "close"),  # at the open instant: the open is not after
        ("2024-04-16 15:00Z", "2024-04-16", "close"),  # during the session
        ("2024-04-16 20:00Z", "2024-04-17", "open"),  # at the close instant: next open
        ("2024-04-19 21:00Z", "2024-04-22", "open"),  # Friday after the close: Monday open
    ],
)
def test_new_york_entry_phase(knowable, session, phase):
    assert _entry("XNYS", knowable) == (pd.Timestamp(session), phase)


def test_design_examples_across_markets():
    # NVDA's H20 8-K after the US close on 2025-04-15: next New York open; Shanghai's
    # 04-16 session opens at 01:30 UTC, after the filing: its open.
    assert _entry("XNAS", "2025-04-15 20:30Z") == (pd.Timestamp("2025-04-16"), "open")
    assert _entry("XSHG", "2025-04-15 20:30Z") == (pd.Timestamp("2025-04-16"), "open")
    # BIS rules during US trading on 2022-10-07: that close in New York; Shanghai is in
    # Golden Week, so the first price is the 2022-10-10 open.
    assert _entry("XNYS", "2022-10-07 16:00Z") == (pd.Timestamp("2022-10-07"), "close")
    assert _entry("XSHG", "2022-10-07 16:00Z") == (pd.Timestamp("2022-10-10"), "open")
    # A Sunday report: Monday open everywhere.
    for cal in ("XNYS", "XSHG", "XHKG"):
        assert _entry(cal, "2025-08-10 12:00Z") == (pd.Timestamp("2025-08-11"), "open")


def test_lag_moves_the_same_phase_by_whole_sessions():
    assert _entry("XNYS", "2024-04-16 15:00Z", lag=2) == (pd.Timestamp("2024-04-18"), "close")
    assert _entry("XNYS", "2024-04-19 21:00Z", lag=1) == (pd.Timestamp("2024-04-23"), "open")


def _points(prices, sessions, phases, *, up=(), down=(), t1=False, low=None):
    m = len(prices)
    ub, db = np.zeros(m, bool), np.zeros(m, bool)
    ub[list(up)], db[list(down)] = True, True
    return ExecutionPoints(
        instant=np.arange(m, dtype=np.int64) * 10 + 10,
        price=np.asarray(prices, float),
        session=np.asarray(sessions, np.int64),
        phase=np.asarray(phases, np.int64),
        low=np.full(m, np.nan) if low is None else np.asarray(low, float),
        high=np.full(m, np.nan),
        buy_blocked=ub,
        sell_blocked=db,
        t_plus_one=t1,
    )


# Sessions 0, 1, 3 have bars (2 is suspended); each has an open and a close point.
PTS = dict(prices=[10, 11, 12, 13, 14, 15], sessions=[0, 0, 1, 1, 3, 3], phases=[OPEN, CLOSE] * 3)


def test_find_entry_waits_past_blocks_and_counts_sessions():
    pts = _points(**PTS, up=(2, 3))
    fill = find_entry(pts, 25, 1, buy=True, max_wait=5)  # target: session 1's open
    assert (fill.point, fill.delay, fill.waits) == (4, 2, ("limit_up",))
    # selling is not blocked by a limit-up
    assert find_entry(pts, 25, 1, buy=False, max_wait=5).point == 2
    assert find_entry(pts, 25, 1, buy=True, max_wait=1).outcome == "entry_wait_exceeded"
    assert find_entry(pts, 999, 4, buy=True, max_wait=5).outcome == "no_price_after_news"


def test_find_exit_marks_the_last_price_when_data_end_first():
    pts = _points(**PTS)
    fill = find_exit(
        pts, 0, 10.0, 1, target_ns=np.iinfo(np.int64).max, target_session=-1, stop=None
    )
    assert (fill.point, fill.outcome) == (5, "end_of_data")


def test_stop_gapping_through_at_an_open_fills_at_the_open():
    pts = _points([10, 10, 8, 9, 9, 9], [0, 0, 1, 1, 2, 2], [OPEN, CLOSE] * 3)
    fill = find_exit(pts, 0, 10.0, 1, target_ns=55, target_session=2, stop=0.05)
    assert (fill.point, fill.price, fill.outcome) == (2, 8.0, "stop")
    short = find_exit(pts, 0, 10.0, -1, target_ns=55, target_session=2, stop=0.05)
    assert (short.point, short.outcome) == (5, "hold")  # a fall never stops a short
