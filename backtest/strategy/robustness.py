"""Robustness built in: entry-lag decay, holding-period sweep, leave-one-event-out.

Every configuration re-plans and re-executes the same selected legs; only
the swept setting changes.  The result counts every configuration tried
(the base run included), so a reader can judge how much searching stands
behind the headline number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backtest.strategy.engine import Prepared, prepare, run_prepared
from backtest.strategy.spec import StrategyError, StrategySpec

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.strategy.result import BacktestResult
    from backtest.universe import Universe

SWEEP_COLUMNS: tuple[str, ...] = (
    "sweep",
    "value",
    "n_trades",
    "average_trade",
    "hit_rate",
    "total_return",
    "sharpe",
    "max_drawdown",
    "note",
)


@dataclass(frozen=True)
class RobustnessResult:
    """One row per configuration: ``sweep`` is lag, hold or leave_one_out."""

    base: BacktestResult
    table: pd.DataFrame
    n_configurations: int

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """The base run's tables, ``backtest_robustness`` (every configuration) and one
        table per sweep for the report: ``lag_decay`` (lag), ``hold_sweep`` (hold) and
        ``leave_one_out`` (event_id), each with ``strategy`` and ``mean_trade_return``."""
        out = {**self.base.tables(), "backtest_robustness": self.to_frame()}
        for sweep, name, key in (
            ("lag", "lag_decay", "lag"),
            ("hold", "hold_sweep", "hold"),
            ("leave_one_out", "leave_one_out", "event_id"),
        ):
            part = self.sweep(sweep).drop(columns="sweep")
            part = part.rename(columns={"value": key, "average_trade": "mean_trade_return"})
            if key != "event_id":
                part[key] = part[key].astype("int64")
            part.insert(0, "strategy", self.base.spec.strategy)
            out[name] = part
        return out

    def sweep(self, name: str) -> pd.DataFrame:
        return self.table[self.table["sweep"] == name].reset_index(drop=True)

    def summary(self) -> str:
        lines = [f"Robustness: {self.n_configurations} configurations tried (base run included)"]
        w = max([28, *(len(str(v)) + 2 for v in self.table["value"])])
        for name, label in (
            ("lag", "entry lag (sessions)"),
            ("hold", "hold (sessions)"),
            ("leave_one_out", "event left out"),
        ):
            part = self.sweep(name)
            if part.empty:
                continue
            lines += [
                "",
                f"{label:<{w}}{'trades':>7}{'avg trade':>11}{'hit':>7}{'total':>9}{'Sharpe':>8}",
            ]
            for r in part.itertuples(index=False):
                lines.append(
                    f"{r.value!s:<{w}}{r.n_trades:>7}{r.average_trade:>+11.2%}"
                    f"{r.hit_rate:>7.0%}{r.total_return:>+9.2%}{r.sharpe:>8.2f}"
                    + (f"  {r.note}" if r.note else "")
                )
        return "\n".join(lines)


def _with(spec: StrategySpec, **changes: int) -> StrategySpec:
    """``spec`` with ``changes``, validated like any spec."""
    return StrategySpec.model_validate({**spec.model_dump(), **changes})


def _row(sweep: str, value: object, prep: Prepared) -> dict[str, object]:
    nan = float("nan")
    try:
        res = run_prepared(prep)
    except StrategyError as exc:
        return {
            "sweep": sweep,
            "value": str(value),
            "n_trades": 0,
            "average_trade": nan,
            "hit_rate": nan,
            "total_return": nan,
            "sharpe": nan,
            "max_drawdown": nan,
            "note": exc.message,
        }
    return {
        "sweep": sweep,
        "value": str(value),
        "n_trades": res.stats.n_trades,
        "average_trade": res.stats.average_trade,
        "hit_rate": res.stats.hit_rate,
        "total_return": res.performance.total_return,
        "sharpe": res.performance.sharpe,
        "max_drawdown": res.performance.max_drawdown,
        "note": "",
    }


def robustness(
    panel: PricePanel,
    instances: pd.DataFrame,
    universe: Universe,
    spec: StrategySpec | None = None,
    *,
    lags: Iterable[int] = range(6),
    holds: Iterable[int] = range(1, 21),
    leave_one_out: bool = True,
) -> RobustnessResult:
    """Sweep entry lag and holding period, and drop each event in turn."""
    import pandas as pd

    spec = spec or StrategySpec()
    prep = prepare(panel, instances, universe, spec)
    rows = [_row("lag", lag, prep.with_spec(_with(spec, entry_lag=lag))) for lag in lags]
    rows += [_row("hold", h, prep.with_spec(_with(spec, hold=h))) for h in holds]
    if leave_one_out:
        rows += [
            _row("leave_one_out", ev, prep.without_event(ev))
            for ev in sorted(prep.legs["event_id"].unique())
        ]
    n = len(rows) + 1
    base = run_prepared(prep, n_configurations=n)
    return RobustnessResult(
        base=base, table=pd.DataFrame(rows, columns=list(SWEEP_COLUMNS)), n_configurations=n
    )
