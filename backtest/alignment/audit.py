"""Audit of the event clock: for each event, how well its day 0 is pinned, and by what.

For the stage that sets day 0 (``official`` by default), the time status is

``exact``    the stage has ``at`` (a sourced clock time);
``bounded``  date-only with ``not_before`` and/or ``not_after``;
``policy``   date-only without bounds: day 0 comes from the unknown-time policy.

Whatever the status, the stage is **pinned** on an exchange when the earliest
and the latest instant the stage allows (its local date from 00:00 to 23:59:59,
clamped into its bounds; a single instant when exact) give the same day 0
there.  A Sunday report is pinned everywhere with no bounds at all; a weekday
date-only stage usually is not (before or after the US close?).  The audit
reports both, per exchange, and the share of events pinned on every exchange.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from backtest.alignment.knowable import knowable_instant
from backtest.alignment.sessions import session_table
from backtest.eventlog.lint import has_primary_source, lint_event
from backtest.eventlog.models import Event, Stage

if TYPE_CHECKING:
    import pandas as pd

TimeStatus = Literal["exact", "bounded", "policy"]
AUDIT_CALENDARS: tuple[str, ...] = ("XNYS", "XSHG", "XHKG")
AUDIT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "type",
    "direction",
    "confidence",
    "primary_source",
    "stage",
    "local_date",
    "timezone",
    "time_status",
    *(f"day0_{c}" for c in AUDIT_CALENDARS),
    "pinned",
    "unpinned_on",
    "flags",
)


def time_status(stage: Stage) -> TimeStatus:
    if stage.at is not None:
        return "exact"
    if stage.not_before is not None or stage.not_after is not None:
        return "bounded"
    return "policy"


@dataclass(frozen=True, slots=True)
class StageDay0:
    """Day 0 of one stage on one exchange: under the policy, earliest and latest."""

    calendar: str
    assumed: str  # YYYY-MM-DD under the business-hours policy ('' if unknown)
    earliest: str
    latest: str

    @property
    def pinned(self) -> bool:
        return bool(self.earliest) and self.earliest == self.latest


def _day0(calendar: str, at_utc: object) -> str:
    import pandas as pd

    table = session_table(calendar)
    ns = np.array([pd.Timestamp(at_utc).value], dtype=np.int64)
    pos = int(table.day0_positions(ns)[0])
    return "" if pos < 0 else f"{table.sessions[pos]:%Y-%m-%d}"


def stage_day0(stage: Stage, calendar: str) -> StageDay0:
    """Day 0 on ``calendar`` under the default policy and at both ends of what the stage allows."""
    assumed = knowable_instant(stage, "business_hours").at_utc
    lo = knowable_instant(stage, "start_of_day").at_utc
    hi = knowable_instant(stage, "end_of_day").at_utc
    return StageDay0(calendar, _day0(calendar, assumed), _day0(calendar, lo), _day0(calendar, hi))


def audit_events(
    events: Sequence[Event], *, stage: str = "official", calendars: Sequence[str] = AUDIT_CALENDARS
) -> pd.DataFrame:
    """One row per event: the day-0 stage, its time status, day 0 per exchange, and flags."""
    import pandas as pd

    rows = []
    for ev in events:
        st = ev.chosen_stage(stage)
        flags = [f"{lint.code}: {lint.field}" for lint in lint_event(ev)]
        if st is None:
            rows.append(
                {
                    "event_id": ev.id,
                    "type": ev.type,
                    "direction": ev.direction,
                    "confidence": ev.confidence,
                    "primary_source": has_primary_source(ev),
                    "stage": "",
                    "flags": "; ".join([*flags, f"no {stage} stage"]),
                }
            )
            continue
        d0 = [stage_day0(st, c) for c in calendars]
        unpinned = [d.calendar for d in d0 if not d.pinned]
        row: dict[str, object] = {
            "event_id": ev.id,
            "type": ev.type,
            "direction": ev.direction,
            "confidence": ev.confidence,
            "primary_source": has_primary_source(ev),
            "stage": st.stage,
            "local_date": f"{st.local_date:%Y-%m-%d}",
            "timezone": st.timezone,
            "time_status": time_status(st),
            "pinned": not unpinned,
            "unpinned_on": ", ".join(
                f"{d.calendar} {d.earliest}|{d.latest}" for d in d0 if not d.pinned
            ),
            "flags": "; ".join(flags),
        }
        for c, d in zip(calendars, d0, strict=True):
            row[f"day0_{c}"] = d.assumed
        rows.append(row)
    cols = [c for c in AUDIT_COLUMNS if not c.startswith("day0_")]
    cols[cols.index("pinned") : cols.index("pinned")] = [f"day0_{c}" for c in calendars]
    return pd.DataFrame(rows, columns=cols)


def audit_summary(table: pd.DataFrame) -> list[str]:
    """Lines with the figures the curation targets: status counts and the pinned share."""
    n = len(table)
    if not n:
        return ["no events"]
    counts = table["time_status"].value_counts()
    exact, bounded, policy = (int(counts.get(k, 0)) for k in ("exact", "bounded", "policy"))
    pinned = int(table["pinned"].fillna(False).astype(bool).sum())
    timed = exact + bounded
    flagged = int((table["flags"].fillna("").str.contains("time_fact_without_bounds")).sum())
    high = table[table["confidence"] == "high"]
    return [
        f"day-0 stages: {n} events; exact {exact}, bounded {bounded}, policy {policy} "
        f"({timed / n:.0%} carry a clock time or bounds)",
        f"pinned to one session on every exchange ({', '.join(AUDIT_CALENDARS)}): "
        f"{pinned} of {n} ({pinned / n:.0%})",
        f"confidence high: {len(high)} events, {int(high['primary_source'].sum())} with a "
        f"primary source; events with a time fact in a note but no bounds: {flagged}",
    ]
