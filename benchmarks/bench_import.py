"""How long `import backtest` takes in a fresh interpreter (the budget is 0.3 s).

Prints the best and median of several fresh imports, and whether pandas was pulled in
(it must not be: the public API is imported lazily, on first use).

    .venv/bin/python benchmarks/bench_import.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys

CODE = (
    "import sys, time; t = time.perf_counter(); import backtest; "
    "print(time.perf_counter() - t, 'pandas' in sys.modules, 'numpy' in sys.modules)"
)
BUDGET_S = 0.3


def main(repeats: int = 7) -> None:
    times, heavy = [], set()
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
        ).stdout.split()
        times.append(float(out[0]))
        heavy |= {
            name for name, flag in zip(("pandas", "numpy"), out[1:], strict=True) if flag == "True"
        }
    best, median = min(times), statistics.median(times)
    print(
        f"import backtest: best {best * 1000:.1f} ms, median {median * 1000:.1f} ms "
        f"over {repeats} fresh interpreters (budget {BUDGET_S * 1000:.0f} ms)"
    )
    print("heavy modules imported:", ", ".join(sorted(heavy)) or "none")
    t0 = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.perf_counter(); import backtest; "
            "backtest.event_study; print(time.perf_counter() - t)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"first use of backtest.event_study (imports pandas, scipy, the study engine): "
        f"{float(t0) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
