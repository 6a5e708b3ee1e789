"""How day 0 was decided, in one short line per (stage instant, exchange).

Examples::

    announced Tue 2025-04-15 16:10 EDT, after XNAS close 16:00 -> next session Wed 2025-04-16
    announced Wed 2025-04-16 04:10 CST, before XSHG open 09:30 -> same-day session Wed 2025-04-16
    announced Sat 2022-10-08 00:30 CST; XSHG closed Sat 2022-10-01..Sun 2022-10-09
        (National Day / Golden Week) -> first session Mon 2022-10-10

Times are shown in the exchange's own time zone.  Holiday names come from the
calendar where it has them (US, Hong Kong fixed-date holidays); unnamed closures
that cover 1 October on XSHG are labelled Golden Week, and unnamed multi-day
closures between 15 January and 25 February are labelled Lunar New Year.
Anything else unnamed is "holiday".
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from backtest.alignment.sessions import SessionTable


@lru_cache(maxsize=16)
def _named_holidays(calendar: str) -> dict[dt.date, str]:
    from backtest.market.calendars import calendar_data

    return {dt.date.fromisoformat(d): name for d, name in calendar_data(calendar).holidays}


def _ts(ns: int, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).astimezone(ZoneInfo(tz))


def _day(d: dt.date) -> str:
    return d.strftime("%a %Y-%m-%d")


def closure_labels(calendar: str, days: list[dt.date]) -> list[str]:
    """Names for the weekday closures among ``days`` (calendar dates)."""
    named = _named_holidays(calendar)
    weekdays = [d for d in days if d.weekday() < 5]
    labels = list(dict.fromkeys(named[d] for d in weekdays if d in named))
    unnamed = [d for d in weekdays if d not in named]
    if unnamed:
        if calendar == "XSHG" and any(d.month == 10 and d.day <= 7 for d in days):
            labels.append("National Day / Golden Week")
        elif len(unnamed) >= 2 and all(
            (d.month == 1 and d.day >= 15) or (d.month == 2 and d.day <= 25) for d in unnamed
        ):
            labels.append("Lunar New Year")
        else:
            labels.append("holiday")
    return labels


def closure_note(table: SessionTable, prev_pos: int, day0_pos: int) -> str:
    """'' if no day lies between two sessions, 'weekend', or the closed span and names."""
    if prev_pos < 0:
        return ""
    prev = table.sessions[prev_pos].date()
    day0 = table.sessions[day0_pos].date()
    days = [prev + dt.timedelta(days=i) for i in range(1, (day0 - prev).days)]
    if not days:
        return ""
    labels = closure_labels(table.name, days)
    if not labels:
        return "weekend"
    return f"{table.name} closed {_day(days[0])}..{_day(days[-1])} ({'; '.join(labels)})"


def _session_close_text(table: SessionTable, pos: int) -> str:
    close = _ts(int(table.closes_ns[pos]), table.tz)
    early = " (early close)" if close.time() < table.regular_close else ""
    return f"{close:%H:%M}{early}"


def explain_day0(table: SessionTable, at_ns: int, pos: int, prefix: str) -> str:
    """Why session ``pos`` is day 0 for news knowable at ``at_ns`` (UTC ns).

    ``prefix`` names how the instant is known, e.g. ``announced`` or
    ``assumed (date only, business_hours)``.
    """
    t = _ts(at_ns, table.tz)
    day0 = table.sessions[pos].date()
    head = f"{prefix} {_day(t.date())} {t:%H:%M %Z}"
    name = table.name
    if at_ns >= table.opens_ns[pos]:
        return (
            f"{head}, during {name} session, before its close "
            f"{_session_close_text(table, pos)} -> same session {_day(day0)}"
        )
    prev_pos = pos - 1
    gap = closure_note(table, prev_pos, pos)
    if prev_pos >= 0 and t.date() == table.sessions[prev_pos].date():
        when = "at" if at_ns == table.closes_ns[prev_pos] else "after"
        note = "" if not gap or gap == "weekend" else f"; then {gap}"
        weekend = "; then weekend" if gap == "weekend" else ""
        return (
            f"{head}, {when} {name} close {_session_close_text(table, prev_pos)}"
            f"{weekend}{note} -> next session {_day(day0)}"
        )
    if t.date() == day0:
        return (
            f"{head}, before {name} open {_ts(int(table.opens_ns[pos]), table.tz):%H:%M}"
            f" -> same-day session {_day(day0)}"
        )
    where = gap if gap and gap != "weekend" else f"{name} closed (weekend)"
    return f"{head}; {where} -> first session {_day(day0)}"
