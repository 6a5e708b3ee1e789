"""`mib report` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("build")
def build(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `mib run`.")],
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Only the HTML report.")] = False,
) -> None:
    """(Re)build report.html and report.pdf from a run folder's tables and run.json.

    The tables must match the list and SHA-256 hashes in run.json: a damaged run
    folder is refused, naming the first missing or changed table.  A run folder
    written before hashes were recorded is built with a warning.
    """
    import warnings

    from backtest.report.build import build_report
    from backtest.runio import UnverifiedRunWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnverifiedRunWarning)
        files = build_report(run_dir, pdf=not no_pdf)
    for w in caught:
        if issubclass(w.category, UnverifiedRunWarning):
            typer.echo(f"mib: warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    typer.echo(f"report: {files.html}")
    if files.pdf is not None:
        typer.echo(f"pdf:    {files.pdf}")
