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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from backtest.errors import InputFileError
from backtest.market.panel import Adjustment

# Canonical field names a file column can map to.  Price fields are read;
# marker fields only identify the layout and are otherwise ignored.
PRICE_FIELDS: tuple[str, ...] = ("date", "open", "high", "low", "close", "adj_close", "volume")
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "datetime", "timestamp", "time", "tradedate", "tradingday",
             "日期", "交易日期", "时间"),
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
    "secid": ("secid",),            # Eastmoney kline: market.code
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
    volume_scale: float = 1.0        # multiply volume by this (lots -> shares)
    drop_volume: bool = False        # the 'volume' column is not a share count


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """What the header rows say: the raw names and the field of each column."""

    raw: tuple[str, ...]
    fields: tuple[str | None, ...]
    ticker_row: bool = False         # yfinance >= 0.2.51 multi-header ('Ticker' row)
    tickers: tuple[str, ...] = ()    # the symbols of that row ('^HSI', ...)
    bom: bool = False                # the file starts with a UTF-8 byte-order mark

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
        return Layout("yfinance-index", "unadjusted",
                      f"yfinance download of an index (ticker row {h.tickers[0]}): an index "
                      "level as published; a price index, no adjustment applies (an Adj Close "
                      "column, if any, equals Close)")
    if "dividends" in p or "splits" in p:
        return Layout("yfinance-history", "adjusted",
                      "yfinance Ticker.history(auto_adjust=True): OHLC split- and "
                      "dividend-adjusted")
    if "wap" in p and "count" in p:
        return Layout("ibkr-bars", "unadjusted",
                      "IBKR-style bars (wap, count): split-adjusted only, NOT dividend-adjusted")
    if "adj_close" in p:
        return Layout("yahoo-adj-close", "adjusted",
                      "close = adjusted close (split+dividend); open/high/low scaled by "
                      "adj_close/close")
    if h.ticker_row:
        return Layout("yfinance-multiheader", "adjusted",
                      "yfinance >= 0.2.51 download (auto_adjust=True by default): "
                      "split- and dividend-adjusted")
    if h.names == ("date", "close", "high", "low", "open", "volume"):
        return Layout("yfinance-flat", "adjusted",
                      "yfinance download saved with one header line (price columns in "
                      "yfinance's alphabetical order, no Adj Close, so auto_adjust=True): "
                      "split- and dividend-adjusted")
    return None


def _china_rules(h: HeaderInfo) -> Layout | None:
    """Chinese data vendors (Eastmoney, akshare, baostock, Tencent) and Chinese headers."""
    p = h.present
    raw = set(h.raw)
    if "secid" in p:
        return Layout("eastmoney-kline", "adjusted",
                      "Eastmoney kline export (code,name,market,secid,...,pct_chg,chg,turnover): "
                      "forward-adjusted (qfq, fqt=1, as the shared files are; the parameter is "
                      "not in the file); volume in lots of 100 converted to shares",
                      volume_scale=100.0)
    if h.has_cjk and {"amplitude", "pct_change", "change", "turnover_rate"} & p:
        return Layout("cn-akshare", "unknown",
                      "akshare-style A-share export (Chinese headers with 振幅/涨跌幅); "
                      "adjustment not stated; volume (成交量) in lots of 100 converted to shares",
                      volume_scale=100.0)
    if h.has_cjk and {"开盘价", "收盘价"} <= raw:
        return Layout("cn-daily", "unadjusted",
                      "A-share daily export (Chinese headers 开盘价/收盘价): raw, unadjusted")
    if h.has_cjk:
        return Layout("cn-other", "unknown", "Chinese-header export; adjustment not stated")
    if {"turn", "pctChg"} <= raw:
        return Layout("baostock", "unadjusted",
                      "baostock export (date,open,close,high,low,volume,amount,turn,pctChg): "
                      "volume in shares (not lots); adjustflag is not in the file and "
                      "baostock's default (3) is unadjusted; for an index (CSI 300) an index "
                      "level as published: a price index, no adjustment applies")
    if {"symbol", "currency"} <= p and h.price_signature == _OCHLV:
        return Layout("tencent-day", "unadjusted",
                      "Tencent kline export (date,symbol,currency,open,close,high,low,volume; "
                      "the raw 'day' array): unadjusted; volume in shares")
    if h.bom and h.names == _OHLCV:
        return Layout("akshare-sina-index", "unadjusted",
                      "akshare Sina index export (UTF-8 BOM; date,open,high,low,close,volume): "
                      "an index level as published; a price index, no adjustment applies "
                      "(basis 'unadjusted'); volume in shares")
    if h.names == _OCHLV:
        return Layout("a-share-qfq", "adjusted",
                      "A-share forward-adjusted (qfq) export (date,open,close,high,low,volume); "
                      "volume in lots of 100 converted to shares", volume_scale=100.0)
    if h.price_signature == ("date", "volume", "low", "close", "open", "high"):
        return Layout("a-share-desc", "unknown",
                      "A-share export (date,volume,low,close,open,high); adjustment not stated; "
                      "its 'volume' column is turnover in CNY, so volume is left empty",
                      drop_volume=True)
    return None


def _rules(h: HeaderInfo) -> Layout:
    """The first matching rule; the order matters (marker columns before bare signatures)."""
    found = _yahoo_rules(h) or _china_rules(h)
    if found is not None:
        return found
    if h.price_signature == ("date", "close"):
        return Layout("close-only", "adjusted",
                      "close-only yfinance export (auto-adjusted: split+dividend)")
    return Layout("ohlcv", "unknown", "generic date/OHLCV columns; adjustment not stated")


def detect_layout(header: HeaderInfo, *, file: str,
                  columns: Mapping[str, str] | None = None) -> tuple[HeaderInfo, Layout]:
    """Apply a user column mapping (field -> column name), then recognise the layout.

    Raises :class:`InputFileError` naming the file and the columns found when
    no date or no close column can be identified.
    """
    if columns:
        header = _apply_mapping(header, columns, file=file)
    p = header.present
    if "date" not in p or not ({"close", "adj_close"} & p):
        missing = [f for f in ("date", "close") if f not in p and not
                   (f == "close" and "adj_close" in p)]
        raise InputFileError(
            f"unknown price-file layout: no {' or '.join(missing)} column among "
            f"{list(header.raw)}; map the columns with --columns date=<name>,close=<name>",
            file=file)
    dup = [f for f in PRICE_FIELDS if header.fields.count(f) > 1]
    if dup:
        raise InputFileError(f"several columns map to {dup[0]!r} in {list(header.raw)}; "
                             "choose one with --columns", file=file)
    layout = _rules(header)
    if columns:
        basis: Adjustment = "adjusted" if "adj_close" in p else "unknown"
        layout = Layout(f"mapped ({layout.name})", basis,
                        f"user column mapping {dict(columns)}; basis "
                        + ("adjusted (adj_close mapped)" if basis == "adjusted" else
                           "unknown unless --adjustment is given"),
                        volume_scale=layout.volume_scale, drop_volume=layout.drop_volume)
    return header, layout


def _apply_mapping(header: HeaderInfo, columns: Mapping[str, str], *, file: str) -> HeaderInfo:
    fields = list(header.fields)
    for field_name, col in columns.items():
        if field_name not in PRICE_FIELDS:
            raise InputFileError("unknown field in --columns", field=field_name,
                                 value=field_name, expected=f"one of {list(PRICE_FIELDS)}",
                                 file=file)
        if col not in header.raw:
            raise InputFileError(f"column {col!r} of --columns {field_name}= is not in the file",
                                 file=file, value=list(header.raw),
                                 expected=f"one of {list(header.raw)}")
        fields = [None if f == field_name else f for f in fields]
        fields[header.raw.index(col)] = field_name
    return HeaderInfo(raw=header.raw, fields=tuple(fields), ticker_row=header.ticker_row,
                      tickers=header.tickers, bom=header.bom)


def parse_columns_option(text: str) -> dict[str, str]:
    """Parse ``date=Trade Date,close=PX_LAST`` into ``{'date': 'Trade Date', ...}``."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise InputFileError("malformed --columns entry", field="--columns", value=part,
                                 expected="field=column pairs, e.g. date=Date,close=PX_LAST")
        out[key.strip().lower()] = val.strip()
    return out
