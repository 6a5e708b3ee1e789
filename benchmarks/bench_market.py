"""Market-data benchmarks: CSV import of every shared file, and a cached 50 x 10-year panel.

Run: ``.venv/bin/python benchmarks/bench_market.py [--prices-dir ../shared/data/prices]``.
Targets: import of all shared files < 10 s; loading the cached panel < 1 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.market import PriceCache, load_prices, read_price_csv
from backtest.market.calendars import sessions
from backtest.market.panel import SeriesMeta, frame_hash
from backtest.market.types import RawSeries
from backtest.universe import Security, Universe, load_universe

ROOT = Path(__file__).resolve().parents[1]


def bench_import(prices_dir: Path) -> None:
    files = sorted(prices_dir.rglob("*.csv"))
    t0 = time.perf_counter()
    rows = sum(read_price_csv(f, f.stem).meta.rows for f in files)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        u = load_universe(ROOT / "events" / "universe.yaml")
        t2 = time.perf_counter()
        panel = load_prices(
            "csv", universe=u, prices_dir=prices_dir, cache_dir=tmp, write_cache=True
        )
        t3 = time.perf_counter()
    print(f"read all {len(files)} shared files ({rows} rows): {t1 - t0:.2f} s  (target < 10 s)")
    print(f"import primary dir -> panel + cache ({len(panel.symbols)} series): {t3 - t2:.2f} s")


def _synthetic(n_symbols: int, years: int) -> tuple[Universe, dict[str, RawSeries]]:
    rng = np.random.default_rng(7)
    days = sessions("XNAS", "2015-01-02", f"{2015 + years - 1}-12-31")
    secs, series = [], {}
    for i in range(n_symbols):
        sym = f"SYN{i:02d}"
        secs.append(Security(symbol=sym, name=sym, mic="XNAS", currency="USD", group="us_semis"))
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        bars = pd.DataFrame(
            {
                "open": close * 0.99,
                "high": close * 1.01,
                "low": close * 0.98,
                "close": close,
                "volume": rng.integers(1e5, 1e7, len(days)).astype(float),
            },
            index=pd.DatetimeIndex(days, name="date"),
        )
        meta = SeriesMeta(
            sym,
            "csv",
            "adjusted",
            origin="benchmark",
            rows=len(bars),
            first=f"{days[0]:%Y-%m-%d}",
            last=f"{days[-1]:%Y-%m-%d}",
            content_hash=frame_hash(bars),
        )
        series[sym] = RawSeries(bars=bars, meta=meta)
    return Universe(securities=tuple(secs)), series


def bench_cached_panel(n_symbols: int = 50, years: int = 10, repeats: int = 3) -> None:
    u, series = _synthetic(n_symbols, years)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        PriceCache.open(tmp).write(series)
        t1 = time.perf_counter()
        best = float("inf")
        for _ in range(repeats):
            s = time.perf_counter()
            panel = load_prices("cache", universe=u, cache_dir=tmp)
            best = min(best, time.perf_counter() - s)
    rows = sum(len(b) for b in panel.bars.values())
    print(f"write {n_symbols} x {years}y to cache: {t1 - t0:.2f} s")
    print(
        f"load cached {n_symbols}-symbol x {years}-year panel ({rows} rows): {best:.3f} s "
        f"(best of {repeats}; target < 1 s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prices-dir", type=Path, default=ROOT.parent / "shared" / "data" / "prices")
    args = ap.parse_args()
    if args.prices_dir.is_dir():
        bench_import(args.prices_dir)
    else:
        print(f"skipped import benchmark: {args.prices_dir} not found")
    bench_cached_panel()


if __name__ == "__main__":
    main()
