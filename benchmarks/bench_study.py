"""Study engine benchmarks (run: .venv/bin/python benchmarks/bench_study.py [--quick]).

1. The 500-security problem: one event, 250-day estimation window [-255, -6], 11-day
   event window [-5, +5], all window tests and the daily tests, in-process (target
   < 50 ms; placebo excluded, then timed separately with 1,000 draws).
2. The whole bring-your-own CLI command (`mib study run ...`) on the same problem,
   including Python start-up (target < 3 s).
3. 5,000 securities x 50 events with 1,000 placebo draws (target < 60 s, peak RSS
   < 4 GiB).
4. Size and power by simulation: >= 1,000 null studies with clustered dates and
   cross-correlated returns (5 % rejection of the portfolio test and KP-BMP), and
   power with a planted effect.

Before/after the issue-14 speed work (same box, back to back, other sessions running):
the 500-security problem 76-120 ms before, 94-112 ms after (one cluster: nothing to
share, within the noise); the studies of a demo run (main study with placebo + the
robustness grid, replayed on the same inputs) 16.3 s before, 10.3-12.5 s after, with
every table equal to the last bit.  What changed: the window-independent parts of the
portfolio, Kolari-Pynnönen and GRANK tests (each cluster portfolio's estimation
variance and daily returns, r-bar, estimation ranks) are computed once per study view
and kept in a per-view :class:`~backtest.study.clustering.StatsMemo` instead of
module-level caches; the portfolio test and the portfolio standard error of the CAAR
table share them.  benchmarks/bench_backtest.py times the steps of ``mib run``.
"""

from __future__ import annotations

import os

# one BLAS thread: the box is shared, and multithreaded BLAS on small arrays only adds
# contention (set before numpy is imported)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from backtest.study.engine import run_study  # noqa: E402
from backtest.study.spec import StudySpec  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def market(n_sec: int, T: int, seed: int, rho: float = 0.2):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2010-01-01", periods=T)
    m = rng.normal(0.0003, 0.01, T)
    common = rng.normal(0, 0.02, T)
    beta = rng.uniform(0.5, 1.5, n_sec)
    eps = rng.normal(0, 0.02, (T, n_sec))
    r = (
        0.0002
        + m[:, None] * beta[None, :]
        + np.sqrt(rho) * common[:, None]
        + np.sqrt(1 - rho) * eps
    )
    names = [f"S{i:04d}" for i in range(n_sec)]
    wide = pd.DataFrame(r, index=idx, columns=names)
    return wide, pd.Series(m, index=idx, name="market")


def bench_500() -> None:
    wide, m = market(500, 300, seed=1)
    rets = {c: wide[c] for c in wide}
    inst = pd.DataFrame({"event_id": "e", "security": wide.columns, "day0": wide.index[270]})
    spec = StudySpec(
        estimation=(-255, -6), windows=((-5, 5),), placebo_draws=0, min_estimation_obs=200
    )
    run_study(inst, rets, m, spec)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        res = run_study(inst, rets, m, spec)
        times.append(time.perf_counter() - t)
    print(
        f"500 securities, all tests ({len(res.tests)} test rows): "
        f"median {1000 * np.median(times):.1f} ms, best {1000 * min(times):.1f} ms "
        "(target < 50 ms)"
    )
    t = time.perf_counter()
    run_study(inst, rets, m, spec.model_copy(update={"placebo_draws": 1000}))
    print(f"  + 1,000 placebo draws: {1000 * (time.perf_counter() - t):.0f} ms")
    with tempfile.TemporaryDirectory() as d:
        dd = Path(d)
        wide.to_csv(dd / "R.csv", index_label="date", date_format="%Y-%m-%d")
        m.to_frame().to_csv(dd / "M.csv", index_label="date", date_format="%Y-%m-%d")
        inst.assign(day0=wide.index[270].strftime("%Y-%m-%d")).to_csv(dd / "E.csv", index=False)
        cmd = [
            str(REPO / ".venv/bin/mib"),
            "study",
            "run",
            "--returns",
            str(dd / "R.csv"),
            "--benchmark",
            str(dd / "M.csv"),
            "--events",
            str(dd / "E.csv"),
            "--estimation",
            "-255:-6",
            "--window",
            "-5:5",
            "--window",
            "0:1",
            "--model",
            "market",
            "--conventions",
            "estudy2",
            "--placebo",
            "0",
            "--out",
            str(dd / "out"),
        ]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        print(
            f"BYO CLI (estudy2 conventions, 500 securities, incl. start-up): "
            f"{time.perf_counter() - t:.2f} s (target < 3 s)"
        )


def bench_large(n_sec: int, n_events: int, draws: int) -> None:
    T = 2600
    wide, m = market(n_sec, T, seed=2)
    rets = {c: wide[c] for c in wide}
    rng = np.random.default_rng(3)
    days = np.sort(rng.choice(np.arange(300, T - 20), size=n_events, replace=False))
    inst = pd.DataFrame(
        {
            "event_id": np.repeat([f"e{j:02d}" for j in range(n_events)], n_sec),
            "security": np.tile(wide.columns.to_numpy(), n_events),
            "day0": np.repeat(wide.index[days], n_sec),
            "group": np.tile(
                np.where(np.arange(n_sec) % 2, "us_incumbent", "cn_substitute"), n_events
            ),
        }
    )
    spec = StudySpec(
        placebo_draws=draws,
        windows=((-1, 1), (0, 1)),
        tests=("cross_sectional_t", "bmp_t", "portfolio_t"),
        daily_tests=(),
    )
    t = time.perf_counter()
    res = run_study(inst, rets, m, spec)
    el = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{n_sec:,} securities x {n_events} events, {draws:,} placebo draws: {el:.1f} s "
        f"(target < 60 s); peak RSS {rss:.2f} GiB (target < 4 GiB); "
        f"{res.n_used:,} instances, {len(res.tests):,} test rows"
    )


def bench_size_power(n_sim: int) -> None:
    spec = StudySpec(
        estimation=(-120, -11),
        min_estimation_obs=80,
        windows=((0, 1),),
        placebo_draws=0,
        daily_tests=(),
        tests=("cross_sectional_t", "portfolio_t", "kp_bmp_t"),
    )
    for label, effect in (
        ("null", 0.0),
        ("planted +1% on day 0", 0.01),
        ("planted +3% on day 0", 0.03),
    ):
        rej = {t: 0 for t in spec.tests}
        for s in range(n_sim):
            wide, m = market(30, 200, seed=1000 + s, rho=0.3)
            wide.iloc[180] += effect
            inst = pd.DataFrame(
                {"event_id": "e", "security": wide.columns, "day0": wide.index[180]}
            )
            t = run_study(inst, {c: wide[c] for c in wide}, m, spec).tests.set_index("test")
            for k in rej:
                rej[k] += bool(t.loc[k, "pvalue"] < 0.05)
        rates = ", ".join(f"{k} {v / n_sim:.3f}" for k, v in rej.items())
        print(
            f"5% rejection rate, {label}, {n_sim} studies of 30 securities sharing one "
            f"date (residual correlation 0.3): {rates}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller large/simulation runs")
    a = ap.parse_args()
    bench_500()
    if a.quick:
        bench_large(500, 10, 200)
        bench_size_power(100)
    else:
        bench_large(5000, 50, 1000)
        bench_size_power(1000)


if __name__ == "__main__":
    sys.exit(main())
