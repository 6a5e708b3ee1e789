"""`mib events align`: day 0 of each event stage on each security's exchange.

The events CLI module calls :func:`register` to add the command to its group.
Heavy imports (pandas, exchange_calendars, the event log) happen inside the
command so that ``mib --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from backtest.cli.options import DEFAULT_STAGE, LogOpt, LogVersionOpt, StageOpt, UniverseFileOpt

if TYPE_CHECKING:
    import pandas as pd

    from backtest.align import Alignment
    from backtest.eventlog.models import Event

OutputFormat = Literal["table", "csv"]
UnknownTimeOpt = Literal["business_hours", "start_of_day", "end_of_day"]

SHOWN_COLUMNS: tuple[str, ...] = (
    "event_id",
    "stage",
    "security",
    "exchange",
    "announced_at_utc",
    "time_assumed",
    "day0",
    "decided_by",
)

WRAPPED_COLUMNS: dict[str, int] = {"event_id": 1, "decided_by": 2}
"""Columns folded to fit the terminal, with their share of the width left."""
HEADERS: dict[str, str] = {
    "announced_at_utc": "announced (UTC)",
    "time_assumed": "assumed",
    "exchange": "exch.",
}
"""Shorter table headers (the CSV keeps the column names)."""


def display_frame(alignment: Alignment) -> pd.DataFrame:
    """The shown columns as text: instants ``YYYY-MM-DDTHH:MMZ``, day 0 ``YYYY-MM-DD``."""
    frame = alignment.instances.loc[:, list(SHOWN_COLUMNS)].copy()
    at = frame["announced_at_utc"]
    frame["announced_at_utc"] = at.dt.strftime("%Y-%m-%dT%H:%MZ").where(at.notna(), "")
    frame["day0"] = frame["day0"].dt.strftime("%Y-%m-%d")
    frame["time_assumed"] = frame["time_assumed"].map({True: "yes", False: "no"})
    return frame.astype("str")


def attrition_line(alignment: Alignment) -> str:
    """``attrition: N (reason n, ...)``."""
    attr = alignment.attrition
    counts = attr["reason"].value_counts().sort_index() if len(attr) else None
    detail = ", ".join(f"{k} {v}" for k, v in counts.items()) if counts is not None else "none"
    return f"attrition: {len(attr)} ({detail})"


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _load_events(log: Path | None, log_version: str | None) -> tuple[tuple[Event, ...], str]:
    """The catalog's events at ``log_version`` (N, vN or vN:DIGEST) and the version's text."""
    from backtest.eventlog.catalog import load_catalog

    catalog = load_catalog(log, version=log_version)
    return tuple(catalog.events), str(catalog.version)


def _render_table(frame: pd.DataFrame, title: str) -> None:
    """A rich table that never cuts a fixed column (dates, symbols): ids and the
    reasoning fold to the width left; too narrow a terminal drops ``decided_by``."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=240)
    widths = {
        col: max([len(HEADERS.get(col, col)), *frame[col].str.len().tolist()])
        for col in SHOWN_COLUMNS
        if col not in WRAPPED_COLUMNS
    }
    fixed = sum(widths.values()) + 2 * len(SHOWN_COLUMNS)
    shown = [c for c in SHOWN_COLUMNS if c != "decided_by" or console.width - fixed >= 36]
    table = Table(
        title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True
    )
    for col in shown:
        header = HEADERS.get(col, col)
        if col in WRAPPED_COLUMNS:  # long text: shares what the fixed columns leave
            table.add_column(header, overflow="fold", ratio=WRAPPED_COLUMNS[col])
        else:
            table.add_column(header, no_wrap=True, min_width=widths[col])
    for row in frame[shown].itertuples(index=False):
        table.add_row(*row)
    console.print(table)
    if len(shown) < len(SHOWN_COLUMNS):
        typer.echo(
            f"(decided_by left out at {console.width} columns: widen the terminal or "
            "use --format csv)"
        )


def align_command(
    stage: StageOpt = DEFAULT_STAGE,
    securities: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated symbols or groups, e.g. NVDA,688256.SS,cn_substitute "
            "(default: every non-benchmark security)."
        ),
    ] = None,
    all_securities: Annotated[
        bool,
        typer.Option(
            "--all-securities",
            help="Align every selected security for every event, not only those it affects.",
        ),
    ] = False,
    unknown_time: Annotated[
        UnknownTimeOpt,
        typer.Option(
            help="Where to place stages known only by date: business_hours = 12:00 local, "
            "start_of_day = 00:00, end_of_day = 23:59:59."
        ),
    ] = "business_hours",
    alternate: Annotated[
        bool,
        typer.Option(
            "--alternate", help="Sensitivity run: the other plausible day 0 for date-only stages."
        ),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table (rich) or csv (to stdout).")
    ] = "table",
    log: LogOpt = None,
    log_version: LogVersionOpt = None,
    universe: UniverseFileOpt = None,
) -> None:
    """Day 0 of each event stage on each security's own exchange, and how it was decided."""
    import sys
    from typing import cast

    from backtest.align import AlignSpec, align
    from backtest.alignment.spec import StageChoice
    from backtest.universe import load_universe

    spec = AlignSpec(
        stage=cast(StageChoice, stage),
        unknown_time=unknown_time,
        alternate=alternate,
        securities=_split(securities),
        coverage="all" if all_securities else "affected",
    )
    events, version = _load_events(log, log_version)
    result = align(events, load_universe(universe), spec)
    frame = display_frame(result)
    if output == "csv":
        frame.to_csv(sys.stdout, index=False, lineterminator="\n")
        sys.stderr.write(attrition_line(result) + "\n")
        return
    _render_table(frame, f"Event alignment (log {version}; {spec.describe()})")
    typer.echo(attrition_line(result))


def register(app: typer.Typer) -> None:
    """Add the ``align`` command to the ``mib events`` group ``app``."""
    app.command("align")(align_command)
