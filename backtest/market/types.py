"""Shared types of the market layer: one series as read, a source's result, the source protocol."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from backtest.errors import DataError
from backtest.market.panel import SeriesMeta, SourceKind

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["info", "warning", "error"]
NonSessionPolicy = Literal["drop", "keep", "raise"]
DuplicatePolicy = Literal["drop_identical", "raise"]

# progress(done, total, symbol): called after each symbol; never prints.
Progress = Callable[[int, int, str], None]


class UnknownSymbolError(DataError):
    """A symbol is not in the universe, so its exchange (and sessions) are unknown."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about one series: a row of the findings table."""

    symbol: str
    date: str          # YYYY-MM-DD, or '' when it concerns the whole series
    check: str
    severity: Severity
    detail: str

    def as_note(self) -> str:
        """A readable note that :func:`parse_note` turns back into the issue."""
        return f"[{self.check}:{self.severity}] {self.symbol} {self.date or '-'}: {self.detail}"


_NOTE = re.compile(r"^\[(?P<check>[a-z_]+):(?P<sev>info|warning|error)\] (?P<symbol>\S+) "
                   r"(?P<date>\d{4}-\d{2}-\d{2}|-): (?P<detail>.*)$", re.S)


def parse_note(note: str) -> Issue | None:
    """The issue a panel note records, or None for free-text notes."""
    m = _NOTE.match(note)
    if m is None:
        return None
    date = "" if m["date"] == "-" else m["date"]
    return Issue(m["symbol"], date, m["check"], m["sev"], m["detail"])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RawSeries:
    """One symbol's bars as a source delivered them (sorted, unique dates, float columns)."""

    bars: pd.DataFrame
    meta: SeriesMeta
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a source returned: the series it could deliver and why the others failed."""

    series: Mapping[str, RawSeries]
    failures: Mapping[str, str] = field(default_factory=dict)


class PriceSource(Protocol):
    """Anything that can deliver daily bars for symbols."""

    kind: SourceKind

    def fetch(self, symbols: Sequence[str], *, start: str | None = None,
              end: str | None = None, progress: Progress | None = None) -> FetchResult: ...


def use_adjusted_close(frame: pd.DataFrame) -> pd.DataFrame:
    """Make ``adj_close`` the close and scale open/high/low by adj_close/close.

    Yahoo-style files carry split-adjusted OHLC and a split- and dividend-adjusted
    ``Adj Close``; scaling keeps the bar consistent with the adjusted close.
    """
    if "adj_close" not in frame:
        return frame
    out = frame.copy()
    if "close" in out:
        factor = out["adj_close"] / out["close"]
        for col in ("open", "high", "low"):
            if col in out:
                out[col] = out[col] * factor
    out["close"] = out.pop("adj_close")
    return out
