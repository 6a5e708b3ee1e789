"""Size and power of every event-study test under clustered dates and event-induced variance.

Simulated studies: C calendar dates (all securities of a date share day 0;
different dates are independent), market-model returns
R_it = 0.0002 + b_i M_t + e_it with residuals that share a common factor,
e_it = sd_i (sqrt(rho) f_t + sqrt(1 - rho) u_it), so the residuals of a date's
securities are equicorrelated with correlation rho.  f and u are N(0,1) or
Student t(4) scaled to unit variance; on the tested window's days [0,+1] the
residuals can be scaled by sqrt(event_var) (event-induced variance, the same
factor for every security, correlation unchanged).  Each study fits the market
model by OLS over the L = 250 sessions before day -5 (vectorised over dates),
builds the abnormal-return arrays with Campbell-Lo-MacKinlay forecast-error
variances and runs every test in ``backtest.study.registry.TESTS`` on the
CAR[0,+1] of all instances, plus the event-level tests computed elsewhere:

* ``event_t``: backtest.summaries.pooled_car's t, the mean over calendar
  clusters (dates) of each cluster's mean CAR over its standard error across
  clusters, t(C - 1);
* ``placebo_caar`` / ``placebo_bmp``: backtest.study.placebo's pseudo-event
  test.  250 further sessions of history precede the estimation window; every
  session whose pseudo estimation window fits and whose pseudo event span
  [-5,+5] does not touch the real one is a pseudo date; the market model is
  refitted at each (prefix sums, backtest.study.kernels) and each date cluster
  draws one pseudo date per draw; the p-value is placebo.permutation_pvalue.

Scenarios (``SCENARIOS``): one shared date with 30 securities, or 15 dates
with 2 securities each; normal or t(4) residuals; event-day variance x1 or x2;
residual correlation 0.3 or 0; and 15 dates each announced twice (two events on
the same date naming the same securities), given to the tests as the study is
given them when nothing merges them: every instance twice, one calendar cluster
per date (event_t, whose unit is the calendar cluster, counts such a date once).  Power: +1 % and
+3 % planted on day 0 of every security, one shared date, normal residuals.

Run:  .venv/bin/python benchmarks/bench_rejection.py [--studies 1000] [--seed 1]
      [--jobs 2] [--write]

Prints the 5 % rejection rate of every test in every scenario with its
binomial standard error sqrt(p (1 - p) / studies) and, with ``--write``, stores
the rates with the scenario definitions, seed, number of studies, date and
package version in backtest/study/simulated_size.json, which
backtest.study.properties reads (the reference values live with this script).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from backtest import __version__
from backtest.study.arrays import AbnormalReturns, FloatArray, TestResult, WindowCAR
from backtest.study.kernels import car_from_sums, fit_from_sums, prefix_features
from backtest.study.placebo import group_statistic, permutation_pvalue
from backtest.study.properties import parse_registry
from backtest.study.registry import make_tests
from backtest.study.stats import null_text, two_sided_t

LEVEL = 0.05
DATA_FILE = Path(__file__).resolve().parents[1] / "backtest" / "study" / "simulated_size.json"
BOOT_DRAWS = 999  # StudySpec.bootstrap_draws default
PLACEBO_DRAWS = 999
PLACEBO_MIN_DATES = 20  # StudySpec.placebo_min_dates default
MIN_EST_OBS = 120  # StudySpec.min_estimation_obs default


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated study design (``key`` is what the registry reads)."""

    key: str
    description: str
    dates: int = 1
    per_date: int = 30
    rho: float = 0.3
    tail_df: float = 0.0  # 0: normal residuals; otherwise Student t with this df
    event_var: float = 1.0  # residual variance multiplier on the tested window's days
    events_per_date: int = 1  # 2: each date announced twice, same securities
    effect: float = 0.0  # planted day-0 abnormal return of every security (0.01 = +1 %)
    est_len: int = 250
    history: int = 250  # sessions before the estimation window (placebo dates)
    first_day: int = -5
    last_day: int = 5
    window: tuple[int, int] = (0, 1)


ONE = Scenario("one_date/normal", "one date, 30 securities, rho 0.3, normal residuals")
MANY = replace(
    ONE,
    key="dates15/normal",
    dates=15,
    per_date=2,
    description="15 dates x 2 securities, rho 0.3, normal residuals",
)
SCENARIOS: tuple[Scenario, ...] = (
    ONE,
    replace(
        ONE,
        key="one_date/t4",
        tail_df=4.0,
        description="one date, 30 securities, rho 0.3, t(4) residuals",
    ),
    replace(
        ONE,
        key="one_date/var2",
        event_var=2.0,
        description="one date, 30 securities, rho 0.3, event-day variance x2",
    ),
    replace(
        ONE,
        key="one_date/rho0",
        rho=0.0,
        description="one date, 30 securities, independent residuals (rho 0)",
    ),
    MANY,
    replace(
        MANY,
        key="dates15/t4",
        tail_df=4.0,
        description="15 dates x 2 securities, rho 0.3, t(4) residuals",
    ),
    replace(
        MANY,
        key="dates15/var2",
        event_var=2.0,
        description="15 dates x 2 securities, rho 0.3, event-day variance x2",
    ),
    replace(
        MANY,
        key="dates15/rho0",
        rho=0.0,
        description="15 dates x 2 securities, independent residuals (rho 0)",
    ),
    replace(
        MANY,
        key="dates15/duplicate",
        events_per_date=2,
        description="15 dates x 2 securities, rho 0.3, each date announced twice "
        "(same securities): every instance given twice",
    ),
    replace(
        ONE,
        key="one_date/power1",
        effect=0.01,
        description="one date, 30 securities, rho 0.3, normal, +1 % planted on day 0",
    ),
    replace(
        ONE,
        key="one_date/power3",
        effect=0.03,
        description="one date, 30 securities, rho 0.3, normal, +3 % planted on day 0",
    ),
)


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True, slots=True)
class Study:
    """One simulated study: the test arrays and the
    placebo sums (C, E, 4) over the E eligible pseudo dates of each date cluster:
    count, sum CAR, sum SCAR, sum SCAR^2 (as placebo.accumulate_numpy); None when
    no placebo test was asked for (they take most of the simulation's time)."""

    ar: AbnormalReturns
    car: WindowCAR
    pseudo: FloatArray | None


def _noise(rng: np.random.Generator, shape: tuple[int, ...], df: float) -> FloatArray:
    if df <= 0:
        return rng.standard_normal(shape)
    return rng.standard_t(df, shape) / math.sqrt(df / (df - 2.0))


def simulate(rng: np.random.Generator, sc: Scenario, placebo: bool = True) -> Study:
    """One study of ``sc``: returns of every date's securities, OLS market model per
    security (vectorised over dates), CAR over ``sc.window`` and, if ``placebo``, the
    placebo sums (they draw no random numbers, so the stream does not depend on it)."""
    c, m, k = sc.dates, sc.per_date, sc.events_per_date
    w = sc.last_day - sc.first_day + 1
    big_l, big_t = sc.est_len, sc.history + sc.est_len + w
    start = big_t - w  # first event-window session
    day0 = start - sc.first_day
    market = 0.01 * rng.standard_normal((c, big_t))
    sd = 0.02 * np.exp(0.3 * rng.standard_normal((c, 1, m)))
    common = _noise(rng, (c, big_t, 1), sc.tail_df)
    idio = _noise(rng, (c, big_t, m), sc.tail_df)
    resid = sd * (math.sqrt(sc.rho) * common + math.sqrt(1.0 - sc.rho) * idio)
    resid[:, day0 + sc.window[0] : day0 + sc.window[1] + 1] *= math.sqrt(sc.event_var)
    beta = 1.0 + 0.3 * rng.standard_normal((c, 1, m))
    ret = 0.0002 + market[:, :, None] * beta + resid
    ret[:, day0] += sc.effect

    x = np.stack([np.ones((c, big_t)), market], axis=-1)  # (C, T, 2)
    xe, xw = x[:, start - big_l : start], x[:, start:]
    xtx_inv = np.linalg.inv(np.einsum("cli,clj->cij", xe, xe))
    coef = xtx_inv @ np.einsum("cli,clm->cim", xe, ret[:, start - big_l : start])
    est = ret[:, start - big_l : start] - xe @ coef  # (C, L, m)
    event = ret[:, start:] - xw @ coef  # (C, W, m)
    sigma = np.sqrt(np.sum(est**2, axis=1) / (big_l - 2))  # (C, m)
    h = xw @ xtx_inv @ np.swapaxes(xw, 1, 2)  # CLM (1997) eq. 4.4.8: sigma^2 (I + H)
    rel = np.arange(sc.first_day, sc.last_day + 1, dtype=np.int64)
    inw = (rel >= sc.window[0]) & (rel <= sc.window[1])
    win_factor = inw.sum() + h[:, inw][:, :, inw].sum(axis=(1, 2))  # l'(I + H)l, (C,)

    def per_instance(a: np.ndarray) -> np.ndarray:  # (C, m, ...) -> (C * k * m, ...)
        a = np.broadcast_to(a[:, None], (c, k, *a.shape[1:]))
        return a.reshape(c * k * m, *a.shape[3:])

    est_i = per_instance(np.swapaxes(est, 1, 2))
    event_i = per_instance(np.swapaxes(event, 1, 2))
    sigma_i = per_instance(sigma)
    n = est_i.shape[0]
    fe_i = per_instance(
        np.broadcast_to(1.0 + np.diagonal(h, axis1=1, axis2=2)[:, None, :], (c, m, w))
    )
    ar = AbnormalReturns(
        est=np.ascontiguousarray(est_i),
        event=np.ascontiguousarray(event_i),
        est_days=np.arange(sc.first_day - big_l, sc.first_day, dtype=np.int64),
        rel_days=rel,
        n_est=np.full(n, big_l, dtype=np.int64),
        k=np.full(n, 2, dtype=np.int64),
        sigma=sigma_i,
        fe=np.ascontiguousarray(fe_i),
        cluster=np.repeat(np.arange(c, dtype=np.int64), k * m),
    )
    var = sigma_i**2 * np.repeat(win_factor, k * m)
    car = WindowCAR(
        sc.window[0],
        sc.window[1],
        event_i[:, inw].sum(axis=1),
        var,
        np.full(n, int(inw.sum()), dtype=np.int64),
        np.full(n, np.nan),
    )
    pseudo = _pseudo_sums(ret, market, sc, day0) * k if placebo else None
    return Study(ar, car, pseudo)


def _pseudo_sums(ret: FloatArray, market: FloatArray, sc: Scenario, day0: int) -> FloatArray:
    """(C, E, 4) placebo sums of each date cluster at each eligible pseudo date."""
    c, big_t, m = ret.shape
    lo, hi = sc.first_day, sc.last_day
    y = np.swapaxes(ret, 0, 1).reshape(big_t, c * m).copy()
    y[day0 + lo : day0 + hi + 1] = np.nan  # the real event span is masked (placebo._spans)
    x = np.repeat(market.T, m, axis=1)[:, :, None]
    pre = prefix_features(y, x)
    e0, e1 = sc.first_day - sc.est_len, sc.first_day - 1
    pos = np.arange(big_t)
    pos = pos[(pos + e0 >= 0) & (pos + hi <= big_t - 1) & (np.abs(pos - day0) > hi - lo)]
    fit = fit_from_sums(pre[pos + e1 + 1] - pre[pos + e0], 1, True, 2)
    a, b = sc.window
    car, var = car_from_sums(pre[pos + b + 1] - pre[pos + a], fit, 1, True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = car / np.sqrt(var)
    ok = (fit.n >= MIN_EST_OBS) & (fit.sigma2 > 0) & np.isfinite(scar)
    parts = [ok, np.where(ok, car, 0.0), np.where(ok, scar, 0.0), np.where(ok, scar**2, 0.0)]
    sums = np.stack(parts, axis=-1).reshape(len(pos), c, m, 4).sum(axis=2)
    return np.swapaxes(sums, 0, 1)


# --------------------------------------------------------------------------- event level


def event_t(st: Study) -> TestResult:
    """pooled_car's t: per-cluster mean CAR, mean / (sd / sqrt C) across clusters, t(C - 1)."""
    name, null = "event_t", null_text(st.car)
    ok = np.isfinite(st.car.car)
    ids, inv = np.unique(st.ar.cluster[ok], return_inverse=True)
    means = np.bincount(inv, weights=st.car.car[ok]) / np.bincount(inv)
    e, n = int(ids.size), int(ok.sum())
    dist = f"t({e - 1})"
    if e < 2:
        return TestResult.invalid(name, null, dist, n, f"C = {e} < 2 calendar clusters")
    sd = float(np.std(means, ddof=1))
    if not sd > 0:
        return TestResult.invalid(name, null, dist, n, "zero variance of the cluster means")
    t = float(np.mean(means)) / (sd / math.sqrt(e))
    return TestResult(name, t, two_sided_t(t, e - 1), null, dist, n)


def placebo_test(
    st: Study, kind: str, rng: np.random.Generator, draws: int = PLACEBO_DRAWS
) -> TestResult:
    """Pseudo-event-date test of the CAAR or the BMP t (placebo.placebo_rows' p-value)."""
    name, null = f"placebo_{kind}", null_text(st.car) + " (pseudo-event dates)"
    if st.pseudo is None:
        raise ValueError("simulate(..., placebo=False) made no pseudo-event sums")
    c, e = st.pseudo.shape[:2]
    dist = f"placebo (B={draws}, dates>={e})"
    w = st.car
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = w.car / np.sqrt(w.var)
    ok = np.isfinite(scar) & (w.var > 0)
    real = np.array([ok.sum(), w.car[ok].sum(), scar[ok].sum(), (scar[ok] ** 2).sum()])
    stat = float(group_statistic(real, kind))  # type: ignore[arg-type]
    if e < PLACEBO_MIN_DATES:
        return TestResult.invalid(name, null, dist, int(ok.sum()), f"only {e} pseudo dates")
    pick = rng.integers(0, e, size=(draws, c))
    acc = st.pseudo[np.arange(c)[None, :], pick].sum(axis=1)  # (B, 4)
    p, _ = permutation_pvalue(stat, group_statistic(acc, kind))  # type: ignore[arg-type]
    if not math.isfinite(p):
        return TestResult.invalid(name, null, dist, int(ok.sum()), "no valid pseudo-event draw")
    return TestResult(name, stat, p, null, dist, int(ok.sum()))


StudyTest = Callable[[Study], TestResult]


def study_tests(
    rng: np.random.Generator, n_boot: int = BOOT_DRAWS, placebo_draws: int = PLACEBO_DRAWS
) -> dict[str, StudyTest]:
    """Every test of the registry on all instances, then the event-level tests."""
    out: dict[str, StudyTest] = {
        name: (lambda st, fn=fn: fn(st.ar, st.car, None))
        for name, fn in make_tests(rng, n_boot=n_boot).items()
    }
    out["event_t"] = event_t
    out["placebo_caar"] = partial(placebo_test, kind="caar", rng=rng, draws=placebo_draws)
    out["placebo_bmp"] = partial(placebo_test, kind="bmp", rng=rng, draws=placebo_draws)
    return out


# --------------------------------------------------------------------------- rates


@dataclass(frozen=True, slots=True)
class Rate:
    """Rejections among the studies where the test was valid."""

    hits: int
    valid: int
    studies: int

    @property
    def rate(self) -> float:
        return self.hits / self.valid if self.valid else math.nan

    @property
    def se(self) -> float:
        """Binomial standard error sqrt(p (1 - p) / valid)."""
        p = self.rate
        return math.sqrt(p * (1.0 - p) / self.valid) if self.valid else math.nan


def rejection_rates(
    sc: Scenario,
    studies: int,
    rng: np.random.Generator,
    tests: dict[str, StudyTest],
    level: float = LEVEL,
) -> dict[str, Rate]:
    """Rejections at ``level`` of each test over ``studies`` simulated studies of ``sc``."""
    hits = dict.fromkeys(tests, 0)
    valid = dict.fromkeys(tests, 0)
    placebo = any(name.startswith("placebo_") for name in tests)
    for _ in range(studies):
        st = simulate(rng, sc, placebo)
        for name, fn in tests.items():
            res = fn(st)
            valid[name] += bool(res.valid)
            hits[name] += bool(res.significant(level))
    return {k: Rate(hits[k], valid[k], studies) for k in tests}


def _run_one(
    args: tuple[Scenario, int, np.random.SeedSequence],
) -> tuple[str, dict[str, Rate], float]:
    sc, studies, seq = args
    sim_seq, test_seq = seq.spawn(2)
    t0 = time.perf_counter()
    rates = rejection_rates(
        sc, studies, np.random.default_rng(sim_seq), study_tests(np.random.default_rng(test_seq))
    )
    return sc.key, rates, time.perf_counter() - t0


def run(
    studies: int, seed: int, jobs: int = 1, scenarios: tuple[Scenario, ...] = SCENARIOS
) -> tuple[dict[str, dict[str, Rate]], float]:
    """Rates of every test in every scenario (scenario i uses SeedSequence(seed).spawn()[i],
    so the numbers do not depend on ``jobs``); and the wall time."""
    seqs = np.random.SeedSequence(seed).spawn(len(scenarios))
    work = [(sc, studies, s) for sc, s in zip(scenarios, seqs, strict=True)]
    t0 = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(_run_one, work))
    else:
        done = [_run_one(a) for a in work]
    for key, _, secs in done:
        print(f"  {key:<20s} {secs:6.1f} s")
    return {key: rates for key, rates, _ in done}, time.perf_counter() - t0


# --------------------------------------------------------------------------- output


def _cell(r: Rate) -> str:
    if not r.valid:
        return "n/a"
    return f"{100 * r.rate:.1f}±{100 * r.se:.1f}"


def table(rates: dict[str, dict[str, Rate]], keys: list[str]) -> str:
    """Rejection rates in % ± binomial s.e. (tests down, scenarios across)."""
    names = list(next(iter(rates.values())))
    head = f"{'test':<24s}" + "".join(f"{k.split('/')[-1]:>12s}" for k in keys)
    lines = [head]
    for name in names:
        lines.append(f"{name:<24s}" + "".join(f"{_cell(rates[k][name]):>12s}" for k in keys))
    return "\n".join(lines)


def _rate_json(r: Rate) -> dict[str, float | int | None]:
    return {
        "rate": round(r.rate, 4) if r.valid else None,
        "se": round(r.se, 4) if r.valid else None,
        "rejections": r.hits,
        "valid": r.valid,
        "studies": r.studies,
    }


def data_doc(
    rates: dict[str, dict[str, Rate]],
    studies: int,
    seed: int,
    seconds: float,
    scenarios: tuple[Scenario, ...] = SCENARIOS,
) -> dict[str, Any]:
    """The rates with everything needed to reproduce them (read by backtest.study.properties)."""
    names = list(next(iter(rates.values())))
    return {
        "generator": "benchmarks/bench_rejection.py",
        "command": f"benchmarks/bench_rejection.py --studies {studies} --seed {seed} --write",
        "package_version": __version__,
        "date": dt.date.today().isoformat(),
        "seed": seed,
        "studies": studies,
        "level": LEVEL,
        "bootstrap_draws": BOOT_DRAWS,
        "placebo_draws": PLACEBO_DRAWS,
        "runtime_seconds": round(seconds, 1),
        "scenarios": {
            sc.key: {k: v for k, v in asdict(sc).items() if k != "key"} for sc in scenarios
        },
        "rates": {name: {key: _rate_json(rates[key][name]) for key in rates} for name in names},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=1000, help="simulated studies per scenario")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (one per scenario)")
    ap.add_argument(
        "--write",
        action="store_true",
        help=f"store the rates in {DATA_FILE.relative_to(DATA_FILE.parents[2])}",
    )
    args = ap.parse_args()
    print(
        f"{args.studies} studies per scenario, seed {args.seed}, {args.jobs} jobs; "
        f"bootstraps B={BOOT_DRAWS}, placebo B={PLACEBO_DRAWS}; CAR[0,+1], 5 % level"
    )
    rates, secs = run(args.studies, args.seed, args.jobs)
    for sc in SCENARIOS:
        print(f"  {sc.key:<20s} {sc.description}")
    size_one = [sc.key for sc in SCENARIOS if sc.key.startswith("one_date") and not sc.effect]
    size_many = [sc.key for sc in SCENARIOS if sc.key.startswith("dates15")]
    power = [sc.key for sc in SCENARIOS if sc.effect]
    print("\nRejection rate at 5 %, % ± binomial s.e. (size; n/a: the test cannot run)")
    print("\nOne shared date, 30 securities (power1/power3: +1 %/+3 % planted on day 0)")
    print(table(rates, size_one + power))
    print("\n15 dates x 2 securities")
    print(table(rates, size_many))
    print(
        "duplicate: every instance given twice, unmerged; a rate above 8 % there is what "
        "merging same-day duplicates must fix"
    )
    print(f"\nwall time {secs:.0f} s")
    doc = data_doc(rates, args.studies, args.seed, secs)
    reg = parse_registry(doc, "this run")
    print(f"lead tests from these rates: {', '.join(reg.lead_tests())}")
    for name in reg.ordered_tests():
        print(f"  {reg.method_note(name)}")
    if args.write:
        DATA_FILE.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {DATA_FILE}")


if __name__ == "__main__":
    main()
