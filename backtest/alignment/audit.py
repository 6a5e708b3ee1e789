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

    from backtest.intraday.reaction import Reaction

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


# --- The tape as a witness -------------------------------------------------------------
#
# For each stage (``effective`` excepted: it is not news) of each event that intraday bars
# cover, the reaction interval of the earliest-reacting security is set against the
# stage's recorded instant (exact) or what it allows (date-only: its local date clamped
# into its bounds).  Verdicts:
#
# ``confirmed``           exact, and the tape moved within ``late_minutes`` after it;
# ``moved_before``        the move was over before the recorded (or earliest allowed)
#                         instant: a leak, or a wrong time;
# ``recorded_too_early``  the tape stayed quiet for more than ``late_minutes`` after the
#                         recorded or assumed instant (a date-only stage's assumed instant
#                         is the unknown-time policy's);
# ``bounds_confirmed``    date-only, and the tape's window adds nothing to the bounds;
# ``bounds_proposed``     date-only, and the tape narrows what the stage allows.
#
# A date-only stage gets a proposed ``not_before`` (the start of the bar before the
# reaction bar: the news may sit in a bar whose price has not moved yet, as the H20
# 8-K accepted at 17:22:59 sits in the 17:20 bar) and ``not_after`` (the end of the
# reaction bar), each kept where the stage's own bound is tighter.  Proposals are
# written for review (:func:`proposals_yaml`); nothing is applied to the log.

TAPE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "stage",
    "time_status",
    "recorded",
    "knowable_utc",
    "security",
    "reaction_after_utc",
    "reaction_by_utc",
    "verdict",
    "proposed_not_before",
    "proposed_not_after",
    "changes",
    "evidence",
)


def _iso_et(instant: object, zone: str) -> str:
    import pandas as pd

    return "" if instant is None else pd.Timestamp(instant).tz_convert(zone).isoformat()


def _recorded(stage: Stage) -> str:
    if stage.at is not None:
        return f"at {stage.at.isoformat()}"
    bounds = [
        f"{name} {value.isoformat()}"
        for name, value in (("not_before", stage.not_before), ("not_after", stage.not_after))
        if value is not None
    ]
    return f"date {stage.local_date:%Y-%m-%d}" + (f" ({', '.join(bounds)})" if bounds else "")


def tape_verdict(
    stage: Stage, after: object, by: object, bar_seconds: int, *, late_minutes: int = 60
) -> tuple[str, object, object]:
    """The verdict on one stage and the (not_before, not_after) the tape allows (UTC)."""
    import pandas as pd

    after_ts, by_ts = pd.Timestamp(after), pd.Timestamp(by)
    late = pd.Timedelta(minutes=late_minutes)
    known = pd.Timestamp(knowable_instant(stage, "business_hours").at_utc)
    lo = pd.Timestamp(knowable_instant(stage, "start_of_day").at_utc)
    if stage.at is not None:
        if by_ts <= known:
            return "moved_before", None, None
        return ("recorded_too_early" if after_ts - known > late else "confirmed"), None, None
    hi = pd.Timestamp(knowable_instant(stage, "end_of_day").at_utc)
    nb = after_ts - pd.Timedelta(seconds=bar_seconds)
    na = by_ts
    if stage.not_before is not None:
        nb = max(nb, pd.Timestamp(stage.not_before))
    if stage.not_after is not None:
        na = min(na, pd.Timestamp(stage.not_after))
    tape_nb, tape_na = after_ts - pd.Timedelta(seconds=bar_seconds), by_ts
    if by_ts <= lo:
        return "moved_before", tape_nb, tape_na
    if nb > na or (after_ts - max(known, lo) > late and after_ts > hi):
        return "recorded_too_early", tape_nb, tape_na
    same = (
        stage.not_before is not None
        and stage.not_after is not None
        and nb == pd.Timestamp(stage.not_before)
        and na == pd.Timestamp(stage.not_after)
    )
    if same:
        return "bounds_confirmed", nb, na
    if after_ts - known > late:
        return "recorded_too_early", nb, na
    return "bounds_proposed", nb, na


def tape_audit(events: Sequence[Event], bars: object, *, spec: object = None) -> pd.DataFrame:
    """One row per (event, stage) the bars cover: the tape's interval and the verdict.

    ``bars`` is a :class:`backtest.intraday.series.BarSet`; ``spec`` an
    :class:`backtest.intraday.reaction.IntradaySpec` (default options).
    """
    import pandas as pd

    from backtest.intraday.reaction import IntradaySpec, study_event
    from backtest.intraday.run import covered, event_symbols
    from backtest.intraday.series import BarSet

    assert isinstance(bars, BarSet)
    sp = spec if isinstance(spec, IntradaySpec) else IntradaySpec()
    rows = []
    for ev in events:
        syms = event_symbols(ev, bars, None, sp)
        for st in ev.stages:
            if st.stage == "effective":
                continue
            known = knowable_instant(st, sp.policy).at_utc
            if not syms or not covered(bars, syms, int(known.timestamp() * 1e9)):
                continue
            res = study_event(ev.id, st, bars, syms, sp)
            hits = [r for r in res.reactions if r.reaction_by_utc is not None]
            if not hits:
                continue
            first = min(hits, key=lambda r: (r.reaction_by_utc, r.security))
            step = _reaction_bar_seconds(res.paths, first)
            verdict, nb, na = tape_verdict(
                st, first.reaction_after_utc, first.reaction_by_utc, step
            )
            changes = _changes(st, nb, na)
            rows.append(
                {
                    "event_id": ev.id,
                    "stage": st.stage,
                    "time_status": time_status(st),
                    "recorded": _recorded(st),
                    "knowable_utc": pd.Timestamp(known),
                    "security": first.security,
                    "reaction_after_utc": pd.Timestamp(first.reaction_after_utc),
                    "reaction_by_utc": pd.Timestamp(first.reaction_by_utc),
                    "verdict": verdict,
                    "proposed_not_before": _iso_et(nb, st.timezone),
                    "proposed_not_after": _iso_et(na, st.timezone),
                    "changes": ", ".join(changes),
                    "evidence": f"{first.security} vs {first.benchmark or 'raw'}, "
                    f"|z| >= {first.threshold:g}; {first.note}",
                }
            )
    return pd.DataFrame(rows, columns=list(TAPE_COLUMNS))


def _reaction_bar_seconds(paths: pd.DataFrame, reaction: Reaction) -> int:
    """The bar length before the reaction (the step between the two bars before it)."""
    import pandas as pd

    by = pd.Timestamp(reaction.reaction_by_utc)
    after = pd.Timestamp(reaction.reaction_after_utc)
    g = paths[paths["security"] == reaction.security]
    t = pd.DatetimeIndex(g["bar_utc"])
    before = t[t < after]
    if len(before) >= 2:
        return int((before[-1] - before[-2]).total_seconds())
    return int(min((by - after).total_seconds(), 300))


def _changes(stage: Stage, nb: object, na: object) -> list[str]:
    import pandas as pd

    if stage.at is not None or nb is None or na is None:
        return []
    out = []
    if stage.not_before is None or pd.Timestamp(nb) != pd.Timestamp(stage.not_before):
        out.append("not_before")
    if stage.not_after is None or pd.Timestamp(na) != pd.Timestamp(stage.not_after):
        out.append("not_after")
    return out


def proposals_yaml(table: pd.DataFrame, log_version: str) -> str:
    """The date-only stages whose bounds the tape would change, as YAML for review."""
    import yaml

    props = []
    for r in table.itertuples(index=False):
        if not r.changes:
            continue
        props.append(
            {
                "event_id": r.event_id,
                "stage": r.stage,
                "verdict": r.verdict,
                "recorded": r.recorded,
                "proposed": {
                    "not_before": r.proposed_not_before,
                    "not_after": r.proposed_not_after,
                },
                "changes": r.changes,
                "evidence": f"reaction between {r.reaction_after_utc.isoformat()} and "
                f"{r.reaction_by_utc.isoformat()} ({r.evidence})",
            }
        )
    head = (
        "# Bounds proposed by the tape (mib events audit --bars). NOTHING HERE IS APPLIED.\n"
        "# Review each one; to adopt it, amend the stage with 'mib events amend ID --set\n"
        "# stages=[...]' and cite the bars in the stage's note.\n"
    )
    body = {"log_version": log_version, "proposals": props}
    return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
