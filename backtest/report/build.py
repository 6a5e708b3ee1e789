"""Build ``report.html`` and ``report.pdf`` from a run folder (a pure function of its tables).

The context of every section comes from :mod:`backtest.report.sections`; this
module renders the template and writes the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.report.sections import report_context

if TYPE_CHECKING:
    from backtest.runio import Run

__all__ = ["ReportFiles", "build_report", "html_to_pdf", "render_html", "report_context"]


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


def render_html(run: Run) -> str:
    """The report's HTML for a loaded run."""
    html: str = _template().render(**report_context(run))
    return html


def build_report(run_dir: str | Path, *, pdf: bool = True) -> ReportFiles:
    """Write ``report.html`` (self-contained) and ``report.pdf`` into ``run_dir``.

    The run folder is checked first: every table ``run.json`` lists must be present
    with its recorded SHA-256 (a damaged folder is refused, naming the first missing
    or changed table: :func:`backtest.runio.verify_run`), and the folder must be
    writable.  Each report file is replaced at once, so a failure (disk full) keeps
    the previous one.
    """
    from backtest.runio import MB, OutputError, _atomic_write_bytes, check_writable_folder, load_run

    run = load_run(run_dir)
    check_writable_folder(run.path, field="RUN_DIR", need_bytes=8 * MB, what="the report")
    html = render_html(run)
    html_path = run.path / "report.html"
    pdf_path = run.path / "report.pdf" if pdf else None
    try:
        _atomic_write_bytes(html_path, html.encode("utf-8"))
        if pdf_path is not None:
            _atomic_write_bytes(pdf_path, html_to_pdf(html))
    except OSError as exc:
        raise OutputError(
            f"writing the report failed: {exc.strerror or exc}; any earlier report is untouched",
            file=run.path,
            expected="free disk space and write permission",
        ) from exc
    return ReportFiles(html=html_path, pdf=pdf_path)


def html_to_pdf(html: str) -> bytes:
    """Render the report HTML to PDF with WeasyPrint; only ``data:`` URLs are fetched."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    try:  # WeasyPrint >= 66: a fetcher object restricted to data: URLs
        from weasyprint.urls import URLFetcher

        fetcher: Any = URLFetcher(allowed_protocols={"data"})
    except ImportError:  # older WeasyPrint: a plain function
        from weasyprint.urls import default_url_fetcher

        def fetcher(url: str) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"report refers to an external resource: {url}")
            return default_url_fetcher(url)

    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf
