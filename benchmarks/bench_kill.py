"""Kill writers at random moments and count what survives (issue 16's kill loops, larger).

Two loops, each printing its counts:

* ``mib events add`` killed with SIGKILL at a random moment of its run, N times;
  after each kill the log must be byte-identical to the old log or to the new
  one, its digest chain must fold, and no stray file may remain after the next
  successful add.
* a process rewriting the price cache in a loop, killed at a random moment, M
  times; after each kill every manifest entry must load with its content hash
  verified and no parquet file may be unaccounted for.

Usage: ``.venv/bin/python benchmarks/bench_kill.py [--log N] [--cache M] [--seed S]``
(defaults 100 and 40, the fault-injection pass's counts).  The test suite runs the
same loops 4 times each (tests/test_faults_eventlog.py, tests/test_faults_market.py).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNIVERSE = str(REPO / "events" / "universe.yaml")
FIX = REPO / "tests" / "fixtures" / "eventlog"
DAYS = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]

CACHE_WRITER = r"""
import sys
from pathlib import Path
from backtest.market.cache import PriceCache
from backtest.market.csvsource import read_price_csv

a, b = (read_price_csv(Path(p), "NVDA") for p in sys.argv[2:4])
amd = read_price_csv(Path(sys.argv[4]), "AMD")
cache = PriceCache(Path(sys.argv[1]))
print("ready", flush=True)
i = 0
while True:
    cache.write({"NVDA": a if i % 2 else b, "AMD": amd})
    i += 1
"""


def _add_command(log: Path, event_file: Path) -> list[str]:
    return [
        sys.executable, "-m", "backtest", "events", "add", str(event_file), "--log", str(log),
        "--universe-file", UNIVERSE, "--recorded", "2026-12-01",
    ]  # fmt: skip


def kill_log_writers(n: int, rng: random.Random, work: Path) -> dict[str, int]:
    """SIGKILL ``mib events add`` n times; count old/new/corrupt logs."""
    from backtest.eventlog import empty_log_text, load_catalog

    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.yaml"
    log.write_text(empty_log_text(), encoding="utf-8")
    seed_add = _add_command(log, FIX / "bis_2022.yaml")
    subprocess.run(seed_add, cwd=REPO, check=True, capture_output=True, timeout=300)
    old = log.read_bytes()
    ref = work / "ref.yaml"
    ref.write_bytes(old)
    t = time.perf_counter()
    subprocess.run(
        _add_command(ref, FIX / "one_event.yaml"),
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    full = time.perf_counter() - t
    new = ref.read_bytes()
    counts = {"tried": 0, "old": 0, "new": 0, "corrupt": 0, "finished_before_kill": 0}
    for _ in range(n):
        log.write_bytes(old)
        proc = subprocess.Popen(
            _add_command(log, FIX / "one_event.yaml"),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2 * full, 1.1 * full))
        if proc.poll() is not None:
            counts["finished_before_kill"] += 1
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        counts["tried"] += 1
        data = log.read_bytes()
        try:
            load_catalog(log)
            ok = True
        except Exception:  # any failure to fold is a corrupt log
            ok = False
        if data == old and ok:
            counts["old"] += 1
        elif data == new and ok:
            counts["new"] += 1
        else:
            counts["corrupt"] += 1
    log.write_bytes(old)
    subprocess.run(
        _add_command(log, FIX / "one_event.yaml"), cwd=REPO, check=True, capture_output=True
    )
    stray = sorted(p.name for p in log.parent.iterdir() if p.name.startswith("log.yaml."))
    counts["stray_files_after_next_add"] = len([s for s in stray if s != "log.yaml.lock"])
    return counts


def _csv(d: Path, name: str, closes: list[int]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{day},{c}\n" for day, c in zip(DAYS, closes, strict=True))
    (d / name).write_text("Date,Close\n" + rows, encoding="utf-8")
    return d / name


def kill_cache_writers(n: int, rng: random.Random, work: Path) -> dict[str, int]:
    """SIGKILL a cache-rewriting process n times; count complete and damaged caches."""
    from backtest.market import PriceCache, load_prices
    from backtest.universe import load_universe

    universe = load_universe(UNIVERSE)
    a = _csv(work / "a", "NVDA.csv", [1, 2, 3, 4, 5])
    b = _csv(work / "b", "NVDA.csv", [6, 7, 8, 9, 10])
    amd = _csv(work / "c", "AMD.csv", [3, 3, 4, 4, 5])
    cache = work / "cache"
    load_prices(
        "csv", ["NVDA", "AMD"], universe=universe, prices_dir=a.parent, cache_dir=cache,
        write_cache=True,
    )  # fmt: skip
    counts = {"tried": 0, "complete": 0, "damaged": 0, "unaccounted_files": 0}
    for _ in range(n):
        proc = subprocess.Popen(
            [sys.executable, "-c", CACHE_WRITER, str(cache), str(a), str(b), str(amd)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        counts["tried"] += 1
        state = PriceCache.open(cache).inspect()
        counts["unaccounted_files"] += len(state.unaccounted)
        try:
            back = load_prices("cache", universe=universe, cache_dir=cache)  # hashes verified
            good = list(back.bars["NVDA"]["close"]) in ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        except Exception:  # a cache that cannot be read back is damaged
            good = False
        counts["complete" if good else "damaged"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=int, default=100, help="kills of 'mib events add'")
    parser.add_argument("--cache", type=int, default=40, help="kills of a cache writer")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="mib-bench-kill-"))
    try:
        t = time.perf_counter()
        if args.log:
            got = kill_log_writers(args.log, rng, work / "log")
            print("event log: " + ", ".join(f"{k} {v}" for k, v in got.items()))
        if args.cache:
            got = kill_cache_writers(args.cache, rng, work / "cache")
            print("price cache: " + ", ".join(f"{k} {v}" for k, v in got.items()))
        print(f"({time.perf_counter() - t:.0f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
