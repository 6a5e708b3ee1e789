"""Rejection rates of the event-study tests under clustered, cross-correlated returns.

Simulated studies: C event clusters (all m securities of an event share its
date; different events are on different dates and independent), market-model
returns R_it = a_i + b_i M_t + e_it with residuals that share a common factor,
e_it = sqrt(rho) f_t + sqrt(1 - rho) u_it, so the residuals of an event's
securities are equicorrelated with correlation rho.  Each study fits the
market model by OLS in numpy (estimation window of L days), builds the
abnormal-return arrays with Campbell-Lo-MacKinlay forecast-error variances and
runs every test in the registry.

Run:  .venv/bin/python benchmarks/bench_rejection.py [--reps 1000] [--seed 1]

Prints, per scenario and test, the 5 % rejection rate with nothing planted
(and its 95 % binomial interval) and the power with a planted day-0 effect.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np

from backtest.study.arrays import AbnormalReturns, FloatArray, WindowCAR
from backtest.study.registry import TestFn, make_tests


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated study design."""

    name: str
    clusters: int
    per_cluster: int
    rho: float = 0.3
    est_len: int = 250
    first_day: int = -5
    last_day: int = 5
    window: tuple[int, int] = (0, 1)
    effect: float = 0.0  # planted day-0 abnormal return, in units of the residual sd
    tail_df: float = 0.0  # 0: normal residuals; otherwise Student t with this df


def _noise(rng: np.random.Generator, shape: tuple[int, ...], df: float) -> FloatArray:
    if df <= 0:
        return rng.standard_normal(shape)
    return rng.standard_t(df, shape) / math.sqrt(df / (df - 2.0))


def _fit_cluster(rng: np.random.Generator, sc: Scenario, w: int
                 ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """One event: OLS market model of m securities; residuals, ARs, sigma, fe, window factor."""
    m, big_l = sc.per_cluster, sc.est_len
    days = big_l + w
    market = 0.01 * rng.standard_normal(days)
    sd = 0.02 * np.exp(0.3 * rng.standard_normal(m))
    common = _noise(rng, (days, 1), sc.tail_df)
    idio = _noise(rng, (days, m), sc.tail_df)
    resid = sd * (math.sqrt(sc.rho) * common + math.sqrt(1.0 - sc.rho) * idio)
    beta = 1.0 + 0.3 * rng.standard_normal(m)
    ret = 0.0002 + market[:, None] * beta + resid
    ret[big_l - sc.first_day, :] += sc.effect * sd  # day 0
    x = np.column_stack([np.ones(days), market])
    xe, xw = x[:big_l], x[big_l:]
    coef, *_ = np.linalg.lstsq(xe, ret[:big_l], rcond=None)
    est = ret[:big_l] - xe @ coef
    event = ret[big_l:] - xw @ coef
    sigma = np.sqrt(np.sum(est**2, axis=0) / (big_l - 2))
    xtx_inv = np.linalg.inv(xe.T @ xe)
    h = xw @ xtx_inv @ xw.T  # CLM (1997) eq. 4.4.8: V = sigma^2 (I + X*(X'X)^-1 X*')
    fe = 1.0 + np.diag(h)
    cols = np.arange(sc.first_day, sc.last_day + 1)
    inw = (cols >= sc.window[0]) & (cols <= sc.window[1])
    win_factor = float(inw.sum() + h[np.ix_(inw, inw)].sum())  # l'(I + H)l
    return est.T, event.T, sigma, np.tile(fe, (m, 1)), np.full(m, win_factor)


def simulate(rng: np.random.Generator, sc: Scenario) -> tuple[AbnormalReturns, WindowCAR]:
    """One simulated study: its abnormal returns and the CARs over ``sc.window``."""
    w = sc.last_day - sc.first_day + 1
    parts = [_fit_cluster(rng, sc, w) for _ in range(sc.clusters)]
    est, event, sigma, fe, fac = (np.concatenate([p[j] for p in parts]) for j in range(5))
    n = est.shape[0]
    rel = np.arange(sc.first_day, sc.last_day + 1, dtype=np.int64)
    ar = AbnormalReturns(
        est=est, event=event, est_days=np.arange(-sc.est_len - 10, -10, dtype=np.int64),
        rel_days=rel, n_est=np.full(n, sc.est_len, dtype=np.int64),
        k=np.full(n, 2, dtype=np.int64), sigma=sigma, fe=fe,
        cluster=np.repeat(np.arange(sc.clusters, dtype=np.int64), sc.per_cluster),
    )
    inw = ar.window_mask(*sc.window)
    car = event[:, inw].sum(axis=1)
    wc = WindowCAR(sc.window[0], sc.window[1], car, sigma**2 * fac,
                   np.full(n, int(inw.sum()), dtype=np.int64), np.full(n, np.nan))
    return ar, wc


def rejection_rates(sc: Scenario, reps: int, rng: np.random.Generator,
                    tests: dict[str, TestFn], level: float = 0.05) -> dict[str, tuple[float, int]]:
    """Share of valid studies in which each test rejects at ``level``; and the valid count."""
    hits = dict.fromkeys(tests, 0)
    valid = dict.fromkeys(tests, 0)
    for _ in range(reps):
        ar, wc = simulate(rng, sc)
        for name, fn in tests.items():
            res = fn(ar, wc, None)
            valid[name] += res.valid
            hits[name] += res.significant(level)
    return {k: (hits[k] / valid[k] if valid[k] else math.nan, valid[k]) for k in tests}


def _wilson(p: float, n: int) -> tuple[float, float]:
    z = 1.959964
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


SCENARIOS = (
    Scenario("one event, 30 securities, rho 0.3, normal", clusters=1, per_cluster=30),
    Scenario("one event, 30 securities, rho 0.3, t(4) tails", clusters=1, per_cluster=30,
             tail_df=4.0),
    Scenario("10 events x 20 securities, rho 0.3", clusters=10, per_cluster=20),
    Scenario("5 events x 10 securities, rho 0.3, window [-1,+1]", clusters=5, per_cluster=10,
             window=(-1, 1)),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--effect", type=float, default=1.0,
                    help="planted day-0 AR in residual sds for the power runs")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    tests = make_tests(np.random.default_rng(args.seed + 1), n_boot=999)
    for sc in SCENARIOS:
        t0 = time.perf_counter()
        null = rejection_rates(sc, args.reps, rng, tests)
        power_sc = Scenario(**{**{f: getattr(sc, f) for f in sc.__dataclass_fields__},
                               "effect": args.effect})
        power = rejection_rates(power_sc, args.reps, rng, tests)
        secs = time.perf_counter() - t0
        print(f"\n== {sc.name}; window {list(sc.window)}; {args.reps} studies each; "
              f"power at planted day-0 AR = {args.effect} sd ({secs:.1f} s)")
        print(f"{'test':<24}{'size':>8}{'95% CI':>18}{'valid':>8}{'power':>8}")
        for name in tests:
            p, nv = null[name]
            lo, hi = _wilson(p, nv) if nv else (math.nan, math.nan)
            print(f"{name:<24}{p:8.3f}   [{lo:.3f}, {hi:.3f}]{nv:8d}{power[name][0]:8.3f}")


if __name__ == "__main__":
    main()
