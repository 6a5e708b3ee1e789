"""CSV import: every shared file, every layout, and the errors users see."""

from __future__ import annotations

from pathlib import Path

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

from backtest.errors import DataError, InputFileError
from backtest.market import load_prices, read_price_csv
from backtest.market.layouts import parse_columns_option
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent
SUPERSEDED = "supplementary/superseded_primary_2026-11"


def _shared_prices_or_skip() -> Path:
    """../shared/data/prices (fails under CI=true when absent, skips elsewhere)."""
    return require_shared(REPO.parent / "shared" / "data" / "prices")


@pytest.fixture(scope="module")
def shared_prices() -> Path:
    return _shared_prices_or_skip()


@pytest.fixture(scope="module")
def universe():
    return load_universe(REPO / "events" / "universe.yaml")


@pytest.fixture(scope="module")
def provenance_rows(shared_prices: Path) -> list[tuple[str, int, str, str, str]]:
    """(path under data/, rows, first, last, adjustment) from PROVENANCE's tables.

    Two tables list prices/ files: the update of 2026-11-30 (24 rows) and the
    original table (69 rows), whose rows for the replaced Chinese-side files now
    name them at their new path under supplementary/superseded_primary_2026-11/.
    """
    text = (shared_prices.parent / "PROVENANCE.md").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 10 and cells[1].startswith("prices/"):
            out.append((cells[1], int(cells[8]), cells[6], cells[7], cells[10]))
    assert len(out) == 93
    on_disk = {str(p.relative_to(shared_prices.parent)) for p in shared_prices.rglob("*.csv")}
    assert {r[0] for r in out} == on_disk  # every file listed once, every listed file there
    return out


@pytest.fixture(scope="module")
def panel(shared_prices: Path, universe):
    return load_prices("csv", universe=universe, prices_dir=shared_prices)


def _all_nan_rows(adjustment: str) -> int:
    """Rows PROVENANCE says are all-NaN ('two all-NaN rows in Dec 2011'); they are dropped."""
    return 2 if "two all-NaN rows" in adjustment else 0


@pytest.mark.slow
def test_every_shared_file_reads_with_provenance_rows_and_range(shared_prices, provenance_rows):
    for rel, rows, first, last, adjustment in provenance_rows:
        path = shared_prices.parent / rel
        raw = read_price_csv(path, path.stem)
        dups = sum(1 for i in raw.issues if i.check == "duplicate_date")
        empty = sum(1 for i in raw.issues if i.check == "missing_close")
        assert empty == _all_nan_rows(adjustment), rel
        assert raw.meta.rows + dups + empty == rows, rel
        assert (raw.meta.first, raw.meta.last) == (first, last), rel
        assert raw.bars.index.is_monotonic_increasing and raw.bars.index.is_unique
        assert np.isfinite(raw.bars["close"].to_numpy()).all(), rel
        assert not any(i.check == "non_finite" for i in raw.issues), rel


def test_primary_files_load_into_the_panel(panel, provenance_rows, universe, shared_prices):
    from backtest.market.calendars import sessions

    primary = {
        Path(rel).stem: (rows - _all_nan_rows(adj), rel)
        for rel, rows, _, _, adj in provenance_rows
        if rel.count("/") == 1
    }
    name_of = {"^GSPC": "GSPC", "^IXIC": "IXIC", "^SOX": "SOX", "^NDX": "NDX", "^HSI": "HSI"}
    assert len(primary) == 38
    assert len(panel.symbols) == 38 == len(universe.symbols)
    assert not [n for n in panel.notes if n.startswith("[not_loaded")]
    for sym in panel.symbols:
        expected, rel = primary[name_of.get(sym, sym)]
        # Rows before the calendar starts or on a non-session of the exchange are dropped.
        dates = read_price_csv(shared_prices.parent / rel, sym).bars.index
        sess = sessions(universe[sym].calendar)
        expected -= int((~dates.isin(sess)).sum())
        assert panel.meta[sym].rows == expected == len(panel.bars[sym]), sym


@pytest.mark.parametrize(
    ("symbol", "date", "pct"),
    [
        ("NVDA", "2025-04-16", -6.87),
        ("NVDA", "2025-01-27", -16.97),
        ("AMD", "2025-04-16", -7.35),
        ("SPY", "2025-04-16", -2.22),
        ("^GSPC", "2025-04-16", -2.24),
        ("0981.HK", "2020-12-04", -5.4),
        ("688256.SS", "2025-01-27", -6.69),
        # the update of 2026-11-30: Cambricon (Eastmoney qfq) and Hua Hong (yfinance)
        ("688256.SS", "2025-04-16", 4.21),
        ("688256.SS", "2022-09-02", 19.99),
        ("1347.HK", "2024-10-04", 29.6),
        ("1347.HK", "2024-10-08", -23.2),
    ],
)
def test_close_to_close_returns_match_provenance(panel, symbol, date, pct):
    r = panel.returns(symbol).loc[date] * 100
    decimals = len(str(pct).split(".")[1])
    assert round(r, decimals) == pytest.approx(pct, abs=1e-9)


def test_nvda_return_on_h20_day_to_a_hundredth_of_a_point(panel):
    assert panel.returns("NVDA").loc["2025-04-16"] * 100 == pytest.approx(-6.87, abs=0.005)


@pytest.mark.parametrize(
    ("symbol", "mic"),
    [("688256.SS", "XSHG"), ("0981.HK", "XHKG"), ("002371.SZ", "XSHG"), ("NVDA", "XNYS")],
)
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
    assert basis["^GSPC"] == "unadjusted" and "split-adjusted only" in panel.meta["^GSPC"].origin
    assert basis["BABA"] == "adjusted" and basis["0981.HK"] == "adjusted"
    # the update of 2026-11-30: Eastmoney qfq, tushare qfq, index levels
    assert basis["688256.SS"] == "adjusted" and "qfq" in panel.meta["688256.SS"].origin
    assert basis["002371.SZ"] == "adjusted"
    for index in ("^HSI", "000300.SS", "000688.SS", "^NDX"):
        assert basis[index] == "unadjusted", index
        assert "index level" in panel.meta[index].origin, index


def _update_rows(shared_prices: Path) -> list[tuple[str, str]]:
    """(path under data/, adjustment) of the table in 'Update of 2026-11-30'."""
    text = (shared_prices.parent / "PROVENANCE.md").read_text(encoding="utf-8")
    section = text.split("## Update of 2026-11-30", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.split("|")] for line in section.splitlines()]
    return [(c[1], c[10]) for c in rows if len(c) > 10 and c[1].startswith("prices/")]


def _basis_named(adjustment: str) -> str:
    """The Adjustment literal a PROVENANCE adjustment cell names (see layouts.py)."""
    a = adjustment.lower()
    if "index level" in a or a.startswith("raw"):
        return "unadjusted"  # a published index level or raw prices: nothing applied
    assert "forward-adjusted" in a or "auto-adjusted" in a, adjustment
    return "adjusted"


def test_every_file_of_the_update_reads_with_the_basis_provenance_names(shared_prices):
    rows = _update_rows(shared_prices)
    assert len(rows) == 24
    for rel, adjustment in rows:
        raw = read_price_csv(shared_prices.parent / rel, Path(rel).stem)
        assert raw.meta.adjustment == _basis_named(adjustment), rel


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
    assert plain.meta.adjustment == "unknown"  # same header as HSI.csv, but no byte-order mark


def test_superseded_primaries_stay_readable_as_layout_fixtures(shared_prices):
    old = shared_prices / SUPERSEDED
    # suiwenfeng: Chinese headers 日期,开盘价,...; YYYYMMDD; raw; volume in shares.
    # First data line: 20210318,144.6,146.38,144.1,144.22,484378,70222474
    cn = read_price_csv(old / "688256.SS.csv", "688256.SS")
    assert "[cn-daily]" in cn.meta.origin and cn.meta.adjustment == "unadjusted"
    assert cn.bars.index[0] == pd.Timestamp("2021-03-18")
    assert cn.bars.iloc[0].to_dict() == {
        "open": 144.6,
        "high": 146.38,
        "low": 144.1,
        "close": 144.22,
        "volume": 484378.0,
    }
    # tszlam/akshare: 成交量 in lots (134281 lots x ~189 CNY = 2.54e9 CNY = 成交额).
    # First data line: 2021-01-04,181.14,191.99,192.62,179.98,134281,2538027872.0,...
    ak = read_price_csv(old / "002371.SZ.csv", "002371.SZ")
    assert "[cn-akshare]" in ak.meta.origin and ak.meta.adjustment == "unknown"
    assert ak.bars["close"].iloc[0] == 191.99 and ak.bars["volume"].iloc[0] == 134281 * 100
    assert not [i for i in ak.issues if i.check == "change_mismatch"]  # 涨跌额 agrees
    yf = read_price_csv(old / "000300.SS.csv", "000300.SS")
    assert "[yfinance-multiheader]" in yf.meta.origin and yf.meta.first == "2021-03-11"
    hsi = read_price_csv(old / "HSI.csv", "^HSI")
    assert "[yahoo-adj-close]" in hsi.meta.origin and hsi.meta.last == "2024-08-05"
    hist = read_price_csv(old / "0700.HK.csv", "0700.HK")
    assert "[yfinance-history]" in hist.meta.origin and hist.meta.adjustment == "adjusted"


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_chinese_headers_compact_dates_and_gb18030(tmp_path):
    text = (
        "日期,开盘,收盘,最高,最低,成交量,振幅\n20240103,10,11,11.2,9.9,100,1\n"
        "20240102,9.5,10,10.1,9.4,90,2\n"
    )
    p = _write(tmp_path, "600000.SS.csv", text, encoding="gb18030")
    raw = read_price_csv(p, "600000.SS")
    assert list(raw.bars.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    assert list(raw.bars["close"]) == [10.0, 11.0]
    assert raw.meta.adjustment == "unknown"


def test_offset_timestamps_keep_the_local_date(tmp_path):
    text = (
        "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
        "2024-01-02 00:00:00+08:00,1,1,1,1.5,10,0,0\n"
    )
    raw = read_price_csv(_write(tmp_path, "X.csv", text), "X")
    assert raw.bars.index[0] == pd.Timestamp("2024-01-02")


def test_yfinance_multiheader_rows_are_skipped(tmp_path):
    text = (
        "Price,Adj Close,Close,High,Low,Open,Volume\nTicker,^NDX,^NDX,^NDX,^NDX,^NDX,^NDX\n"
        "Date,,,,,,\n2024-01-02,2,4,4,4,4,7\n"
    )
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
    assert p.symbols == ("AMD",) and any(n.startswith("[not_loaded:warning] NVDA") for n in p.notes)
    with pytest.raises(DataError, match="no prices for NVDA"):
        load_prices("csv", ["NVDA", "AMD"], universe=universe, prices_dir=tmp_path, missing="raise")
    with pytest.raises(InputFileError, match="--prices-dir"):
        load_prices("csv", ["NVDA"], universe=universe)
    with pytest.raises(DataError, match="not in the universe: ZZZZ"):
        load_prices("csv", ["ZZZZ"], universe=universe, prices_dir=tmp_path)


def test_start_end_clip_inclusive(shared_prices, universe):
    p = load_prices(
        "csv",
        ["NVDA"],
        universe=universe,
        prices_dir=shared_prices,
        start="2025-04-14",
        end="2025-04-17",
    )
    assert list(p.bars["NVDA"].index.strftime("%m-%d")) == ["04-14", "04-15", "04-16", "04-17"]
    assert p.meta["NVDA"].rows == 4 and p.meta["NVDA"].first == "2025-04-14"


def test_a_data_row_without_a_date_is_an_error_not_a_header_row(tmp_path):
    p = _write(tmp_path, "X.csv", "Date,Close\n,10\n2024-01-03,11\n")
    with pytest.raises(DataError, match=r"X.csv:2: date: unparseable date"):
        read_price_csv(p, "X")


def test_no_rows_in_range_is_a_finding(shared_prices, universe):
    p = load_prices(
        "csv",
        ["NVDA", "0700.HK"],
        universe=universe,
        prices_dir=shared_prices,
        start="2026-01-02",
        end="2026-01-09",
    )
    assert p.symbols == ("NVDA",)
    note = next(n for n in p.notes if n.startswith("[not_loaded:warning] 0700.HK"))
    assert "data 2009-01-02..2025-10-30" in note  # PROVENANCE: 0700.HK.csv range
