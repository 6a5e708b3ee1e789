"""Align event stages with each security's own exchange sessions.

Result: one row per event x stage x security with day 0 on the security's
exchange (DESIGN section 3) and a line saying how it was decided; an attrition
table for every candidate instance that could not be aligned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from backtest.alignment.explain import explain_day0
from backtest.alignment.knowable import Knowable, knowable_instant
from backtest.alignment.sessions import SessionTable, session_table
from backtest.alignment.spec import AlignSpec, UnknownSelection
from backtest.eventlog.models import Event, Stage

if TYPE_CHECKING:
    import pandas as pd

    from backtest.universe import Security, Universe

INSTANCE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "stage",
    "security",
    "group",
    "exchange",
    "mic",
    "event_type",
    "direction",
    "expected_sign",
    "announced_at_utc",
    "time_known",
    "time_assumed",
    "time_policy",
    "knowable_at_utc",
    "day0",
    "day0_open_utc",
    "day0_close_utc",
    "decided_by",
)
ATTRITION_COLUMNS: tuple[str, ...] = ("event_id", "stage", "security", "reason", "detail")


@dataclass(frozen=True)
class Alignment:
    """Day-0 sessions of event stages on each security's exchange.

    instances: one row per event x stage x security, columns ``INSTANCE_COLUMNS``
               (instants tz-aware UTC; ``day0`` a tz-naive session label;
               ``expected_sign`` nullable Int64, missing where the event names
               no sign for the security).
    attrition: one row per candidate instance dropped, columns
               ``ATTRITION_COLUMNS``; ``reason`` is an ``AttritionReasonName``.
    spec:      the options used.
    """

    instances: pd.DataFrame
    attrition: pd.DataFrame
    spec: AlignSpec = field(default_factory=AlignSpec)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the instance table (tidy, stable column names)."""
        return self.instances.copy()

    def summary(self) -> str:
        """A few lines: options, instance counts by exchange, attrition by reason."""
        inst, attr = self.instances, self.attrition
        lines = [
            f"Alignment: {self.spec.describe()}",
            f"  instances: {len(inst)} ({inst['event_id'].nunique()} events x "
            f"{inst['security'].nunique()} securities)",
        ]
        if len(inst):
            by_ex = inst["exchange"].value_counts().sort_index()
            lines.append("  by exchange: " + ", ".join(f"{k} {v}" for k, v in by_ex.items()))
            n_assumed = int(inst["time_assumed"].sum())
            lines.append(
                f"  time assumed: {n_assumed} instances "
                f"({inst.loc[inst['time_assumed'], 'event_id'].nunique()} events)"
            )
        by_reason = attr["reason"].value_counts().sort_index() if len(attr) else {}
        reasons = ", ".join(f"{k} {v}" for k, v in dict(by_reason).items()) or "none"
        lines.append(f"  attrition: {len(attr)} ({reasons})")
        return "\n".join(lines)


def _pick_stage(event: Event, spec: AlignSpec) -> Stage | None:
    return event.chosen_stage(spec.stage)


def _selection(universe: Universe, spec: AlignSpec) -> dict[str, Security]:
    if spec.securities is None:
        return {s.symbol: s for s in universe.securities if s.group != "benchmark"}
    chosen: dict[str, Security] = {}
    for token in spec.securities:
        try:
            found = universe.resolve(token)
        except KeyError:
            raise UnknownSelection(
                "unknown security or group",
                field="securities",
                value=token,
                expected="a symbol or group of the universe",
            ) from None
        chosen.update((s.symbol, s) for s in found)
    return chosen


def _expected_signs(event: Event, universe: Universe) -> tuple[dict[str, int], list[str]]:
    """Sign per symbol (symbol entries beat group entries) and unknown targets."""
    from backtest.universe import GROUPS

    signs: dict[str, int] = {}
    unknown: list[str] = []
    ordered = sorted(event.affected, key=lambda a: a.target not in GROUPS)  # groups first
    for entry in ordered:
        try:
            found = universe.resolve(entry.target)
        except KeyError:
            unknown.append(entry.target)
            continue
        signs.update((s.symbol, int(entry.sign)) for s in found)
    return signs, unknown


def _drop_reason(
    sec: Security, day0: pd.Timestamp, data_ranges: Mapping[str, tuple[dt.date, dt.date]] | None
) -> tuple[str, str] | None:
    if sec.listed is not None and day0.date() < dt.date.fromisoformat(sec.listed):
        return "before_listing", f"day 0 {day0.date()} is before listing on {sec.listed}"
    if data_ranges is None:
        return None
    if sec.symbol not in data_ranges:
        return "no_data", "no price data range for this security"
    lo, hi = data_ranges[sec.symbol]
    if not lo <= day0.date() <= hi:
        return "outside_data_range", f"day 0 {day0.date()} outside data {lo}..{hi}"
    return None


@dataclass(frozen=True, slots=True)
class _Day0:
    pos: int
    text: str


def _day0(table: SessionTable, known: Knowable) -> _Day0:
    import pandas as pd

    at_ns = int(pd.Timestamp(known.at_utc).value)
    pos = int(table.day0_positions(np.array([at_ns], dtype=np.int64))[0])
    if pos < 0:
        return _Day0(
            -1,
            f"{known.at_utc:%Y-%m-%d %H:%M} UTC is outside the {table.name} "
            f"calendar ({table.sessions[0].date()}..{table.sessions[-1].date()})",
        )
    prefix = "announced" if not known.assumed else f"assumed (date only, {known.policy})"
    return _Day0(pos, explain_day0(table, at_ns, pos, prefix))


def _candidates(
    signs: Mapping[str, int], selection: Mapping[str, Security], spec: AlignSpec
) -> list[Security]:
    if spec.coverage == "all":
        return list(selection.values())
    return [sec for sym, sec in selection.items() if sym in signs]


def _row(
    event: Event,
    stage: Stage,
    sec: Security,
    known: Knowable,
    table: SessionTable,
    d0: _Day0,
    sign: int | None,
) -> dict[str, object]:
    import pandas as pd

    return {
        "event_id": event.id,
        "stage": stage.stage,
        "security": sec.symbol,
        "group": sec.group,
        "exchange": table.name,
        "mic": sec.mic,
        "event_type": event.type,
        "direction": event.direction,
        "expected_sign": sign,
        "announced_at_utc": stage.at_utc,
        "time_known": stage.time_known,
        "time_assumed": known.assumed,
        "time_policy": known.policy,
        "knowable_at_utc": known.at_utc,
        "day0": table.sessions[d0.pos],
        "day0_open_utc": pd.Timestamp(int(table.opens_ns[d0.pos]), tz="UTC"),
        "day0_close_utc": pd.Timestamp(int(table.closes_ns[d0.pos]), tz="UTC"),
        "decided_by": d0.text,
    }


def _instance_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    import pandas as pd

    cols = {c: [r[c] for r in rows] for c in INSTANCE_COLUMNS}
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in cols.items()})
    for c in ("announced_at_utc", "knowable_at_utc", "day0_open_utc", "day0_close_utc"):
        frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[ns, UTC]")
    frame["day0"] = pd.to_datetime(frame["day0"]).astype("datetime64[ns]")
    frame["expected_sign"] = frame["expected_sign"].astype("Int64")
    for c in ("time_known", "time_assumed"):
        frame[c] = frame[c].astype(bool)
    for c in INSTANCE_COLUMNS:
        if frame[c].dtype == object:
            frame[c] = frame[c].astype("str")
    return frame.sort_values(
        ["knowable_at_utc", "event_id", "security"], ignore_index=True, kind="stable"
    )


def _attrition_frame(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=list(ATTRITION_COLUMNS), dtype="str")


def align(
    events: Sequence[Event],
    universe: Universe,
    spec: AlignSpec | None = None,
    *,
    data_ranges: Mapping[str, tuple[dt.date, dt.date]] | None = None,
) -> Alignment:
    """Day 0 of each event's chosen stage on each selected security's exchange.

    Day 0 is the first session of the security's own exchange whose close is
    strictly after the instant the stage became knowable (exact, or assumed by
    ``spec.unknown_time``).  Candidates that cannot be aligned go to the
    attrition table: the event lacks the stage (``stage_missing``), an affected
    target is not in the universe (``not_in_universe``, only without a
    ``spec.securities`` selection), the instant is outside the calendar
    (``no_session``), day 0 precedes ``Security.listed`` (``before_listing``),
    or, when ``data_ranges`` (symbol -> first and last price date) is given,
    the security has no range (``no_data``) or day 0 is outside it
    (``outside_data_range``).
    """
    spec = spec if spec is not None else AlignSpec()
    selection = _selection(universe, spec)
    rows: list[dict[str, object]] = []
    dropped: list[tuple[str, str, str, str, str]] = []
    for event in events:
        signs, unknown = _expected_signs(event, universe)
        stage = _pick_stage(event, spec)
        stage_name = stage.stage if stage is not None else spec.stage
        if spec.securities is None:
            dropped += [
                (
                    event.id,
                    stage_name,
                    t,
                    "not_in_universe",
                    f"affected target {t!r} is neither a symbol nor a group",
                )
                for t in unknown
            ]
        candidates = _candidates(signs, selection, spec)
        if stage is None:
            have = ", ".join(s.stage for s in event.stages)
            dropped += [
                (event.id, stage_name, sec.symbol, "stage_missing", f"event has stages: {have}")
                for sec in candidates
            ]
            continue
        known = knowable_instant(stage, spec.effective_policy)
        per_calendar: dict[str, _Day0] = {}
        for sec in candidates:
            table = session_table(sec.calendar)
            if table.name not in per_calendar:
                per_calendar[table.name] = _day0(table, known)
            d0 = per_calendar[table.name]
            if d0.pos < 0:
                dropped.append((event.id, stage_name, sec.symbol, "no_session", d0.text))
                continue
            why = _drop_reason(sec, table.sessions[d0.pos], data_ranges)
            if why is not None:
                dropped.append((event.id, stage_name, sec.symbol, *why))
                continue
            rows.append(_row(event, stage, sec, known, table, d0, signs.get(sec.symbol)))
    return Alignment(_instance_frame(rows), _attrition_frame(dropped), spec)
