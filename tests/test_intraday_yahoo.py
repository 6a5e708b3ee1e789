"""yfinance intraday: look-back limits, and frames shaped like yfinance's (never the network)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataSourceUnavailable, SpecError
from backtest.intraday.yahoo import check_request, fetch_intraday, frame_to_bars

TODAY = dt.date(2025, 10, 10)


def _yf_frame(symbol: str, multi: bool = True) -> pd.DataFrame:
    """What yf.download(symbol, interval='5m', prepost=True, auto_adjust=False) returns."""
    idx = pd.DatetimeIndex(
        ["2025-10-09 19:55", "2025-10-10 04:00", "2025-10-10 09:30"], name="Datetime"
    ).tz_localize("America/New_York")
    data = {
        "Adj Close": [192.5, 192.72, 193.0],
        "Close": [192.5, 192.72, 193.0],
        "High": [192.6, 193.03, 193.5],
        "Low": [192.4, 192.38, 192.1],
        "Open": [192.45, 192.38, 192.9],
        "Volume": [0, 0, 1200000],
    }
    f = pd.DataFrame(data, index=idx)
    if multi:
        f.columns = pd.MultiIndex.from_product([list(data), [symbol]], names=["Price", "Ticker"])
    return f


@pytest.mark.parametrize(
    ("interval", "start", "ok"),
    [
        ("1m", "2025-09-10", True),
        ("1m", "2025-09-09", False),
        ("5m", "2025-08-11", True),
        ("5m", "2025-08-10", False),
        ("60m", "2023-10-11", True),
        ("60m", "2023-10-10", False),
    ],
)
def test_lookback_limits(interval: str, start: str, ok: bool) -> None:
    lo = dt.date.fromisoformat(start)
    hi = lo + dt.timedelta(days=6) if interval == "1m" else TODAY
    if ok:
        check_request(interval, lo, hi, TODAY)
    else:
        with pytest.raises(SpecError, match=f"keeps {interval} bars for the last"):
            check_request(interval, lo, hi, TODAY)


def test_one_minute_requests_are_at_most_seven_days() -> None:
    with pytest.raises(SpecError, match="at most 7 days"):
        check_request("1m", dt.date(2025, 10, 1), dt.date(2025, 10, 8), TODAY)
    with pytest.raises(SpecError, match="unsupported intraday interval"):
        check_request("2h", dt.date(2025, 10, 1), dt.date(2025, 10, 8), TODAY)


@pytest.mark.parametrize("multi", [True, False])
def test_yfinance_frames(multi: bool) -> None:
    fb = frame_to_bars(_yf_frame("NVDA", multi), "NVDA", "5m")
    assert pd.Timestamp(int(fb.utc_ns[1]), tz="UTC") == pd.Timestamp("2025-10-10 08:00", tz="UTC")
    assert fb.prices["close"].tolist() == [192.5, 192.72, 193.0]
    assert fb.prices["open"][2] == 192.9 and fb.bar_seconds == 300 and fb.rule.kind == "offset"


def test_fetch_tags_sessions_and_refuses_naive_or_empty() -> None:
    calls: list[tuple[str, str, str, str]] = []

    def fake(sym: str, interval: str, start: str, end: str) -> pd.DataFrame:
        calls.append((sym, interval, start, end))
        return _yf_frame(sym)

    got = fetch_intraday(
        ["NVDA"], interval="5m", start="2025-10-09", end="2025-10-10", today=TODAY, download=fake
    )
    s = got["NVDA"][0]
    assert calls == [("NVDA", "5m", "2025-10-09", "2025-10-11")]
    assert s.frame["session"].tolist() == ["post", "pre", "regular"] and s.label == "yahoo_5m"
    naive = _yf_frame("NVDA")
    naive.index = naive.index.tz_localize(None)
    with pytest.raises(DataSourceUnavailable, match="naive time stamps"):
        fetch_intraday(
            ["NVDA"],
            interval="5m",
            start="2025-10-09",
            end="2025-10-10",
            today=TODAY,
            download=lambda *a: naive,
        )
    with pytest.raises(DataSourceUnavailable, match="no 5m bars for NVDA"):
        fetch_intraday(
            ["NVDA"],
            interval="5m",
            start="2025-10-09",
            end="2025-10-10",
            today=TODAY,
            download=lambda *a: pd.DataFrame(),
        )

    def down(*a: str) -> pd.DataFrame:
        raise OSError("no route to host")

    with pytest.raises(DataSourceUnavailable, match="could not be reached for NVDA: no route"):
        fetch_intraday(
            ["NVDA"],
            interval="5m",
            start="2025-10-09",
            end="2025-10-10",
            today=TODAY,
            download=down,
        )
    assert np.isfinite(s.close).all()
