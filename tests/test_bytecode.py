"""mib keeps its own bytecode where Python writes none (backtest.bytecode)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from importlib.util import cache_from_source
from pathlib import Path

import pytest

from backtest import bytecode


@pytest.fixture
def package(tmp_path):
    """A two-module package ``pkgx`` under tmp_path, with no bytecode."""
    root = tmp_path / "pkgx"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("X = 1\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "mod.py").write_text("Y = 'one'\n")
    return root


@pytest.fixture
def no_bytecode(monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.delenv("MIB_NO_BYTECODE", raising=False)


def test_writes_each_missing_file_once_and_again_after_an_edit(package, no_bytecode):
    assert len(bytecode.outdated_sources(package)) == 3
    assert bytecode.keep_bytecode(package) == 3
    for src in package.rglob("*.py"):
        assert Path(cache_from_source(str(src))).is_file()
    assert bytecode.outdated_sources(package) == []
    assert bytecode.keep_bytecode(package) == 0
    mod = package / "sub" / "mod.py"
    mod.write_text("Y = 'two, longer'\n")  # another size: outdated whatever the clock says
    assert bytecode.outdated_sources(package) == [mod]
    assert bytecode.keep_bytecode(package) == 1


def test_python_imports_the_files_written(package, no_bytecode, monkeypatch):
    """The import system takes the written file as the module's bytecode: a source
    changed behind its back (same size, same timestamp) still imports the compiled
    value, which only a valid timestamp .pyc gives."""
    bytecode.keep_bytecode(package)
    mod = package / "sub" / "mod.py"
    st = mod.stat()
    mod.write_text("Y = 'two'\n")  # same length as "Y = 'one'\n"
    os.utime(mod, ns=(st.st_atime_ns, st.st_mtime_ns))
    monkeypatch.syspath_prepend(str(package.parent))
    importlib.invalidate_caches()
    try:
        assert importlib.import_module("pkgx.sub.mod").Y == "one"
    finally:
        for name in [m for m in sys.modules if m == "pkgx" or m.startswith("pkgx.")]:
            del sys.modules[name]


def test_nothing_is_written_when_python_writes_its_own_or_when_turned_off(package, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert bytecode.keep_bytecode(package) == 0
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("MIB_NO_BYTECODE", "1")
    assert bytecode.keep_bytecode(package) == 0
    assert len(bytecode.outdated_sources(package)) == 3


def test_a_file_that_cannot_be_written_is_skipped_quietly(package, no_bytecode, monkeypatch):
    """A read-only install (here: every write of the sub-package refused)."""
    import py_compile

    real = py_compile.compile

    def refuse(file, *args, **kwargs):
        if "sub" in Path(file).parts:
            raise PermissionError(13, "Permission denied", file)
        return real(file, *args, **kwargs)

    monkeypatch.setattr(py_compile, "compile", refuse)
    assert bytecode.keep_bytecode(package) == 1
    assert len(bytecode.outdated_sources(package)) == 2


def test_a_module_that_does_not_compile_is_skipped(package, no_bytecode):
    (package / "broken.py").write_text("def (:\n")
    assert bytecode.keep_bytecode(package) == 3
    assert bytecode.outdated_sources(package) == [package / "broken.py"]


def test_the_console_script_writes_the_packages_bytecode(tmp_path):
    """``mib --version`` through entry(), with PYTHONDONTWRITEBYTECODE set, leaves
    mib's bytecode current (the next command reads it)."""
    import backtest

    root = Path(backtest.__file__).resolve().parent
    gone = Path(cache_from_source(str(root / "__main__.py")))  # not imported by the command
    gone.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MIB_NO_BYTECODE", None)
    code = (
        "import sys; sys.argv = ['mib', '--version']\n"
        "from backtest.cli.main import entry\n"
        "entry()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0
    assert gone.is_file()
    assert bytecode.outdated_sources(root) == []
