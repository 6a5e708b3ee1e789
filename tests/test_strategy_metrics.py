"""Metric kernels and slot packing: exact values on small inputs, invariants by hypothesis."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.strategy.execution import assign_slots, leg_returns
from backtest.strategy.metrics import max_drawdown, performance, trade_stats


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_max_drawdown_is_the_worst_fall_from_a_peak():
    assert max_drawdown(np.array([100.0, 120, 90, 130, 65, 140])) == pytest.approx(-0.5)
    assert max_drawdown(np.array([1.0, 2, 3])) == 0.0


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_performance_matches_the_formulas():
    r = np.array([0.01, -0.02, 0.015, 0.0, -0.005, 0.02])
    equity = 1000.0 * np.cumprod(1 + r)
    p = performance(equity, 1000.0)
    total = float(np.prod(1 + r) - 1)
    assert p.total_return == pytest.approx(total, rel=1e-12)
    assert p.annual_return == pytest.approx((1 + total) ** (252 / 6) - 1, rel=1e-12)
    assert p.annual_volatility == pytest.approx(r.std(ddof=1) * math.sqrt(252), rel=1e-12)
    assert p.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252), rel=1e-12)
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert p.sortino == pytest.approx(r.mean() / downside * math.sqrt(252), rel=1e-12)
    assert p.max_drawdown == pytest.approx(max_drawdown(np.concatenate([[1000.0], equity])))
    assert p.periods == 6


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_flat_equity_has_no_ratio_rather_than_a_fake_number():
    p = performance(np.full(5, 100.0), 100.0)
    assert p.total_return == 0.0 and math.isnan(p.sharpe) and math.isnan(p.sortino)


def test_trade_stats_and_leg_returns():
    pnl, ret = leg_returns(
        np.array([1.0, -1.0]),
        np.array([10.0, 10.0]),
        np.array([100.0, 100.0]),
        np.array([110.0, 110.0]),
        np.array([2.0, 2.0]),
    )
    assert pnl.tolist() == [98.0, -102.0]
    assert ret.tolist() == pytest.approx([0.098, -0.102])
    s = trade_stats(
        ret, np.array([3.0, 5.0]), np.array([0.0, 1.0, 2.0, 0.0]), np.array([0.0, 0.1, 0.2, 0.0])
    )
    assert (s.n_trades, s.hit_rate, s.average_sessions_held) == (2, 0.5, 4.0)
    assert s.time_in_market == 0.5 and s.average_gross_exposure == pytest.approx(0.075)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.n_trades = 3  # type: ignore[misc]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 10)), min_size=1, max_size=40))
def test_slots_never_hold_two_legs_at_once_and_use_the_peak_count(legs):
    legs = sorted(legs)
    entry = np.array([a for a, _ in legs], dtype=np.int64)
    exit_ = entry + np.array([d for _, d in legs], dtype=np.int64)
    slots = assign_slots(entry, exit_)
    for s in np.unique(slots):
        k = np.flatnonzero(slots == s)
        assert (entry[k][1:] > exit_[k][:-1]).all()  # the next leg enters after the last exit
    # rows where legs are open (entry..exit inclusive): the peak is the minimum slot count
    peak = max(int(((entry <= t) & (exit_ >= t)).sum()) for t in range(0, 62))
    assert slots.max() + 1 == peak


@pytest.mark.slow
def test_vectorbt_metrics_agree_with_the_hand_formulas_on_a_fixed_curve():
    """vectorbt's own Sharpe, Sortino, volatility and drawdown equal the hand formulas
    (the independent values) on a fixed equity curve."""
    import pandas as pd
    import vectorbt as vbt  # noqa: F401  (registers the .vbt accessor)

    equity = np.array([1000.0, 1012, 1005, 990, 1021, 1030, 1001, 985, 1040, 1052, 1047])
    p = performance(equity[1:], equity[0])
    r = equity[1:] / equity[:-1] - 1.0
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(252)
    sortino = r.mean() / math.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(252)
    vol = r.std(ddof=1) * math.sqrt(252)
    peak = np.maximum.accumulate(equity)
    worst = float(np.min(equity / peak - 1.0))
    acc = pd.Series(r).vbt.returns(freq="1D", year_freq="252D")
    for ours, theirs, hand in (
        (p.sharpe, acc.sharpe_ratio(), sharpe),
        (p.sortino, acc.sortino_ratio(), sortino),
        (p.annual_volatility, acc.annualized_volatility(), vol),
    ):
        assert ours == pytest.approx(hand, rel=1e-12)
        assert theirs == pytest.approx(hand, rel=1e-12)
    assert p.max_drawdown == worst == pytest.approx(-(1030 - 985) / 1030, rel=1e-12)
    assert float(pd.Series(equity).vbt.drawdown().min()) == worst
