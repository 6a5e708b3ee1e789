"""The local price cache: one parquet file per series plus a JSON manifest.

Layout of the cache directory::

    manifest.json                      symbol -> source, fetch time, basis, rows, range, hash, file
    bars/<SYMBOL>-<hash16>.parquet     content-addressed bars (never rewritten in place)
    .lock                              filelock held by writers

A write puts each new parquet file under a fresh name (temp file, fsync,
``os.replace``), then replaces ``manifest.json`` the same way, last.  A writer
killed at any point leaves the previous manifest and every file it names
byte-identical, so readers always see a complete, consistent cache.  Files no
manifest names (left by a killed writer or replaced by a newer version) are
removed by the next successful write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backtest.errors import DataError
from backtest.market.panel import SeriesMeta
from backtest.market.types import Issue, RawSeries

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
ENV_VAR = "MIB_CACHE_DIR"


class CacheError(DataError):
    """The cache is missing a series or is unreadable."""


def default_cache_dir() -> Path:
    """``$MIB_CACHE_DIR`` when set, else ``platformdirs.user_cache_dir('mib')``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("mib"))


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def _safe_name(symbol: str) -> str:
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in symbol)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Write ``target`` through a temp file in the same directory, fsync, then rename."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One manifest row."""

    meta: SeriesMeta
    file: str                      # relative to the cache root
    issues: tuple[Issue, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {**dataclasses.asdict(self.meta), "file": self.file,
                "issues": [dataclasses.asdict(i) for i in self.issues]}

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> CacheEntry:
        fields = {f.name for f in dataclasses.fields(SeriesMeta)}
        meta = SeriesMeta(**{k: v for k, v in d.items() if k in fields})  # type: ignore[arg-type]
        issues = tuple(Issue(**i) for i in d.get("issues", ()))  # type: ignore[union-attr,arg-type]
        return cls(meta=meta, file=str(d["file"]), issues=issues)


@dataclass(frozen=True)
class PriceCache:
    """A cache directory; cheap to construct, reads and writes on demand."""

    root: Path
    lock_timeout: float = 120.0

    @classmethod
    def open(cls, cache_dir: str | Path | None = None) -> PriceCache:
        return cls(resolve_cache_dir(cache_dir))

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def entries(self) -> dict[str, CacheEntry]:
        """The manifest, symbol -> entry ({} when the cache is empty)."""
        p = self.manifest_path
        if not p.exists():
            return {}
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
            return {s: CacheEntry.from_json(e) for s, e in raw["entries"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise CacheError(f"unreadable cache manifest: {exc}", file=p,
                             expected="a manifest written by mib; delete the cache "
                                      "directory to start afresh") from None

    def load(self, symbols: Iterable[str] | None = None) -> dict[str, RawSeries]:
        """The cached series for ``symbols`` (all when None); missing ones raise CacheError."""
        ent = self.entries()
        wanted = list(ent) if symbols is None else list(symbols)
        missing = [s for s in wanted if s not in ent]
        if missing:
            raise CacheError(f"not in the price cache: {', '.join(missing)}; run "
                             "'mib data fetch' or 'mib data import DIR' first",
                             file=self.manifest_path)
        return {s: RawSeries(bars=self._read_bars(ent[s]), meta=ent[s].meta,
                             issues=ent[s].issues) for s in wanted}

    def _read_bars(self, entry: CacheEntry) -> pd.DataFrame:
        import pyarrow.parquet as pq

        path = self.root / entry.file
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, ValueError) as exc:
            raise CacheError(f"unreadable cached series {entry.meta.symbol}: {exc}",
                             file=path) from None
        frame.index.name = "date"
        return frame

    def write(self, series: Mapping[str, RawSeries]) -> None:
        """Add or replace series; atomic with respect to the whole batch."""
        from filelock import FileLock, Timeout

        (self.root / "bars").mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"), timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout:
            raise CacheError(f"the cache is locked by another writer for over "
                             f"{self.lock_timeout:g} s", file=self.root / ".lock") from None
        try:
            entries = self.entries()
            for sym, raw in series.items():
                rel = f"bars/{_safe_name(sym)}-{raw.meta.content_hash[:16]}.parquet"
                if not (self.root / rel).exists():
                    atomic_write(self.root / rel, lambda tmp, b=raw.bars: _write_parquet(b, tmp))
                entries[sym] = CacheEntry(meta=raw.meta, file=rel, issues=raw.issues)
            self._write_manifest(entries)
            self._collect_garbage(entries)
        finally:
            lock.release()

    def _write_manifest(self, entries: Mapping[str, CacheEntry]) -> None:
        doc = {"version": MANIFEST_VERSION,
               "entries": {s: entries[s].to_json() for s in sorted(entries)}}
        text = json.dumps(doc, indent=1, ensure_ascii=False)
        atomic_write(self.manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _collect_garbage(self, entries: Mapping[str, CacheEntry]) -> None:
        keep = {e.file for e in entries.values()}
        for p in (self.root / "bars").iterdir():
            if f"bars/{p.name}" not in keep:
                p.unlink(missing_ok=True)
        for p in self.root.glob(f".{MANIFEST}.*.tmp"):
            p.unlink(missing_ok=True)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.astype("float64"), preserve_index=True)
    pq.write_table(table, path, compression="zstd")
