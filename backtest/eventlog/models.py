"""Validated models of events, their stages, affected securities and sources.

An event is what the catalog holds after the records of the log are folded.
Timestamps are either exact (``at``: ISO 8601 with a UTC offset, and the IANA
``timezone`` of the authority) or date-only (``date`` in the authority's
``timezone`` with ``time_known: false``).  Naive timestamps are refused, and so
is an ``at`` whose offset is not the offset of ``timezone`` at that instant
(``+09:00`` on a New York stage).  Text fields (:data:`Text`) refuse control
characters other than newline and tab (NUL, ESC, ...), which would otherwise
reach terminals and files raw.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

EventType = Literal[
    "restriction",
    "tightening",
    "relaxation",
    "licence_grant",
    "rescission",
    "entity_listing",
    "countermeasure",
    "company_disclosure",
    "confounder",
]
EVENT_TYPES: tuple[str, ...] = (
    "restriction",
    "tightening",
    "relaxation",
    "licence_grant",
    "rescission",
    "entity_listing",
    "countermeasure",
    "company_disclosure",
    "confounder",
)
StageName = Literal["leak", "announcement", "filing", "publication", "effective"]
STAGES: tuple[str, ...] = ("leak", "announcement", "filing", "publication", "effective")
Direction = Literal["tightening", "easing", "neutral"]
Confidence = Literal["high", "medium", "low"]
Sign = Literal[-1, 0, 1]

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "BS",
    "\x0b": "VT",
    "\x0c": "FF",
    "\x0d": "CR",
    "\x1b": "ESC",
    "\x7f": "DEL",
    "\x85": "NEL",
}
_AT_EXAMPLE = 'at: "2025-04-15T16:10:00-04:00"'
TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"
"""Text without control characters other than newline and tab (checked in pydantic-core)."""
TEXT_EXPECTED = "text without control characters (newline and tab are allowed); remove it"

Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
"""A string without control characters other than newline and tab (NUL, ESC, DEL, ...)."""


def control_character(value: str) -> str | None:
    """Which control character ``value`` holds and where, or None (for error messages)."""
    m = _CONTROL.search(value)
    if m is None:
        return None
    ch = m.group(0)
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(ch, "control")
    return f"control character U+{ord(ch):04X} ({name}) at position {m.start()}"


def _stage_error(
    message: str, field: str, expected: str, got: object = None
) -> PydanticCustomError:
    """A stage-level error that names the field it is about and the fix."""
    ctx: dict[str, object] = {"message": message, "field": field, "expected": expected}
    if got is not None:
        ctx["got"] = got
    return PydanticCustomError("stage_inconsistent", "{message}", ctx)


def _offset(delta: dt.timedelta | None) -> str:
    """``+09:00`` / ``-04:00`` for a UTC offset."""
    minutes = int((delta or dt.timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected an IANA name such as "
            "'America/New_York' or 'Asia/Shanghai'"
        ) from None
    return name


class Stage(BaseModel):
    """When one stage of an event became public."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: StageName
    timezone: Text = Field(description="IANA zone of the authority or source")
    time_known: bool
    at: dt.datetime | None = Field(default=None, description="exact instant, with UTC offset")
    date: dt.date | None = Field(default=None, description="local date when the time is unknown")
    not_before: dt.datetime | None = Field(
        default=None,
        description="date-only stage: public no earlier than this instant "
        "(e.g. an 8-K known to be filed after the close)",
    )
    not_after: dt.datetime | None = Field(
        default=None,
        description="date-only stage: public no later than this instant "
        "(e.g. the time stamp of the first report)",
    )
    note: Text = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _check_zone(v)

    @field_validator("at", "not_before", "not_after", mode="before")
    @classmethod
    def _aware_before(cls, v: object) -> object:
        if isinstance(v, str) and not re.search(r"(Z|[+-]\d{2}:?\d{2})$", v.strip()):
            raise ValueError(
                f"naive timestamp {v!r}: expected ISO 8601 with a UTC offset, "
                "e.g. 2025-04-15T16:10:00-04:00"
            )
        return v

    @field_validator("at", "not_before", "not_after")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.utcoffset() is None:
            raise ValueError("naive timestamp: expected ISO 8601 with a UTC offset")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Stage:
        if self.time_known:
            self._check_exact()
        elif self.date is None:
            raise _stage_error(
                "time_known is false, so 'date' (the local date) is required",
                "date",
                f"date: YYYY-MM-DD in the stage's timezone, or time_known: true with {_AT_EXAMPLE}",
            )
        elif self.at is not None:
            raise _stage_error(
                "time_known is false but 'at' is given",
                "at",
                "either time_known: true with 'at', or time_known: false with "
                "'date' only; drop the one that is wrong",
            )
        if self.not_before and self.not_after and self.not_before > self.not_after:
            raise _stage_error(
                "not_before is after not_after",
                "not_before",
                "not_before (the earliest instant the stage can have been public) at or "
                "before not_after (the latest); swap them or correct the wrong one",
                got=f"not_before {self.not_before.isoformat()} > not_after "
                f"{self.not_after.isoformat()}",
            )
        return self

    def _check_exact(self) -> None:
        if self.at is None:
            raise _stage_error(
                "time_known is true but 'at' is missing",
                "at",
                f"the exact time with its UTC offset, e.g. {_AT_EXAMPLE}; or, if only the "
                "date is known, time_known: false with date: YYYY-MM-DD",
            )
        zone = ZoneInfo(self.timezone)
        local = self.at.astimezone(zone)
        if local.utcoffset() != self.at.utcoffset():
            given, actual = _offset(self.at.utcoffset()), _offset(local.utcoffset())
            raise _stage_error(
                f"UTC offset {given} of 'at' does not match timezone {self.timezone}, which "
                f"is at {actual} at that instant",
                "at",
                f"{actual}: the same instant is {local.isoformat()} in {self.timezone}; if "
                f"the clock time is right, the zone is wrong: set timezone to the zone at "
                f"{given}",
                got=self.at.isoformat(),
            )
        if self.date is not None and self.date != local.date():
            raise _stage_error(
                f"date {self.date} disagrees with 'at' in {self.timezone}",
                "date",
                f"{local.date()} (the local date of 'at'), or drop 'date'",
                got=str(self.date),
            )
        if self.not_before or self.not_after:
            raise _stage_error(
                "not_before/not_after bound a date-only stage; with time_known true give only 'at'",
                "not_before" if self.not_before else "not_after",
                "'at' alone (drop not_before/not_after), or time_known: false with 'date' "
                "and the bounds",
            )

    @property
    def local_date(self) -> dt.date:
        """The calendar date in the stage's own time zone."""
        if self.at is not None:
            return self.at.astimezone(ZoneInfo(self.timezone)).date()
        assert self.date is not None
        return self.date

    @property
    def at_utc(self) -> dt.datetime | None:
        """The exact instant in UTC, or None when only the date is known."""
        return self.at.astimezone(dt.UTC) if self.at is not None else None


class Affected(BaseModel):
    """A security (Yahoo symbol) or group the event plausibly moves, with the expected sign."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Text
    sign: Sign
    note: Text = ""

    @field_validator("sign", mode="before")
    @classmethod
    def _int_sign(cls, v: object) -> object:
        # YAML loaded without type resolution gives "-1"; Literal[-1, 0, 1] needs an int.
        if isinstance(v, str) and v.strip().lstrip("+-").isdigit():
            return int(v.strip())
        return v


class Source(BaseModel):
    """A public source for the event; primary sources preferred."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: HttpUrl
    title: Text
    publisher: Text = ""
    primary: bool = False


class Event(BaseModel):
    """One export-control (or confounding) event as it stands in the catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Text
    title: Text
    authority: Text = Field(description="who acted, e.g. US-BIS, CN-MOFCOM, NVIDIA")
    jurisdiction: Text = Field(description="ISO country code, EU, or 'private'")
    type: EventType
    direction: Direction = Field(description="tightening, easing or neutral for US-China chips")
    stages: tuple[Stage, ...] = Field(min_length=1)
    affected: tuple[Affected, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = Field(min_length=1)
    confidence: Confidence = "medium"
    notes: Text = ""

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"id {v!r} is not a slug: expected lower-case words joined by '-'")
        return v

    @field_validator("stages")
    @classmethod
    def _unique_stages(cls, v: tuple[Stage, ...]) -> tuple[Stage, ...]:
        names = [s.stage for s in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"stage(s) {sorted(dup)} given more than once")
        return v

    def stage(self, name: str) -> Stage | None:
        """The named stage, or None if the event has no such stage."""
        for s in self.stages:
            if s.stage == name:
                return s
        return None

    def first_public(self) -> Stage:
        """The earliest stage (by local date, then exact time) that made the news public."""

        def key(s: Stage) -> tuple[dt.date, dt.datetime]:
            at = s.at_utc or dt.datetime.combine(s.local_date, dt.time(23, 59), dt.UTC)
            return (s.local_date, at)

        public = [s for s in self.stages if s.stage != "effective"] or list(self.stages)
        return min(public, key=key)

    def official_stage(self) -> Stage:
        """The earliest official stage (announcement, filing or publication).

        Falls back to the earliest public stage (which may be a leak) when the
        event has none of them.
        """
        official = [s for s in self.stages if s.stage in ("announcement", "filing", "publication")]
        if not official:
            return self.first_public()

        return min(official, key=_order_instant)

    def chosen_stage(self, choice: str) -> Stage | None:
        """The stage a study uses under ``choice``: ``official``, ``first`` or a stage name.

        The one stage picker of the package (alignment, overlaps and the audit call it).
        """
        if choice == "first":
            return self.first_public()
        if choice == "official":
            return self.official_stage()
        return self.stage(choice)

    def primary_stage(self, preferred: str = "announcement") -> Stage:
        """The preferred stage if present, else the first public stage."""
        return self.stage(preferred) or self.first_public()


def _order_instant(s: Stage) -> dt.datetime:
    """When a stage is taken to have happened, for ordering stages of one event.

    Exact: its instant.  Date-only: 12:00 local in its own time zone (the default
    business-hours assumption), clamped into its bounds; so a date-only press
    release and an exact 08:45 ET public-inspection filing of the same day compare
    at 12:00 ET vs 08:45 ET, not at 12:00 UTC.
    """
    if s.at_utc is not None:
        return s.at_utc
    at = dt.datetime.combine(s.local_date, dt.time(12, 0), tzinfo=ZoneInfo(s.timezone))
    if s.not_before is not None and at < s.not_before:
        at = s.not_before
    if s.not_after is not None and at > s.not_after:
        at = s.not_after
    return at.astimezone(dt.UTC)
