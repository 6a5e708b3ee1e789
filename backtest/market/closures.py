"""Ad-hoc exchange closures that the installed exchange_calendars does not know.

One sourced registry, :data:`CLOSURES`, read by :func:`backtest.market.calendars.get_calendar`,
which adds these dates to the calendar's ``adhoc_holidays``; every session, open, close and
``is_session`` the project uses therefore leaves them out.

Each row is a whole trading day the exchange cancelled (a half day cancelled is not a
closure: it stays a session).  ``exchange`` is an exchange_calendars calendar name.  A row
can go once exchange_calendars excludes the date itself: ``tests/test_market_closures.py``
fails with a message naming the row when that happens (upstream: exchange_calendars issue
#600 / pull request #603 add both 2023 Hong Kong dates to ``HKAdhocClosures``; 4.13.2 still
lists them as sessions).

Sources: the HKEX notice URLs are as cited in that exchange_calendars issue; the press
reports (SCMP, Dow Jones via MarketScreener) were read and say the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

CLOSURE_COLUMNS = ("date", "exchange", "reason", "source")

_XC_ISSUE = "https://github.com/gerrymanoim/exchange_calendars/issues/600"
_SCMP_2023_09_08 = (
    "https://www.scmp.com/business/markets/article/3233800/"
    "hong-kong-halts-stock-derivative-trading-black-rainstorm-warning-"
    "imposes-second-weather-disruption"
)


@dataclass(frozen=True, slots=True)
class Closure:
    """One whole-day closure of ``exchange`` (an exchange_calendars calendar name)."""

    date: dt.date
    exchange: str
    reason: str
    source: str


CLOSURES: tuple[Closure, ...] = (
    Closure(
        date=dt.date(2023, 9, 1),
        exchange="XHKG",
        reason="Typhoon Signal No. 8 (Super Typhoon Saola) still in force at noon: HKEX "
        "cancelled all trading sessions of the day, After-Hours Trading included",
        source="HKEX, 'No Trading Today in Securities and Derivatives Markets Due to Issuance "
        "of Typhoon Signal No. 8', 1 Sep 2023, https://www.hkex.com.hk/News/"
        f"Market-Communications/2023/2309012news?sc_lang=en (cited in {_XC_ISSUE}); "
        f"SCMP, 8 Sep 2023, {_SCMP_2023_09_08} ('Markets were also halted on "
        "September 1')",
    ),
    Closure(
        date=dt.date(2023, 9, 8),
        exchange="XHKG",
        reason="Black Rainstorm Warning and Extreme Conditions still in force at noon: HKEX "
        "cancelled all trading sessions of the day, After-Hours Trading included",
        source="HKEX, 'No Trading Today in Securities and Derivatives Markets Due to Black "
        "Rainstorm Warning and Extreme Conditions', 8 Sep 2023, https://www.hkex.com.hk/"
        f"News/Market-Communications/2023/2309083news?sc_lang=en (cited in {_XC_ISSUE}); "
        "Dow Jones (P.R. Venkat), 'Hong Kong Stock Exchange Cancels Friday Trading Due "
        "to Bad Weather', 8 Sep 2023, https://www.marketscreener.com/quote/index/"
        "HONG-KONG-HANG-SENG-101835/news/Hong-Kong-Stock-Exchange-Cancels-Friday-"
        f"Trading-Due-to-Bad-Weather-2nd-Update-44799520/; SCMP, {_SCMP_2023_09_08}",
    ),
)


def closures_for(calendar: str) -> tuple[Closure, ...]:
    """The rows of :data:`CLOSURES` for exchange_calendars calendar ``calendar``, by date."""
    return tuple(sorted((c for c in CLOSURES if c.exchange == calendar), key=lambda c: c.date))


def closures_frame() -> pd.DataFrame:
    """:data:`CLOSURES` as a table with columns ``CLOSURE_COLUMNS`` (``date`` tz-naive)."""
    import pandas as pd

    frame = pd.DataFrame(
        [[getattr(c, k) for k in CLOSURE_COLUMNS] for c in CLOSURES], columns=list(CLOSURE_COLUMNS)
    )
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame
