"""Fama-French daily factors: classic and dated layouts, download through a patched opener."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

from backtest.errors import DataSourceUnavailable, InputFileError
from backtest.market import fetch_ff_factors, load_ff_factors
from backtest.market.factors import FF_BASE_URL

REPO = Path(__file__).resolve().parent.parent

CLASSIC = """This file was created by CMPT_ME_BEME_RETS_DAILY using the 202503 CRSP database.
The 1-month TBill return is from Ibbotson and Associates, Inc.

,Mkt-RF,SMB,HML,RF
19260701,    0.10,   -0.25,   -0.27,    0.009
19260702,    0.45,   -0.33,   -0.06,    0.009
19260706,  -99.99,    0.30,   -0.39,    0.009

Copyright 2025 Kenneth R. French
"""


@pytest.fixture(scope="module")
def factors_dir() -> Path:
    return require_shared(REPO.parent / "shared" / "data" / "factors")


def test_classic_layout(tmp_path):
    p = tmp_path / "ff.csv"
    p.write_text(CLASSIC, encoding="latin-1")
    f = load_ff_factors(p)
    assert list(f.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    assert list(f.index.strftime("%Y-%m-%d")) == ["1926-07-01", "1926-07-02", "1926-07-06"]
    assert f.loc["1926-07-01", "Mkt-RF"] == pytest.approx(0.001, abs=1e-15)
    assert f.loc["1926-07-02", "RF"] == pytest.approx(0.00009, abs=1e-15)
    assert np.isnan(f.loc["1926-07-06", "Mkt-RF"])


def test_dated_layout_shared_files(factors_dir):
    ff3 = load_ff_factors(factors_dir / "F-F_Research_Data_Factors_daily.csv")
    assert len(ff3) == 26233 and f"{ff3.index[0]:%Y-%m-%d}" == "1926-07-01"
    # 2026-04-30,    1.13,    0.98,   -0.71,    0.01  (last row of the file)
    assert ff3.loc["2026-04-30"].tolist() == pytest.approx(
        [0.0113, 0.0098, -0.0071, 0.0001], abs=1e-12
    )
    mom = load_ff_factors(factors_dir / "F-F_Momentum_Factor_daily.csv")
    assert list(mom.columns) == ["Mom"] and len(mom) == 26132
    assert mom.loc["2026-04-28", "Mom"] == pytest.approx(-0.0159, abs=1e-12)
    all6 = load_ff_factors(
        [
            factors_dir / "F-F_Research_Data_5_Factors_2x3_daily.csv",
            factors_dir / "F-F_Momentum_Factor_daily.csv",
        ]
    )
    assert list(all6.columns) == ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF", "Mom"]
    assert len(all6) == 15813 and f"{all6.index[0]:%Y-%m-%d}" == "1963-07-01"
    # 5-factor SMB differs from the 3-factor one: 2026-04-29 -1.30 vs -1.48.
    assert all6.loc["2026-04-29", "SMB"] == pytest.approx(-0.0130, abs=1e-12)


def test_the_fast_reader_gives_pythons_own_numbers(factors_dir):
    """numpy's C reader (the usual path) against float() of every field, bit for bit."""
    from backtest.market.factors import _fast_values, _find_first_data

    for path in sorted(factors_dir.glob("F-F_*daily*.csv")):
        lines = path.read_text(encoding="latin-1").splitlines()
        start = _find_first_data(lines, path.name)
        width = lines[start - 1].count(",")
        rows = [line for line in lines[start:] if line[:1].isdigit()]
        fast = _fast_values(rows, width)
        slow = np.array([[float(c) for c in line.split(",")[1:]] for line in rows])
        assert fast is not None and fast.shape == slow.shape
        assert np.array_equal(fast, slow, equal_nan=True)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("19260706,    0.17,    0.30,   -0.39", "4 fields, header has 5"),
        ("19260706,    0.17,    0.30,   -0.39,    0.01, 9", "6 fields, header has 5"),
        ("19260706,    0.17,    n/a,   -0.39,    0.01", "non-numeric factor value"),
        ("19260706,    0.17,       ,   -0.39,    0.01", "non-numeric factor value"),
    ],
)
def test_a_bad_row_is_named(tmp_path, row, message):
    from backtest.errors import DataError

    text = CLASSIC.replace("19260706,  -99.99,    0.30,   -0.39,    0.009", row)
    p = tmp_path / "ff.csv"
    p.write_text(text, encoding="latin-1")
    with pytest.raises(DataError, match=message) as err:
        load_ff_factors(p)
    assert "ff.csv:7: " in str(err.value)


def test_a_value_only_python_reads_takes_the_row_by_row_path(tmp_path):
    """numpy's reader refuses "1_000" where float() reads 1000: the row-by-row path
    then gives Python's numbers, as before the fast reader."""
    p = tmp_path / "ff.csv"
    p.write_text(CLASSIC.replace("0.45,", "1_000,"), encoding="latin-1")
    assert load_ff_factors(p).loc["1926-07-02", "Mkt-RF"] == pytest.approx(10.0, abs=1e-12)


def test_not_a_factor_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("hello\nworld\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no Fama-French data rows"):
        load_ff_factors(p)
    with pytest.raises(InputFileError, match="not found"):
        load_ff_factors(tmp_path / "missing.csv")


def _zip(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, text)
    return buf.getvalue()


def test_fetch_with_a_fake_opener(tmp_path):
    urls: list[str] = []

    def opener(url: str) -> bytes:
        urls.append(url)
        return _zip("F-F_Research_Data_Factors_daily.CSV", CLASSIC)

    f = fetch_ff_factors(["ff3"], dest_dir=tmp_path, opener=opener)
    assert urls == [FF_BASE_URL + "F-F_Research_Data_Factors_daily_CSV.zip"]
    assert (tmp_path / "F-F_Research_Data_Factors_daily.csv").read_text() == CLASSIC
    pd.testing.assert_frame_equal(
        f, load_ff_factors(tmp_path / "F-F_Research_Data_Factors_daily.csv")
    )


def test_fetch_offline_is_unavailable(tmp_path):
    def opener(url: str) -> bytes:
        raise OSError("Name or service not known")

    with pytest.raises(DataSourceUnavailable, match="cannot download"):
        fetch_ff_factors(["ff5"], dest_dir=tmp_path, opener=opener)
