"""`mib run`: the whole pipeline (prices, alignment, study, backtest, report)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run() -> None:
        """Run the whole pipeline."""
