"""Any EDGAR filing list, whatever its form: the submissions JSON or an Atom feed.

The two parsers live in :mod:`backtest.sources.edgar` (JSON) and
:mod:`backtest.sources.atom` (Atom, built on the JSON parser's types); this module
only tells them apart, so neither has to import the other's caller.
"""

from __future__ import annotations

from backtest.sources.atom import parse_atom
from backtest.sources.edgar import FilingList, parse_submissions
from backtest.sources.formats import looks_like_html


def parse_filings(data: bytes, where: str, cik: str | None = None) -> FilingList:
    """A submissions document, one of its older pages, or an Atom feed (sniffed).

    XML that is not an HTML page is read as Atom; everything else as the JSON
    submissions document (whose parser names the file and what it expected).
    """
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:5]
    if head.startswith(b"<") and not looks_like_html(data):
        return parse_atom(data, where)
    return parse_submissions(data, where, cik)
