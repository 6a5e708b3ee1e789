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


def _shared_prices_or_skip() -> Path:
    """../shared/data/prices (fails under CI=true when absent, skips elsewhere)."""
    try:
        from shared_support import require_shared
    except ImportError:  # pragma: no cover
        from tests.shared_support import require_shared
    return require_shared(ROOT.parent / "shared" / "data" / "prices")


@pytest.fixture(scope="module")
def shared() -> Path:
    return _shared_prices_or_skip()


@pytest.fixture
def small_dir(tmp_path, shared) -> Path:
    d = tmp_path / "px"
    d.mkdir()
    for name in ("NVDA.csv", "688256.SS.csv", "GSPC.csv"):
        (d / name).symlink_to(shared / name)
    return d


def test_import_status_verify(capsys, tmp_path, small_dir):
    cache = str(tmp_path / "cache")
    code, out, err = run(
        capsys, "data", "import", str(small_dir), "--cache-dir", cache, "--universe-file", UNIVERSE
    )
    assert code == 0, err
    assert "imported 3 series" in out
    code, out, _ = run(capsys, "data", "status", "--cache-dir", cache, "--format", "csv")
    rows = {r["symbol"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"NVDA", "688256.SS", "^GSPC"}
    # PROVENANCE (2026-11-30): 688256.SS.csv is Eastmoney kline, forward-adjusted (qfq)
    assert rows["688256.SS"]["adjustment"] == "adjusted"
    assert rows["NVDA"]["adjustment"] == "adjusted" and rows["NVDA"]["rows"] == "1760"
    assert rows["^GSPC"]["source"] == "csv"
    code, out, _ = run(capsys, "data", "status", "--cache-dir", cache)
    assert code == 0 and "adjustment" in out and "(3 series)" in out
    code, out, _ = run(
        capsys,
        "data",
        "verify",
        "688256.SS",
        "--cache-dir",
        cache,
        "--format",
        "csv",
        "--universe-file",
        UNIVERSE,
    )
    assert code == 0
    found = list(csv.DictReader(io.StringIO(out)))
    assert {"symbol", "date", "check", "severity", "detail"} == set(found[0])
    assert any(r["check"] == "limit_hit" and r["date"] == "2022-09-02" for r in found)
    code, out, _ = run(capsys, "data", "verify", "--cache-dir", cache, "--universe-file", UNIVERSE)
    assert code == 0 and out.startswith("3 series checked;")


def test_unknown_layout_is_one_line_and_columns_fix_it(capsys, tmp_path):
    d = tmp_path / "px"
    d.mkdir()
    (d / "NVDA.csv").write_text("As Of,Px Settle\n2024-03-04,10\n2024-03-05,11\n", encoding="utf-8")
    cache = str(tmp_path / "cache")
    code, out, err = run(
        capsys, "data", "import", str(d), "--cache-dir", cache, "--universe-file", UNIVERSE
    )
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "NVDA.csv" in lines[0] and "'As Of'" in lines[0]
    assert "--columns date=" in lines[0]
    code, out, err = run(
        capsys,
        "data",
        "import",
        str(d),
        "--cache-dir",
        cache,
        "--universe-file",
        UNIVERSE,
        "--columns",
        "date=As Of,close=Px Settle",
        "--adjustment",
        "unadjusted",
    )
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
    code, _, err = run(
        capsys, "data", "fetch", "NVDA", "--cache-dir", str(tmp_path), "--universe-file", UNIVERSE
    )
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
        cols = pd.MultiIndex.from_product(
            [["Close", "High", "Low", "Open", "Volume"], list(tickers)], names=["Price", "Ticker"]
        )
        return pd.DataFrame(np.full((3, len(cols)), 10.0), index=days, columns=cols)

    monkeypatch.setattr(yf, "download", download)
    code, out, err = run(
        capsys,
        "data",
        "fetch",
        "--universe",
        "--cache-dir",
        str(tmp_path),
        "--universe-file",
        UNIVERSE,
        "--start",
        "2025-04-14",
    )
    n = len(load_universe(UNIVERSE).symbols)
    assert code == 0, err
    assert f"cached {n} series" in out and sum(batches) == n and max(batches) <= 20
    code, out, _ = run(capsys, "data", "status", "--cache-dir", str(tmp_path), "--format", "csv")
    assert out.count(",yahoo,adjusted,3,2025-04-14,2025-04-16,") == n


def _csv_rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def test_verify_against_finds_yahoos_2023_08_25_hsi(capsys, tmp_path, shared):
    d = tmp_path / "px"
    d.mkdir()
    (d / "HSI.csv").symlink_to(shared / "HSI.csv")
    other = shared / "supplementary" / "later_vintages" / "yahoo_QuantEdge"
    code, out, err = run(
        capsys,
        "data",
        "verify",
        "^HSI",
        "--prices-dir",
        str(d),
        "--against",
        str(other),
        "--format",
        "csv",
        "--universe-file",
        UNIVERSE,
    )
    assert code == 0, err
    dis = [r for r in _csv_rows(out) if r["check"] == "source_disagreement"]
    # HSI.csv: 18212.17 (08-24), 17956.381 (08-25), 18130.738 (08-28): -1.404 %, +0.971 %;
    # Yahoo: 18212.169921875, 18119.390625, 18130.740234375: -0.509 %, +0.063 %.
    assert [r["date"] for r in dis] == ["2023-08-25", "2023-08-28"]
    assert "-1.404%" in dis[0]["detail"] and "-0.509%" in dis[0]["detail"]
    assert "+0.971%" in dis[1]["detail"] and "+0.063%" in dis[1]["detail"]
    code, out, _ = run(
        capsys,
        "data",
        "verify",
        "^HSI",
        "--prices-dir",
        str(d),
        "--against",
        str(other),
        "--universe-file",
        UNIVERSE,
    )
    assert code == 0 and out.startswith("1 series checked; compared 1 with ")


def test_verify_against_the_superseded_files(capsys, tmp_path, shared):
    d = tmp_path / "px"
    d.mkdir()
    for name in ("HSI.csv", "000300.SS.csv", "688256.SS.csv", "NVDA.csv"):
        (d / name).symlink_to(shared / name)
    old = shared / "supplementary" / "superseded_primary_2026-11"
    code, out, err = run(
        capsys,
        "data",
        "verify",
        "--prices-dir",
        str(d),
        "--against",
        str(old),
        "--format",
        "csv",
        "--universe-file",
        UNIVERSE,
    )
    assert code == 0, err
    dis = {(r["symbol"], r["date"]) for r in _csv_rows(out) if r["check"] == "source_disagreement"}
    # PROVENANCE: Yahoo's 2023-08-25 HSI and CSI 300 values and its partial 2024-08-05 HSI
    # row look wrong; 688256 qfq equals the raw superseded file over their overlap.
    assert {
        ("^HSI", "2023-08-25"),
        ("^HSI", "2024-08-05"),
        ("000300.SS", "2023-08-25"),
        ("000300.SS", "2023-08-28"),
    } <= dis
    assert not {s for s, _ in dis} - {"^HSI", "000300.SS"}
    code, out, _ = run(
        capsys,
        "data",
        "verify",
        "--prices-dir",
        str(d),
        "--against",
        str(old),
        "--universe-file",
        UNIVERSE,
    )
    assert "compared 3 with" in out.splitlines()[0] and "(1 without a file there)" in out


def test_verify_against_needs_a_directory(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "data",
        "verify",
        "--against",
        str(tmp_path / "nope"),
        "--cache-dir",
        str(tmp_path),
        "--universe-file",
        UNIVERSE,
    )
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and len(lines) == 1
    assert "nope" in lines[0] and "--against" in lines[0] and "not a directory" in lines[0]


def test_inf_1e308_and_a_x100_shift_are_errors_not_tracebacks(capsys, tmp_path):
    d = tmp_path / "px"
    d.mkdir()
    (d / "NVDA.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2024-03-04,10,10,10,10,100\n"
        "2024-03-05,10,10,10,inf,100\n2024-03-06,10,10,10,1e308,100\n"
        "2024-03-07,10,10,10,10,-inf\n2024-03-08,10,10,10,10,100\n",
        encoding="utf-8",
    )
    (d / "AMD.csv").write_text(
        "Date,Close\n2024-03-04,1.5\n2024-03-05,150\n2024-03-06,151\n", encoding="utf-8"
    )
    code, out, err = run(
        capsys,
        "data",
        "verify",
        "NVDA",
        "AMD",
        "--prices-dir",
        str(d),
        "--format",
        "csv",
        "--universe-file",
        UNIVERSE,
    )
    assert code == 0 and "Traceback" not in err, err
    rows = {(r["symbol"], r["date"], r["check"]): r for r in _csv_rows(out)}
    inf = rows[("NVDA", "2024-03-05", "non_finite")]
    assert inf["severity"] == "error"
    assert inf["detail"].startswith("NVDA.csv:3 Close 'inf': expected a finite number")
    assert "row dropped" in inf["detail"]
    assert rows[("NVDA", "2024-03-06", "non_finite")]["detail"].startswith(
        "NVDA.csv:4 Close '1e308'"
    )
    assert "treated as empty" in rows[("NVDA", "2024-03-07", "non_finite")]["detail"]
    shift = rows[("AMD", "2024-03-05", "level_shift")]
    assert shift["severity"] == "error" and "1.5 -> 150 (x100)" in shift["detail"]
    # the same findings survive an import into the cache
    cache = str(tmp_path / "cache")
    code, _, err = run(
        capsys, "data", "import", str(d), "--cache-dir", cache, "--universe-file", UNIVERSE
    )
    assert code == 0, err
    code, out, _ = run(capsys, "data", "verify", "--cache-dir", cache, "--universe-file", UNIVERSE)
    assert code == 0 and "non_finite (error): 3" in out and "level_shift (error): 1" in out
