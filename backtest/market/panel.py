"""The price panel: per-security daily bars on that security's own exchange sessions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Adjustment = Literal["adjusted", "unadjusted", "unknown"]
SourceKind = Literal["yahoo", "csv", "synthetic", "cache"]
BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class SeriesMeta:
    """Where one security's prices came from and what they are."""

    symbol: str
    source: SourceKind
    adjustment: Adjustment
    origin: str = ""  # file path, 'yfinance auto_adjust=True', 'synthetic seed=7', ...
    fetched_at: str = ""  # ISO 8601 UTC
    rows: int = 0
    first: str = ""  # YYYY-MM-DD
    last: str = ""
    content_hash: str = ""  # sha256 of the canonical bars (see frame_hash)


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a bars frame in a canonical form (dates and float64 values)."""
    import numpy as np

    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(frame.index.strftime("%Y-%m-%d").str.cat(sep=",").encode())
    h.update(np.ascontiguousarray(frame.to_numpy(dtype="float64", na_value=np.nan)).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class PricePanel:
    """Daily bars per security.

    ``bars[symbol]`` is a DataFrame indexed by session date (tz-naive
    ``DatetimeIndex`` named ``date``, sorted, unique) with float columns from
    :data:`BAR_COLUMNS`; ``close`` is always present and is the adjusted close
    when an adjusted series exists (see ``meta[symbol].adjustment``).
    A missing row on a session of the security's exchange means no trade
    (suspension or gap), never a non-session.
    """

    bars: Mapping[str, pd.DataFrame]
    meta: Mapping[str, SeriesMeta]
    synthetic: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.bars)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.bars

    def close(self, symbol: str) -> pd.Series:
        return self.bars[symbol]["close"]

    def returns(self, symbol: str, *, log: bool = False) -> pd.Series:
        """Close-to-close returns between consecutive available rows."""
        import numpy as np

        c = self.close(symbol)
        r = np.log(c / c.shift(1)) if log else c / c.shift(1) - 1.0
        return r.iloc[1:].rename(symbol)

    def content_hash(self) -> str:
        """One hash over every series' hash, in symbol order."""
        h = hashlib.sha256()
        for s in sorted(self.meta):
            h.update(f"{s}={self.meta[s].content_hash};".encode())
        return h.hexdigest()

    def subset(self, symbols: list[str] | tuple[str, ...]) -> PricePanel:
        keep = [s for s in symbols if s in self.bars]
        return PricePanel(
            bars={s: self.bars[s] for s in keep},
            meta={s: self.meta[s] for s in keep},
            synthetic=self.synthetic,
            notes=self.notes,
        )
