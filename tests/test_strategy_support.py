"""Builders shared by the strategy tests: a small universe, bars on real sessions, instances.

No tests here; imported by the ``test_strategy_*`` modules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.market.calendars import session_bounds, sessions
from backtest.market.panel import PricePanel, SeriesMeta, frame_hash
from backtest.universe import Security, Universe


def _sec(symbol: str, mic: str, currency: str, group: str, **kw: object) -> Security:
    return Security(symbol=symbol, name=symbol, mic=mic, currency=currency, group=group, **kw)  # type: ignore[arg-type]


UNIVERSE = Universe(
    securities=(
        _sec("NVDA", "XNAS", "USD", "us_incumbent", benchmarks=("SPY",)),
        _sec("AMD", "XNAS", "USD", "us_incumbent", benchmarks=("SPY",)),
        _sec("688981.SS", "XSHG", "CNY", "cn_substitute", board="star", benchmarks=("000300.SS",)),
        _sec("002371.SZ", "XSHE", "CNY", "cn_substitute", board="main", benchmarks=("000300.SS",)),
        _sec("0981.HK", "XHKG", "HKD", "cn_substitute", benchmarks=("^HSI",)),
        _sec("SPY", "ARCX", "USD", "benchmark", kind="etf"),
        _sec("000300.SS", "XSHG", "CNY", "benchmark", kind="index"),
        _sec("^HSI", "XHKG", "HKD", "benchmark", kind="index"),
    )
)


def calendar_of(symbol: str) -> str:
    return UNIVERSE[symbol].calendar


def session_dates(symbol: str, start: str, end: str) -> pd.DatetimeIndex:
    return sessions(calendar_of(symbol), start, end).rename("date")


def bars_from(
    dates: pd.DatetimeIndex,
    close: np.ndarray,
    open_: np.ndarray | None = None,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> pd.DataFrame:
    """Bars with the given prices; open defaults to the previous close, low/high to the range."""
    close = np.asarray(close, dtype=float)
    if open_ is None:
        open_ = np.concatenate([[close[0]], close[:-1]])
    open_ = np.asarray(open_, dtype=float)
    lo = np.fmin(open_, close) if low is None else np.asarray(low, dtype=float)
    hi = np.fmax(open_, close) if high is None else np.asarray(high, dtype=float)
    return pd.DataFrame(
        {"open": open_, "high": hi, "low": lo, "close": close, "volume": np.full(len(dates), 1e6)},
        index=dates.rename("date"),
    )


def random_bars(
    symbol: str, start: str, end: str, rng: np.random.Generator, vol: float = 0.02
) -> pd.DataFrame:
    dates = session_dates(symbol, start, end)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, vol, len(dates))))
    prev = np.concatenate([[50.0], close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, vol / 2, len(dates)))
    spread = np.abs(rng.normal(0.0, vol / 2, len(dates)))
    return bars_from(
        dates,
        close,
        open_,
        np.fmin(open_, close) * (1 - spread),
        np.fmax(open_, close) * (1 + spread),
    )


def make_panel(bars: dict[str, pd.DataFrame], synthetic: bool = True) -> PricePanel:
    meta = {
        s: SeriesMeta(
            symbol=s,
            source="synthetic",
            adjustment="adjusted",
            rows=len(b),
            content_hash=frame_hash(b),
        )
        for s, b in bars.items()
    }
    return PricePanel(bars=bars, meta=meta, synthetic=synthetic)


def day0(symbol: str, t: pd.Timestamp) -> pd.Timestamp:
    """First session of the symbol's exchange whose close is strictly after ``t``."""
    b = session_bounds(calendar_of(symbol))
    return b.index[int(np.searchsorted(b["close"].to_numpy(), t, side="right"))]


def instances(
    events: list[tuple[str, str, pd.Timestamp]],
    symbols: list[str] | tuple[str, ...],
    universe: Universe = UNIVERSE,
    event_type: str | None = None,
) -> pd.DataFrame:
    """One row per (event, security): events are (event_id, direction, knowable_at_utc)."""
    rows = []
    for event_id, direction, t in events:
        t = pd.Timestamp(t)
        for sym in symbols:
            sec = universe[sym]
            b = session_bounds(sec.calendar)
            d0 = b.index[int(np.searchsorted(b["close"].to_numpy(), t, side="right"))]
            rows.append(
                {
                    "event_id": event_id,
                    "stage": "announcement",
                    "security": sym,
                    "group": sec.group,
                    "exchange": sec.calendar,
                    "event_type": event_type or direction,
                    "direction": direction,
                    "expected_sign": 1,
                    "announced_at_utc": t,
                    "time_known": True,
                    "time_assumed": False,
                    "knowable_at_utc": t,
                    "day0": d0,
                }
            )
    return pd.DataFrame(rows)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
