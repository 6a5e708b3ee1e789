"""`mib events`: read, validate and append to the curated event log.

Reading commands (list, show, history, timeline, validate) take ``--log FILE``
and ``--log-version N`` (or ``vN:DIGEST``, which also checks the digest);
``validate --expect vN:DIGEST`` refuses a log whose record N is missing or
differs.  Writing commands (add, amend, retract) append one validated record
each under a file lock; any error leaves the log byte-identical.  CSV exports
neutralise spreadsheet formulas: a text cell starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return gets a leading ``'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from backtest.cli import options

if TYPE_CHECKING:
    from backtest.eventlog.catalog import Catalog
    from backtest.universe import Universe

app = typer.Typer(no_args_is_help=True)

OutputFormat = Literal["table", "csv", "json"]

LogOpt = options.LogOpt
VersionOpt = options.LogVersionOpt
UniverseOpt = options.UniverseFileOpt
RecordedOpt = Annotated[
    str | None,
    typer.Option(
        "--recorded",
        metavar="DATE|UTC",
        help="Date (YYYY-MM-DD) or UTC timestamp to record; default: now (UTC).",
    ),
]


def _log_path(log: Path | None) -> Path:
    from backtest.eventlog.catalog import default_log_path

    return log if log is not None else default_log_path()


def _universe(path: Path | None) -> Universe:
    from backtest.universe import load_universe

    return load_universe(path)


def _catalog(log: Path | None, version: str | None, universe: Universe | None = None) -> Catalog:
    from backtest.eventlog.catalog import load_catalog

    return load_catalog(_log_path(log), version=version, universe=universe)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    lines = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
    return "\n".join(lines)


@app.command("list")
def list_events(
    types: Annotated[
        list[str] | None,
        typer.Option("--type", metavar="TYPE", help="Keep only this event type (repeatable)."),
    ] = None,
    authorities: Annotated[
        list[str] | None,
        typer.Option(
            "--authority",
            metavar="AUTHORITY",
            help="Keep only this authority, e.g. US-BIS (repeatable).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="Announced on or after this date (YYYY-MM-DD)."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="DATE", help="Announced on or before this date (YYYY-MM-DD)."
        ),
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = "table",
    log: LogOpt = None,
    log_version: VersionOpt = None,
) -> None:
    """List events in force, by announcement date."""
    from backtest.eventlog.models import EVENT_TYPES

    for t in types or ():
        options.check_choice(t, EVENT_TYPES, "--type")
    start, end = options.parse_date(since, "--since"), options.parse_date(until, "--until")
    cat = _catalog(log, log_version).filter(
        types=types, authorities=authorities, start=start, end=end
    )
    if fmt == "csv":
        typer.echo(_csv(cat), nl=False)
    elif fmt == "json":
        typer.echo(_json(cat))
    else:
        typer.echo(_list_table(cat))


def _list_table(cat: Catalog) -> str:
    from backtest.eventlog.catalog import announced_date

    rows = []
    for e in cat.events:
        st = e.primary_stage("announcement")
        at = st.at_utc.strftime("%H:%MZ") if st.at_utc is not None else "--"
        rows.append(
            [
                announced_date(e).isoformat(),
                at,
                e.id,
                e.authority,
                e.type,
                e.direction,
                e.confidence,
            ]
        )
    table = _table(["date", "utc", "id", "authority", "type", "direction", "confidence"], rows)
    return f"{table}\n{len(cat)} events at log {cat.version}"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A CSV cell starting with one of these is a formula to a spreadsheet (OWASP)."""


def _no_formula(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _safe_csv(frame: Any) -> str:
    """CSV of a frame with formula-like text cells neutralised."""
    from pandas.api.types import is_numeric_dtype

    frame = frame.copy()
    for col in frame.columns:
        if not is_numeric_dtype(frame[col].dtype):
            frame[col] = frame[col].map(_no_formula)
    return str(frame.to_csv(index=False, lineterminator="\n"))


def _csv(cat: Catalog) -> str:
    frame = cat.to_frame()
    for col in frame.columns:
        if col.endswith("_at_utc"):
            frame[col] = frame[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif col.endswith("_date"):
            frame[col] = frame[col].dt.strftime("%Y-%m-%d")
    return _safe_csv(frame)


def _json(cat: Catalog) -> str:
    import json

    from backtest.eventlog.records import event_payload

    body = {
        "log_version": str(cat.version),
        "log_digest": cat.version.digest,
        "events": [event_payload(e) for e in cat.events],
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


@app.command("show")
def show(
    event_id: Annotated[str, typer.Argument(help="Event id (slug).")],
    log: LogOpt = None,
    log_version: VersionOpt = None,
) -> None:
    """Print one event as it stands at the log version."""
    from backtest.eventlog.records import event_payload
    from backtest.eventlog.yamlio import dump_mapping

    cat = _catalog(log, log_version)
    event = cat.get(event_id)
    seqs = ", ".join(f"{r.seq} {r.record.kind}" for r in cat.history(event_id))
    typer.echo(f"# {event_id} at log {cat.version} (records: {seqs})")
    typer.echo(dump_mapping(event_payload(event)), nl=False)


@app.command("history")
def history(
    event_id: Annotated[str | None, typer.Argument(help="Only records about this id.")] = None,
    log: LogOpt = None,
    log_version: VersionOpt = None,
) -> None:
    """List the records of the log (or of one event), oldest first."""
    cat = _catalog(log, log_version)
    rows = [
        [
            str(e.seq),
            str(e.line),
            e.record.recorded,
            e.record.kind,
            e.record.event_id,
            _detail(e.record),
        ]
        for e in cat.history(event_id)
    ]
    typer.echo(_table(["seq", "line", "recorded", "kind", "id", "detail"], rows))
    typer.echo(f"log {cat.version}")


def _detail(record: Any) -> str:
    if record.kind == "announce":
        return str(record.event.title[:70])
    if record.kind == "amend":
        return f"set {', '.join(record.changes)}: {record.reason}"[:90]
    return f"retracted: {record.reason}"[:90]


@app.command("audit")
def audit(
    stage: Annotated[
        str, typer.Option(help="Stage that sets day 0: official (default), first, or a stage name.")
    ] = "official",
    fmt: Annotated[
        Literal["table", "csv"], typer.Option("--format", help="table or csv.")
    ] = "table",
    flagged: Annotated[
        bool,
        typer.Option(
            "--flagged", help="Only events with a flag or a day 0 not pinned on every exchange."
        ),
    ] = False,
    log: LogOpt = None,
    log_version: VersionOpt = None,
    bars: Annotated[
        list[Path] | None,
        typer.Option(
            "--bars",
            metavar="DIR",
            help="Intraday bar folders (repeatable): the tape as a witness. Each stage's "
            "recorded or assumed instant is compared with the tape's reaction interval; "
            "proposed not_before/not_after bounds are written to --amend-file for review, "
            "never applied.",
        ),
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", metavar="ZONE", help="Zone of naive bar time stamps.")
    ] = None,
    amend_file: Annotated[
        Path, typer.Option("--amend-file", help="Where --bars writes the proposed amends (YAML).")
    ] = Path("tape_amends.yaml"),
) -> None:
    """Per event: the stage that sets day 0, its time status (exact, bounded, policy), day 0
    on New York, Shanghai and Hong Kong, whether that is pinned to one session on each,
    confidence, primary source, and curation flags.  With --bars: the tape's verdict on
    every stage the bars cover."""
    from backtest.alignment.audit import audit_events, audit_summary
    from backtest.alignment.spec import STAGE_CHOICES

    options.check_choice(stage, STAGE_CHOICES, "--stage")
    if bars:
        from backtest.cli.intraday_cmd import tape_witness

        tape_witness(_catalog(log, log_version), bars, tz, amend_file)
        return
    table = audit_events(_catalog(log, log_version).events, stage=stage)
    shown = table
    if flagged:
        shown = table[(table["flags"].fillna("") != "") | ~table["pinned"].astype(bool)]
    if fmt == "csv":
        typer.echo(_safe_csv(shown), nl=False)
        return
    cols = [
        "event_id",
        "confidence",
        "primary_source",
        "stage",
        "local_date",
        "time_status",
        *[c for c in table.columns if c.startswith("day0_")],
        "pinned",
        "flags",
    ]
    rows = [[str(v) for v in r] for r in shown[cols].fillna("").itertuples(index=False)]
    typer.echo(_table(cols, rows))
    for line in audit_summary(table):
        typer.echo(line)


@app.command("validate")
def validate(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A log, a curation file ('events:' list) or one event (default: the log)."
        ),
    ] = None,
    universe: UniverseOpt = None,
    log_version: VersionOpt = None,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            metavar="vN:DIGEST",
            help="Fail unless record N is still there and the log's digest at N matches "
            "(detects records cut off the end).",
        ),
    ] = None,
) -> None:
    """Check a log (chain, records, fold, universe) or an event file; exit 1 on error."""
    from backtest.eventlog.log import gc_paused

    with gc_paused():
        _validate(_log_path(file), universe, log_version, expect)


def _validate(
    path: Path, universe: Path | None, log_version: str | None, expect: str | None
) -> None:
    from backtest.errors import MibError
    from backtest.eventlog.append import read_event_file
    from backtest.eventlog.catalog import catalog_from_log, check_expected

    uni = _universe(universe)
    log = _read_log_or_none(path)
    if log is not None:
        if expect is not None:
            check_expected(log, expect)
        cat = catalog_from_log(log, version=log_version, universe=uni)
        _report_lints(path, cat.events)
        typer.echo(
            f"ok: {path}: {len(cat.records)} records, {len(cat)} events in force, "
            f"{len(cat.retracted)} retracted; log {cat.version}"
        )
        return
    if expect is not None:
        raise MibError(
            "--expect checks a log, not an event file",
            field="--expect",
            value=expect,
            expected="a log file (records: ...)",
        )
    events = read_event_file(path, uni)
    _report_lints(path, [ev for ev, _ in events])
    typer.echo(f"ok: {path}: {len(events)} valid events (not yet in the log)")


def _read_log_or_none(path: Path) -> Any:
    """The parsed log if ``path`` is a log (read once), None if it is an event file."""
    from backtest.eventlog.log import EventLog, read_log_or_doc

    found = read_log_or_doc(path)
    return found if isinstance(found, EventLog) else None


def _report_lints(path: Path, events: Any) -> None:
    """Warnings to stderr; the first error refused (one line, exit 1)."""
    from backtest.errors import EventLogError
    from backtest.eventlog.lint import lint_event

    lints = [x for ev in events for x in lint_event(ev)]
    for x in lints:
        if x.severity == "warning":
            typer.echo(f"mib: warning: {path}: {x.event_id}: {x.field}: {x.message}", err=True)
    errors = [x for x in lints if x.severity == "error"]
    if errors:
        first = errors[0]
        more = f" ({len(errors) - 1} more: {', '.join(e.event_id for e in errors[1:4])}"
        more += ", ...)" if len(errors) > 4 else ")" if len(errors) > 1 else ""
        raise EventLogError(
            f"{first.event_id}: {first.message}" + (more if len(errors) > 1 else ""),
            file=path,
            field=first.field,
        )


@app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="One event, or a curation file ('events:').")],
    log: LogOpt = None,
    universe: UniverseOpt = None,
    recorded: RecordedOpt = None,
) -> None:
    """Append one announce record per event of FILE (all or nothing)."""
    from backtest.eventlog.append import announce_draft, append_records, read_event_file

    uni = _universe(universe)
    events = read_event_file(file, uni)
    _report_lints(file, [ev for ev, _ in events])
    drafts = [announce_draft(ev, where) for ev, where in events]
    version = append_records(_log_path(log), drafts, recorded=recorded, universe=uni)
    ids = ", ".join(ev.id for ev, _ in events)
    typer.echo(f"appended {len(drafts)} announce record(s) ({ids}); log now {version}")


def _parse_sets(sets: list[str]) -> dict[str, Any]:
    from backtest.errors import MibError
    from backtest.eventlog.yamlio import load_yaml

    changes: dict[str, Any] = {}
    for item in sets:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise MibError(
                "expected FIELD=VALUE",
                field="--set",
                value=item,
                expected="e.g. --set confidence=high",
            )
        changes[name.strip()] = load_yaml(text, f"--set {name.strip()}").data
    return changes


@app.command("amend")
def amend(
    event_id: Annotated[str, typer.Argument(help="Event id to amend.")],
    sets: Annotated[
        list[str],
        typer.Option(
            "--set", metavar="FIELD=VALUE", help="FIELD=VALUE, VALUE parsed as YAML (repeatable)."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why the event changes.")],
    log: LogOpt = None,
    universe: UniverseOpt = None,
    recorded: RecordedOpt = None,
) -> None:
    """Append an amend record that changes named fields of an event."""
    from backtest.eventlog.append import amend_event

    version = amend_event(
        _log_path(log),
        event_id,
        _parse_sets(sets),
        reason,
        recorded=recorded,
        universe=_universe(universe),
    )
    typer.echo(f"amended {event_id}; log now {version}")


@app.command("retract")
def retract(
    event_id: Annotated[str, typer.Argument(help="Event id to retract.")],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why the event is withdrawn.")
    ],
    log: LogOpt = None,
    universe: UniverseOpt = None,
    recorded: RecordedOpt = None,
) -> None:
    """Append a retract record; the event leaves the catalog, its id is never reused."""
    from backtest.eventlog.append import retract_event

    version = retract_event(
        _log_path(log), event_id, reason, recorded=recorded, universe=_universe(universe)
    )
    typer.echo(f"retracted {event_id}; log now {version}")


@app.command("timeline")
def timeline(
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="Figure file: .png, .svg or .pdf.")
    ],
    types: Annotated[
        list[str] | None,
        typer.Option("--type", metavar="TYPE", help="Keep only this event type (repeatable)."),
    ] = None,
    log: LogOpt = None,
    log_version: VersionOpt = None,
) -> None:
    """Draw events by authority (rows) and type (marker) over time."""
    from backtest.report.timeline import plot_timeline

    options.check_choice(out.suffix.lower(), (".png", ".svg", ".pdf"), "--out suffix")
    fig = plot_timeline(_catalog(log, log_version).filter(types=types))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    typer.echo(f"wrote {out}")


from backtest.cli.align_cmd import register as _register_align  # noqa: E402

_register_align(app)

from backtest.cli.sources_cmd import app as sources_app  # noqa: E402

app.add_typer(
    sources_app,
    name="sources",
    help="Primary sources: EDGAR acceptance times and Federal Register documents (proposals).",
)
