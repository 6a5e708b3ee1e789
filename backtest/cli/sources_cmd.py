"""`mib events sources`: primary-source timestamps and candidate events for the log.

``edgar`` lists a company's 8-K, 6-K, 10-Q and 10-K filings from its EDGAR
submissions document (or an Atom feed) with acceptance times in UTC and, with
``--match``, proposes ``mib events amend`` records that pin the log's filing
stages to the second.  ``federal-register`` lists Federal Register documents
of an agency with their public-inspection time; ``--candidates`` writes draft
``announce`` records for qualifying documents not yet in the log, ``--match``
proposes exact ``publication`` stages for those already in it.

Nothing is ever applied: proposals, drafts and the raw answers go to a folder
(``--out``, default ``events/curation/sources-YYYY-MM-DD``) for review; a
failure of any kind (offline, malformed answer) writes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from backtest.cli import options

if TYPE_CHECKING:
    from backtest.eventlog.catalog import Catalog
    from backtest.sources.edgar import FilingList
    from backtest.sources.http import Answer, SourceCache
    from backtest.sources.proposals import Finding
    from backtest.universe import Security, Universe

app = typer.Typer(no_args_is_help=True)

LogOpt = Annotated[
    Path | None,
    typer.Option(
        "--log",
        metavar="FILE",
        help="Event log to match against (default: events/export_controls.yaml).",
    ),
]
UniverseOpt = Annotated[
    Path | None,
    typer.Option(
        "--universe", metavar="FILE", help="Universe file (default: events/universe.yaml)."
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        metavar="DIR",
        help="Folder for proposals, drafts and raw answers (default: "
        "events/curation/sources-YYYY-MM-DD, UTC date).",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Total deadline of each request (rate-limit wait, DNS, connect, read).",
    ),
]
ContactOpt = Annotated[
    str | None,
    typer.Option(
        "--contact",
        metavar="EMAIL",
        help="Contact for the User-Agent (EDGAR requires one; default $MIB_CONTACT).",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="Cache directory (default: $MIB_CACHE_DIR or the user cache dir).",
    ),
]
MaxAgeOpt = Annotated[
    float,
    typer.Option(
        "--max-age",
        metavar="SECONDS",
        help="Reuse a cached answer younger than this (0: always fetch).",
    ),
]
FromFileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--from-file",
        metavar="PATH",
        help="Read a saved answer instead of the network (repeatable).",
    ),
]
MatchOpt = Annotated[
    bool,
    typer.Option("--match", help="Compare with the log and write amend proposals for review."),
]


def _check_numbers(timeout: float, max_age: float) -> None:
    from backtest.errors import MibError

    if not timeout > 0:
        raise MibError(
            "invalid --timeout", field="--timeout", value=timeout, expected="seconds > 0"
        )
    if not max_age >= 0:
        raise MibError(
            "invalid --max-age", field="--max-age", value=max_age, expected="seconds >= 0"
        )


def _default_out() -> Path:
    return Path("events") / "curation" / f"sources-{dt.datetime.now(dt.UTC):%Y-%m-%d}"


def _log_path(log: Path | None) -> Path:
    from backtest.eventlog.catalog import default_log_path

    return log if log is not None else default_log_path()


def _catalog(log: Path | None, uni: Universe) -> Catalog:
    from backtest.eventlog.catalog import load_catalog

    return load_catalog(_log_path(log), universe=uni)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def _cache(cache_dir: Path | None) -> SourceCache:
    from backtest.sources.http import SourceCache

    return SourceCache(cache_dir)


def _provenance_line(answer: Answer) -> str:
    when = "modified" if answer.via == "file" else "fetched"
    via = " (cached)" if answer.via == "cache" else ""
    return (
        f"{answer.origin}{via}: {len(answer.data):,} bytes, sha256 {answer.sha256[:16]}, "
        f"{when} {answer.fetched_at}"
    )


def _findings_table(findings: list[Finding]) -> str:
    rows = [
        [f.event_id, f.stage.split(" ")[0], f.status, " ".join(f.detail.split())[:110]]
        for f in findings
    ]
    return _table(["event", "stage", "status", "detail"], rows)


def _summary(findings: list[Finding]) -> str:
    from collections import Counter

    counts: Counter[str] = Counter(f.status for f in findings)
    order = ["propose", "pinned", "date-only", "conflict", "ambiguous", "no-filing", "not-covered"]
    parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
    return f"match: {len(findings)} stages compared: " + (", ".join(parts) or "nothing to compare")


# -- edgar ----------------------------------------------------------------------------


@app.command("edgar")
def edgar(
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbol", metavar="SYMBOL", help="Universe symbol with a cik (repeatable)."),
    ] = None,
    all_symbols: Annotated[
        bool, typer.Option("--all", help="Every universe security that has a cik.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="List filings on or after this date (--match still reads the whole document; "
            "over the network, older pages are fetched if DATE needs them).",
        ),
    ] = None,
    from_file: FromFileOpt = None,
    forms: Annotated[
        list[str] | None,
        typer.Option(
            "--form",
            metavar="FORM",
            help="Forms to list (repeatable; default 8-K, 6-K, 10-Q, 10-K and amendments).",
        ),
    ] = None,
    match: MatchOpt = False,
    out: OutOpt = None,
    log: LogOpt = None,
    universe: UniverseOpt = None,
    timeout: TimeoutOpt = 30.0,
    contact: ContactOpt = None,
    cache_dir: CacheDirOpt = None,
    max_age: MaxAgeOpt = 3600.0,
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url", metavar="URL", help="EDGAR data root (a mirror or a test server)."
        ),
    ] = "https://data.sec.gov",
) -> None:
    """List EDGAR filings with acceptance times (UTC); --match proposes exact filing stages.

    Reads data.sec.gov/submissions/CIK##########.json for each symbol's cik (events/
    universe.yaml), or --from-file a saved submissions document, one of its older pages
    or an EDGAR Atom feed.  Acceptance times: the submissions JSON's 'Z' is UTC (checked
    against the filing dates of every document read); times without an offset are US
    Eastern wall-clock time.
    """
    from backtest.sources.edgar import DEFAULT_FORMS
    from backtest.universe import load_universe

    _check_numbers(timeout, max_age)
    start = options.parse_date(since, "--since")
    uni = load_universe(universe)
    wanted = tuple(f.upper() for f in (forms or DEFAULT_FORMS))
    picked = _edgar_symbols(uni, symbols, all_symbols, bool(from_file))
    if from_file:
        loaded = [_edgar_from_file(uni, p, picked) for p in from_file]
    else:
        loaded = [
            _edgar_fetch(sec, start, timeout, contact, cache_dir, max_age, base_url)
            for sec in picked
        ]
    catalog = _catalog(log, uni) if match else None  # read before anything is written
    findings: list[Finding] = []
    for sec, filings, answers in loaded:
        _print_filings(sec, filings, answers, wanted, start)
        if catalog is not None:
            from backtest.sources.proposals import match_edgar

            found = match_edgar(catalog, sec, filings, answers[0], wanted)
            findings += found
    if catalog is None:
        return
    typer.echo("")
    if findings:
        typer.echo(_findings_table(findings))
    typer.echo(_summary(findings))
    for f in findings:
        for hint in f.hints:
            typer.echo(f"hint: {f.event_id}: {hint}")
    name = "edgar-" + "-".join(sorted({sec.symbol for sec, _, _ in loaded}))
    answers_all = [a for _, _, answers in loaded for a in answers]
    conventions = [
        {"symbol": sec.symbol, "cik": fl.cik, "name": fl.name, "convention": fl.convention.line()}
        for sec, fl, _ in loaded
    ]
    _write(out, name, "edgar", catalog, findings, answers_all, log, {"documents": conventions})


def _edgar_symbols(
    uni: Universe, symbols: list[str] | None, all_symbols: bool, from_file: bool
) -> list[Security]:
    from backtest.errors import MibError

    chosen: list[Security] = []
    for sym in symbols or ():
        if sym not in uni:
            raise MibError(
                "unknown symbol",
                field="--symbol",
                value=sym,
                expected="a symbol of the universe file",
            )
        chosen.append(uni[sym])
    if all_symbols:
        chosen += [s for s in uni.securities if s.cik and s not in chosen]
    if not chosen and not from_file:
        raise MibError(
            "nothing to read",
            field="--symbol",
            expected="--symbol SYMBOL (repeatable), --all, or --from-file PATH",
        )
    return chosen


def _edgar_from_file(
    uni: Universe, path: Path, picked: list[Security]
) -> tuple[Security, FilingList, list[Answer]]:
    from backtest.errors import MibError
    from backtest.sources.edgar import with_cik
    from backtest.sources.filings import parse_filings
    from backtest.sources.http import read_file

    answer = read_file(path)
    only = picked[0] if len(picked) == 1 else None
    filings = parse_filings(answer.data, str(path), only.cik if only else None)
    if filings.cik is None:
        if only is None or not only.cik:
            raise MibError(
                "this document names no CIK (an older submissions page)",
                file=path,
                expected="--symbol SYMBOL of a universe security with a cik",
            )
        filings = with_cik(filings, only.cik)
    assert filings.cik is not None
    owners = [s for s in uni.by_cik(filings.cik) if not picked or s in picked]
    if owners:
        return owners[0], filings, [answer]
    if only is not None and not only.cik:
        return only, filings, [answer]  # the universe has no cik for it yet: the file's is used
    named = f" ({filings.name})" if filings.name else ""
    if only is not None:
        raise MibError(
            f"the document is for CIK {filings.cik}{named}, not {only.symbol}'s CIK {only.cik}",
            file=path,
            expected=f"the EDGAR document of {only.symbol}, or the matching --symbol",
        )
    raise MibError(
        f"no universe security has CIK {filings.cik}{named}",
        file=path,
        expected="a 'cik' for it in events/universe.yaml, or --symbol SYMBOL",
    )


def _edgar_fetch(
    sec: Security,
    since: dt.date | None,
    timeout: float,
    contact: str | None,
    cache_dir: Path | None,
    max_age: float,
    base_url: str,
) -> tuple[Security, FilingList, list[Answer]]:
    from backtest.errors import MibError
    from backtest.sources.edgar import combine, submissions_url, with_cik
    from backtest.sources.filings import parse_filings
    from backtest.sources.http import contact_from, fetch, user_agent

    if not sec.cik:
        raise MibError(
            f"{sec.symbol} has no cik in the universe file",
            field="cik",
            value=sec.symbol,
            expected="cik: '##########' for it in events/universe.yaml (EDGAR company search "
            "gives it), or --from-file with its saved submissions document",
        )
    who = contact_from(contact)
    if who is None:
        raise MibError(
            "EDGAR requires a User-Agent that names a contact (sec.gov/os/accessing-edgar-data)",
            field="--contact",
            expected="--contact you@example.org, or MIB_CONTACT=you@example.org",
        )
    agent = user_agent(who)
    cache = _cache(cache_dir)
    url = submissions_url(sec.cik, base_url)
    first = fetch(url, agent=agent, timeout=timeout, cache=cache, max_age=max_age)
    filings = parse_filings(first.data, url)
    answers = [first]
    pages = []
    if since is not None and filings.first_date is not None and since < filings.first_date:
        for name, _lo, hi in filings.older_files:
            if hi and hi < since.isoformat():
                continue
            page_url = f"{base_url.rstrip('/')}/submissions/{name}"
            got = fetch(page_url, agent=agent, timeout=timeout, cache=cache, max_age=max_age)
            answers.append(got)
            pages.append(with_cik(parse_filings(got.data, page_url, sec.cik), sec.cik))
    return sec, combine(filings, pages), answers


def _print_filings(
    sec: Security,
    filings: FilingList,
    answers: list[Answer],
    forms: tuple[str, ...],
    since: dt.date | None,
) -> None:
    shown = filings.select(forms, since)
    typer.echo(
        f"{filings.name or sec.name} (CIK {filings.cik}, {sec.symbol}): {len(shown)} "
        f"{'/'.join(forms)} filings"
        + (f" since {since}" if since else "")
        + f" of {len(filings.filings)} in the document ({filings.first_date}..{filings.last_date})"
    )
    for a in answers:
        typer.echo(f"  source: {_provenance_line(a)}")
        if a.note:
            typer.echo(f"mib: warning: {a.note}", err=True)
    typer.echo(f"  {filings.convention.line()}")
    rows = []
    for f in shown:
        et = f.accepted_eastern
        rows.append(
            [
                f.form,
                f.accession,
                f.filing_date.isoformat(),
                f.accepted.strftime("%Y-%m-%dT%H:%M:%SZ") if f.accepted else "--",
                f"{et:%H:%M:%S} {et.tzname()}" if et else "--",
                ",".join(f.items),
                f.primary_document or "(index)",
            ]
        )
    if rows:
        typer.echo(
            _table(
                ["form", "accession", "filed", "accepted_utc", "eastern", "items", "document"], rows
            )
        )


# -- federal register -----------------------------------------------------------------


@app.command("federal-register")
def federal_register(
    agency: Annotated[
        str,
        typer.Option("--agency", metavar="SLUG", help="Federal Register agency slug."),
    ] = "industry-and-security-bureau",
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Documents published on or after this date (network default: 30 days ago).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="DATE", help="Published on or before this date."),
    ] = None,
    from_file: FromFileOpt = None,
    candidates: Annotated[
        bool,
        typer.Option(
            "--candidates",
            help="Write draft announce records for qualifying documents not yet in the log.",
        ),
    ] = False,
    match: MatchOpt = False,
    out: OutOpt = None,
    log: LogOpt = None,
    universe: UniverseOpt = None,
    timeout: TimeoutOpt = 30.0,
    contact: ContactOpt = None,
    cache_dir: CacheDirOpt = None,
    max_age: MaxAgeOpt = 3600.0,
    public_inspection: Annotated[
        bool,
        typer.Option(
            "--public-inspection/--no-public-inspection",
            help="Look up each relevant document's public-inspection time (network only).",
        ),
    ] = True,
    base_url: Annotated[
        str,
        typer.Option("--base-url", metavar="URL", help="API root (a mirror or a test server)."),
    ] = "https://www.federalregister.gov/api/v1",
) -> None:
    """List Federal Register documents with public-inspection and publication dates.

    --candidates drafts announce records (events/curation format, accepted by `mib events
    add` unchanged) for documents that match the qualification terms of events/README.md
    and are not in the log; --match proposes exact publication stages for documents
    already in it.  --from-file reads saved API answers (documents.json, a single
    document, public-inspection documents; repeatable, joined by document number).
    """
    from backtest.sources.federal_register import merge
    from backtest.universe import load_universe

    _check_numbers(timeout, max_age)
    start, end = options.parse_date(since, "--since"), options.parse_date(until, "--until")
    uni = load_universe(universe)
    catalog = _catalog(log, uni)  # read first: a broken log fails before any network call
    if from_file:
        answers, docs = _fr_from_files(from_file)
    else:
        answers, docs = _fr_fetch(
            agency,
            start,
            end,
            catalog,
            public_inspection,
            timeout,
            contact,
            cache_dir,
            max_age,
            base_url,
        )
    docs = [d for d in merge([docs]) if _fr_keep(d, agency, start, end)]
    _print_documents(docs, answers, catalog, agency)
    if not (candidates or match):
        return
    from backtest.sources.proposals import draft_events, match_federal_register

    findings = match_federal_register(catalog, docs, answers) if match else []
    report = draft_events(catalog, docs, answers) if candidates else None
    typer.echo("")
    if match:
        if findings:
            typer.echo(_findings_table(findings))
        typer.echo(_summary(findings))
    extra: dict[str, Any] = {}
    if report is not None:
        typer.echo(
            f"candidates: {len(report.drafts)} draft announce record(s)"
            + (": " + ", ".join(d["id"] for d in report.drafts) if report.drafts else "")
        )
        for number, why in report.skipped:
            typer.echo(f"  skipped FR Doc. {number}: {why}")
        extra["skipped"] = [{"document_number": n, "why": w} for n, w in report.skipped]
    _write(
        out,
        f"federal-register-{agency}",
        "federal-register",
        catalog,
        findings,
        answers,
        log,
        extra,
        drafts=list(report.drafts) if report is not None else None,
    )


def _fr_keep(doc: Any, agency: str, start: dt.date | None, end: dt.date | None) -> bool:
    if doc.agencies and agency not in doc.agencies:
        return False
    day = doc.publication_date or (doc.filed_at_eastern.date() if doc.filed_at else None)
    if day is None:
        return True
    return (start is None or day >= start) and (end is None or day <= end)


def _fr_from_files(paths: list[Path]) -> tuple[list[Answer], list[Any]]:
    from backtest.sources.federal_register import parse_answer
    from backtest.sources.http import read_file

    answers, docs = [], []
    for p in paths:
        answer = read_file(p)
        docs += list(parse_answer(answer.data, str(p)).documents)
        answers.append(answer)
    return answers, docs


def _fr_fetch(
    agency: str,
    start: dt.date | None,
    end: dt.date | None,
    catalog: Catalog | None,
    public_inspection: bool,
    timeout: float,
    contact: str | None,
    cache_dir: Path | None,
    max_age: float,
    base_url: str,
) -> tuple[list[Answer], list[Any]]:
    from backtest.sources.errors import SourceError
    from backtest.sources.federal_register import (
        documents_url,
        merge,
        parse_answer,
        public_inspection_url,
        qualification,
    )
    from backtest.sources.http import contact_from, fetch, user_agent
    from backtest.sources.proposals import fr_event_for

    agent = user_agent(contact_from(contact))
    cache = _cache(cache_dir)
    since = start or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30))
    url = documents_url(agency, since, end, base=base_url)
    answers: list[Answer] = []
    docs: list[Any] = []
    for _ in range(20):  # pages (1,000 documents each)
        got = fetch(url, agent=agent, timeout=timeout, cache=cache, max_age=max_age)
        page = parse_answer(got.data, url)
        answers.append(got)
        docs += list(page.documents)
        if not page.next_page_url:
            break
        url = page.next_page_url
    if not public_inspection:
        return answers, docs
    wanted = [
        d
        for d in merge([docs])
        if qualification(d).qualifies or (catalog is not None and fr_event_for(catalog, d)[0])
    ]
    for d in wanted[:100]:
        pi_url = public_inspection_url(d.document_number, base_url)
        try:
            got = fetch(pi_url, agent=agent, timeout=timeout, cache=cache, max_age=max_age)
        except SourceError:
            continue  # 404: no public-inspection record for this document
        answers.append(got)
        docs += list(parse_answer(got.data, pi_url).documents)
    return answers, docs


def _print_documents(
    docs: list[Any], answers: list[Answer], catalog: Catalog | None, agency: str
) -> None:
    from backtest.sources.proposals import fr_event_for

    typer.echo(f"Federal Register, agency {agency}: {len(docs)} documents")
    for a in answers:
        typer.echo(f"  source: {_provenance_line(a)}")
        if a.note:
            typer.echo(f"mib: warning: {a.note}", err=True)
    rows = []
    for d in docs:
        pi = d.filed_at_eastern
        in_log = "-"
        if catalog is not None:
            ev, how = fr_event_for(catalog, d)
            in_log = ev.id if ev is not None else ("?" if how != "not in the log" else "-")
        rows.append(
            [
                d.document_number,
                d.type,
                d.publication_date.isoformat() if d.publication_date else "--",
                f"{pi:%Y-%m-%d %H:%M} {pi.tzname()}" if pi else "--",
                d.effective_on.isoformat() if d.effective_on else "--",
                in_log,
                d.title[:70],
            ]
        )
    if rows:
        header = [
            "document",
            "type",
            "published",
            "public_inspection",
            "effective",
            "in_log",
            "title",
        ]
        typer.echo(_table(header, rows))
    if docs and not any(d.filed_at for d in docs):
        typer.echo(
            "  no public-inspection times in these answers (documents.json has none): fetch "
            "public-inspection-documents/NUMBER.json, or run without --from-file"
        )


# -- writing --------------------------------------------------------------------------


def _write(
    out: Path | None,
    name: str,
    command: str,
    catalog: Catalog,
    findings: list[Finding],
    answers: list[Answer],
    log: Path | None,
    extra: dict[str, Any],
    drafts: list[dict[str, Any]] | None = None,
) -> None:
    from backtest.sources.output import (
        amend_script,
        candidates_yaml,
        proposals_yaml,
        raw_files,
        write_folder,
        written_at,
    )

    target = out if out is not None else _default_out()
    log_arg = str(log) if log is not None else None
    stamp = written_at()
    header = [
        f"Written by `mib events sources {command}` at {stamp} against log {catalog.version}",
        f"({catalog.path}).  Proposals only: nothing here is in the log until applied.",
    ]
    body: dict[str, Any] = {
        "command": f"mib events sources {command}",
        "written_at": stamp,
        "log": {"path": str(catalog.path), "version": str(catalog.version)},
        "sources": [
            {**a.provenance(), "saved_as": n}
            for a, n in zip(answers, _raw_names(answers), strict=True)
        ],
        **extra,
        "proposals": [f.as_dict(log_arg) for f in findings if f.amendment is not None],
        "findings": [f.as_dict(log_arg) for f in findings if f.amendment is None],
    }
    files = {
        "proposals.yaml": proposals_yaml(header, body),
        "amend.sh": amend_script(findings, header, log_arg),
        **raw_files(answers),
    }
    if drafts:
        files["candidates.yaml"] = candidates_yaml(
            [
                *header,
                "Draft announce records: review each (type, direction, affected, stages), delete",
                "those that do not qualify, then: mib events add candidates.yaml",
            ],
            drafts,
        )
    folder = write_folder(target, name, files)
    n = sum(1 for f in findings if f.amendment is not None)
    typer.echo(
        f"wrote {folder}: {n} amend proposal(s) in amend.sh"
        + (f", {len(drafts)} draft(s) in candidates.yaml" if drafts else "")
        + "; review proposals.yaml before applying"
    )


def _raw_names(answers: list[Answer]) -> list[str]:
    from backtest.sources.output import raw_name

    return [raw_name(i, a) for i, a in enumerate(answers, 1)]
