"""Exchange sessions from exchange_calendars, cached per calendar.

Every security maps to a calendar through its MIC (see ``universe.CALENDAR_FOR_MIC``).
Session labels are tz-naive dates; open and close instants are tz-aware UTC.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import exchange_calendars as xc
    import pandas as pd

CALENDAR_START = "2005-01-03"


@lru_cache(maxsize=16)
def get_calendar(name: str) -> xc.ExchangeCalendar:
    """The exchange_calendars calendar ``name`` (XNYS, XNAS, XSHG, XHKG), from 2005."""
    import exchange_calendars as xc

    from backtest.universe import CALENDAR_FOR_MIC

    return xc.get_calendar(CALENDAR_FOR_MIC.get(name, name), start=CALENDAR_START)


def sessions(name: str, start: object = None, end: object = None) -> pd.DatetimeIndex:
    """Sessions of calendar ``name`` between ``start`` and ``end`` inclusive (tz-naive)."""
    import pandas as pd

    cal = get_calendar(name)
    s = cal.sessions
    lo = pd.Timestamp(start) if start is not None else s[0]
    hi = pd.Timestamp(end) if end is not None else s[-1]
    return s[(s >= lo) & (s <= hi)]


def session_bounds(name: str) -> pd.DataFrame:
    """Open and close instants (UTC) of every session, indexed by session."""
    import pandas as pd

    cal = get_calendar(name)
    return pd.DataFrame({"open": cal.opens, "close": cal.closes})
