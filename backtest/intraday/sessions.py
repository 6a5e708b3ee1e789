"""Pre-market, regular and post-market bars, from the exchange calendar.

A bar is tagged by where its **start** falls on its exchange's local date:

``regular``  open <= start < close of that date's session (the calendar's actual
             close: 13:00 ET on US half days such as 2025-07-03 and 2025-11-28);
``pre``      the date is a session and start < its open;
``post``     the date is a session and start >= its close (a 16:00 closing-print bar
             is ``post``);
``closed``   the local date is not a session (weekend, holiday).

Sessions come from :func:`backtest.market.calendars.get_calendar` (exchange_calendars
with the package's closures).  A lunch break (Shanghai, Hong Kong) counts as regular.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

SessionName = Literal["pre", "regular", "post", "closed"]
SESSION_NAMES: tuple[SessionName, ...] = ("pre", "regular", "post", "closed")
PRE, REGULAR, POST, CLOSED = 0, 1, 2, 3
Int64Array = npt.NDArray[np.int64]
Int8Array = npt.NDArray[np.int8]


def tag_kernel(
    local_day_ns: Int64Array,
    start_ns: Int64Array,
    session_days_ns: Int64Array,
    opens_ns: Int64Array,
    closes_ns: Int64Array,
) -> Int8Array:
    """Session codes (PRE, REGULAR, POST, CLOSED) for bar starts; pure numpy.

    ``local_day_ns``: each bar's local calendar date (midnight, as naive ns);
    ``session_days_ns``: the calendar's session labels, increasing, with their UTC
    ``opens_ns``/``closes_ns``.
    """
    pos = np.searchsorted(session_days_ns, local_day_ns)
    safe = np.minimum(pos, len(session_days_ns) - 1)
    is_session = (pos < len(session_days_ns)) & (session_days_ns[safe] == local_day_ns)
    code = np.where(
        start_ns < opens_ns[safe], PRE, np.where(start_ns >= closes_ns[safe], POST, REGULAR)
    )
    out: Int8Array = np.where(is_session, code, CLOSED).astype(np.int8)
    return out


def tag_sessions(calendar: str, start_ns: Int64Array) -> Int8Array:
    """Session codes of bars starting at ``start_ns`` (UTC) on ``calendar``."""
    import pandas as pd

    from backtest.alignment.sessions import session_table

    table = session_table(calendar)
    local = pd.DatetimeIndex(pd.to_datetime(start_ns, utc=True)).tz_convert(table.tz)
    day = local.tz_localize(None).normalize().as_unit("ns").asi8.astype(np.int64)
    days = table.sessions.as_unit("ns").asi8.astype(np.int64)
    return tag_kernel(day, start_ns, days, table.opens_ns, table.closes_ns)


def session_names(codes: Int8Array) -> npt.NDArray[np.object_]:
    """Codes as names (``pre``, ``regular``, ``post``, ``closed``)."""
    out: npt.NDArray[np.object_] = np.array(SESSION_NAMES, dtype=object)[codes]
    return out


def calendar_for(symbol: str, mic_calendar: dict[str, str] | None = None) -> str:
    """The calendar of ``symbol``: the universe's when known, else by suffix (US by default)."""
    if mic_calendar and symbol in mic_calendar:
        return mic_calendar[symbol]
    if symbol.endswith((".SS", ".SZ")):
        return "XSHG"
    if symbol.endswith(".HK"):
        return "XHKG"
    return "XNYS"
