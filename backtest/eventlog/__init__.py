"""The curated export-control event log: records, the catalog fold, and I/O.

Read with :func:`load_catalog`; append with :func:`add_event`,
:func:`amend_event`, :func:`retract_event` or :func:`import_events`.
"""

from backtest.eventlog.append import (
    Draft,
    add_event,
    amend_event,
    append_records,
    empty_log_text,
    import_events,
    read_event_file,
    retract_event,
)
from backtest.eventlog.catalog import Catalog, catalog_from_log, default_log_path, load_catalog
from backtest.eventlog.log import EventLog, LogEntry, parse_log, read_log
from backtest.eventlog.models import Affected, Event, Source, Stage
from backtest.eventlog.records import (
    GENESIS,
    Amend,
    Announce,
    DuplicateEventError,
    LogVersion,
    Record,
    RecordError,
    Retract,
    TamperedLogError,
    UnknownEventError,
    canonical_bytes,
    chain_digest,
    log_digest,
)
from backtest.eventlog.yamlio import LogSyntaxError

__all__ = [
    "GENESIS",
    "Affected",
    "Amend",
    "Announce",
    "Catalog",
    "Draft",
    "DuplicateEventError",
    "Event",
    "EventLog",
    "LogEntry",
    "LogSyntaxError",
    "LogVersion",
    "Record",
    "RecordError",
    "Retract",
    "Source",
    "Stage",
    "TamperedLogError",
    "UnknownEventError",
    "add_event",
    "amend_event",
    "append_records",
    "canonical_bytes",
    "catalog_from_log",
    "chain_digest",
    "default_log_path",
    "empty_log_text",
    "import_events",
    "load_catalog",
    "log_digest",
    "parse_log",
    "read_event_file",
    "read_log",
    "retract_event",
]
