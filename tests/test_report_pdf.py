"""The PDF in two parts: joined, it keeps every page, the cross-part links land where a
one-document rendering puts them, charts are embedded without their data: URIs, and
nothing outside the report is fetched."""

from __future__ import annotations

import base64
import io

import pytest

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")

from backtest.report.pdf import _charts_by_key, html_to_pdf, join_parts, render_part  # noqa: E402

STYLE = "<style>@page { size: A4; margin: 20mm } h2.page { break-before: page }</style>"
LINKS = "".join(f'<p><a href="#ev{k}">event {k}</a></p>' for k in range(3))
TARGETS = "".join(
    f'<div id="ev{k}" style="margin-top: {200 + 90 * k}px"><h3>event {k}</h3></div>'
    for k in range(3)
)
PNG = base64.b64encode(
    bytes.fromhex(  # a 1x1 red PNG
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
    )
).decode()


def _doc(body: str) -> str:
    return f"<html><head>{STYLE}</head><body>{body}</body></html>"


def _links(pdf: bytes) -> list[tuple[int, list[float], int, float]]:
    """(page, rect, destination page, destination top) of every link annotation."""
    r = pypdf.PdfReader(io.BytesIO(pdf))
    out = []
    for i, page in enumerate(r.pages):
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/Subtype") != "/Link":
                continue
            d = a["/Dest"]
            if isinstance(d, str):  # a named destination (WeasyPrint's own links)
                nd = r.named_destinations[d]
                dest, top = r.get_destination_page_number(nd), float(nd.top)
            else:
                dest, top = r.get_page_number(d[0].get_object()), float(d[3])
            x = [float(a["/Rect"][0]), float(a["/Rect"][2])]
            y = [float(a["/Rect"][1]), float(a["/Rect"][3])]
            out.append((i, [min(x), min(y), max(x), max(y)], dest, top))
    return out


def test_joined_parts_have_the_links_a_one_document_rendering_has():
    # Independent check: WeasyPrint resolves the same links itself when the two parts
    # are one document (the second part starting on a new page).
    whole = html_to_pdf(_doc(f"<h1>main</h1>{LINKS}<h2 class='page'>appendix</h2>{TARGETS}"))
    main = render_part(_doc(f"<h1>main</h1>{LINKS}"))
    appendix = render_part(_doc(f"<h2>appendix</h2>{TARGETS}"))
    assert len(main.links) == 3 and main.anchors == {}
    joined = join_parts(main, appendix)
    got, want = _links(joined), _links(whole)
    assert len(got) == len(want) == 3
    for (p1, r1, d1, t1), (p2, r2, d2, t2) in zip(got, want, strict=True):
        assert (p1, d1) == (p2, d2)
        assert r1 == pytest.approx(r2, abs=0.01)
        assert t1 == pytest.approx(t2, abs=0.01)
    assert len({(d, round(t)) for _, _, d, t in got}) == 3  # each link to its own anchor
    pages = len(pypdf.PdfReader(io.BytesIO(joined)).pages)
    assert pages == len(pypdf.PdfReader(io.BytesIO(whole)).pages) == 3


def test_a_link_without_its_anchor_anywhere_is_left_out_not_misdirected():
    main = render_part(_doc('<p><a href="#nowhere">x</a></p>'))
    joined = join_parts(main, render_part(_doc(TARGETS)))
    assert _links(joined) == []


def test_joined_pdf_keeps_the_outline_and_the_title():
    main = render_part(
        "<html><head><title>mib report R</title></head><body><h1>Summary</h1></body></html>"
    )
    appendix = render_part(_doc("<h2>Appendix A</h2>"))
    r = pypdf.PdfReader(io.BytesIO(join_parts(main, appendix)))
    assert r.metadata.title == "mib report R"
    titles = [o.title for o in r.outline if not isinstance(o, list)]
    assert titles == ["Summary", "Appendix A"]


def test_charts_are_handed_over_by_key_and_embedded():
    html = _doc(f'<img src="data:image/png;base64,{PNG}"><img src="data:image/png;base64,{PNG}">')
    keyed, images = _charts_by_key(html)
    assert "base64" not in keyed and len(images) == 2
    assert all(v == base64.b64decode(PNG) for v in images.values())
    page = pypdf.PdfReader(io.BytesIO(html_to_pdf(html))).pages[0]
    assert len(page.images) == 2


def test_nothing_outside_the_report_is_fetched(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(base64.b64decode(PNG))
    html = _doc(f'<img src="{secret.as_uri()}"><img src="http://127.0.0.1:9/x.png">')
    page = pypdf.PdfReader(io.BytesIO(html_to_pdf(html))).pages[0]
    assert len(page.images) == 0


def test_charts_are_rgb_pngs_with_savefigs_pixels():
    """charts.to_png writes an opaque figure as RGB with exactly the pixels matplotlib's
    savefig gives at the same dpi; a figure with transparency keeps its alpha."""
    import io

    import numpy as np
    from PIL import Image

    from backtest.report import charts

    def drawn(transparent: bool) -> object:
        fig, ax = charts.figure(4.0, 2.0)
        ax.plot([0, 1, 2], [0.0, 0.02, -0.01], label="CAAR")
        ax.set_title("signed CAAR, 95 % band", fontsize=charts.FONT)
        ax.legend(fontsize=charts.FONT)
        if transparent:
            fig.patch.set_alpha(0.0)
        return fig

    got = Image.open(io.BytesIO(charts.to_png(drawn(False), dpi=110)))
    buf = io.BytesIO()
    drawn(False).savefig(buf, format="png", dpi=110)
    want = np.asarray(Image.open(buf))
    assert got.mode == "RGB"
    assert (want[..., 3] == 255).all()
    assert np.array_equal(np.asarray(got), want[..., :3])
    assert Image.open(io.BytesIO(charts.to_png(drawn(True), dpi=110))).mode == "RGBA"
