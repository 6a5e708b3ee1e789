"""Intraday commands: ``mib study intraday``, ``mib data import-bars``, ``mib data fetch-bars``.

Registered on their groups by ``register_study(app)`` and ``register_data(app)``; heavy
imports happen inside the commands so ``mib --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from backtest.intraday.reaction import EventReaction
    from backtest.intraday.series import BarSet

BarsOpt = Annotated[
    list[Path],
    typer.Option(
        "--bars",
        metavar="DIR",
        help="Folder of intraday bar files (<SYMBOL>.csv); repeat for several, in priority order.",
    ),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="IANA zone of naive time stamps (e.g. America/New_York). Stamps with a UTC "
        "offset use it; a file with an epoch column proves its own zone; a naive file "
        "without either is refused unless --tz is given.",
    ),
]


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def read_bars(dirs: list[Path], tz: str | None, universe_file: Path | None = None) -> BarSet:
    """The folders' bars, universe symbols and calendars applied (``GSPC.csv`` is ^GSPC)."""
    from backtest.intraday.series import read_bar_dirs
    from backtest.intraday.timezones import check_zone
    from backtest.universe import load_universe

    if tz is not None:
        check_zone(tz)
    u = load_universe(universe_file)
    return read_bar_dirs(
        dirs,
        tz=tz,
        known_symbols=set(u.symbols),
        calendars={s.symbol: s.calendar for s in u.securities},
    )


def intraday(
    event: Annotated[
        list[str], typer.Option("--event", metavar="ID", help="Event id (repeatable).")
    ],
    bars: BarsOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (created).")],
    symbols: Annotated[
        list[str] | None,
        typer.Option(
            "--symbols",
            help="Securities (comma-separated or repeated); default: the event's affected "
            "securities and the benchmarks QQQ, SPY, SMH, ^GSPC that have bars.",
        ),
    ] = None,
    tz: TzOpt = None,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            help="|abnormal 5-minute move| / time-of-day sigma that marks the reaction.",
        ),
    ] = 4.0,
    stage: Annotated[
        str, typer.Option("--stage", help="Stage whose instant is the news: official, first, ...")
    ] = "official",
    log: Annotated[Path | None, typer.Option("--log", help="Event log file.")] = None,
    log_version: Annotated[
        str | None, typer.Option("--log-version", help="Catalog as of this log version.")
    ] = None,
) -> None:
    """Minutes, not days: each security's path from the previous regular close to the second
    close after the news, abnormal against a benchmark's bars and scaled by time-of-day
    volatility; the reaction interval and the shares of the first-session move. Writes
    tables/intraday_reaction.csv (and .parquet), tables/intraday_paths and one chart per
    event."""

    from backtest.alignment.spec import STAGE_CHOICES
    from backtest.errors import SpecError
    from backtest.eventlog import load_catalog
    from backtest.intraday.reaction import IntradaySpec, study_event
    from backtest.intraday.run import event_symbols, tables_from
    from backtest.runio import check_output_folder, manifest_header
    from backtest.universe import load_universe

    if stage not in STAGE_CHOICES:
        raise SpecError(
            "unknown stage", field="--stage", value=stage, expected=" | ".join(STAGE_CHOICES)
        )
    if not threshold > 0:
        raise SpecError("threshold must be positive", field="--threshold", value=threshold)
    check_output_folder(out, field="--out", what="the intraday tables")
    cat = load_catalog(log, version=log_version)
    by_id = {e.id: e for e in cat.events}
    for eid in event:
        if eid not in by_id:
            raise SpecError(
                "unknown event id",
                field="--event",
                value=eid,
                expected="an id of 'mib events list'",
            )
    universe = load_universe()
    got = read_bars(bars, tz)
    for line in got.report_lines():
        typer.echo(f"bars {line}")
    spec = IntradaySpec(threshold=threshold)
    wanted = _split(symbols)
    results: list[EventReaction] = []
    for eid in event:
        ev = by_id[eid]
        st = ev.chosen_stage(stage)
        if st is None:
            raise SpecError(f"event {eid} has no {stage} stage", field="--stage", value=stage)
        syms = wanted if wanted is not None else event_symbols(ev, got, universe, spec)
        res = study_event(eid, st, got, syms, spec)
        for why in res.skipped:
            typer.echo(f"{eid}: skipped {why}")
        results.append(res)
    tables = tables_from(results)
    _write_run(
        out,
        tables,
        results,
        got,
        {
            **manifest_header("intraday"),
            "events": list(event),
            "stage": stage,
            "log_version": str(cat.version),
            "spec": {k: getattr(spec, k) for k in spec.__slots__},
        },
    )
    _print_reactions(tables["intraday_reaction"])
    typer.echo(f"tables: {out} (tables/intraday_reaction.csv, tables/intraday_paths.csv, charts/)")


def _write_run(
    out: Path,
    tables: dict[str, object],
    results: list[EventReaction],
    bars: BarSet,
    manifest: dict[str, object],
) -> None:
    import pandas as pd

    from backtest.intraday.figures import minutes_figure, utc_timeline
    from backtest.runio import file_list, staged_folder, write_file, write_manifest, write_table

    hashes: dict[str, str] = {}
    with staged_folder(out) as stage:
        for name, frame in sorted(tables.items()):
            assert isinstance(frame, pd.DataFrame)
            hashes.update(write_table(stage, name, frame))
        (stage / "charts").mkdir()
        for res in results:
            if res.paths.empty:
                continue
            for kind, fig in (
                ("minutes", minutes_figure(res.paths)),
                ("utc", utc_timeline(res.paths, knowable_utc=res.knowable_utc)),
            ):
                import io

                buf = io.BytesIO()
                fig.savefig(buf, format="svg")
                rel = f"charts/{res.event_id}-{kind}.svg"
                hashes[rel] = write_file(stage / rel, buf.getvalue())
        manifest["bars"] = [
            {
                "symbol": s.symbol,
                "folder": s.label,
                "calendar": s.calendar,
                "files": [{"file": f.file, "rule": f.rule, "bars": f.bars} for f in s.sources],
            }
            for s in bars.all_series()
        ]
        write_manifest(stage, {**manifest, "tables": file_list(hashes)})


def _print_reactions(frame: object) -> None:
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    if frame.empty:
        typer.echo("no security had bars around the event")
        return
    for r in frame.itertuples(index=False):

        def et(v: object) -> str:
            if v is None or pd.isna(v):
                return "--"
            return f"{pd.Timestamp(v).tz_convert('America/New_York'):%Y-%m-%d %H:%M} ET"

        typer.echo(
            f"{r.event_id} {r.security} vs {r.benchmark or 'none'}: knowable {et(r.knowable_utc)}; "
            f"reaction between {et(r.reaction_after_utc)} and {et(r.reaction_by_utc)}; "
            f"first-session move {r.first_session_move:+.2%}; shares 5/30/60 min "
            f"{r.share_5m:.2f}/{r.share_30m:.2f}/{r.share_60m:.2f}, after hours "
            f"{r.share_after_hours:.2f}, pre-market {r.share_premarket:.2f}, "
            f"open {r.share_next_open:.2f}"
        )


def import_bars(
    directories: Annotated[
        list[Path], typer.Argument(metavar="DIR", help="Folders of intraday bar files.")
    ],
    tz: TzOpt = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", help="Cache directory (default: $MIB_CACHE_DIR or the user cache dir)."
        ),
    ] = None,
) -> None:
    """Import intraday bars into the cache (<cache>/intraday), one series per symbol and folder,
    printing the time-zone rule each file was read under. Naive stamps need --tz unless the
    file proves its zone (an epoch column)."""
    from backtest.intraday.store import IntradayStore

    got = read_bars(directories, tz)
    store = IntradayStore.open(cache_dir)
    keys = store.write(got)
    for line in got.report_lines():
        typer.echo(line)
    typer.echo(f"cached {len(keys)} series in {store.cache.root}")


def fetch_bars(
    symbols: Annotated[list[str], typer.Argument(help="Yahoo symbols, e.g. NVDA QQQ.")],
    interval: Annotated[
        str,
        typer.Option(
            "--interval",
            help="1m (Yahoo keeps the last 30 days, at most 7 per request), 5m (last 60 "
            "days) or 60m (last 730 days); older starts are refused.",
        ),
    ] = "5m",
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last day (inclusive), YYYY-MM-DD.")
    ] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Cache directory.")] = None,
) -> None:
    """Download intraday bars with pre- and post-market (yfinance, prepost=True) into the cache."""
    import datetime as dt

    from backtest.intraday.store import IntradayStore
    from backtest.intraday.yahoo import fetch_intraday

    got = fetch_intraday(symbols, interval=interval, start=start, end=end, today=dt.date.today())
    keys = IntradayStore.open(cache_dir).write(got)
    typer.echo(f"cached {len(keys)} series: {', '.join(keys)}")


def register_study(app: typer.Typer) -> None:
    app.command("intraday")(intraday)


def register_data(app: typer.Typer) -> None:
    app.command("import-bars")(import_bars)
    app.command("fetch-bars")(fetch_bars)


def tape_witness(catalog: object, dirs: list[Path], tz: str | None, amend_file: Path) -> None:
    """``mib events audit --bars``: print the tape's verdicts, write the proposals file."""
    import pandas as pd

    from backtest.alignment.audit import proposals_yaml, tape_audit
    from backtest.eventlog.catalog import Catalog
    from backtest.runio import write_file

    assert isinstance(catalog, Catalog)
    got = read_bars(dirs, tz)
    table = tape_audit(catalog.events, got)
    if table.empty:
        typer.echo("the bars cover no stage of the log")

    def et(v: object) -> str:
        return f"{pd.Timestamp(v).tz_convert('America/New_York'):%Y-%m-%d %H:%M} ET"

    for r in table.itertuples(index=False):
        line = (
            f"{r.event_id} [{r.stage}, {r.time_status}] {r.verdict}: {r.recorded}; tape "
            f"({r.security}) moved between {et(r.reaction_after_utc)} and {et(r.reaction_by_utc)}"
        )
        if r.changes:
            line += (
                f"; proposed not_before {r.proposed_not_before}, not_after {r.proposed_not_after}"
            )
        typer.echo(line)
    n = int((table["changes"] != "").sum())
    amend_file.parent.mkdir(parents=True, exist_ok=True)
    write_file(amend_file, proposals_yaml(table, str(catalog.version)).encode("utf-8"))
    typer.echo(f"{n} proposed amend(s) written to {amend_file} for review; the log is unchanged")
