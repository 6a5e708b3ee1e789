"""Exchange sessions kept on disk between runs: the same sessions as exchange_calendars,
read back without it, rebuilt when damaged, skipped when the folder cannot be written."""

from __future__ import annotations

import datetime as dt

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest

from backtest.alignment import explain
from backtest.alignment.sessions import session_table
from backtest.market import calendars
from backtest.market.calendar_cache import cache_file, read_cached
from backtest.market.calendars import (
    CALENDAR_START,
    build_calendar_data,
    calendar_data,
    get_calendar,
    session_bounds,
    sessions,
)

NAMES = ("XNYS", "XSHG", "XHKG")


def _forget() -> None:
    """Drop every in-memory copy, as a new process starts."""
    for fn in (calendar_data, calendars._bounds, session_table, explain._named_holidays):
        fn.cache_clear()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MIB_CACHE_DIR", str(tmp_path))
    _forget()
    yield tmp_path / "calendars"
    _forget()


def _files(folder):
    return sorted(p.name for p in folder.glob("*.npz")) if folder.exists() else []


@pytest.mark.parametrize("name", NAMES)
def test_sessions_opens_closes_and_holidays_are_exchange_calendars_own(cache_dir, name):
    cal = get_calendar(name)  # closures of backtest.market.closures applied (XHKG)
    for _ in range(2):  # built and stored, then read back from the file
        _forget()
        data = calendar_data(name)
        pd.testing.assert_index_equal(data.sessions, cal.sessions, exact=True, check_exact=True)
        expected = pd.DataFrame({"open": cal.opens, "close": cal.closes})
        # the frequency of exchange_calendars' index is not kept: sessions are labels
        pd.testing.assert_frame_equal(session_bounds(name), expected, check_freq=False)
        assert session_bounds(name).index.freq is None
        assert data.tz == str(cal.tz)
        rules = cal.regular_holidays  # None for XSHG: its closures are all ad hoc
        named = (
            rules.holidays(cal.first_session, cal.last_session, return_name=True)
            if rules is not None
            else pd.Series(dtype=str)
        )
        assert dict(data.holidays) == {t.date().isoformat(): str(n) for t, n in named.items()}
        assert (len(data.holidays) > 100) == (name != "XSHG")
    assert len(_files(cache_dir)) == 1


def test_a_later_process_reads_the_file_without_building_the_calendar(cache_dir, monkeypatch):
    first = calendar_data("XHKG")
    _forget()

    def no_build(name):
        raise AssertionError(f"built {name} although the file holds it")

    monkeypatch.setattr(calendars, "get_calendar", no_build)
    again = calendar_data("XHKG")
    assert again is not first
    assert np.array_equal(again.closes_ns, first.closes_ns)
    assert again.holidays == first.holidays
    # what alignment reads from it: the session table and the names of closures
    assert session_table("XHKG").closes_ns.tolist() == first.closes_ns.tolist()
    assert explain._named_holidays("XHKG")[dt.date(2024, 12, 25)] == "Christmas"
    # the 2023 black-rainstorm closure added by mib is absent from the sessions read back
    assert pd.Timestamp("2023-09-08") not in sessions("XHKG", "2023-09-01", "2023-09-15")
    assert pd.Timestamp("2023-09-07") in sessions("XHKG", "2023-09-01", "2023-09-15")


def test_a_damaged_file_is_rebuilt_and_replaced(cache_dir):
    good = calendar_data("XSHG")
    (path,) = cache_dir.glob("*.npz")
    path.write_bytes(b"not a zip file")
    assert read_cached(path) is None
    _forget()
    again = calendar_data("XSHG")
    assert np.array_equal(again.sessions_ns, good.sessions_ns)
    stored = read_cached(path)
    assert stored is not None and np.array_equal(stored.opens_ns, good.opens_ns)


def test_a_cache_folder_that_cannot_be_written_is_not_used(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder's parent is a file")
    monkeypatch.setenv("MIB_CACHE_DIR", str(blocker))
    _forget()
    try:
        data = calendar_data("XNYS")
        assert np.array_equal(data.sessions_ns, build_calendar_data("XNYS").sessions_ns)
        assert blocker.read_text() == "the cache folder's parent is a file"
    finally:
        _forget()


def test_the_file_name_changes_with_everything_the_content_depends_on(tmp_path):
    base = dict(name="XHKG", version="4.13.2", start=CALENDAR_START, end=dt.date(2027, 11, 30))
    one = cache_file(tmp_path, **base, closures=(dt.date(2023, 9, 8),))
    assert one == cache_file(tmp_path, **base, closures=(dt.date(2023, 9, 8),))
    others = [
        cache_file(tmp_path, **base, closures=()),
        cache_file(tmp_path, **{**base, "version": "4.14.0"}, closures=(dt.date(2023, 9, 8),)),
        cache_file(tmp_path, **{**base, "end": dt.date(2027, 12, 1)}, closures=()),
        cache_file(tmp_path, **{**base, "start": "2010-01-04"}, closures=()),
        cache_file(tmp_path, **{**base, "name": "XNYS"}, closures=(dt.date(2023, 9, 8),)),
    ]
    assert len({one, *others}) == 1 + len(others)


def test_aliases_share_one_file_and_session_bounds_gives_a_new_frame(cache_dir):
    assert xc.resolve_alias("XNAS") == "XNYS"
    calendar_data("XNAS"), calendar_data("XNYS")
    assert len(_files(cache_dir)) == 1
    frame = session_bounds("XNYS")
    frame["open"] = pd.NaT
    frame["extra"] = 1
    assert "extra" not in session_bounds("XNYS").columns
    assert session_bounds("XNYS")["open"].notna().all()
