"""`mib`, `mib run` and `mib report`: user mistakes are one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backtest import __version__
from backtest.cli.main import main

try:
    from cli_support import run_cli
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import run_cli


def _run(capsys, *args):
    return run_cli(capsys, *args)


def test_help_lists_the_command_groups_without_heavy_imports():
    code = (
        "import sys; from backtest.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'numba', 'vectorbt', 'scipy') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for group in ("run", "events", "data", "study", "backtest", "report"):
        assert f"  {group} " in out
    assert "HEAVY []" in out


def test_version(capsys):
    main(["--version"])  # returns normally: exit status 0
    assert capsys.readouterr().out.strip() == f"mib {__version__}"


@pytest.mark.parametrize(
    ("args", "needle", "status"),
    [
        (["run", "--bogus"], "No such option: --bogus", 2),
        (["run", "--prices-dir", "/nonexistent/prices"], "--prices-dir", 1),
        (["run", "--demo", "--window", "3:1"], "--window", 1),
        (["run", "--demo", "--window", "zero"], "START:END", 1),
        (["run", "--demo", "--prices-dir", "."], "choose one price source", 1),
        (["run", "--demo", "--hold", "0"], "hold", 1),
        (["report", "build", "/nonexistent/run"], "run.json is missing", 1),
    ],
)
def test_user_mistakes_are_one_line(capsys, args, needle, status):
    code, _, err = _run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == status
    assert len(lines) == 1 and lines[0].startswith("mib: error:") and needle in lines[0]
    assert "Traceback" not in err


def test_unreachable_yahoo_stops_with_the_offline_options(capsys, monkeypatch, tmp_path):
    import yfinance as yf

    def download(tickers, **kw):
        raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yf, "download", download)
    monkeypatch.setenv("MIB_CACHE_DIR", str(tmp_path / "cache"))
    code, _, err = _run(capsys, "run", "--out", str(tmp_path / "runs"))
    line = err.strip().splitlines()[-1]
    assert code == 1
    assert "--demo" in line and "--prices-dir" in line and "Traceback" not in err
    # Nothing was written: no synthetic fallback, no half-made run folder.
    assert not (tmp_path / "runs").exists()
