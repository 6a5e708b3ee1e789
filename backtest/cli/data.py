"""`mib data` commands: fetch, import, status, verify.

Parses options, calls ``backtest.market`` and renders; heavy imports happen
inside the commands so ``mib --help`` stays instant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypedDict

import typer

from backtest.cli.options import DataUniverseFileOpt

if TYPE_CHECKING:
    import pandas as pd
    from rich.progress import Progress

    from backtest.market.layouts import NumberFormat
    from backtest.market.panel import SeriesMeta
    from backtest.universe import Universe

Adjustment = Literal["adjusted", "unadjusted", "unknown"]


class _CsvOptions(TypedDict):
    """The options every CSV read of ``mib data import`` shares."""

    start: str | None
    end: str | None
    columns: Mapping[str, str] | None
    adjustment: Adjustment | None
    cache_dir: Path | None
    numbers: NumberFormat


app = typer.Typer(no_args_is_help=True)


def _register_intraday() -> None:
    from backtest.cli.intraday_cmd import register_data

    register_data(app)


_register_intraday()

CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", help="Cache directory (default: $MIB_CACHE_DIR or the user cache dir)."
    ),
]
UniverseFileOpt = DataUniverseFileOpt
DecimalOpt = Annotated[
    str | None,
    typer.Option(
        "--decimal",
        help="Decimal mark of the CSV files: '.' (default) or ','. Without it a "
        "decimal comma is refused, never read as a thousands separator.",
    ),
]
ThousandsOpt = Annotated[
    str | None,
    typer.Option(
        "--thousands",
        help="Thousands separator of the CSV files: ',', '.', ' ', \"'\" or '_' "
        "(default: none; a separator is refused).",
    ),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="First date, YYYY-MM-DD.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date (inclusive), YYYY-MM-DD.")]
Format = Literal["table", "csv"]


def _universe(path: Path | None) -> Universe:
    from backtest.universe import load_universe

    return load_universe(path)


def _progress_bar(label: str) -> tuple[Progress, Callable[[int, int, str], None]]:
    """A rich progress bar on stderr and the callback that advances it (silent when
    stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import Progress as Bar

    console = Console(stderr=True)
    bar = Bar(console=console, transient=True, disable=not console.is_terminal)
    task = bar.add_task(label, total=None)

    def advance(done: int, total: int, symbol: str) -> None:
        bar.update(task, completed=done, total=total, description=f"{label} {symbol}")

    return bar, advance


def _echo_frame(frame: pd.DataFrame, fmt: Format) -> None:
    if fmt == "csv":
        typer.echo(frame.to_csv(index=False), nl=False)
    elif frame.empty:
        typer.echo("(none)")
    else:
        typer.echo(frame.to_string(index=False))


def _check_dates(start: str | None, end: str | None) -> None:
    """--start/--end are real calendar days, start not after end (before any work)."""
    from backtest.errors import SpecError
    from backtest.pipeline import parse_day

    lo = parse_day(start, "--start") if start else None
    hi = parse_day(end, "--end") if end else None
    if lo and hi and lo > hi:
        raise SpecError(
            "--start is after --end",
            field="--start",
            value=start,
            expected=f"a date on or before {end}",
        )


@app.command("fetch")
def fetch(
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Yahoo symbols, e.g. NVDA 688256.SS 0981.HK ^SOX.")
    ] = None,
    all_symbols: Annotated[
        bool, typer.Option("--universe", help="Fetch every symbol of the universe.")
    ] = False,
    start: StartOpt = None,
    end: EndOpt = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Download again even when cached.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Give up on Yahoo after this many seconds in total (every batch, "
            "retry and wait), reporting it unreachable.",
        ),
    ] = 30.0,
    universe_file: UniverseFileOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Download daily bars from Yahoo Finance (auto_adjust=True) into the cache."""
    from backtest.errors import InputFileError
    from backtest.market import load_prices

    if not symbols and not all_symbols:
        raise InputFileError(
            "name symbols or pass --universe",
            field="SYMBOLS",
            expected="e.g. 'mib data fetch NVDA AMD' or 'mib data fetch --universe'",
        )
    if not timeout > 0:
        raise InputFileError(
            "invalid --timeout",
            field="--timeout",
            value=timeout,
            expected="a number of seconds > 0",
        )
    _check_dates(start, end)
    u = _universe(universe_file)
    bar, advance = _progress_bar("fetch")
    with bar, _cache_warnings():
        panel = load_prices(
            "yahoo",
            None if all_symbols else symbols,
            universe=u,
            start=start,
            end=end,
            cache_dir=cache_dir,
            refresh=refresh,
            progress=advance,
            timeout=timeout,
        )
    typer.echo(f"cached {len(panel.symbols)} series")
    _warn(panel.notes)


WARNED_NOTES = ("[not_loaded", "[non_finite", "[non_positive", "[future_date", "[level_shift")
"""Notes that change what was stored (rows dropped, series missing): said on stderr."""


def _warn(notes: Iterable[str]) -> None:
    """``warning:`` lines for the notes of a load that dropped rows or series."""
    for note in notes:
        if note.startswith(WARNED_NOTES):
            typer.echo(f"warning: {note}", err=True)


@contextlib.contextmanager
def _cache_warnings() -> Iterator[None]:
    """Print the cache's warnings (files moved to quarantine/) as 'mib: warning:' lines."""
    import warnings

    from backtest.market.cache import CacheQuarantined

    seen: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CacheQuarantined)
            try:
                yield
            finally:
                seen = list(caught)
    finally:
        for w in seen:  # outside the recording context: others are shown as usual
            if issubclass(w.category, CacheQuarantined):
                typer.echo(f"mib: warning: {w.message}", err=True)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


@app.command("import")
def import_dir(
    directories: Annotated[
        list[Path],
        typer.Argument(
            metavar="DIR",
            help="Directories of <SYMBOL>.csv files (^GSPC may be GSPC.csv), "
            "in priority order. Several directories need --stitch; there "
            "is no silent first-wins.",
        ),
    ],
    stitch: Annotated[
        bool,
        typer.Option(
            "--stitch",
            help="Chain each symbol's files across the directories on returns: the "
            "first directory wins where files overlap, later ones extend it "
            "before/after only where their overlapping returns agree; prints "
            "every join and why any was refused.",
        ),
    ] = False,
    return_tol: Annotated[
        float | None,
        typer.Option(
            "--return-tol",
            help="Stitch: largest |return difference| on a common date (default 0.001).",
        ),
    ] = None,
    drift_tol: Annotated[
        float | None,
        typer.Option(
            "--drift-tol",
            help="Stitch: largest drift of the level ratio over the overlap (default 0.002).",
        ),
    ] = None,
    min_overlap: Annotated[
        int | None,
        typer.Option(
            "--min-overlap", help="Stitch: fewest common returns to judge a join (default 20)."
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Column mapping for files of an unknown layout, e.g. "
            "'date=Trade Date,close=PX_LAST,volume=PX_VOLUME'.",
        ),
    ] = None,
    adjustment: Annotated[
        str | None,
        typer.Option(
            "--adjustment", help="Override the adjustment basis: adjusted, unadjusted or unknown."
        ),
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    decimal: DecimalOpt = None,
    thousands: ThousandsOpt = None,
    universe_file: UniverseFileOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Import every universe symbol that has a CSV file in DIR (or, with --stitch, in any
    DIR) into the cache."""
    from typing import cast

    from backtest.errors import InputFileError
    from backtest.market import load_prices
    from backtest.market.csvsource import find_symbol_file
    from backtest.market.layouts import number_format, parse_columns_option

    _check_dates(start, end)
    if adjustment not in (None, "adjusted", "unadjusted", "unknown"):
        raise InputFileError(
            "invalid --adjustment",
            field="--adjustment",
            value=adjustment,
            expected="adjusted, unadjusted or unknown",
        )
    if len(directories) > 1 and not stitch:
        raise InputFileError(
            f"{len(directories)} directories given without --stitch",
            field="DIR",
            value=[str(d) for d in directories],
            expected="one directory, or --stitch to chain them on returns",
        )
    for d in directories:
        if not d.is_dir():
            raise InputFileError("not a directory", file=d)
    u = _universe(universe_file)
    syms = [s for s in u.symbols if any(find_symbol_file(d, s) for d in directories)]
    if not syms:
        raise InputFileError(
            "no <SYMBOL>.csv file for any universe symbol", file=" + ".join(map(str, directories))
        )
    opts: _CsvOptions = {
        "start": start,
        "end": end,
        "columns": parse_columns_option(columns) if columns else None,
        "adjustment": cast(Adjustment | None, adjustment),
        "cache_dir": cache_dir,
        "numbers": number_format(decimal, thousands),
    }
    if len(directories) > 1:
        _import_stitched(
            directories,
            syms,
            u,
            opts,
            return_tol=return_tol,
            drift_tol=drift_tol,
            min_overlap=min_overlap,
        )
        return
    bar, advance = _progress_bar("import")
    with bar, _cache_warnings():
        panel = load_prices(
            "csv",
            syms,
            universe=u,
            prices_dir=directories[0],
            write_cache=True,
            progress=advance,
            **opts,
        )
    typer.echo(f"imported {len(panel.symbols)} series from {directories[0]}")
    _echo_frame(_meta_frame(panel.meta.values()), "table")
    _warn(panel.notes)


def _import_stitched(
    directories: list[Path],
    syms: list[str],
    u: Universe,
    opts: _CsvOptions,
    *,
    return_tol: float | None,
    drift_tol: float | None,
    min_overlap: int | None,
) -> None:
    """Stitch the directories into the cache; print the series, the joins, the refusals."""
    from backtest.market.load import load_stitched
    from backtest.market.stitch import StitchPolicy

    base = StitchPolicy()
    policy = StitchPolicy(
        return_tol=base.return_tol if return_tol is None else return_tol,
        drift_tol=base.drift_tol if drift_tol is None else drift_tol,
        min_overlap=base.min_overlap if min_overlap is None else min_overlap,
    )
    bar, advance = _progress_bar("import")
    with bar, _cache_warnings():
        done = load_stitched(
            directories, syms, universe=u, policy=policy, write_cache=True, progress=advance, **opts
        )
    typer.echo(
        f"imported {len(done.panel.symbols)} series stitched on returns from "
        f"{' + '.join(map(str, directories))} (policy: {policy.describe()})"
    )
    _echo_frame(_meta_frame(done.panel.meta.values()), "table")
    _warn(done.panel.notes)
    typer.echo("\njoins (paths relative to " + _common_dir(directories) + "):")
    _echo_frame(_joins_table(done.report.joins_frame(), _common_dir(directories)), "table")
    for join in done.report.refused:
        typer.echo(join.reason)


def _common_dir(directories: list[Path]) -> str:
    import os

    return os.path.commonpath([str(d.resolve()) for d in directories])


def _first_two(dates: str) -> str:
    """'d1, d2, d3, d4' -> 'd1, d2 +2' (the full list is in the cache's findings)."""
    parts = [d for d in dates.split(", ") if d]
    return ", ".join(parts[:2]) + (f" +{len(parts) - 2}" if len(parts) > 2 else "")


def _joins_table(joins: pd.DataFrame, root: str) -> pd.DataFrame:
    """The joins frame with short paths and rounded numbers, for the terminal."""
    import os

    def rel(label: str) -> str:
        return "+".join(os.path.relpath(os.path.abspath(p), root) for p in label.split("+"))

    out = joins[["symbol", "from_source", "to_source", "overlap"]].copy()
    out["from_source"] = joins["from_source"].map(rel)
    out["to_source"] = joins["to_source"].map(rel)
    out["max|dr|"] = joins["max_abs_diff"].map(lambda x: f"{x:.2g}")
    out["on"] = joins["max_date"]
    out["beyond"] = joins["share_beyond"].map(lambda x: f"{x:.1%}")
    out["drift"] = joins["drift"].map(lambda x: f"{x:.3%}")
    out["isolated"] = joins["isolated_rows"].map(_first_two)
    out["verdict"] = joins["verdict"]
    return out.rename(columns={"from_source": "from", "to_source": "to"})


def _meta_frame(metas: Iterable[SeriesMeta]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "symbol": m.symbol,
                "source": m.source,
                "adjustment": m.adjustment,
                "rows": m.rows,
                "first": m.first,
                "last": m.last,
                "fetched_at": m.fetched_at,
                "hash": m.content_hash[:12],
            }
            for m in metas
        ],
        columns=["symbol", "source", "adjustment", "rows", "first", "last", "fetched_at", "hash"],
    )


@app.command("status")
def status(
    cache_dir: CacheDirOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table or csv.")] = "table",
    origin: Annotated[
        bool, typer.Option("--origin", help="Add where each series came from.")
    ] = False,
) -> None:
    """Show the cache manifest: one row per symbol with source and adjustment basis.

    Files in the cache that the manifest does not name are reported (exit 1): they
    are moved to quarantine/, never deleted, by the next import or fetch."""
    from backtest.market.cache import CacheError, PriceCache

    f = _fmt(fmt)
    cache = PriceCache.open(cache_dir)
    state = cache.inspect()
    entries = state.entries
    frame = _meta_frame(e.meta for e in entries.values())
    if origin:
        frame["origin"] = [e.meta.origin for e in entries.values()]
    if f == "table":
        typer.echo(f"cache: {cache.root} ({len(entries)} series)")
    _echo_frame(frame, f)
    if not entries and not state.unaccounted:
        typer.echo(
            "the cache is empty: nothing was imported or fetched into it. CSV files "
            "read with --prices-dir are not cached; check them with 'mib data verify "
            "--prices-dir DIR' or import them with 'mib data import DIR'",
            err=True,
        )
    if state.debris:
        typer.echo(
            f"note: {len(state.debris)} file(s) left by an interrupted write; the next "
            "import or fetch removes them (the manifest never named them)",
            err=True,
        )
    if state.quarantined:
        typer.echo(
            f"note: {cache.root / 'quarantine'} holds {len(state.quarantined)} file(s) "
            "moved aside by earlier writes (not in any manifest); delete them when "
            "you no longer need them",
            err=True,
        )
    if state.unaccounted:
        names = sorted({r.removeprefix("bars/").rsplit("-", 1)[0] for r in state.unaccounted})
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        lost = (
            "manifest.json is missing"
            if not cache.manifest_path.exists()
            else "manifest.json does not name them"
        )
        raise CacheError(
            f"{len(state.unaccounted)} price file(s) in bars/ are not accounted "
            f"for: {lost} ({shown})",
            file=cache.root,
            expected="a manifest naming every file; the next 'mib data import' or "
            "'mib data fetch' moves them to quarantine/ (nothing is "
            "deleted): import or fetch them again, or restore "
            "manifest.json from a backup",
        )


def _fmt(fmt: str) -> Format:
    from typing import cast

    from backtest.errors import InputFileError

    if fmt not in ("table", "csv"):
        raise InputFileError(
            "invalid --format", field="--format", value=fmt, expected="table or csv"
        )
    return cast(Format, fmt)


@app.command("verify")
def verify_cmd(
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Symbols (default: all cached).")
    ] = None,
    prices_dir: Annotated[
        Path | None,
        typer.Option(
            "--prices-dir", help="Check CSV files in this directory instead of the cache."
        ),
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            metavar="DIR",
            help="Also compare each series with the same symbol's file in DIR: close-to-close "
            "returns on their common dates, so a constant ratio (another adjustment basis "
            "or vintage) is not flagged; dates whose returns differ by more than 0.002 "
            "are 'source_disagreement' rows.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or csv.")] = "table",
    decimal: DecimalOpt = None,
    thousands: ThousandsOpt = None,
    universe_file: UniverseFileOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Data checks: gaps, duplicates, non-positive or non-finite prices, rows dated after
    today, stale runs, split-like jumps and level shifts, the file's own change column
    against its closes, A-share limit hits, suspensions, non-session rows; with --against,
    disagreements with another source.  An empty cache is an error that says how to check
    CSV files instead."""
    from backtest.errors import InputFileError
    from backtest.market import load_prices, verify
    from backtest.market.layouts import number_format

    f = _fmt(fmt)
    numbers = number_format(decimal, thousands)
    if prices_dir is None and not numbers.is_default:
        raise InputFileError(
            "--decimal and --thousands apply to CSV files",
            field="--decimal" if decimal else "--thousands",
            expected="--prices-dir DIR as well",
        )
    if against is not None and not against.is_dir():
        raise InputFileError(
            "not a directory",
            file=against,
            field="--against",
            expected="a directory of <SYMBOL>.csv files to compare with",
        )
    u = _universe(universe_file)
    if prices_dir is not None:
        panel = load_prices(
            "csv", symbols or None, universe=u, prices_dir=prices_dir, numbers=numbers
        )
    else:
        panel = load_prices("cache", symbols or None, universe=u, cache_dir=cache_dir)
    reference = None
    if against is not None:
        from backtest.market.csvsource import read_reference

        reference = read_reference(against, panel.symbols)
    findings = verify(panel, u, against=reference)
    if f == "table":
        compared = (
            ""
            if reference is None
            else f"; compared {len(reference.series)} with {against} "
            f"({len(reference.absent)} without a file there)"
        )
        typer.echo(f"{len(panel.symbols)} series checked{compared}; {findings.summary()}")
    _echo_frame(findings.frame, f)
