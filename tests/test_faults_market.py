"""Fault injection in the market layer: every fault ends in one clear line, nothing is lost.

One parametrised test per fault class of the hardening pass: each runs the
``mib`` command (in-process), asserts the exit code, the one-line message (the
file, field or value it names and what was expected), no traceback, and that
the cache folder is byte-identical afterwards (or, where the fault moves files
aside, that every byte is still there).
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataSourceUnavailable
from backtest.market import PriceCache, YahooSource, load_prices, read_price_csv, verify
from backtest.market.layouts import NumberFormat
from backtest.universe import load_universe

try:
    from cli_support import one_error_line
    from cli_support import run_cli as run
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line
    from tests.cli_support import run_cli as run

REPO = Path(__file__).resolve().parent.parent
UNIVERSE = str(REPO / "events" / "universe.yaml")
U = ("--universe-file", UNIVERSE)
DAYS = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]  # XNAS sessions


@pytest.fixture(scope="module")
def universe():
    return load_universe(UNIVERSE)


def _tree(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (the lock file aside): the 'nothing changed' check."""
    if not root.exists():
        return {}
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _csv(d: Path, name: str, closes: list[object], days: list[str] = DAYS) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{day},{c}\n" for day, c in zip(days, closes, strict=True))
    (d / name).write_text("Date,Close\n" + rows, encoding="utf-8")
    return d / name


def _one_line(code: int, err: str, *needles: str, exit_code: int = 1) -> str:
    return one_error_line(code, err, *needles, exit_code=exit_code)


@pytest.fixture
def seeded(tmp_path: Path, universe) -> Path:
    """A cache holding NVDA and AMD, imported from CSV files in tmp_path/src."""
    src = tmp_path / "src"
    _csv(src, "NVDA.csv", [10, 11, 12, 13, 14])
    _csv(src, "AMD.csv", [50, 49, 48, 47, 46])
    cache = tmp_path / "cache"
    load_prices(
        "csv", ["NVDA", "AMD"], universe=universe, prices_dir=src, cache_dir=cache, write_cache=True
    )
    return cache


def _nvda_file(cache: Path) -> Path:
    return cache / PriceCache.open(cache).entries()["NVDA"].file


# ---------------------------------------------------------------- 1. content hash on read


def _edit_in_place(p: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pq.read_table(p).to_pandas()
    frame.iloc[2, frame.columns.get_loc("close")] = 12.5
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=True), p, compression="zstd")


TAMPER = {
    "edited_in_place": _edit_in_place,
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "deleted": lambda p: p.unlink(),
    "swapped_for_amds": lambda p: p.write_bytes(
        next(q for q in p.parent.iterdir() if q.name.startswith("AMD-")).read_bytes()
    ),
}


@pytest.mark.parametrize("how", list(TAMPER))
def test_tampered_cached_series_is_refused_naming_series_hashes_and_fix(capsys, seeded, how):
    target = _nvda_file(seeded)
    recorded = PriceCache.open(seeded).entries()["NVDA"].meta.content_hash
    TAMPER[how](target)
    before = _tree(seeded)
    code, out, err = run(capsys, "data", "verify", "--cache-dir", str(seeded), *U)
    line = _one_line(code, err, str(target), "NVDA", "mib data import")
    assert out == ""
    if how in ("edited_in_place", "swapped_for_amds"):
        assert f"sha256 {recorded} recorded" in line and "on disk" in line
    assert _tree(seeded) == before  # refusing changes nothing
    if how == "edited_in_place":
        # The fix the message names works, and the edited file is kept, not deleted.
        edited = target.read_bytes()
        # The import command prints the cache's quarantine warning as one line.
        code, _, err = run(
            capsys, "data", "import", str(seeded.parent / "src"), "--cache-dir", str(seeded), *U
        )
        assert code == 0, err
        assert "mib: warning:" in err and "no longer matched their recorded hash" in err
        kept = [p for p in (seeded / "quarantine").rglob("*.parquet")]
        assert [p.read_bytes() for p in kept] == [edited]
        code, out, _ = run(capsys, "data", "verify", "--cache-dir", str(seeded), *U)
        assert code == 0 and out.startswith("2 series checked")


# ---------------------------------------------------------------- 2. manifest faults, no loss

MANIFESTS = {
    "entries_a_list": ('{"version": 1, "entries": []}', "'entries' is a list"),
    "not_json": ("{not json", "unreadable cache manifest"),
    "a_json_list": ("[1, 2]", "the document is a list"),
    "entry_without_file": (
        '{"version": 1, "entries": {"NVDA": {"symbol": "NVDA", "source": '
        '"csv", "adjustment": "unknown", "content_hash": "' + "0" * 64 + '"}}}',
        "the entry for 'NVDA' has no 'file'",
    ),
    "file_outside_bars": (
        '{"version": 1, "entries": {"NVDA": {"symbol": "NVDA", "source": '
        '"csv", "adjustment": "unknown", "content_hash": "'
        + "0" * 64
        + '", "file": "../../etc/passwd"}}}',
        "not bars/<name>.parquet",
    ),
    "unknown_version": ('{"version": 7, "entries": {}}', "version 7"),
}


@pytest.mark.parametrize("case", list(MANIFESTS))
def test_a_malformed_manifest_is_one_line_and_nothing_is_written(capsys, seeded, case):
    text, says = MANIFESTS[case]
    (seeded / "manifest.json").write_text(text, encoding="utf-8")
    before = _tree(seeded)
    for cmd in (("status",), ("verify", *U), ("import", str(seeded.parent / "src"), *U)):
        code, _, err = run(capsys, "data", *cmd, "--cache-dir", str(seeded))
        _one_line(code, err, str(seeded / "manifest.json"), says, "restore manifest.json")
    assert _tree(seeded) == before


def test_a_deleted_manifest_is_reported_and_its_files_are_quarantined_not_deleted(
    capsys, seeded, tmp_path
):
    bars = {p.name: p.read_bytes() for p in (seeded / "bars").iterdir()}
    (seeded / "manifest.json").unlink()
    before = _tree(seeded)
    code, out, err = run(capsys, "data", "status", "--cache-dir", str(seeded))
    lines = err.strip().splitlines()
    assert code == 1 and "(0 series)" in out and "Traceback" not in err
    assert lines[-1].startswith("mib: error: ") and "2 price file(s) in bars/" in lines[-1]
    assert "manifest.json is missing (AMD, NVDA)" in lines[-1] and "quarantine/" in lines[-1]
    assert _tree(seeded) == before
    # The next import of another file keeps every byte of the two series, and says so.
    _csv(tmp_path / "spy", "SPY.csv", [400, 401, 402, 403, 404])
    code, out, err = run(
        capsys, "data", "import", str(tmp_path / "spy"), "--cache-dir", str(seeded), *U
    )
    assert code == 0 and "imported 1 series" in out, err
    assert "mib: warning:" in err and "moved 2 file(s) no cache manifest named" in err
    moved = {p.name: p.read_bytes() for p in (seeded / "quarantine").rglob("*.parquet")}
    assert moved == bars  # data lost: none
    code, out, err = run(capsys, "data", "status", "--cache-dir", str(seeded))
    assert code == 0 and "(1 series)" in out and "holds 2 file(s)" in err


def test_fetch_says_in_one_warning_line_what_it_moved_to_quarantine(capsys, seeded, monkeypatch):
    import yfinance as yf

    bars = {p.name: p.read_bytes() for p in (seeded / "bars").iterdir()}
    (seeded / "manifest.json").unlink()
    frame = _yahoo_frame(DAYS, [100.0, 101.0, 102.0, 103.0, 104.0])
    monkeypatch.setattr(yf, "download", lambda tickers, **kw: frame)
    code, out, err = run(capsys, "data", "fetch", "NVDA", "--cache-dir", str(seeded), *U)
    assert code == 0 and "cached 1 series" in out, err
    warned = [ln for ln in err.splitlines() if ln.startswith("mib: warning: ")]
    assert len(warned) == 1 and "moved 2 file(s) no cache manifest named" in warned[0]
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in (seeded / "quarantine").rglob("*.parquet")} == bars


# ---------------------------------------------------------------- 3. number conventions

NUMBERS = {
    # case: (file text, line, value, hint, format that reads it, closes it gives)
    "decimal_comma": (
        'Date,Close\n2024-03-04,4\n2024-03-05,"3,98"\n',
        3,
        "3,98",
        "--decimal ,",
        NumberFormat(decimal=","),
        [4.0, 3.98],
    ),
    "thousands": (
        'Date,Close\n2024-03-04,"1,234.50"\n2024-03-05,1240\n',
        2,
        "1,234.50",
        "--thousands ,",
        NumberFormat(thousands=","),
        [1234.5, 1240.0],
    ),
    "ambiguous": (
        'Date,Close\n2024-03-04,"3,980"\n',
        2,
        "3,980",
        "--decimal ,",
        NumberFormat(thousands=","),
        [3980.0],
    ),
    "euro_semicolons": (
        "Date;Close\n2024-03-04;1.003,98\n2024-03-05;3,98\n",
        2,
        "1.003,98",
        "--decimal , --thousands .",
        NumberFormat(decimal=",", thousands="."),
        [1003.98, 3.98],
    ),
    "unquoted_separator": (
        "Date,Close\n2024-03-04,10\n2024-03-05,1,234.50\n",
        3,
        "2024-03-05,1,234.50",
        "3 cells on a line under a header of 2",
        None,
        None,
    ),
}


@pytest.mark.parametrize("case", list(NUMBERS))
def test_decimal_commas_and_separators_are_refused_naming_the_cell(capsys, tmp_path, case):
    text, line, value, hint, fmt, closes = NUMBERS[case]
    d = tmp_path / "px"
    d.mkdir()
    (d / "NVDA.csv").write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    code, out, err = run(capsys, "data", "verify", "NVDA", "--prices-dir", str(d), *U)
    _one_line(code, err, f"{d / 'NVDA.csv'}:{line}:", f"(got {value!r}", hint)
    code, _, err = run(capsys, "data", "import", str(d), "--cache-dir", str(cache), *U)
    _one_line(code, err, f"NVDA.csv:{line}:", f"(got {value!r}")
    assert _tree(cache) == {}  # nothing was written
    if fmt is not None:
        raw = read_price_csv(d / "NVDA.csv", "NVDA", numbers=fmt)
        assert list(raw.bars["close"]) == closes and "numbers read with" in raw.meta.origin
        opts = [x for part in hint.split(" --") for x in ("--" + part.lstrip("-")).split(" ")]
        code, out, err = run(capsys, "data", "verify", "NVDA", "--prices-dir", str(d), *opts, *U)
        assert code == 0 and out.startswith("1 series checked"), err


# ---------------------------------------------------------------- 4. no absurd value gets in

# 2024-03-04..12 then a day after today; 12 -> 1200 is a x100 level shift
BAD_CLOSES = ["10", "inf", "1e308", "0", "-5", "12", "1200", "13"]
BAD_DAYS = [*DAYS, "2024-03-11", "2024-03-12", "2099-01-02"]


def _yahoo_frame(days: list[str], closes: list[float]) -> pd.DataFrame:
    idx = pd.DatetimeIndex(days, name="Date")
    cols = pd.MultiIndex.from_product(
        [["Close", "High", "Low", "Open", "Volume"], ["NVDA"]], names=["Price", "Ticker"]
    )
    c = np.array(closes, dtype=float)
    return pd.DataFrame(
        np.column_stack([c, c, c, c, np.full(len(c), 1e6)]), index=idx, columns=cols
    )


@pytest.mark.parametrize("source", ["csv", "cache", "yahoo"])
def test_non_finite_non_positive_future_and_shifted_values_never_reach_a_panel_silently(
    tmp_path, universe, monkeypatch, source
):
    closes = BAD_CLOSES
    if source == "csv":
        _csv(tmp_path / "px", "NVDA.csv", closes, BAD_DAYS)
        panel = load_prices("csv", ["NVDA"], universe=universe, prices_dir=tmp_path / "px")
    elif source == "cache":
        # A cache written before the checks existed: the bars hold the values as they were.
        from backtest.market import SeriesMeta, frame_hash
        from backtest.market.types import RawSeries

        bars = pd.DataFrame(
            {"close": [float(c) for c in closes]}, index=pd.DatetimeIndex(BAD_DAYS, name="date")
        )
        meta = SeriesMeta(
            "NVDA",
            "csv",
            "unknown",
            origin="old",
            rows=len(bars),
            first=BAD_DAYS[0],
            last=BAD_DAYS[-1],
            content_hash=frame_hash(bars),
        )
        PriceCache.open(tmp_path / "c").write({"NVDA": RawSeries(bars=bars, meta=meta)})
        panel = load_prices("cache", ["NVDA"], universe=universe, cache_dir=tmp_path / "c")
    else:
        import yfinance as yf

        frame = _yahoo_frame(BAD_DAYS, [float(c) for c in closes])
        monkeypatch.setattr(yf, "download", lambda tickers, **kw: frame)
        panel = load_prices("yahoo", ["NVDA"], universe=universe, cache_dir=tmp_path / "c")
        # what was cached was screened too
        assert PriceCache.open(tmp_path / "c").entries()["NVDA"].meta.rows == 3
    close = panel.bars["NVDA"]["close"]
    assert list(close) == [10.0, 12.0, 1200.0]  # nothing absurd is kept
    assert close.index.max() < pd.Timestamp("2099-01-01")
    found = verify(panel, universe).frame
    errors = found[found["severity"] == "error"]
    got = {(r.date, r.check) for r in errors.itertuples()}
    assert {
        ("2024-03-05", "non_finite"),
        ("2024-03-06", "non_finite"),
        ("2024-03-07", "non_positive"),
        ("2024-03-08", "non_positive"),
        ("2099-01-02", "future_date"),
        ("2024-03-12", "level_shift"),
    } <= got
    assert any(n.startswith("[level_shift:error] NVDA 2024-03-12") for n in panel.notes)
    if source == "csv":
        detail = errors.set_index(["date", "check"]).loc[("2024-03-07", "non_positive"), "detail"]
        assert detail == "NVDA.csv:5 Close '0': expected a price > 0; row dropped"


# ---------------------------------------------------------------- 5. a stalled network


@pytest.fixture
def stalled_proxy():
    """An HTTP proxy on 127.0.0.1 that accepts connections and never answers."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(32)
    srv.settimeout(0.05)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}", conns
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()
    # The abandoned download now fails at once (connection closed); let it finish here.
    for th in threading.enumerate():
        if th.name == "mib-yahoo-download":
            th.join(20)


@pytest.mark.parametrize("via", ["api", "cli"])
def test_a_network_that_never_answers_is_unreachable_within_the_deadline(
    capsys, tmp_path, monkeypatch, stalled_proxy, via
):
    proxy, conns = stalled_proxy
    cache = tmp_path / "cache"
    t0 = time.monotonic()
    if via == "api":
        with pytest.raises(DataSourceUnavailable) as exc:
            YahooSource(timeout=1.5, proxy=proxy).fetch(["NVDA"])
        line = str(exc.value)
    else:
        from backtest.market import yahoo

        real = yahoo._new_session
        monkeypatch.setattr(yahoo, "_new_session", lambda _proxy: real(proxy))
        code, _, err = run(
            capsys, "data", "fetch", "NVDA", "--timeout", "1.5", "--cache-dir", str(cache), *U
        )
        line = _one_line(code, err)
    elapsed = time.monotonic() - t0
    assert elapsed < 12, elapsed  # the deadline, not 3 retries x 30 s timeouts
    assert "unreachable" in line and "within 1.5 s" in line
    assert "--demo" in line and "--prices-dir" in line
    assert conns, "the stalled proxy on 127.0.0.1 saw no connection"
    assert _tree(cache) == {}


# ---------------------------------------------------------------- 6. environment faults


def _read_only(monkeypatch, root: Path) -> None:
    """Make writes under ``root`` fail with EROFS, as on a read-only mount (root ignores chmod)."""
    real_open, real_mkdir = os.open, os.mkdir
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def inside(path) -> bool:
        return str(Path(os.fsdecode(path)).absolute()).startswith(str(root.absolute()))

    def fail(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def ro_open(path, flags, *a, **kw):
        if flags & writes and inside(path):
            fail(path)
        return real_open(path, flags, *a, **kw)

    def ro_mkdir(path, *a, **kw):
        if inside(path):
            fail(path)
        return real_mkdir(path, *a, **kw)

    def ro_change(real):
        def changed(src, *a, **kw):
            if inside(src):
                fail(src)
            return real(src, *a, **kw)

        return changed

    monkeypatch.setattr(os, "open", ro_open)
    monkeypatch.setattr(os, "mkdir", ro_mkdir)
    for name in ("replace", "rename", "unlink", "remove", "rmdir"):
        monkeypatch.setattr(os, name, ro_change(getattr(os, name)))
    root.chmod(0o555)


def _disk_full_at(stage: str):
    def make(monkeypatch) -> None:
        from backtest.market import cache as cache_mod

        real = cache_mod.atomic_write

        def full(target, write):
            if stage in target.name:

                def partial(tmp):
                    write(tmp)
                    tmp.write_bytes(tmp.read_bytes()[:40])
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

                return real(target, partial)
            return real(target, write)

        monkeypatch.setattr(cache_mod, "atomic_write", full)

    return make


def _out_of_memory(monkeypatch) -> None:
    from backtest.market import csvsource

    def oom(spec):
        raise MemoryError

    monkeypatch.setattr(csvsource, "_read_rows", oom)


ENVIRONMENT = {
    # case: (set up, command, what the line names)
    "read_only_cache": (
        lambda mp, c: _read_only(mp, c),
        "import",
        ("read-only file system", "--cache-dir or MIB_CACHE_DIR"),
    ),
    "cache_dir_env_is_a_file": (None, "status", ("is a file, not a directory", "$MIB_CACHE_DIR")),
    "cache_dir_env_is_a_file_import": (None, "import", ("is a file, not a directory",)),
    "cache_dir_env_is_a_file_verify": (None, "verify", ("is a file, not a directory",)),
    "disk_full_parquet": (
        lambda mp, c: _disk_full_at("NVDA-")(mp),
        "import",
        ("no space left on the device", "free space there"),
    ),
    "disk_full_manifest": (
        lambda mp, c: _disk_full_at("manifest")(mp),
        "import",
        ("no space left on the device", "nothing stored was changed"),
    ),
    "disk_full_journal": (
        lambda mp, c: _disk_full_at("journal")(mp),
        "import",
        ("no space left on the device",),
    ),
    "out_of_memory_import": (
        lambda mp, c: _out_of_memory(mp),
        "import",
        ("out of memory reading this", "split it by date"),
    ),
    "out_of_memory_verify": (
        lambda mp, c: _out_of_memory(mp),
        "verify-csv",
        ("out of memory reading this", "NVDA.csv"),
    ),
}


@pytest.mark.parametrize("case", list(ENVIRONMENT))
def test_environment_faults_end_in_one_line_with_the_cache_intact(
    capsys, seeded, tmp_path, monkeypatch, case
):
    setup, cmd, needles = ENVIRONMENT[case]
    newer = tmp_path / "newer"
    _csv(newer, "NVDA.csv", [20, 21, 22, 23, 24])
    where = ["--cache-dir", str(seeded)]
    watched = seeded
    if case.startswith("cache_dir_env_is_a_file"):
        watched = tmp_path / "not-a-dir"
        watched.write_text("a file\n", encoding="utf-8")
        monkeypatch.setenv("MIB_CACHE_DIR", str(watched))
        where = []
    before = _tree(watched)
    if setup is not None:
        setup(monkeypatch, seeded)
    args = {
        "import": ("import", str(newer)),
        "status": ("status",),
        "verify": ("verify",),
        "verify-csv": ("verify", "NVDA", "--prices-dir", str(newer)),
    }[cmd]
    code, _, err = run(capsys, "data", *args, *where, *(U if cmd != "status" else ()))
    named = str(newer / "NVDA.csv") if "memory" in case else str(watched)
    _one_line(code, err, named, *needles)
    monkeypatch.undo()
    if watched.is_dir():
        watched.chmod(0o755)
    assert _tree(watched) == before  # nothing stored changed
    if watched == seeded:
        back = load_prices("cache", ["NVDA"], universe=load_universe(UNIVERSE), cache_dir=seeded)
        assert list(back.bars["NVDA"]["close"]) == [10, 11, 12, 13, 14]


# ---------------------------------------------------------------- 7. smaller faults


def _link_loop(d: Path) -> None:
    d.mkdir()
    (d / "NVDA.csv").symlink_to("NVDA.csv")


def _broken_link(d: Path) -> None:
    d.mkdir()
    (d / "NVDA.csv").symlink_to(d / "gone.csv")


def _directory(d: Path) -> None:
    (d / "NVDA.csv").mkdir(parents=True)


SMALL_ERRORS = {
    "symlink_loop": (_link_loop, "symbolic link loop"),
    "broken_symlink": (_broken_link, "broken symbolic link to"),
    "directory_named_like_a_file": (_directory, "a directory, not a price file"),
    "several_case_matches": (
        lambda d: (_csv(d, "nvda.csv", [1] * 5), _csv(d, "Nvda.csv", [1] * 5)),
        "several files match NVDA ignoring case",
    ),
}


@pytest.mark.parametrize("case", list(SMALL_ERRORS))
def test_unreadable_price_files_are_named_not_reported_missing(capsys, tmp_path, case):
    make, says = SMALL_ERRORS[case]
    d = tmp_path / "px"
    make(d)
    cache = tmp_path / "cache"
    code, _, err = run(capsys, "data", "verify", "NVDA", "--prices-dir", str(d), *U)
    _one_line(code, err, str(d), says)
    code, _, err = run(capsys, "data", "import", str(d), "--cache-dir", str(cache), *U)
    _one_line(code, err, str(d), says)
    assert _tree(cache) == {}


SMALL_FINDINGS = {
    # case: (files, symbol, check, severity, detail starts with)
    "name_differs_in_case": (
        {"NVDA.csv": [1, 2, 3, 4, 5], "amd.csv": [5, 4, 3, 2, 1]},
        "AMD",
        "file_name_case",
        "warning",
        "amd.csv was read as AMD",
    ),
    "rows_after_today": (
        {"NVDA.csv": [1, 2, 3, 4, 5, 6]},
        "NVDA",
        "future_date",
        "error",
        "NVDA.csv:7 date 2099-01-02 is after today",
    ),
}


@pytest.mark.parametrize("case", list(SMALL_FINDINGS))
def test_files_kept_with_a_finding_after_import(capsys, tmp_path, case):
    files, sym, check, severity, detail = SMALL_FINDINGS[case]
    d = tmp_path / "px"
    for name, closes in files.items():
        _csv(d, name, closes, [*DAYS, "2099-01-02"][: len(closes)])
    cache = tmp_path / "cache"
    code, out, err = run(capsys, "data", "import", str(d), "--cache-dir", str(cache), *U)
    assert code == 0, err
    assert f"imported {len(files)} series" in out
    code, out, err = run(capsys, "data", "verify", "--cache-dir", str(cache), "--format", "csv", *U)
    assert code == 0, err
    rows = pd.read_csv(pd.io.common.StringIO(out), dtype=str, keep_default_na=False)
    hit = rows[(rows["symbol"] == sym) & (rows["check"] == check)]
    assert len(hit) == 1 and hit.iloc[0]["severity"] == severity
    assert hit.iloc[0]["detail"].startswith(detail)
    entry = PriceCache.open(cache).entries()[sym]
    assert entry.meta.last < "2099" and entry.meta.rows == 5


@pytest.mark.parametrize("command", ["status", "verify"])
def test_an_empty_cache_says_so_and_how_to_check_csv_files(capsys, tmp_path, command):
    cache = tmp_path / "cache"
    code, out, err = run(
        capsys, "data", command, "--cache-dir", str(cache), *(U if command == "verify" else ())
    )
    hint = "mib data verify --prices-dir DIR"
    if command == "status":
        assert code == 0 and "(0 series)" in out and "the cache is empty" in err and hint in err
    else:
        _one_line(code, err, str(cache), "the price cache is empty", hint)
    assert not cache.exists()


# ---------------------------------------------------------------- kill during write

WRITER = r"""
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


@pytest.mark.slow
def test_writers_killed_at_random_moments_leave_a_complete_cache(seeded, tmp_path, universe):
    import random

    rng = random.Random(3)
    a = _csv(tmp_path / "a", "NVDA.csv", [1, 2, 3, 4, 5])
    b = _csv(tmp_path / "b", "NVDA.csv", [6, 7, 8, 9, 10])
    amd = _csv(tmp_path / "c", "AMD.csv", [3, 3, 4, 4, 5])
    versions = ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [10, 11, 12, 13, 14])
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(seeded), str(a), str(b), str(amd)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)  # reaps it and closes the pipes
        assert proc.returncode == -signal.SIGKILL
        state = PriceCache.open(seeded).inspect()
        assert state.unaccounted == ()  # only journal-listed or temp debris
        back = load_prices("cache", universe=universe, cache_dir=seeded)  # hashes verified
        assert list(back.bars["NVDA"]["close"]) in versions
    PriceCache.open(seeded).write({"NVDA": read_price_csv(a, "NVDA")})
    state = PriceCache.open(seeded).inspect()
    assert state.debris == () and state.unaccounted == () and state.quarantined == ()
