"""Analysis-step benchmarks of ``mib run`` (run: .venv/bin/python benchmarks/bench_backtest.py
[--real] [--repeat N]).

Times, on the inputs of a run (demo market by default; ``--real`` the shared CSV prices
and Fama-French factors of ``../shared/data``), the three analysis steps the pipeline
calls: the main event study (with its 1,000 placebo draws), the robustness grid of
studies (models x day-0 policies) and the backtest with its robustness sweeps (entry
lag 0-5, hold 1-20, leave one event out: 88 configurations).  Loading, alignment and
the report are not timed here.

Measured before/after the speed work of issue 14 on the 2-core shared box, same
inputs, back to back (other sessions were running, so both columns are inflated
alike); "identical" means every table of every call equal to the last bit:

    step (demo)                         before     after
    7 studies (main + grid)             16.3 s     10.3-12.5 s
    backtest + robustness sweeps        31.7 s     12.7 s
    step (real data)
    8 studies (main + grid)             ~40 s      ~26 s
    backtest + robustness sweeps        ~56 s      ~18 s

Where the time went: vectorbt's pandas wrapping of ``Portfolio.value()`` (now its
kernels are called directly), the simulation of rows without orders (now only order
rows are simulated), re-planning the same legs for each left-out event (now the base
plan is filtered), duplicate base configurations, and per-cluster portfolio
arithmetic in the tests (now window-independent parts are kept per study view).
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import inspect  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from backtest import pipeline, steps  # noqa: E402


def _timed(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _call(fn: Callable[..., Any], *args: Any, **optional: Any) -> Any:
    """``fn`` with the optional keywords its signature accepts (steps evolve)."""
    params = inspect.signature(fn).parameters
    return fn(*args, **{k: v for k, v in optional.items() if k in params})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true", help="shared CSV prices and FF factors")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if args.real:
        spec = pipeline.RunSpec(
            source="csv",
            prices_dir="../shared/data/prices",
            factors_dir="../shared/data/factors",
        )
    else:
        spec = pipeline.RunSpec(source="demo")
    t = time.perf_counter()
    inp = pipeline.prepare_inputs(spec)
    print(f"inputs ({spec.source}): {time.perf_counter() - t:.1f} s (not part of the steps)")
    masks = steps.event_masks(inp.catalog, inp.universe, spec.stage)
    args_ = (inp.panel, inp.universe)
    study = _timed(
        lambda: _call(steps.study, *args_, inp.alignment, inp.catalog, spec, masks=masks),
        args.repeat,
    )
    print(f"main study (placebo included): {study:.2f} s")
    grid = _timed(
        lambda: _call(
            steps.spec_grid, *args_, inp.catalog, spec, alignment=inp.alignment, masks=masks
        ),
        args.repeat,
    )
    print(f"robustness grid of studies:    {grid:.2f} s")
    sweeps = _timed(lambda: steps.backtest(*args_, inp.alignment, spec), args.repeat)
    print(f"backtest + sweeps:             {sweeps:.2f} s")
    print(f"total analysis steps:          {study + grid + sweeps:.2f} s")


if __name__ == "__main__":
    main()
