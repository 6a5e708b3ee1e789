"""Decoding source answers: JSON or XML, with one clear error for anything else.

A saved or fetched answer may be empty, cut off (a browser's "save" of a page
still loading, a dropped connection), an HTML page instead of the API's JSON
(an error, login or rate-limit page), or not the document asked for.  Each
case raises :class:`~backtest.sources.errors.SourceError` naming the file (or
URL) and what was expected, before anything is written.

XML is parsed with the standard library after refusing any ``<!DOCTYPE`` or
``<!ENTITY`` declaration: EDGAR's Atom feeds have none, and refusing them
closes entity-expansion ("billion laughs") and external-entity attacks.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from backtest.sources.errors import SourceError

_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--|<title|<p>|<div)", re.I)
_DECL = re.compile(rb"<!(doctype|entity)", re.I)


def _head(data: bytes) -> bytes:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")


def looks_like_html(data: bytes) -> bool:
    """True for an HTML page (error, block or login page) rather than an API answer."""
    return bool(_HTML_START.match(_head(data)[:200]))


def _html_title(data: bytes) -> str:
    m = re.search(rb"<title[^>]*>(.*?)</title>", data[:20_000], re.I | re.S)
    if not m:
        return ""
    text = re.sub(r"\s+", " ", m.group(1).decode("utf-8", "replace")).strip()
    return clean_text(text)[:80]


def clean_text(text: str) -> str:
    """``text`` without control characters other than newline and tab (safe for a terminal)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", "", text)


def load_json(data: bytes, where: str, expected: str) -> Any:
    """Parse a JSON answer; empty, HTML, truncated or malformed input is one clear error."""
    head = _head(data)
    if not head:
        raise SourceError("empty answer (0 bytes of JSON)", file=where, expected=expected)
    if looks_like_html(head):
        title = _html_title(head)
        raise SourceError(
            "got an HTML page, not JSON"
            + (f" (title {title!r})" if title else "")
            + ": an error, block or rate-limit page was saved or served instead of the API answer",
            file=where,
            expected=expected,
        )
    if head.startswith(b"<"):
        raise SourceError("got XML, not JSON", file=where, expected=expected)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=where, expected=expected
        ) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise SourceError("JSON nested too deeply", file=where, expected=expected) from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string"):
            raise SourceError(
                f"truncated JSON: the answer ends inside a value after {len(data):,} bytes "
                "(a cut-off download or an incomplete save)",
                file=where,
                line=exc.lineno,
                expected=expected + ", saved completely",
            ) from None
        raise SourceError(
            f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            file=where,
            line=exc.lineno,
            expected=expected,
        ) from None


def load_xml(data: bytes, where: str, expected: str) -> ET.Element:
    """Parse an XML answer (no DTDs, no entities); HTML, truncated or malformed is one error."""
    head = _head(data)
    if not head:
        raise SourceError("empty answer (0 bytes of XML)", file=where, expected=expected)
    if looks_like_html(head) and not head.startswith(b"<?xml"):
        title = _html_title(head)
        raise SourceError(
            "got an HTML page, not an Atom feed" + (f" (title {title!r})" if title else ""),
            file=where,
            expected=expected,
        )
    if _DECL.search(data):
        raise SourceError(
            "XML with a DOCTYPE or ENTITY declaration is refused (entity expansion)",
            file=where,
            expected=expected + " without <!DOCTYPE>/<!ENTITY>",
        )
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (None, None))
        msg = str(exc).split(":")[0]
        if msg in ("no element found", "unclosed token") or (
            line is not None and line >= data.count(b"\n") + 1 and "not well-formed" not in msg
        ):
            raise SourceError(
                f"truncated XML: {msg} at line {line}, column {col}",
                file=where,
                line=line,
                expected=expected + ", saved completely",
            ) from None
        raise SourceError(
            f"malformed XML: {msg} (line {line}, column {col})",
            file=where,
            line=line,
            expected=expected,
        ) from None
