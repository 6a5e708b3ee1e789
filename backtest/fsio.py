"""The one atomic file writer: a file is replaced whole or not at all.

:func:`atomic_write` writes a hidden temporary sibling ``.<name>.XXXXXXXX.tmp``
(created with ``O_EXCL`` and mode ``0666 & ~umask``), fsyncs it, gives it the
mode of the file it replaces (a read-only or group-writable log stays so),
renames it over the target with ``os.replace`` and fsyncs the directory so the
rename itself survives a power cut.  Any exception before the rename (a full
disk, an error inside a writer callback, an interrupt) removes the temporary
file and leaves the target exactly as it was.  A process killed in between
leaves only the temporary file; :func:`temp_pattern` names such files so their
owner can delete them under its lock.

Bytes are written as given: line endings and encoding are the caller's.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

Writer = Callable[[Path], object]
"""A callback that writes the whole content to the path it is given (a temporary file)."""

TEMP_SUFFIX = ".tmp"
_TEMP_TOKEN_CHARS = 8  # hex characters between ".<name>." and ".tmp"


def temp_pattern(path: Path) -> re.Pattern[str]:
    """Names of the temporary files :func:`atomic_write` creates beside ``path``."""
    return re.compile(
        re.escape(f".{path.name}.")
        + rf"[A-Za-z0-9_]{{{_TEMP_TOKEN_CHARS}}}"
        + re.escape(TEMP_SUFFIX)
    )


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames, creations) to disk, where the OS allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _new_temp(path: Path) -> Path:
    """Create an empty, unique temporary sibling of ``path`` (mode ``0666 & ~umask``)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(_TEMP_TOKEN_CHARS // 2)}{TEMP_SUFFIX}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


def _kept_mode(path: Path) -> int | None:
    """The permission bits of the file ``path`` names, or None when there is none."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def atomic_write(path: Path, data: bytes | Writer) -> None:
    """Replace ``path`` by ``data`` (bytes, or a :data:`Writer` filling a temp path) at once.

    The parent directory must exist.  A new file gets mode ``0666 & ~umask``; a
    replaced file keeps its mode.  On any exception the temporary file is removed
    and ``path`` is untouched; the exception propagates.
    """
    tmp = _new_temp(path)
    try:
        if isinstance(data, bytes):
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            data(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        mode = _kept_mode(path)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
