"""Size and power by simulation, small version (the 1,000+ study runs: benchmarks/).

Nothing planted, one event date shared by all securities, residuals with
equicorrelation 0.3: the portfolio test and the Kolari-Pynnönen adjusted BMP
must reject about 5 % of the time, the naive cross-sectional t far more.
The simulator is benchmarks/bench_rejection.py's, loaded from its file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from backtest.study.clustering import kp_bmp_t, portfolio_t, wild_cluster_bootstrap_test
from backtest.study.stats import cross_sectional_t

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_rejection.py"


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_rejection", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_rejection"] = mod
    spec.loader.exec_module(mod)
    return mod


bench = _bench()
TESTS = {"cross_sectional_t": cross_sectional_t, "kp_bmp_t": kp_bmp_t, "portfolio_t": portfolio_t}


def test_clustered_null_portfolio_and_kp_hold_size_naive_t_over_rejects() -> None:
    # 1,000 studies (binomial sd of a 5 % rate: 0.7 %), the acceptance band [3 %, 7 %];
    # a test that ignored the cross-correlation would reject ~50 % here.
    sc = bench.Scenario("one event", clusters=1, per_cluster=20, est_len=120)
    rates = bench.rejection_rates(sc, 1000, np.random.default_rng(2024), TESTS)
    assert 0.03 <= rates["portfolio_t"][0] <= 0.07
    assert 0.03 <= rates["kp_bmp_t"][0] <= 0.07
    assert rates["cross_sectional_t"][0] > 0.15
    assert all(v[1] == 1000 for v in rates.values())


def test_pooled_clusters_hold_size() -> None:
    sc = bench.Scenario("6 events", clusters=6, per_cluster=8, est_len=100)
    tests = {**TESTS, "wild": wild_cluster_bootstrap_test}
    rates = bench.rejection_rates(sc, 300, np.random.default_rng(77), tests)
    assert 0.02 <= rates["portfolio_t"][0] <= 0.09
    assert 0.02 <= rates["kp_bmp_t"][0] <= 0.09
    assert 0.01 <= rates["wild"][0] <= 0.09
    assert rates["cross_sectional_t"][0] > 0.15


def test_independent_instances_keep_the_naive_t_honest() -> None:
    # Control: with rho = 0 the cross-sectional t is well specified, so its
    # over-rejection above is caused by the clustering, not by the simulator.
    sc = bench.Scenario("one event, rho 0", clusters=1, per_cluster=20, rho=0.0, est_len=120)
    rates = bench.rejection_rates(sc, 400, np.random.default_rng(5), TESTS)
    assert 0.02 <= rates["cross_sectional_t"][0] <= 0.085


@pytest.mark.parametrize(("effect", "low"), [(1.5, 0.35), (3.0, 0.9)])
def test_planted_effect_is_detected(effect: float, low: float) -> None:
    # Day-0 effect of `effect` residual sds on every security of one event; with
    # rho = 0.3 the portfolio CAR[0,+1] has sd about sqrt(2 (0.3 + 0.7/20)) = 0.82 sd,
    # so the portfolio t has mean ~ effect / 0.82 (power ~ 0.45 and ~ 0.99).
    sc = bench.Scenario("power", clusters=1, per_cluster=20, est_len=120, effect=effect)
    rates = bench.rejection_rates(sc, 200, np.random.default_rng(11), TESTS)
    assert rates["portfolio_t"][0] >= low
    assert rates["kp_bmp_t"][0] >= low - 0.1
