"""Reading a log file, checking its chain, and folding records into events.

:func:`parse_log` checks the file's shape, every record's model, sequence
numbers and digests; :class:`Fold` applies records in order and refuses
duplicate ids, amends and retracts of unknown or retracted ids, amends whose
result is not a valid event, and affected targets outside the universe.

A log in the writer's shape is read one record at a time by the fast reader
of :mod:`backtest.eventlog.blockyaml` (PyYAML takes any record it does not
handle, and the whole file when the file is in another shape); a record's YAML
nodes, needed only for the line of an error, are composed when an error asks.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from yaml.nodes import Node

from backtest.errors import EventLogError
from backtest.eventlog.blockyaml import (
    UNSUPPORTED,
    ChunkReader,
    Layout,
    scalar_constructor,
    split_records,
)
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
from backtest.eventlog.yamlio import (
    AliasBudget,
    LogSyntaxError,
    NoTimestampLoader,
    YamlDoc,
    child,
    load_yaml,
    read_text,
)
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
    where: Locator | None = field(default=None, repr=False, compare=False)

    @property
    def seq(self) -> int:
        return self.record.seq

    def locator(self, file: str) -> Locator:
        """Where this record is, for errors about it (its line found on demand)."""
        if self.where is not None:
            return self.where
        return Locator(file, self.node, label=f"record seq {self.seq}")


@dataclass(frozen=True, slots=True)
class EventLog:
    """All records of a log file, chain-checked (not yet folded).

    ``chunked`` is true when the file is in the writer's shape (one chunk per
    record after ``records:``), so an append need only check its own records.
    """

    path: Path
    text: str
    entries: tuple[LogEntry, ...]
    records_line: int | None
    chunked: bool = False

    @property
    def version(self) -> LogVersion:
        return self.version_at(len(self.entries))

    def version_at(self, seq: int) -> LogVersion:
        if seq == 0:
            return LogVersion(0, GENESIS)
        return LogVersion(seq, self.entries[seq - 1].record.digest)


def parse_log(text: str, path: str | Path) -> EventLog:
    """Parse and chain-check a log; the first problem raises with file and line."""
    return _chunked_log(text, path) or log_from_doc(load_yaml(text, path), text, path)


def read_log_or_doc(path: str | Path) -> EventLog | YamlDoc:
    """A log file parsed once, or the YAML document of a file that is not a log."""
    text = read_text(path)
    log = _chunked_log(text, path)
    if log is not None:
        return log
    doc = load_yaml(text, path)
    if isinstance(doc.data, dict) and "records" in doc.data:
        return log_from_doc(doc, text, path)
    return doc


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a log's records are built.

    Reading creates millions of small dicts, lists and models and frees none
    of them; each automatic collection would walk all that were made so far
    (half the time of validating a 50 MB log).  Nothing built here holds a
    reference cycle; the collector's previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunked_log(text: str, path: str | Path) -> EventLog | None:
    """The log read record by record, or None when it is not in the writer's shape."""
    layout = split_records(text)
    if layout is None:
        return None
    with gc_paused():
        raws = read_chunks(text, str(path), layout)
        if raws is None:
            return None
        entries = check_entries(raws, GENESIS, 0)
    return EventLog(
        path=Path(path),
        text=text,
        entries=tuple(entries),
        records_line=layout.records_line,
        chunked=True,
    )


def log_from_doc(doc: YamlDoc, text: str, path: str | Path) -> EventLog:
    """:func:`parse_log` of an already parsed document (PyYAML's node tree)."""
    where = Locator(doc.file, doc.node)
    raws, records_line = _records_list(doc, where)
    seq_node = child(doc.node, "records")
    located = []
    for i, raw in enumerate(raws):
        node = child(seq_node, i)
        line = node.start_mark.line + 1 if node is not None else 0
        located.append((raw, line, Locator(doc.file, node, label=f"record seq {i + 1}")))
    entries = check_entries(located, GENESIS, 0)
    return EventLog(path=Path(path), text=text, entries=tuple(entries), records_line=records_line)


RawRecord = tuple[Any, int, Locator]
"""A record mapping as read, the line it starts on, and where it is."""


def check_entries(raws: list[RawRecord], prev: str, before: int) -> list[LogEntry]:
    """Validate and chain-check records ``before + 1, ...`` that follow digest ``prev``.

    The check of a whole log (``prev`` = GENESIS, ``before`` = 0) and of the
    records an append adds after the old tail digest.
    """
    entries = []
    for i, (raw, line, where) in enumerate(raws, start=before + 1):
        record = validate_record(raw, where)
        _check_chain(record, raw, i, prev, where)
        prev = record.digest
        entries.append(LogEntry(record=record, line=line, node=where.node, where=where))
    return entries


def read_chunks(text: str, file: str, layout: Layout, first_seq: int = 1) -> list[RawRecord] | None:
    """The record mappings of a chunked log, or None when PyYAML must read the whole file.

    The fast reader takes what it can; a chunk it does not handle is parsed
    alone by PyYAML (aliases counted across chunks).  A chunk that does not
    parse alone (a quoted scalar or flow collection cut at a column-0 ``- ``)
    means the cut was wrong, so the caller parses the whole file.
    """
    reader = ChunkReader(
        NoTimestampLoader.yaml_implicit_resolvers, scalar_constructor(NoTimestampLoader)
    )
    budget = AliasBudget()
    out: list[RawRecord] = []
    for i, chunk in enumerate(layout.chunks, start=first_seq):
        raw = reader.parse(text[chunk.start : chunk.end])
        node = None
        if raw is UNSUPPORTED:
            try:
                doc = load_yaml(text[chunk.start : chunk.end], file, budget)
            except LogSyntaxError:
                return None
            if not isinstance(doc.data, list) or len(doc.data) != 1:
                return None
            raw, node = doc.data[0], child(doc.node, 0)
        lazy = None if node is not None else partial(_chunk_node, text, chunk.start, chunk.end)
        out.append(
            (
                raw,
                chunk.line,
                Locator(file, node, label=f"record seq {i}", lazy=lazy, line_offset=chunk.line - 1),
            )
        )
    return out


def _chunk_node(text: str, start: int, end: int) -> Node | None:
    """The YAML node of one record chunk (lines counted from the chunk's first)."""
    try:
        return child(load_yaml(text[start:end], "<chunk>").node, 0)
    except EventLogError:
        return None


def read_log(path: str | Path) -> EventLog:
    """Read a log file (UTF-8, line endings kept) and parse it."""
    text = read_text(path, "event log not found", "an existing log file (see events/README.md)")
    return parse_log(text, Path(path))


def _records_list(doc: YamlDoc, where: Locator) -> tuple[list[Any], int | None]:
    data = doc.data
    if not isinstance(data, dict) or "records" not in data:
        raise where.error(
            EventLogError,
            "not an event log",
            expected="a mapping with a 'records' list (records: [] when empty)",
        )
    extra = sorted(str(k) for k in data if k != "records")
    if extra:
        raise where.error(
            EventLogError,
            "unknown top-level key",
            loc=(extra[0],),
            value=extra[0],
            expected="only 'records'",
        )
    raws = data["records"]
    if raws is None:
        raws = []
    if not isinstance(raws, list):
        raise where.error(
            EventLogError,
            "records must be a list",
            loc=("records",),
            expected="a block list of records",
        )
    return raws, where.line(("records",))


def _check_chain(record: Record, raw: dict[str, Any], seq: int, prev: str, where: Locator) -> None:
    if record.seq != seq:
        raise where.error(
            TamperedLogError,
            f"sequence number out of order at position {seq}",
            loc=("seq",),
            value=record.seq,
            expected=f"{seq} (records are numbered 1, 2, ...)",
        )
    if record.prev_digest != prev:
        raise where.error(
            TamperedLogError,
            "prev_digest does not match the log before this "
            "record (a record was removed, inserted or edited)",
            loc=("prev_digest",),
            value=record.prev_digest[:12],
            expected=prev[:12],
            line_loc=(),
        )
    try:
        digest = chain_digest(prev, raw)
    except (TypeError, ValueError) as exc:
        raise where.error(
            RecordError,
            f"record is not plain data: {exc}",
            expected="strings, numbers, booleans, lists and mappings",
        ) from None
    if record.digest != digest:
        raise where.error(
            TamperedLogError,
            "record was edited after it was appended: its content no longer matches its digest",
            loc=("digest",),
            value=record.digest[:12],
            line_loc=(),
            expected=f"{digest[:12]}; undo the edit and append an amend record",
        )


def check_targets(
    event: Event, universe: Universe, where: Locator, prefix: tuple[str | int, ...]
) -> None:
    """Every ``affected`` target must be a universe symbol or a group."""
    for i, aff in enumerate(event.affected):
        if aff.target not in GROUPS and aff.target not in universe:
            raise where.error(
                RecordError,
                "unknown security or group",
                loc=(*prefix, "affected", i, "target"),
                value=aff.target,
                expected="a symbol of the universe file or a group (" + ", ".join(GROUPS) + ")",
            )


@dataclass(slots=True)
class Fold:
    """The catalog state while records are applied (mutable, internal)."""

    universe: Universe | None = None
    events: dict[str, Event] = field(default_factory=dict)
    announced: dict[str, int] = field(default_factory=dict)
    retracted: dict[str, int] = field(default_factory=dict)
    _known: frozenset[str] | None = field(default=None, repr=False)

    def _check_targets(self, event: Event, where: Locator, prefix: tuple[str | int, ...]) -> None:
        if self.universe is None:
            return
        if self._known is None:
            self._known = frozenset(GROUPS) | frozenset(self.universe.symbols)
        if any(a.target not in self._known for a in event.affected):
            check_targets(event, self.universe, where, prefix)

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
            raise where.error(
                DuplicateEventError,
                "duplicate event id",
                loc=("event", "id"),
                value=eid,
                expected=f"a new id (already announced in record "
                f"{first}); use `mib events amend` to change it",
            )
        self._check_targets(record.event, where, ("event",))
        self.events[eid] = record.event
        self.announced[eid] = record.seq

    def _current(self, eid: str, where: Locator) -> Event:
        if eid in self.retracted:
            raise where.error(
                UnknownEventError,
                "event was retracted",
                loc=("id",),
                value=eid,
                expected=f"an event in the catalog (retracted in record {self.retracted[eid]})",
            )
        if eid not in self.events:
            known = ", ".join(sorted(self.events)[:5]) or "none yet"
            raise where.error(
                UnknownEventError,
                "no such event in the log",
                loc=("id",),
                value=eid,
                expected=f"an announced id (e.g. {known})",
            )
        return self.events[eid]

    def _amend(self, record: Amend, where: Locator) -> None:
        current = self._current(record.id, where)
        data = current.model_dump(mode="json")
        data.update(record.changes)
        try:
            amended = Event.model_validate(data)
        except ValidationError as exc:
            raise validation_error(exc, where, prefix=("changes",)) from None
        if "affected" in record.changes:
            self._check_targets(amended, where, ("changes",))
        self.events[record.id] = amended

    def _retract(self, record: Retract, where: Locator) -> None:
        self._current(record.id, where)
        del self.events[record.id]
        self.retracted[record.id] = record.seq


def fold(log: EventLog, upto: int | None = None, universe: Universe | None = None) -> Fold:
    """Apply records 1..upto (all by default); semantic errors name file and line."""
    state = Fold(universe=universe)
    entries = log.entries if upto is None else log.entries[:upto]
    file = str(log.path)
    with gc_paused():
        for entry in entries:
            state.apply(entry.record, entry.locator(file))
    return state
