"""Intraday timings: import of every shared intraday folder (< 10 s) and a one-event study (< 2 s).

Run: .venv/bin/python benchmarks/bench_intraday.py [PATH-TO-shared/data/intraday]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from backtest.eventlog import load_catalog
from backtest.intraday.reaction import study_event
from backtest.intraday.series import read_bar_dirs

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "intraday"


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    dirs = sorted(p for p in root.iterdir() if p.is_dir())
    t0 = time.perf_counter()
    bars = read_bar_dirs(dirs, tz="America/New_York", known_symbols={"^GSPC"})
    t1 = time.perf_counter()
    n = sum(len(s.frame) for s in bars.all_series())
    print(
        f"import: {len(dirs)} folders, {len(bars.all_series())} series, {n:,} bars "
        f"in {t1 - t0:.2f} s (target < 10 s)"
    )
    ev = {e.id: e for e in load_catalog().events}
    for eid, sub in (
        ("nvda-2025-04-15-h20-licence-8k", ["et_ext_michael545_excerpts", "et_5m_Uwater1"]),
        ("nvda-2025-07-14-h20-sales-resumption", ["et_5m_ext_Tanushree28"]),
    ):
        one = read_bar_dirs([root / d for d in sub], known_symbols={"^GSPC"})
        t2 = time.perf_counter()
        res = study_event(eid, ev[eid].chosen_stage("official"), one)
        t3 = time.perf_counter()
        print(
            f"study {eid}: {len(res.reactions)} securities, {len(res.paths)} path bars "
            f"in {t3 - t2:.2f} s (target < 2 s)"
        )


if __name__ == "__main__":
    main()
