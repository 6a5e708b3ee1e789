"""Shared types of the market layer: one series as read, a source's result, the source protocol."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from backtest.errors import DataError
from backtest.market.panel import SeriesMeta, SourceKind

if TYPE_CHECKING:
    import numpy as np
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
    date: str  # YYYY-MM-DD, or '' when it concerns the whole series
    check: str
    severity: Severity
    detail: str

    def as_note(self) -> str:
        """A readable note that :func:`parse_note` turns back into the issue."""
        return f"[{self.check}:{self.severity}] {self.symbol} {self.date or '-'}: {self.detail}"


_NOTE = re.compile(
    r"^\[(?P<check>[a-z_]+):(?P<sev>info|warning|error)\] (?P<symbol>\S+) "
    r"(?P<date>\d{4}-\d{2}-\d{2}|-): (?P<detail>.*)$",
    re.S,
)


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

    @property
    def kind(self) -> SourceKind: ...

    def fetch(
        self,
        symbols: Sequence[str],
        *,
        start: str | None = None,
        end: str | None = None,
        progress: Progress | None = None,
    ) -> FetchResult: ...


def adjusted_close_in_place(columns: dict[str, np.ndarray]) -> None:
    """Kernel of :func:`use_adjusted_close` on named float arrays, in place.

    ``open``/``high``/``low`` are multiplied by adj_close/close and ``adj_close``
    replaces ``close`` (keeping close's position; appended when there is none).
    """
    if "adj_close" not in columns:
        return
    import numpy as np

    adj = columns.pop("adj_close")
    if "close" in columns:
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = adj / columns["close"]
        for col in ("open", "high", "low"):
            if col in columns:
                columns[col] *= factor
    columns["close"] = adj


def use_adjusted_close(frame: pd.DataFrame) -> pd.DataFrame:
    """Make ``adj_close`` the close and scale open/high/low by adj_close/close.

    Yahoo-style files carry split-adjusted OHLC and a split- and dividend-adjusted
    ``Adj Close``; scaling keeps the bar consistent with the adjusted close.
    """
    import pandas as pd

    if "adj_close" not in frame:
        return frame
    cols = {str(c): frame[c].to_numpy(dtype="float64", copy=True) for c in frame.columns}
    adjusted_close_in_place(cols)
    return pd.DataFrame(cols, index=frame.index)


def bars_hash(frame: pd.DataFrame, *, block_rows: int = 1 << 16) -> str:
    """The digest of :func:`backtest.market.panel.frame_hash`, computed in row blocks.

    Same bytes in the same order (column names, dates joined by commas, the
    float64 values row by row), so the digests are equal; a large frame is
    never copied whole (``frame_hash`` makes two full copies and one string per date).
    """
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    days = frame.index.values.astype("datetime64[D]")
    for i in range(0, len(days), block_rows):
        text = ",".join(np.datetime_as_string(days[i : i + block_rows], unit="D").tolist())
        h.update(("," if i else "").encode() + text.encode())
    for i in range(0, len(frame), block_rows):
        block = frame.iloc[i : i + block_rows].to_numpy(dtype="float64", na_value=np.nan)
        h.update(np.ascontiguousarray(block).tobytes())
    return h.hexdigest()
