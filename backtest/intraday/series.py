"""One symbol's intraday bars per folder, and reading whole folders.

Levels are never mixed across folders: one folder's NVDA may be split-adjusted
and another's not, so each folder gives its own :class:`IntradaySeries` (a study
picks one per event, see :mod:`backtest.intraday.reaction`).  Within a folder,
files of one symbol (e.g. a 15-minute and a 5-minute excerpt) are merged on the
bar's instant in file-name order, the first file winning where two hold the same
instant (how many bars each file supplied is kept in ``sources``).  Each bar
keeps its own length.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from backtest.errors import InputFileError
from backtest.intraday.layouts import FileBars, read_bar_file, symbol_from_name
from backtest.intraday.sessions import POST, REGULAR, calendar_for, session_names, tag_sessions

if TYPE_CHECKING:
    import pandas as pd

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BAR_FRAME_COLUMNS: tuple[str, ...] = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "bar_seconds",
    "session",
)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file that supplied bars to a series, under which time-zone rule."""

    file: str
    rule: str
    bars: int  # bars it supplied after merging (0 when every bar was already given)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IntradaySeries:
    """Bars of one symbol: ``frame`` indexed by bar start (UTC, tz-aware, named ``bar_utc``).

    Columns: open, high, low, close, volume, bar_seconds, session (pre, regular,
    post, closed).  Sorted, unique instants.
    """

    symbol: str
    calendar: str
    frame: pd.DataFrame
    sources: tuple[SourceFile, ...]
    label: str = ""  # the folder it came from (its name), to tell sources of a symbol apart

    @property
    def start_ns(self) -> Int64Array:
        out: Int64Array = self.frame.index.as_unit("ns").asi8.astype(np.int64)
        return out

    @property
    def close(self) -> FloatArray:
        out: FloatArray = self.frame["close"].to_numpy(dtype=np.float64)
        return out

    @property
    def end_ns(self) -> Int64Array:
        """Bar ends: start + length, a regular bar cut at its session's close."""
        from backtest.alignment.sessions import session_table

        start = self.start_ns
        end = start + self.frame["bar_seconds"].to_numpy(dtype=np.int64) * 1_000_000_000
        regular = self.frame["session"].to_numpy() == "regular"
        if regular.any():
            closes = session_table(self.calendar).closes_ns
            nxt = closes[np.minimum(np.searchsorted(closes, start, side="right"), len(closes) - 1)]
            end = np.where(regular, np.minimum(end, nxt), end)
        out: Int64Array = end.astype(np.int64)
        return out

    def rules(self) -> str:
        return "; ".join(sorted({s.rule for s in self.sources}))


def build_series(
    symbol: str, calendar: str, files: Sequence[FileBars], label: str = ""
) -> IntradaySeries:
    """Merge ``files`` (priority order) into one series and tag its sessions."""
    import pandas as pd

    utc = np.concatenate([f.utc_ns for f in files])
    prio = np.concatenate([np.full(len(f), i, dtype=np.int64) for i, f in enumerate(files)])
    order = np.lexsort((prio, utc))
    first = np.concatenate([[True], np.diff(utc[order]) != 0])
    pick = order[first]
    won = np.bincount(prio[pick], minlength=len(files))
    cols: dict[str, object] = {
        c: np.concatenate([f.prices[c] for f in files])[pick]
        for c in ("open", "high", "low", "close", "volume")
    }
    cols["bar_seconds"] = np.concatenate(
        [np.full(len(f), f.bar_seconds, dtype=np.int64) for f in files]
    )[pick]
    start = utc[pick]
    cols["session"] = session_names(tag_sessions(calendar, start))
    idx = pd.DatetimeIndex(pd.to_datetime(start, utc=True), name="bar_utc")
    frame = pd.DataFrame(cols, index=idx)
    sources = tuple(
        SourceFile(str(f.file), f.rule.detail, int(won[i]), f.notes) for i, f in enumerate(files)
    )
    return IntradaySeries(symbol, calendar, frame, sources, label)


@dataclass(frozen=True)
class BarSet:
    """Every symbol's series, one per folder in the order the folders were given."""

    series: Mapping[str, tuple[IntradaySeries, ...]]

    def __getitem__(self, symbol: str) -> tuple[IntradaySeries, ...]:
        return self.series[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.series

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.series)

    def all_series(self) -> list[IntradaySeries]:
        return [s for group in self.series.values() for s in group]

    def report_lines(self) -> list[str]:
        """One line per file: symbol, bars used, the time-zone rule (for the console)."""
        lines = []
        for s in self.all_series():
            for src in s.sources:
                extra = "".join(f"; {n}" for n in src.notes)
                lines.append(f"{s.symbol}: {src.file}: {src.bars} bars; {src.rule}{extra}")
        return lines


def bar_files(directory: Path) -> list[Path]:
    """The ``*.csv`` files of a folder, by name; a missing folder is refused."""
    if not directory.is_dir():
        raise InputFileError("not a directory of bar files", file=directory)
    return sorted(p for p in directory.iterdir() if p.suffix.lower() == ".csv" and p.is_file())


def read_bar_dirs(
    directories: Sequence[Path],
    *,
    tz: str | None = None,
    known_symbols: Collection[str] = (),
    calendars: Mapping[str, str] | None = None,
    symbols: Collection[str] | None = None,
) -> BarSet:
    """Every bar file of ``directories`` (or only ``symbols``'), merged per symbol.

    The first file that cannot be read (naive stamps without ``--tz``, an unknown
    layout) stops the import with its one-line error: nothing is half-read.
    """
    cal = dict(calendars or {})
    out: dict[str, list[IntradaySeries]] = {}
    for d in directories:
        files = bar_files(Path(d))
        if not files:
            raise InputFileError("no .csv bar files in the folder", file=d)
        by_symbol: dict[str, list[FileBars]] = {}
        for path in files:
            if symbols is not None and symbol_from_name(path, known_symbols) not in symbols:
                continue
            fb = read_bar_file(path, tz=tz, known_symbols=known_symbols)
            by_symbol.setdefault(fb.symbol, []).append(fb)
        for sym, group in by_symbol.items():
            series = build_series(sym, calendar_for(sym, cal), group, Path(d).name)
            out.setdefault(sym, []).append(series)
    return BarSet({sym: tuple(v) for sym, v in sorted(out.items())})


def bars_between(series: IntradaySeries, lo_ns: int, hi_ns: int) -> pd.DataFrame:
    """Bars starting in [lo_ns, hi_ns)."""
    s = series.start_ns
    a, b = np.searchsorted(s, [lo_ns, hi_ns])
    return series.frame.iloc[int(a) : int(b)]


__all__ = [
    "POST",
    "REGULAR",
    "BarSet",
    "IntradaySeries",
    "SourceFile",
    "bar_files",
    "bars_between",
    "build_series",
    "read_bar_dirs",
]
