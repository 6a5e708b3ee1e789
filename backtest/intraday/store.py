"""The intraday bar cache: the daily price cache's machinery, in its own folder.

Bars are stored by :class:`backtest.market.cache.PriceCache` rooted at
``<cache>/intraday`` (same content hashing, manifest, journal, file lock, temp
file + fsync + rename, quarantine), one entry per symbol and source folder, keyed
``SYMBOL@folder``.  The daily cache hashes dates at day resolution, so an intraday
frame is stored with the UTC date as its index and the exact instant as a column
(``epoch_ms``): the recorded SHA-256 covers every bar's instant to the millisecond,
and a shifted time stamp changes the hash.  The time-zone rule each file was read
under and the calendar of the session tags are stored as ``info`` issues in the
manifest, so ``manifest.json`` says how every instant was established.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backtest.intraday.series import BarSet, IntradaySeries, SourceFile
from backtest.intraday.sessions import SESSION_NAMES
from backtest.market.cache import PriceCache, resolve_cache_dir
from backtest.market.panel import SeriesMeta
from backtest.market.types import Issue, RawSeries, bars_hash

if TYPE_CHECKING:
    import pandas as pd

SUBDIR = "intraday"
STORED_COLUMNS: tuple[str, ...] = (
    "epoch_ms",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "bar_seconds",
    "session_code",
)


def cache_key(series: IntradaySeries) -> str:
    return f"{series.symbol}@{series.label}" if series.label else series.symbol


def encode(series: IntradaySeries) -> pd.DataFrame:
    """The stored frame: UTC date index named ``date``, float64 columns (STORED_COLUMNS)."""
    import pandas as pd

    f = series.frame
    start = series.start_ns
    codes = pd.Categorical(f["session"], categories=list(SESSION_NAMES)).codes
    out = pd.DataFrame(
        {
            "epoch_ms": (start // 1_000_000).astype(np.float64),
            **{c: f[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close")},
            "volume": f["volume"].to_numpy(dtype=np.float64),
            "bar_seconds": f["bar_seconds"].to_numpy(dtype=np.float64),
            "session_code": codes.astype(np.float64),
        },
        index=pd.DatetimeIndex(pd.to_datetime(start, utc=True).tz_localize(None).normalize()),
    )
    out.index.name = "date"
    return out


def decode(symbol: str, label: str, calendar: str, stored: pd.DataFrame) -> IntradaySeries:
    """The series back from its stored frame."""
    import pandas as pd

    ns = stored["epoch_ms"].to_numpy(dtype=np.float64).astype(np.int64) * 1_000_000
    frame = pd.DataFrame(
        {
            **{c: stored[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close")},
            "volume": stored["volume"].to_numpy(dtype=np.float64),
            "bar_seconds": stored["bar_seconds"].to_numpy(dtype=np.float64).astype(np.int64),
            "session": np.array(SESSION_NAMES, dtype=object)[
                stored["session_code"].to_numpy(dtype=np.float64).astype(np.int64)
            ],
        },
        index=pd.DatetimeIndex(pd.to_datetime(ns, utc=True), name="bar_utc"),
    )
    return IntradaySeries(symbol, calendar, frame, (), label)


def raw_series(series: IntradaySeries, fetched_at: str) -> RawSeries:
    """The cache's record of a series: bars, provenance, and the rules as info issues."""
    stored = encode(series)
    key = cache_key(series)
    meta = SeriesMeta(
        symbol=key,
        source="csv",
        adjustment="unknown",
        origin=" + ".join(s.file for s in series.sources),
        fetched_at=fetched_at,
        rows=len(stored),
        first=f"{series.frame.index[0]:%Y-%m-%dT%H:%M:%SZ}",
        last=f"{series.frame.index[-1]:%Y-%m-%dT%H:%M:%SZ}",
        content_hash=bars_hash(stored),
    )
    issues = [Issue(key, "", "calendar", "info", series.calendar)]
    issues += [
        Issue(
            key, "", "tz_rule", "info", f"{s.file}: {s.rule}" + "".join(f"; {n}" for n in s.notes)
        )
        for s in series.sources
    ]
    return RawSeries(bars=stored, meta=meta, issues=tuple(issues))


@dataclass(frozen=True)
class IntradayStore:
    """The intraday cache under ``<cache_dir>/intraday``."""

    cache: PriceCache

    @classmethod
    def open(cls, cache_dir: str | Path | None = None) -> IntradayStore:
        root = resolve_cache_dir(cache_dir) / SUBDIR
        named = "--cache-dir" if cache_dir is not None else "the default cache location"
        return cls(PriceCache(root, named_by=named))

    def write(self, bars: BarSet) -> list[str]:
        """Store every series of ``bars`` (one atomic batch); returns the keys written."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        batch = {cache_key(s): raw_series(s, now) for s in bars.all_series()}
        self.cache.write(batch)
        return sorted(batch)

    def load(self, symbols: list[str] | None = None) -> BarSet:
        """Cached series (every key, or those of ``symbols``), hash-checked on read."""
        entries = self.cache.entries()
        keys = [key for key in entries if symbols is None or key.split("@", 1)[0] in set(symbols)]
        raw = self.cache.load(keys)
        out: dict[str, list[IntradaySeries]] = {}
        for key in keys:
            sym, _, label = key.partition("@")
            r = raw[key]
            cal = next((i.detail for i in r.issues if i.check == "calendar"), "XNYS")
            s = decode(sym, label, cal, r.bars)
            rules = tuple(
                SourceFile(i.detail.split(": ", 1)[0], i.detail.split(": ", 1)[-1], len(s.frame))
                for i in r.issues
                if i.check == "tz_rule"
            )
            out.setdefault(sym, []).append(
                IntradaySeries(s.symbol, s.calendar, s.frame, rules, s.label)
            )
        return BarSet({k: tuple(v) for k, v in sorted(out.items())})


def entries_table(store: IntradayStore) -> list[Mapping[str, object]]:
    """One row per cached series: key, rows, first and last instant, hash prefix."""
    return [
        {
            "key": key,
            "rows": e.meta.rows,
            "first": e.meta.first,
            "last": e.meta.last,
            "sha256": e.meta.content_hash[:12],
        }
        for key, e in sorted(store.cache.entries().items())
    ]
