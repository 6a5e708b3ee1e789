"""Execution points from a security's bars: the one step that turns pandas into arrays.

The open of a bar is stamped with its session's open instant and the close
with its close instant (UTC, from exchange_calendars).  A-share stocks (not
indices, which stand in for index futures) get T+1 and the board's daily
price limit, judged against the previous bar's close.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from backtest.errors import DataError
from backtest.strategy.timing import CLOSE, OPEN, ExecutionPoints, IntArray

if TYPE_CHECKING:
    import pandas as pd

    from backtest.strategy.spec import StrategySpec
    from backtest.universe import Security


@dataclass(frozen=True, slots=True)
class Clock:
    """Sessions of one exchange calendar: labels and UTC open/close nanoseconds.

    ``labels``: the session labels as Timestamps (``sessions[i]`` without boxing one
    per plan row)."""

    name: str
    sessions: pd.DatetimeIndex
    open_ns: IntArray
    close_ns: IntArray
    labels: tuple[pd.Timestamp, ...]


@lru_cache(maxsize=16)
def clock(calendar: str) -> Clock:
    """The :class:`Clock` of an exchange_calendars calendar (made once per process: a
    venue asks again for calendars it does not hold, such as a benchmark's, and the
    session labels alone take about 0.1 s to box)."""
    import pandas as pd

    from backtest.market.calendars import session_bounds

    b = session_bounds(calendar)
    sessions = pd.DatetimeIndex(b.index)
    return Clock(
        name=calendar,
        sessions=sessions,
        open_ns=pd.DatetimeIndex(b["open"]).as_unit("ns").asi8.astype(np.int64),
        close_ns=pd.DatetimeIndex(b["close"]).as_unit("ns").asi8.astype(np.int64),
        labels=tuple(sessions),
    )


def venue_rules(sec: Security) -> tuple[bool, float | None]:
    """(T+1, daily limit) of a security: A-share stocks and ETFs only; indices trade freely."""
    if not sec.is_a_share or sec.kind == "index":
        return False, None
    return True, sec.price_limit


def _column(bars: pd.DataFrame, name: str) -> np.ndarray:
    if name not in bars.columns:
        return np.full(len(bars), np.nan)
    return np.asarray(bars[name].to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def build_points(
    sec: Security, bars: pd.DataFrame, clk: Clock, spec: StrategySpec
) -> ExecutionPoints:
    """Execution points of one security (see :class:`ExecutionPoints`)."""
    pos = clk.sessions.get_indexer(bars.index)
    if (pos < 0).any():
        bad = bars.index[pos < 0][0]
        raise DataError(
            "bar on a date that is not a session of its exchange",
            field=f"bars[{sec.symbol}]",
            value=f"{bad:%Y-%m-%d}",
            expected=f"a {clk.name} session",
        )
    o, c = _column(bars, "open"), _column(bars, "close")
    if spec.missing_open == "refuse" and not np.isfinite(o).all():
        raise DataError(
            "bars without an open price and missing_open='refuse'",
            field=f"bars[{sec.symbol}].open",
            value=int((~np.isfinite(o)).sum()),
            expected="an open on every bar, or missing_open='use_close'",
        )
    lo, hi = _column(bars, "low"), _column(bars, "high")
    t1, limit = venue_rules(sec)
    prev = np.concatenate([[np.nan], c[:-1]])
    up = np.zeros((len(bars), 2), dtype=bool)
    down = np.zeros((len(bars), 2), dtype=bool)
    if limit is not None:
        tol = spec.limit_tolerance
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = np.column_stack([o / prev - 1.0, c / prev - 1.0])
        up = np.nan_to_num(ret, nan=0.0) >= limit - tol
        down = np.nan_to_num(ret, nan=0.0) <= -limit + tol
    n = len(bars)
    instant = np.column_stack([clk.open_ns[pos], clk.close_ns[pos]]).ravel()
    price = np.column_stack([o, c]).ravel()
    keep = np.isfinite(price) & (price > 0)
    return ExecutionPoints(
        instant=instant[keep],
        price=price[keep],
        session=np.repeat(pos.astype(np.int64), 2)[keep],
        phase=np.tile(np.array([OPEN, CLOSE], dtype=np.int64), n)[keep],
        low=np.repeat(lo, 2)[keep],
        high=np.repeat(hi, 2)[keep],
        buy_blocked=up.ravel()[keep],
        sell_blocked=down.ravel()[keep],
        t_plus_one=t1,
    )
