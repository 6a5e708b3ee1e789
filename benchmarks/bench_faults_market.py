"""Fault benchmarks of the market layer: a large CSV import and writers killed mid-write.

Run from the repository root::

    .venv/bin/python benchmarks/bench_faults_market.py                 # 1 GiB files, 40 kills
    .venv/bin/python benchmarks/bench_faults_market.py --size-mb 256 --kills 10

1. Large CSV files, generated in a temporary folder (nothing is written to the
   repository), each read in a fresh process that prints its peak RSS
   (``ru_maxrss``) and wall time, for ``read_price_csv`` alone and for a full
   import (``load_prices('csv', write_cache=True)``: read, screen, align to
   sessions, write the cache):

   * ``long``: Yahoo layout (Date,Open,High,Low,Close,Adj Close,Volume), the
     same 1990-2026 block of daily rows repeated until the file has the size
     (a file appended to itself many times: identical duplicates, each date a
     ``duplicate_date`` finding);
   * ``wide``: 1990-2026 daily rows, each followed by ~100 kB of unused
     columns (an export with every field of a vendor).

   Before this reader, a 1 GB file took 5.8 GB RSS and 73 s (the whole file as
   Python strings).  The target is a peak under 2x the file size.

2. A writer process that rewrites two series in a loop is SIGKILLed after a
   random delay, ``--kills`` times; after each kill the cache must read back
   complete: every manifest entry's file present and matching its SHA-256,
   and only journal-listed or temp files beside them (removed by the next
   write).  Prints the kills, the stages they hit and the failures (0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIVERSE = REPO / "events" / "universe.yaml"

CHILD = r"""
import json, os, resource, sys, time
import warnings
sys.path.insert(0, sys.argv[1])
from backtest.market import load_prices, read_price_csv
from backtest.universe import load_universe

def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

mode, path, cache = sys.argv[2], sys.argv[3], sys.argv[4]
u = load_universe(sys.argv[5])
import pandas, pyarrow, pyarrow.csv, pyarrow.parquet, exchange_calendars  # noqa: E401,F401
base = rss_mb()
t = time.perf_counter()
warnings.simplefilter("ignore")
if mode == "read":
    raw = read_price_csv(path, "NVDA")
    rows, found = raw.meta.rows, len(raw.issues)
else:
    panel = load_prices("csv", ["NVDA"], universe=u, prices_dir=os.path.dirname(path),
                        cache_dir=cache, write_cache=True)
    rows, found = panel.meta["NVDA"].rows, len(panel.notes)
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"base_mb": base, "peak_mb": peak, "secs": secs, "rows": rows,
                  "findings": found}))
"""

WRITER = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from backtest.market.cache import PriceCache
from backtest.market.csvsource import read_price_csv

a = read_price_csv(Path(sys.argv[3]), "NVDA")
b = read_price_csv(Path(sys.argv[4]), "NVDA")
c = read_price_csv(Path(sys.argv[5]), "AMD")
cache = PriceCache(Path(sys.argv[2]))
print("ready", flush=True)
i = 0
while True:
    cache.write({"NVDA": a if i % 2 else b, "AMD": c})
    i += 1
"""


def _daily_rows(seed: int = 7) -> list[str]:
    """1990-01-02..2026-06-30 business days as Yahoo-layout rows (a random walk)."""
    import numpy as np
    import pandas as pd

    days = pd.bdate_range("1990-01-02", "2026-06-30")
    rng = np.random.default_rng(seed)
    close = 20.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, len(days))))
    return [
        f"{d:%Y-%m-%d},{c * 0.99:.6f},{c * 1.01:.6f},{c * 0.98:.6f},{c:.6f},"
        f"{c * 0.97:.6f},{int(c * 1e5)}"
        for d, c in zip(days, close, strict=True)
    ]


def make_long(path: Path, size: int) -> None:
    block = ("\n".join(_daily_rows()) + "\n").encode()
    with open(path, "wb") as fh:
        fh.write(b"Date,Open,High,Low,Close,Adj Close,Volume\n")
        written = 0
        while written < size:
            fh.write(block)
            written += len(block)


def make_wide(path: Path, size: int) -> None:
    rows = _daily_rows()
    per_row = max(size // len(rows), 80)
    extra = (per_row - 70) // 10
    junk = "".join(f",{i % 997:09d}" for i in range(extra))
    head = ",".join(f"x{i}" for i in range(extra))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"Date,Open,High,Low,Close,Adj Close,Volume,{head}\n")
        for r in rows:
            fh.write(r + junk + "\n")


def measure(kind: str, size_mb: int, tmp: Path) -> None:
    d = tmp / kind
    d.mkdir()
    path = d / "NVDA.csv"
    t = time.perf_counter()
    (make_long if kind == "long" else make_wide)(path, size_mb * 2**20)
    size = path.stat().st_size / 2**20
    print(f"\n{kind}: {size:,.0f} MiB file generated in {time.perf_counter() - t:.1f} s")
    for mode in ("read", "import"):
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(REPO),
                mode,
                str(path),
                str(tmp / f"cache-{kind}"),
                str(UNIVERSE),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            print(f"  {mode:6s} FAILED: {proc.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"  {mode:6s} peak RSS {r['peak_mb']:7,.0f} MiB = {r['peak_mb'] / size:4.2f}x file "
            f"(above the {r['base_mb']:.0f} MiB of imports: {r['peak_mb'] - r['base_mb']:,.0f} "
            f"MiB = {(r['peak_mb'] - r['base_mb']) / size:4.2f}x); {r['secs']:6.1f} s; "
            f"{r['rows']:,} rows kept, {r['findings']:,} findings"
        )
    path.unlink()


def _check_cache(root: Path) -> tuple[bool, str]:
    """Whether the cache reads back complete; a reason when not."""
    sys.path.insert(0, str(REPO))
    from backtest.market.cache import PriceCache

    cache = PriceCache(root)
    try:
        state = cache.inspect()
        cache.load()
    except Exception as exc:  # any failure is what this counts
        return False, f"{type(exc).__name__}: {exc}"
    if state.unaccounted:
        return False, f"unaccounted files {state.unaccounted}"
    return True, f"{len(state.debris)} debris"


def kill_loop(kills: int, tmp: Path, seed: int = 1) -> None:
    import pandas as pd

    rng = random.Random(seed)
    src = tmp / "kill-src"
    src.mkdir()
    days = pd.bdate_range("2024-01-02", periods=2000)
    for name, k in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        pd.DataFrame(
            {"Date": days.strftime("%Y-%m-%d"), "Close": [k + i / 100 for i in range(len(days))]}
        ).to_csv(src / f"{name}.csv", index=False)
    cache = tmp / "kill-cache"
    failures, debris_seen, t0 = 0, 0, time.perf_counter()
    for _ in range(kills):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(REPO),
                str(cache),
                str(src / "a.csv"),
                str(src / "b.csv"),
                str(src / "c.csv"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # imports done, about to write
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ok, why = _check_cache(cache)
        failures += not ok
        debris_seen += why != "0 debris"
        if not ok:
            print(f"  FAILED after a kill: {why}")
    print(
        f"\nkilled writers: {kills} in {time.perf_counter() - t0:.0f} s; cache unreadable or "
        f"incomplete after {failures}; debris left (and removed by the next write) after "
        f"{debris_seen}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="size of each large file (MiB)")
    ap.add_argument("--kills", type=int, default=40, help="writers to kill mid-write")
    ap.add_argument("--only", choices=("long", "wide", "kill"), default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mib-bench-faults-") as t:
        tmp = Path(t)
        for kind in ("long", "wide"):
            if args.only in (None, kind):
                measure(kind, args.size_mb, tmp)
        if args.only in (None, "kill"):
            kill_loop(args.kills, tmp)


if __name__ == "__main__":
    main()
