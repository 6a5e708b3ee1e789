"""Bring-your-own prices: read CSV files of many layouts into canonical bars.

Bars come out indexed by tz-naive session date (``date``), sorted ascending,
with float columns from ``BAR_COLUMNS``.  Dates carrying a UTC offset
(``2020-01-02 00:00:00+08:00``, yfinance ``Ticker.history``) keep the wall-clock
date written in the file, which is the exchange's local date.

The body is streamed through pyarrow's CSV reader: only the columns a layout
uses are converted, as text, block by block, and each block becomes float64
arrays at once, so a large file needs about the memory of its result (8 bytes
per used cell), not several copies of its text.  Numbers are parsed strictly
(:class:`~backtest.market.layouts.NumberFormat`): ``"3,98"`` or ``1,234.50`` is an
error naming file, line, column and value unless the convention is named.  A
row with more cells than the header (an unquoted separator) is an error; one
with fewer has its missing cells empty.

Checks that need what only the file has run while reading (see
:mod:`backtest.market.checks`), each naming the file, line, column and value:

* ``non_finite`` (``inf``, ``1e308``): the cell becomes empty; an absurd close
  drops its row;
* ``non_positive``: a price <= 0 (or a negative volume) is not a price; the
  cell becomes empty and a non-positive close drops its row -- refused rather
  than kept, so it can never reach a return;
* ``future_date``: a row dated after today's date anywhere on Earth is
  dropped (no close can exist yet);
* ``change_mismatch``: the file's own change or percent-change column against
  its consecutive closes; the column is then dropped, as it is not a bar column.

All are of severity error and end up in ``RawSeries.issues``, which the panel
keeps as notes and ``mib data verify`` lists.  A file found for a symbol only
ignoring case (``amd.csv`` for AMD) is read, with a ``file_name_case`` warning.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backtest.errors import DataError, InputFileError
from backtest.market.checks import CheckPolicy, absurd_values, change_mismatches
from backtest.market.compare import Reference
from backtest.market.layouts import (
    CHANGE_FIELDS,
    ENCODINGS,
    FileHead,
    NumberFormat,
    detect_layout,
    fast_parse,
    parse_dates,
    parse_numbers,
    read_head,
)
from backtest.market.panel import BAR_COLUMNS, Adjustment, SeriesMeta, SourceKind
from backtest.market.types import (
    DuplicatePolicy,
    FetchResult,
    Issue,
    Progress,
    RawSeries,
    adjusted_close_in_place,
    bars_hash,
)

if TYPE_CHECKING:
    import pyarrow as pa

_VALUE_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
_PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")
_BLOCK_BYTES = 1 << 22  # text per pyarrow block (a row must fit in one)
_SHOWN_LINES = 10  # line numbers listed in a duplicate_date finding


# ---------------------------------------------------------------- finding the file


def symbol_file_names(symbol: str) -> tuple[str, ...]:
    """File names that may hold ``symbol``: exact, then without a leading '^' (^GSPC -> GSPC)."""
    names = [f"{symbol}.csv"]
    if symbol.startswith("^"):
        names.append(f"{symbol[1:]}.csv")
    return tuple(names)


def check_readable(path: Path) -> None:
    """Refuse a path that cannot be read as a file, saying why (a link loop is no missing file)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputFileError(
                "symbolic link loop", file=path, expected="a link that ends at a price file"
            ) from None
        if os.path.islink(path):
            raise InputFileError(
                f"broken symbolic link to {os.readlink(path)}",
                file=path,
                expected="a link to an existing price file",
            ) from None
        if exc.errno == errno.ENOENT:
            raise InputFileError("price file not found", file=path) from None
        raise InputFileError(f"cannot read the price file: {exc.strerror}", file=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(
            "a directory, not a price file", file=path, expected="a <SYMBOL>.csv file"
        )


def find_symbol_file(directory: Path, symbol: str) -> Path | None:
    """``directory``'s file for ``symbol``: an exact name, else one that matches ignoring case.

    A name matching only ignoring case (``amd.csv`` for AMD) is used, so a file is
    never silently ignored and case-sensitive and case-insensitive file systems
    agree; the reader records a ``file_name_case`` warning.  Several such names,
    a link loop or a broken link are errors.
    """
    names = symbol_file_names(symbol)
    for name in names:
        p = directory / name
        if os.path.lexists(p):
            check_readable(p)
            return p
    try:
        listing = os.listdir(directory)
    except OSError:
        return None
    wanted = {n.lower() for n in names}
    hits = sorted(n for n in listing if n.lower() in wanted)
    if len(hits) > 1:
        raise InputFileError(
            f"several files match {symbol} ignoring case: {hits}",
            file=directory,
            expected=f"one file named {names[0]}",
        )
    if not hits:
        return None
    check_readable(directory / hits[0])
    return directory / hits[0]


def name_case_issue(path: Path, symbol: str) -> tuple[Issue, ...]:
    """A ``file_name_case`` warning when ``path`` matched ``symbol`` only ignoring case."""
    if path.name in symbol_file_names(symbol):
        return ()
    return (
        Issue(
            symbol,
            "",
            "file_name_case",
            "warning",
            f"{path.name} was read as {symbol}: its name matches {symbol}.csv only "
            f"ignoring case; rename it to {symbol_file_names(symbol)[-1]}",
        ),
    )


def latest_plausible_date() -> np.datetime64:
    """Today's date anywhere on Earth (UTC+14): no close can be dated later."""
    return np.datetime64((datetime.now(UTC) + timedelta(hours=14)).date(), "D")


# ---------------------------------------------------------------- reading the body


class _NotUtf8(Exception):
    """The body is not UTF-8 although the head was: read again as GB18030."""


@dataclass
class _Rows:
    """Growing columns of the rows read so far (preallocated to the file's line count)."""

    dates: np.ndarray  # int64 microseconds
    values: dict[str, np.ndarray]  # field -> float64
    lines: np.ndarray  # int32, 1-based file lines
    n: int = 0
    screened: list[Issue] = field(default_factory=list)

    def append(
        self, dates: np.ndarray, values: Mapping[str, np.ndarray], lines: np.ndarray
    ) -> None:
        k = len(dates)
        self.dates[self.n : self.n + k] = dates
        for f, v in values.items():
            self.values[f][self.n : self.n + k] = v
        self.lines[self.n : self.n + k] = lines
        self.n += k


@dataclass(frozen=True)
class _Spec:
    """What to read from a file: its head, the used columns and how to check them."""

    path: Path
    head: FileHead
    date_col: int
    cols: Mapping[str, int]  # value/change field -> column index
    numbers: NumberFormat
    policy: CheckPolicy
    symbol: str

    def name_of(self, f: str) -> str:
        return self.head.header.raw[self.cols[f]]


def _count_lines(path: Path) -> int:
    """An upper bound on the number of lines ('\\n' or '\\r' endings)."""
    nl = cr = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            nl += block.count(b"\n")
            cr += block.count(b"\r")
    return max(nl, cr) + 1


class _LineNumbers:
    """File line numbers of the rows pyarrow delivers: consecutive but for the rows it skipped."""

    def __init__(self, first: int) -> None:
        self.next = first + 1
        self.skipped: list[int] = []
        self._k = 0

    def take(self, n: int) -> np.ndarray:
        parts = []
        while self._k < len(self.skipped) and self.skipped[self._k] < self.next:
            self._k += 1
        while n:
            nxt = self.skipped[self._k] if self._k < len(self.skipped) else self.next + n
            span = min(n, nxt - self.next)
            parts.append(np.arange(self.next, self.next + span, dtype=np.int64))
            self.next += span
            n -= span
            if n and self.next == nxt:
                self.next += 1
                self._k += 1
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _read_rows(spec: _Spec) -> _Rows:
    """Every data row of the file as dates, float columns and line numbers (screened)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    head = spec.head
    n_max = max(_count_lines(spec.path) - head.first, 0)
    rows = _Rows(
        dates=np.empty(n_max, dtype=np.int64),
        values={f: np.empty(n_max) for f in spec.cols},
        lines=np.empty(n_max, dtype=np.int32),
    )
    numbers = _LineNumbers(head.first)
    short: list[tuple[int, str]] = []
    wide: list[tuple[int, int, str]] = []

    def invalid(row: pcsv.InvalidRow) -> str:
        numbers.skipped.append(int(row.number))
        if row.actual_columns > row.expected_columns:
            wide.append((int(row.number), row.actual_columns, row.text))
        else:
            short.append((int(row.number), row.text))
        return "skip"

    names = [f"c{i}" for i in range(head.width)]
    used = [spec.date_col, *spec.cols.values()]
    pool = pa.default_memory_pool()  # its freed blocks are handed back after each batch
    reader = pcsv.open_csv(
        spec.path,
        read_options=pcsv.ReadOptions(
            skip_rows=head.first,
            column_names=names,
            use_threads=False,
            block_size=max(_BLOCK_BYTES, 4 * head.line_bytes),
            encoding="utf8" if head.encoding == "utf-8" else head.encoding,
        ),
        parse_options=pcsv.ParseOptions(
            delimiter=head.sep, ignore_empty_lines=False, invalid_row_handler=invalid
        ),
        convert_options=pcsv.ConvertOptions(
            include_columns=[names[i] for i in used],
            column_types={names[i]: pa.string() for i in used},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
        memory_pool=pool,
    )
    try:
        for batch in reader:
            lines = numbers.take(batch.num_rows)
            if wide:
                _too_wide(spec, wide[0])
            cells = {i: batch.column(names[i]) for i in used}
            _take_block(spec, cells, lines, rows)
            del batch, cells
            pool.release_unused()
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) and head.encoding == "utf-8":
            raise _NotUtf8 from None
        raise InputFileError(
            f"not a readable CSV file: {str(exc).strip()}", file=spec.path
        ) from None
    if wide:
        _too_wide(spec, wide[0])
    if short:
        _take_short_rows(spec, short, rows)
    return rows


def _too_wide(spec: _Spec, row: tuple[int, int, str]) -> None:
    line, got, text = row
    raise DataError(
        f"{got} cells on a line under a header of {spec.head.width}: an unquoted "
        "separator inside a value (thousands separator or decimal comma?)",
        file=spec.path,
        line=line,
        value=text if len(text) <= 120 else text[:117] + "...",
        expected=f"{spec.head.width} cells; quote such values or remove the separators",
    )


def _take_short_rows(spec: _Spec, short: list[tuple[int, str]], rows: _Rows) -> None:
    """Rows with fewer cells than the header (missing cells empty), then the file order again."""
    import csv

    import pyarrow as pa

    parsed = [next(csv.reader([text], delimiter=spec.head.sep), []) for _, text in short]
    padded = [r + [""] * (spec.head.width - len(r)) for r in parsed]
    used = [spec.date_col, *spec.cols.values()]
    cells = {i: pa.array([r[i] for r in padded], type=pa.string()) for i in used}
    _take_block(spec, cells, np.array([n for n, _ in short], dtype=np.int64), rows)
    order = np.argsort(rows.lines[: rows.n], kind="stable")
    rows.dates[: rows.n] = rows.dates[: rows.n][order]
    rows.lines[: rows.n] = rows.lines[: rows.n][order]
    for v in rows.values.values():
        v[: rows.n] = v[: rows.n][order]


def _take_block(spec: _Spec, cells: Mapping[int, pa.Array], lines: np.ndarray, rows: _Rows) -> None:
    """Parse one block of text cells, screen it, and append the rows it keeps."""
    import pyarrow.compute as pc

    fast = (
        fast_parse(cells[spec.date_col], {f: cells[i] for f, i in spec.cols.items()})
        if spec.numbers.is_default
        else None
    )
    if fast is not None:
        dates, values = fast
        text = cells
        keep = np.ones(len(lines), dtype=bool)
    else:
        text = {i: pc.utf8_trim_whitespace(a) for i, a in cells.items()}
        blank = np.ones(len(lines), dtype=bool)
        for a in text.values():
            blank &= pc.equal(a, "").to_numpy(zero_copy_only=False)
        keep = ~blank
        dates = parse_dates(text[spec.date_col], keep, lines, file=spec.path)
        values = {
            f: parse_numbers(
                text[i], keep, lines, spec.numbers, file=spec.path, column=spec.name_of(f)
            )
            for f, i in spec.cols.items()
        }
    keep &= _screen(
        spec, dates, values, {f: text[i] for f, i in spec.cols.items()}, lines, keep, rows.screened
    )
    rows.append(dates[keep], {f: v[keep] for f, v in values.items()}, lines[keep])


def _screen(
    spec: _Spec,
    dates: np.ndarray,
    values: Mapping[str, np.ndarray],
    texts: Mapping[str, pa.Array],
    lines: np.ndarray,
    rows: np.ndarray,
    out: list[Issue],
) -> np.ndarray:
    """future_date, non_finite, non_positive on one block, in place; returns the rows kept.

    Absurd or non-positive cells become NaN; such a close (or adj_close) drops
    its row, as does a date after today.  Change columns are not screened (an
    absurd change shows up as a ``change_mismatch``).
    """
    checked = [f for f in values if f in _VALUE_FIELDS]
    pol = spec.policy
    bounds = np.array([pol.max_volume if f == "volume" else pol.max_price for f in checked])
    vals = np.column_stack([values[f] for f in checked]) if checked else np.zeros((len(rows), 0))
    absurd = np.zeros(vals.shape, dtype=bool)
    r, c = absurd_values(vals, bounds)
    absurd[r, c] = True
    with np.errstate(invalid="ignore"):
        floor = np.array([f != "volume" for f in checked])
        nonpos = ~absurd & ((vals <= 0) & floor | (vals < 0) & ~floor)
    limit = latest_plausible_date().astype("datetime64[us]").astype(np.int64)
    future = rows & (dates > limit)
    bad = rows & ~future & (absurd | nonpos).any(axis=1)
    keep = np.ones(len(rows), dtype=bool)
    name = spec.path.name
    closes = np.array([f in ("close", "adj_close") for f in checked], dtype=bool)
    for i in np.flatnonzero(future | bad):
        day = f"{np.datetime64(int(dates[i]), 'us').astype('datetime64[D]')}"
        where = f"{name}:{int(lines[i])}"
        keep[i] = not future[i] and not ((absurd[i] | nonpos[i]) & closes).any()
        if future[i]:
            out.append(
                Issue(
                    spec.symbol,
                    day,
                    "future_date",
                    "error",
                    f"{where} date {day} is after today ({latest_plausible_date()} "
                    "anywhere on Earth); row dropped",
                )
            )
            continue
        for check, mask in (("non_finite", absurd[i]), ("non_positive", nonpos[i])):
            js = np.flatnonzero(mask)
            if not len(js):
                continue
            fs = [checked[j] for j in js]
            what = ", ".join(f"{spec.name_of(f)} {texts[f][i].as_py().strip()!r}" for f in fs)
            if check == "non_finite":
                limits = ", ".join(sorted({f"{bounds[j]:g}" for j in js}))
                want = f"a finite number of magnitude <= {limits}"
            else:
                want = " and ".join(
                    sorted({"a price > 0" if f != "volume" else "a volume >= 0" for f in fs})
                )
            out.append(
                Issue(
                    spec.symbol,
                    day,
                    check,
                    "error",
                    f"{where} {what}: expected {want}; "
                    + ("treated as empty" if keep[i] else "row dropped"),
                )
            )
            for f in fs:
                values[f][i] = np.nan
    return keep


# ---------------------------------------------------------------- rows to bars


def _order_and_dedupe(
    rows: _Rows, spec: _Spec, duplicates: DuplicatePolicy
) -> tuple[list[Issue], str]:
    """Sort by date (stable) and drop identical duplicates in place; conflicting ones raise."""
    d = rows.dates
    if len(d) < 2 or bool((d[1:] > d[:-1]).all()):
        return [], ""
    order = "rows were newest-first; sorted ascending" if bool((d[1:] <= d[:-1]).all()) else ""
    pos = np.argsort(d, kind="stable")
    dup = np.zeros(len(d), dtype=bool)
    sd = d[pos]
    dup[1:] = sd[1:] == sd[:-1]
    del sd
    issues: list[Issue] = []
    if dup.any():
        issues = _duplicates(rows, spec, pos, dup, duplicates)
        pos = pos[~dup]
    _take(rows, pos)
    return issues, order


def _duplicates(
    rows: _Rows, spec: _Spec, pos: np.ndarray, dup: np.ndarray, duplicates: DuplicatePolicy
) -> list[Issue]:
    """duplicate_date findings (identical rows) or the error for the first conflicting date.

    Rows of one date are identical when each equals the one before it in
    (stable) date order, so one column at a time is compared, in sorted order.
    """
    differs = np.zeros(len(pos), dtype=bool)
    for v in rows.values.values():
        a = v[pos]
        same = (a[1:] == a[:-1]) | (np.isnan(a[1:]) & np.isnan(a[:-1]))
        differs[1:] |= dup[1:] & ~same
        del a, same
    starts = np.flatnonzero(~dup)
    sizes = np.diff(np.append(starts, len(pos)))

    def group_at(k: int) -> int:
        return int(np.searchsorted(starts, k, side="right") - 1)

    def where(g: int, most: int | None = None) -> list[int]:
        stop = starts[g] + (sizes[g] if most is None else min(most, sizes[g]))
        return [int(x) for x in rows.lines[pos[starts[g] : stop]]]

    def day(g: int) -> str:
        return f"{np.datetime64(int(rows.dates[pos[starts[g]]]), 'us').astype('datetime64[D]')}"

    if duplicates == "raise" or differs.any():
        g = group_at(int(np.flatnonzero(dup)[0] if duplicates == "raise" else differs.argmax()))
        same_values = not differs[starts[g] : starts[g] + sizes[g]].any()
        raise DataError(
            f"duplicate date {day(g)} on lines {where(g)}"
            + ("" if same_values else " with different values"),
            file=spec.path,
            field="date",
            expected="one row per date",
        )
    out = []
    for gi in np.flatnonzero(sizes > 1):
        g = int(gi)
        ln = where(g, _SHOWN_LINES)
        shown = str(ln) if sizes[g] <= _SHOWN_LINES else f"{ln} and {sizes[g] - _SHOWN_LINES} more"
        out.append(
            Issue(
                spec.symbol,
                day(int(g)),
                "duplicate_date",
                "warning",
                f"identical rows on lines {shown} of {spec.path.name}; kept one",
            )
        )
    return out


def _take(rows: _Rows, pos: np.ndarray) -> None:
    """Keep rows ``pos`` (in that order), one column at a time."""
    rows.dates = rows.dates[pos]
    rows.lines = rows.lines[pos]
    rows.values = {f: v[pos] for f, v in rows.values.items()}
    rows.n = len(pos)


def _missing_closes(rows: _Rows, spec: _Spec) -> list[Issue]:
    missing = np.isnan(rows.values["close"][: rows.n])
    if not missing.any():
        return []
    days = rows.dates[: rows.n][missing].astype("datetime64[us]").astype("datetime64[D]")
    _take(rows, np.flatnonzero(~missing))
    return [
        Issue(
            spec.symbol,
            f"{d}",
            "missing_close",
            "warning",
            f"empty close in {spec.path.name}; row dropped",
        )
        for d in days
    ]


def _change_issues(rows: _Rows, spec: _Spec, names: Mapping[str, str]) -> list[Issue]:
    """``change_mismatch``: the file's own change columns against its consecutive closes."""
    n, pol = rows.n, spec.policy
    nan = np.full(n, np.nan)
    close = rows.values["close"][:n]
    chg = rows.values["change"][:n] if "change" in rows.values else nan
    pct = rows.values["pct_change"][:n] if "pct_change" in rows.values else nan
    pos, implied = change_mismatches(close, chg, pct, atol=pol.change_atol, rtol=pol.change_rtol)
    days = rows.dates[:n].astype("datetime64[us]").astype("datetime64[D]")
    out = []
    for p, imp in zip(pos, implied, strict=True):
        given = (("change", chg[p + 1]), ("pct_change", pct[p + 1]))
        stated = ", ".join(f"{names[f]} {v:.10g}" for f, v in given if not np.isnan(v))
        out.append(
            Issue(
                spec.symbol,
                f"{days[p]}",
                "change_mismatch",
                "error",
                f"{spec.path.name}:{int(rows.lines[p + 1])} ({days[p + 1]}) {stated} against close "
                f"{close[p + 1]:.10g} implies a previous close of {imp:.10g}; line "
                f"{int(rows.lines[p])} has close {close[p]:.10g} (tolerance {pol.change_atol:g} "
                f"or {pol.change_rtol:g} relative): this close or the next row's change is wrong",
            )
        )
    return out


def read_price_csv(
    path: str | Path,
    symbol: str,
    *,
    columns: Mapping[str, str] | None = None,
    adjustment: Adjustment | None = None,
    duplicates: DuplicatePolicy = "drop_identical",
    source: SourceKind = "csv",
    policy: CheckPolicy | None = None,
    numbers: NumberFormat | None = None,
) -> RawSeries:
    """Read one price file of any supported layout into a :class:`RawSeries`.

    ``policy`` holds the bounds and tolerances of the read-time checks
    (``non_finite``, ``change_mismatch``); default ``CheckPolicy()``.
    ``numbers`` names the file's decimal mark and thousands separator (default:
    a '.' decimal point and no separator; anything else is refused).
    Running out of memory is an error naming the file and its size.
    """
    p = Path(path)
    check_readable(p)
    for encodings in (ENCODINGS, ("gb18030",)):
        try:
            return _read(
                p,
                symbol,
                columns=columns,
                adjustment=adjustment,
                duplicates=duplicates,
                source=source,
                policy=policy or CheckPolicy(),
                numbers=numbers or NumberFormat(),
                encodings=encodings,
            )
        except _NotUtf8:
            continue
        except MemoryError:
            size = os.stat(p).st_size
            shown = f"{size / 2**20:,.1f} MiB" if size >= 2**17 else f"{size:,} byte"
            raise InputFileError(
                f"out of memory reading this {shown} file",
                file=p,
                expected="a smaller file (split it by date) or more free "
                "memory; nothing was written",
            ) from None
        except PermissionError as exc:
            raise InputFileError(
                f"cannot read the price file: {exc.strerror}",
                file=p,
                expected="a readable file (check its permissions)",
            ) from None
    raise InputFileError("cannot decode as UTF-8 or GB18030", file=p)  # pragma: no cover


def _read(
    p: Path,
    symbol: str,
    *,
    columns: Mapping[str, str] | None,
    adjustment: Adjustment | None,
    duplicates: DuplicatePolicy,
    source: SourceKind,
    policy: CheckPolicy,
    numbers: NumberFormat,
    encodings: tuple[str, ...],
) -> RawSeries:
    import pandas as pd

    head = read_head(p, encodings=encodings)
    header, layout = detect_layout(head.header, file=str(p), columns=columns)
    head = dataclasses.replace(head, header=header)
    pos = {f: i for i, f in enumerate(header.fields) if f is not None}
    spec = _Spec(
        path=p,
        head=head,
        date_col=pos["date"],
        numbers=numbers,
        policy=policy,
        symbol=symbol,
        cols={f: pos[f] for f in (*_VALUE_FIELDS, *CHANGE_FIELDS) if f in pos},
    )
    rows = _read_rows(spec)
    screened = rows.screened
    rows.dates, rows.lines = rows.dates[: rows.n], rows.lines[: rows.n]
    rows.values = {f: v[: rows.n] for f, v in rows.values.items()}
    adjusted_close_in_place(rows.values)
    if "volume" in rows.values and layout.drop_volume:
        del rows.values["volume"]
    elif "volume" in rows.values and layout.volume_scale != 1.0:
        rows.values["volume"] *= layout.volume_scale
    issues, order = _order_and_dedupe(rows, spec, duplicates)
    issues += _missing_closes(rows, spec)
    if not rows.n:
        raise DataError("no price rows", file=p, expected="at least one dated row with a close")
    names = {f: r for r, f in zip(header.raw, header.fields, strict=True) if f in CHANGE_FIELDS}
    changes = ""
    if names and "adj_close" not in header.present:
        found = _change_issues(rows, spec, names)
        issues += found
        changes = (
            f"change columns {sorted(names.values())} checked against the closes: "
            f"{len(found)} mismatch(es)"
        )
    idx = pd.DatetimeIndex(rows.dates[: rows.n].view("datetime64[us]"), name="date")
    frame = pd.DataFrame(
        {c: rows.values[c][: rows.n] for c in BAR_COLUMNS if c in rows.values},
        index=idx,
        copy=False,
    )
    del rows
    basis = adjustment or layout.adjustment
    ignored = [
        r
        for r, f in zip(header.raw, header.fields, strict=True)
        if f not in (*_VALUE_FIELDS, *CHANGE_FIELDS, "date")
    ]
    origin = "; ".join(
        x
        for x in (
            f"{p} [{layout.name}]",
            layout.note,
            f"basis overridden to {adjustment}" if adjustment else "",
            changes,
            "" if numbers.is_default else f"numbers read with {numbers.describe()}",
            f"ignored columns {ignored}" if ignored else "",
            order,
        )
        if x
    )
    meta = SeriesMeta(
        symbol=symbol,
        source=source,
        adjustment=basis,
        origin=origin,
        fetched_at=_mtime_iso(p),
        rows=len(frame),
        first=f"{frame.index[0]:%Y-%m-%d}",
        last=f"{frame.index[-1]:%Y-%m-%d}",
        content_hash=bars_hash(frame),
    )
    return RawSeries(bars=frame, meta=meta, issues=(*screened, *issues))


def _mtime_iso(p: Path) -> str:
    return datetime.fromtimestamp(os.stat(p).st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CsvDirectorySource:
    """A directory of ``<SYMBOL>.csv`` files (``^GSPC`` may be ``GSPC.csv``)."""

    directory: Path
    columns: Mapping[str, str] | None = None
    adjustment: Adjustment | None = None
    duplicates: DuplicatePolicy = "drop_identical"
    policy: CheckPolicy | None = None  # read-time checks (non_finite, change_mismatch)
    numbers: NumberFormat | None = None  # decimal mark and thousands separator
    kind: SourceKind = field(default="csv", init=False)

    def available(self, symbols: Sequence[str]) -> tuple[str, ...]:
        """The symbols that have a file in the directory."""
        return tuple(s for s in symbols if find_symbol_file(Path(self.directory), s))

    def fetch(
        self,
        symbols: Sequence[str],
        *,
        start: str | None = None,
        end: str | None = None,
        progress: Progress | None = None,
    ) -> FetchResult:
        d = Path(self.directory)
        if not d.is_dir():
            raise InputFileError("price directory not found", file=d)
        series: dict[str, RawSeries] = {}
        failures: dict[str, str] = {}
        for i, sym in enumerate(symbols, 1):
            path = find_symbol_file(d, sym)
            if path is None:
                failures[sym] = f"no file {' or '.join(symbol_file_names(sym))} in {d}"
            else:
                raw = read_price_csv(
                    path,
                    sym,
                    columns=self.columns,
                    adjustment=self.adjustment,
                    duplicates=self.duplicates,
                    policy=self.policy,
                    numbers=self.numbers,
                )
                raw = dataclasses.replace(raw, issues=(*name_case_issue(path, sym), *raw.issues))
                series[sym] = clip_dates(raw, start, end)
            if progress is not None:
                progress(i, len(symbols), sym)
        return FetchResult(series=series, failures=failures)


def clip_dates(raw: RawSeries, start: str | None, end: str | None) -> RawSeries:
    """The series restricted to [start, end] (inclusive), with its meta updated."""
    import pandas as pd

    if start is None and end is None:
        return raw
    b = raw.bars
    lo = pd.Timestamp(start) if start else b.index[0]
    hi = pd.Timestamp(end) if end else b.index[-1]
    b = b[(b.index >= lo) & (b.index <= hi)]
    meta = dataclasses.replace(
        raw.meta,
        rows=len(b),
        first=f"{b.index[0]:%Y-%m-%d}" if len(b) else "",
        last=f"{b.index[-1]:%Y-%m-%d}" if len(b) else "",
        content_hash=bars_hash(b),
    )
    return RawSeries(bars=b, meta=meta, issues=raw.issues)


def read_reference(directory: Path, symbols: Sequence[str]) -> Reference:
    """The files of ``symbols`` in ``directory``, read with the layout rules of the CSV source.

    A file that cannot be read becomes a ``not_compared`` finding carrying its
    one-line error; symbols without a file there are listed in ``absent``.
    """
    from backtest.errors import MibError

    series: dict[str, RawSeries] = {}
    issues: list[Issue] = []
    absent: list[str] = []
    for sym in symbols:
        path = find_symbol_file(directory, sym)
        if path is None:
            absent.append(sym)
            continue
        try:
            series[sym] = read_price_csv(path, sym)
        except MibError as err:
            issues.append(Issue(sym, "", "not_compared", "info", f"not read: {err}"))
    return Reference(
        label=str(directory), series=series, issues=tuple(issues), absent=tuple(absent)
    )
