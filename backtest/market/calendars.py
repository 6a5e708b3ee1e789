"""Exchange sessions from exchange_calendars, cached per calendar.

Every security maps to a calendar through its MIC (see ``universe.CALENDAR_FOR_MIC``).
Session labels are tz-naive dates; open and close instants are tz-aware UTC.

This module is the one place that opens exchange_calendars (:func:`calendar_data` keeps
what mib reads from each calendar on disk between runs): :func:`get_calendar` adds the
whole-day closures of ``market.closures.CLOSURES`` that exchange_calendars lacks (e.g. the
Hong Kong typhoon and rainstorm days of September 2023) to the calendar's
``adhoc_holidays``, so its ``sessions``, ``opens``, ``closes``, ``is_session`` and
``next_session`` -- and :func:`sessions` and :func:`session_bounds` here -- all leave
them out.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

    import exchange_calendars as xc
    import numpy as np
    import pandas as pd

    from backtest.market.calendar_cache import CalendarData

CALENDAR_START = "2005-01-03"


@lru_cache(maxsize=16)
def get_calendar(name: str) -> xc.ExchangeCalendar:
    """The calendar ``name`` (XNYS, XNAS, XSHG, XHKG or a MIC), from 2005, closures applied.

    Without rows in ``market.closures`` this is exchange_calendars' own calendar; with
    them, an instance of a subclass of its class whose ``adhoc_holidays`` add those dates
    (the override point exchange_calendars documents for ad-hoc holidays; nothing is
    registered with exchange_calendars, so its own ``get_calendar`` is unchanged).
    """
    import exchange_calendars as xc

    from backtest.market.closures import closures_for
    from backtest.universe import CALENDAR_FOR_MIC

    real = xc.resolve_alias(CALENDAR_FOR_MIC.get(name, name))
    extra = closures_for(real)
    if not extra:
        return xc.get_calendar(real, start=CALENDAR_START)
    base = type(xc.get_calendar(real, start=CALENDAR_START))
    return _with_closures(base, tuple(c.date for c in extra))(start=CALENDAR_START)


def _with_closures(
    base: type[xc.ExchangeCalendar], dates: tuple[dt.date, ...]
) -> type[xc.ExchangeCalendar]:
    """A subclass of ``base`` whose ``adhoc_holidays`` also hold ``dates``."""
    import pandas as pd

    added = [pd.Timestamp(d) for d in dates]

    class WithClosures(base):  # type: ignore[misc]  # base is a runtime-chosen class
        @property
        def adhoc_holidays(self) -> list[pd.Timestamp]:
            return [*super().adhoc_holidays, *added]

    WithClosures.__name__ = WithClosures.__qualname__ = f"{base.__name__}WithClosures"
    return WithClosures


@lru_cache(maxsize=16)
def calendar_data(name: str) -> CalendarData:
    """What mib reads from calendar ``name`` (sessions, opens, closes, time zone, named
    holidays): from the disk cache (:mod:`backtest.market.calendar_cache`) when it holds
    this calendar, else built by :func:`get_calendar` and stored there.

    The sessions carry no ``freq``, whichever way they came.
    """
    import exchange_calendars as xc
    from exchange_calendars.exchange_calendar import GLOBAL_DEFAULT_END

    from backtest.market.cache import default_cache_dir
    from backtest.market.calendar_cache import cache_file, read_cached, write_cached
    from backtest.market.closures import closures_for
    from backtest.universe import CALENDAR_FOR_MIC

    real = xc.resolve_alias(CALENDAR_FOR_MIC.get(name, name))
    path = cache_file(
        default_cache_dir() / "calendars",
        real,
        xc.__version__,
        CALENDAR_START,
        GLOBAL_DEFAULT_END.date(),
        tuple(c.date for c in closures_for(real)),
    )
    data = read_cached(path)
    if data is None or data.name != real:
        data = build_calendar_data(real)
        write_cached(path, data)
    return data


def build_calendar_data(name: str) -> CalendarData:
    """:class:`CalendarData` of calendar ``name`` from exchange_calendars (no cache)."""
    import numpy as np

    from backtest.market.calendar_cache import CalendarData

    cal = get_calendar(name)
    rules = cal.regular_holidays
    named = (
        rules.holidays(cal.first_session, cal.last_session, return_name=True)
        if rules is not None
        else {}
    )

    def ns(instants: pd.Series) -> np.ndarray:
        out: np.ndarray = instants.to_numpy(dtype="datetime64[ns]").view(np.int64)
        return out

    return CalendarData(
        name=name,
        tz=str(cal.tz),
        sessions_ns=cal.sessions.to_numpy(dtype="datetime64[ns]").view(np.int64),
        opens_ns=ns(cal.opens),
        closes_ns=ns(cal.closes),
        holidays=tuple((ts.date().isoformat(), str(n)) for ts, n in named.items()),
    )


@lru_cache(maxsize=16)
def _bounds(name: str) -> pd.DataFrame:
    return calendar_data(name).bounds()


def sessions(name: str, start: object = None, end: object = None) -> pd.DatetimeIndex:
    """Sessions of calendar ``name`` between ``start`` and ``end`` inclusive (tz-naive)."""
    import pandas as pd

    s = _bounds(name).index
    lo = pd.Timestamp(start) if start is not None else s[0]
    hi = pd.Timestamp(end) if end is not None else s[-1]
    return s[(s >= lo) & (s <= hi)]


def session_bounds(name: str) -> pd.DataFrame:
    """Open and close instants (UTC) of every session, indexed by session (a new frame
    on each call, over shared columns)."""
    return _bounds(name).copy(deep=False)
