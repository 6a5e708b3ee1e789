"""Robustness built in: entry-lag decay, holding-period sweep, leave-one-event-out.

Every configuration re-plans and re-executes the same selected legs; only
the swept setting changes.  Leaving an event out drops its rows from the base
plan (each leg is planned on its own), a configuration equal to the base spec
is executed once, and a sweep row computes only the figures it reports.  The
result counts every configuration tried (the base run included), so a reader
can judge how much searching stands behind the headline number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backtest.strategy.engine import (
    Prepared,
    plan_without_event,
    prepare,
    run_prepared,
    sweep_summary,
)
from backtest.strategy.plan import make_plan
from backtest.strategy.spec import StrategyError, StrategySpec

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.strategy.metrics import Performance, TradeStats
    from backtest.strategy.result import BacktestResult
    from backtest.universe import Universe

SWEEP_COLUMNS: tuple[str, ...] = (
    "sweep",
    "value",
    "n_trades",
    "average_trade",
    "trade_sd",
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
        ``leave_one_out`` (event_id), each with ``strategy`` and ``mean_trade_return``.

        The lag and hold tables also carry ``band_lo``/``band_hi``: the 95 % interval
        of the mean trade return, mean +/- t(n - 1, 0.975) x trade_sd / sqrt(n) over
        the configuration's n trades.  It treats trades as independent; legs of one
        event share its dates, so the band is narrower than the truth.
        """
        from backtest.summaries import t_interval

        nan = float("nan")
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
            if key != "event_id":
                bands = [
                    t_interval(float(m), float(sd) / float(n) ** 0.5 if n else nan, int(n))
                    for m, sd, n in zip(
                        part["mean_trade_return"], part["trade_sd"], part["n_trades"], strict=True
                    )
                ]
                part["band_lo"] = [b[0] for b in bands]
                part["band_hi"] = [b[1] for b in bands]
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


def _row(
    sweep: str,
    value: object,
    prep: Prepared,
    planned: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    done: dict[str, tuple[Performance, TradeStats]] | None = None,
) -> dict[str, object]:
    """One table row; ``done`` holds the figures of specs already executed on the full
    selection (the base spec recurs in the lag and the hold sweeps)."""
    nan = float("nan")
    key = prep.venue.spec.model_dump_json() if done is not None else ""
    try:
        if done is not None and key in done:
            perf, stats = done[key]
        else:
            perf, stats = sweep_summary(prep, planned)
            if done is not None:
                done[key] = (perf, stats)
    except StrategyError as exc:
        return {
            "sweep": sweep,
            "value": str(value),
            "n_trades": 0,
            "average_trade": nan,
            "trade_sd": nan,
            "hit_rate": nan,
            "total_return": nan,
            "sharpe": nan,
            "max_drawdown": nan,
            "note": exc.message,
        }
    return {
        "sweep": sweep,
        "value": str(value),
        "n_trades": stats.n_trades,
        "average_trade": stats.average_trade,
        "trade_sd": stats.trade_sd,
        "hit_rate": stats.hit_rate,
        "total_return": perf.total_return,
        "sharpe": perf.sharpe,
        "max_drawdown": perf.max_drawdown,
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
    done: dict[str, tuple[Performance, TradeStats]] = {}
    rows = [_row("lag", lag, prep.with_spec(_with(spec, entry_lag=lag)), done=done) for lag in lags]
    rows += [_row("hold", h, prep.with_spec(_with(spec, hold=h)), done=done) for h in holds]
    planned = make_plan(prep.venue, prep.legs)
    if leave_one_out:
        rows += [
            _row("leave_one_out", ev, prep.without_event(ev), plan_without_event(planned, ev))
            for ev in sorted(prep.legs["event_id"].unique())
        ]
    n = len(rows) + 1
    base = run_prepared(prep, n_configurations=n, planned=planned)
    return RobustnessResult(
        base=base, table=pd.DataFrame(rows, columns=list(SWEEP_COLUMNS)), n_configurations=n
    )
