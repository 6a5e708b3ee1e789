"""Reading a log file, checking its chain, and folding records into events.

:func:`parse_log` checks the file's shape, every record's model, sequence
numbers and digests; :class:`Fold` applies records in order and refuses
duplicate ids, amends and retracts of unknown or retracted ids, amends whose
result is not a valid event, and affected targets outside the universe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from yaml.nodes import Node

from backtest.errors import EventLogError
from backtest.eventlog.models import Event
from backtest.eventlog.records import (
    GENESIS,
    Amend,
    Announce,
    DuplicateEventError,
    Locator,
    LogVersion,
    Record,
    RecordError,
    Retract,
    TamperedLogError,
    UnknownEventError,
    chain_digest,
    validate_record,
    validation_error,
)
from backtest.eventlog.yamlio import YamlDoc, child, load_yaml
from backtest.universe import GROUPS, Universe

EMPTY_LOG_HEADER = """\
# mib event log: append-only records (announce / amend / retract).
# Do not edit by hand: append with `mib events add | amend | retract`.
# Each record carries the digest of the log before and after it, so an edited
# record is refused by `mib events validate`.  See events/README.md.
"""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A validated record with the line it starts on."""

    record: Record
    line: int
    node: Node | None = field(default=None, repr=False, compare=False)

    @property
    def seq(self) -> int:
        return self.record.seq


@dataclass(frozen=True, slots=True)
class EventLog:
    """All records of a log file, chain-checked (not yet folded)."""

    path: Path
    text: str
    entries: tuple[LogEntry, ...]
    records_line: int | None

    @property
    def version(self) -> LogVersion:
        return self.version_at(len(self.entries))

    def version_at(self, seq: int) -> LogVersion:
        if seq == 0:
            return LogVersion(0, GENESIS)
        return LogVersion(seq, self.entries[seq - 1].record.digest)


def parse_log(text: str, path: str | Path) -> EventLog:
    """Parse and chain-check a log; the first problem raises with file and line."""
    doc = load_yaml(text, path)
    where = Locator(doc.file, doc.node)
    raws, records_line = _records_list(doc, where)
    seq_node = child(doc.node, "records")
    entries: list[LogEntry] = []
    prev = GENESIS
    for i, raw in enumerate(raws):
        node = child(seq_node, i)
        line = node.start_mark.line + 1 if node is not None else 0
        rec_where = Locator(doc.file, node, label=f"record seq {i + 1}")
        record = validate_record(raw, rec_where)
        _check_chain(record, raw, i + 1, prev, rec_where)
        prev = record.digest
        entries.append(LogEntry(record=record, line=line, node=node))
    return EventLog(path=Path(path), text=text, entries=tuple(entries),
                    records_line=records_line)


def read_log(path: str | Path) -> EventLog:
    """Read a log file (UTF-8) and parse it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventLogError("event log not found", file=p,
                            expected="an existing log file (see events/README.md)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EventLogError(f"cannot read the event log: {exc}", file=p) from None
    return parse_log(text, p)


def _records_list(doc: YamlDoc, where: Locator) -> tuple[list[Any], int | None]:
    data = doc.data
    if not isinstance(data, dict) or "records" not in data:
        raise where.error(EventLogError, "not an event log",
                          expected="a mapping with a 'records' list (records: [] when empty)")
    extra = sorted(str(k) for k in data if k != "records")
    if extra:
        raise where.error(EventLogError, "unknown top-level key", loc=(extra[0],),
                          value=extra[0], expected="only 'records'")
    raws = data["records"]
    if raws is None:
        raws = []
    if not isinstance(raws, list):
        raise where.error(EventLogError, "records must be a list", loc=("records",),
                          expected="a block list of records")
    return raws, where.line(("records",))


def _check_chain(record: Record, raw: dict[str, Any], seq: int, prev: str,
                 where: Locator) -> None:
    if record.seq != seq:
        raise where.error(TamperedLogError, f"sequence number out of order at position {seq}",
                          loc=("seq",),
                          value=record.seq, expected=f"{seq} (records are numbered 1, 2, ...)")
    if record.prev_digest != prev:
        raise where.error(TamperedLogError, "prev_digest does not match the log before this "
                          "record (a record was removed, inserted or edited)",
                          loc=("prev_digest",), value=record.prev_digest[:12],
                          expected=prev[:12], line_loc=())
    try:
        digest = chain_digest(prev, raw)
    except (TypeError, ValueError) as exc:
        raise where.error(RecordError, f"record is not plain data: {exc}",
                          expected="strings, numbers, booleans, lists and mappings") from None
    if record.digest != digest:
        raise where.error(TamperedLogError, "record was edited after it was appended: its "
                          "content no longer matches its digest", loc=("digest",),
                          value=record.digest[:12], line_loc=(),
                          expected=f"{digest[:12]}; undo the edit and append an amend record")


def check_targets(event: Event, universe: Universe, where: Locator,
                  prefix: tuple[str | int, ...]) -> None:
    """Every ``affected`` target must be a universe symbol or a group."""
    for i, aff in enumerate(event.affected):
        if aff.target not in GROUPS and aff.target not in universe:
            raise where.error(RecordError, "unknown security or group",
                              loc=(*prefix, "affected", i, "target"), value=aff.target,
                              expected="a symbol of the universe file or a group ("
                              + ", ".join(GROUPS) + ")")


@dataclass(slots=True)
class Fold:
    """The catalog state while records are applied (mutable, internal)."""

    universe: Universe | None = None
    events: dict[str, Event] = field(default_factory=dict)
    announced: dict[str, int] = field(default_factory=dict)
    retracted: dict[str, int] = field(default_factory=dict)

    def apply(self, record: Record, where: Locator) -> None:
        if isinstance(record, Announce):
            self._announce(record, where)
        elif isinstance(record, Amend):
            self._amend(record, where)
        else:
            self._retract(record, where)

    def _announce(self, record: Announce, where: Locator) -> None:
        eid = record.event.id
        if eid in self.announced:
            first = self.announced[eid]
            raise where.error(DuplicateEventError, "duplicate event id", loc=("event", "id"),
                              value=eid, expected=f"a new id (already announced in record "
                              f"{first}); use `mib events amend` to change it")
        if self.universe is not None:
            check_targets(record.event, self.universe, where, ("event",))
        self.events[eid] = record.event
        self.announced[eid] = record.seq

    def _current(self, eid: str, where: Locator) -> Event:
        if eid in self.retracted:
            raise where.error(UnknownEventError, "event was retracted", loc=("id",), value=eid,
                              expected=f"an event in the catalog (retracted in record "
                              f"{self.retracted[eid]})")
        if eid not in self.events:
            known = ", ".join(sorted(self.events)[:5]) or "none yet"
            raise where.error(UnknownEventError, "no such event in the log", loc=("id",),
                              value=eid, expected=f"an announced id (e.g. {known})")
        return self.events[eid]

    def _amend(self, record: Amend, where: Locator) -> None:
        current = self._current(record.id, where)
        data = current.model_dump(mode="json")
        data.update(record.changes)
        try:
            amended = Event.model_validate(data)
        except ValidationError as exc:
            raise validation_error(exc, where, prefix=("changes",)) from None
        if self.universe is not None and "affected" in record.changes:
            check_targets(amended, self.universe, where, ("changes",))
        self.events[record.id] = amended

    def _retract(self, record: Retract, where: Locator) -> None:
        self._current(record.id, where)
        del self.events[record.id]
        self.retracted[record.id] = record.seq


def fold(log: EventLog, upto: int | None = None, universe: Universe | None = None) -> Fold:
    """Apply records 1..upto (all by default); semantic errors name file and line."""
    state = Fold(universe=universe)
    entries = log.entries if upto is None else log.entries[:upto]
    for entry in entries:
        where = Locator(str(log.path), entry.node, label=f"record seq {entry.seq}")
        state.apply(entry.record, where)
    return state
