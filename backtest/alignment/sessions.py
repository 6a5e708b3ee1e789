"""Sessions of one exchange as arrays: the day-0 kernel and session windows.

Day 0 (DESIGN section 3): with close-to-close returns, news knowable at
instant t first shows in the return of the first session whose close is
**strictly after** t.  News knowable exactly at a close is therefore not in
that close (the closing auction has already fixed the price) and day 0 is
the next session.  Early closes (XHKG Christmas Eve, New Year's Eve, Lunar
New Year's Eve; US half days) use the calendar's actual close.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from backtest.alignment.spec import SessionOutOfRange

if TYPE_CHECKING:
    import pandas as pd

IntArray = npt.NDArray[np.int64]


def first_close_after(closes_ns: IntArray, instants_ns: IntArray) -> IntArray:
    """Index of the first close strictly after each instant (len(closes) if none).

    ``closes_ns`` must be increasing (UTC nanoseconds).  Pure numpy.
    """
    return np.searchsorted(closes_ns, instants_ns, side="right").astype(np.int64)


@dataclass(frozen=True, slots=True)
class SessionTable:
    """One calendar's sessions with UTC open/close instants as int64 nanoseconds."""

    name: str
    tz: str
    sessions: pd.DatetimeIndex
    opens_ns: IntArray
    closes_ns: IntArray
    regular_close: dt.time

    def __len__(self) -> int:
        return len(self.sessions)

    def position(self, day0: object) -> int:
        """Position of session ``day0``; raises if it is not a session."""
        import pandas as pd

        ts = pd.Timestamp(day0)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)
        pos = int(self.sessions.searchsorted(ts))
        if ts != ts.normalize() or pos >= len(self.sessions) or self.sessions[pos] != ts:
            raise SessionOutOfRange(
                f"{ts.date()} is not a {self.name} session",
                value=str(ts),
                expected=f"a session of {self.name}",
            )
        return pos

    def day0_positions(self, instants_ns: IntArray) -> IntArray:
        """Day-0 positions for UTC instants; -1 where the calendar cannot tell.

        -1 marks instants before the calendar's first open (earlier sessions
        are unknown) or at/after its last close (no session after them).
        """
        pos = first_close_after(self.closes_ns, instants_ns)
        bad = (pos >= len(self.closes_ns)) | ((pos == 0) & (instants_ns < self.opens_ns[0]))
        return np.where(bad, -1, pos)


@lru_cache(maxsize=16)
def session_table(calendar: str) -> SessionTable:
    """The cached :class:`SessionTable` of an exchange_calendars calendar."""
    from backtest.market.calendars import calendar_data, session_bounds

    bounds = session_bounds(calendar)
    tz = calendar_data(calendar).tz
    local_close = bounds["close"].dt.tz_convert(tz).dt.time
    regular = local_close.value_counts().index[0]
    return SessionTable(
        name=calendar,
        tz=tz,
        sessions=bounds.index,
        opens_ns=bounds["open"].to_numpy(dtype="datetime64[ns]").view(np.int64),
        closes_ns=bounds["close"].to_numpy(dtype="datetime64[ns]").view(np.int64),
        regular_close=regular,
    )


def session_offset(calendar: str, day0: object, k: int) -> pd.Timestamp:
    """The session ``k`` sessions after ``day0`` (before, if k < 0) on ``calendar``."""
    table = session_table(calendar)
    pos = table.position(day0) + int(k)
    if not 0 <= pos < len(table):
        raise SessionOutOfRange(
            f"offset {k:+d} from {day0} leaves the {calendar} calendar",
            value=k,
            expected=f"sessions between {table.sessions[0].date()} and {table.sessions[-1].date()}",
        )
    return table.sessions[pos]


def window_sessions(calendar: str, day0: object, start: int, end: int) -> pd.DatetimeIndex:
    """Sessions at relative days ``start..end`` (inclusive) around ``day0``."""
    if start > end:
        raise SessionOutOfRange(
            "window start is after its end", value=(start, end), expected="start <= end"
        )
    first = session_offset(calendar, day0, start)
    last = session_offset(calendar, day0, end)
    s = session_table(calendar).sessions
    return s[(s >= first) & (s <= last)]
