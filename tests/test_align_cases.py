"""Hand-checked day-0 cases across XNAS, XNYS, XSHG, XSHE and XHKG, and properties.

Rule under test (DESIGN section 3): day 0 is the first session of the
security's own exchange whose close is strictly after the knowable instant.
Session facts quoted in the comments come from exchange_calendars (closes in
local time: XNAS/XNYS 16:00 ET, XSHG 15:00 Beijing, XHKG 16:00 HKT).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.align import AlignSpec, align, session_table
from backtest.eventlog.models import Event
from backtest.universe import Security, Universe

NY, SH, HK = "America/New_York", "Asia/Shanghai", "Asia/Hong_Kong"


def _sec(symbol: str, mic: str, group: str, **kw: object) -> Security:
    cur = {"XNAS": "USD", "XNYS": "USD", "ARCX": "USD", "XSHG": "CNY", "XSHE": "CNY"}
    return Security(
        symbol=symbol, name=symbol, mic=mic, currency=cur.get(mic, "HKD"), group=group, **kw
    )


UNIVERSE = Universe(
    securities=(
        _sec("NVDA", "XNAS", "us_incumbent"),
        _sec("TSM", "XNYS", "us_semis", kind="adr"),
        _sec("688256.SS", "XSHG", "cn_substitute", board="star", listed="2020-07-20"),
        _sec("002371.SZ", "XSHE", "cn_substitute", board="main"),
        _sec("0981.HK", "XHKG", "cn_substitute"),
        _sec("SPY", "ARCX", "benchmark", kind="etf"),
    )
)


def make_event(
    when: str,
    tz: str,
    *,
    event_id: str = "case",
    stage: str = "announcement",
    targets: tuple[str, ...] = ("NVDA", "TSM", "688256.SS", "002371.SZ", "0981.HK"),
) -> Event:
    """An event with one stage: ``when`` is ISO with offset (exact) or a bare date."""
    exact = "T" in when
    st_: dict[str, object] = {"stage": stage, "timezone": tz, "time_known": exact}
    st_["at" if exact else "date"] = when
    return Event(
        id=event_id,
        title=event_id,
        authority="US-BIS",
        jurisdiction="US",
        type="restriction",
        direction="tightening",
        stages=(st_,),
        affected=tuple({"target": t, "sign": -1} for t in targets),
        sources=({"url": "https://example.org/x", "title": "source"},),
    )


@dataclass(frozen=True)
class Case:
    label: str
    when: str  # ISO 8601 with offset, or YYYY-MM-DD for a date-only stage
    tz: str  # the stage's (authority's) time zone
    security: str
    day0: str
    unknown_time: str = "business_hours"
    alternate: bool = False


CASES = [
    # --- DESIGN section 3 -------------------------------------------------------------
    # NVIDIA 8-K filed 16:10 EDT Tue 2025-04-15, after the 16:00 XNAS close: next session.
    Case("nvda-8k-xnas", "2025-04-15T16:10:00-04:00", NY, "NVDA", "2025-04-16"),
    # Same filing is 04:10 Wed in Beijing; XSHG's Wed session (open 09:30, close 15:00)
    # is the first to close after it -> Wed 2025-04-16, the same date as NVDA.
    Case("nvda-8k-xshg", "2025-04-15T16:10:00-04:00", NY, "688256.SS", "2025-04-16"),
    # BIS rules at 12:30 EDT Fri 2022-10-07: inside the US session, close 16:00 -> same day.
    Case("bis-2022-xnas", "2022-10-07T12:30:00-04:00", NY, "NVDA", "2022-10-07"),
    # TSM (XNYS) shares the US hours: same day.
    Case("bis-2022-xnys", "2022-10-07T12:30:00-04:00", NY, "TSM", "2022-10-07"),
    # 00:30 Sat 10-08 in Beijing; XSHG closed 10-03..10-07 for Golden Week (10-01/02 and
    # 10-08/09 are weekends) -> first session Mon 2022-10-10.
    Case("bis-2022-xshg", "2022-10-07T12:30:00-04:00", NY, "688256.SS", "2022-10-10"),
    # Report on Sunday 2025-08-10 (10:00 EDT = 22:00 Beijing/HK): Monday everywhere.
    Case("sunday-xnas", "2025-08-10T10:00:00-04:00", NY, "NVDA", "2025-08-11"),
    Case("sunday-xshg", "2025-08-10T10:00:00-04:00", NY, "688256.SS", "2025-08-11"),
    Case("sunday-xhkg", "2025-08-10T10:00:00-04:00", NY, "0981.HK", "2025-08-11"),
    # --- Beijing-morning announcement: MOFCOM 09:00 Beijing, Tue 2024-12-03 -------------
    # Before the 09:30 XSHG open; that session closes 15:00 the same day.
    Case("mofcom-xshg", "2024-12-03T09:00:00+08:00", SH, "688256.SS", "2024-12-03"),
    # Shenzhen follows the Shanghai calendar: same day.
    Case("mofcom-xshe", "2024-12-03T09:00:00+08:00", SH, "002371.SZ", "2024-12-03"),
    # Hong Kong opens 09:30 HKT: same day.
    Case("mofcom-xhkg", "2024-12-03T09:00:00+08:00", SH, "0981.HK", "2024-12-03"),
    # 09:00 Beijing = 20:00 EST Mon 12-02, after Monday's US close -> Tue 2024-12-03 in New
    # York, the same calendar date.
    Case("mofcom-xnas", "2024-12-03T09:00:00+08:00", SH, "NVDA", "2024-12-03"),
    # --- US after-close filings and US holidays ---------------------------------------
    # Fri 2025-01-17 17:00 EST after close; Mon 01-20 is MLK Day -> Tue 2025-01-21.
    Case("xnas-mlk", "2025-01-17T17:00:00-05:00", NY, "NVDA", "2025-01-21"),
    # Wed 2025-11-26 18:00 EST after close; Thanksgiving Thu closed; Fri 11-28 is a half
    # day but still closes (13:00) after the filing -> Fri 2025-11-28.
    Case("xnas-thanksgiving", "2025-11-26T18:00:00-05:00", NY, "NVDA", "2025-11-28"),
    # The same instant is Thu 07:00 HKT; Hong Kong trades on US Thanksgiving -> 11-27.
    Case("xhkg-us-thanksgiving", "2025-11-26T18:00:00-05:00", NY, "0981.HK", "2025-11-27"),
    # Fri 2025-11-28 13:30 EST, after the 13:00 early close -> Mon 2025-12-01.
    Case("xnas-half-day", "2025-11-28T13:30:00-05:00", NY, "NVDA", "2025-12-01"),
    # Thu 2025-04-17 20:00 EDT after close; Good Friday 04-18 closed -> Mon 2025-04-21.
    Case("xnas-good-friday", "2025-04-17T20:00:00-04:00", NY, "NVDA", "2025-04-21"),
    # XNYS Christmas Eve 2024 closes 13:00; 13:30 is after it; Christmas closed -> Thu 12-26.
    Case("xnys-christmas", "2024-12-24T13:30:00-05:00", NY, "TSM", "2024-12-26"),
    # --- mainland holidays (XSHG, XSHE) -----------------------------------------------
    # Fri 2024-02-09 10:00 Beijing: XSHG closed 02-09..02-18 (Spring Festival) -> Mon 02-19.
    Case("xshg-lny-2024", "2024-02-09T10:00:00+08:00", SH, "688256.SS", "2024-02-19"),
    # Tue 2025-09-30 16:00 Beijing, after the 15:00 close; National Day closure 10-01..10-08
    # -> Thu 2025-10-09 (Shenzhen, via the Shanghai calendar).
    Case("xshe-national-day", "2025-09-30T16:00:00+08:00", SH, "002371.SZ", "2025-10-09"),
    # Thu 2025-05-01 09:00 Beijing: Labour Day closure 05-01..05-05 -> Tue 2025-05-06.
    Case("xshe-labour-day", "2025-05-01T09:00:00+08:00", SH, "002371.SZ", "2025-05-06"),
    # Thu 2024-10-10 16:30 Beijing after the close: Shanghai trades Fri 10-11 (Chung Yeung is
    # a Hong Kong-only holiday) -> Fri 2024-10-11.
    Case("xshg-chung-yeung", "2024-10-10T16:30:00+08:00", SH, "688256.SS", "2024-10-11"),
    # --- Hong Kong holidays and half days ---------------------------------------------
    # Same instant in Hong Kong: after 16:00 close, Fri 10-11 Chung Yeung -> Mon 2024-10-14.
    Case("xhkg-chung-yeung", "2024-10-10T16:30:00+08:00", SH, "0981.HK", "2024-10-14"),
    # Fri 2025-05-02 17:00 HKT after close; Mon 05-05 Buddha's Birthday -> Tue 2025-05-06.
    Case("xhkg-buddha", "2025-05-02T17:00:00+08:00", HK, "0981.HK", "2025-05-06"),
    # Lunar New Year's Eve Tue 2025-01-28 closes 12:00 HKT (half day); 13:00 is after it;
    # closed 01-29..01-31 -> Mon 2025-02-03.
    Case("xhkg-lny-eve", "2025-01-28T13:00:00+08:00", HK, "0981.HK", "2025-02-03"),
    # Christmas Eve 2025 is a half day closing 12:00 HKT: 11:59 is before it -> same day.
    Case("xhkg-xmas-eve-before", "2025-12-24T11:59:00+08:00", HK, "0981.HK", "2025-12-24"),
    # 12:30 HKT is after that early close; Christmas and Boxing Day (Thu/Fri) closed, then
    # the weekend -> Mon 2025-12-29.
    Case("xhkg-xmas-eve-after", "2025-12-24T12:30:00+08:00", HK, "0981.HK", "2025-12-29"),
    # --- announcements exactly at a close: not priced in that close -> next session ----
    Case("at-close-xnas", "2025-04-15T16:00:00-04:00", NY, "NVDA", "2025-04-16"),
    Case("at-close-xshg", "2025-04-15T15:00:00+08:00", SH, "688256.SS", "2025-04-16"),
    # One second before the close is still in it.
    Case("before-close-xnas", "2025-04-15T15:59:59-04:00", NY, "NVDA", "2025-04-15"),
    # --- date-only stages: the unknown-time policy ------------------------------------
    # business_hours: 12:00 EDT Tue 2025-04-15, inside the US session -> same day.
    Case("bh-us-xnas", "2025-04-15", NY, "NVDA", "2025-04-15"),
    # 12:00 EDT = 00:00 Wed in Beijing, after Tuesday's 15:00 close -> Wed 2025-04-16.
    Case("bh-us-xshg", "2025-04-15", NY, "688256.SS", "2025-04-16"),
    # Alternate (end_of_day: 23:59:59 EDT), after the US close -> Wed 2025-04-16.
    Case("bh-us-xnas-alt", "2025-04-15", NY, "NVDA", "2025-04-16", alternate=True),
    # 12:00 Beijing is the lunch break, before the 15:00 close -> same day.
    Case("bh-cn-xshg", "2025-04-15", SH, "688256.SS", "2025-04-15"),
    # Alternate: 23:59:59 Beijing, after the close -> Wed 2025-04-16.
    Case("bh-cn-xshg-alt", "2025-04-15", SH, "688256.SS", "2025-04-16", alternate=True),
    # 12:00 Beijing Tue = 00:00 EDT Tue, before the US open -> Tue 2025-04-15.
    Case("bh-cn-xnas", "2025-04-15", SH, "NVDA", "2025-04-15"),
    # start_of_day: 00:00 Beijing Tue = 12:00 EDT Mon 04-14, inside Monday's US session.
    Case("sod-cn-xnas", "2025-04-15", SH, "NVDA", "2025-04-14", unknown_time="start_of_day"),
    # end_of_day on a Saturday in Hong Kong: nothing until Monday -> Mon 2025-08-11.
    Case("eod-hk-weekend", "2025-08-09", HK, "0981.HK", "2025-08-11", unknown_time="end_of_day"),
]


def test_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20
    assert len({c.label for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_day0_case(case: Case) -> None:
    spec = AlignSpec(
        unknown_time=case.unknown_time, alternate=case.alternate, securities=(case.security,)
    )
    result = align([make_event(case.when, case.tz)], UNIVERSE, spec)
    assert result.attrition.empty
    (row,) = result.instances.itertuples(index=False)
    assert row.day0 == pd.Timestamp(case.day0), row.decided_by
    assert bool(row.time_assumed) == ("T" not in case.when)
    assert row.day0_close_utc > row.knowable_at_utc


def test_decided_by_names_golden_week_and_early_close() -> None:
    golden = align(
        [make_event("2022-10-07T12:30:00-04:00", NY)],
        UNIVERSE,
        AlignSpec(securities=("688256.SS",)),
    ).instances.iloc[0]
    assert "Golden Week" in golden["decided_by"]
    assert "first session Mon 2022-10-10" in golden["decided_by"]
    eve = align(
        [make_event("2025-12-24T12:30:00+08:00", HK)], UNIVERSE, AlignSpec(securities=("0981.HK",))
    ).instances.iloc[0]
    assert "after XHKG close 12:00 (early close)" in eve["decided_by"]
    assert "Christmas" in eve["decided_by"] and "Boxing Day" in eve["decided_by"]
    at_close = align(
        [make_event("2025-04-15T16:00:00-04:00", NY)], UNIVERSE, AlignSpec(securities=("NVDA",))
    ).instances.iloc[0]
    assert at_close["decided_by"].startswith("announced Tue 2025-04-15 16:00 EDT, at XNAS close")


def test_assumed_instant_is_recorded() -> None:
    spec = AlignSpec(securities=("NVDA",))
    row = align([make_event("2025-04-15", NY)], UNIVERSE, spec).instances.iloc[0]
    assert row["time_assumed"] and not row["time_known"]
    assert row["time_policy"] == "business_hours"
    assert pd.isna(row["announced_at_utc"])
    assert row["knowable_at_utc"] == pd.Timestamp("2025-04-15T16:00:00Z")  # 12:00 EDT
    alt = align(
        [make_event("2025-04-15", NY)], UNIVERSE, AlignSpec(securities=("NVDA",), alternate=True)
    ).instances.iloc[0]
    assert alt["time_policy"] == "end_of_day"
    assert "assumed (date only, end_of_day)" in alt["decided_by"]


# --- properties -------------------------------------------------------------------------

CALENDAR_SECURITY = {"XNAS": "NVDA", "XNYS": "TSM", "XSHG": "688256.SS", "XHKG": "0981.HK"}
INSTANTS = st.datetimes(
    min_value=dt.datetime(2021, 1, 1), max_value=dt.datetime(2026, 6, 30), timezones=st.just(dt.UTC)
)


def _day0(at: dt.datetime, security: str) -> pd.Timestamp:
    event = make_event(at.isoformat(), "UTC", targets=(security,))
    result = align([event], UNIVERSE, AlignSpec(securities=(security,)))
    return result.instances["day0"].iloc[0]


@settings(max_examples=40, deadline=None)
@given(at=INSTANTS, calendar=st.sampled_from(sorted(CALENDAR_SECURITY)))
def test_day0_is_first_session_closing_after(at: dt.datetime, calendar: str) -> None:
    table = session_table(calendar)
    day0 = _day0(at, CALENDAR_SECURITY[calendar])
    pos = table.position(day0)  # raises unless day0 is a session of this exchange
    at_ns = pd.Timestamp(at).value
    assert table.closes_ns[pos] > at_ns
    assert pos > 0 and table.closes_ns[pos - 1] <= at_ns


@settings(max_examples=40, deadline=None)
@given(
    at=INSTANTS,
    calendar=st.sampled_from(sorted(CALENDAR_SECURITY)),
    frac=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_moving_within_gap_between_closes_keeps_day0(
    at: dt.datetime, calendar: str, frac: float
) -> None:
    table = session_table(calendar)
    security = CALENDAR_SECURITY[calendar]
    day0 = _day0(at, security)
    pos = table.position(day0)
    prev_close, close = int(table.closes_ns[pos - 1]), int(table.closes_ns[pos])
    # Any instant in [previous close, close) — rounded to whole seconds, as logs are.
    moved_ns = prev_close + int(frac * (close - prev_close)) // 10**9 * 10**9
    moved = pd.Timestamp(moved_ns, tz="UTC").to_pydatetime()
    assert _day0(moved, security) == day0
