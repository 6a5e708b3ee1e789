"""The parquet cache: round trip, manifest, location, and writes killed midway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtest.errors import DataError
from backtest.market import PriceCache, default_cache_dir, frame_hash, load_prices
from backtest.market.csvsource import read_price_csv
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def universe():
    return load_universe(REPO / "events" / "universe.yaml")


def _csv_dir(tmp_path: Path, closes: dict[str, list[float]]) -> Path:
    d = tmp_path / "csv"
    d.mkdir(exist_ok=True)
    dates = pd.bdate_range("2024-03-04", periods=5)  # Mon..Fri, all XNYS sessions
    for sym, cl in closes.items():
        pd.DataFrame({"Date": dates.strftime("%Y-%m-%d")[: len(cl)], "Close": cl}).to_csv(
            d / f"{sym.lstrip('^')}.csv", index=False
        )
    return d


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_round_trip_and_manifest_fields(tmp_path, universe):
    d = _csv_dir(tmp_path, {"NVDA": [1, 2, 3, 4, 5], "^SOX": [10, 11, 12, 13, 14]})
    cache = tmp_path / "cache"
    p = load_prices(
        "csv", ["NVDA", "^SOX"], universe=universe, prices_dir=d, cache_dir=cache, write_cache=True
    )
    entries = PriceCache.open(cache).entries()
    e = entries["^SOX"]
    assert (e.meta.source, e.meta.adjustment, e.meta.rows) == ("csv", "adjusted", 5)
    assert (e.meta.first, e.meta.last) == ("2024-03-04", "2024-03-08")
    expected = pd.DataFrame(
        {"close": [10.0, 11.0, 12.0, 13.0, 14.0]},
        index=pd.DatetimeIndex(pd.bdate_range("2024-03-04", periods=5), name="date"),
    )
    assert e.meta.content_hash == frame_hash(expected)
    assert e.meta.fetched_at.endswith("Z") and "SOX.csv" in e.meta.origin
    back = load_prices("cache", universe=universe, cache_dir=cache)
    assert set(back.symbols) == {"NVDA", "^SOX"}
    pd.testing.assert_frame_equal(back.bars["^SOX"], expected, check_freq=False)
    assert back.content_hash() == p.content_hash()


def test_cache_location_env_and_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("MIB_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert PriceCache.open(tmp_path / "arg").root == tmp_path / "arg"
    monkeypatch.delenv("MIB_CACHE_DIR")
    import platformdirs

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("mib"))


def test_missing_symbol_and_corrupt_manifest(tmp_path, universe):
    with pytest.raises(DataError, match=r"no prices for NVDA \(not in the price cache"):
        load_prices("cache", ["NVDA"], universe=universe, cache_dir=tmp_path)
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="unreadable cache manifest"):
        PriceCache.open(tmp_path).entries()


def test_replacing_a_series_removes_the_old_file(tmp_path, universe):
    cache = tmp_path / "cache"
    d = _csv_dir(tmp_path, {"NVDA": [1, 2, 3]})
    load_prices("csv", ["NVDA"], universe=universe, prices_dir=d, cache_dir=cache, write_cache=True)
    d = _csv_dir(tmp_path, {"NVDA": [1, 2, 3, 4]})
    load_prices("csv", ["NVDA"], universe=universe, prices_dir=d, cache_dir=cache, write_cache=True)
    files = sorted(p.name for p in (cache / "bars").iterdir())
    assert len(files) == 1 and PriceCache.open(cache).entries()["NVDA"].meta.rows == 4


def _seed(tmp_path: Path, universe) -> tuple[Path, dict[str, bytes]]:
    cache = tmp_path / "cache"
    d = _csv_dir(tmp_path, {"NVDA": [1, 2, 3, 4, 5], "AMD": [5, 4, 3, 2, 1]})
    load_prices(
        "csv", ["NVDA", "AMD"], universe=universe, prices_dir=d, cache_dir=cache, write_cache=True
    )
    return cache, _snapshot(cache)


def test_injected_failure_during_write_leaves_cache_byte_identical(tmp_path, universe, monkeypatch):
    from backtest.market import cache as cache_mod

    cache, before = _seed(tmp_path, universe)
    real = cache_mod._write_parquet

    def failing(frame, path):
        real(frame, path)
        path.write_bytes(path.read_bytes()[:50])
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod, "_write_parquet", failing)
    new = read_price_csv(_csv_dir(tmp_path, {"NVDA": [9, 9, 9, 9, 9]}) / "NVDA.csv", "NVDA")
    with pytest.raises(DataError, match="disk full; nothing stored was changed"):
        PriceCache.open(cache).write({"NVDA": new})
    assert _snapshot(cache) == before


KILLER = r"""
import os, signal, sys
from pathlib import Path
from backtest.market import cache as c
from backtest.market.csvsource import read_price_csv

stage = sys.argv[3]
real_atomic = c.atomic_write

def dying_atomic(target, write):
    if stage in target.name:
        def partial(tmp):
            write(tmp)
            data = tmp.read_bytes()
            tmp.write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real_atomic(target, partial)
    return real_atomic(target, write)

c.atomic_write = dying_atomic
raw = read_price_csv(Path(sys.argv[2]), "NVDA")
c.PriceCache(Path(sys.argv[1])).write({"NVDA": raw})
"""


@pytest.mark.parametrize("stage", ["NVDA-", "manifest.json"])
def test_killed_writer_leaves_previous_cache_byte_identical(tmp_path, universe, stage):
    cache, before = _seed(tmp_path, universe)
    newfile = _csv_dir(tmp_path, {"NVDA": [7, 7, 8, 8, 9]}) / "NVDA.csv"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(cache), str(newfile), stage],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    after = _snapshot(cache)
    # Every file of the previous cache is still there, byte for byte; only unreferenced
    # temp/new files may have appeared.
    assert {k: after[k] for k in before} == before
    referenced = {"manifest.json"} | {e.file for e in PriceCache.open(cache).entries().values()}
    assert referenced == set(before)
    back = load_prices("cache", universe=universe, cache_dir=cache)
    assert list(back.bars["NVDA"]["close"]) == [1, 2, 3, 4, 5]
    # The next successful write removes the debris.
    PriceCache.open(cache).write({"NVDA": read_price_csv(newfile, "NVDA")})
    left = {str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()} - {".lock"}
    assert left == {"manifest.json"} | {e.file for e in PriceCache.open(cache).entries().values()}


def test_a_held_lock_times_out_with_a_clear_error(tmp_path, universe):
    from filelock import FileLock

    cache, before = _seed(tmp_path, universe)
    raw = read_price_csv(_csv_dir(tmp_path, {"NVDA": [3, 3, 3]}) / "NVDA.csv", "NVDA")
    with FileLock(str(cache / ".lock")), pytest.raises(DataError, match="locked by another"):
        PriceCache(cache, lock_timeout=0.05).write({"NVDA": raw})
    assert _snapshot(cache) == before
