"""The yfinance adapter, without network: frames shaped like yfinance 1.x ``download``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataSourceUnavailable
from backtest.market import YahooSource, load_prices
from backtest.market.yahoo import split_download, to_bars
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent
FIELDS_AUTO = ["Close", "High", "Low", "Open", "Volume"]
FIELDS_RAW = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]


@pytest.fixture(scope="module")
def universe():
    return load_universe(REPO / "events" / "universe.yaml")


def _ticker_frame(dates: pd.DatetimeIndex, base: float, fields: list[str]) -> pd.DataFrame:
    n = len(dates)
    close = base + np.arange(n, dtype=float)
    cols = {
        "Open": close - 0.5,
        "High": close + 1,
        "Low": close - 1,
        "Close": close,
        "Adj Close": close * 0.9,
        "Volume": np.full(n, 1000.0),
    }
    f = pd.DataFrame({k: cols[k] for k in fields}, index=dates)
    f.index.name = "Date"
    return f


def _empty() -> pd.DataFrame:
    # yfinance.utils.empty_df: what a failed symbol contributes.
    e = pd.DataFrame(index=[], data={k: np.nan for k in FIELDS_RAW})
    e.index.name = "Date"
    return e


def fake_download(per_ticker: dict[str, pd.DataFrame | None], group_by: str = "column"):
    """Assemble like yfinance.multi.download: union index, concat, swap levels, sort."""
    dfs = {t: (f if f is not None else _empty()) for t, f in per_ticker.items()}
    idx = None
    for f in dfs.values():
        if not f.empty:
            idx = f.index if idx is None else idx.union(f.index)
    idx = idx if idx is not None else pd.DatetimeIndex([])
    dfs = {t: f.reindex(idx) for t, f in dfs.items()}
    data = pd.concat(dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"])
    if group_by == "column":
        data.columns = data.columns.swaplevel(0, 1)
        data = data.sort_index(level=0, axis=1)
    return data


US = pd.DatetimeIndex(["2025-04-14", "2025-04-15", "2025-04-16"])
HK = pd.DatetimeIndex(["2025-04-14", "2025-04-15", "2025-04-17"])


def test_multiindex_split_and_failed_symbol_is_all_nan():
    frame = fake_download(
        {
            "NVDA": _ticker_frame(US, 100, FIELDS_AUTO),
            "0981.HK": _ticker_frame(HK, 40, FIELDS_AUTO),
            "BAD": None,
        }
    )
    assert frame.columns.names == ["Price", "Ticker"]
    # a failed symbol is yfinance's empty_df: all-NaN fields, including 'Adj Close'
    assert frame[("Adj Close", "BAD")].isna().all() and ("Adj Close", "NVDA") not in frame
    parts = split_download(frame, ["NVDA", "0981.HK", "BAD"])
    nv = to_bars(parts["NVDA"], None)
    assert list(nv["close"]) == [100.0, 101.0, 102.0]  # union rows without data dropped
    assert list(nv.columns) == ["open", "high", "low", "close", "volume"]
    assert to_bars(parts["BAD"], None).empty
    # group_by='ticker' puts the ticker level first; same result.
    tk = split_download(
        fake_download({"NVDA": _ticker_frame(US, 100, FIELDS_AUTO)}, "ticker"), ["NVDA"]
    )
    assert list(to_bars(tk["NVDA"], None)["close"]) == [100.0, 101.0, 102.0]


def test_all_nan_adj_close_is_ignored():
    sub = _ticker_frame(US, 100, FIELDS_RAW)
    sub["Adj Close"] = np.nan
    for auto in (True, False):
        assert list(to_bars(sub, None, auto_adjust=auto)["close"]) == [100.0, 101.0, 102.0]


def test_auto_adjust_false_uses_adj_close_and_scales_ohlc():
    frame = fake_download({"NVDA": _ticker_frame(US, 100, FIELDS_RAW)})
    bars = to_bars(split_download(frame, ["NVDA"])["NVDA"], None, auto_adjust=False)
    assert list(bars["close"]) == pytest.approx([90.0, 90.9, 91.8])
    assert bars["open"].iloc[0] == pytest.approx(99.5 * 0.9)


def test_tz_aware_index_is_converted_to_the_exchange_date():
    # ignore_tz=False aligns all frames to the most common zone; HK midnight -> NY noon the
    # previous day.  Converting back to Asia/Hong_Kong recovers the HK session date.
    hk = _ticker_frame(HK.tz_localize("Asia/Hong_Kong"), 40, FIELDS_AUTO)
    hk.index = hk.index.tz_convert("America/New_York")
    bars = to_bars(hk, "Asia/Hong_Kong")
    assert list(bars.index.strftime("%Y-%m-%d")) == ["2025-04-14", "2025-04-15", "2025-04-17"]
    assert bars.index.tz is None


def test_fetch_batches_retries_and_records_failures(monkeypatch):
    import yfinance as yf

    calls: list[list[str]] = []
    data = {"NVDA": _ticker_frame(US, 100, FIELDS_AUTO), "AMD": _ticker_frame(US, 50, FIELDS_AUTO)}
    flaky = {"AMD": 1}

    def download(tickers, **kw):
        assert kw["auto_adjust"] is True and kw["progress"] is False
        calls.append(list(tickers))
        out = {}
        for t in tickers:
            if flaky.get(t, 0) > 0:
                flaky[t] -= 1
                out[t] = None
            else:
                out[t] = data.get(t)
        return fake_download(out)

    monkeypatch.setattr(yf, "download", download)
    sleeps: list[float] = []
    seen: list[tuple[int, int, str]] = []
    src = YahooSource(batch_size=2, retries=3, backoff=1.0, sleep=sleeps.append)
    res = src.fetch(["NVDA", "AMD", "ZZZZ"], progress=lambda d, t, s: seen.append((d, t, s)))
    assert set(res.series) == {"NVDA", "AMD"} and set(res.failures) == {"ZZZZ"}
    assert calls == [["NVDA", "AMD"], ["AMD"], ["ZZZZ"], ["ZZZZ"], ["ZZZZ"]]
    assert sleeps == [1.0, 1.0, 2.0]
    assert seen[-1] == (3, 3, "ZZZZ")
    meta = res.series["AMD"].meta
    assert meta.adjustment == "adjusted" and "auto_adjust=True" in meta.origin
    assert meta.rows == 3 and meta.first == "2025-04-14"


def test_exceptions_for_every_symbol_mean_unavailable(monkeypatch):
    import yfinance as yf

    def download(tickers, **kw):
        raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yf, "download", download)
    src = YahooSource(retries=2, sleep=lambda s: None)
    with pytest.raises(DataSourceUnavailable) as exc:
        src.fetch(["NVDA", "AMD"])
    msg = str(exc.value)
    assert "--demo" in msg and "--prices-dir" in msg and "resolve host" in msg


def test_unreachable_host_stops_at_once(monkeypatch):
    # DNS failure for the first batch: one download call, no backoff sleeps, and the
    # remaining batches are not tried, so `mib run` fails in seconds, not minutes.
    import yfinance as yf

    calls, sleeps = [], []

    def download(tickers, **kw):
        calls.append(list(tickers))
        raise ConnectionError(
            "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com"
        )

    monkeypatch.setattr(yf, "download", download)
    src = YahooSource(retries=3, batch_size=2, sleep=sleeps.append)
    with pytest.raises(DataSourceUnavailable, match="--prices-dir"):
        src.fetch(["NVDA", "AMD", "INTC", "MU"])
    assert calls == [["NVDA", "AMD"]] and sleeps == []


def test_empty_frames_for_every_symbol_mean_unavailable(monkeypatch):
    import yfinance as yf

    monkeypatch.setattr(yf, "download", lambda tickers, **kw: fake_download(dict.fromkeys(tickers)))
    with pytest.raises(DataSourceUnavailable):
        YahooSource(retries=1).fetch(["NVDA"])


def test_load_prices_yahoo_caches_then_serves_offline(monkeypatch, tmp_path, universe):
    import yfinance as yf

    calls: list[list[str]] = []

    def download(tickers, **kw):
        calls.append(list(tickers))
        return fake_download({t: _ticker_frame(US, 100, FIELDS_AUTO) for t in tickers})

    monkeypatch.setattr(yf, "download", download)
    p1 = load_prices("yahoo", ["NVDA", "SPY"], universe=universe, cache_dir=tmp_path)
    assert calls == [["NVDA", "SPY"]] and p1.meta["NVDA"].source == "yahoo"
    p2 = load_prices("yahoo", ["NVDA"], universe=universe, cache_dir=tmp_path)
    assert calls == [["NVDA", "SPY"]]  # served from the cache
    assert p2.meta["NVDA"].content_hash == p1.meta["NVDA"].content_hash

    def offline(tickers, **kw):
        raise OSError("network down")

    monkeypatch.setattr(yf, "download", offline)
    monkeypatch.setattr("time.sleep", lambda s: None)
    p3 = load_prices("cache", ["NVDA", "SPY"], universe=universe, cache_dir=tmp_path)
    assert p3.content_hash() == p1.content_hash()
    with pytest.raises(DataSourceUnavailable):
        load_prices("yahoo", ["NVDA"], universe=universe, cache_dir=tmp_path, refresh=True)


def test_cached_range_too_short_is_fetched_again(monkeypatch, tmp_path, universe):
    import yfinance as yf

    calls: list[tuple[list[str], str | None]] = []

    def download(tickers, **kw):
        calls.append((list(tickers), kw["start"]))
        return fake_download({t: _ticker_frame(US, 100, FIELDS_AUTO) for t in tickers})

    monkeypatch.setattr(yf, "download", download)
    load_prices("yahoo", ["NVDA"], universe=universe, cache_dir=tmp_path, start="2025-04-14")
    load_prices("yahoo", ["NVDA"], universe=universe, cache_dir=tmp_path, start="2025-04-10")
    assert len(calls) == 1  # within a week of holidays: cached
    p = load_prices(
        "yahoo",
        ["NVDA"],
        universe=universe,
        cache_dir=tmp_path,
        start="2024-01-01",
        end="2025-04-15",
    )
    assert calls[-1] == (["NVDA"], "2024-01-01") and len(calls) == 2
    assert list(p.bars["NVDA"].index.strftime("%m-%d")) == ["04-14", "04-15"]
