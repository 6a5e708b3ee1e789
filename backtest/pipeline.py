"""The whole run: catalog -> alignment -> prices -> study -> backtest -> tables -> report.

Orchestration only: the spec is :mod:`backtest.runspec`, loading is
:mod:`backtest.inputs`, each step is one call into :mod:`backtest.steps`; this
module orders them, reports progress and writes the run folder.  Prices come
from exactly the source the spec names: a real run never falls back to
synthetic prices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from backtest import steps
from backtest.background import Background, Claims

# Re-exported: callers import the spec and the loaders from here (the CLI, the API, tests).
from backtest.inputs import Inputs as Inputs
from backtest.inputs import load_factors as load_factors
from backtest.inputs import load_prices_for as load_prices_for
from backtest.inputs import prepare_inputs
from backtest.runio import package_versions as package_versions
from backtest.runspec import DEFAULT_WINDOWS as DEFAULT_WINDOWS
from backtest.runspec import DEMO_PLANTS as DEMO_PLANTS
from backtest.runspec import RunSpec as RunSpec
from backtest.runspec import Source as Source
from backtest.runspec import check_seed as check_seed
from backtest.runspec import parse_day as parse_day
from backtest.runspec import price_source as price_source

Progress = Callable[[str], None]

# Free space a run folder needs before the run starts (the demo's is ~15 MB with its PDF).
RUN_FOLDER_BYTES = 64_000_000

__all__ = [
    "DEFAULT_WINDOWS",
    "DEMO_PLANTS",
    "RUN_FOLDER_BYTES",
    "Inputs",
    "RunOutcome",
    "RunSpec",
    "Source",
    "check_seed",
    "load_factors",
    "load_prices_for",
    "package_versions",
    "parse_day",
    "prepare_inputs",
    "price_source",
    "run_folder",
    "run_pipeline",
]


@dataclass(frozen=True)
class RunOutcome:
    """Where a finished run was written."""

    run_dir: Path
    html: Path
    pdf: Path | None
    tables: tuple[str, ...]
    summary: tuple[str, ...] = ()  # the sample used: events, securities, biggest losses
    notes: tuple[str, ...] = ()  # fallback benchmarks and other choices to say aloud


def _noop(_: str) -> None:
    return None


def new_run_id(spec: RunSpec, now: dt.datetime) -> str:
    """A sortable, unique-enough id: UTC time, source and seed."""
    return spec.run_id or f"{now:%Y%m%dT%H%M%S}-{spec.source}-s{spec.seed}"


def run_folder(spec: RunSpec, now: dt.datetime) -> Path:
    """``<out_root>/<run-id>``; an automatic id never reuses an existing folder."""
    root = Path(spec.out_root)
    base = new_run_id(spec, now)
    path, k = root / base, 1
    while spec.run_id is None and path.exists():
        k += 1
        path = root / f"{base}-{k}"
    return path


def run_pipeline(spec: RunSpec, progress: Progress | None = None) -> RunOutcome:
    """Run every step and write ``<out_root>/<run-id>/``; returns the paths written.

    The output folder is checked before any computation (writable, room for a run
    folder); the run folder is written into a hidden folder beside it and renamed
    into place at the end, so a failure leaves a complete run folder or none.
    Each step's results are kept out of the garbage collector's passes until the run
    ends (:mod:`backtest.longlived`).
    """
    from backtest.longlived import long_lived

    with long_lived(), ExitStack() as later:
        return _run_pipeline(spec, progress, later)


def _run_pipeline(spec: RunSpec, progress: Progress | None, later: ExitStack) -> RunOutcome:
    """:func:`run_pipeline`; ``later`` closes the PDF child when the run ends."""
    from backtest.longlived import settle
    from backtest.report import charts
    from backtest.report.build import build_report, pdf_renderer
    from backtest.runio import check_output_folder, staged_folder

    say = progress or _noop
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run_dir = run_folder(spec, now)
    check_output_folder(run_dir, field="--out", need_bytes=RUN_FOLDER_BYTES, what="a run folder")
    tables: dict[str, Any] = {}

    # The grid's day-0 policies, shared out between the child and this process: the
    # child computes one, then the backtest, then the others unless this process, done
    # with its own work first, has taken them.
    claims = Claims(len(steps.GRID_POLICIES))

    def backtest_and_grid(
        panel: Any, universe: Any, alignment: Any, catalog: Any, masks: Any
    ) -> tuple[dict[str, Any], dict[int, Any]]:
        claimed = iter(claims, None)

        def grid(which: Any) -> dict[int, Any]:
            return steps.grid_parts(
                panel, universe, catalog, spec, alignment=alignment, masks=masks, which=which
            )

        first = grid(islice(claimed, 1))
        backtest_tables = steps.backtest(panel, universe, alignment, spec)
        return backtest_tables, {**first, **grid(claimed)}

    # The backtest and the robustness grid run on the second core.  Their child starts
    # now and imports vectorbt (seconds) while this process loads the inputs.
    steps.preload()
    with Background(backtest_and_grid, deferred=True, warm=steps.warm_backtest) as side:
        say(
            "Loading the event log, aligning events to each exchange's sessions, loading prices"
            + (" (synthetic market)" if spec.source == "demo" else "")
        )
        inputs = prepare_inputs(spec)
        catalog, universe, alignment = inputs.catalog, inputs.universe, inputs.alignment
        panel, planted = inputs.panel, inputs.planted
        tables["events"] = steps.events_table(catalog)
        tables.update(steps.data_tables(panel, universe, alignment, planted))
        # Every catalog event's day 0 on every security, aligned once and shared by the
        # main study and every study of the robustness grid.
        masks = steps.event_masks(catalog, universe, spec.stage)
        side.give(panel, universe, alignment, catalog, masks)
        settle()
        say("Running the event study (robustness grid and backtest alongside, on a second core)")
        study = steps.study(
            panel, universe, alignment, catalog, spec, masks=masks, findings=tables["findings"]
        )
        tables.update(study)
        if not planted.empty:
            tables["plant_check"] = steps.plant_check(
                planted, study["ar"], alignment.instances, spec.plants
            )
        say("Robustness: model x window x test x day-0 policy; backtesting the event strategy")
        settle()
        # The child that will lay out the PDF's main body imports WeasyPrint and loads
        # its fonts (about 1.5 s) now, on the core the finishing backtest leaves idle.
        renderer = later.enter_context(pdf_renderer()) if spec.pdf else None
        # While the child finishes: matplotlib and its fonts (about 1 s) here, and the
        # study's tables turned into the bytes of their files (about 1 s) in a short-lived
        # child of their own (the backtest's core is mostly free by now).
        snapshot = dict(tables)
        with Background(partial(steps.table_bytes, snapshot)) as encoding:
            charts.warm()
            encoded = steps.with_bytes(snapshot, encoding.result())
        # Then the grid's policies the child has not started.
        grid = partial(
            steps.grid_parts, panel, universe, catalog, spec, alignment=alignment, masks=masks
        )
        mine = grid(which=iter(claims, None))
        backtest_tables, theirs = side.result()
    parts = {**theirs, **mine}
    missing = [k for k in range(len(steps.GRID_POLICIES)) if k not in parts]
    if missing:  # claimed by a child that then failed
        parts.update(grid(which=missing))
    tables["spec_grid"] = steps.assemble_grid(parts)
    tables.update(backtest_tables)
    if spec.bars_dirs:
        say("Intraday bars: minutes after the news")
        tables.update(steps.intraday(catalog, universe, spec))
    say("Writing tables and provenance")
    manifest = steps.manifest(spec, catalog, panel, universe, now, run_dir.name)
    with staged_folder(run_dir, replace=True) as stage:
        steps.write_run(stage, tables, manifest, encoded)
        say("Building the HTML and PDF report")
        files = build_report(stage, pdf=spec.pdf, renderer=renderer)
    return RunOutcome(
        run_dir=run_dir,
        html=run_dir / files.html.name,
        pdf=run_dir / files.pdf.name if files.pdf is not None else None,
        tables=tuple(sorted(tables)),
        summary=steps.sample_summary(tables),
        notes=steps.benchmark_notes(tables),
    )
