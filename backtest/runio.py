"""Run folders: write tables and provenance, and load a run back for notebooks.

A run folder ``reports/<run-id>/`` holds ``run.json`` (provenance), ``tables/``
(every table as parquet and CSV, same stem) and the reports.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.errors import InputFileError

if TYPE_CHECKING:
    import pandas as pd


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tidy_for_disk(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns parquet and CSV both accept: objects holding mixed values become strings."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            sample = out[col].dropna()
            if len(sample) and not all(isinstance(v, str) for v in sample):
                out[col] = out[col].map(lambda v: v if v is None else str(v))
    return out


def write_table(run_dir: Path, name: str, frame: pd.DataFrame) -> None:
    """Write ``tables/<name>.parquet`` and ``tables/<name>.csv``."""
    tables = run_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    tidy = _tidy_for_disk(frame.reset_index(drop=True))
    tidy.to_parquet(tables / f"{name}.parquet", index=False)
    tidy.to_csv(tables / f"{name}.csv", index=False)


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``run.json`` atomically (sorted keys, readable indentation)."""
    data = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()
    _atomic_write_bytes(run_dir / "run.json", data)


@dataclass(frozen=True)
class Run:
    """A finished run loaded back from its folder."""

    path: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]

    def table(self, name: str) -> pd.DataFrame:
        """One table by name; an empty frame if the run did not produce it."""
        import pandas as pd

        return self.tables.get(name, pd.DataFrame())

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest.get("data", {}).get("synthetic", False))


def load_run(path: str | Path) -> Run:
    """Load ``run.json`` and every ``tables/*.parquet`` of a run folder."""
    import pandas as pd

    root = Path(path)
    manifest_path = root / "run.json"
    if not manifest_path.exists():
        raise InputFileError("not a run folder: run.json is missing", file=root,
                             expected="a folder written by 'mib run'")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(f"malformed JSON: {exc.msg}", file=manifest_path,
                             line=exc.lineno) from None
    tables = {p.stem: pd.read_parquet(p) for p in sorted((root / "tables").glob("*.parquet"))}
    return Run(path=root, manifest=manifest, tables=tables)
