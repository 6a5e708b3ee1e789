"""Intraday bars from Yahoo Finance through yfinance, with its look-back limits enforced.

Yahoo serves intraday bars only for recent dates; yfinance documents the limits of
``download``/``history`` (the ``interval`` parameter's notes): **1m** data for the last
30 days, at most 7 days per request; **2m to 90m** (here 5m) for the last 60 days;
**60m/1h** for the last 730 days.  A request outside them is refused here with one line
naming the interval, the start asked for and the earliest start allowed, instead of
an empty frame from Yahoo.

Bars are requested with ``prepost=True`` (pre- and post-market) and ``auto_adjust=False``;
yfinance returns a frame indexed by tz-aware ``Datetime`` (the exchange's zone), so the
time-zone rule is ``offset``; a frame with a naive index is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backtest.errors import DataSourceUnavailable, SpecError
from backtest.intraday.layouts import FileBars
from backtest.intraday.series import BarSet, build_series
from backtest.intraday.sessions import calendar_for
from backtest.intraday.timezones import TzRule

if TYPE_CHECKING:
    import pandas as pd

# interval -> (days back from today that Yahoo serves, most days per request or None)
LOOKBACK_DAYS: dict[str, tuple[int, int | None]] = {
    "1m": (30, 7),
    "5m": (60, None),
    "60m": (730, None),
}
Downloader = Callable[[str, str, str, str], "pd.DataFrame"]


def check_request(interval: str, start: dt.date, end: dt.date, today: dt.date) -> None:
    """Refuse an interval Yahoo does not serve that far back, or a too-long 1m request."""
    if interval not in LOOKBACK_DAYS:
        raise SpecError(
            "unsupported intraday interval",
            field="--interval",
            value=interval,
            expected=" | ".join(LOOKBACK_DAYS),
        )
    days, per_request = LOOKBACK_DAYS[interval]
    earliest = today - dt.timedelta(days=days)
    if start < earliest:
        raise SpecError(
            f"Yahoo keeps {interval} bars for the last {days} days only",
            field="--start",
            value=start.isoformat(),
            expected=f"{earliest.isoformat()} or later for --interval {interval}",
        )
    if end < start:
        raise SpecError("--end is before --start", field="--end", value=end.isoformat())
    if per_request is not None and (end - start).days + 1 > per_request:
        raise SpecError(
            f"Yahoo serves at most {per_request} days of {interval} bars per request",
            field="--end",
            value=end.isoformat(),
            expected=f"at most {(start + dt.timedelta(days=per_request - 1)).isoformat()}",
        )


def frame_to_bars(frame: pd.DataFrame, symbol: str, interval: str) -> FileBars:
    """A yfinance frame (flat or (Price, Ticker) columns, tz-aware index) as bars."""
    import pandas as pd

    f = frame
    if isinstance(f.columns, pd.MultiIndex):
        level = next(
            (i for i in range(f.columns.nlevels) if symbol in f.columns.get_level_values(i)), None
        )
        if level is None:
            raise DataSourceUnavailable(f"yfinance returned no columns for {symbol}", field=symbol)
        f = f.xs(symbol, axis=1, level=level)
    idx = pd.DatetimeIndex(f.index)
    if idx.tz is None:
        raise DataSourceUnavailable(
            "yfinance returned naive time stamps; refusing to guess their zone", field=symbol
        )
    cols = {str(c).lower(): c for c in f.columns}
    if "close" not in cols:
        raise DataSourceUnavailable(
            f"yfinance returned no Close for {symbol}", field=symbol, value=list(f.columns)
        )
    prices = {
        c: f[cols[c]].to_numpy(dtype=np.float64) if c in cols else np.full(len(f), np.nan)
        for c in ("open", "high", "low", "close", "volume")
    }
    keep = np.isfinite(prices["close"])
    utc = idx.tz_convert("UTC").as_unit("ns").asi8.astype(np.int64)[keep]
    step = {"1m": 60, "5m": 300, "60m": 3600}[interval]
    rule = TzRule(
        "offset", "", f"yfinance {interval} prepost=True: tz-aware index ({idx.tz}) used as given"
    )
    return FileBars(
        symbol,
        Path(f"yfinance:{symbol}:{interval}"),
        "bars",
        rule,
        utc,
        step,
        {k: v[keep] for k, v in prices.items()},
    )


def _yfinance_download(symbol: str, interval: str, start: str, end: str) -> pd.DataFrame:
    import yfinance as yf

    out: pd.DataFrame = yf.download(
        symbol,
        interval=interval,
        start=start,
        end=end,
        prepost=True,
        auto_adjust=False,
        progress=False,
    )
    return out


def fetch_intraday(
    symbols: Sequence[str],
    *,
    interval: str,
    start: str | None,
    end: str | None,
    today: dt.date,
    download: Downloader | None = None,
) -> BarSet:
    """Each symbol's bars as one series labelled ``yahoo_<interval>``; limits checked first."""
    from backtest.pipeline import parse_day

    days = LOOKBACK_DAYS.get(interval, (0, None))[0]
    lo = parse_day(start, "--start") if start else today - dt.timedelta(days=min(days, 7) - 1)
    hi = parse_day(end, "--end") if end else today
    check_request(interval, lo, hi, today)
    get = download or _yfinance_download
    series = {}
    for sym in symbols:
        try:
            frame = get(sym, interval, lo.isoformat(), (hi + dt.timedelta(days=1)).isoformat())
        except Exception as exc:  # yfinance raises many types for network trouble
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataSourceUnavailable(
                f"Yahoo Finance could not be reached for {sym}: {why}",
                expected="a network connection, or intraday files with 'mib data import-bars DIR'",
            ) from None
        if frame is None or frame.empty:
            raise DataSourceUnavailable(
                f"Yahoo Finance returned no {interval} bars for {sym}",
                field=sym,
                expected="a symbol Yahoo knows and dates with trading",
            )
        fb = frame_to_bars(frame, sym, interval)
        series[sym] = (build_series(sym, calendar_for(sym), [fb], f"yahoo_{interval}"),)
    return BarSet(series)
