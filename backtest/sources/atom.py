"""EDGAR Atom feeds (``browse-edgar?action=getcompany&CIK=...&type=8-K&output=atom``).

Each ``<entry>`` carries the form (``<category term="8-K">``), the accession
number, filing date, index URL and items (``<items-desc>items 5.03 and
9.01</items-desc>``) inside ``<content>``, and the acceptance time in
``<updated>`` with its UTC offset (``2026-06-12T16:05:07-04:00``), which is
taken as written.  The feed names the company in ``<company-info><cik>``.
A feed lists no primary document; the filing index is cited instead.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from backtest.sources.edgar import (
    EXPECTED_SUBMISSIONS,
    Filing,
    FilingList,
    check_convention,
    normalise_cik,
    parse_acceptance,
)
from backtest.sources.errors import SourceError
from backtest.sources.formats import clean_text, load_xml

ATOM = "{http://www.w3.org/2005/Atom}"
_ITEM = re.compile(r"\b\d{1,2}\.\d{2}\b")
_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")


def _text(node: ET.Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path.replace("a:", ATOM))
    return clean_text((found.text or "").strip()) if found is not None else ""


def parse_atom(data: bytes, where: str) -> FilingList:
    """Filings of an EDGAR company Atom feed."""
    root = load_xml(data, where, EXPECTED_SUBMISSIONS)
    if root.tag != f"{ATOM}feed":
        raise SourceError(
            f"not an Atom feed (root element {root.tag!r})",
            file=where,
            expected=EXPECTED_SUBMISSIONS,
        )
    info = root.find(f"{ATOM}company-info")
    raw_cik = _text(info, "a:cik")
    try:
        cik = normalise_cik(raw_cik) if raw_cik else None
    except ValueError as exc:
        raise SourceError(str(exc), file=where, field="company-info.cik") from None
    name = _text(info, "a:conformed-name")
    rows: list[tuple[str, dt.date, str, ET.Element]] = []
    for i, entry in enumerate(root.findall(f"{ATOM}entry")):
        content = entry.find(f"{ATOM}content")
        acc = _text(content, "a:accession-number")
        if not _ACCESSION.match(acc):
            raise SourceError(
                f"entry {i + 1}: accession number {acc!r} is malformed or missing",
                file=where,
                field="accession-number",
                expected="NNNNNNNNNN-YY-NNNNNN",
            )
        filed = _text(content, "a:filing-date")
        try:
            filed_date = dt.date.fromisoformat(filed)
        except ValueError:
            raise SourceError(
                f"entry {i + 1} ({acc}): filing date {filed!r} is not a date",
                file=where,
                field="filing-date",
                expected="YYYY-MM-DD",
            ) from None
        cat = entry.find(f"{ATOM}category")
        form = _text(content, "a:filing-type") or (cat.get("term", "") if cat is not None else "")
        rows.append((clean_text(form), filed_date, _text(entry, "a:updated"), entry))
    conv = check_convention([(f, d, u) for f, d, u, _ in rows], where)
    filings: list[Filing] = []
    for form, filed_date, updated, entry in rows:
        content = entry.find(f"{ATOM}content")
        acc = _text(content, "a:accession-number")
        try:
            accepted = parse_acceptance(updated, conv.reading)
        except ValueError as exc:
            raise SourceError(
                f"entry {acc}: {exc}",
                file=where,
                field="updated",
                expected="e.g. 2026-06-12T16:05:07-04:00",
            ) from None
        filings.append(
            Filing(
                cik=cik or "",
                accession=acc,
                form=form,
                filing_date=filed_date,
                accepted=accepted,
                accepted_raw=updated,
                items=tuple(_ITEM.findall(_text(content, "a:items-desc"))),
                description=_text(content, "a:form-name"),
                index_href=_text(content, "a:filing-href"),
            )
        )
    return FilingList(
        cik=cik,
        name=name,
        tickers=(),
        filings=tuple(filings),
        kind="atom",
        convention=conv,
        notes=("Atom feed: acceptance time from each entry's <updated> (explicit UTC offset)",),
    )
