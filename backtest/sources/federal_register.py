"""Federal Register API answers: documents, public-inspection times, qualification.

The API is documented at https://www.federalregister.gov/developers/documentation/api/v1.
Two endpoints matter here:

* ``GET /api/v1/documents.json?conditions[agencies][]=industry-and-security-bureau
  &conditions[publication_date][gte]=YYYY-MM-DD&fields[]=...&per_page=...&order=oldest``
  answers ``{"count", "total_pages", "next_page_url", "results": [...]}``; a
  result has ``document_number``, ``type`` ("Rule", "Proposed Rule", "Notice",
  "Presidential Document"), ``title``, ``abstract``, ``publication_date``,
  ``effective_on``, ``html_url``, ``pdf_url``, ``public_inspection_pdf_url``,
  ``citation`` and ``agencies`` (objects with a ``slug``).  It gives no
  public-inspection time.
* ``GET /api/v1/public-inspection-documents/{document_number}.json`` (and the
  ``public-inspection-documents.json`` / ``current.json`` lists) gives
  ``filed_at``, the instant the document went on public inspection with its
  offset (``2025-04-25T08:45:00.000-04:00``) -- the first moment the text of a
  rule is public, usually a business day or more before ``publication_date``.

:func:`parse_answer` reads any of these (a list answer, a single document, or
a public-inspection answer) and :func:`merge` joins them by document number.
:func:`qualification` applies the terms of events/README.md "What qualifies".
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from backtest.sources.edgar import EASTERN
from backtest.sources.errors import SourceError
from backtest.sources.formats import clean_text, load_json

FR_API = "https://www.federalregister.gov/api/v1"
EXPECTED = (
    "a Federal Register API answer (documents.json, documents/NUMBER.json or "
    "public-inspection-documents JSON; https://www.federalregister.gov/developers/"
    "documentation/api/v1)"
)
FIELDS: tuple[str, ...] = (
    "document_number",
    "type",
    "title",
    "abstract",
    "action",
    "publication_date",
    "effective_on",
    "html_url",
    "pdf_url",
    "public_inspection_pdf_url",
    "citation",
    "agencies",
)
TYPE_NAMES = {
    "RULE": "Rule",
    "PRORULE": "Proposed Rule",
    "NOTICE": "Notice",
    "PRESDOCU": "Presidential Document",
}
AGENCY_AUTHORITY: dict[str, str] = {
    "industry-and-security-bureau": "US-BIS",
    "commerce-department": "US-Commerce",
    "executive-office-of-the-president": "US-President",
    "presidential-documents": "US-President",
    "treasury-department": "US-Treasury",
    "foreign-assets-control-office": "US-Treasury",
    "defense-department": "US-DoD",
    "trade-representative-office-of-united-states": "US-USTR",
    "state-department": "US-State",
}
"""Agency slug -> the log's ``authority`` (the most specific listed agency wins)."""
_DOC_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,30}$", re.I)


@dataclass(frozen=True, slots=True)
class FRDocument:
    """One Federal Register document, with its public-inspection time when known."""

    document_number: str
    type: str
    title: str
    abstract: str = ""
    action: str = ""
    publication_date: dt.date | None = None
    effective_on: dt.date | None = None
    filed_at: dt.datetime | None = None  # public inspection, aware
    html_url: str = ""
    pdf_url: str = ""
    public_inspection_pdf_url: str = ""
    citation: str = ""
    agencies: tuple[str, ...] = ()  # slugs, as listed

    @property
    def url(self) -> str:
        return self.html_url or f"https://www.federalregister.gov/d/{self.document_number}"

    @property
    def filed_at_eastern(self) -> dt.datetime | None:
        return self.filed_at.astimezone(EASTERN) if self.filed_at is not None else None

    @property
    def authority(self) -> str:
        for slug in reversed(self.agencies):  # the sub-agency is listed after its parent
            if slug in AGENCY_AUTHORITY:
                return AGENCY_AUTHORITY[slug]
        if self.type == "Presidential Document":
            return "US-President"
        return "US-Government"


@dataclass(frozen=True, slots=True)
class FRAnswer:
    documents: tuple[FRDocument, ...]
    count: int | None = None
    next_page_url: str = ""


def documents_url(
    agency: str,
    since: dt.date | None,
    until: dt.date | None = None,
    *,
    base: str = FR_API,
    per_page: int = 1000,
    term: str | None = None,
) -> str:
    """The ``documents.json`` search for one agency, oldest first, with the fields used here."""
    params: list[tuple[str, str]] = [("conditions[agencies][]", agency)]
    if since is not None:
        params.append(("conditions[publication_date][gte]", since.isoformat()))
    if until is not None:
        params.append(("conditions[publication_date][lte]", until.isoformat()))
    if term:
        params.append(("conditions[term]", term))
    params += [("fields[]", f) for f in FIELDS]
    params += [("per_page", str(per_page)), ("order", "oldest")]
    return f"{base.rstrip('/')}/documents.json?{urllib.parse.urlencode(params)}"


def public_inspection_url(document_number: str, base: str = FR_API) -> str:
    return (
        f"{base.rstrip('/')}/public-inspection-documents/{urllib.parse.quote(document_number)}.json"
    )


def _date(value: Any, where: str, field: str, number: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SourceError(
            f"document {number}: {field} {value!r} is not a date",
            file=where,
            field=field,
            expected="YYYY-MM-DD",
        ) from None


def _instant(value: Any, where: str, number: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SourceError(
            f"document {number}: filed_at {text!r} is not a timestamp",
            file=where,
            field="filed_at",
            expected="e.g. 2025-04-25T08:45:00.000-04:00",
        ) from None
    if parsed.utcoffset() is None:  # the Office of the Federal Register's clock: Eastern
        parsed = parsed.replace(tzinfo=EASTERN)
    return parsed


def _url(value: Any) -> str:
    text = clean_text(str(value or "")).strip()
    return text if text.startswith(("https://", "http://")) and " " not in text else ""


def _document(raw: Any, where: str, index: int) -> FRDocument:
    if not isinstance(raw, dict):
        raise SourceError(f"result {index + 1} is not an object", file=where, expected=EXPECTED)
    number = raw.get("document_number")
    if not isinstance(number, str) or not _DOC_NUMBER.match(number.strip()):
        raise SourceError(
            f"result {index + 1}: document_number {number!r} is missing or malformed",
            file=where,
            field="document_number",
            expected="e.g. 2025-17893",
        )
    number = number.strip()
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SourceError(
            f"document {number}: no title", file=where, field="title", expected="a title"
        )
    kind = clean_text(str(raw.get("type") or ""))
    agencies = raw.get("agencies") or []
    slugs = tuple(
        clean_text(str(a.get("slug"))) for a in agencies if isinstance(a, dict) and a.get("slug")
    )
    return FRDocument(
        document_number=number,
        type=TYPE_NAMES.get(kind.upper(), kind),
        title=" ".join(clean_text(title).split()),
        abstract=" ".join(clean_text(str(raw.get("abstract") or "")).split()),
        action=" ".join(clean_text(str(raw.get("action") or "")).split()),
        publication_date=_date(raw.get("publication_date"), where, "publication_date", number),
        effective_on=_date(raw.get("effective_on"), where, "effective_on", number),
        filed_at=_instant(raw.get("filed_at"), where, number),
        html_url=_url(raw.get("html_url")),
        pdf_url=_url(raw.get("pdf_url")),
        public_inspection_pdf_url=_url(raw.get("public_inspection_pdf_url")),
        citation=clean_text(str(raw.get("citation") or "")),
        agencies=slugs,
    )


def parse_answer(data: bytes, where: str) -> FRAnswer:
    """Documents of a list answer, a single-document answer or a public-inspection answer."""
    doc = load_json(data, where, EXPECTED)
    if isinstance(doc, dict) and "errors" in doc and "results" not in doc:
        raise SourceError(
            f"the API answered with an error: {clean_text(str(doc['errors']))[:200]}",
            file=where,
            expected=EXPECTED,
        )
    if isinstance(doc, dict) and "results" in doc:
        results = doc["results"]
        if not isinstance(results, list):
            raise SourceError("'results' is not a list", file=where, expected=EXPECTED)
        count = doc.get("count")
        next_url = doc.get("next_page_url")
        return FRAnswer(
            tuple(_document(r, where, i) for i, r in enumerate(results)),
            count if isinstance(count, int) else None,
            _url(next_url),
        )
    if isinstance(doc, dict) and "document_number" in doc:
        return FRAnswer((_document(doc, where, 0),), 1)
    if isinstance(doc, dict) and "filings" in doc:
        raise SourceError(
            "this is an EDGAR submissions document, not a Federal Register answer "
            "(use `mib events sources edgar --from-file`)",
            file=where,
            expected=EXPECTED,
        )
    raise SourceError(
        "not a Federal Register answer: no 'results' list and no 'document_number'",
        file=where,
        expected=EXPECTED,
    )


def merge(answers: Iterable[Sequence[FRDocument]]) -> tuple[FRDocument, ...]:
    """One document per number: fields missing in one answer filled from another."""
    out: dict[str, FRDocument] = {}
    for docs in answers:
        for d in docs:
            old = out.get(d.document_number)
            if old is None:
                out[d.document_number] = d
                continue
            filled = {
                name: getattr(d, name)
                for name in FRDocument.__dataclass_fields__
                if not getattr(old, name) and getattr(d, name)
            }
            out[d.document_number] = replace(old, **filled)
    return tuple(
        sorted(out.values(), key=lambda d: (d.publication_date or dt.date.max, d.document_number))
    )


# -- what qualifies (events/README.md) -------------------------------------------------

STRONG_TERMS: tuple[tuple[str, str], ...] = (
    ("advanced computing", r"advanced[- ]computing"),
    ("semiconductor manufacturing items", r"semiconductor manufacturing (items|equipment)"),
    ("foreign direct product", r"foreign[- ](?:produced )?direct[- ]product"),
    ("semiconductor", r"\bsemiconductors?\b"),
    ("integrated circuits", r"\bintegrated circuits?\b"),
    ("supercomputer", r"\bsupercomput"),
    ("artificial intelligence", r"\bartificial intelligence\b|\bAI (?:chips?|models?|diffusion)\b"),
    ("model weights", r"\bmodel weights\b"),
    ("high-bandwidth memory", r"\bhigh[- ]bandwidth memory\b|\bHBM\b"),
    ("validated end-user", r"\bvalidated end[- ]users?\b|\bVEU\b"),
    ("lithography", r"\blithograph"),
    ("chips", r"\bchips?\b"),
)
"""Terms of a policy action on AI chips, semiconductors or chip-making equipment."""
WEAK_TERMS: tuple[tuple[str, str], ...] = (("Entity List", r"\bentity list\b"),)
"""Terms that qualify only if the action concerns chips (checked by the reviewer)."""
EXCLUDE_TERMS: tuple[tuple[str, str], ...] = (
    ("information collection", r"information collection"),
    ("meeting notice", r"\bmeetings?\b"),
    ("Sunshine Act", r"sunshine act"),
    ("Privacy Act", r"privacy act"),
    (
        "denial order",
        r"\b(temporary )?denial (of export privileges|orders?)\b|denying export privileges",
    ),
    ("settlement", r"\bsettlement agreement\b"),
)
"""Routine documents that change nothing for chips (events/README.md: do not qualify)."""
QUALIFYING_TYPES = ("Rule", "Notice", "Presidential Document")


@dataclass(frozen=True, slots=True)
class Qualification:
    qualifies: bool
    strong: tuple[str, ...]
    weak: tuple[str, ...]
    excluded: tuple[str, ...]
    reason: str


def _found(terms: Sequence[tuple[str, str]], text: str) -> tuple[str, ...]:
    return tuple(name for name, rx in terms if re.search(rx, text, re.I))


def qualification(doc: FRDocument) -> Qualification:
    """Whether a document looks like a qualifying action, with the terms that decided it."""
    text = f"{doc.title}\n{doc.abstract}\n{doc.action}"
    strong, weak = _found(STRONG_TERMS, text), _found(WEAK_TERMS, text)
    excluded = _found(EXCLUDE_TERMS, doc.title)
    if doc.type not in QUALIFYING_TYPES:
        return Qualification(False, strong, weak, excluded, f"type {doc.type or '?'}")
    if excluded:
        return Qualification(False, strong, weak, excluded, f"routine ({', '.join(excluded)})")
    if not strong and not weak:
        return Qualification(False, strong, weak, excluded, "no qualifying term")
    return Qualification(True, strong, weak, excluded, ", ".join((*strong, *weak)))
