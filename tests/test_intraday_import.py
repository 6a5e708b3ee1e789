"""Reading intraday files: time-zone rules, layouts, session tags, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import InputFileError
from backtest.intraday.layouts import read_bar_file, symbol_from_name
from backtest.intraday.series import read_bar_dirs
from backtest.intraday.sessions import POST, PRE, REGULAR, tag_kernel, tag_sessions
from backtest.intraday.store import IntradayStore
from backtest.intraday.timezones import NaiveTimestampError
from backtest.market.cache import CacheError
from tests.cli_support import one_error_line, run_cli
from tests.shared_support import SHARED, require_shared

INTRADAY = SHARED / "data" / "intraday"
ET = "America/New_York"


def _et(ns: int) -> pd.Timestamp:
    return pd.Timestamp(int(ns), tz="UTC").tz_convert(ET)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_pacific_file_proved_by_its_epoch_column() -> None:
    """Row read by hand: '2022-10-07 06:30:00,125.05,...,1665149400000' is 09:30 ET."""
    f = require_shared(INTRADAY / "naive_pacific_5m_chemcoder" / "NVDA.csv")
    fb = read_bar_file(f)
    assert fb.rule.kind == "epoch" and fb.rule.zone == "America/Los_Angeles"
    day = np.array([_et(t).date() == pd.Timestamp("2022-10-07").date() for t in fb.utc_ns])
    first = int(np.flatnonzero(day)[0])
    assert _et(fb.utc_ns[first]) == pd.Timestamp("2022-10-07 09:30", tz=ET)
    assert fb.prices["open"][first] == pytest.approx(125.05, abs=1e-9)
    assert fb.prices["close"][first] == pytest.approx(125.8899, abs=1e-9)
    assert "503 repeated time stamps" in fb.notes[0]


def test_naive_file_without_tz_is_refused_naming_the_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = require_shared(INTRADAY / "naive_et_5m_jeffreymalkus")
    with pytest.raises(NaiveTimestampError) as info:
        read_bar_file(d / "NVDA.csv")
    assert str(d / "NVDA.csv") in str(info.value) and "--tz" in str(info.value)
    code, _, err = run_cli(
        capsys,
        "study",
        "intraday",
        "--event",
        "nvda-2025-07-14-h20-sales-resumption",
        "--bars",
        str(d),
        "--out",
        "/tmp/never-written-intraday",
    )
    one_error_line(code, err, "naive_et_5m_jeffreymalkus/", "--tz")
    assert not Path("/tmp/never-written-intraday").exists()


def test_naive_file_with_tz_is_read_in_that_zone(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "AAA.csv",
        "datetime,open,high,low,close,volume\n"
        "2025-05-12 09:30:00,1,1,1,1.5,10\n2025-05-12 09:35:00,1,1,1,1.6,10\n",
    )
    fb = read_bar_file(f, tz=ET)
    assert fb.rule.kind == "option" and "--tz" in fb.rule.detail
    assert _et(fb.utc_ns[0]) == pd.Timestamp("2025-05-12 09:30", tz=ET)
    assert pd.Timestamp(int(fb.utc_ns[0]), tz="UTC") == pd.Timestamp("2025-05-12 13:30", tz="UTC")
    assert fb.bar_seconds == 300


def test_offsets_win_and_mixed_files_are_refused(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "BBB.csv",
        "Datetime,Close\n2025-01-27 04:00:00-05:00,1\n2025-07-15 04:00:00-04:00,2\n",
    )
    fb = read_bar_file(f, tz="Asia/Tokyo")
    assert [str(_et(t)) for t in fb.utc_ns] == [
        "2025-01-27 04:00:00-05:00",
        "2025-07-15 04:00:00-04:00",
    ]
    assert "not needed" in fb.rule.detail
    g = _write(
        tmp_path / "CCC.csv", "Datetime,Close\n2025-01-27 04:00:00-05:00,1\n2025-01-27 04:05:00,2\n"
    )
    with pytest.raises(InputFileError, match="1 of 2 time stamps have no UTC offset"):
        read_bar_file(g)


def test_epoch_column_that_fits_no_zone_is_refused(tmp_path: Path) -> None:
    # 06:30 naive with an epoch of 13:47 UTC: no whole-hour zone makes them agree
    f = _write(tmp_path / "DDD.csv", "date,close,datetime\n2022-10-07 06:30:00,1,1665150420000\n")
    with pytest.raises(InputFileError, match="fits the naive stamps in none"):
        read_bar_file(f)


def test_unknown_layout_names_the_columns(tmp_path: Path) -> None:
    f = _write(tmp_path / "EEE.csv", "when,px\n2025-01-01,1\n")
    with pytest.raises(InputFileError, match=r"unknown intraday layout.*'when', 'px'"):
        read_bar_file(f)


def test_snapshots_are_china_time_from_their_epoch() -> None:
    f = require_shared(INTRADAY / "cst_snapshots_xjjsg_hsi_etf" / "159920.SZ-2025-12-08.csv")
    fb = read_bar_file(f)
    assert fb.symbol == "159920.SZ" and fb.rule.zone == "Asia/Shanghai"
    # first row: tx_local_time 1765157415061 ms = 2025-12-08 01:30:15.061 UTC = 09:30:15 CST
    assert pd.Timestamp(int(fb.utc_ns[0]), tz="UTC") == pd.Timestamp(
        "2025-12-08 01:30:15.061", tz="UTC"
    )
    assert fb.prices["close"][0] == pytest.approx(1.602, abs=1e-12)


def test_symbol_from_file_names() -> None:
    assert symbol_from_name(Path("NVDA_5m_2025-04-14_17.csv")) == "NVDA"
    assert symbol_from_name(Path("159920.SZ-2025-12-09.csv")) == "159920.SZ"
    assert symbol_from_name(Path("GSPC.csv"), {"^GSPC"}) == "^GSPC"
    assert symbol_from_name(Path("GSPC.csv")) == "GSPC"


def test_session_kernel_hand_worked() -> None:
    day = 10**12
    days = np.array([day, 2 * day], dtype=np.int64)
    opens = np.array([day + 100, 2 * day + 100], dtype=np.int64)
    closes = np.array([day + 200, 2 * day + 150], dtype=np.int64)
    starts = np.array([day + 50, day + 100, day + 199, day + 200, 2 * day + 150], dtype=np.int64)
    local = np.array([day, day, day, day, 2 * day], dtype=np.int64)
    assert tag_kernel(local, starts, days, opens, closes).tolist() == [
        PRE,
        REGULAR,
        REGULAR,
        POST,
        POST,
    ]
    assert tag_kernel(np.array([3 * day]), np.array([3 * day]), days, opens, closes).tolist() == [3]


def test_early_close_and_weekend_tags() -> None:
    # 2025-07-03 closed at 13:00 ET (NYSE half day before Independence Day)
    t = pd.DatetimeIndex(
        [
            "2025-07-03 12:55",
            "2025-07-03 13:00",
            "2025-07-07 09:25",
            "2025-07-07 09:30",
            "2025-07-05 10:00",
        ]
    ).tz_localize(ET)
    codes = tag_sessions("XNYS", t.tz_convert("UTC").as_unit("ns").asi8)
    assert codes.tolist() == [REGULAR, POST, PRE, REGULAR, 3]


def test_shared_early_close_bars_tagged_post() -> None:
    d = require_shared(INTRADAY / "et_5m_ext_Tanushree28")
    s = read_bar_dirs([d], symbols={"NVDA"})["NVDA"][0]
    local = s.frame.index.tz_convert(ET)
    sess = pd.Series(s.frame["session"].to_numpy(), index=local)
    assert sess["2025-07-03 12:55"] == "regular" and sess["2025-07-03 13:00"] == "post"
    assert sess["2025-07-07 04:00"] == "pre" and sess["2025-07-07 16:00"] == "post"


@pytest.mark.slow
def test_import_all_shared_folders_and_cache_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_shared(INTRADAY)
    dirs = sorted(str(p) for p in INTRADAY.iterdir() if p.is_dir())
    code, out, err = run_cli(
        capsys, "data", "import-bars", *dirs, "--tz", ET, "--cache-dir", str(tmp_path)
    )
    assert code == 0, err
    assert "proved by the epoch column" in out and "read as America/New_York (--tz)" in out
    store = IntradayStore.open(tmp_path)
    keys = sorted(store.cache.entries())
    assert "NVDA@naive_pacific_5m_chemcoder" in keys and "^GSPC@et_5m_Uwater1" in keys
    back = store.load(["NVDA"])
    pac = next(s for s in back["NVDA"] if s.label == "naive_pacific_5m_chemcoder")
    fresh = read_bar_dirs([INTRADAY / "naive_pacific_5m_chemcoder"], symbols={"NVDA"})["NVDA"][0]
    pd.testing.assert_frame_equal(pac.frame, fresh.frame)
    # a shifted time stamp changes the recorded hash: tampering is refused on read
    import pyarrow.parquet as pq

    entry = store.cache.entries()["NVDA@naive_pacific_5m_chemcoder"]
    path = tmp_path / "intraday" / entry.file
    table = pq.read_table(path).to_pandas()
    table.iloc[0, table.columns.get_loc("epoch_ms")] += 60_000
    table.to_parquet(path)
    with pytest.raises(CacheError, match="do not match the manifest"):
        store.load(["NVDA"])
