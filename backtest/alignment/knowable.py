"""When a stage became knowable: the actual instant, or an assumed one.

Exact stages are knowable at their timestamp.  A date-only stage
(``time_known: false``) is placed on its local date, in the stage's own time
zone (the authority's or the source's), by a named policy:

``business_hours`` (default)
    12:00 local.  Authorities publish in office hours (roughly 09:00-17:00),
    and noon is the middle of that span, so the assumed instant is at most
    about half a working day from the true one.  Noon also sits where the
    answer is least fragile: in New York it is inside the US session (day 0
    on XNAS/XNYS is that date; in Shanghai/Hong Kong it is the next session,
    since their sessions of that date closed at 03:00-04:00 New York time);
    in Beijing it is inside the XSHG/XHKG day (lunch break) and before the
    US session of the same calendar date.
``start_of_day``
    00:00 local: the earliest instant the date allows (public from the start
    of the day; day 0 can only be earlier than under the other policies).
``end_of_day``
    23:59:59 local: the latest instant of the date, i.e. after the close of
    business (day 0 can only be later).

``AlignSpec.alternate`` swaps in ``ALTERNATE_POLICY`` for a sensitivity run.

Bounds: a date-only stage may carry ``not_before`` (e.g. an 8-K reported as
filed after the close) and ``not_after`` (e.g. the time stamp of the first
report).  The assumed instant is clamped into [not_before, not_after], and the
policy is recorded as e.g. ``business_hours, clamped to not_before``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from backtest.alignment.spec import UnknownTime
from backtest.eventlog.models import Stage

ASSUMED_LOCAL_TIME: dict[str, dt.time] = {
    "business_hours": dt.time(12, 0),
    "start_of_day": dt.time(0, 0),
    "end_of_day": dt.time(23, 59, 59),
}


@dataclass(frozen=True, slots=True)
class Knowable:
    """The instant a stage is taken to be public.

    at_utc:  tz-aware UTC instant used for day 0.
    assumed: True when the stage is date-only and ``at_utc`` came from a policy.
    policy:  ``exact`` or the unknown-time policy applied.
    """

    at_utc: dt.datetime
    assumed: bool
    policy: str


def knowable_instant(stage: Stage, policy: UnknownTime) -> Knowable:
    """The instant ``stage`` became public, exact or assumed under ``policy``."""
    exact = stage.at_utc
    if exact is not None:
        return Knowable(at_utc=exact, assumed=False, policy="exact")
    local = dt.datetime.combine(
        stage.local_date, ASSUMED_LOCAL_TIME[policy], tzinfo=ZoneInfo(stage.timezone)
    )
    at = local.astimezone(dt.UTC)
    label: str = policy
    if stage.not_before is not None and at < stage.not_before:
        at, label = stage.not_before.astimezone(dt.UTC), f"{policy}, clamped to not_before"
    if stage.not_after is not None and at > stage.not_after:
        at, label = stage.not_after.astimezone(dt.UTC), f"{policy}, clamped to not_after"
    return Knowable(at_utc=at, assumed=True, policy=label)
