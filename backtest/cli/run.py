"""`mib run`: the whole pipeline (prices, alignment, study, backtest, report)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from backtest.cli.options import (
    DEFAULT_HOLD,
    DEFAULT_OUT_ROOT,
    DEFAULT_PLACEBO,
    DEFAULT_SEED,
    DEFAULT_STAGE,
    DemoOpt,
    FromCacheOpt,
    HoldOpt,
    LaggedUsOpt,
    LogOpt,
    LogVersionOpt,
    OutRootOpt,
    PlaceboOpt,
    PricesDirOpt,
    RunBarsOpt,
    RunTzOpt,
    SeedOpt,
    StageOpt,
    UniverseFileOpt,
)

if TYPE_CHECKING:
    from rich.progress import TaskID

Confidence = Literal["low", "medium", "high"]
Overlap = Literal["merge", "first", "drop"]
ERROR_FINDINGS_SHOWN = 10


def _parse_window(text: str) -> tuple[int, int]:
    """``--window START:END``: :func:`backtest.study.spec.parse_window`, naming the option."""
    from backtest.study.spec import parse_window

    return parse_window(text, field="--window")


class StepProgress:
    """A spinner with the step and its elapsed time on stderr (rich), one step at a time.

    Call it with each step's description (the pipeline's progress callback).  On a
    terminal each finished step stays as one line with its duration; when stderr is
    not a terminal (a pipe, a file, a test) it prints nothing at all.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task: TaskID | None = None
        self._count = 0
        self._started = 0.0

    def __enter__(self) -> StepProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self._bar.stop()

    def __call__(self, message: str) -> None:
        import time

        self._finish()
        self._count += 1
        self._task = self._bar.add_task(f"[{self._count}] {message}", total=None)
        self._started = time.monotonic()

    def _finish(self) -> None:
        import time

        if self._task is None:
            return
        took = time.monotonic() - self._started
        text = self._bar.tasks[-1].description
        self._bar.remove_task(self._task)
        self._task = None
        if not self._bar.disable:
            self._bar.console.print(f"{text} ({took:.1f} s)", highlight=False, markup=False)


def step_printer() -> StepProgress:
    """The progress indicator every long command shares (use it as a context manager)."""
    return StepProgress()


def print_lines(lines: Iterable[str]) -> None:
    """Console notes on stderr, unwrapped and unstyled."""
    for line in lines:
        typer.echo(line, err=True)


def error_findings(run_dir: Path) -> list[str]:
    """``warning:`` lines for the error-level data findings of a run folder (first ten)."""
    import pandas as pd

    path = run_dir / "tables" / "findings.csv"
    if not path.is_file():
        return []
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:  # no findings and no header
        return []
    errors = frame[frame["severity"] == "error"] if "severity" in frame else frame.iloc[:0]
    lines = [
        f"warning: data check {r.check}: {r.symbol} {r.date}: {r.detail}".replace("  ", " ")
        for r in errors.head(ERROR_FINDINGS_SHOWN).itertuples()
    ]
    if len(errors) > ERROR_FINDINGS_SHOWN:
        lines.append(
            f"warning: {len(errors) - ERROR_FINDINGS_SHOWN} more error-level data findings "
            f"in {path}"
        )
    return lines


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        demo: DemoOpt = False,
        prices_dir: PricesDirOpt = None,
        factors_dir: Annotated[
            Path | None,
            typer.Option(
                "--factors-dir",
                help="Folder of Ken French daily factor CSVs (adds a "
                "Fama-French 3-factor model to the robustness grid).",
            ),
        ] = None,
        from_cache: FromCacheOpt = False,
        stage: StageOpt = DEFAULT_STAGE,
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
        log: LogOpt = None,
        log_version: LogVersionOpt = None,
        universe: UniverseFileOpt = None,
        window: Annotated[
            list[str] | None, typer.Option("--window", help="Event window START:END (repeatable).")
        ] = None,
        seed: SeedOpt = DEFAULT_SEED,
        placebo: PlaceboOpt = DEFAULT_PLACEBO,
        hold: HoldOpt = DEFAULT_HOLD,
        out: OutRootOpt = DEFAULT_OUT_ROOT,
        no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Skip the PDF.")] = False,
        bars: RunBarsOpt = None,
        tz: RunTzOpt = None,
        lagged_us: LaggedUsOpt = False,
    ) -> None:
        """Run the whole pipeline and write reports/<run-id>/ (HTML, PDF, tables, run.json).

        Without --demo, prices come from Yahoo Finance (yfinance), from --prices-dir, or
        from the local cache with --from-cache; if the source cannot be reached mib stops:
        it never substitutes synthetic prices.
        """
        from typing import cast

        from backtest.cli.options import (
            bars_choice,
            check_choice,
            log_version_number,
            price_choice,
        )
        from backtest.errors import SpecError
        from backtest.pipeline import run_pipeline
        from backtest.runspec import DEFAULT_WINDOWS, RunSpec, stage_choice

        prices = price_choice(demo, prices_dir, from_cache)
        bars_dirs, bars_tz = bars_choice(bars, tz)
        check_choice(overlap, ("merge", "first", "drop"), "--overlap")
        check_choice(min_confidence, ("low", "medium", "high"), "--min-confidence")
        windows = tuple(_parse_window(w) for w in window) if window else DEFAULT_WINDOWS
        if factors_dir is not None and not factors_dir.is_dir():
            raise SpecError(
                "factors directory not found",
                field="--factors-dir",
                value=str(factors_dir),
                expected="an existing directory",
            )
        spec = RunSpec(
            source=prices.source,
            prices_dir=prices.spec_dirs,
            factors_dir=str(factors_dir) if factors_dir else None,
            log_path=str(log) if log else None,
            log_version=log_version_number(log_version, log),
            universe_path=str(universe) if universe else None,
            stage=stage_choice(stage),
            min_confidence=cast(Confidence, min_confidence),
            overlap=cast(Overlap, overlap),
            seed=seed,
            windows=windows,
            placebo_draws=placebo,
            hold=hold,
            out_root=str(out),
            pdf=not no_pdf,
            bars_dirs=bars_dirs,
            bars_tz=bars_tz,
            lagged_us=lagged_us,
        )
        with step_printer() as progress:
            outcome = run_pipeline(spec, progress)
        print_lines(error_findings(outcome.run_dir))
        print_lines(outcome.notes)
        print_lines(outcome.summary)
        typer.echo(f"report: {outcome.html}")
        if outcome.pdf is not None:
            typer.echo(f"pdf:    {outcome.pdf}")
        typer.echo(f"tables: {outcome.run_dir / 'tables'}")
