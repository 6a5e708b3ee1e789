"""Dirty data: non-finite cells while reading, a file's change column against its closes, and
the comparison of two sources on returns (``verify --against``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

from backtest.errors import DataError
from backtest.market import PricePanel, SeriesMeta, read_price_csv, verify
from backtest.market.compare import compare_with, return_disagreements
from backtest.market.csvsource import read_reference
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent


def _shared_prices_or_skip() -> Path:
    """../shared/data/prices (fails under CI=true when absent, skips elsewhere)."""
    return require_shared(REPO.parent / "shared" / "data" / "prices")


@pytest.fixture(scope="module")
def universe():
    return load_universe(REPO / "events" / "universe.yaml")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- non_finite while reading


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "1e308", "1e309", "-2e9"])
def test_an_absurd_close_is_one_finding_naming_file_line_column_value(tmp_path, cell):
    p = _write(tmp_path, "X.csv", f"Date,Close\n2024-01-02,10\n2024-01-03,{cell}\n2024-01-04,11\n")
    raw = read_price_csv(p, "X")
    assert list(raw.bars["close"]) == [10.0, 11.0]  # the row is dropped
    (issue,) = raw.issues
    assert (issue.date, issue.check, issue.severity) == ("2024-01-03", "non_finite", "error")
    assert issue.detail == (
        f"X.csv:3 Close {cell!r}: expected a finite number of magnitude <= 1e+09; row dropped"
    )


def test_absurd_open_and_volume_become_empty_cells(tmp_path):
    p = _write(
        tmp_path, "X.csv", "Date,Open,Close,Volume\n2024-01-02,inf,10,1e300\n2024-01-03,10,11,5\n"
    )
    raw = read_price_csv(p, "X")
    first = raw.bars.iloc[0]
    assert np.isnan(first["open"]) and np.isnan(first["volume"]) and first["close"] == 10.0
    (issue,) = raw.issues
    assert issue.detail == (
        "X.csv:2 Open 'inf', Volume '1e300': expected a finite number of "
        "magnitude <= 1e+09, 1e+15; treated as empty"
    )


def test_values_below_the_bounds_and_text_are_unchanged(tmp_path):
    p = _write(tmp_path, "X.csv", "Date,Close,Volume\n2024-01-02,999999999,1e15\n")
    raw = read_price_csv(p, "X")
    assert raw.issues == () and raw.bars["close"].iloc[0] == 999999999.0
    q = _write(tmp_path, "Y.csv", "Date,Close\n2024-01-02,10\n2024-01-03,1e30x\n")
    with pytest.raises(DataError, match=r"Y.csv:3: Close: non-numeric value \(got '1e30x'"):
        read_price_csv(q, "Y")


# ---------------------------------------------------------------- change_mismatch while reading


def test_a_snapshot_close_is_dated_on_its_own_row(tmp_path):
    # Like 688981 on 2026-01-27: the snapshot row is consistent with the row before it,
    # the next row's chg (4.50) and pct_chg (3.63) were computed from the true close 124.05.
    text = (
        "date,open,close,high,low,volume,pct_chg,chg\n"
        "2026-01-26,124.01,121.92,125.88,121.90,502567,-2.43,-3.04\n"
        "2026-01-27,122.00,120.70,122.40,119.22,293252,-1.00,-1.22\n"
        "2026-01-28,124.99,128.55,128.99,124.99,994583,3.63,4.50\n"
        "2026-01-29,127.60,122.40,127.81,122.16,715649,-4.78,-6.15\n"
    )
    raw = read_price_csv(_write(tmp_path, "688981.SS.csv", text), "688981.SS")
    assert [(i.date, i.check, i.severity) for i in raw.issues] == [
        ("2026-01-27", "change_mismatch", "error")
    ]
    assert raw.issues[0].detail.startswith(
        "688981.SS.csv:4 (2026-01-28) chg 4.5, pct_chg 3.63 against close 128.55 implies a "
        "previous close of 124.05; line 3 has close 120.7"
    )
    assert "pct_chg" not in raw.bars and "chg" not in raw.bars


def test_change_check_follows_the_sorted_rows_and_skips_adjusted_closes(tmp_path):
    newest_first = "date,close,chg\n2024-01-04,12,1\n2024-01-03,11,1\n2024-01-02,10,\n"
    raw = read_price_csv(_write(tmp_path, "X.csv", newest_first), "X")
    assert raw.issues == () and "0 mismatch(es)" in raw.meta.origin
    adj = "Date,Close,Adj Close,Change\n2024-01-02,10,5,\n2024-01-03,11,5.5,1\n"
    raw = read_price_csv(_write(tmp_path, "Y.csv", adj), "Y")
    assert raw.issues == () and "change columns" not in raw.meta.origin


# ---------------------------------------------------------------- comparing two sources


def test_return_disagreements_ignore_a_constant_ratio():
    a = np.array([100.0, 110.0, 121.0, 133.1])
    assert len(return_disagreements(a, 0.37 * a, 0.002)) == 0
    b = np.array([200.0, 220.0, 250.0, 266.2])  # one wrong close (250 instead of 242)
    # returns: a +10 %, +10 %, +10 %; b +10 %, +13.64 %, +6.48 %
    assert list(return_disagreements(a, b, 0.002)) == [2, 3]
    # 0.15 % apart stays inside 0.002; 0.25 % does not
    assert len(return_disagreements(np.array([100, 101.0]), np.array([100, 101.15]), 0.002)) == 0
    assert list(return_disagreements(np.array([100, 101.0]), np.array([100, 101.25]), 0.002)) == [1]
    # a return that exists on one side only is a disagreement
    assert list(return_disagreements(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 0.002)) == [1]
    with pytest.raises(ValueError, match="different lengths"):
        return_disagreements(a, a[:2], 0.002)


def _series(dates, close):
    from backtest.market import RawSeries

    bars = pd.DataFrame(
        {"close": np.asarray(close, dtype=float)},
        index=pd.DatetimeIndex(pd.to_datetime(dates), name="date"),
    )
    return RawSeries(bars=bars, meta=SeriesMeta("X", "csv", "adjusted"))


def test_compare_uses_common_dates_only():
    here = _series(
        ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"], [100, 101, 102, 103]
    ).bars["close"]
    # 'there' lacks 03-05 and is at half the level: returns over 03-04 -> 03-06 agree
    there = _series(["2024-03-04", "2024-03-06", "2024-03-07"], [50, 51, 51.5 * 1.01])
    issues = compare_with("X", here, there, tolerance=0.002, label="DIR")
    assert [(i.date, i.check) for i in issues] == [("2024-03-07", "source_disagreement")]
    assert "from 2024-03-06 +0.980% here" in issues[0].detail
    assert "vs +1.990% in DIR" in issues[0].detail
    apart = _series(["2025-01-02"], [1.0])
    (one,) = compare_with("X", here, apart, tolerance=0.002, label="DIR")
    assert one.check == "not_compared" and one.date == "" and "0 common dates" in one.detail


def test_read_reference_reports_absent_and_unreadable_files(tmp_path):
    _write(tmp_path, "NVDA.csv", "Date,Close\n2024-03-04,10\n")
    _write(tmp_path, "AMD.csv", "As Of,Px\n2024-03-04,10\n")
    ref = read_reference(tmp_path, ["NVDA", "AMD", "INTC"])
    assert set(ref.series) == {"NVDA"} and ref.absent == ("INTC",)
    (bad,) = ref.issues
    assert bad.symbol == "AMD" and bad.check == "not_compared" and "AMD.csv" in bad.detail


def test_verify_against_labels_rows_in_the_findings_table(tmp_path, universe):
    dates = pd.bdate_range("2024-03-04", periods=4)
    bars = pd.DataFrame(
        {"close": [10.0, 10.5, 10.4, 10.6]}, index=pd.DatetimeIndex(dates, name="date")
    )
    panel = PricePanel(bars={"NVDA": bars}, meta={"NVDA": SeriesMeta("NVDA", "csv", "adjusted")})
    _write(
        tmp_path,
        "NVDA.csv",
        "Date,Close\n2024-03-04,20\n2024-03-05,21\n2024-03-06,20.2\n2024-03-07,21.2\n",
    )
    f = verify(panel, universe, against=read_reference(tmp_path, ["NVDA"]))
    # 10.4 / 10.5 = -0.952 % vs 20.2 / 21 = -3.810 %; 10.6 / 10.4 = +1.923 % vs +4.950 %
    assert f.frame[["date", "check", "severity"]].values.tolist() == [
        ["2024-03-06", "source_disagreement", "warning"],
        ["2024-03-07", "source_disagreement", "warning"],
    ]
    assert "-0.952% here" in f.frame.iloc[0]["detail"]
    assert "-3.810% in " in f.frame.iloc[0]["detail"]


def test_real_hsi_against_the_later_yahoo_vintage():
    prices = _shared_prices_or_skip()
    here = read_price_csv(prices / "HSI.csv", "^HSI").bars["close"]
    yahoo = read_price_csv(
        prices / "supplementary" / "later_vintages" / "yahoo_QuantEdge" / "HSI.csv", "^HSI"
    )
    issues = compare_with("^HSI", here, yahoo, tolerance=0.002, label="yahoo")
    # PROVENANCE: Yahoo's 2023-08-25 ^HSI looks wrong (18119.39 vs 17956.381); the return
    # into it and out of it differ.  Its 2024-07-25 close differs by 0.1 %, inside 0.002.
    assert [i.date for i in issues] == ["2023-08-25", "2023-08-28"]
