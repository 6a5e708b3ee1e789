"""Event-driven backtests with vectorbt, acting only on information already public.

    from backtest.strategy import StrategySpec, run_backtest, robustness
    result = run_backtest(panel, instances, universe, StrategySpec(strategy="short_incumbents"))
    print(result.summary())

vectorbt is imported only when a backtest runs.
"""

from backtest.strategy.engine import Prepared, prepare, run_backtest, run_prepared
from backtest.strategy.result import TRADE_COLUMNS, BacktestResult
from backtest.strategy.robustness import RobustnessResult, robustness
from backtest.strategy.spec import (
    STRATEGIES,
    CostModel,
    Costs,
    StrategyError,
    StrategyName,
    StrategySpec,
)

__all__ = [
    "STRATEGIES",
    "TRADE_COLUMNS",
    "BacktestResult",
    "CostModel",
    "Costs",
    "Prepared",
    "RobustnessResult",
    "StrategyError",
    "StrategyName",
    "StrategySpec",
    "prepare",
    "robustness",
    "run_backtest",
    "run_prepared",
]
