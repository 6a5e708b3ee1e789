"""`mib data` commands: fetch, import, status, verify.

Parses options, calls ``backtest.market`` and renders; heavy imports happen
inside the commands so ``mib --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from backtest.universe import Universe

app = typer.Typer(no_args_is_help=True)

CacheDirOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Cache directory (default: $MIB_CACHE_DIR or the user "
                                      "cache dir)."),
]
UniverseFileOpt = Annotated[
    Path | None,
    typer.Option("--universe-file", metavar="FILE",
                 help="Universe YAML (default: events/universe.yaml)."),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="First date, YYYY-MM-DD.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date (inclusive), YYYY-MM-DD.")]
Format = Literal["table", "csv"]


def _universe(path: Path | None) -> Universe:
    from backtest.universe import load_universe

    return load_universe(path)


def _progress_bar(label: str):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr and the callback that advances it."""
    from rich.console import Console
    from rich.progress import Progress as Bar

    bar = Bar(console=Console(stderr=True), transient=True)
    task = bar.add_task(label, total=None)

    def advance(done: int, total: int, symbol: str) -> None:
        bar.update(task, completed=done, total=total, description=f"{label} {symbol}")

    return bar, advance


def _echo_frame(frame, fmt: Format) -> None:  # type: ignore[no-untyped-def]
    if fmt == "csv":
        typer.echo(frame.to_csv(index=False), nl=False)
    elif frame.empty:
        typer.echo("(none)")
    else:
        typer.echo(frame.to_string(index=False))


@app.command("fetch")
def fetch(
    symbols: Annotated[list[str] | None, typer.Argument(help="Yahoo symbols, e.g. NVDA "
                                                             "688256.SS 0981.HK ^SOX.")] = None,
    all_symbols: Annotated[bool, typer.Option("--universe", help="Fetch every symbol of the "
                                                                 "universe.")] = False,
    start: StartOpt = None,
    end: EndOpt = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Download again even when "
                                                            "cached.")] = False,
    universe_file: UniverseFileOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Download daily bars from Yahoo Finance (auto_adjust=True) into the cache."""
    from backtest.errors import InputFileError
    from backtest.market import load_prices

    if not symbols and not all_symbols:
        raise InputFileError("name symbols or pass --universe", field="SYMBOLS",
                             expected="e.g. 'mib data fetch NVDA AMD' or "
                                      "'mib data fetch --universe'")
    u = _universe(universe_file)
    bar, advance = _progress_bar("fetch")
    with bar:
        panel = load_prices("yahoo", None if all_symbols else symbols, universe=u, start=start,
                            end=end, cache_dir=cache_dir, refresh=refresh, progress=advance)
    typer.echo(f"cached {len(panel.symbols)} series")
    for note in panel.notes:
        if note.startswith("[not_loaded"):
            typer.echo(f"warning: {note}", err=True)


@app.command("import")
def import_dir(
    directory: Annotated[Path, typer.Argument(help="Directory of <SYMBOL>.csv files "
                                                   "(^GSPC may be GSPC.csv).")],
    columns: Annotated[str | None, typer.Option(
        "--columns", help="Column mapping for files of an unknown layout, e.g. "
                          "'date=Trade Date,close=PX_LAST,volume=PX_VOLUME'.")] = None,
    adjustment: Annotated[str | None, typer.Option(
        "--adjustment", help="Override the adjustment basis: adjusted, unadjusted or "
                             "unknown.")] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    universe_file: UniverseFileOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Import every universe symbol that has a CSV file in DIRECTORY into the cache."""
    from backtest.errors import InputFileError
    from backtest.market import load_prices
    from backtest.market.csvsource import find_symbol_file
    from backtest.market.layouts import parse_columns_option

    if adjustment not in (None, "adjusted", "unadjusted", "unknown"):
        raise InputFileError("invalid --adjustment", field="--adjustment", value=adjustment,
                             expected="adjusted, unadjusted or unknown")
    if not directory.is_dir():
        raise InputFileError("not a directory", file=directory)
    u = _universe(universe_file)
    syms = [s for s in u.symbols if find_symbol_file(directory, s)]
    if not syms:
        raise InputFileError("no <SYMBOL>.csv file for any universe symbol", file=directory)
    mapping = parse_columns_option(columns) if columns else None
    bar, advance = _progress_bar("import")
    with bar:
        panel = load_prices("csv", syms, universe=u, prices_dir=directory, start=start,
                            end=end, cache_dir=cache_dir, columns=mapping,
                            adjustment=adjustment, write_cache=True,  # type: ignore[arg-type]
                            progress=advance)
    typer.echo(f"imported {len(panel.symbols)} series from {directory}")
    _echo_frame(_meta_frame(panel.meta.values()), "table")


def _meta_frame(metas):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame([{"symbol": m.symbol, "source": m.source, "adjustment": m.adjustment,
                          "rows": m.rows, "first": m.first, "last": m.last,
                          "fetched_at": m.fetched_at, "hash": m.content_hash[:12]}
                         for m in metas],
                        columns=["symbol", "source", "adjustment", "rows", "first", "last",
                                 "fetched_at", "hash"])


@app.command("status")
def status(
    cache_dir: CacheDirOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table or csv.")] = "table",
    origin: Annotated[bool, typer.Option("--origin", help="Add where each series came "
                                                          "from.")] = False,
) -> None:
    """Show the cache manifest: one row per symbol with source and adjustment basis."""
    from backtest.market.cache import PriceCache

    cache = PriceCache.open(cache_dir)
    entries = cache.entries()
    frame = _meta_frame(e.meta for e in entries.values())
    if origin:
        frame["origin"] = [e.meta.origin for e in entries.values()]
    if fmt == "table":
        typer.echo(f"cache: {cache.root} ({len(entries)} series)")
    _echo_frame(frame, _fmt(fmt))


def _fmt(fmt: str) -> Format:
    from backtest.errors import InputFileError

    if fmt not in ("table", "csv"):
        raise InputFileError("invalid --format", field="--format", value=fmt,
                             expected="table or csv")
    return fmt  # type: ignore[return-value]


@app.command("verify")
def verify_cmd(
    symbols: Annotated[list[str] | None, typer.Argument(help="Symbols (default: all "
                                                             "cached).")] = None,
    prices_dir: Annotated[Path | None, typer.Option(
        "--prices-dir", help="Check CSV files in this directory instead of the cache.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or csv.")] = "table",
    universe_file: UniverseFileOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Data checks: gaps, duplicates, non-positive prices, stale runs, split-like jumps,
    A-share limit hits, suspensions, non-session rows."""
    from backtest.market import load_prices, verify

    f = _fmt(fmt)
    u = _universe(universe_file)
    if prices_dir is not None:
        panel = load_prices("csv", symbols or None, universe=u, prices_dir=prices_dir)
    else:
        panel = load_prices("cache", symbols or None, universe=u, cache_dir=cache_dir)
    findings = verify(panel, u)
    if f == "table":
        typer.echo(f"{len(panel.symbols)} series checked; {findings.summary()}")
    _echo_frame(findings.frame, f)

