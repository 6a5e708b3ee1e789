"""Ad-hoc exchange closures: the sourced table and every session API that must honour it.

Hand-checked facts: HKEX cancelled all trading on Fri 2023-09-01 (Typhoon Signal No. 8,
Saola) and Fri 2023-09-08 (Black Rainstorm Warning / Extreme Conditions); Thu 2023-08-31,
Mon 2023-09-04, Thu 2023-09-07 and Mon 2023-09-11 were normal sessions (09:30-16:00 HKT).
"""

from __future__ import annotations

import datetime as dt

import exchange_calendars as xc
import pandas as pd
import pytest

from backtest.align import AlignSpec, align, session_offset, session_table, window_sessions
from backtest.eventlog.models import Event
from backtest.market.calendars import CALENDAR_START, get_calendar, session_bounds, sessions
from backtest.market.closures import CLOSURE_COLUMNS, CLOSURES, closures_for, closures_frame
from backtest.universe import Security, Universe

CLOSED = ("2023-09-01", "2023-09-08")
OPEN = ("2023-08-31", "2023-09-04", "2023-09-07", "2023-09-11")
HK = "Asia/Hong_Kong"


# --- the table --------------------------------------------------------------------------


def test_table_has_the_two_2023_hong_kong_closures() -> None:
    assert {(c.date, c.exchange) for c in closures_for("XHKG")} >= {
        (dt.date(2023, 9, 1), "XHKG"),
        (dt.date(2023, 9, 8), "XHKG"),
    }


@pytest.mark.parametrize("row", CLOSURES, ids=[f"{c.exchange}-{c.date}" for c in CLOSURES])
def test_rows_are_sourced_weekdays_of_real_calendars(row) -> None:
    assert row.reason.strip(), f"{row.exchange} {row.date}: empty reason"
    assert row.source.strip(), f"{row.exchange} {row.date}: empty source"
    assert "https://" in row.source, f"{row.exchange} {row.date}: source has no URL"
    assert row.exchange in xc.get_calendar_names(include_aliases=False), row.exchange
    assert isinstance(row.date, dt.date) and row.date.weekday() < 5, row.date


def test_rows_are_unique_and_frame_has_the_columns() -> None:
    keys = [(c.exchange, c.date) for c in CLOSURES]
    assert len(keys) == len(set(keys))
    frame = closures_frame()
    assert tuple(frame.columns) == CLOSURE_COLUMNS == ("date", "exchange", "reason", "source")
    assert len(frame) == len(CLOSURES)
    assert frame["date"].dtype == "datetime64[ns]"


@pytest.mark.parametrize("row", CLOSURES, ids=[f"{c.exchange}-{c.date}" for c in CLOSURES])
def test_guard_exchange_calendars_still_lists_the_closure_as_a_session(row) -> None:
    raw = xc.get_calendar(row.exchange, start=CALENDAR_START)
    if not raw.is_session(pd.Timestamp(row.date)):
        pytest.fail(
            f"exchange_calendars {xc.__version__} now excludes {row.date} from {row.exchange} "
            f"itself; delete this row from CLOSURES in backtest/market/closures.py (and this "
            f"guard keeps checking the rest)"
        )


# --- the project's calendar API ---------------------------------------------------------


def test_project_calendar_is_the_exchange_calendars_class_with_closures() -> None:
    cal = get_calendar("XHKG")
    raw = xc.get_calendar("XHKG", start=CALENDAR_START)
    assert isinstance(cal, type(raw)) and cal.name == "XHKG" and str(cal.tz) == HK
    dropped = raw.sessions.difference(cal.sessions)
    expected = pd.DatetimeIndex([pd.Timestamp(c.date) for c in closures_for("XHKG")])
    assert list(dropped) == list(expected.intersection(raw.sessions))
    assert cal.sessions.difference(raw.sessions).empty


@pytest.mark.parametrize("day", CLOSED)
def test_closed_days_are_not_xhkg_sessions(day: str) -> None:
    ts = pd.Timestamp(day)
    assert not get_calendar("XHKG").is_session(ts)
    assert ts not in sessions("XHKG")
    assert ts not in sessions("XHKG", "2023-08-01", "2023-09-30")
    assert ts not in session_bounds("XHKG").index
    assert ts not in session_table("XHKG").sessions


@pytest.mark.parametrize("day", OPEN)
def test_neighbouring_days_are_xhkg_sessions(day: str) -> None:
    ts = pd.Timestamp(day)
    assert get_calendar("XHKG").is_session(ts)
    assert ts in sessions("XHKG", "2023-08-01", "2023-09-30")
    bounds = session_bounds("XHKG").loc[ts]
    assert bounds["open"] == pd.Timestamp(f"{day} 09:30", tz=HK).tz_convert("UTC")
    assert bounds["close"] == pd.Timestamp(f"{day} 16:00", tz=HK).tz_convert("UTC")


def test_september_2023_has_19_xhkg_sessions() -> None:
    assert len(sessions("XHKG", "2023-09-01", "2023-09-30")) == 19


def test_opens_and_closes_skip_the_closures() -> None:
    cal = get_calendar("XHKG")
    assert cal.next_session("2023-08-31") == pd.Timestamp("2023-09-04")
    assert cal.previous_session("2023-09-11") == pd.Timestamp("2023-09-07")
    assert len(cal.opens) == len(cal.closes) == len(cal.sessions)


def test_calendars_without_closures_are_exchange_calendars_own() -> None:
    assert not closures_for("XNYS")
    assert get_calendar("XNYS") is xc.get_calendar("XNYS", start=CALENDAR_START)


# --- day 0 and windows ------------------------------------------------------------------


def _event(when: str) -> Event:
    return Event(
        id="hk-typhoon",
        title="hk-typhoon",
        authority="US-BIS",
        jurisdiction="US",
        type="restriction",
        direction="tightening",
        stages=({"stage": "announcement", "timezone": HK, "time_known": True, "at": when},),
        affected=({"target": "0981.HK", "sign": -1},),
        sources=({"url": "https://example.org/x", "title": "source"},),
    )


UNIVERSE = Universe(
    securities=(
        Security(
            symbol="0981.HK", name="0981.HK", mic="XHKG", currency="HKD", group="cn_substitute"
        ),
    )
)


def test_day0_after_thursday_close_skips_the_typhoon_friday() -> None:
    # Thu 2023-08-31 20:00 HKT is after the 16:00 close; Fri 09-01 cancelled; weekend.
    result = align(
        [_event("2023-08-31T20:00:00+08:00")], UNIVERSE, AlignSpec(securities=("0981.HK",))
    )
    row = result.instances.iloc[0]
    assert row["day0"] == pd.Timestamp("2023-09-04"), row["decided_by"]
    assert row["day0_close_utc"] == pd.Timestamp("2023-09-04 08:00", tz="UTC")
    assert "closed Fri 2023-09-01" in row["decided_by"]


def test_day0_during_the_rainstorm_friday_is_the_next_monday() -> None:
    result = align(
        [_event("2023-09-08T11:00:00+08:00")], UNIVERSE, AlignSpec(securities=("0981.HK",))
    )
    assert result.instances.iloc[0]["day0"] == pd.Timestamp("2023-09-11")


def test_offsets_and_windows_step_over_the_closures() -> None:
    assert session_offset("XHKG", "2023-08-31", 1) == pd.Timestamp("2023-09-04")
    assert session_offset("XHKG", "2023-09-11", -1) == pd.Timestamp("2023-09-07")
    win = window_sessions("XHKG", "2023-09-11", -6, 0)
    assert list(win.strftime("%Y-%m-%d")) == [
        "2023-08-30",
        "2023-08-31",
        "2023-09-04",
        "2023-09-05",
        "2023-09-06",
        "2023-09-07",
        "2023-09-11",
    ]
