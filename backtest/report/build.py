"""Build ``report.html`` and ``report.pdf`` from a run folder (a pure function of its tables).

The context of every section comes from :mod:`backtest.report.sections`, the PDF
from :mod:`backtest.report.pdf`; this module renders the template and writes the
files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.report.sections import report_context

if TYPE_CHECKING:
    from backtest.background import Background
    from backtest.report.pdf import PdfPart
    from backtest.runio import Run

__all__ = [
    "ReportFiles",
    "build_report",
    "pdf_renderer",
    "render_html",
    "render_report",
    "report_context",
]


@dataclass(frozen=True, slots=True)
class ReportFiles:
    html: Path
    pdf: Path | None


def _template() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("backtest.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return env.get_template("report.html.j2")


def _render(ctx: dict[str, Any], part: str = "all") -> str:
    html: str = _template().render(**ctx, part=part)
    return html


def render_html(run: Run) -> str:
    """The report's HTML for a loaded run."""
    return _render(report_context(run))


def pdf_renderer() -> Background[PdfPart]:
    """A child process that imports WeasyPrint and loads its fonts at once, then lays
    out the HTML it is given as one PDF part (:func:`backtest.report.pdf.render_part`).

    :func:`render_report` starts one itself; the pipeline starts it earlier, when the
    study ends, so the warm-up runs on the core the finishing backtest leaves idle.
    """
    from backtest.background import Background
    from backtest.report.pdf import render_part, warm

    return Background(render_part, deferred=True, warm=warm)


def render_report(
    run: Run, *, pdf: bool = True, renderer: Background[PdfPart] | None = None
) -> tuple[str, bytes | None]:
    """The report's HTML and (``pdf``) its PDF for a loaded run.

    The PDF's main body is rendered in a child process (``renderer``, or one started
    here by :func:`pdf_renderer`), warmed up before the context is built; this
    process renders the appendix meanwhile, and the two are joined
    (:mod:`backtest.report.pdf`).  A given ``renderer`` is used once and closed.
    """
    if not pdf:
        if renderer is not None:
            renderer.close()
        return render_html(run), None
    from backtest.report.pdf import join_parts, render_part

    with renderer if renderer is not None else pdf_renderer() as side:
        ctx = report_context(run)
        side.give(_render(ctx, "main"))
        appendix = render_part(_render(ctx, "appendix"))
        html = _render(ctx)
        main = side.result()
    return html, join_parts(main, appendix)


def build_report(
    run_dir: str | Path, *, pdf: bool = True, renderer: Background[PdfPart] | None = None
) -> ReportFiles:
    """Write ``report.html`` (self-contained) and ``report.pdf`` into ``run_dir``.

    The run folder is checked first: every table ``run.json`` lists must be present
    with its recorded SHA-256 (a damaged folder is refused, naming the first missing
    or changed table: :func:`backtest.runio.verify_run`), and the folder must be
    writable.  Each report file is replaced at once, so a failure (disk full) keeps
    the previous one.  ``renderer``: a PDF child already started
    (:func:`pdf_renderer`); its starter closes it too, should the report fail first.
    """
    from backtest.longlived import long_lived
    from backtest.runio import MB, OutputError, _atomic_write_bytes, check_writable_folder, load_run

    run = load_run(run_dir)
    check_writable_folder(run.path, field="RUN_DIR", need_bytes=8 * MB, what="the report")
    html_path = run.path / "report.html"
    pdf_path = run.path / "report.pdf" if pdf else None
    with long_lived():  # the loaded run lives to the end: out of the collector's passes
        html, pdf_bytes = render_report(run, pdf=pdf, renderer=renderer)
    try:
        _atomic_write_bytes(html_path, html.encode("utf-8"))
        if pdf_path is not None and pdf_bytes is not None:
            _atomic_write_bytes(pdf_path, pdf_bytes)
    except OSError as exc:
        raise OutputError(
            f"writing the report failed: {exc.strerror or exc}; any earlier report is untouched",
            file=run.path,
            expected="free disk space and write permission",
        ) from exc
    return ReportFiles(html=html_path, pdf=pdf_path)
