"""Run folders: write tables and provenance, and load a run back for notebooks.

A run folder ``reports/<run-id>/`` holds ``run.json`` (provenance and the list of
table files with their SHA-256), ``tables/`` (every table as parquet and CSV, same
stem) and the reports.

Outputs are all-or-nothing: :func:`check_output_folder` runs before any
computation (the folder can be created, is writable, has room), and
:func:`staged_folder` writes into a hidden folder beside the target that is
renamed into place only once everything is written; a failure (disk full,
interrupt) removes it and leaves the target exactly as it was.  Every file is
created with mode ``0666 & ~umask`` and every folder with ``0777 & ~umask``.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import json
import os
import platform
import secrets
import shutil
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from backtest.errors import InputFileError, MibError
from backtest.fsio import atomic_write

if TYPE_CHECKING:
    import pandas as pd

    from backtest.api.catalog import Catalog
    from backtest.api.runs import RunBacktest
    from backtest.study.results import StudyResult

MB = 1_000_000


class OutputError(MibError):
    """An output folder cannot be written: not a folder, read-only, or out of space."""


class UnverifiedRunWarning(UserWarning):
    """A run folder whose ``run.json`` lists no table hashes (written by an older mib).

    Its tables are loaded unchecked: a missing or damaged table is not detected.
    Rerun the pipeline to get a run folder that can be verified.
    """


def write_file(path: Path, data: bytes) -> str:
    """Create ``path`` (mode ``0666 & ~umask``), write ``data``; returns its SHA-256.

    The single writer of every output file: tests simulate a full disk here.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` at once (:func:`backtest.fsio.atomic_write`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


def _tidy_for_disk(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns parquet and CSV both accept: objects holding mixed values become strings."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            sample = out[col].dropna()
            if len(sample) and not all(isinstance(v, str) for v in sample):
                out[col] = out[col].map(lambda v: v if v is None else str(v))
    return out


@dataclass(frozen=True)
class EncodedTable:
    """A table's two files as bytes (:func:`encode_table`), ready to write; ``frame`` is
    the table they were made from (the writer checks it is still the one it is given)."""

    frame: pd.DataFrame
    parquet: bytes
    csv: bytes


def encode_table(frame: pd.DataFrame) -> EncodedTable:
    """The parquet and CSV bytes of ``frame`` (index dropped, mixed columns as text)."""
    tidy = _tidy_for_disk(frame.reset_index(drop=True))
    buf = io.BytesIO()
    tidy.to_parquet(buf, index=False)
    return EncodedTable(frame, buf.getvalue(), tidy.to_csv(index=False).encode("utf-8"))


def write_table(
    run_dir: Path, name: str, frame: pd.DataFrame, encoded: EncodedTable | None = None
) -> dict[str, str]:
    """Write ``tables/<name>.parquet`` and ``tables/<name>.csv`` (from ``encoded`` when it
    was made from this very frame).

    Returns each file's path relative to ``run_dir`` and its SHA-256.
    """
    tables = run_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    enc = encoded if encoded is not None and encoded.frame is frame else encode_table(frame)
    return {
        f"tables/{name}.parquet": write_file(tables / f"{name}.parquet", enc.parquet),
        f"tables/{name}.csv": write_file(tables / f"{name}.csv", enc.csv),
    }


RunKind = Literal["run", "study", "backtest", "intraday"]
"""What wrote a run folder: ``mib run``, ``mib study run``, ``mib backtest run``,
``mib intraday``."""

MANIFEST_HEADER: tuple[str, ...] = ("kind", "version", "created_at")
"""The keys every ``run.json`` starts from (:func:`manifest_header`); each kind adds its
own (``spec``; a whole run also ``specs``, ``log``, ``data``, ``method``...) and
:func:`write_run_folder` adds ``tables``."""


def manifest_header(kind: RunKind, now: dt.datetime | None = None) -> dict[str, str]:
    """The common head of ``run.json``: what wrote it, mib's version, when (UTC, seconds)."""
    from backtest import __version__

    when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return {"kind": kind, "version": __version__, "created_at": when.isoformat()}


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the numbers (``run.json``'s ``versions``)."""
    from importlib.metadata import PackageNotFoundError, version

    from backtest import __version__

    out = {"python": platform.python_version(), "mib": __version__}
    for name in (
        "numpy",
        "pandas",
        "scipy",
        "exchange-calendars",
        "vectorbt",
        "numba",
        "yfinance",
        "pydantic",
        "matplotlib",
        "weasyprint",
        "pypdf",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_manifest(run_dir: Path, manifest: Mapping[str, Any]) -> None:
    """Write ``run.json`` atomically (sorted keys, readable indentation)."""
    data = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()
    _atomic_write_bytes(run_dir / "run.json", data)


def file_list(hashes: Mapping[str, str]) -> list[dict[str, str]]:
    """``run.json``'s ``tables`` entry: every output file (relative path) and its SHA-256."""
    return [{"file": f, "sha256": h} for f, h in sorted(hashes.items())]


def write_run_folder(
    run_dir: Path,
    tables: Mapping[str, pd.DataFrame],
    manifest: Mapping[str, Any],
    encoded: Mapping[str, EncodedTable] | None = None,
) -> None:
    """Every table as parquet and CSV, then ``run.json`` listing them with their SHA-256.

    ``encoded``: tables already encoded (:func:`encode_table`) while the caller had
    time to spare.  ``run.json`` comes last: its presence marks a complete run.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, str] = {}
    done = encoded or {}
    for name, frame in sorted(tables.items()):
        hashes.update(write_table(run_dir, name, frame, done.get(name)))
    write_manifest(run_dir, {**manifest, "tables": file_list(hashes)})


# -- output folders: checked before computing, written all-or-nothing ------------------


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _probe_writable(folder: Path, field: str, target: Path) -> None:
    """Create and remove a hidden folder in ``folder``: the one sure test of writability."""
    probe = folder / f".mib-probe-{secrets.token_hex(6)}"
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as exc:
        raise OutputError(
            f"cannot write in {folder}: {exc.strerror}",
            field=field,
            value=str(target),
            expected="a folder you can write to",
        ) from None


def check_output_folder(
    target: str | Path,
    *,
    field: str = "--out",
    need_bytes: int = 16 * MB,
    what: str = "the outputs",
) -> None:
    """Raise :class:`OutputError` unless ``target`` can be written; call before computing.

    ``target`` may exist (a folder) or not (it is created, with its parents).  The
    nearest existing folder on its path must be writable, and so must ``target``
    itself if it exists; the file system must have ``need_bytes`` free.
    """
    target = Path(target)
    base = _existing_ancestor(target)
    if not base.is_dir():
        raise OutputError(
            "not a folder",
            field=field,
            value=str(base),
            expected="a folder, or a path where one can be created",
        )
    if base == target:  # an existing folder: written beside it, then moved in
        _probe_writable(_existing_ancestor(target.parent), field, target)
    check_writable_folder(base, field=field, need_bytes=need_bytes, what=what, shown=target)


def check_writable_folder(
    folder: Path, *, field: str, need_bytes: int, what: str, shown: Path | None = None
) -> None:
    """Raise :class:`OutputError` unless files can be created in ``folder`` and it has room."""
    _probe_writable(folder, field, shown or folder)
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise OutputError(
            "not enough free space",
            field=field,
            value=f"{free / MB:.1f} MB free in {folder}",
            expected=f"at least {need_bytes / MB:.0f} MB for {what}",
        )


def _new_hidden_dir(parent: Path, prefix: str) -> Path:
    while True:
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue


def _publish(stage: Path, target: Path, replace: bool) -> None:
    """Move a finished ``stage`` to ``target`` (renames only: no space needed)."""
    if not os.path.lexists(target):
        os.rename(stage, target)
        return
    if replace:  # the whole folder: nothing stale survives
        old = target.parent / f".{target.name}.old-{secrets.token_hex(6)}"
        os.rename(target, old)
        try:
            os.rename(stage, target)
        except OSError:
            os.rename(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    old = _new_hidden_dir(stage, ".replaced-")  # each entry at once; other files kept
    for entry in sorted(stage.iterdir()):
        if entry == old:
            continue
        dest = target / entry.name
        if os.path.lexists(dest):
            os.rename(dest, old / entry.name)
        os.rename(entry, dest)


@contextmanager
def staged_folder(target: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a hidden folder beside ``target`` to write into; move it into place on success.

    On any failure the hidden folder (and any parent this call created) is removed,
    so ``target`` is left exactly as it was: complete outputs or none.  An ``OSError``
    (disk full, permission) becomes one :class:`OutputError` line.  If ``target``
    exists, ``replace=True`` swaps the whole folder; otherwise each top-level entry
    written replaces its namesake and other files in ``target`` are kept.
    """
    target = Path(target)
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    stage: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = _new_hidden_dir(target.parent, f".{target.name}.partial-")
        yield stage
        _publish(stage, target, replace)
    except BaseException as exc:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        _remove_created(created)
        if isinstance(exc, OSError):
            code = errno.errorcode.get(exc.errno or 0, "")
            raise OutputError(
                f"writing the outputs failed: {exc.strerror or exc}"
                + (f" [{code}]" if code else "")
                + "; nothing was written, earlier outputs are untouched",
                file=target,
                expected="free disk space and write permission, then rerun",
            ) from exc
        raise
    if os.path.lexists(stage):  # merge mode: the emptied stage and the replaced entries
        shutil.rmtree(stage, ignore_errors=True)


def _remove_created(created: list[Path]) -> None:
    for p in created:  # innermost first
        try:
            p.rmdir()
        except OSError:
            break


# -- loading a run back ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A finished run loaded back from its folder (:func:`load_run`); reads only.

    path, manifest (``run.json``) and tables (every table by name) as loaded;
    ``study``, ``backtest``, ``catalog`` and ``coverage`` give them as result
    objects, built on each access from the tables (nothing is written).
    """

    path: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]

    def table(self, name: str) -> pd.DataFrame:
        """One table by name; an empty frame if the run did not produce it."""
        import pandas as pd

        return self.tables.get(name, pd.DataFrame())

    @property
    def synthetic(self) -> bool:
        """Whether the prices were simulated (``mib run --demo``)."""
        return bool(self.manifest.get("data", {}).get("synthetic", False))

    @property
    def study(self) -> StudyResult:
        """The event study as a :class:`StudyResult`, rebuilt from the tables."""
        from backtest.api.runs import study_from_run

        return study_from_run(self)

    @property
    def backtest(self) -> RunBacktest:
        """The backtest: metrics, trades, equity, robustness and ``plot()``."""
        from backtest.api.runs import backtest_from_run

        return backtest_from_run(self)

    @property
    def catalog(self) -> Catalog:
        """The event catalog at the run's log version."""
        from backtest.api.runs import catalog_of_run

        return catalog_of_run(self)

    @property
    def coverage(self) -> pd.DataFrame:
        """One row per security: data span, instances intended and used, why the rest were lost."""
        return self.table("coverage")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def listed_files(root: Path, manifest: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """The ``tables`` list of ``run.json`` (None for a run written before it existed)."""
    listed = manifest.get("tables")
    if listed is None:
        return None
    ok = isinstance(listed, list) and all(
        isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("sha256"), str)
        for e in listed
    )
    if not ok:
        raise InputFileError(
            "malformed table list",
            file=root / "run.json",
            field="tables",
            expected='a list of {"file": ..., "sha256": ...}',
        )
    checked: list[dict[str, str]] = listed
    return checked


def verify_run(root: Path, manifest: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """Check every file ``run.json`` lists is present with its recorded SHA-256.

    Raises :class:`InputFileError` naming the first missing or changed file (in the
    manifest's order); warns :class:`UnverifiedRunWarning` and returns None for a
    run folder written before table hashes were recorded.
    """
    listed = listed_files(root, manifest)
    if listed is None:
        warnings.warn(
            f"{root}: run.json lists no table hashes (written by an older mib); "
            "tables loaded unchecked, a missing or damaged table would go "
            "unnoticed; rerun to get a verifiable run folder",
            UnverifiedRunWarning,
            stacklevel=3,
        )
        return None
    for entry in listed:
        path = root / entry["file"]
        if not path.is_file():
            raise InputFileError(
                "table missing from the run folder",
                file=path,
                expected=f"the {len(listed)} files listed in run.json; the "
                "folder is damaged: restore it or rerun",
            )
        got = _sha256(path)
        if got != entry["sha256"]:
            raise InputFileError(
                "table changed since the run was written",
                file=path,
                value=f"sha256 {got[:16]}...",
                expected=f"sha256 {entry['sha256'][:16]}... recorded in "
                "run.json; restore it or rerun",
            )
    return listed


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError on damaged files
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputFileError(
            f"cannot read table: {first[:160]}",
            file=path,
            expected="a parquet file written by mib; restore it or rerun",
        ) from None


RUN_ENV = "MIB_RUN"
"""Environment variable naming the run folder :func:`load_run` loads when given no path."""


def load_run(path: str | Path | None = None) -> Run:
    """Load ``run.json`` and the tables of a run folder, checked against ``run.json``.

    Parameters
    ----------
    path:
        A run folder (``reports/<run-id>``); None = the folder in the ``MIB_RUN``
        environment variable.

    Returns
    -------
    Run
        ``.study``, ``.backtest``, ``.catalog``, ``.coverage``, ``.manifest``,
        ``.table(name)``.

    The tables are the parquet files ``run.json`` lists, each verified against its
    SHA-256 (:func:`verify_run`); a run folder without that list (older mib) loads
    every ``tables/*.parquet`` unchecked, with an :class:`UnverifiedRunWarning`.
    A missing or damaged folder is an :class:`InputFileError`.

    >>> import backtest
    >>> try:
    ...     backtest.load_run("no/such/folder")
    ... except backtest.MibError as err:
    ...     print(err)
    no/such/folder: not a run folder: run.json is missing (expected a folder written by 'mib run')
    """
    if path is None:
        path = os.environ.get(RUN_ENV, "")
        if not path:
            raise InputFileError(
                "no run folder given",
                field=RUN_ENV,
                expected="load_run(path) or the environment variable MIB_RUN=reports/<run-id> "
                "(mib run --demo writes one)",
            )
    root = Path(path)
    manifest_path = root / "run.json"
    if not manifest_path.is_file():
        raise InputFileError(
            "not a run folder: run.json is missing",
            file=root,
            expected="a folder written by 'mib run'",
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"malformed JSON: {exc.msg}", file=manifest_path, line=exc.lineno
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read run.json: {exc}", file=manifest_path) from None
    if not isinstance(manifest, dict):
        raise InputFileError("run.json is not a JSON object", file=manifest_path)
    listed = verify_run(root, manifest)
    files = (
        sorted((root / "tables").glob("*.parquet"))
        if listed is None
        else [root / e["file"] for e in listed if e["file"].endswith(".parquet")]
    )
    tables = {p.stem: _read_table(p) for p in files}
    return Run(path=root, manifest=manifest, tables=tables)
