"""Bring-your-own prices: read CSV files of many layouts into canonical bars.

Bars come out indexed by tz-naive session date (``date``), sorted ascending,
with float columns from ``BAR_COLUMNS``.  Dates carrying a UTC offset
(``2020-01-02 00:00:00+08:00``, yfinance ``Ticker.history``) keep the wall-clock
date written in the file, which is the exchange's local date.

Two data checks run while reading, because they need what only the file has
(see :mod:`backtest.market.checks`): ``non_finite`` (``inf``, ``1e308``: the cell
becomes empty, a row whose close is absurd is dropped; the finding names the
file, line, column and value) and ``change_mismatch`` (the file's own change or
percent-change column against its consecutive closes; the column is then
dropped, as it is not a bar column).  Both end up in ``RawSeries.issues``, which
the panel keeps as notes and ``mib data verify`` lists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backtest.errors import DataError, InputFileError
from backtest.market.checks import CheckPolicy, absurd_values, change_mismatches
from backtest.market.layouts import (
    CHANGE_FIELDS,
    HeaderInfo,
    Layout,
    canonical_field,
    detect_layout,
)
from backtest.market.panel import BAR_COLUMNS, Adjustment, SeriesMeta, SourceKind, frame_hash
from backtest.market.types import (
    DuplicatePolicy,
    FetchResult,
    Issue,
    Progress,
    RawSeries,
    use_adjusted_close,
)

if TYPE_CHECKING:
    import pandas as pd

NA_TOKENS = frozenset({"", "null", "nan", "NaN", "NA", "N/A", "n/a", "None", "-", "--"})
_MAX_META_ROWS = 3
_VALUE_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
_BOM = b"\xef\xbb\xbf"


def symbol_file_names(symbol: str) -> tuple[str, ...]:
    """File names that may hold ``symbol``: exact, then without a leading '^' (^GSPC -> GSPC)."""
    names = [f"{symbol}.csv"]
    if symbol.startswith("^"):
        names.append(f"{symbol[1:]}.csv")
    return tuple(names)


def find_symbol_file(directory: Path, symbol: str) -> Path | None:
    for name in symbol_file_names(symbol):
        p = directory / name
        if p.is_file():
            return p
    return None


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    last: Exception | None = None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, header=None, dtype=str, keep_default_na=False,
                               skip_blank_lines=False, encoding=enc)
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputFileError(f"not a readable CSV file: {str(exc).strip()}",
                                 file=path) from None
    raise InputFileError(f"cannot decode as UTF-8 or GB18030: {last}", file=path)


def _looks_like_date(cell: str) -> bool:
    c = cell.strip()
    return len(c) >= 8 and c[:4].isdigit() and (c[4] in "-/" or c[:8].isdigit())


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _has_bom(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(_BOM)) == _BOM


def _split_header(table: pd.DataFrame, path: Path) -> tuple[HeaderInfo, int]:
    """Header info and the index of the first data row (skips yfinance meta rows)."""
    if table.empty:
        raise InputFileError("empty price file", file=path)
    raw = tuple(str(c).strip() for c in table.iloc[0])
    first = 1
    ticker_row = False
    tickers: tuple[str, ...] = ()
    while first < min(len(table), 1 + _MAX_META_ROWS):
        cells = [str(c).strip() for c in table.iloc[first]]
        if _looks_like_date(cells[0]):
            break
        if cells[0].lower() in ("ticker", "") and any(cells[1:]) and not any(
                _is_number(c) for c in cells[1:]):
            ticker_row = True
            tickers = tuple(c for c in cells[1:] if c)
        elif cells[0].lower() not in ("date", "datetime", "price"):
            break
        first += 1
    fields = [canonical_field(c) for c in raw]
    if ticker_row and fields[0] is None and raw[0].lower() == "price":
        fields[0] = "date"   # yfinance multi-header: first column is the date index
    return HeaderInfo(raw=raw, fields=tuple(fields), ticker_row=ticker_row, tickers=tickers,
                      bom=_has_bom(path)), first


def _parse_dates(col: pd.Series, lines: pd.Series, path: Path) -> pd.DatetimeIndex:
    import pandas as pd

    s = col.str.strip()
    compact = s.str.fullmatch(r"\d{8}")
    text = s.where(~compact, s.str.slice(0, 4) + "-" + s.str.slice(4, 6) + "-" + s.str.slice(6, 8))
    text = text.str.slice(0, 10).str.replace("/", "-", regex=False)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError("unparseable date", file=path, line=int(lines.iloc[i]), field="date",
                        value=col.iloc[i], expected="YYYY-MM-DD, YYYYMMDD or an ISO timestamp")
    return pd.DatetimeIndex(parsed, name="date")


def _parse_numbers(col: pd.Series, lines: pd.Series, path: Path, name: str) -> pd.Series:
    import pandas as pd

    s = col.str.strip()
    missing = s.isin(NA_TOKENS)
    num = pd.to_numeric(s.where(~missing, None).str.replace(",", "", regex=False),
                        errors="coerce")
    bad = (num.isna() & ~missing).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError("non-numeric value", file=path, line=int(lines.iloc[i]), field=name,
                        value=col.iloc[i], expected="a number or an empty cell")
    return num.astype("float64")


def _build_frame(table: pd.DataFrame, header: HeaderInfo, layout: Layout, path: Path,
                 first: int, symbol: str,
                 policy: CheckPolicy) -> tuple[pd.DataFrame, pd.Series, list[Issue]]:
    """Bars (plus the file's change columns) by date, their 1-based file lines, findings."""
    import pandas as pd

    body = table.iloc[first:]
    body = body[~(body.apply(lambda c: c.str.strip() == "").all(axis=1))]
    lines = pd.Series(body.index.to_numpy() + 1, index=body.index)   # 1-based file lines
    cols = {f: i for i, f in enumerate(header.fields) if f is not None}
    idx = _parse_dates(body.iloc[:, cols["date"]], lines, path)
    data = {f: _parse_numbers(body.iloc[:, cols[f]], lines, path, header.raw[cols[f]])
            for f in (*_VALUE_FIELDS, *CHANGE_FIELDS) if f in cols}
    frame = pd.DataFrame({k: v.to_numpy() for k, v in data.items()}, index=idx)
    cells = body.iloc[:, [cols[f] for f in frame.columns]].to_numpy()
    frame, drop, issues = _screen_values(frame, cells, lines.to_numpy(), path, symbol,
                                         [header.raw[cols[f]] for f in frame.columns], policy)
    frame, lines = frame[~drop], lines[~drop]
    frame = use_adjusted_close(frame)
    if "volume" in frame and layout.drop_volume:
        frame = frame.drop(columns="volume")
    elif "volume" in frame:
        frame["volume"] = frame["volume"] * layout.volume_scale
    order = [c for c in (*BAR_COLUMNS, *CHANGE_FIELDS) if c in frame]
    return frame[order], pd.Series(lines.to_numpy(), index=frame.index), issues


def _screen_values(frame: pd.DataFrame, cells: np.ndarray, lines: np.ndarray, path: Path,
                   symbol: str, names: list[str], policy: CheckPolicy
                   ) -> tuple[pd.DataFrame, np.ndarray, list[Issue]]:
    """``non_finite`` at read time: absurd cells become empty; an absurd close drops its row.

    Change columns are not screened (an absurd change shows up as a
    ``change_mismatch``).  Returns the frame, the rows to drop and the findings.
    """
    import pandas as pd

    fields = list(frame.columns)
    checked = [i for i, f in enumerate(fields) if f in _VALUE_FIELDS]
    bounds = np.array([policy.max_volume if fields[i] == "volume" else policy.max_price
                       for i in checked])
    values = frame.to_numpy(float, copy=True)
    rows, at = absurd_values(values[:, checked], bounds)
    drop = np.zeros(len(frame), dtype=bool)
    issues: list[Issue] = []
    for r in np.unique(rows):
        cells_here = [checked[k] for k in at[rows == r]]
        drop[r] = any(fields[j] in ("close", "adj_close") for j in cells_here)
        what = ", ".join(f"{names[j]} {str(cells[r, j]).strip()!r}" for j in cells_here)
        limits = ", ".join(sorted({f"{bounds[checked.index(j)]:g}" for j in cells_here}))
        values[r, cells_here] = np.nan
        issues.append(Issue(
            symbol, f"{frame.index[r]:%Y-%m-%d}", "non_finite", "error",
            f"{path.name}:{int(lines[r])} {what}: expected a finite number of magnitude "
            f"<= {limits}; " + ("row dropped" if drop[r] else "treated as empty")))
    return pd.DataFrame(values, index=frame.index, columns=frame.columns), drop, issues


def _order_and_dedupe(frame: pd.DataFrame, lines: pd.Series, symbol: str, path: Path,
                      duplicates: DuplicatePolicy
                      ) -> tuple[pd.DataFrame, pd.Series, list[Issue], str]:
    issues: list[Issue] = []
    order = ""
    if len(frame) > 1 and frame.index.is_monotonic_decreasing:
        order = "rows were newest-first; sorted ascending"
    pos = frame.index.argsort(kind="stable")
    frame, lines = frame.iloc[pos], lines.iloc[pos]
    dup = frame.index.duplicated(keep="first")
    if dup.any():
        for d in frame.index[dup].unique():
            rows = frame.loc[[d]]
            where = [int(x) for x in lines.loc[[d]]]
            identical = bool((rows.fillna(-1.0).nunique() <= 1).all())
            if duplicates == "raise" or not identical:
                raise DataError(f"duplicate date {d:%Y-%m-%d} on lines {where}"
                                + ("" if identical else " with different values"),
                                file=path, field="date", expected="one row per date")
            issues.append(Issue(symbol, f"{d:%Y-%m-%d}", "duplicate_date", "warning",
                                f"identical rows on lines {where} of {path.name}; kept one"))
        frame, lines = frame[~dup], lines[~dup]
    missing = frame["close"].isna()
    for d in frame.index[missing]:
        issues.append(Issue(symbol, f"{d:%Y-%m-%d}", "missing_close", "warning",
                            f"empty close in {path.name}; row dropped"))
    return frame[~missing], lines[~missing.to_numpy()], issues, order


def _change_issues(frame: pd.DataFrame, lines: pd.Series, symbol: str, path: Path,
                   names: Mapping[str, str], policy: CheckPolicy) -> list[Issue]:
    """``change_mismatch``: the file's own change columns against its consecutive closes."""
    nan = np.full(len(frame), np.nan)
    close = frame["close"].to_numpy(float)
    chg = frame["change"].to_numpy(float) if "change" in frame else nan
    pct = frame["pct_change"].to_numpy(float) if "pct_change" in frame else nan
    pos, implied = change_mismatches(close, chg, pct, atol=policy.change_atol,
                                     rtol=policy.change_rtol)
    out = []
    for p, imp in zip(pos, implied, strict=True):
        nxt = frame.index[p + 1]
        given = (("change", chg[p + 1]), ("pct_change", pct[p + 1]))
        stated = ", ".join(f"{names[f]} {v:.10g}" for f, v in given if not np.isnan(v))
        out.append(Issue(
            symbol, f"{frame.index[p]:%Y-%m-%d}", "change_mismatch", "error",
            f"{path.name}:{int(lines.iloc[p + 1])} ({nxt:%Y-%m-%d}) {stated} against close "
            f"{close[p + 1]:.10g} implies a previous close of {imp:.10g}; line "
            f"{int(lines.iloc[p])} has close {close[p]:.10g} (tolerance {policy.change_atol:g} "
            f"or {policy.change_rtol:g} relative): this close or the next row's change is wrong"))
    return out


def read_price_csv(path: str | Path, symbol: str, *, columns: Mapping[str, str] | None = None,
                   adjustment: Adjustment | None = None,
                   duplicates: DuplicatePolicy = "drop_identical",
                   source: SourceKind = "csv", policy: CheckPolicy | None = None) -> RawSeries:
    """Read one price file of any supported layout into a :class:`RawSeries`.

    ``policy`` holds the bounds and tolerances of the read-time checks
    (``non_finite``, ``change_mismatch``); default ``CheckPolicy()``.
    """
    pol = policy or CheckPolicy()
    p = Path(path)
    table = _read_table(p)
    header, first = _split_header(table, p)
    header, layout = detect_layout(header, file=str(p), columns=columns)
    frame, lines, screened = _build_frame(table, header, layout, p, first, symbol, pol)
    frame, lines, issues, order = _order_and_dedupe(frame, lines, symbol, p, duplicates)
    if frame.empty:
        raise DataError("no price rows", file=p, expected="at least one dated row with a close")
    names = {f: r for r, f in zip(header.raw, header.fields, strict=True) if f in CHANGE_FIELDS}
    changes = ""
    if names and "adj_close" not in header.present:
        found = _change_issues(frame, lines, symbol, p, names, pol)
        issues += found
        changes = (f"change columns {sorted(names.values())} checked against the closes: "
                   f"{len(found)} mismatch(es)")
    frame = frame.drop(columns=[c for c in CHANGE_FIELDS if c in frame])
    basis = adjustment or layout.adjustment
    ignored = [r for r, f in zip(header.raw, header.fields, strict=True)
               if f not in (*_VALUE_FIELDS, *CHANGE_FIELDS, "date")]
    origin = "; ".join(x for x in (
        f"{p} [{layout.name}]", layout.note,
        f"basis overridden to {adjustment}" if adjustment else "", changes,
        f"ignored columns {ignored}" if ignored else "", order) if x)
    meta = SeriesMeta(symbol=symbol, source=source, adjustment=basis, origin=origin,
                      fetched_at=_mtime_iso(p), rows=len(frame),
                      first=f"{frame.index[0]:%Y-%m-%d}", last=f"{frame.index[-1]:%Y-%m-%d}",
                      content_hash=frame_hash(frame))
    return RawSeries(bars=frame, meta=meta, issues=(*screened, *issues))


def _mtime_iso(p: Path) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(os.stat(p).st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CsvDirectorySource:
    """A directory of ``<SYMBOL>.csv`` files (``^GSPC`` may be ``GSPC.csv``)."""

    directory: Path
    columns: Mapping[str, str] | None = None
    adjustment: Adjustment | None = None
    duplicates: DuplicatePolicy = "drop_identical"
    policy: CheckPolicy | None = None      # read-time checks (non_finite, change_mismatch)
    kind: SourceKind = field(default="csv", init=False)

    def available(self, symbols: Sequence[str]) -> tuple[str, ...]:
        """The symbols that have a file in the directory."""
        return tuple(s for s in symbols if find_symbol_file(Path(self.directory), s))

    def fetch(self, symbols: Sequence[str], *, start: str | None = None,
              end: str | None = None, progress: Progress | None = None) -> FetchResult:
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
                raw = read_price_csv(path, sym, columns=self.columns,
                                     adjustment=self.adjustment, duplicates=self.duplicates,
                                     policy=self.policy)
                series[sym] = clip_dates(raw, start, end)
            if progress is not None:
                progress(i, len(symbols), sym)
        return FetchResult(series=series, failures=failures)


def clip_dates(raw: RawSeries, start: str | None, end: str | None) -> RawSeries:
    """The series restricted to [start, end] (inclusive), with its meta updated."""
    import dataclasses

    import pandas as pd

    if start is None and end is None:
        return raw
    b = raw.bars
    lo = pd.Timestamp(start) if start else b.index[0]
    hi = pd.Timestamp(end) if end else b.index[-1]
    b = b[(b.index >= lo) & (b.index <= hi)]
    meta = dataclasses.replace(
        raw.meta, rows=len(b), first=f"{b.index[0]:%Y-%m-%d}" if len(b) else "",
        last=f"{b.index[-1]:%Y-%m-%d}" if len(b) else "", content_hash=frame_hash(b))
    return RawSeries(bars=b, meta=meta, issues=raw.issues)
