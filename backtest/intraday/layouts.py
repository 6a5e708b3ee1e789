"""Intraday bar files: recognise the layout, read the stamps under an explicit rule.

Layouts recognised from the header (names compared without case; an unnamed
pandas index column is dropped; a name written twice in two cases, like the
``open``/``Open`` halves of a file appended by two programs, is merged, the first
non-empty cell winning):

``bars``
    a time column (``Datetime``, ``datetime``, ``date``, ``time``, ``timestamp``)
    and ``close`` (``open``/``high``/``low``/``volume`` when present; extra columns
    such as ``Dividends``, ``Stock Splits``, ``Capital Gains``, ``Symbol`` ignored).
    A second time-like column holding integers of 10 or 13 digits is an epoch
    column (seconds or milliseconds) and proves the zone of naive stamps.
``snapshots``
    quote snapshots with a time of day (``tx_server_time``), an epoch-ms stamp
    (``tx_local_time``) and a last ``price`` (``tick_vol`` as volume): each
    snapshot becomes a bar whose open, high, low and close are that price.

How the stamps become instants is :mod:`backtest.intraday.timezones`'s job; the
rule used is returned with the bars.  The bar length is the most common step
between consecutive stamps of a file (5 min, 15 min, 1 h, ~3 s).

The symbol comes from the file name: ``NVDA.csv``, ``NVDA_5m_2025-04-14_17.csv``
(the part before the first ``_``) and ``159920.SZ-2025-12-08.csv`` (a trailing
``-YYYY-MM-DD`` dropped) all name their symbol; ``GSPC.csv`` is ``^GSPC`` when the
caller knows that symbol.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from backtest.errors import InputFileError
from backtest.intraday.timezones import (
    TzRule,
    epoch_to_ns,
    has_offsets,
    naive_rule,
    offset_rule,
    parse_offset_stamps,
)

if TYPE_CHECKING:
    import pandas as pd

LayoutName = Literal["bars", "snapshots"]
FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
TIME_COLUMNS: tuple[str, ...] = ("datetime", "date", "time", "timestamp")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
_DATED_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class FileBars:
    """One file's bars, as instants (UTC ns of the bar start), in file order sorted."""

    symbol: str
    file: Path
    layout: LayoutName
    rule: TzRule
    utc_ns: Int64Array
    bar_seconds: int
    prices: dict[str, FloatArray]  # open, high, low, close, volume (NaN where absent)
    notes: tuple[str, ...] = ()  # what reading changed: repeated stamps, merged columns

    def __len__(self) -> int:
        return len(self.utc_ns)


def symbol_from_name(path: Path, known: Collection[str] = ()) -> str:
    """The symbol a file name holds (see the module docstring)."""
    stem = path.stem
    if "_" in stem:
        stem = stem.split("_", 1)[0]
    stem = _DATED_SUFFIX.sub("", stem)
    if f"^{stem}" in known and stem not in known:
        return f"^{stem}"
    return stem


def _merge_case_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns lower-cased; an unnamed index column dropped; duplicates merged left to right.

    ``attrs['names']`` maps each name to its spelling in the file; ``attrs['notes']``
    says where two spellings of a column both had (different) values.
    """
    import pandas as pd

    cols: dict[str, pd.Series] = {}
    names: dict[str, str] = {}
    notes: list[str] = []
    for i, name in enumerate(frame.columns):
        key = str(name).strip().lower()
        if key == "" or key.startswith("unnamed:"):
            continue
        col = frame.iloc[:, i]
        if key in cols:
            both = cols[key].notna() & col.notna()
            if both.any() and pd.api.types.is_numeric_dtype(col.dtype):
                differ = int((both & (cols[key] != col)).sum())
                if differ:
                    notes.append(
                        f"columns '{names[key]}' and '{name}' both filled on {int(both.sum())} "
                        f"rows and different on {differ}: '{names[key]}' used there"
                    )
            cols[key] = cols[key].combine_first(col)
        else:
            cols[key] = col
        names.setdefault(key, str(name))
    out = pd.DataFrame(cols)
    out.attrs["names"] = names
    out.attrs["notes"] = notes
    return out


def _is_epoch(col: pd.Series) -> bool:
    import pandas as pd

    if not pd.api.types.is_integer_dtype(col.dtype) or col.empty:
        return False
    v = np.abs(col.to_numpy(dtype=np.float64))
    return bool(np.all((v > 1e9) & (v < 1e10)) or np.all((v > 1e12) & (v < 1e13)))


def _bar_seconds(utc_ns: Int64Array) -> int:
    """The most common positive step between consecutive stamps, in seconds (0 if one row)."""
    steps = np.diff(utc_ns) // 1_000_000_000
    steps = steps[steps > 0]
    if not len(steps):
        return 0
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def read_bar_file(
    path: Path, *, tz: str | None = None, known_symbols: Collection[str] = ()
) -> FileBars:
    """Read one intraday file; one error line naming the file when it cannot be read."""
    import pandas as pd

    try:
        raw = pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"cannot read the bar file: {str(exc).splitlines()[0]}", file=path
        ) from None
    if raw.empty:
        raise InputFileError("the bar file has no rows", file=path)
    header = [str(c) for c in raw.columns]
    frame = _merge_case_duplicates(raw)
    symbol = symbol_from_name(path, known_symbols)
    if {"tx_local_time", "price"} <= set(frame.columns):
        return _snapshots(frame, path, symbol, tz)
    epoch_cols = [
        c for c in (*TIME_COLUMNS, "epoch", "epoch_ms") if c in frame and _is_epoch(frame[c])
    ]
    text_cols = [c for c in TIME_COLUMNS if c in frame and c not in epoch_cols]
    if not text_cols or "close" not in frame:
        raise InputFileError(
            "unknown intraday layout",
            file=path,
            value=header,
            expected="a time column (Datetime, datetime, date, time or timestamp) and a close "
            "column, or quote snapshots with tx_local_time and price",
        )
    names = frame.attrs.get("names", {})
    tcol = names.get(text_cols[0], text_cols[0])
    text = frame[text_cols[0]].astype(str).str.strip()
    epoch = frame[epoch_cols[0]].to_numpy(dtype=np.float64) if epoch_cols else None
    have = [c for c in PRICE_COLUMNS[:4] if c in frame]
    keep = frame[have].notna().any(axis=1)
    if has_offsets(text, path, tcol):
        utc = parse_offset_stamps(text, path, tcol)
        rule = offset_rule(tcol, tz, text.iloc[0])
    else:
        naive = _naive_index(text, path, tcol)
        utc, rule = naive_rule(
            naive,
            epoch_to_ns(epoch) if epoch is not None else None,
            tz,
            file=path,
            column=tcol,
            epoch_column=names.get(epoch_cols[0], epoch_cols[0]) if epoch_cols else "",
        )
    prices = {
        c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
        if c in frame
        else np.full(len(frame), np.nan)
        for c in PRICE_COLUMNS
    }
    notes = tuple(frame.attrs.get("notes", ()))
    return _finish(symbol, path, "bars", rule, utc, prices, keep.to_numpy(dtype=bool), notes)


def _naive_index(text: pd.Series, path: Path, column: str) -> pd.DatetimeIndex:
    import pandas as pd

    try:
        return pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise InputFileError(
            f"unreadable time stamp: {str(exc).splitlines()[0]}",
            file=path,
            field=column,
            expected="YYYY-MM-DD HH:MM[:SS] stamps",
        ) from None


def _snapshots(frame: pd.DataFrame, path: Path, symbol: str, tz: str | None) -> FileBars:
    """Quote snapshots: instants from the epoch column, zone proved by the time of day."""
    import pandas as pd

    utc = epoch_to_ns(frame["tx_local_time"].to_numpy(dtype=np.float64))
    if "tx_server_time" not in frame:
        raise InputFileError(
            "quote snapshots without 'tx_server_time': nothing says which zone they are in",
            file=path,
            expected="the time of day beside the epoch stamp",
        )
    tod = pd.TimedeltaIndex(pd.to_timedelta(frame["tx_server_time"].astype(str)))
    tod_ns = tod.as_unit("ns").asi8.astype(np.int64)
    zone = snapshot_zone(utc, tod_ns)
    if zone is None:
        raise InputFileError(
            "the time of day in 'tx_server_time' fits the epoch 'tx_local_time' in none of "
            "the zones tried",
            file=path,
            field="tx_server_time",
            expected="snapshots whose server time is the local time of the epoch stamp",
        )
    rule = TzRule(
        "epoch",
        zone,
        f"quote snapshots: instants from the epoch-ms column 'tx_local_time'; the time of day "
        f"in 'tx_server_time' is {zone} on every row (within 60 s)"
        + (f"; --tz {tz} not used" if tz else ""),
    )
    price = pd.to_numeric(frame["price"], errors="coerce").to_numpy(dtype=np.float64)
    vol = (
        pd.to_numeric(frame["tick_vol"], errors="coerce").to_numpy(dtype=np.float64)
        if "tick_vol" in frame
        else np.full(len(frame), np.nan)
    )
    prices = {"open": price, "high": price, "low": price, "close": price, "volume": vol}
    return _finish(symbol, path, "snapshots", rule, utc, prices, ~np.isnan(price))


def snapshot_zone(utc_ns: Int64Array, tod_ns: Int64Array, tolerance_s: float = 60.0) -> str | None:
    """The one candidate zone whose local time of day is ``tod_ns`` on every row, else None."""
    import pandas as pd

    from backtest.intraday.timezones import CANDIDATE_ZONES

    day_ns = 86_400 * 1_000_000_000
    hits = []
    for zone in CANDIDATE_ZONES:
        local = pd.DatetimeIndex(pd.to_datetime(utc_ns, utc=True)).tz_convert(zone)
        wall = local.tz_localize(None).as_unit("ns").asi8 % day_ns
        diff = np.abs(wall - tod_ns)
        diff = np.minimum(diff, day_ns - diff)
        if bool(np.all(diff <= tolerance_s * 1e9)):
            hits.append(zone)
    return hits[0] if len(hits) == 1 else None


def _finish(
    symbol: str,
    path: Path,
    layout: LayoutName,
    rule: TzRule,
    utc: Int64Array,
    prices: dict[str, FloatArray],
    keep: npt.NDArray[np.bool_],
    notes: tuple[str, ...] = (),
) -> FileBars:
    """Rows with a price, sorted by instant; of repeated instants the last row is kept."""
    order = np.argsort(utc[keep], kind="stable")
    utc = utc[keep][order]
    prices = {k: v[keep][order] for k, v in prices.items()}
    said = list(notes)
    dup = np.flatnonzero(np.diff(utc) == 0)
    if len(dup):
        a, b = prices["close"][dup], prices["close"][dup + 1]
        rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-12)
        last = np.concatenate([np.diff(utc) != 0, [True]])
        utc = utc[last]
        prices = {k: v[last] for k, v in prices.items()}
        said.append(
            f"{len(dup)} repeated time stamps: the last row kept (a later copy of the bar); "
            f"closes differed by up to {np.nanmax(rel, initial=0.0):.2%}"
        )
    if not len(utc):
        raise InputFileError("no bar with a price", file=path)
    return FileBars(symbol, path, layout, rule, utc, _bar_seconds(utc), prices, tuple(said))
