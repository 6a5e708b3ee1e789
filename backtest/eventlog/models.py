"""Validated models of events, their stages, affected securities and sources.

An event is what the catalog holds after the records of the log are folded.
Timestamps are either exact (``at``: ISO 8601 with a UTC offset, and the IANA
``timezone`` of the authority) or date-only (``date`` in the authority's
``timezone`` with ``time_known: false``).  Naive timestamps are refused.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

EventType = Literal[
    "restriction", "tightening", "relaxation", "licence_grant", "rescission",
    "entity_listing", "countermeasure", "company_disclosure", "confounder",
]
EVENT_TYPES: tuple[str, ...] = (
    "restriction", "tightening", "relaxation", "licence_grant", "rescission",
    "entity_listing", "countermeasure", "company_disclosure", "confounder",
)
StageName = Literal["leak", "announcement", "filing", "publication", "effective"]
STAGES: tuple[str, ...] = ("leak", "announcement", "filing", "publication", "effective")
Direction = Literal["tightening", "easing", "neutral"]
Confidence = Literal["high", "medium", "low"]
Sign = Literal[-1, 0, 1]

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; expected an IANA name such as "
                         "'America/New_York' or 'Asia/Shanghai'") from None
    return name


class Stage(BaseModel):
    """When one stage of an event became public."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: StageName
    timezone: str = Field(description="IANA zone of the authority or source")
    time_known: bool
    at: dt.datetime | None = Field(default=None, description="exact instant, with UTC offset")
    date: dt.date | None = Field(default=None, description="local date when the time is unknown")
    not_before: dt.datetime | None = Field(
        default=None, description="date-only stage: public no earlier than this instant "
        "(e.g. an 8-K known to be filed after the close)")
    not_after: dt.datetime | None = Field(
        default=None, description="date-only stage: public no later than this instant "
        "(e.g. the time stamp of the first report)")
    note: str = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _check_zone(v)

    @field_validator("at", "not_before", "not_after", mode="before")
    @classmethod
    def _aware_before(cls, v: object) -> object:
        if isinstance(v, str) and not re.search(r"(Z|[+-]\d{2}:?\d{2})$", v.strip()):
            raise ValueError(f"naive timestamp {v!r}: expected ISO 8601 with a UTC offset, "
                             "e.g. 2025-04-15T16:10:00-04:00")
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
            if self.at is None:
                raise ValueError("time_known is true but 'at' is missing")
            local = self.at.astimezone(ZoneInfo(self.timezone))
            if self.date is not None and self.date != local.date():
                raise ValueError(f"date {self.date} disagrees with 'at' in {self.timezone} "
                                 f"({local.date()})")
        elif self.date is None:
            raise ValueError("time_known is false, so 'date' (local date) is required")
        elif self.at is not None:
            raise ValueError("time_known is false but 'at' is given; drop one of them")
        if self.time_known and (self.not_before or self.not_after):
            raise ValueError("not_before/not_after bound a date-only stage; with time_known "
                             "true give only 'at'")
        if self.not_before and self.not_after and self.not_before > self.not_after:
            raise ValueError("not_before is after not_after")
        return self

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

    target: str
    sign: Sign
    note: str = ""

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
    title: str
    publisher: str = ""
    primary: bool = False


class Event(BaseModel):
    """One export-control (or confounding) event as it stands in the catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    authority: str = Field(description="who acted, e.g. US-BIS, CN-MOFCOM, NVIDIA")
    jurisdiction: str = Field(description="ISO country code, EU, or 'private'")
    type: EventType
    direction: Direction = Field(description="tightening, easing or neutral for US-China chips")
    stages: tuple[Stage, ...] = Field(min_length=1)
    affected: tuple[Affected, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = Field(min_length=1)
    confidence: Confidence = "medium"
    notes: str = ""

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
        official = [s for s in self.stages if s.stage in ("announcement", "filing",
                                                          "publication")]
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
