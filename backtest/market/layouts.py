"""CSV layouts: recognise the columns of a price file and decide its adjustment basis.

A layout is recognised from the header alone (column names, their order,
marker columns such as ``wap``/``count`` or ``Dividends``, a UTF-8 byte-order
mark, the symbols of a yfinance ticker row), never from the values.  Each
layout states its adjustment basis and a note that ends up in
``SeriesMeta.origin``, so the basis is visible wherever the prices go.

Index levels (``akshare-sina-index``, ``baostock``, ``yfinance-index`` -- a yfinance
multi-header file whose ticker row names a ``^`` symbol; CSI 300, STAR 50, ^HSI) get
the basis ``unadjusted``: the level is used as published and no adjustment was
applied.  A price index needs none -- it has no splits, and dividends of its
members are not reinvested, so its close-to-close returns are price returns.
``adjusted`` would claim a dividend adjustment that does not exist, and
``unknown`` would hide a basis that is known; the ``Adjustment`` literal
(``panel.py``) therefore stays as it is and the layout's note says "index
level".  Checks only read the basis for A-share stocks (limit prices on the
tick grid), which an index is not.

Layouts and their volume unit: ``eastmoney-kline``, ``a-share-qfq`` and
``cn-akshare`` count lots of 100 shares (converted to shares); ``baostock``,
``tencent-day`` and every other layout count shares.

Also here: how a file is written rather than what it holds -- its first lines
(:func:`read_head`: encoding, separator, header and yfinance meta rows) and its
number convention (:class:`NumberFormat`: a decimal comma or a thousands
separator is refused unless named), and the strict conversion of text cells
to dates and numbers (:func:`parse_dates`, :func:`parse_numbers`).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from backtest.errors import DataError, InputFileError
from backtest.market.panel import Adjustment

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# Canonical field names a file column can map to.  Price fields are read;
# marker fields only identify the layout and are otherwise ignored.
PRICE_FIELDS: tuple[str, ...] = ("date", "open", "high", "low", "close", "adj_close", "volume")
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "date": (
        "date",
        "datetime",
        "timestamp",
        "time",
        "tradedate",
        "tradingday",
        "日期",
        "交易日期",
        "时间",
    ),
    "open": ("open", "开盘", "开盘价", "今开"),
    "high": ("high", "最高", "最高价"),
    "low": ("low", "最低", "最低价"),
    "close": ("close", "收盘", "收盘价", "last", "pxlast"),
    "adj_close": ("adjclose", "adjustedclose", "adjclosing"),
    "volume": ("volume", "vol", "成交量"),
    # markers
    "wap": ("wap", "vwap"),
    "count": ("count", "barcount", "trades"),
    "dividends": ("dividends",),
    "splits": ("stocksplits", "splits"),
    "amount": ("amount", "turnover", "成交额"),
    "amplitude": ("amplitude", "振幅"),
    "turnover_rate": ("turn", "turnoverrate", "换手率"),
    "source": ("source",),
    "secid": ("secid",),  # Eastmoney kline: market.code
    "symbol": ("symbol",),
    "currency": ("currency",),
    # the file's own change columns: kept while reading and checked against the closes
    "change": ("chg", "change", "涨跌额"),
    "pct_change": ("pctchg", "pctchange", "changepercent", "涨跌幅"),
}
# Columns holding the file's own day-on-day change: 'change' in price units,
# 'pct_change' in percent.  Read as numbers, checked, then dropped from the bars.
CHANGE_FIELDS: tuple[str, ...] = ("change", "pct_change")
_ALIAS_TO_FIELD = {alias: f for f, aliases in FIELD_ALIASES.items() for alias in aliases}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def normalise_header(name: str) -> str:
    """Lower-case, without spaces, underscores, dashes or dots: 'Adj Close' -> 'adjclose'."""
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def canonical_field(name: str) -> str | None:
    """The canonical field a column name stands for, or None when unknown."""
    return _ALIAS_TO_FIELD.get(normalise_header(name))


@dataclass(frozen=True, slots=True)
class Layout:
    """A recognised file layout and what it implies."""

    name: str
    adjustment: Adjustment
    note: str
    volume_scale: float = 1.0  # multiply volume by this (lots -> shares)
    drop_volume: bool = False  # the 'volume' column is not a share count


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """What the header rows say: the raw names and the field of each column."""

    raw: tuple[str, ...]
    fields: tuple[str | None, ...]
    ticker_row: bool = False  # yfinance >= 0.2.51 multi-header ('Ticker' row)
    tickers: tuple[str, ...] = ()  # the symbols of that row ('^HSI', ...)
    bom: bool = False  # the file starts with a UTF-8 byte-order mark

    @property
    def present(self) -> frozenset[str]:
        return frozenset(f for f in self.fields if f is not None)

    @property
    def has_cjk(self) -> bool:
        return any(_CJK.search(r) for r in self.raw)

    @property
    def price_signature(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f in PRICE_FIELDS)

    @property
    def names(self) -> tuple[str, ...]:
        """Every column name, normalised (see :func:`normalise_header`)."""
        return tuple(normalise_header(r) for r in self.raw)


_OHLCV = ("date", "open", "high", "low", "close", "volume")
_OCHLV = ("date", "open", "close", "high", "low", "volume")


def _yahoo_rules(h: HeaderInfo) -> Layout | None:
    """Yahoo/yfinance and IBKR layouts, told apart by marker columns."""
    p = h.present
    if h.tickers and all(t.startswith("^") for t in h.tickers):
        return Layout(
            "yfinance-index",
            "unadjusted",
            f"yfinance download of an index (ticker row {h.tickers[0]}): an index "
            "level as published; a price index, no adjustment applies (an Adj Close "
            "column, if any, equals Close)",
        )
    if "dividends" in p or "splits" in p:
        return Layout(
            "yfinance-history",
            "adjusted",
            "yfinance Ticker.history(auto_adjust=True): OHLC split- and dividend-adjusted",
        )
    if "wap" in p and "count" in p:
        return Layout(
            "ibkr-bars",
            "unadjusted",
            "IBKR-style bars (wap, count): split-adjusted only, NOT dividend-adjusted",
        )
    if "adj_close" in p:
        return Layout(
            "yahoo-adj-close",
            "adjusted",
            "close = adjusted close (split+dividend); open/high/low scaled by adj_close/close",
        )
    if h.ticker_row:
        return Layout(
            "yfinance-multiheader",
            "adjusted",
            "yfinance >= 0.2.51 download (auto_adjust=True by default): "
            "split- and dividend-adjusted",
        )
    if h.names == ("date", "close", "high", "low", "open", "volume"):
        return Layout(
            "yfinance-flat",
            "adjusted",
            "yfinance download saved with one header line (price columns in "
            "yfinance's alphabetical order, no Adj Close, so auto_adjust=True): "
            "split- and dividend-adjusted",
        )
    return None


def _china_rules(h: HeaderInfo) -> Layout | None:
    """Chinese data vendors (Eastmoney, akshare, baostock, Tencent) and Chinese headers."""
    p = h.present
    raw = set(h.raw)
    if "secid" in p:
        return Layout(
            "eastmoney-kline",
            "adjusted",
            "Eastmoney kline export (code,name,market,secid,...,pct_chg,chg,turnover): "
            "forward-adjusted (qfq, fqt=1, as the shared files are; the parameter is "
            "not in the file); volume in lots of 100 converted to shares",
            volume_scale=100.0,
        )
    if h.has_cjk and {"amplitude", "pct_change", "change", "turnover_rate"} & p:
        return Layout(
            "cn-akshare",
            "unknown",
            "akshare-style A-share export (Chinese headers with 振幅/涨跌幅); "
            "adjustment not stated; volume (成交量) in lots of 100 converted to shares",
            volume_scale=100.0,
        )
    if h.has_cjk and {"开盘价", "收盘价"} <= raw:
        return Layout(
            "cn-daily",
            "unadjusted",
            "A-share daily export (Chinese headers 开盘价/收盘价): raw, unadjusted",
        )
    if h.has_cjk:
        return Layout("cn-other", "unknown", "Chinese-header export; adjustment not stated")
    if {"turn", "pctChg"} <= raw:
        return Layout(
            "baostock",
            "unadjusted",
            "baostock export (date,open,close,high,low,volume,amount,turn,pctChg): "
            "volume in shares (not lots); adjustflag is not in the file and "
            "baostock's default (3) is unadjusted; for an index (CSI 300) an index "
            "level as published: a price index, no adjustment applies",
        )
    if {"symbol", "currency"} <= p and h.price_signature == _OCHLV:
        return Layout(
            "tencent-day",
            "unadjusted",
            "Tencent kline export (date,symbol,currency,open,close,high,low,volume; "
            "the raw 'day' array): unadjusted; volume in shares",
        )
    if h.bom and h.names == _OHLCV:
        return Layout(
            "akshare-sina-index",
            "unadjusted",
            "akshare Sina index export (UTF-8 BOM; date,open,high,low,close,volume): "
            "an index level as published; a price index, no adjustment applies "
            "(basis 'unadjusted'); volume in shares",
        )
    if h.names == _OCHLV:
        return Layout(
            "a-share-qfq",
            "adjusted",
            "A-share forward-adjusted (qfq) export (date,open,close,high,low,volume); "
            "volume in lots of 100 converted to shares",
            volume_scale=100.0,
        )
    if h.price_signature == ("date", "volume", "low", "close", "open", "high"):
        return Layout(
            "a-share-desc",
            "unknown",
            "A-share export (date,volume,low,close,open,high); adjustment not stated; "
            "its 'volume' column is turnover in CNY, so volume is left empty",
            drop_volume=True,
        )
    return None


def _rules(h: HeaderInfo) -> Layout:
    """The first matching rule; the order matters (marker columns before bare signatures)."""
    found = _yahoo_rules(h) or _china_rules(h)
    if found is not None:
        return found
    if h.price_signature == ("date", "close"):
        return Layout(
            "close-only", "adjusted", "close-only yfinance export (auto-adjusted: split+dividend)"
        )
    return Layout("ohlcv", "unknown", "generic date/OHLCV columns; adjustment not stated")


def detect_layout(
    header: HeaderInfo, *, file: str, columns: Mapping[str, str] | None = None
) -> tuple[HeaderInfo, Layout]:
    """Apply a user column mapping (field -> column name), then recognise the layout.

    Raises :class:`InputFileError` naming the file and the columns found when
    no date or no close column can be identified.
    """
    if columns:
        header = _apply_mapping(header, columns, file=file)
    p = header.present
    if "date" not in p or not ({"close", "adj_close"} & p):
        missing = [
            f for f in ("date", "close") if f not in p and not (f == "close" and "adj_close" in p)
        ]
        raise InputFileError(
            f"unknown price-file layout: no {' or '.join(missing)} column among "
            f"{list(header.raw)}; map the columns with --columns date=<name>,close=<name>",
            file=file,
        )
    dup = [f for f in PRICE_FIELDS if header.fields.count(f) > 1]
    if dup:
        raise InputFileError(
            f"several columns map to {dup[0]!r} in {list(header.raw)}; choose one with --columns",
            file=file,
        )
    layout = _rules(header)
    if columns:
        basis: Adjustment = "adjusted" if "adj_close" in p else "unknown"
        layout = Layout(
            f"mapped ({layout.name})",
            basis,
            f"user column mapping {dict(columns)}; basis "
            + (
                "adjusted (adj_close mapped)"
                if basis == "adjusted"
                else "unknown unless --adjustment is given"
            ),
            volume_scale=layout.volume_scale,
            drop_volume=layout.drop_volume,
        )
    return header, layout


def _apply_mapping(header: HeaderInfo, columns: Mapping[str, str], *, file: str) -> HeaderInfo:
    fields = list(header.fields)
    for field_name, col in columns.items():
        if field_name not in PRICE_FIELDS:
            raise InputFileError(
                "unknown field in --columns",
                field=field_name,
                value=field_name,
                expected=f"one of {list(PRICE_FIELDS)}",
                file=file,
            )
        if col not in header.raw:
            raise InputFileError(
                f"column {col!r} of --columns {field_name}= is not in the file",
                file=file,
                value=list(header.raw),
                expected=f"one of {list(header.raw)}",
            )
        fields = [None if f == field_name else f for f in fields]
        fields[header.raw.index(col)] = field_name
    return HeaderInfo(
        raw=header.raw,
        fields=tuple(fields),
        ticker_row=header.ticker_row,
        tickers=header.tickers,
        bom=header.bom,
    )


# ---------------------------------------------------------------- how numbers are written

NA_TOKENS = frozenset({"", "null", "nan", "NaN", "NA", "N/A", "n/a", "None", "-", "--"})
Decimal = Literal[".", ","]
Thousands = Literal[",", ".", " ", "'", "_"]
_THOUSANDS = (",", ".", " ", "'", "_")


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How a price file writes numbers: its decimal mark and thousands separator, if any.

    The default reads ``3.98`` and ``1e308`` and refuses ``3,98`` (a decimal comma) and
    ``1,234.50`` (a thousands separator), naming the file, line, column and value:
    a quoted ``"3,98"`` must never turn into 398.  A file that uses either
    convention is read once the convention is named (``--decimal ,``,
    ``--thousands .``); groups of a thousands separator must have three digits.
    """

    decimal: Decimal = "."
    thousands: Thousands | None = None

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise InputFileError(
                "unknown decimal mark", field="--decimal", value=self.decimal, expected="'.' or ','"
            )
        if self.thousands is not None and self.thousands not in _THOUSANDS:
            raise InputFileError(
                "unknown thousands separator",
                field="--thousands",
                value=self.thousands,
                expected=f"one of {list(_THOUSANDS)}",
            )
        if self.thousands == self.decimal:
            raise InputFileError(
                "the thousands separator equals the decimal mark",
                field="--thousands",
                value=self.thousands,
                expected=f"a separator other than {self.decimal!r}",
            )

    @property
    def is_default(self) -> bool:
        return self.decimal == "." and self.thousands is None

    def pattern(self) -> str:
        """A full-match regular expression (RE2 and Python) for one number written this way."""
        d = re.escape(self.decimal)
        whole = (
            rf"\d{{1,3}}(?:{re.escape(self.thousands)}\d{{3}})+|\d+" if self.thousands else r"\d+"
        )
        return (
            rf"(?i)^[+-]?(?:(?:(?:{whole})(?:{d}\d*)?|{d}\d+)(?:e[+-]?\d+)?"
            r"|inf|infinity)$"
        )

    def describe(self) -> str:
        return f"decimal mark {self.decimal!r}" + (
            f", thousands separator {self.thousands!r}" if self.thousands else ""
        )


def number_format(decimal: str | None = None, thousands: str | None = None) -> NumberFormat:
    """The :class:`NumberFormat` of the ``--decimal``/``--thousands`` options (validated)."""
    return NumberFormat(decimal=decimal or ".", thousands=thousands or None)  # type: ignore[arg-type]


def diagnose_number(cell: str, fmt: NumberFormat) -> tuple[str, str]:
    """Why ``cell`` is not a number written as ``fmt`` says: (message, expected)."""
    c = cell.strip()
    if fmt.is_default and re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+", c):
        return (
            "a comma in a number: a thousands separator or a decimal comma?",
            "digits with a '.' decimal point; name the convention with --thousands , "
            "or --decimal ,",
        )
    if fmt.thousands is None and re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+\.\d*", c):
        return (
            "a thousands separator ',' in a number",
            "digits with a '.' decimal point, or --thousands , to read it",
        )
    if fmt.decimal == "." and re.fullmatch(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?", c):
        return (
            "a decimal comma in a number",
            "a '.' decimal point, or --decimal , to read decimal commas",
        )
    if fmt.decimal == "." and re.fullmatch(r"[+-]?\d{1,3}(?:\.\d{3})+,\d*", c):
        return (
            "a decimal comma and '.' thousands separators in a number",
            "a '.' decimal point, or --decimal , --thousands . to read it",
        )
    if fmt.decimal == "," and re.fullmatch(r"[+-]?\d+\.\d+", c):
        return (
            "a '.' in a number read with --decimal ,",
            "a ',' decimal mark, or --thousands . when '.' groups thousands",
        )
    return "non-numeric value", f"a number ({fmt.describe()}) or an empty cell"


# ---------------------------------------------------------------- text cells to values
# (pyarrow arrays of one block of a file, see backtest.market.csvsource)


def fast_parse(
    dates: pa.Array, cells: Mapping[str, pa.Array]
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """Microseconds and float64 columns of one block of text cells, at C speed, or None.

    The common case only: YYYY-MM-DD dates, numbers with a '.' decimal point, NA
    tokens, no blank rows or padding.  None when anything in the block needs
    :func:`parse_dates`/:func:`parse_numbers` (which find the same values, or the
    error naming the cell).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    d = dates
    if len(d) == 0 or pc.min_max(pc.binary_length(d)).as_py() != {"min": 10, "max": 10}:
        return None
    na = pa.array(sorted(NA_TOKENS), type=pa.string())
    try:
        secs = pc.cast(d, pa.timestamp("s")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        values = {}
        for f, a in cells.items():
            missing = pc.is_in(a, value_set=na)
            v = pc.cast(
                pc.if_else(missing, pa.scalar(None, pa.string()), a), pa.float64()
            ).to_numpy(zero_copy_only=False, writable=True)
            nan = np.isnan(v)
            if nan.any() and (nan & ~missing.to_numpy(zero_copy_only=False)).any():
                return None  # 'NAN' and the like: not an NA token, not a number
            values[f] = v
    except pa.ArrowInvalid:
        return None
    return secs.astype(np.int64) * 1_000_000, values


def parse_numbers(
    cells: pa.Array,
    rows: np.ndarray,
    lines: np.ndarray,
    fmt: NumberFormat,
    *,
    file: Path,
    column: str,
) -> np.ndarray:
    """Float64 values of trimmed text cells written as ``fmt`` says; NA tokens are NaN.

    Only ``rows`` are checked; anything else there is a :class:`DataError` naming
    the file, line, column and value, and why (decimal comma, separator, ...).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = pc.is_in(cells, value_set=pa.array(sorted(NA_TOKENS), type=pa.string()))
    ok = pc.match_substring_regex(cells, fmt.pattern())
    bad = ~missing.to_numpy(zero_copy_only=False) & ~ok.to_numpy(zero_copy_only=False) & rows
    if bad.any():
        i = int(bad.argmax())
        msg, expected = diagnose_number(cells[i].as_py(), fmt)
        raise DataError(
            msg,
            file=file,
            line=int(lines[i]),
            field=column,
            value=cells[i].as_py(),
            expected=expected,
        )
    norm = cells
    if fmt.thousands:
        norm = pc.replace_substring(norm, fmt.thousands, "")
    if fmt.decimal != ".":
        norm = pc.replace_substring(norm, fmt.decimal, ".")
    norm = pc.if_else(pc.or_(missing, pa.array(~rows)), pa.scalar(None, pa.string()), norm)
    out: np.ndarray = pc.cast(norm, pa.float64()).to_numpy(zero_copy_only=False)
    return out.astype("float64")


def parse_dates(cells: pa.Array, rows: np.ndarray, lines: np.ndarray, *, file: Path) -> np.ndarray:
    """Int64 microseconds of trimmed date cells (YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD, ISO stamps)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ts = pc.strptime(
        pc.utf8_slice_codeunits(cells, 0, 10), format="%Y-%m-%d", unit="s", error_is_null=True
    )
    secs = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    failed = ts.is_null().to_numpy(zero_copy_only=False) & rows
    if failed.any():
        import pandas as pd

        idx = np.flatnonzero(failed)
        texts = pd.Series(cells.take(pa.array(idx)).to_pylist(), dtype=object)
        parsed = _parse_date_texts(texts, lines[idx], file)
        secs = secs.copy()
        secs[idx] = parsed
    out = secs.astype(np.int64) * 1_000_000
    return np.where(rows, out, 0)


def _parse_date_texts(col: pd.Series, lines: np.ndarray, path: Path) -> np.ndarray:
    """Seconds since 1970 of compact or slashed dates; the first unparseable one is an error."""
    import pandas as pd

    s = col.astype(str)
    compact = s.str.fullmatch(r"\d{8}")
    text = s.where(~compact, s.str.slice(0, 4) + "-" + s.str.slice(4, 6) + "-" + s.str.slice(6, 8))
    text = text.str.slice(0, 10).str.replace("/", "-", regex=False)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError(
            "unparseable date",
            file=path,
            line=int(lines[i]),
            field="date",
            value=col.iloc[i],
            expected="YYYY-MM-DD, YYYYMMDD or an ISO timestamp",
        )
    stamps: np.ndarray = parsed.to_numpy().astype("datetime64[s]")
    return stamps.astype(np.int64)


# ---------------------------------------------------------------- the first lines of a file

ENCODINGS: tuple[str, ...] = ("utf-8", "gb18030")  # tried in order
_MAX_META_ROWS = 3  # yfinance multi-header: 'Ticker' and 'Date' rows after the header
_HEAD_BYTES = 1 << 16
_HEAD_LIMIT = 1 << 26  # the first lines of a file are read up to 64 MiB
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class FileHead:
    """What the first lines of a price file say: header, where the data starts, how to read it."""

    header: HeaderInfo
    first: int  # number of lines before the first data row (header and meta rows)
    encoding: str  # 'utf-8' (a byte-order mark is skipped) or 'gb18030'
    sep: str  # ',' unless the header line has no comma but a ';' or a tab
    line_bytes: int = 0  # the longest of the first lines, in bytes (sizes the read blocks)

    @property
    def width(self) -> int:
        return len(self.header.raw)


def _looks_like_date(cell: str) -> bool:
    c = cell.strip()
    return len(c) >= 8 and c[:4].isdigit() and (c[4] in "-/" or c[:8].isdigit())


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _decode_head(data: bytes, path: Path, encodings: tuple[str, ...]) -> tuple[str, str]:
    """The head's text and the first encoding that decodes it (a cut last character is fine)."""
    for enc in encodings:
        try:
            return codecs.getincrementaldecoder(enc)().decode(data, final=False), enc
        except UnicodeDecodeError:
            continue
    raise InputFileError(
        f"cannot decode as {' or '.join(e.upper() for e in encodings)}",
        file=path,
        expected="a UTF-8 or GB18030 text file",
    )


def sniff_separator(line: str) -> str:
    """',' unless the header line has none and has a ';' or a tab (European exports)."""
    if "," in line:
        return ","
    for sep in (";", "\t"):
        if sep in line:
            return sep
    return ","


def read_head(path: Path, *, encodings: tuple[str, ...] = ENCODINGS) -> FileHead:
    """Header info and the line where data starts (skips yfinance meta rows)."""
    with open(path, "rb") as fh:
        data = fh.read(_HEAD_BYTES)
        while data.count(b"\n") < 2 + _MAX_META_ROWS and len(data) < _HEAD_LIMIT:
            more = fh.read(len(data))  # very wide files: read on to whole lines
            if not more:
                break
            data += more
    bom = data.startswith(_BOM)
    text, enc = _decode_head(data.removeprefix(_BOM), path, encodings)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputFileError(
            "empty price file"
            if not text.strip()
            else "the first line is empty; expected the column names",
            file=path,
        )
    sep = sniff_separator(lines[0])
    rows = list(csv.reader(lines[: 2 + _MAX_META_ROWS], delimiter=sep))
    raw = tuple(c.strip() for c in rows[0])
    first = 1
    ticker_row = False
    tickers: tuple[str, ...] = ()
    while first < min(len(rows), 1 + _MAX_META_ROWS):
        cells = [c.strip() for c in rows[first]]
        if not cells or _looks_like_date(cells[0]):
            break
        if (
            cells[0].lower() in ("ticker", "")
            and any(cells[1:])
            and not any(_is_number(c) for c in cells[1:])
        ):
            ticker_row = True
            tickers = tuple(c for c in cells[1:] if c)
        elif cells[0].lower() not in ("date", "datetime", "price"):
            break
        first += 1
    fields = [canonical_field(c) for c in raw]
    if ticker_row and fields[0] is None and raw[0].lower() == "price":
        fields[0] = "date"  # yfinance multi-header: first column is the date index
    header = HeaderInfo(
        raw=raw, fields=tuple(fields), ticker_row=ticker_row, tickers=tickers, bom=bom
    )
    longest = max(len(ln.encode(enc, "replace")) for ln in lines[: 2 + _MAX_META_ROWS])
    return FileHead(header=header, first=first, encoding=enc, sep=sep, line_bytes=longest)


def parse_columns_option(text: str) -> dict[str, str]:
    """Parse ``date=Trade Date,close=PX_LAST`` into ``{'date': 'Trade Date', ...}``."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise InputFileError(
                "malformed --columns entry",
                field="--columns",
                value=part,
                expected="field=column pairs, e.g. date=Date,close=PX_LAST",
            )
        out[key.strip().lower()] = val.strip()
    return out
