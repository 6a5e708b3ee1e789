"""Layouts of the 2026-11-30 files: Eastmoney kline, baostock, akshare/Sina index, Tencent,
yfinance index and flat downloads -- recognised from the header alone, each with its basis
and volume unit; then the real files, against values read by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

from backtest.market import BAR_COLUMNS, read_price_csv

REPO = Path(__file__).resolve().parent.parent
BOM = "\ufeff"


def _shared_prices_or_skip() -> Path:
    """../shared/data/prices (fails under CI=true when absent, skips elsewhere)."""
    return require_shared(REPO.parent / "shared" / "data" / "prices")


def _write(tmp_path: Path, name: str, text: str, *, newline: str = "\n") -> Path:
    p = tmp_path / name
    p.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return p


def _layout(raw) -> str:
    return raw.meta.origin.split(" [", 1)[1].split("]", 1)[0]


EASTMONEY = (
    "code,name,market,secid,date,open,close,high,low,volume,amount,amplitude,pct_chg,chg,"
    "turnover,meta_decimal,meta_dktotal,meta_preKPrice\n"
    "688256,寒武纪-U,1,1.688256,2025-04-15,630.50,619.88,634.84,614.50,52951,3303581375.00,"
    "3.19,-2.79,-17.82,1.27,2,1200,637.7\n"
    "688256,寒武纪-U,1,1.688256,2025-04-16,660.00,646.00,666.99,635.01,90204,5842501237.00,"
    "5.16,4.21,26.12,2.16,2,1201,637.7\n"
)


def test_eastmoney_kline_is_qfq_with_volume_in_lots(tmp_path):
    raw = read_price_csv(_write(tmp_path, "688256.SS.csv", EASTMONEY, newline="\r\n"), "688256.SS")
    assert _layout(raw) == "eastmoney-kline" and raw.meta.adjustment == "adjusted"
    assert "qfq" in raw.meta.origin and "lots of 100" in raw.meta.origin
    assert tuple(raw.bars.columns) == BAR_COLUMNS  # chg / pct_chg are not bar columns
    assert raw.bars.loc["2025-04-16"].to_dict() == {
        "open": 660.0,
        "high": 666.99,
        "low": 635.01,
        "close": 646.0,
        "volume": 9020400.0,
    }
    assert "change columns ['chg', 'pct_chg'] checked" in raw.meta.origin
    assert raw.issues == ()  # 646.00 - 619.88 = 26.12, +4.21 %


def test_baostock_volume_is_in_shares_not_lots(tmp_path):
    text = (
        "date,open,close,high,low,volume,amount,turn,pctChg\n"
        "2005-01-04,994.7700,982.7940,994.7700,980.6600,741286894,4431977400.0000,"
        "0.000000,0.000000\n"
        "2005-01-05,981.5800,992.5640,997.3200,979.8800,711910898,4529208200.0000,"
        "0.000000,0.994107\n"
    )
    raw = read_price_csv(_write(tmp_path, "000300.SS.csv", text), "000300.SS")
    assert _layout(raw) == "baostock" and raw.meta.adjustment == "unadjusted"
    assert "index level" in raw.meta.origin and "shares (not lots)" in raw.meta.origin
    assert list(raw.bars["volume"]) == [741286894.0, 711910898.0]
    assert list(raw.bars["close"]) == [982.794, 992.564]
    assert raw.issues == ()  # 992.564 / 982.794 - 1 = 0.994107 %


def test_akshare_sina_index_is_told_from_a_generic_file_by_its_byte_order_mark(tmp_path):
    body = (
        "date,open,high,low,close,volume\n2020-01-02,1005.617,1019.91,1005.617,1019.723,165906987\n"
    )
    idx = read_price_csv(_write(tmp_path, "000688.SS.csv", BOM + body, newline="\r\n"), "000688.SS")
    assert _layout(idx) == "akshare-sina-index" and idx.meta.adjustment == "unadjusted"
    assert "index level" in idx.meta.origin
    assert idx.bars.iloc[0].to_dict() == {
        "open": 1005.617,
        "high": 1019.91,
        "low": 1005.617,
        "close": 1019.723,
        "volume": 165906987.0,
    }
    plain = read_price_csv(_write(tmp_path, "AMD.csv", body), "AMD")  # heliar-k's header
    assert _layout(plain) == "ohlcv" and plain.meta.adjustment == "unknown"


def test_tencent_day_array_is_raw_with_volume_in_shares(tmp_path):
    text = (
        "date,symbol,currency,open,close,high,low,volume\n"
        "2025-11-12,0981.HK,HKD,72.5,73.25,73.55,70.7,66485006\n"
    )
    raw = read_price_csv(_write(tmp_path, "0981.HK.csv", text, newline="\r\n"), "0981.HK")
    assert _layout(raw) == "tencent-day" and raw.meta.adjustment == "unadjusted"
    assert raw.bars["volume"].iloc[0] == 66485006.0 and raw.bars["close"].iloc[0] == 73.25


def test_a_share_qfq_needs_exactly_its_six_columns(tmp_path):
    six = "date,open,close,high,low,volume\n2024-01-02,10,11,11.5,9.8,500\n"
    raw = read_price_csv(_write(tmp_path, "X.csv", six), "X")
    assert _layout(raw) == "a-share-qfq" and raw.bars["volume"].iloc[0] == 50000.0
    seven = "date,open,close,high,low,volume,note\n2024-01-02,10,11,11.5,9.8,500,x\n"
    raw = read_price_csv(_write(tmp_path, "Y.csv", seven), "Y")
    assert _layout(raw) == "ohlcv" and raw.bars["volume"].iloc[0] == 500.0


def test_yfinance_ticker_row_of_an_index_and_the_flat_download(tmp_path):
    head = "Price,Close,High,Low,Open,Volume\nTicker,{t},{t},{t},{t},{t}\nDate,,,,,\n"
    row = "2023-08-25,18119.390625,18137.650390625,17969.41015625,18037.599609375,2467700000\n"
    idx = read_price_csv(_write(tmp_path, "HSI.csv", head.format(t="^HSI") + row), "^HSI")
    assert _layout(idx) == "yfinance-index" and idx.meta.adjustment == "unadjusted"
    stock = read_price_csv(_write(tmp_path, "S.csv", head.format(t="1347.HK") + row), "S")
    assert _layout(stock) == "yfinance-multiheader" and stock.meta.adjustment == "adjusted"
    flat = "Date,Close,High,Low,Open,Volume\n" + row
    raw = read_price_csv(_write(tmp_path, "F.csv", flat), "F")
    assert _layout(raw) == "yfinance-flat" and raw.meta.adjustment == "adjusted"


def test_chinese_change_columns_are_checked_too(tmp_path):
    text = (
        "日期,开盘,收盘,最高,最低,成交量,成交额,振幅,涨跌幅,涨跌额,换手率\n"
        "2021-01-04,181.14,191.99,192.62,179.98,134281,2538027872.0,7.02,6.67,12.01,2.92\n"
        "2021-01-05,188.74,197.09,197.5,188.29,118754,2312504624.0,4.8,2.66,5.1,2.59\n"
        "2021-01-06,200.24,191.36,200.73,188.24,100414,1937427520.0,6.34,-2.91,-4.73,2.19\n"
    )
    raw = read_price_csv(_write(tmp_path, "002371.SZ.csv", text), "002371.SZ")
    assert _layout(raw) == "cn-akshare" and raw.bars["volume"].iloc[0] == 13428100.0
    # 191.36 - (-4.73) = 196.09, not 197.09 (the real file says -5.73); -2.91 % agrees.
    assert [(i.date, i.check) for i in raw.issues] == [("2021-01-05", "change_mismatch")]
    assert "002371.SZ.csv:4 (2021-01-06) 涨跌额 -4.73" in raw.issues[0].detail


# ---------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def prices() -> Path:
    return _shared_prices_or_skip()


def test_real_eastmoney_files(prices):
    cam = read_price_csv(prices / "688256.SS.csv", "688256.SS")
    # line 2: 688256,...,2020-07-20,250.00,212.40,295.00,205.60,242490,...
    assert cam.bars.index[0] == pd.Timestamp("2020-07-20")
    assert cam.bars.iloc[0].to_dict() == {
        "open": 250.0,
        "high": 295.0,
        "low": 205.6,
        "close": 212.4,
        "volume": 24249000.0,
    }
    # 2025-04-15 close 619.88, 2025-04-16 close 646.00: +4.21 % (PROVENANCE)
    c = cam.bars["close"]
    assert round((c["2025-04-16"] / c["2025-04-15"] - 1) * 100, 2) == 4.21
    assert (cam.meta.rows, cam.meta.last, c.iloc[-1]) == (1340, "2026-01-23", 1334.99)
    smic = read_price_csv(prices / "688981.SS.csv", "688981.SS")
    # the mid-session snapshot is left as found: close 120.70 (the true close was 124.05)
    assert smic.bars.loc["2026-01-27", "close"] == 120.70


def test_real_index_files(prices):
    csi = read_price_csv(prices / "000300.SS.csv", "000300.SS")
    # line 2: 2005-01-04,994.7700,982.7940,994.7700,980.6600,741286894,...
    assert csi.bars.iloc[0].to_dict() == {
        "open": 994.77,
        "high": 994.77,
        "low": 980.66,
        "close": 982.794,
        "volume": 741286894.0,
    }
    assert (csi.meta.rows, csi.meta.first, csi.meta.last) == (5240, "2005-01-04", "2026-07-31")
    hsi = read_price_csv(prices / "HSI.csv", "^HSI")
    # line 2: 2013-08-20,22396.289,22481.74,21907.211,21964.051,63521943552
    assert hsi.bars.iloc[0][["close", "volume"]].tolist() == [21964.051, 63521943552.0]
    star = read_price_csv(prices / "000688.SS.csv", "000688.SS")
    assert star.bars.loc["2026-02-27", "close"] == 1488.023  # PROVENANCE
    for raw in (csi, hsi, star):
        assert raw.meta.adjustment == "unadjusted" and "index level" in raw.meta.origin
        assert raw.issues == ()
