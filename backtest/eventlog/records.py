"""Records of the append-only event log, their canonical form and digests.

A log is a list of records, each one of

* ``announce`` -- a new event (``event``: a full :class:`Event` mapping);
* ``amend`` -- ``id`` of an existing event, ``changes`` (top-level event field
  -> new value; the amended event is re-validated) and a ``reason``;
* ``retract`` -- ``id`` and a ``reason``.

Every record also carries ``seq`` (1, 2, ... without gaps), ``recorded`` (the
date ``YYYY-MM-DD`` or UTC timestamp ``YYYY-MM-DDTHH:MM:SSZ`` it was
appended), ``prev_digest`` (the log digest before it) and ``digest`` (the log
digest after it).

Canonical form and digest.  The canonical form of a record is the UTF-8 JSON
of the record mapping *as read from the file* (YAML types, dates and
timestamps kept as strings), without ``prev_digest`` and ``digest``, with keys
sorted, separators ``,`` and ``:``, and non-ASCII characters kept.  The log
digest chains over records::

    d_0 = GENESIS = "0" * 64
    d_i = sha256(ascii(d_{i-1}) + b"\\n" + canonical(record_i)).hexdigest()

The log version ``v`` is ``(v, d_v)``; record ``i`` must carry
``prev_digest = d_{i-1}`` and ``digest = d_i``, so an edit to any record,
the last one included, is detected at that record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from yaml.nodes import Node

from backtest.errors import EventLogError
from backtest.eventlog.models import TEXT_EXPECTED, TEXT_PATTERN, Event, Text, control_character
from backtest.eventlog.yamlio import line_of

RecordKind = Literal["announce", "amend", "retract"]
RECORD_KINDS: tuple[str, ...] = ("announce", "amend", "retract")
GENESIS = "0" * 64
DIGEST_FIELDS: tuple[str, ...] = ("prev_digest", "digest")
AMENDABLE: tuple[str, ...] = tuple(f for f in Event.model_fields if f != "id")

_HEX64 = r"^[0-9a-f]{64}$"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UTC_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]00:?00)$")

_EXPECTED: dict[str, str] = {
    "sources": "at least one source with url and title",
    "affected": "at least one security or group with a sign",
    "stages": "at least one stage",
    "url": "an http(s) URL",
    "sign": "-1, 0 or 1",
}


class RecordError(EventLogError):
    """A record (or a draft record) is invalid."""


class TamperedLogError(EventLogError):
    """A record's digest does not match its content: the log was edited by hand."""


class UnknownEventError(EventLogError):
    """An id that the log does not hold (or holds only as retracted)."""


class DuplicateEventError(EventLogError):
    """An ``announce`` of an id that the log already uses."""


@dataclass(frozen=True, slots=True)
class LogVersion:
    """A log version: the number of records folded and the digest after them."""

    seq: int
    digest: str

    def __str__(self) -> str:
        return f"v{self.seq}:{self.digest[:12]}"


def parse_version(text: str | int) -> tuple[int, str | None]:
    """``42``, ``v42`` or ``v42:1a2b3c4d5e6f`` -> (42, digest prefix or None)."""
    if isinstance(text, int):
        return text, None
    m = re.fullmatch(r"v?(\d+)(?::([0-9a-f]{4,64}))?", text.strip())
    if m is None:
        raise EventLogError(
            "invalid log version",
            field="log_version",
            value=text,
            expected="N, vN or vN:DIGEST such as v42:1a2b3c4d5e6f",
        )
    return int(m.group(1)), m.group(2)


def utc_now_recorded() -> str:
    """The current UTC instant as a ``recorded`` value, to the second."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def canonical_bytes(raw: Mapping[str, Any]) -> bytes:
    """The canonical form of one record (see the module docstring)."""
    body = {k: v for k, v in raw.items() if k not in DIGEST_FIELDS}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_digest(prev: str, raw: Mapping[str, Any]) -> str:
    """``d_i`` from ``d_{i-1}`` and the record mapping."""
    h = hashlib.sha256()
    h.update(prev.encode("ascii"))
    h.update(b"\n")
    h.update(canonical_bytes(raw))
    return h.hexdigest()


def log_digest(raws: Sequence[Mapping[str, Any]]) -> str:
    """The digest of a log made of these record mappings (GENESIS if empty)."""
    d = GENESIS
    for raw in raws:
        d = chain_digest(d, raw)
    return d


class _RecordBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1)
    recorded: str = Field(description="YYYY-MM-DD or a UTC timestamp ending in Z")
    prev_digest: str = Field(pattern=_HEX64)
    digest: str = Field(pattern=_HEX64)

    @field_validator("recorded", mode="before")
    @classmethod
    def _recorded(cls, v: object) -> object:
        if not isinstance(v, str):
            return v
        if _DATE.match(v):
            dt.date.fromisoformat(v)
        elif _UTC_TS.match(v):
            dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        else:
            raise ValueError(
                f"recorded {v!r} is neither a date YYYY-MM-DD nor a UTC "
                "timestamp such as 2025-04-16T09:30:00Z"
            )
        return v

    @property
    def event_id(self) -> str:
        raise NotImplementedError


class Announce(_RecordBase):
    """A new event enters the log."""

    kind: Literal["announce"]
    event: Event

    @property
    def event_id(self) -> str:
        return self.event.id


class Amend(_RecordBase):
    """Named top-level fields of an existing event change, for a reason."""

    kind: Literal["amend"]
    id: Text
    changes: dict[str, Any] = Field(min_length=1)
    reason: Text = Field(min_length=1)

    @field_validator("changes")
    @classmethod
    def _fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in v if k not in AMENDABLE]
        if bad:
            raise ValueError(
                f"cannot amend field(s) {bad}; expected event fields among "
                f"{', '.join(AMENDABLE)} (the id never changes)"
            )
        return v

    @property
    def event_id(self) -> str:
        return self.id


class Retract(_RecordBase):
    """An event leaves the catalog, for a reason; its id is never reused."""

    kind: Literal["retract"]
    id: Text
    reason: Text = Field(min_length=1)

    @property
    def event_id(self) -> str:
        return self.id


Record = Announce | Amend | Retract
_KIND_MODEL: dict[str, type[Announce] | type[Amend] | type[Retract]] = {
    "announce": Announce,
    "amend": Amend,
    "retract": Retract,
}


@dataclass(frozen=True, slots=True)
class Locator:
    """Where a piece of YAML came from, to name file and line in errors.

    ``node`` is the YAML node of the thing being validated; ``strip`` is a
    prefix of pydantic locations that ``node`` already stands for.  A record
    read by the fast reader has no node: ``lazy`` composes it (only when an
    error needs a line) from its own chunk, whose first line is
    ``line_offset + 1`` of the file.
    """

    file: str
    node: Node | None = None
    label: str = ""
    strip: tuple[str | int, ...] = ()
    lazy: Callable[[], Node | None] | None = None
    line_offset: int = 0

    def line(self, loc: Sequence[str | int] = ()) -> int | None:
        loc = tuple(loc)
        if self.strip and loc[: len(self.strip)] == self.strip:
            loc = loc[len(self.strip) :]
        node = self.node if self.node is not None or self.lazy is None else self.lazy()
        line = line_of(node, loc)
        return line + self.line_offset if line is not None else None

    def error(
        self,
        cls: type[EventLogError],
        message: str,
        *,
        loc: Sequence[str | int] = (),
        value: object = None,
        expected: str | None = None,
        line_loc: Sequence[str | int] | None = None,
    ) -> EventLogError:
        """An error naming file, line (of ``line_loc``, default ``loc``) and field."""
        msg = f"{self.label}: {message}" if self.label else message
        field = ".".join(str(p) for p in loc) or None
        line = self.line(loc if line_loc is None else line_loc)
        return cls(msg, file=self.file, line=line, field=field, value=value, expected=expected)


def validation_error(
    exc: ValidationError, where: Locator, prefix: tuple[str | int, ...] = ()
) -> EventLogError:
    """The first pydantic error as a one-line :class:`RecordError`.

    Validators that know better say so in the error's context: ``field`` (the
    field a model-level check is about, appended to the location), ``got``
    (the value to show) and ``expected`` (what would be valid, and the fix).
    """
    err = exc.errors()[0]
    loc = prefix + tuple(err.get("loc", ()))
    inp = err.get("input")
    ctx = err.get("ctx") or {}
    if isinstance(ctx.get("field"), str):
        loc += (ctx["field"],)
    if "got" in ctx:
        inp = ctx["got"]
    expected = ctx.get("expected") if isinstance(ctx.get("expected"), str) else None
    if expected is None and loc and isinstance(loc[-1], str):
        expected = _EXPECTED.get(loc[-1])
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if ctx.get("pattern") == TEXT_PATTERN and isinstance(inp, str):
        msg, expected = control_character(inp) or msg, TEXT_EXPECTED
    if err.get("type") == "missing":
        msg = "required field is missing"
        inp = None
    shown = inp if isinstance(inp, str | int | float | bool) else None
    if msg.startswith("Input should be "):
        expected = msg.removeprefix("Input should be ")
        msg = "invalid value"
    elif expected is not None and expected in msg:
        expected = None
    if shown is not None and expected is None and repr(shown) in msg:
        shown = None
    return where.error(RecordError, msg, loc=loc, value=shown, expected=expected)


def validate_record(raw: object, where: Locator) -> Record:
    """Validate one record mapping (digests included)."""
    if not isinstance(raw, dict):
        raise where.error(
            RecordError,
            "a record must be a mapping",
            value=type(raw).__name__,
            expected="seq, recorded, kind, ... (see events/README.md)",
        )
    model = _KIND_MODEL.get(raw.get("kind"))  # type: ignore[arg-type]
    if model is None:
        raise where.error(
            RecordError,
            "unknown record kind",
            loc=("kind",),
            value=raw.get("kind"),
            expected="announce, amend or retract",
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, where) from None


def event_payload(event: Event) -> dict[str, Any]:
    """The stored (JSON-compatible) form of an event: no nulls, no empty strings."""
    payload: dict[str, Any] = _prune(event.model_dump(mode="json", exclude_none=True))
    return payload


def _prune(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _prune(v) for k, v in obj.items() if v != ""}
    if isinstance(obj, list):
        return [_prune(v) for v in obj]
    return obj
