"""Market data: sources (Yahoo, CSV), the local cache, calendars, data checks, factors.

Names are loaded lazily (PEP 562), so ``import backtest.market.panel`` or
``mib --help`` do not pull in numpy, pandas, pyarrow or yfinance.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "BAR_COLUMNS": "panel",
    "PricePanel": "panel",
    "SeriesMeta": "panel",
    "frame_hash": "panel",
    "CacheEntry": "cache",
    "PriceCache": "cache",
    "default_cache_dir": "cache",
    "CheckPolicy": "checks",
    "Findings": "checks",
    "verify": "checks",
    "CsvDirectorySource": "csvsource",
    "read_price_csv": "csvsource",
    "fetch_ff_factors": "factors",
    "load_ff_factors": "factors",
    "align_to_sessions": "load",
    "build_panel": "load",
    "load_prices": "load",
    "fetch_stitched": "load",
    "load_stitched": "load",
    "StitchedLoad": "load",
    "StitchPolicy": "stitch",
    "StitchReport": "stitch",
    "StitchResult": "stitch",
    "StitchSource": "stitch",
    "stitch_many": "stitch",
    "stitch_series": "stitch",
    "FetchResult": "types",
    "Issue": "types",
    "PriceSource": "types",
    "RawSeries": "types",
    "YahooSource": "yahoo",
}
__all__ = [
    "BAR_COLUMNS",
    "CacheEntry",
    "CheckPolicy",
    "CsvDirectorySource",
    "FetchResult",
    "Findings",
    "Issue",
    "PriceCache",
    "PricePanel",
    "PriceSource",
    "RawSeries",
    "SeriesMeta",
    "StitchPolicy",
    "StitchReport",
    "StitchResult",
    "StitchSource",
    "StitchedLoad",
    "YahooSource",
    "align_to_sessions",
    "build_panel",
    "default_cache_dir",
    "fetch_ff_factors",
    "fetch_stitched",
    "frame_hash",
    "load_ff_factors",
    "load_prices",
    "load_stitched",
    "read_price_csv",
    "stitch_many",
    "stitch_series",
    "verify",
]

if TYPE_CHECKING:
    from backtest.market.cache import CacheEntry, PriceCache, default_cache_dir
    from backtest.market.checks import CheckPolicy, Findings, verify
    from backtest.market.csvsource import CsvDirectorySource, read_price_csv
    from backtest.market.factors import fetch_ff_factors, load_ff_factors
    from backtest.market.load import (
        StitchedLoad,
        align_to_sessions,
        build_panel,
        fetch_stitched,
        load_prices,
        load_stitched,
    )
    from backtest.market.panel import BAR_COLUMNS, PricePanel, SeriesMeta, frame_hash
    from backtest.market.stitch import (
        StitchPolicy,
        StitchReport,
        StitchResult,
        StitchSource,
        stitch_many,
        stitch_series,
    )
    from backtest.market.types import FetchResult, Issue, PriceSource, RawSeries
    from backtest.market.yahoo import YahooSource


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'backtest.market' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"backtest.market.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
