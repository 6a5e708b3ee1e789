"""`mib run`: the whole pipeline (prices, alignment, study, backtest, report)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer


def _parse_window(text: str) -> tuple[int, int]:
    from backtest.errors import SpecError

    try:
        a, b = (int(x) for x in text.split(":"))
    except ValueError:
        raise SpecError(
            "bad window",
            field="--window",
            value=text,
            expected="START:END in sessions, e.g. -1:1 or 0:5",
        ) from None
    if a > b:
        raise SpecError(
            "window starts after it ends", field="--window", value=text, expected="START <= END"
        )
    return a, b


def step_printer() -> Callable[[str], None]:
    """A progress callback printing ``[k] step ...`` lines on stderr (shared by commands)."""
    from rich.console import Console

    console = Console(stderr=True)
    count = [0]

    def progress(msg: str) -> None:
        count[0] += 1
        console.print(f"[bold cyan][{count[0]}][/] {msg} ...", highlight=False, soft_wrap=True)

    return progress


def print_lines(lines: Iterable[str]) -> None:
    """Console notes on stderr, unwrapped and unstyled."""
    for line in lines:
        typer.echo(line, err=True)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        demo: Annotated[
            bool,
            typer.Option("--demo", help="Run offline on the synthetic market (planted effects)."),
        ] = False,
        prices_dir: Annotated[
            list[Path] | None,
            typer.Option(
                "--prices-dir",
                help="Directory of CSV price files (<SYMBOL>.csv). Repeat it to "
                "combine sources: each symbol's files are stitched on "
                "returns, the first directory winning where they overlap; "
                "a join whose returns disagree is refused and reported.",
            ),
        ] = None,
        factors_dir: Annotated[
            Path | None,
            typer.Option(
                "--factors-dir",
                help="Folder of Ken French daily factor CSVs (adds a "
                "Fama-French 3-factor model to the robustness grid).",
            ),
        ] = None,
        from_cache: Annotated[
            bool,
            typer.Option("--from-cache", help="Use prices already in the local cache (offline)."),
        ] = False,
        stage: Annotated[
            str,
            typer.Option(
                help="Event stage to study: official (earliest of announcement, filing, "
                "publication), first (leaks included), leak, announcement, filing, "
                "publication or effective."
            ),
        ] = "official",
        min_confidence: Annotated[
            str,
            typer.Option(
                "--min-confidence",
                help="Pool only events of at least this confidence: low, "
                "medium (default) or high. Excluded events keep their "
                "per-event results; confounders are never pooled.",
            ),
        ] = "medium",
        overlap: Annotated[
            str,
            typer.Option(
                "--overlap",
                help="A security-day shared by several events, in pooled "
                "statistics: merge (default: once; excluded when the events "
                "expect opposite signs), first, or drop.",
            ),
        ] = "merge",
        log: Annotated[
            Path | None,
            typer.Option("--log", help="Event log file (default events/export_controls.yaml)."),
        ] = None,
        log_version: Annotated[
            int | None,
            typer.Option("--log-version", help="Rebuild the catalog as of this log version."),
        ] = None,
        window: Annotated[
            list[str] | None, typer.Option("--window", help="Event window START:END (repeatable).")
        ] = None,
        seed: Annotated[
            int, typer.Option(help="Seed of the synthetic market and of placebo draws.")
        ] = 7,
        placebo: Annotated[
            int, typer.Option("--placebo", help="Placebo draws for clustered-date inference.")
        ] = 1000,
        hold: Annotated[int, typer.Option(help="Backtest holding period, sessions.")] = 5,
        out: Annotated[Path, typer.Option(help="Folder for run folders.")] = Path("reports"),
        no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Skip the PDF.")] = False,
    ) -> None:
        """Run the whole pipeline and write reports/<run-id>/ (HTML, PDF, tables, run.json).

        Without --demo, prices come from Yahoo Finance (yfinance), from --prices-dir, or
        from the local cache with --from-cache; if the source cannot be reached mib stops:
        it never substitutes synthetic prices.
        """
        from backtest.errors import SpecError
        from backtest.pipeline import (
            DEFAULT_WINDOWS,
            RunSpec,
            check_seed,
            price_source,
            run_pipeline,
        )

        dirs = list(prices_dir or [])
        source = price_source(demo=demo, prices_dirs=dirs, from_cache=from_cache)
        if overlap not in ("merge", "first", "drop"):
            raise SpecError(
                "unknown overlap policy",
                field="--overlap",
                value=overlap,
                expected="merge, first or drop",
            )
        if min_confidence not in ("low", "medium", "high"):
            raise SpecError(
                "unknown confidence level",
                field="--min-confidence",
                value=min_confidence,
                expected="low, medium or high",
            )
        check_seed(seed)
        if placebo < 0:
            raise SpecError(
                "negative number of placebo draws",
                field="--placebo",
                value=placebo,
                expected="an integer >= 0 (0 = none)",
            )
        dirs_spec = (
            None if not dirs else str(dirs[0]) if len(dirs) == 1 else tuple(str(d) for d in dirs)
        )
        windows = tuple(_parse_window(w) for w in window) if window else DEFAULT_WINDOWS
        if factors_dir is not None and not factors_dir.is_dir():
            raise SpecError(
                "factors directory not found",
                field="--factors-dir",
                value=str(factors_dir),
                expected="an existing directory",
            )
        spec = RunSpec(
            source=source,
            prices_dir=dirs_spec,
            factors_dir=str(factors_dir) if factors_dir else None,
            log_path=str(log) if log else None,
            log_version=log_version,
            stage=stage,
            min_confidence=min_confidence,  # type: ignore[arg-type]
            overlap=overlap,  # type: ignore[arg-type]
            seed=seed,
            windows=windows,
            placebo_draws=placebo,
            hold=hold,
            out_root=str(out),
            pdf=not no_pdf,
        )
        progress = step_printer()
        outcome = run_pipeline(spec, progress)
        print_lines(outcome.notes)
        print_lines(outcome.summary)
        typer.echo(f"report: {outcome.html}")
        if outcome.pdf is not None:
            typer.echo(f"pdf:    {outcome.pdf}")
        typer.echo(f"tables: {outcome.run_dir / 'tables'}")
