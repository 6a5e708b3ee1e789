"""The study's path imports scipy.special, not scipy.stats (about 0.8 s of import per
run), and the special functions it uses give exactly scipy.stats' numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from backtest.study.stats import time_series_t_all
from backtest.summaries import t_interval


def test_the_study_path_does_not_import_scipy_stats():
    code = (
        "import sys, backtest.study.engine, backtest.summaries, backtest.howfast, "
        "backtest.study.ranks, backtest.study.results; print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("n", [2, 3, 5, 15, 29, 120])
def test_t_interval_uses_scipy_stats_t_quantile_exactly(n):
    lo, hi = t_interval(0.012, 0.004, n)
    q = stats.t.ppf(0.975, n - 1)
    assert (lo, hi) == (0.012 - q * 0.004, 0.012 + q * 0.004)


def test_time_series_p_values_equal_scipy_stats_t_sf():
    from types import SimpleNamespace

    rng = np.random.default_rng(7)
    n = 500
    ar = SimpleNamespace(n_est=rng.integers(20, 250, n), k=np.full(n, 2))
    w = SimpleNamespace(car=rng.normal(0, 0.05, n), var=rng.uniform(1e-4, 4e-3, n))
    got = time_series_t_all(ar, w)  # type: ignore[arg-type]  # only these fields are read
    want = 2.0 * stats.t.sf(np.abs(w.car / np.sqrt(w.var)), ar.n_est - 2)
    np.testing.assert_array_equal(got.pvalue, want)
