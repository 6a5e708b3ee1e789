"""The report's PDF: WeasyPrint renders it in two parts on two cores, pypdf joins them.

The main body and the appendix are laid out as separate documents (WeasyPrint lays
out one document on one core), each page-numbered on its own ("page n of N",
"appendix page k of K").  The ranking's links into the appendix cross the two
documents, so each part records its links and anchors as plain numbers, and
:func:`join_parts` writes those links into the joined file.  Charts are handed to
WeasyPrint by a short key instead of their ``data:`` URI, which its HTML parser
would otherwise read character by character (0.7 s for the real-data report).

No network and no file access: the fetcher serves the report's own charts and
``data:`` URLs only.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["PdfPart", "html_to_pdf", "join_parts", "render_part", "warm"]

Rect = tuple[float, float, float, float]
PX_TO_PT = 0.75  # CSS pixels (WeasyPrint's layout unit) to PDF points
_CHART = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
_KEY = "mib-chart:"


@dataclass(frozen=True, slots=True)
class PdfPart:
    """One rendered part: the PDF, and its links and anchors in points from the
    page's bottom-left corner (PDF coordinates)."""

    pdf: bytes
    # (page index, anchor name, (x0, y0, x1, y1)) of every internal link
    links: tuple[tuple[int, str, Rect], ...]
    # anchor name -> (page index, x, y); the first occurrence
    anchors: dict[str, tuple[int, float, float]]


def _charts_by_key(html: str) -> tuple[str, dict[str, bytes]]:
    """The HTML with each embedded PNG replaced by a short key, and the PNGs by key."""
    images: dict[str, bytes] = {}

    def swap(m: re.Match[str]) -> str:
        key = f"{_KEY}{len(images)}"
        images[key] = base64.b64decode(m.group(1))
        return f'src="{key}"'

    return _CHART.sub(swap, html), images


def _fetcher(images: dict[str, bytes]) -> Any:
    """A WeasyPrint URL fetcher that serves ``images`` and ``data:`` URLs, nothing else."""
    try:  # WeasyPrint >= 66: a fetcher object
        from weasyprint.urls import URLFetcher, URLFetcherResponse

        class ChartFetcher(URLFetcher):  # type: ignore[misc]  # untyped base class
            def fetch(self, url: str, headers: Any = None) -> Any:
                if url in images:
                    return URLFetcherResponse(url, images[url], {"Content-Type": "image/png"})
                return super().fetch(url, headers)

        return ChartFetcher(allowed_protocols={"data"})
    except ImportError:  # older WeasyPrint: a plain function returning a dict
        from weasyprint.urls import default_url_fetcher

        def fetch(url: str) -> Any:
            if url in images:
                return {"string": images[url], "mime_type": "image/png"}
            if not url.startswith("data:"):
                raise ValueError(f"report refers to an external resource: {url}")
            return default_url_fetcher(url)

        return fetch


def _document(html: str) -> Any:
    """The laid-out WeasyPrint document of ``html``."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    keyed, images = _charts_by_key(html)
    return HTML(string=keyed, url_fetcher=_fetcher(images)).render()


def html_to_pdf(html: str) -> bytes:
    """One HTML document as one PDF (WeasyPrint); only the report's own images are fetched."""
    pdf: bytes = _document(html).write_pdf()
    return pdf


def render_part(html: str) -> PdfPart:
    """Lay out and write one part, keeping its internal links and anchors."""
    doc = _document(html)
    links: list[tuple[int, str, Rect]] = []
    anchors: dict[str, tuple[int, float, float]] = {}
    for i, page in enumerate(doc.pages):
        h = page.height
        for kind, target, (x0, y0, x1, y1), *_ in page.links:  # corners, from the top
            if kind == "internal":
                rect = (x0 * PX_TO_PT, (h - y1) * PX_TO_PT, x1 * PX_TO_PT, (h - y0) * PX_TO_PT)
                links.append((i, str(target), rect))
        for name, pos in page.anchors.items():  # (x, y), or (x0, y0, x1, y1) since v62
            x, y = pos[0], pos[1]
            anchors.setdefault(str(name), (i, x * PX_TO_PT, (h - y) * PX_TO_PT))
    return PdfPart(doc.write_pdf(), tuple(links), anchors)


def join_parts(*parts: PdfPart) -> bytes:
    """The parts as one PDF, in order: pages, outlines and metadata of each, and every
    internal link whose anchor lies in another part pointed at that anchor."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.annotations import Link
    from pypdf.generic import Fit

    writer = PdfWriter()
    offsets: list[int] = []
    anchors: dict[str, tuple[int, float, float]] = {}
    for part in parts:
        reader = PdfReader(io.BytesIO(part.pdf))
        offset = len(writer.pages)
        offsets.append(offset)
        writer.append(reader)
        if offset == 0 and reader.metadata:
            writer.add_metadata(dict(reader.metadata))
        for name, (page, x, y) in part.anchors.items():
            anchors.setdefault(name, (offset + page, x, y))
    for part, offset in zip(parts, offsets, strict=True):
        for page, target, rect in part.links:
            if target in part.anchors or target not in anchors:
                continue  # resolved inside its own part by WeasyPrint, or nowhere
            dest, x, y = anchors[target]
            link = Link(rect=rect, target_page_index=dest, fit=Fit.xyz(left=x, top=y))
            writer.add_annotation(page_number=offset + page, annotation=link)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def warm() -> None:
    """Import WeasyPrint and lay out a line of text (fonts found and loaded): done in the
    child that will render a part, while the report's context is still being built."""
    _document("<p>mib <b>0.0%</b> <code>x</code></p><table><tr><td>1</td></tr></table>")
