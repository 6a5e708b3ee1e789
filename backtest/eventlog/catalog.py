"""The catalog: the fold of log records 1..v, with filters and a tidy frame."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from backtest.errors import EventLogError
from backtest.eventlog.log import EventLog, LogEntry, fold, gc_paused, read_log
from backtest.eventlog.models import STAGES, Event
from backtest.eventlog.records import LogVersion, UnknownEventError, parse_version

if TYPE_CHECKING:
    import pandas as pd

    from backtest.universe import Universe

LOG_NAME = "export_controls.yaml"
SIGN_MARK = {-1: "-", 0: "0", 1: "+"}


def default_log_path() -> Path:
    """``events/export_controls.yaml`` under the cwd if present, else next to the package."""
    here = Path.cwd() / "events" / LOG_NAME
    if here.exists():
        return here
    import backtest

    return Path(backtest.__file__).resolve().parent.parent / "events" / LOG_NAME


def _as_date(value: dt.date | str | None, name: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise EventLogError(
            "invalid date", field=name, value=value, expected="YYYY-MM-DD"
        ) from None


def announced_date(event: Event) -> dt.date:
    """Local date of the announcement (or, lacking one, the first public stage)."""
    return event.primary_stage("announcement").local_date


def affected_text(event: Event) -> str:
    """Compact ``NVDA:- cn_substitute:+`` form of the affected targets."""
    return " ".join(f"{a.target}:{SIGN_MARK[a.sign]}" for a in event.affected)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Events in force at one log version (retracted events excluded).

    ``events`` are ordered by announcement date, then id.  ``records`` are
    the log records 1..v that produced them.
    """

    events: tuple[Event, ...]
    version: LogVersion
    path: Path
    records: tuple[LogEntry, ...]
    retracted: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __contains__(self, event_id: object) -> bool:
        return any(e.id == event_id for e in self.events)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.events)

    def get(self, event_id: str) -> Event:
        """The event with this id; raises :class:`UnknownEventError` naming close ids."""
        for e in self.events:
            if e.id == event_id:
                return e
        if event_id in self.retracted:
            raise UnknownEventError(
                "event was retracted",
                file=self.path,
                field="id",
                value=event_id,
                expected=f"an event in force at "
                f"{self.version} (see `mib events history {event_id}`)",
            )
        close = difflib.get_close_matches(event_id, self.ids, n=3)
        hint = f"e.g. {', '.join(close)}" if close else "see `mib events list`"
        raise UnknownEventError(
            f"no such event at log {self.version}",
            file=self.path,
            field="id",
            value=event_id,
            expected=f"an event id ({hint})",
        )

    def filter(
        self,
        types: Iterable[str] | None = None,
        authorities: Iterable[str] | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> Catalog:
        """Events of these types / authorities announced in [start, end] (inclusive)."""
        tset = set(types) if types else None
        aset = {a.lower() for a in authorities} if authorities else None
        lo, hi = _as_date(start, "start"), _as_date(end, "end")
        kept = tuple(
            e
            for e in self.events
            if (tset is None or e.type in tset)
            and (aset is None or e.authority.lower() in aset)
            and (lo is None or announced_date(e) >= lo)
            and (hi is None or announced_date(e) <= hi)
        )
        return replace(self, events=kept)

    def history(self, event_id: str | None = None) -> tuple[LogEntry, ...]:
        """Records 1..v, or only those about ``event_id``."""
        if event_id is None:
            return self.records
        found = tuple(r for r in self.records if r.record.event_id == event_id)
        if not found:
            raise UnknownEventError(
                f"no record about this id at log {self.version}",
                file=self.path,
                field="id",
                value=event_id,
                expected="an id that appears in the log",
            )
        return found

    def to_frame(self) -> pd.DataFrame:
        """One row per event; instants in UTC (NaT when only the date is known)."""
        import pandas as pd

        rows = [_row(e) for e in self.events]
        frame = pd.DataFrame(rows, columns=_columns())
        ts_cols = ["announced_at_utc", *(f"{s}_at_utc" for s in STAGES)]
        for col in ts_cols:
            frame[col] = pd.to_datetime(frame[col], utc=True)
        for col in ["announced_date", *(f"{s}_date" for s in STAGES)]:
            frame[col] = pd.to_datetime(frame[col])
        frame.attrs["log_version"] = str(self.version)
        return frame


def _columns() -> list[str]:
    base = [
        "id",
        "title",
        "authority",
        "jurisdiction",
        "type",
        "direction",
        "confidence",
        "announced_stage",
        "announced_at_utc",
        "announced_date",
        "time_known",
        "n_sources",
        "affected",
    ]
    for s in STAGES:
        base += [f"{s}_at_utc", f"{s}_date"]
    return base


def _row(e: Event) -> dict[str, object]:
    primary = e.primary_stage("announcement")
    row: dict[str, object] = {
        "id": e.id,
        "title": e.title,
        "authority": e.authority,
        "jurisdiction": e.jurisdiction,
        "type": e.type,
        "direction": e.direction,
        "confidence": e.confidence,
        "announced_stage": primary.stage,
        "announced_at_utc": primary.at_utc,
        "announced_date": primary.local_date,
        "time_known": primary.time_known,
        "n_sources": len(e.sources),
        "affected": affected_text(e),
    }
    for s in STAGES:
        st = e.stage(s)
        row[f"{s}_at_utc"] = st.at_utc if st is not None else None
        row[f"{s}_date"] = st.local_date if st is not None else None
    return row


def _sort_key(e: Event) -> tuple[dt.date, dt.datetime, str]:
    st = e.primary_stage("announcement")
    at = st.at_utc or dt.datetime.combine(st.local_date, dt.time(23, 59), dt.UTC)
    return (st.local_date, at, e.id)


def catalog_from_log(
    log: EventLog, *, version: int | str | None = None, universe: Universe | None = None
) -> Catalog:
    """Fold an already parsed log; the whole log is checked, then 1..v kept."""
    with gc_paused():
        return _catalog_from_log(log, version, universe)


def _catalog_from_log(
    log: EventLog, version: int | str | None, universe: Universe | None
) -> Catalog:
    full = fold(log, universe=universe)
    n = len(log.entries)
    seq = n
    if version is not None:
        seq, prefix = parse_version(version)
        if seq > n or seq < 0:
            raise EventLogError(
                "log version beyond the end of the log",
                file=log.path,
                field="log_version",
                value=seq,
                expected=f"0..{n}",
            )
        actual = log.version_at(seq).digest
        if prefix is not None and not actual.startswith(prefix):
            raise EventLogError(
                "log digest differs from the requested version: records "
                f"1..{seq} are not the ones that version was built from",
                file=log.path,
                field="log_version",
                value=str(version),
                expected=f"v{seq}:{actual[:12]}",
            )
    state = full if seq == n else fold(log, upto=seq, universe=universe)
    events = tuple(sorted(state.events.values(), key=_sort_key))
    return Catalog(
        events=events,
        version=log.version_at(seq),
        path=log.path,
        records=log.entries[:seq],
        retracted=tuple(sorted(state.retracted)),
    )


def check_expected(log: EventLog, expect: str) -> LogVersion:
    """Refuse a log whose record N is missing or differs from a recorded ``vN:DIGEST``.

    A chain of digests cannot show that records were cut off the end (the
    shorter log is a valid chain); a version written down earlier (in a run,
    a report, a commit message) can.  Returns the log's version at N.
    """
    seq, prefix = parse_version(expect)
    if prefix is None:
        raise EventLogError(
            "a version to expect needs its digest",
            field="--expect",
            value=expect,
            expected=f"vN:DIGEST as printed by `mib events validate`, e.g. {log.version}",
        )
    n = len(log.entries)
    if seq > n:
        raise EventLogError(
            f"record {seq} is missing: the log ends at record {n}; records "
            "were cut off its end, or this is an older copy",
            file=log.path,
            field="--expect",
            value=str(log.version),
            expected=f"v{seq}:{prefix} or a later version",
        )
    actual = log.version_at(seq)
    if not actual.digest.startswith(prefix):
        line = log.entries[seq - 1].line if seq else None
        raise EventLogError(
            f"record {seq} differs from the expected version: records 1..{seq} "
            "are not the ones it was built from",
            file=log.path,
            line=line,
            field="--expect",
            value=str(actual),
            expected=f"v{seq}:{prefix}",
        )
    return actual


def load_catalog(
    path: str | Path | None = None,
    *,
    version: int | str | None = None,
    universe: Universe | None = None,
) -> Catalog:
    """Read a log and fold it as of ``version`` (int, ``vN`` or ``vN:digest``).

    The whole file is chain-checked and folded first, so a log with an edited or
    inconsistent record is refused even when an earlier version is asked for.
    With a ``universe``, every affected target is checked against it.
    """
    p = Path(path) if path is not None else default_log_path()
    return catalog_from_log(read_log(p), version=version, universe=universe)
