"""The one atomic writer (backtest.fsio) and the three places that use it.

The event log, the price cache and run folders all replace files through
:func:`backtest.fsio.atomic_write`: the target keeps its mode, a failure leaves
no temporary file and the old content, an exception inside a writer callback
leaves no partial file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from backtest import fsio
from backtest.eventlog import yamlio
from backtest.market import cache
from backtest.runio import write_manifest

# Each caller as a function (path, bytes) -> None, so every rule is checked for all three.
WRITERS = {
    "fsio": fsio.atomic_write,
    "eventlog": yamlio.atomic_write,
    "cache": lambda p, data: cache.atomic_write(p, lambda tmp: tmp.write_bytes(data)),
}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("who", list(WRITERS))
def test_replacing_keeps_the_targets_mode_and_bytes(who, tmp_path):
    target = tmp_path / "log.yaml"
    target.write_bytes(b"old\r\n")
    target.chmod(0o640)
    WRITERS[who](target, b"a: 1\r\nb: 2\r\n")
    assert target.read_bytes() == b"a: 1\r\nb: 2\r\n"  # CRLF written as given
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("who", list(WRITERS))
def test_a_new_file_gets_0666_minus_umask(who, tmp_path):
    old = os.umask(0o022)
    try:
        WRITERS[who](tmp_path / "new.json", b"{}")
    finally:
        os.umask(old)
    # 0644, not mkstemp's private 0600: run folders and caches are shared like any file
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644


@pytest.mark.parametrize("who", list(WRITERS))
def test_a_failed_rename_leaves_the_old_file_and_no_temp(who, tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")

    def full_disk(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        WRITERS[who](target, b"new")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_an_exception_inside_the_writer_leaves_no_partial_file(tmp_path):
    target, fresh = tmp_path / "old.parquet", tmp_path / "fresh.parquet"
    target.write_bytes(b"complete")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"hal")
        raise KeyboardInterrupt  # BaseException too: an interrupt mid-write

    for path in (target, fresh):
        with pytest.raises(KeyboardInterrupt):
            fsio.atomic_write(path, half_then_fail)
    assert target.read_bytes() == b"complete"
    assert not fresh.exists()
    assert _leftovers(tmp_path) == []


def test_temp_files_match_the_pattern_the_event_log_cleans_up(tmp_path, monkeypatch):
    """A writer killed before the rename leaves ``.<name>.XXXXXXXX.tmp``, which the
    event log's :func:`remove_stale_temps` recognises and deletes."""
    target = tmp_path / "log.yaml"
    target.write_bytes(b"old")
    seen: list[str] = []

    def killed(src: str | os.PathLike[str], _dst: object) -> None:
        seen.append(Path(src).name)
        raise SystemExit("killed")

    monkeypatch.setattr(os, "replace", killed)
    monkeypatch.setattr(os, "unlink", lambda *_a, **_k: None)  # a kill runs no cleanup
    with pytest.raises(SystemExit):
        fsio.atomic_write(target, b"new")
    monkeypatch.undo()
    assert len(seen) == 1 and fsio.temp_pattern(target).fullmatch(seen[0])
    assert (tmp_path / seen[0]).exists()
    assert yamlio.remove_stale_temps(target) == [tmp_path / seen[0]]
    assert _leftovers(tmp_path) == [] and target.read_bytes() == b"old"


def test_run_json_is_replaced_whole_and_keeps_its_mode(tmp_path):
    write_manifest(tmp_path, {"kind": "run", "b": 1})
    (tmp_path / "run.json").chmod(0o644)
    write_manifest(tmp_path, {"kind": "run", "a": [1, 2]})
    text = (tmp_path / "run.json").read_text()
    assert text == '{\n  "a": [\n    1,\n    2\n  ],\n  "kind": "run"\n}'
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == 0o644
    assert _leftovers(tmp_path) == []
