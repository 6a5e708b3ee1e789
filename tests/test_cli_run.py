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


def _entry(tmp_path, *args):
    """``mib ARGS`` through the console script's :func:`entry`, in a fresh interpreter
    that registers an exit handler and keeps a global whose ``__del__`` only the
    interpreter's own teardown would call; each leaves a file when it runs."""
    code = (
        "import atexit, pathlib, sys\n"
        f"out = pathlib.Path({str(tmp_path)!r})\n"
        "atexit.register(lambda: (out / 'atexit').write_text('ran'))\n"
        "class Teardown:\n"
        "    def __del__(self):\n"
        "        (out / 'teardown').write_text('ran')\n"
        "keep = Teardown()\n"
        f"sys.argv = ['mib', *{list(args)!r}]\n"
        "from backtest.cli.main import entry\n"
        "entry()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_console_script_ends_promptly_with_mains_status_and_output(tmp_path):
    done = _entry(tmp_path, "--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"mib {__version__}")
    # exit handlers ran (logging, multiprocessing, the user's own) ...
    assert (tmp_path / "atexit").read_text() == "ran"
    # ... but not the interpreter's teardown, which a run would spend about 1 s in
    assert not (tmp_path / "teardown").exists()
    bad = _entry(tmp_path, "run", "--bogus")
    assert bad.returncode == 2
    assert bad.stderr.startswith("mib: error: No such option: --bogus")


def test_the_installed_script_and_module_call_entry():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mib"] == "backtest.cli.main:entry"
    assert "entry()" in (root / "backtest" / "__main__.py").read_text()


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), ("boom", 1)])
def test_exit_status_is_pythons(code, status, capsys):
    from backtest.cli.main import exit_status

    assert exit_status(code) == status
    assert capsys.readouterr().err == ("boom\n" if code == "boom" else "")


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
