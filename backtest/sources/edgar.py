"""EDGAR filings: the submissions document, acceptance times and their time zone.

The submissions document (``https://data.sec.gov/submissions/CIK##########.json``)
lists a company's filings as parallel arrays under ``filings.recent``
(``accessionNumber``, ``filingDate``, ``acceptanceDateTime``, ``form``,
``items``, ``primaryDocument``, ...), at most 1,000 of them; older filings are on
the pages named in ``filings.files`` (``CIK##########-submissions-001.json``,
the same arrays at the top level).

**Acceptance times and their zone.**  EDGAR writes acceptance times three ways:

* ``acceptanceDateTime`` in the submissions JSON, e.g.
  ``2023-10-17T21:27:14.000Z``.  The ``Z`` is honoured: it is **UTC**.  This
  was checked on the shared NVIDIA and AMD documents rather than assumed: under
  Regulation S-T Rule 13(a)(4) a filing accepted on a business day by 17:30
  Eastern (22:00 for the Section 16 forms 3, 4 and 5) is dated that day, any
  later one the next business day (:func:`expected_filing_date`).  Read as UTC,
  every one of the 661 (NVIDIA) and 828 (AMD) 8-K, 10-Q, 10-K and Section 16
  filings carries exactly the filing date the rule gives (e.g. NVIDIA's 8-K
  0001045810-25-000179, ``2025-06-30T22:35:29Z`` = 18:35 EDT, is dated
  2025-07-01); read as Eastern wall-clock time, 368 and 192 of them would not
  (NVIDIA's 8-K ``2026-08-26T20:21:19Z`` would be 20:21 Eastern yet dated the
  same day).  PROVENANCE.md of the shared data
  agrees (``2023-10-17T21:27:14.000Z`` is the 17:27:14 EDT of the filing's
  own header).  Because a capture or a mirror could carry Eastern wall-clock
  time behind a misleading ``Z``, :func:`check_convention` repeats this test
  on every document read and picks the reading its filing dates support
  (refusing a document that contradicts both).
* The SEC header's ``ACCEPTANCE-DATETIME: 20231017172714`` and the filing
  index page's "Accepted 2023-10-17 17:27:14": **no offset, Eastern wall-clock
  time** (``America/New_York``, EST or EDT as the date requires; EDGAR accepts
  filings 06:00-22:00 on business days, so the ambiguous and missing hours of
  a DST change never occur).
* The Atom feed's ``<updated>2026-06-12T16:05:07-04:00</updated>``: an explicit
  offset, taken as written.

Every instant is converted to UTC with :mod:`zoneinfo`, never with a fixed
offset.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from backtest.sources.errors import SourceError
from backtest.sources.formats import clean_text, load_json

EASTERN = ZoneInfo("America/New_York")
EDGAR_DATA = "https://data.sec.gov"
ARCHIVES = "https://www.sec.gov/Archives/edgar/data"
DEFAULT_FORMS: tuple[str, ...] = (
    "8-K",
    "8-K/A",
    "6-K",
    "6-K/A",
    "10-Q",
    "10-Q/A",
    "10-K",
    "10-K/A",
)
"""Forms listed by default: current reports and periodic reports (``--form`` to change)."""
DISCLOSURE_FORMS: tuple[str, ...] = ("8-K", "8-K/A", "6-K", "6-K/A")
"""Current reports: preferred when a date holds several filings."""

_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")
_ACCESSION_ANY = re.compile(r"\b(\d{10})-(\d{2})-(\d{6})\b")
_COMPACT_ET = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$")
_NAIVE_ET = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_OFFSET = re.compile(r"[+-]\d{2}:?\d{2}$")
_ITEM = re.compile(r"\b\d{1,2}\.\d{2}\b")

# Forms whose filing date follows the 17:30 Eastern cut-off, and the Section 16
# forms that may be filed until 22:00 (Regulation S-T Rule 13(a)(4)).  Other
# forms (CORRESP, UPLOAD, EFFECT, 144, ...) follow other rules and are not used
# to test the convention.
_CUTOFF_1730 = frozenset(
    f + a for f in ("8-K", "10-K", "10-Q", "6-K", "20-F", "40-F") for a in ("", "/A")
)
_CUTOFF_2200 = frozenset(f + a for f in ("3", "4", "5") for a in ("", "/A"))

Reading = Literal["utc", "eastern"]
EXPECTED_SUBMISSIONS = (
    "an EDGAR submissions document (data.sec.gov/submissions/CIK##########.json) "
    "or an EDGAR Atom feed"
)


def normalise_cik(value: object) -> str:
    """A CIK as the 10-digit zero-padded string EDGAR uses (``2488`` -> ``0000002488``)."""
    text = str(value).strip()
    if text.upper().startswith("CIK"):
        text = text[3:]
    if not text.isdigit() or len(text) > 10 or int(text) == 0:
        raise ValueError(f"not a CIK: {value!r} (expected up to 10 digits, e.g. 0001045810)")
    return text.zfill(10)


def submissions_url(cik: str, base: str = EDGAR_DATA) -> str:
    return f"{base.rstrip('/')}/submissions/CIK{normalise_cik(cik)}.json"


def accessions_in(text: str) -> set[str]:
    """Accession numbers (``0001045810-22-000146``) quoted in a text."""
    return {"-".join(m.groups()) for m in _ACCESSION_ANY.finditer(text or "")}


@dataclass(frozen=True, slots=True)
class Filing:
    """One filing: form, accession number, dates and the acceptance instant (UTC)."""

    cik: str
    accession: str
    form: str
    filing_date: dt.date
    accepted: dt.datetime | None  # aware, UTC
    accepted_raw: str
    report_date: str = ""
    items: tuple[str, ...] = ()
    primary_document: str = ""
    description: str = ""
    index_href: str = ""

    @property
    def accepted_eastern(self) -> dt.datetime | None:
        return self.accepted.astimezone(EASTERN) if self.accepted is not None else None

    @property
    def folder_url(self) -> str:
        return f"{ARCHIVES}/{int(self.cik)}/{self.accession.replace('-', '')}"

    @property
    def index_url(self) -> str:
        return self.index_href or f"{self.folder_url}/{self.accession}-index.htm"

    @property
    def document_url(self) -> str:
        """The primary document if named, else the filing index."""
        if self.primary_document:
            return f"{self.folder_url}/{self.primary_document}"
        return self.index_url


@dataclass(frozen=True, slots=True)
class Convention:
    """How a document's acceptance times are read, and the filing-date evidence for it."""

    reading: Reading
    checked: int
    utc_contradictions: int
    eastern_contradictions: int
    zulu_values: int = 0

    def line(self) -> str:
        if not self.zulu_values:
            return "acceptance times carry their UTC offset (taken as written)"
        how = (
            "UTC (the 'Z' honoured)"
            if self.reading == "utc"
            else "US Eastern wall-clock time (the 'Z' is misleading)"
        )
        if not self.checked:
            return f"acceptance times read as {how}; no filings near the cut-off to test it"
        return (
            f"acceptance times read as {how}: of {self.checked} filings with a known filing-date "
            f"cut-off, {self.utc_contradictions} contradict the UTC reading and "
            f"{self.eastern_contradictions} the Eastern one"
        )


@dataclass(frozen=True, slots=True)
class FilingList:
    """The filings of one company from one document (submissions JSON or Atom feed)."""

    cik: str | None
    name: str
    tickers: tuple[str, ...]
    filings: tuple[Filing, ...]
    kind: Literal["submissions", "submissions-page", "atom"]
    convention: Convention
    older_pages: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    older_files: tuple[tuple[str, str, str], ...] = ()  # (name, filingFrom, filingTo)

    @property
    def first_date(self) -> dt.date | None:
        return min((f.filing_date for f in self.filings), default=None)

    @property
    def last_date(self) -> dt.date | None:
        return max((f.filing_date for f in self.filings), default=None)

    def select(self, forms: Iterable[str], since: dt.date | None = None) -> tuple[Filing, ...]:
        wanted = {f.upper() for f in forms}
        return tuple(
            f
            for f in self.filings
            if f.form.upper() in wanted and (since is None or f.filing_date >= since)
        )

    def by_accession(self, accession: str) -> Filing | None:
        return next((f for f in self.filings if f.accession == accession), None)


# -- acceptance times ----------------------------------------------------------------


def parse_acceptance(text: str, zulu: Reading = "utc") -> dt.datetime | None:
    """The acceptance instant in UTC; ``zulu`` says how a trailing ``Z`` is read.

    No offset (``20231017172714``, ``2023-10-17 17:27:14``): Eastern wall-clock
    time.  An explicit offset: as written.  Empty: None.
    """
    raw = (text or "").strip()
    if not raw:
        return None
    m = _COMPACT_ET.match(raw)
    if m:
        y, mo, d, h, mi, s = (int(x) for x in m.groups())
        return dt.datetime(y, mo, d, h, mi, s, tzinfo=EASTERN).astimezone(dt.UTC)
    if _NAIVE_ET.match(raw):
        naive = dt.datetime.fromisoformat(raw.replace(" ", "T"))
        return naive.replace(tzinfo=EASTERN).astimezone(dt.UTC)
    if raw.endswith(("Z", "z")):
        naive = dt.datetime.fromisoformat(raw[:-1])
        zone = dt.UTC if zulu == "utc" else EASTERN
        return naive.replace(tzinfo=zone).astimezone(dt.UTC)
    if _OFFSET.search(raw):
        return dt.datetime.fromisoformat(raw).astimezone(dt.UTC)
    raise ValueError(f"unrecognised acceptance time {raw!r}")


def federal_holidays(year: int) -> frozenset[dt.date]:
    """US federal holidays as observed (EDGAR does not accept filings on them).

    Ad hoc closures (days of mourning, extra Christmas Eves) are not included; the
    convention test tolerates the few filings they move.
    """

    def nth(month: int, weekday: int, n: int) -> dt.date:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    def last(month: int, weekday: int) -> dt.date:
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        return end - dt.timedelta(days=(end.weekday() - weekday) % 7)

    def observed(d: dt.date) -> dt.date:
        return (
            d - dt.timedelta(days=1)
            if d.weekday() == 5
            else d + dt.timedelta(days=d.weekday() == 6)
        )

    fixed = [(1, 1), (7, 4), (11, 11), (12, 25)] + ([(6, 19)] if year >= 2021 else [])
    days = {observed(dt.date(year, m, d)) for m, d in fixed}
    days |= {nth(1, 0, 3), nth(2, 0, 3), last(5, 0), nth(9, 0, 1), nth(10, 0, 2), nth(11, 3, 4)}
    if dt.date(year + 1, 1, 1).weekday() == 5:  # New Year's Day observed on 31 December
        days.add(dt.date(year, 12, 31))
    return frozenset(d for d in days if d.year == year)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in federal_holidays(day.year)


def expected_filing_date(form: str, eastern: dt.datetime) -> dt.date | None:
    """The filing date EDGAR gives a filing accepted at ``eastern`` (None: rule unknown).

    Regulation S-T Rule 13(a)(4): accepted on a business day by 17:30 Eastern
    (22:00 for the Section 16 forms 3, 4 and 5), the same day; otherwise the next
    business day.
    """
    form = form.upper()
    if form in _CUTOFF_1730:
        cutoff = dt.time(17, 30)
    elif form in _CUTOFF_2200:
        cutoff = dt.time(22, 0)
    else:
        return None
    day = eastern.date()
    if is_business_day(day) and eastern.time() <= cutoff:
        return day
    day += dt.timedelta(days=1)
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def _contradicts(form: str, filing_date: dt.date, eastern: dt.datetime) -> bool | None:
    """Whether a filing date is not the one EDGAR gives at this Eastern acceptance time."""
    expected = expected_filing_date(form, eastern)
    return None if expected is None else expected != filing_date


def check_convention(rows: Sequence[tuple[str, dt.date, str]], where: str) -> Convention:
    """Read ``Z`` acceptance times as UTC or Eastern, whichever the filing dates support.

    ``rows`` are ``(form, filing_date, acceptanceDateTime)``.  Only values ending
    in ``Z`` are ambiguous; a document whose dates contradict both readings is
    refused.
    """
    checked = utc_bad = east_bad = zulu = 0
    for form, filed, raw in rows:
        if not raw.strip().upper().endswith("Z"):
            continue
        zulu += 1
        try:
            as_utc = parse_acceptance(raw, "utc")
            as_east = parse_acceptance(raw, "eastern")
        except ValueError:
            continue
        assert as_utc is not None and as_east is not None
        a = _contradicts(form, filed, as_utc.astimezone(EASTERN))
        b = _contradicts(form, filed, as_east.astimezone(EASTERN))
        if a is None or b is None:
            continue
        checked += 1
        utc_bad += a
        east_bad += b
    reading: Reading = "utc" if utc_bad <= east_bad else "eastern"
    bad = min(utc_bad, east_bad)
    if checked and bad > max(1, checked // 100):
        raise SourceError(
            f"acceptance times contradict the filing dates whether read as UTC ({utc_bad} of "
            f"{checked}) or as Eastern time ({east_bad} of {checked}): the document is damaged "
            "or not what it claims to be",
            file=where,
            expected="an EDGAR document whose filing dates follow the 17:30 ET cut-off",
        )
    return Convention(reading, checked, utc_bad, east_bad, zulu)


# -- the submissions document --------------------------------------------------------

_REQUIRED = ("accessionNumber", "filingDate", "acceptanceDateTime", "form")
_OPTIONAL = ("reportDate", "items", "primaryDocument", "primaryDocDescription")


def _arrays(block: Any, where: str, label: str) -> dict[str, list[Any]]:
    if not isinstance(block, dict):
        raise SourceError(
            f"{label} is not a mapping of arrays", file=where, expected=EXPECTED_SUBMISSIONS
        )
    missing = [k for k in _REQUIRED if k not in block]
    if missing:
        raise SourceError(
            f"{label} lacks {', '.join(missing)}", file=where, expected=EXPECTED_SUBMISSIONS
        )
    cols = {k: block[k] for k in (*_REQUIRED, *_OPTIONAL) if k in block}
    bad = [k for k, v in cols.items() if not isinstance(v, list)]
    if bad:
        raise SourceError(
            f"{label}.{bad[0]} is not an array", file=where, expected=EXPECTED_SUBMISSIONS
        )
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} {n}" for k, n in lengths.items())
        raise SourceError(
            f"{label} arrays differ in length ({shown}): a damaged or hand-edited document",
            file=where,
            expected="arrays of one length, one entry per filing",
        )
    return cols


def parse_submissions(data: bytes, where: str, cik: str | None = None) -> FilingList:
    """Filings of a submissions document (or of one of its older pages)."""
    doc = load_json(data, where, EXPECTED_SUBMISSIONS)
    if not isinstance(doc, dict):
        raise SourceError(
            f"not an EDGAR submissions document (a JSON {type(doc).__name__})",
            file=where,
            expected=EXPECTED_SUBMISSIONS,
        )
    older: tuple[str, ...] = ()
    older_files: tuple[tuple[str, str, str], ...] = ()
    if "filings" in doc:
        filings = doc["filings"]
        recent = filings.get("recent") if isinstance(filings, dict) else None
        cols = _arrays(recent, where, "filings.recent")
        files = filings.get("files") or [] if isinstance(filings, dict) else []
        older_files = tuple(
            (str(f.get("name")), str(f.get("filingFrom", "")), str(f.get("filingTo", "")))
            for f in files
            if isinstance(f, dict) and f.get("name")
        )
        older = tuple(f"{n} ({a}..{b})" for n, a, b in older_files)
        kind: Literal["submissions", "submissions-page"] = "submissions"
        doc_cik = doc.get("cik")
    elif "accessionNumber" in doc:
        cols = _arrays(doc, where, "page")
        kind = "submissions-page"
        doc_cik = cik
    else:
        hint = " (a Federal Register answer?)" if "results" in doc else ""
        raise SourceError(
            f"not an EDGAR submissions document: no 'filings.recent'{hint}",
            file=where,
            expected=EXPECTED_SUBMISSIONS,
        )
    try:
        the_cik = normalise_cik(doc_cik) if doc_cik not in (None, "") else None
    except ValueError as exc:
        raise SourceError(str(exc), file=where, field="cik") from None
    n = len(cols["accessionNumber"])
    dates: list[dt.date] = []
    for i in range(n):
        acc, filed = cols["accessionNumber"][i], cols["filingDate"][i]
        if not isinstance(acc, str) or not _ACCESSION.match(acc):
            raise SourceError(
                f"entry {i}: accession number {acc!r} is malformed",
                file=where,
                field="accessionNumber",
                expected="NNNNNNNNNN-YY-NNNNNN",
            )
        try:
            dates.append(dt.date.fromisoformat(str(filed)))
        except ValueError:
            raise SourceError(
                f"entry {i} ({acc}): filing date {filed!r} is not a date",
                file=where,
                field="filingDate",
                expected="YYYY-MM-DD",
            ) from None
    raws = [str(x or "") for x in cols["acceptanceDateTime"]]
    conv = check_convention([(str(cols["form"][i]), dates[i], raws[i]) for i in range(n)], where)
    out: list[Filing] = []
    for i in range(n):
        try:
            accepted = parse_acceptance(raws[i], conv.reading)
        except ValueError as exc:
            raise SourceError(
                f"entry {i} ({cols['accessionNumber'][i]}): {exc}",
                file=where,
                field="acceptanceDateTime",
                expected="e.g. 2023-10-17T21:27:14.000Z",
            ) from None
        items = str(cols.get("items", [""] * n)[i] or "")
        out.append(
            Filing(
                cik=the_cik or "",
                accession=cols["accessionNumber"][i],
                form=clean_text(str(cols["form"][i])),
                filing_date=dates[i],
                accepted=accepted,
                accepted_raw=raws[i],
                report_date=str(cols.get("reportDate", [""] * n)[i] or ""),
                items=tuple(_ITEM.findall(items)),
                primary_document=clean_text(str(cols.get("primaryDocument", [""] * n)[i] or "")),
                description=clean_text(str(cols.get("primaryDocDescription", [""] * n)[i] or "")),
            )
        )
    raw_tickers = doc.get("tickers")
    tickers = raw_tickers if isinstance(raw_tickers, list) else []
    return FilingList(
        cik=the_cik,
        name=clean_text(str(doc.get("name") or "")),
        tickers=tuple(clean_text(str(t)) for t in tickers),
        filings=tuple(out),
        kind=kind,
        convention=conv,
        older_pages=older,
        older_files=older_files,
    )


def combine(main: FilingList, pages: Sequence[FilingList]) -> FilingList:
    """The recent filings plus older pages (each filing once, newest first)."""
    seen = {f.accession for f in main.filings}
    extra = [f for p in pages for f in p.filings if f.accession not in seen]
    merged = sorted((*main.filings, *extra), key=lambda f: f.filing_date, reverse=True)
    return replace(main, filings=tuple(merged))


def with_cik(filings: FilingList, cik: str) -> FilingList:
    """A page without its own CIK, attributed to ``cik``."""
    fixed = tuple(replace(f, cik=cik) for f in filings.filings)
    return replace(filings, cik=cik, filings=fixed)
