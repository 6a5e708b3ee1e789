"""`mib data`: import, status, verify, fetch; one-line errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

try:
    from cli_support import run_cli as run
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
UNIVERSE = str(ROOT / "events" / "universe.yaml")




@pytest.fixture(scope="module")
def shared() -> Path:
    d = ROOT.parent / "shared" / "data" / "prices"
    if not d.is_dir():
        pytest.skip("../shared/data/prices not available")
    return d


@pytest.fixture
def small_dir(tmp_path, shared) -> Path:
    d = tmp_path / "px"
    d.mkdir()
    for name in ("NVDA.csv", "688256.SS.csv", "GSPC.csv"):
        (d / name).symlink_to(shared / name)
    return d


def test_import_status_verify(capsys, tmp_path, small_dir):
    cache = str(tmp_path / "cache")
    code, out, err = run(capsys, "data", "import", str(small_dir), "--cache-dir", cache,
                         "--universe-file", UNIVERSE)
    assert code == 0, err
    assert "imported 3 series" in out
    code, out, _ = run(capsys, "data", "status", "--cache-dir", cache, "--format", "csv")
    rows = {r["symbol"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"NVDA", "688256.SS", "^GSPC"}
    assert rows["688256.SS"]["adjustment"] == "unadjusted"
    assert rows["NVDA"]["adjustment"] == "adjusted" and rows["NVDA"]["rows"] == "1760"
    assert rows["^GSPC"]["source"] == "csv"
    code, out, _ = run(capsys, "data", "status", "--cache-dir", cache)
    assert code == 0 and "adjustment" in out and "(3 series)" in out
    code, out, _ = run(capsys, "data", "verify", "688256.SS", "--cache-dir", cache,
                       "--format", "csv", "--universe-file", UNIVERSE)
    assert code == 0
    found = list(csv.DictReader(io.StringIO(out)))
    assert {"symbol", "date", "check", "severity", "detail"} == set(found[0])
    assert any(r["check"] == "limit_hit" and r["date"] == "2022-09-02" for r in found)
    code, out, _ = run(capsys, "data", "verify", "--cache-dir", cache, "--universe-file", UNIVERSE)
    assert code == 0 and out.startswith("3 series checked;")


def test_unknown_layout_is_one_line_and_columns_fix_it(capsys, tmp_path):
    d = tmp_path / "px"
    d.mkdir()
    (d / "NVDA.csv").write_text("As Of,Px Settle\n2024-03-04,10\n2024-03-05,11\n",
                                encoding="utf-8")
    cache = str(tmp_path / "cache")
    code, out, err = run(capsys, "data", "import", str(d), "--cache-dir", cache,
                         "--universe-file", UNIVERSE)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "NVDA.csv" in lines[0] and "'As Of'" in lines[0]
    assert "--columns date=" in lines[0]
    code, out, err = run(capsys, "data", "import", str(d), "--cache-dir", cache, "--universe-file",
                         UNIVERSE, "--columns", "date=As Of,close=Px Settle",
                         "--adjustment", "unadjusted")
    assert code == 0, err
    code, out, _ = run(capsys, "data", "status", "--cache-dir", cache, "--format", "csv")
    row = next(csv.DictReader(io.StringIO(out)))
    assert (row["symbol"], row["rows"], row["adjustment"]) == ("NVDA", "2", "unadjusted")


def test_fetch_needs_symbols_and_reports_unreachable_yahoo(capsys, tmp_path, monkeypatch):
    code, _, err = run(capsys, "data", "fetch", "--cache-dir", str(tmp_path))
    assert code == 1 and "--universe" in err
    import yfinance as yf

    def offline(tickers, **kw):
        raise OSError("network is unreachable")

    monkeypatch.setattr(yf, "download", offline)
    monkeypatch.setattr("time.sleep", lambda s: None)
    code, _, err = run(capsys, "data", "fetch", "NVDA", "--cache-dir", str(tmp_path),
                         "--universe-file", UNIVERSE)
    assert code == 1 and "--demo" in err and "--prices-dir" in err
    assert not (tmp_path / "manifest.json").exists()


def test_bad_format_and_empty_cache(capsys, tmp_path):
    code, _, err = run(capsys, "data", "status", "--cache-dir", str(tmp_path), "--format", "x")
    assert code == 1 and "--format" in err
    code, out, _ = run(capsys, "data", "status", "--cache-dir", str(tmp_path))
    assert code == 0 and "(0 series)" in out and "(none)" in out


def test_fetch_universe_caches_every_symbol(capsys, tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd
    import yfinance as yf

    from backtest.universe import load_universe

    days = pd.DatetimeIndex(["2025-04-14", "2025-04-15", "2025-04-16"], name="Date")
    batches: list[int] = []

    def download(tickers, **kw):
        batches.append(len(tickers))
        cols = pd.MultiIndex.from_product([["Close", "High", "Low", "Open", "Volume"],
                                           list(tickers)], names=["Price", "Ticker"])
        return pd.DataFrame(np.full((3, len(cols)), 10.0), index=days, columns=cols)

    monkeypatch.setattr(yf, "download", download)
    code, out, err = run(capsys, "data", "fetch", "--universe", "--cache-dir", str(tmp_path),
                         "--universe-file", UNIVERSE, "--start", "2025-04-14")
    n = len(load_universe(UNIVERSE).symbols)
    assert code == 0, err
    assert f"cached {n} series" in out and sum(batches) == n and max(batches) <= 20
    code, out, _ = run(capsys, "data", "status", "--cache-dir", str(tmp_path), "--format", "csv")
    assert out.count(",yahoo,adjusted,3,2025-04-14,2025-04-16,") == n
