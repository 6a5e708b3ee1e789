"""The local price cache: one parquet file per series plus a JSON manifest.

Layout of the cache directory::

    manifest.json                      symbol -> source, fetch time, basis, rows, range, hash, file
    bars/<SYMBOL>-<hash16>.parquet     content-addressed bars (never rewritten in place)
    quarantine/<UTC time>/             files a write found but no manifest named (kept, not deleted)
    .journal.json                      the files a write in progress creates or replaces
    .lock                              filelock held by writers

A write lists the files it is about to create or replace in ``.journal.json``,
puts each new parquet file under a fresh name (temp file, fsync,
``os.replace``), then replaces ``manifest.json`` the same way, last, deletes
the replaced files and removes the journal.  A writer killed at any point
leaves the previous manifest and every file it names byte-identical, so readers
always see a complete, consistent cache; the next write removes the journal's
files that the manifest does not name, and temp files.  Nothing else is ever
deleted: a file in ``bars/`` that no manifest accounts for (a deleted or
older manifest) is moved to ``quarantine/`` with a :class:`CacheQuarantined`
warning, and ``mib data status`` reports it.

Every read checks the bars against the SHA-256 the manifest recorded
(:func:`~backtest.market.types.bars_hash`): a file edited in place is refused
with an error naming the series, both hashes and the fix.  Environment faults
(read-only cache, a file where the directory should be, a full disk) are
:class:`CacheError` lines naming the path and the fix; nothing stored changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from backtest import fsio
from backtest.errors import DataError
from backtest.market.panel import SeriesMeta
from backtest.market.types import Issue, RawSeries, bars_hash

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
JOURNAL = ".journal.json"
QUARANTINE = "quarantine"
ENV_VAR = "MIB_CACHE_DIR"
_BARS_FILE = re.compile(r"bars/[^/\\]+\.parquet")
_HASH = re.compile(r"[0-9a-f]{64}")
_META_REQUIRED = ("symbol", "source", "adjustment", "content_hash")
_MANIFEST_FIX = (
    "the manifest mib writes ({'version': 1, 'entries': {SYMBOL: {...}}}); nothing "
    "was changed: restore manifest.json from a backup, or move the cache folder "
    "aside and import again"
)
_ELSEWHERE = "choose another cache with --cache-dir or MIB_CACHE_DIR"


class CacheError(DataError):
    """The cache is missing a series, is unreadable, tampered with or cannot be written."""


class CacheQuarantined(UserWarning):
    """A write moved files no manifest named into ``quarantine/`` (nothing was deleted)."""


def default_cache_dir() -> Path:
    """``$MIB_CACHE_DIR`` when set, else ``platformdirs.user_cache_dir('mib')``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("mib"))


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def _named_by(cache_dir: str | Path | None) -> str:
    if cache_dir is not None:
        return "--cache-dir"
    return f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the default cache location"


def _safe_name(symbol: str) -> str:
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in symbol)


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Write ``target`` through ``write`` on a temp file in the same directory, fsync, rename.

    The one atomic writer (:func:`backtest.fsio.atomic_write`); kept as this module's
    name so every cache write goes through one point (tests simulate faults here).
    """
    fsio.atomic_write(target, write)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One manifest row."""

    meta: SeriesMeta
    file: str  # relative to the cache root
    issues: tuple[Issue, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            **dataclasses.asdict(self.meta),
            "file": self.file,
            "issues": [dataclasses.asdict(i) for i in self.issues],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> CacheEntry:
        """An entry from its manifest row; ValueError saying what is wrong when malformed."""
        if not isinstance(d, Mapping):
            raise ValueError(f"is {_kind(d)}, not an object")
        missing = [k for k in (*_META_REQUIRED, "file") if k not in d]
        if missing:
            raise ValueError(f"has no {', '.join(map(repr, missing))}")
        if not isinstance(d["file"], str) or not _BARS_FILE.fullmatch(d["file"]):
            raise ValueError(f"names the file {d['file']!r}, not bars/<name>.parquet")
        if not isinstance(d["content_hash"], str) or not _HASH.fullmatch(d["content_hash"]):
            raise ValueError(f"has the content hash {d['content_hash']!r}, not 64 hex digits")
        issues = d.get("issues", [])
        if not isinstance(issues, list) or not all(isinstance(i, dict) for i in issues):
            raise ValueError("has 'issues' that are not a list of objects")
        fields = {f.name for f in dataclasses.fields(SeriesMeta)}
        try:
            meta = SeriesMeta(**{k: v for k, v in d.items() if k in fields})  # type: ignore[arg-type]
            found = tuple(Issue(**i) for i in issues)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        return cls(meta=meta, file=d["file"], issues=found)


def _kind(value: object) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


@dataclass(frozen=True, slots=True)
class CacheState:
    """What is in a cache directory, for ``mib data status``."""

    entries: Mapping[str, CacheEntry]
    unaccounted: tuple[str, ...]  # files in bars/ no manifest names (moved aside on write)
    debris: tuple[str, ...]  # temp and journal-listed files of an interrupted write
    quarantined: tuple[str, ...]  # files under quarantine/


@dataclass(frozen=True)
class PriceCache:
    """A cache directory; cheap to construct, reads and writes on demand.

    ``named_by`` says where the location came from, for messages.
    """

    root: Path
    lock_timeout: float = 120.0
    named_by: str = "--cache-dir"

    @classmethod
    def open(cls, cache_dir: str | Path | None = None) -> PriceCache:
        return cls(resolve_cache_dir(cache_dir), named_by=_named_by(cache_dir))

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def _check_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise CacheError(
                f"the price cache location is a file, not a directory (set by {self.named_by})",
                file=self.root,
                expected="a directory: point --cache-dir or MIB_CACHE_DIR at a "
                "folder (it is created when missing)",
            )

    def entries(self) -> dict[str, CacheEntry]:
        """The manifest, symbol -> entry ({} when the cache is empty)."""
        self._check_root()
        p = self.manifest_path
        if not p.exists():
            return {}
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise CacheError(
                f"unreadable cache manifest: {why}", file=p, expected=_MANIFEST_FIX
            ) from None
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise CacheError(
                f"unreadable cache manifest: {exc}", file=p, expected=_MANIFEST_FIX
            ) from None
        return _parse_manifest(raw, p)

    def load(self, symbols: Iterable[str] | None = None) -> dict[str, RawSeries]:
        """The cached series for ``symbols`` (all when None); missing ones raise CacheError.

        Each series is checked against its recorded content hash; every series
        that fails is named in one error.
        """
        ent = self.entries()
        wanted = list(ent) if symbols is None else list(symbols)
        missing = [s for s in wanted if s not in ent]
        if missing:
            raise CacheError(
                f"not in the price cache: {', '.join(missing)}; run "
                "'mib data fetch' or 'mib data import DIR' first",
                file=self.manifest_path,
            )
        out: dict[str, RawSeries] = {}
        failed: list[CacheError] = []
        for s in wanted:
            try:
                out[s] = RawSeries(
                    bars=self._read_bars(ent[s]), meta=ent[s].meta, issues=ent[s].issues
                )
            except CacheError as exc:
                failed.append(exc)
        if failed:
            first = failed[0]
            more = [str(e.field) for e in failed[1:]]
            raise CacheError(
                first.message + (f"; also failing: {', '.join(more)}" if more else ""),
                file=first.file,
                field=first.field,
                expected=first.expected,
            )
        return out

    def _read_bars(self, entry: CacheEntry) -> pd.DataFrame:
        import pyarrow.parquet as pq

        sym = entry.meta.symbol
        path = self.root / entry.file
        fix = _fix_for(entry)
        try:
            frame = pq.read_table(path).to_pandas()
        except FileNotFoundError:
            raise CacheError(
                "the parquet file the manifest names is missing", file=path, field=sym, expected=fix
            ) from None
        except (OSError, ValueError) as exc:
            raise CacheError(
                f"unreadable cached series: {str(exc).splitlines()[0]}",
                file=path,
                field=sym,
                expected=fix,
            ) from None
        except MemoryError:
            raise CacheError(
                "out of memory reading the cached series",
                file=path,
                field=sym,
                expected="more free memory",
            ) from None
        frame.index.name = "date"
        got = bars_hash(frame)
        if got != entry.meta.content_hash:
            raise CacheError(
                f"the cached bars do not match the manifest: sha256 "
                f"{entry.meta.content_hash} recorded, {got} on disk (the file "
                "was changed after it was written)",
                file=path,
                field=sym,
                expected=f"the recorded bars: {fix}",
            )
        return frame

    def inspect(self) -> CacheState:
        """The manifest and every file around it: unaccounted, debris, quarantined."""
        ent = self.entries()
        named = {e.file for e in ent.values()}
        listed = set(self._journal())
        unaccounted: list[str] = []
        debris: list[str] = []
        for rel in self._bars_files():
            if rel in named:
                continue
            (debris if _is_temp(rel) or rel in listed else unaccounted).append(rel)
        debris += [p.name for p in self._root_temps()]
        q = self.root / QUARANTINE
        quarantined = (
            sorted(str(p.relative_to(self.root)) for p in q.rglob("*") if p.is_file())
            if q.is_dir()
            else []
        )
        return CacheState(
            entries=ent,
            unaccounted=tuple(unaccounted),
            debris=tuple(debris),
            quarantined=tuple(quarantined),
        )

    def write(self, series: Mapping[str, RawSeries]) -> tuple[Path, ...]:
        """Add or replace series; atomic with respect to the whole batch.

        Returns the files moved to ``quarantine/`` (also a :class:`CacheQuarantined`
        warning).  An OS error (read-only, disk full) is a :class:`CacheError`
        naming the path and the fix, the previous cache intact.
        """
        from filelock import FileLock, Timeout

        self._check_root()
        try:
            (self.root / "bars").mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.root / ".lock"), timeout=self.lock_timeout)
            lock.acquire()
        except Timeout:
            raise CacheError(
                f"the cache is locked by another writer for over {self.lock_timeout:g} s",
                file=self.root / ".lock",
            ) from None
        except OSError as exc:
            raise _os_error(exc, self.root) from None
        try:
            changed, stray = self._write_locked(series)
        except OSError as exc:
            raise _os_error(exc, self.root) from None
        finally:
            with contextlib.suppress(OSError):
                lock.release()
        if changed:
            warnings.warn(
                CacheQuarantined(
                    f"{changed[0].parent}: moved {len(changed)} cached file(s) that no longer "
                    f"matched their recorded hash ({_symbols_of(changed)}); stored again from "
                    "the new data"
                ),
                stacklevel=2,
            )
        if stray:
            warnings.warn(
                CacheQuarantined(
                    f"{stray[0].parent}: moved {len(stray)} file(s) no cache manifest named out "
                    f"of {self.root / 'bars'} ({_symbols_of(stray)}); nothing was deleted: import "
                    "or fetch those series again, or restore manifest.json from a backup and "
                    "move the files back"
                ),
                stacklevel=2,
            )
        return changed + stray

    def _write_locked(
        self, series: Mapping[str, RawSeries]
    ) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
        """The write under the lock; returns the files moved aside (changed, unaccounted)."""
        old = self.entries()
        self._recover(old)
        stray = [r for r in self._bars_files() if r not in {e.file for e in old.values()}]
        moved: tuple[Path, ...] = ()
        new = dict(old)
        create: list[tuple[str, RawSeries]] = []
        for sym, raw in series.items():
            rel = f"bars/{_safe_name(sym)}-{raw.meta.content_hash[:16]}.parquet"
            if rel in stray:
                stray.remove(rel)  # the same bars already on disk: adopted when intact
            if (self.root / rel).exists() and not self._intact(rel, raw.meta.content_hash):
                moved += self._quarantine([rel])
            if not (self.root / rel).exists():
                create.append((rel, raw))
            new[sym] = CacheEntry(meta=raw.meta, file=rel, issues=raw.issues)
        # The journal names every file this write creates or replaces: whichever of them
        # the manifest does not name after a crash is debris the next write removes.
        self._write_journal(
            [rel for rel, _ in create]
            + [old[s].file for s in series if s in old and old[s].file != new[s].file]
        )
        replaced = False
        try:
            for rel, raw in create:
                atomic_write(self.root / rel, partial(_write_parquet, raw.bars))
            self._write_manifest(new)
            replaced = True
        finally:
            if not replaced:
                for rel, _ in create:
                    (self.root / rel).unlink(missing_ok=True)
                (self.root / JOURNAL).unlink(missing_ok=True)
        keep = {e.file for e in new.values()}
        for e in old.values():
            if e.file not in keep:
                (self.root / e.file).unlink(missing_ok=True)
        unaccounted = self._quarantine(stray)
        (self.root / JOURNAL).unlink(missing_ok=True)
        return moved, unaccounted

    def _bars_files(self) -> list[str]:
        d = self.root / "bars"
        return sorted(f"bars/{p.name}" for p in d.iterdir()) if d.is_dir() else []

    def _root_temps(self) -> list[Path]:
        return [
            p for pat in (f".{MANIFEST}.*.tmp", f".{JOURNAL}.*.tmp") for p in self.root.glob(pat)
        ]

    def _journal(self) -> list[str]:
        """Files an interrupted write was creating ([] when there is no journal)."""
        try:
            listed = json.loads((self.root / JOURNAL).read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        return [f for f in listed if isinstance(f, str) and _BARS_FILE.fullmatch(f)]

    def _recover(self, entries: Mapping[str, CacheEntry]) -> None:
        """Remove what an interrupted write left: journal-listed new files and temp files."""
        named = {e.file for e in entries.values()}
        for rel in self._journal():
            if rel not in named:
                (self.root / rel).unlink(missing_ok=True)
        for rel in self._bars_files():
            if _is_temp(rel):
                (self.root / rel).unlink(missing_ok=True)
        for p in self._root_temps():
            p.unlink(missing_ok=True)
        (self.root / JOURNAL).unlink(missing_ok=True)

    def _quarantine(self, rels: list[str]) -> tuple[Path, ...]:
        """Move files into quarantine/<UTC time>/ (a rename: nothing is copied or lost)."""
        if not rels:
            return ()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = self.root / QUARANTINE / stamp
        n = 1
        while dest.exists():
            dest = self.root / QUARANTINE / f"{stamp}-{n}"
            n += 1
        dest.mkdir(parents=True)
        out = []
        for rel in rels:
            os.replace(self.root / rel, dest / Path(rel).name)
            out.append(dest / Path(rel).name)
        fsio.fsync_dir(self.root / "bars")
        return tuple(out)

    def _intact(self, rel: str, content_hash: str) -> bool:
        import pyarrow.parquet as pq

        try:
            frame = pq.read_table(self.root / rel).to_pandas()
        except (OSError, ValueError):
            return False
        return bars_hash(frame) == content_hash

    def _write_journal(self, files: list[str]) -> None:
        text = json.dumps({"files": files})
        atomic_write(self.root / JOURNAL, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _write_manifest(self, entries: Mapping[str, CacheEntry]) -> None:
        doc = {
            "version": MANIFEST_VERSION,
            "entries": {s: entries[s].to_json() for s in sorted(entries)},
        }
        text = json.dumps(doc, indent=1, ensure_ascii=False)
        atomic_write(self.manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _symbols_of(paths: tuple[Path, ...]) -> str:
    names = sorted({p.name.rsplit("-", 1)[0] for p in paths})
    return ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")


def _is_temp(rel: str) -> bool:
    name = Path(rel).name
    return name.startswith(".") and name.endswith(".tmp")


def _parse_manifest(raw: object, path: Path) -> dict[str, CacheEntry]:
    """Entries of a parsed manifest; one CacheError line saying what is malformed."""

    def bad(what: str) -> CacheError:
        return CacheError(f"malformed cache manifest: {what}", file=path, expected=_MANIFEST_FIX)

    if not isinstance(raw, dict):
        raise bad(f"the document is {_kind(raw)}, not an object")
    if raw.get("version") != MANIFEST_VERSION:
        raise bad(f"version {raw.get('version')!r}, this mib reads version {MANIFEST_VERSION}")
    entries = raw.get("entries")
    if not isinstance(entries, dict):
        raise bad(f"'entries' is {_kind(entries)}, not an object of symbol -> entry")
    out = {}
    for sym, e in entries.items():
        try:
            out[sym] = CacheEntry.from_json(e)
        except ValueError as exc:
            raise bad(f"the entry for {sym!r} {exc}") from None
        if out[sym].meta.symbol != sym:
            raise bad(f"the entry for {sym!r} is for {out[sym].meta.symbol!r}")
    return out


def _fix_for(entry: CacheEntry) -> str:
    """How to replace a bad cached series: fetch it again or import its file again."""
    sym = entry.meta.symbol
    if entry.meta.source == "yahoo":
        return f"fetch it again with 'mib data fetch --refresh {sym}'"
    origin = entry.meta.origin.removeprefix("stitched on returns: ").split(" [")[0]
    if entry.meta.source == "csv" and origin:
        return f"import it again with 'mib data import {Path(origin).parent}'"
    return f"import or fetch {sym} again ('mib data import DIR' or 'mib data fetch --refresh')"


_OS_FAULTS = {
    errno.ENOSPC: ("no space left on the device", "free space there or " + _ELSEWHERE),
    errno.EDQUOT: ("disk quota exceeded", "free space there or " + _ELSEWHERE),
    errno.EROFS: ("the cache is on a read-only file system", _ELSEWHERE),
    errno.EACCES: ("permission denied", "make it writable or " + _ELSEWHERE),
    errno.EPERM: ("operation not permitted", "make it writable or " + _ELSEWHERE),
    errno.ENOTDIR: ("a path component is a file, not a directory", _ELSEWHERE),
}


def _os_error(exc: OSError, root: Path) -> CacheError:
    """A write's OS error as one line naming the path, the cause and the fix."""
    why, fix = _OS_FAULTS.get(exc.errno or 0, (exc.strerror or str(exc), _ELSEWHERE))
    path = Path(os.fsdecode(exc.filename)) if exc.filename else root
    if _is_temp(path.name):  # '.NAME.abcd1234.tmp' (removed by now): name NAME
        path = path.with_name(path.name[1:].rsplit(".", 2)[0])
    return CacheError(
        f"cannot write the price cache: {why}; nothing stored was changed", file=path, expected=fix
    )


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.astype("float64"), preserve_index=True)
    pq.write_table(table, path, compression="zstd")
