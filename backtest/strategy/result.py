"""The frozen result of a backtest: statistics, trade list, equity curves, attrition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backtest.strategy.metrics import Performance, TradeStats
from backtest.strategy.spec import StrategySpec

if TYPE_CHECKING:
    import pandas as pd

TRADE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "stage",
    "security",
    "group",
    "market",
    "role",
    "hedge_of",
    "side",
    "knowable_at_utc",
    "entry_time",
    "entry_date",
    "entry_phase",
    "entry_price",
    "entry_fill",
    "exit_time",
    "exit_date",
    "exit_phase",
    "exit_price",
    "exit_fill",
    "size",
    "fees",
    "pnl",
    "return",
    "sessions_held",
    "entry_delay",
    "entry_waits",
    "exit_delay",
    "exit_waits",
    "exit_reason",
)


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:+.2%}"


def _share(x: float) -> str:
    """An unsigned percentage (a volatility, a share): no '+' in front."""
    return "n/a" if x != x else f"{x:.2%}"


def _num(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"


@dataclass(frozen=True)
class BacktestResult:
    """What a strategy would have earned, acting only on public information, after costs.

    trades:       one row per leg (see :data:`TRADE_COLUMNS`); ``return`` is the
                  net P&L over the entry notional; ``entry_delay``/``exit_delay``
                  count sessions waited (suspension, limit, T+1; see ``*_waits``).
    equity:       portfolio value at every open and close instant (UTC).
    daily_equity: the last value of each UTC date (the basis of the statistics).
    benchmark_equity: buy-and-hold of ``benchmark`` over the same span, same cash.
    attrition:    selected instances not traded, with the reason.
    policies:     execution policies in words (entry, exit, venue, sizing, ...).
    """

    spec: StrategySpec
    trades: pd.DataFrame
    equity: pd.Series
    daily_equity: pd.Series
    performance: Performance
    stats: TradeStats
    benchmark: str | None
    benchmark_performance: Performance | None
    benchmark_equity: pd.Series
    attrition: pd.DataFrame
    policies: dict[str, str] = field(default_factory=dict)
    synthetic: bool = False
    n_configurations: int = 1

    def to_frame(self) -> pd.DataFrame:
        """The trade list (a copy), one row per leg."""
        return self.trades.copy()

    def metrics(self) -> pd.DataFrame:
        """One row per statistic, columns ``strategy`` and ``benchmark``."""
        import pandas as pd

        strat = {**self.performance.as_dict(), **self.stats.as_dict()}
        bench = self.benchmark_performance.as_dict() if self.benchmark_performance else {}
        out = pd.DataFrame(
            {
                "metric": list(strat),
                "strategy": [strat[k] for k in strat],
                "benchmark": [bench.get(k, float("nan")) for k in strat],
            }
        )
        return out

    def equity_frame(self) -> pd.DataFrame:
        """Daily strategy and benchmark equity, tidy (date, series, equity)."""
        import pandas as pd

        parts = [
            pd.DataFrame(
                {
                    "date": self.daily_equity.index,
                    "series": "strategy",
                    "equity": self.daily_equity.to_numpy(),
                }
            )
        ]
        if len(self.benchmark_equity):
            parts.append(
                pd.DataFrame(
                    {
                        "date": self.benchmark_equity.index,
                        "series": f"benchmark:{self.benchmark}",
                        "equity": self.benchmark_equity.to_numpy(),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Tidy tables for the run folder: trades, metrics, equity, attrition."""
        return {
            "backtest_trades": self.to_frame(),
            "backtest_metrics": self.metrics(),
            "backtest_equity": self.equity_frame(),
            "backtest_attrition": self.attrition.copy(),
        }

    def summary(self) -> str:
        """A plain-text summary: the strategy against buy-and-hold, trades, attrition."""
        p, s, b = self.performance, self.stats, self.benchmark_performance
        lines = [
            f"Backtest: {self.spec.strategy}{' (hedged)' if self.spec.hedge else ''}, "
            f"hold {self.spec.hold} sessions, entry lag {self.spec.entry_lag}"
            + (f", stop {self.spec.stop_loss:.1%}" if self.spec.stop_loss else ""),
        ]
        if self.synthetic:
            lines.append("SYNTHETIC DATA: simulated prices, not market data")
        head = f"{'':<22}{'strategy':>12}{'buy&hold ' + (self.benchmark or '-'):>22}"
        lines += ["", head]
        rows = [
            ("total return", p.total_return, b.total_return if b is not None else None, _pct),
            ("annual return", p.annual_return, b.annual_return if b is not None else None, _pct),
            (
                "annual volatility",
                p.annual_volatility,
                b.annual_volatility if b is not None else None,
                _share,
            ),
            ("Sharpe", p.sharpe, b.sharpe if b is not None else None, _num),
            ("Sortino", p.sortino, b.sortino if b is not None else None, _num),
            ("max drawdown", p.max_drawdown, b.max_drawdown if b is not None else None, _pct),
        ]
        for name, v, bv, fmt in rows:
            lines.append(f"{name:<22}{fmt(v):>12}{fmt(bv) if bv is not None else 'n/a':>22}")
        lines += [
            "",
            f"trades {s.n_trades}; hit rate {_num(s.hit_rate * 100)}%; average trade "
            f"{_pct(s.average_trade)}; median {_pct(s.median_trade)}; "
            f"held {_num(s.average_sessions_held)} sessions on average",
            f"time in market {_num(s.time_in_market * 100)}%; average gross exposure "
            f"{_num(s.average_gross_exposure * 100)}% of equity",
            f"delayed entries {int((self.trades['entry_delay'] > 0).sum())}; "
            f"not traded {len(self.attrition)}"
            + (
                ": "
                + ", ".join(f"{k} {v}" for k, v in self.attrition["reason"].value_counts().items())
                if len(self.attrition)
                else ""
            ),
            f"configurations tried: {self.n_configurations}",
        ]
        lines += [f"{k}: {v}" for k, v in self.policies.items()]
        return "\n".join(lines)
