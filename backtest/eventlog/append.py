"""Appending records: validate everything, lock, write a temp file, rename.

The log is read, chain-checked and folded *before* the lock is taken (that is
the slow part on a large log).  Under the file lock (``<log>.lock`` next to the
log) its bytes are compared with what was read -- re-read only if another
writer got in first -- stale temp files of killed writers are removed, the new
records get the next sequence numbers and their digests, are validated and
applied to the fold, and the new text (the old text byte for byte plus the new
records, in the file's own line endings) is checked -- the appended records
are parsed back and must chain from the old tail digest -- before it replaces
the log atomically.  A read-only log is refused, not replaced.  Any error
leaves the log untouched and is one :class:`EventLogError` line.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from backtest.errors import EventLogError
from backtest.eventlog.blockyaml import split_records
from backtest.eventlog.log import (
    EMPTY_LOG_HEADER,
    EventLog,
    Fold,
    LogEntry,
    check_entries,
    check_targets,
    fold,
    parse_log,
    read_chunks,
    read_log,
)
from backtest.eventlog.models import Event
from backtest.eventlog.records import (
    DuplicateEventError,
    Locator,
    LogVersion,
    RecordError,
    RecordKind,
    chain_digest,
    event_payload,
    utc_now_recorded,
    validate_record,
    validation_error,
)
from backtest.eventlog.yamlio import (
    atomic_write,
    child,
    dump_records,
    newline_of,
    read_text,
    read_yaml,
    remove_stale_temps,
)
from backtest.universe import Universe, load_universe

LOCK_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Draft:
    """A record to append, before it has a sequence number and digests.

    ``payload`` is the kind-specific part (``event``; ``id``, ``changes``,
    ``reason``; or ``id``, ``reason``); ``where`` locates it for errors.
    """

    kind: RecordKind
    payload: Mapping[str, Any]
    where: Locator = field(default_factory=lambda: Locator(file="<draft>"))


def empty_log_text() -> str:
    """The text of a new, empty log."""
    return EMPTY_LOG_HEADER + "records: []\n"


def _recorded_text(recorded: dt.date | dt.datetime | str | None) -> str:
    if recorded is None:
        return utc_now_recorded()
    if isinstance(recorded, dt.datetime):
        if recorded.utcoffset() is None:
            raise EventLogError(
                "naive recorded timestamp",
                field="recorded",
                value=recorded.isoformat(),
                expected="a UTC timestamp",
            )
        utc = recorded.astimezone(dt.UTC).replace(microsecond=0)
        return utc.isoformat().replace("+00:00", "Z")
    if isinstance(recorded, dt.date):
        return recorded.isoformat()
    return str(recorded)


def _new_text(log: EventLog, raws: list[dict[str, Any]]) -> str:
    """The old text byte for byte plus the records, in the file's own line endings."""
    nl = newline_of(log.text)
    body = dump_records(raws)
    if nl != "\n":
        body = body.replace("\n", nl)
    if log.entries:
        text = log.text if log.text.endswith("\n") else log.text + nl
        return text + body
    lines = log.text.splitlines(keepends=True)
    keep = lines[: (log.records_line or 1) - 1]
    head = "".join(keep)
    if head and not head.endswith("\n"):
        head += nl
    return head + "records:" + nl + body.lstrip("\r\n")


def _build(
    log: EventLog, state: Fold, drafts: Sequence[Draft], recorded: str
) -> tuple[list[dict[str, Any]], int]:
    prev = log.version.digest
    seq = len(log.entries)
    raws: list[dict[str, Any]] = []
    for draft in drafts:
        seq += 1
        raw: dict[str, Any] = {
            "seq": seq,
            "recorded": recorded,
            "kind": draft.kind,
            **dict(draft.payload),
        }
        raw["prev_digest"] = prev
        try:
            raw["digest"] = prev = chain_digest(prev, raw)
        except (TypeError, ValueError) as exc:
            raise draft.where.error(
                RecordError,
                f"not plain data: {exc}",
                expected="strings, numbers, booleans, lists, mappings",
            ) from None
        record = validate_record(raw, draft.where)
        state.apply(record, draft.where)
        raws.append(raw)
    return raws, seq


def append_records(
    path: str | Path,
    drafts: Sequence[Draft],
    *,
    recorded: dt.date | dt.datetime | str | None = None,
    universe: Universe | None = None,
) -> LogVersion:
    """Append drafts as records 1 + v, 2 + v, ... all or nothing; return the new version.

    ``universe`` defaults to :func:`backtest.universe.load_universe` (affected
    targets are always checked on write).  ``recorded`` defaults to now (UTC).
    """
    from filelock import FileLock, Timeout

    p = Path(path)
    uni = universe if universe is not None else load_universe()
    stamp = _recorded_text(recorded)
    if not drafts:
        return read_log(p).version
    _check_writable(p)
    log = read_log(p)
    state = fold(log, universe=uni)
    try:
        with FileLock(f"{p}.lock", timeout=LOCK_TIMEOUT_S):
            _check_writable(p)
            log, state = _current(p, log, state, uni)
            raws, _ = _build(log, state, drafts, stamp)
            text = _new_text(log, raws)
            _verify(log, text, raws)
            remove_stale_temps(p)
            atomic_write(p, text.encode("utf-8"))
    except Timeout:
        raise EventLogError(
            f"could not lock the log within {LOCK_TIMEOUT_S:.0f} s",
            file=p,
            expected=f"no other writer holding {p}.lock",
        ) from None
    except OSError as exc:
        raise EventLogError(
            f"cannot write the log: {exc}; the log was left unchanged",
            file=p,
            expected="a writable folder with free space",
        ) from None
    return LogVersion(raws[-1]["seq"], raws[-1]["digest"])


def _check_writable(p: Path) -> None:
    """Refuse a read-only log rather than replace it (a rename would ignore its mode)."""
    try:
        mode = p.stat().st_mode
    except OSError:
        return  # read_log names a missing or unreadable log
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(p, os.W_OK):
        raise EventLogError(
            "the log is read-only, so nothing was appended",
            file=p,
            value=stat.filemode(mode),
            expected=f"a writable log: `chmod u+w {p}` to append, or keep it "
            "read-only to freeze it",
        )


def _current(p: Path, log: EventLog, state: Fold, universe: Universe) -> tuple[EventLog, Fold]:
    """The log as it is under the lock: re-read only if it changed since it was read."""
    if read_text(p, "event log not found") == log.text:
        return log, state
    fresh = read_log(p)
    return fresh, fold(fresh, universe=universe)


def _verify(old: EventLog, text: str, raws: list[dict[str, Any]]) -> None:
    """The new text must read back as the old records plus exactly ``raws``.

    For a log in the writer's shape only the appended records are read back
    (chunks are independent), chained from the old tail digest; otherwise the
    whole new text is parsed.
    """
    n = len(old.entries)
    try:
        if old.chunked and n and text.startswith(old.text):
            got = _read_back(old, text)
            ok = len(got) == len(raws) and all(
                g.record.digest == r["digest"] and g.record.prev_digest == r["prev_digest"]
                for g, r in zip(got, raws, strict=False)
            )
        else:
            new = parse_log(text, old.path)
            ok = (
                len(new.entries) == n + len(raws)
                and new.version_at(n) == old.version
                and new.version.digest == raws[-1]["digest"]
            )
    except EventLogError as exc:
        raise EventLogError(
            f"appending would not round-trip ({exc.message}); the log was left unchanged",
            file=old.path,
            expected="plain text values without control characters",
        ) from None
    if not ok:
        raise EventLogError(
            "appending would not round-trip; the log was left unchanged",
            file=old.path,
            line=old.records_line,
            expected="records as a block list at the end of the file",
        )


def _read_back(old: EventLog, text: str) -> list[LogEntry]:
    """The records appended to ``old.text``, read as a log of their own and chain-checked."""
    tail = text[len(old.text) :].lstrip("\r\n")
    probe = "records:" + newline_of(old.text) + tail
    layout = split_records(probe)
    raws = read_chunks(probe, str(old.path), layout, len(old.entries) + 1) if layout else None
    if raws is None:
        raise EventLogError("appended records are not a block list", file=old.path)
    return check_entries(raws, old.version.digest, len(old.entries))


def add_event(path: str | Path, event: Event | Mapping[str, Any], **kw: Any) -> LogVersion:
    """Append one ``announce`` record (keywords as :func:`append_records`)."""
    ev = event if isinstance(event, Event) else _validated_event(event, Locator("<event>"))
    return append_records(path, [announce_draft(ev, Locator(str(path)))], **kw)


def amend_event(
    path: str | Path, event_id: str, changes: Mapping[str, Any], reason: str, **kw: Any
) -> LogVersion:
    """Append one ``amend`` record: top-level fields -> new values, with a reason."""
    draft = Draft(
        "amend", {"id": event_id, "changes": dict(changes), "reason": reason}, Locator(str(path))
    )
    return append_records(path, [draft], **kw)


def retract_event(path: str | Path, event_id: str, reason: str, **kw: Any) -> LogVersion:
    """Append one ``retract`` record."""
    draft = Draft("retract", {"id": event_id, "reason": reason}, Locator(str(path)))
    return append_records(path, [draft], **kw)


def announce_draft(event: Event, where: Locator) -> Draft:
    """An ``announce`` draft whose errors point at ``where`` (the event's mapping)."""
    loc = Locator(where.file, where.node, where.label, strip=("event",))
    return Draft("announce", {"event": event_payload(event)}, loc)


def _validated_event(raw: object, where: Locator) -> Event:
    if not isinstance(raw, dict):
        raise where.error(
            RecordError,
            "an event must be a mapping",
            value=type(raw).__name__,
            expected="id, title, authority, ...",
        )
    try:
        return Event.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, where) from None


def read_event_file(
    path: str | Path, universe: Universe | None = None
) -> list[tuple[Event, Locator]]:
    """Events of a curation file (``events:`` list) or of a single-event file.

    Each event is validated (and its targets checked when a universe is
    given); ids must be unique within the file.
    """
    doc = read_yaml(path)
    top = Locator(doc.file, doc.node)
    if isinstance(doc.data, dict) and "events" in doc.data:
        items, node = doc.data["events"], child(doc.node, "events")
        if not isinstance(items, list) or not items:
            raise top.error(
                RecordError,
                "events must be a non-empty list",
                loc=("events",),
                expected="a list of event mappings",
            )
        located = [
            (raw, Locator(doc.file, child(node, i), label=f"event {i + 1}"))
            for i, raw in enumerate(items)
        ]
    elif isinstance(doc.data, dict) and "id" in doc.data:
        located = [(doc.data, top)]
    else:
        raise top.error(
            RecordError,
            "not an event file",
            expected="an event mapping (id, title, ...) or an 'events:' list",
        )
    out: list[tuple[Event, Locator]] = []
    seen: dict[str, int | None] = {}
    for raw, where in located:
        event = _validated_event(raw, where)
        if event.id in seen:
            raise where.error(
                DuplicateEventError,
                "duplicate event id in this file",
                loc=("id",),
                value=event.id,
                expected=f"a new id (first used on line {seen[event.id]})",
            )
        seen[event.id] = where.line(("id",))
        if universe is not None:
            check_targets(event, universe, where, ())
        out.append((event, where))
    return out


def import_events(
    path: str | Path,
    events_file: str | Path,
    recorded: dt.date | dt.datetime | str | None = None,
    universe: Universe | None = None,
) -> LogVersion:
    """Append one ``announce`` per event of a curation file, all or nothing."""
    uni = universe if universe is not None else load_universe()
    events = read_event_file(events_file, uni)
    drafts = [announce_draft(ev, where) for ev, where in events]
    return append_records(path, drafts, recorded=recorded, universe=uni)
