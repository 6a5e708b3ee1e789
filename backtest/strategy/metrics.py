"""Performance metrics: numpy kernels on an equity curve and on trade returns.

Conventions (stated in every result): the equity curve is sampled at the
last instant of each UTC calendar date on which any of the traded exchanges
had an open or close; returns are simple; 252 periods a year; the risk-free
rate is zero; Sortino uses the root mean square of negative returns.

The maximum drawdown is vectorbt's (its drawdown series).  Sharpe, Sortino and
volatility are the same formulas as vectorbt's returns accessor
(``sharpe_ratio``, ``sortino_ratio``, ``annualized_volatility`` with
``year_freq="252D"``; ``test_strategy_metrics`` pins the agreement), written
here with numpy's sums: vectorbt adds day by day, numpy pairwise, and the
published figures keep numpy's last digits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from backtest.strategy.timing import FloatArray

PERIODS_PER_YEAR = 252.0


@dataclass(frozen=True, slots=True)
class Performance:
    """Portfolio-level statistics of one equity curve."""

    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    periods: int

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Trade-level statistics: counts, hit rate, average trade and exposure."""

    n_trades: int
    hit_rate: float
    average_trade: float
    median_trade: float
    trade_sd: float  # sample standard deviation of the trade returns (ddof 1)
    average_sessions_held: float
    time_in_market: float
    average_gross_exposure: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def max_drawdown(equity: FloatArray) -> float:
    """Largest peak-to-trough fall, as a negative fraction (0 when never below a peak):
    the minimum of vectorbt's drawdown series, equity / expanding max - 1."""
    if equity.shape[0] == 0:
        return 0.0
    from vectorbt.generic import dispatch

    eq = np.asarray(equity, dtype=np.float64)[:, None]
    return float(np.min(eq / dispatch.expanding_max(eq) - 1.0))


def performance(
    daily_equity: FloatArray, initial: float, *, intraday_equity: FloatArray | None = None
) -> Performance:
    """Statistics of a daily equity curve that starts from ``initial``.

    ``intraday_equity`` (every instant) gives a finer maximum drawdown when
    available.
    """
    eq = np.concatenate([[initial], np.asarray(daily_equity, dtype=np.float64)])
    r = eq[1:] / eq[:-1] - 1.0
    n = int(r.shape[0])
    total = float(eq[-1] / initial - 1.0)
    nan = float("nan")
    if n == 0:
        return Performance(total, nan, nan, nan, nan, 0.0, 0)
    annual = float((1.0 + total) ** (PERIODS_PER_YEAR / n) - 1.0) if total > -1.0 else -1.0
    sd = float(np.std(r, ddof=1)) if n > 1 else nan
    vol = sd * math.sqrt(PERIODS_PER_YEAR)
    mean = float(np.mean(r))
    sharpe = mean / sd * math.sqrt(PERIODS_PER_YEAR) if sd and sd > 0 else nan
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    sortino = mean / downside * math.sqrt(PERIODS_PER_YEAR) if downside > 0 else nan
    fine = eq if intraday_equity is None else np.concatenate([[initial], intraday_equity])
    return Performance(total, annual, vol, sharpe, sortino, max_drawdown(fine), n)


def trade_stats(
    returns: FloatArray,
    sessions_held: FloatArray,
    in_market: FloatArray,
    gross_fraction: FloatArray,
) -> TradeStats:
    """Trade statistics; ``in_market`` and ``gross_fraction`` are per daily period."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    nan = float("nan")
    n = int(r.shape[0])
    return TradeStats(
        n_trades=n,
        hit_rate=float(np.mean(r > 0)) if n else nan,
        average_trade=float(np.mean(r)) if n else nan,
        median_trade=float(np.median(r)) if n else nan,
        trade_sd=float(np.std(r, ddof=1)) if n > 1 else nan,
        average_sessions_held=float(np.mean(sessions_held)) if len(sessions_held) else nan,
        time_in_market=float(np.mean(in_market > 0)) if len(in_market) else nan,
        average_gross_exposure=float(np.mean(gross_fraction)) if len(gross_fraction) else nan,
    )
