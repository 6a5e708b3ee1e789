"""Warm timings of a whole run, step by step: the demo and (if present) the real-data run.

    .venv/bin/python benchmarks/bench_run.py            # demo, then ../shared real data
    .venv/bin/python benchmarks/bench_run.py --demo-only
    .venv/bin/python benchmarks/bench_run.py --cli        # also `mib run` as a new process
    .venv/bin/python benchmarks/bench_run.py --cli-only --repeats 5

Each run is done twice in one process (the first warms imports, numba caches and
the exchange calendars) and the second is reported: wall-clock seconds between
the pipeline's progress messages, then the HTML and PDF of the report timed
separately, with the PDF's page count.  Timings depend on what else runs on the
machine; quote them with the load average printed at the end.

``--cli`` also times the command a user types, ``mib run ...`` as a new process
(interpreter start, imports, numba's cached kernels, everything): a warm-up run,
then ``--repeats`` timed runs with the same caches, reported as their median and
range (run-to-run spread on this machine is one to three seconds) with the CPU
seconds of all the run's processes.

The machine's own speed drifts too: the same build has taken 11 s in one hour and 21 s
in another here.  So the script times a fixed single-core workload (pure Python and
numpy, :func:`calibration`) before and after, and prints it: compare runs at similar
calibration times, or interleave the builds being compared.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


def timed_run(spec_kwargs: dict[str, object], out: Path) -> tuple[list[tuple[str, float]], Path]:
    """One pipeline run without the PDF; seconds per progress step and the run folder."""
    from backtest.pipeline import RunSpec, run_pipeline

    marks: list[tuple[str, float]] = []

    def say(msg: str) -> None:
        marks.append((msg, time.perf_counter()))

    t0 = time.perf_counter()
    outcome = run_pipeline(RunSpec(**spec_kwargs, out_root=str(out), pdf=False), say)
    end = time.perf_counter()
    steps = []
    for k, (msg, t) in enumerate(marks):
        nxt = marks[k + 1][1] if k + 1 < len(marks) else end
        steps.append((msg.split(",")[0][:60], nxt - t))
    steps.insert(0, ("(start)", (marks[0][1] if marks else end) - t0))
    return steps, outcome.run_dir


def report_times(run_dir: Path) -> tuple[float, float, int]:
    """Seconds to render the HTML alone, seconds to render HTML and PDF together (the
    PDF's two parts on two cores, as ``mib run`` does), and PDF pages."""
    from backtest.report.build import render_report
    from backtest.runio import load_run

    t0 = time.perf_counter()
    render_report(load_run(run_dir), pdf=False)
    t1 = time.perf_counter()
    _, pdf = render_report(load_run(run_dir), pdf=True)
    t2 = time.perf_counter()
    try:
        from pypdf import PdfReader

        pages = len(PdfReader(io.BytesIO(pdf or b"")).pages)
    except ImportError:
        pages = -1
    return t1 - t0, t2 - t1, pages


def bench(name: str, spec_kwargs: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        timed_run(spec_kwargs, Path(tmp) / "warm")
        steps, run_dir = timed_run(spec_kwargs, Path(tmp) / "timed")
        html_s, both_s, pages = report_times(run_dir)
    # The pipeline ran without the PDF: its last step (the report) is replaced by the
    # report with the PDF, timed on the same run folder.
    total = sum(s for _, s in steps[:-1]) + both_s
    print(f"\n{name}: {total:.1f} s warm, PDF included ({pages} PDF pages)")
    for msg, s in steps:
        print(f"  {s:6.1f} s  {msg}")
    print(f"  {html_s:6.1f} s  report HTML alone (the step above)")
    print(f"  {both_s:6.1f} s  report HTML and PDF (WeasyPrint, two parts on two cores)")


def calibration() -> float:
    """Seconds of a fixed single-core workload (a Python loop and a numpy sort): how fast
    the machine is at the moment, to read the other figures against."""
    import numpy as np

    data = np.random.default_rng(0).standard_normal(4_000_000)
    t0 = time.perf_counter()
    total = 0
    for k in range(4_000_000):
        total += k * k % 7
    np.sort(data)
    return time.perf_counter() - t0


def bench_cli(name: str, args: list[str], repeats: int) -> None:
    """``mib ARGS`` as a new process: one warm-up run, then ``repeats`` timed runs; the
    median and range of their wall-clock seconds, and the CPU seconds they used (all
    of the run's processes, user + system)."""
    import resource
    import statistics

    mib = Path(sys.executable).parent / "mib"
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeats + 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            done = subprocess.run(
                [str(mib), *args, "--out", tmp], capture_output=True, text=True, check=False
            )
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode:
                print(f"\n{name}: mib exited {done.returncode}: {done.stderr.strip()[-300:]}")
                return
            if k:  # the first run warms the caches
                walls.append(wall)
                cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    print(
        f"\n{name} as a new process, {repeats} warm runs: median {statistics.median(walls):.1f} s "
        f"(range {min(walls):.1f}-{max(walls):.1f} s); CPU {statistics.median(cpus):.1f} s "
        "(median, all processes)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-only", action="store_true")
    parser.add_argument("--cli", action="store_true", help="also time `mib run` as a new process")
    parser.add_argument(
        "--cli-only", action="store_true", help="only time `mib run` as a new process"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each command")
    args = parser.parse_args()
    os.chdir(REPO)
    print(f"calibration (fixed single-core workload): {calibration():.2f} s")
    real = not args.demo_only and (SHARED / "prices").is_dir()
    if args.cli_only:
        args.cli = True
    else:
        bench_in_process(real)
    if args.cli:
        bench_cli("mib run --demo", ["run", "--demo"], args.repeats)
        if real:
            bench_cli(
                "mib run --prices-dir ../shared/data/prices --factors-dir ../shared/data/factors",
                [
                    "run",
                    "--prices-dir",
                    str(SHARED / "prices"),
                    "--factors-dir",
                    str(SHARED / "factors"),
                ],
                args.repeats,
            )
    print(f"\ncalibration again: {calibration():.2f} s")
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    return 0


def bench_in_process(real: bool) -> None:
    bench("demo (mib run --demo)", {"source": "demo"})
    if real:
        bench(
            "real data (mib run --prices-dir ../shared/data/prices --factors-dir ...)",
            {
                "source": "csv",
                "prices_dir": str(SHARED / "prices"),
                "factors_dir": str(SHARED / "factors"),
            },
        )


if __name__ == "__main__":
    sys.exit(main())
