"""CSV import: every shared file, every layout, and the errors users see."""

from __future__ import annotations

import re
from pathlib import Path

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError, InputFileError
from backtest.market import load_prices, read_price_csv
from backtest.market.layouts import parse_columns_option
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shared_prices() -> Path:
    d = REPO.parent / "shared" / "data" / "prices"
    if not d.is_dir():
        pytest.skip("../shared/data/prices not available")
    return d


@pytest.fixture(scope="module")
def universe():
    return load_universe(REPO / "events" / "universe.yaml")


@pytest.fixture(scope="module")
def provenance_rows(shared_prices: Path) -> list[tuple[str, int, str, str]]:
    """(path under data/, rows, first, last) from the PROVENANCE table (independent values)."""
    text = (shared_prices.parent / "PROVENANCE.md").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 9 and cells[1].startswith("prices/"):
            out.append((cells[1], int(cells[8]), cells[6], cells[7]))
    assert len(out) == 69
    return out


@pytest.fixture(scope="module")
def panel(shared_prices: Path, universe):
    return load_prices("csv", universe=universe, prices_dir=shared_prices)


def test_every_shared_file_reads_with_provenance_rows_and_range(shared_prices, provenance_rows):
    for rel, rows, first, last in provenance_rows:
        path = shared_prices.parent / rel
        raw = read_price_csv(path, path.stem)
        dups = sum(1 for i in raw.issues if i.check == "duplicate_date")
        assert raw.meta.rows + dups == rows, rel
        assert (raw.meta.first, raw.meta.last) == (first, last), rel
        assert raw.bars.index.is_monotonic_increasing and raw.bars.index.is_unique
        assert np.isfinite(raw.bars["close"].to_numpy()).all(), rel


def test_primary_files_load_into_the_panel(panel, provenance_rows):
    primary = {Path(rel).stem: rows for rel, rows, _, _ in provenance_rows
               if rel.count("/") == 1}
    name_of = {"^GSPC": "GSPC", "^IXIC": "IXIC", "^SOX": "SOX", "^NDX": "NDX", "^HSI": "HSI"}
    assert len(primary) == 36
    for sym in panel.symbols:
        meta = panel.meta[sym]
        expected = primary[name_of.get(sym, sym)]
        dropped = [n for n in panel.notes if n.startswith("[outside_calendar")
                   and f" {sym} " in n]
        if dropped:
            n = int(re.search(r": (\d+) rows", dropped[0]).group(1))
            expected -= n
        assert meta.rows == expected == len(panel.bars[sym]), sym
    assert len(panel.symbols) == 36
    missing = {n.split()[1] for n in panel.notes if n.startswith("[not_loaded")}
    assert missing == {"1347.HK", "000688.SS"}


@pytest.mark.parametrize(("symbol", "date", "pct"), [
    ("NVDA", "2025-04-16", -6.87), ("NVDA", "2025-01-27", -16.97), ("AMD", "2025-04-16", -7.35),
    ("SPY", "2025-04-16", -2.22), ("^GSPC", "2025-04-16", -2.24),
    ("0981.HK", "2020-12-04", -5.4), ("688256.SS", "2025-01-27", -6.7),
])
def test_close_to_close_returns_match_provenance(panel, symbol, date, pct):
    r = panel.returns(symbol).loc[date] * 100
    decimals = len(str(pct).split(".")[1])
    assert round(r, decimals) == pytest.approx(pct, abs=1e-9)


def test_nvda_return_on_h20_day_to_a_hundredth_of_a_point(panel):
    assert panel.returns("NVDA").loc["2025-04-16"] * 100 == pytest.approx(-6.87, abs=0.005)


@pytest.mark.parametrize(("symbol", "mic"), [("688256.SS", "XSHG"), ("0981.HK", "XHKG"),
                                             ("002371.SZ", "XSHG"), ("NVDA", "XNYS")])
def test_series_sit_on_their_own_exchange_sessions(panel, symbol, mic):
    cal = xc.get_calendar(mic, start="2005-01-03")
    idx = panel.bars[symbol].index
    assert all(cal.is_session(d) for d in idx)
    assert idx.tz is None and idx.name == "date"


def test_exchange_holidays_differ(panel):
    # Golden Week 2022: Shanghai shut 3-7 Oct, New York open; HK shut only on 4 Oct.
    sh = panel.bars["688256.SS"].index
    hk = panel.bars["0981.HK"].index
    us = panel.bars["NVDA"].index
    day = pd.Timestamp("2022-10-05")
    assert day not in sh and day in hk and day in us
    assert pd.Timestamp("2022-10-04") not in hk


def test_adjustment_basis_per_layout(panel):
    basis = {s: m.adjustment for s, m in panel.meta.items()}
    assert basis["NVDA"] == "adjusted" and basis["SPY"] == "adjusted"
    assert basis["688256.SS"] == "unadjusted"
    assert basis["^GSPC"] == "unadjusted" and "split-adjusted only" in panel.meta["^GSPC"].origin
    assert basis["BABA"] == "adjusted" and basis["0981.HK"] == "adjusted"
    assert basis["002371.SZ"] == "unknown"


def test_adj_close_becomes_close_and_scales_ohlc(shared_prices):
    raw = read_price_csv(shared_prices / "NVDA.csv", "NVDA").bars
    first = pd.read_csv(shared_prices / "NVDA.csv", nrows=1).iloc[0]
    factor = first["Adj Close"] / first["Close"]
    assert raw["close"].iloc[0] == first["Adj Close"]
    assert raw["open"].iloc[0] == pytest.approx(first["Open"] * factor, rel=1e-12)
    assert raw["volume"].iloc[0] == first["Volume"]


def test_supplementary_layouts(shared_prices):
    sup = shared_prices / "supplementary"
    desc = read_price_csv(sup / "a_share_SamLeon360" / "688256.SS.csv", "688256.SS")
    assert desc.meta.first == "2020-07-21" and "newest-first" in desc.meta.origin
    assert "volume" not in desc.bars  # the column holds turnover, not shares
    assert sum(i.check == "duplicate_date" for i in desc.issues) == 7
    qfq = read_price_csv(sup / "a_share_qfq_LYH-RAIN" / "688256.SS.csv", "688256.SS")
    assert qfq.meta.adjustment == "adjusted"
    assert qfq.bars["volume"].iloc[0] == pytest.approx(64398.2 * 100)
    assert qfq.bars["close"].iloc[0] == 134.9
    ibkr = read_price_csv(sup / "ohlcv_heliar-k" / "NVDA.csv", "NVDA")
    assert ibkr.meta.adjustment == "unadjusted"
    plain = read_price_csv(sup / "ohlcv_heliar-k" / "AMD.csv", "AMD")
    assert plain.meta.adjustment == "unknown"


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_chinese_headers_compact_dates_and_gb18030(tmp_path):
    text = "日期,开盘,收盘,最高,最低,成交量,振幅\n20240103,10,11,11.2,9.9,100,1\n" \
           "20240102,9.5,10,10.1,9.4,90,2\n"
    p = _write(tmp_path, "600000.SS.csv", text, encoding="gb18030")
    raw = read_price_csv(p, "600000.SS")
    assert list(raw.bars.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    assert list(raw.bars["close"]) == [10.0, 11.0]
    assert raw.meta.adjustment == "unknown"


def test_offset_timestamps_keep_the_local_date(tmp_path):
    text = ("Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
            "2024-01-02 00:00:00+08:00,1,1,1,1.5,10,0,0\n")
    raw = read_price_csv(_write(tmp_path, "X.csv", text), "X")
    assert raw.bars.index[0] == pd.Timestamp("2024-01-02")


def test_yfinance_multiheader_rows_are_skipped(tmp_path):
    text = ("Price,Adj Close,Close,High,Low,Open,Volume\nTicker,^NDX,^NDX,^NDX,^NDX,^NDX,^NDX\n"
            "Date,,,,,,\n2024-01-02,2,4,4,4,4,7\n")
    raw = read_price_csv(_write(tmp_path, "NDX.csv", text), "^NDX")
    assert raw.meta.rows == 1 and raw.bars["close"].iloc[0] == 2.0
    assert raw.bars["open"].iloc[0] == pytest.approx(2.0)


def test_unknown_layout_names_file_and_columns_and_mapping_fixes_it(tmp_path):
    p = _write(tmp_path, "NVDA.csv", "As Of,Px Settle\n2024-01-02,10\n2024-01-03,11\n")
    with pytest.raises(InputFileError) as exc:
        read_price_csv(p, "NVDA")
    msg = str(exc.value)
    assert str(p) in msg and "As Of" in msg and "Px Settle" in msg and "--columns" in msg
    raw = read_price_csv(p, "NVDA", columns=parse_columns_option("date=As Of,close=Px Settle"))
    assert list(raw.bars["close"]) == [10.0, 11.0] and raw.meta.adjustment == "unknown"


def test_bad_mapping_and_bad_option_are_refused(tmp_path):
    p = _write(tmp_path, "NVDA.csv", "As Of,Px Settle\n2024-01-02,10\n")
    with pytest.raises(InputFileError, match="not in the file"):
        read_price_csv(p, "NVDA", columns={"date": "As Of", "close": "Last"})
    with pytest.raises(InputFileError, match="malformed --columns"):
        parse_columns_option("date")


def test_non_numeric_value_names_line_and_column(tmp_path):
    p = _write(tmp_path, "X.csv", "Date,Close\n2024-01-02,10\n2024-01-03,abc\n")
    with pytest.raises(DataError) as exc:
        read_price_csv(p, "X")
    assert f"{p}:3" in str(exc.value) and "Close" in str(exc.value) and "'abc'" in str(exc.value)


def test_bad_date_names_the_line(tmp_path):
    p = _write(tmp_path, "X.csv", "Date,Close\n2024-01-02,10\n2024-13-45,11\n")
    with pytest.raises(DataError, match=r"X.csv:3: date: unparseable date"):
        read_price_csv(p, "X")


def test_conflicting_duplicates_raise_identical_ones_are_findings(tmp_path):
    p = _write(tmp_path, "X.csv", "Date,Close\n2024-01-02,10\n2024-01-02,10\n2024-01-03,11\n")
    raw = read_price_csv(p, "X")
    assert raw.meta.rows == 2
    assert [(i.date, i.check) for i in raw.issues] == [("2024-01-02", "duplicate_date")]
    with pytest.raises(DataError, match="duplicate date"):
        read_price_csv(p, "X", duplicates="raise")
    q = _write(tmp_path, "Y.csv", "Date,Close\n2024-01-02,10\n2024-01-02,12\n")
    with pytest.raises(DataError, match="different values"):
        read_price_csv(q, "Y")


def test_empty_close_is_a_finding_not_a_silent_drop(tmp_path):
    p = _write(tmp_path, "X.csv", "Date,Close\n2024-01-02,10\n2024-01-03,\n2024-01-04,null\n")
    raw = read_price_csv(p, "X")
    assert raw.meta.rows == 1
    assert [i.check for i in raw.issues] == ["missing_close", "missing_close"]


def test_non_session_rows_policy(tmp_path, universe):
    d = tmp_path / "px"
    d.mkdir()
    # 2024-01-06 is a Saturday.
    _write(d, "NVDA.csv", "Date,Close\n2024-01-05,10\n2024-01-06,11\n2024-01-08,12\n")
    p = load_prices("csv", ["NVDA"], universe=universe, prices_dir=d)
    assert list(p.bars["NVDA"].index.strftime("%d")) == ["05", "08"]
    assert any(n.startswith("[non_session:warning] NVDA 2024-01-06") for n in p.notes)
    kept = load_prices("csv", ["NVDA"], universe=universe, prices_dir=d, non_sessions="keep")
    assert len(kept.bars["NVDA"]) == 3
    with pytest.raises(DataError, match="not XNAS sessions"):
        load_prices("csv", ["NVDA"], universe=universe, prices_dir=d, non_sessions="raise")


def test_csv_source_errors(tmp_path, universe):
    with pytest.raises(DataError, match="no prices for NVDA"):
        load_prices("csv", ["NVDA"], universe=universe, prices_dir=tmp_path)
    _write(tmp_path, "AMD.csv", "Date,Close\n2024-01-05,10\n")
    p = load_prices("csv", ["NVDA", "AMD"], universe=universe, prices_dir=tmp_path)
    assert p.symbols == ("AMD",) and any(n.startswith("[not_loaded:warning] NVDA")
                                         for n in p.notes)
    with pytest.raises(DataError, match="no prices for NVDA"):
        load_prices("csv", ["NVDA", "AMD"], universe=universe, prices_dir=tmp_path,
                    missing="raise")
    with pytest.raises(InputFileError, match="--prices-dir"):
        load_prices("csv", ["NVDA"], universe=universe)
    with pytest.raises(DataError, match="not in the universe: ZZZZ"):
        load_prices("csv", ["ZZZZ"], universe=universe, prices_dir=tmp_path)


def test_start_end_clip_inclusive(shared_prices, universe):
    p = load_prices("csv", ["NVDA"], universe=universe, prices_dir=shared_prices,
                    start="2025-04-14", end="2025-04-17")
    assert list(p.bars["NVDA"].index.strftime("%m-%d")) == ["04-14", "04-15", "04-16", "04-17"]
    assert p.meta["NVDA"].rows == 4 and p.meta["NVDA"].first == "2025-04-14"


def test_a_data_row_without_a_date_is_an_error_not_a_header_row(tmp_path):
    p = _write(tmp_path, "X.csv", "Date,Close\n,10\n2024-01-03,11\n")
    with pytest.raises(DataError, match=r"X.csv:2: date: unparseable date"):
        read_price_csv(p, "X")


def test_no_rows_in_range_is_a_finding(shared_prices, universe):
    p = load_prices("csv", ["NVDA", "0700.HK"], universe=universe, prices_dir=shared_prices,
                    start="2026-01-02", end="2026-01-09")
    assert p.symbols == ("NVDA",)
    note = next(n for n in p.notes if n.startswith("[not_loaded:warning] 0700.HK"))
    assert "data 2020-01-02..2025-07-18" in note
