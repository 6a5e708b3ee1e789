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
    """(Re)build report.html and report.pdf from a run folder's tables and run.json."""
    from backtest.report.build import build_report

    files = build_report(run_dir, pdf=not no_pdf)
    typer.echo(f"report: {files.html}")
    if files.pdf is not None:
        typer.echo(f"pdf:    {files.pdf}")
