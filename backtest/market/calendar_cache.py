"""Exchange sessions kept on disk between runs: one small ``.npz`` per calendar.

Building a calendar in exchange_calendars (its holiday rules, evaluated year by
year) takes 0.3-0.6 s per exchange, in each process of a run that needs it; a run
needs four.  What mib reads from a calendar (:class:`CalendarData`) is stored
under ``<mib cache>/calendars/`` and read back in milliseconds.

The file name holds everything the content depends on: the calendar, the
exchange_calendars version, the first and last session requested (the last one
moves with the date, so a file serves one day), the closures mib adds
(:mod:`backtest.market.closures`) and this module's format.  A file that cannot
be read is rebuilt; a cache folder that cannot be written is simply not used.
Arrays only, read with ``allow_pickle=False``: nothing in the folder is executed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd

__all__ = ["FORMAT", "CalendarData", "cache_file", "read_cached", "write_cached"]

FORMAT = 1  # bump when CalendarData or the file layout changes


@dataclass(frozen=True, slots=True, eq=False)
class CalendarData:
    """The sessions of one exchange calendar, as mib uses them.

    ``sessions`` tz-naive session labels; ``opens`` and ``closes`` their first and
    last trading instants (UTC, nanoseconds); ``tz`` the exchange's time zone;
    ``holidays`` the calendar's named regular holidays (ISO date, name) between its
    first and last session.
    """

    name: str
    tz: str
    sessions_ns: np.ndarray
    opens_ns: np.ndarray
    closes_ns: np.ndarray
    holidays: tuple[tuple[str, str], ...]

    @property
    def sessions(self) -> pd.DatetimeIndex:
        import pandas as pd

        return pd.DatetimeIndex(self.sessions_ns.view("datetime64[ns]"))

    def bounds(self) -> pd.DataFrame:
        """Open and close instants (UTC) of every session, indexed by session."""
        import pandas as pd

        def utc(ns: np.ndarray) -> pd.DatetimeIndex:
            return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")

        return pd.DataFrame(
            {"open": utc(self.opens_ns), "close": utc(self.closes_ns)}, index=self.sessions
        )


def cache_file(
    folder: Path, name: str, version: str, start: str, end: dt.date, closures: tuple[dt.date, ...]
) -> Path:
    """The file that holds calendar ``name`` built with these inputs."""
    added = hashlib.sha256(",".join(d.isoformat() for d in closures).encode()).hexdigest()[:12]
    return folder / f"v{FORMAT}-{name}-xc{version}-{start}-{end:%Y%m%d}-{added}.npz"


def read_cached(path: Path) -> CalendarData | None:
    """The calendar stored at ``path``; None when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            days, names = z["holiday_days"], z["holiday_names"]
            return CalendarData(
                name=str(z["name"]),
                tz=str(z["tz"]),
                sessions_ns=z["sessions"].astype(np.int64),
                opens_ns=z["opens"].astype(np.int64),
                closes_ns=z["closes"].astype(np.int64),
                holidays=tuple((str(d), str(n)) for d, n in zip(days, names, strict=True)),
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def write_cached(path: Path, data: CalendarData) -> None:
    """Store ``data`` at ``path`` (a new file renamed into place); a folder that
    cannot be written leaves things as they were."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".npz")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                name=np.array(data.name),
                tz=np.array(data.tz),
                sessions=data.sessions_ns,
                opens=data.opens_ns,
                closes=data.closes_ns,
                holiday_days=np.array([d for d, _ in data.holidays], dtype=str),
                holiday_names=np.array([n for _, n in data.holidays], dtype=str),
            )
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
