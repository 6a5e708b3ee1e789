"""``run_backtest``: signals -> plan -> vectorbt execution -> frozen result.

The flow keeps its layers apart: :mod:`signals` picks legs (pandas),
:mod:`plan` times them with the array kernels of :mod:`timing`,
:mod:`execution` runs vectorbt, :mod:`metrics` computes statistics on
numpy arrays, and :mod:`result` only holds and formats.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from backtest.strategy.execution import execute, leg_returns, utc_index
from backtest.strategy.metrics import Performance, TradeStats, performance, trade_stats
from backtest.strategy.plan import Venue, make_plan, venue_symbols
from backtest.strategy.result import TRADE_COLUMNS, BacktestResult
from backtest.strategy.signals import select_legs
from backtest.strategy.spec import StrategyError, StrategySpec, policy_notes

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.strategy.execution import Execution
    from backtest.strategy.timing import FloatArray
    from backtest.universe import Universe


@dataclass(frozen=True)
class Prepared:
    """Selected legs and their venue (clocks and execution points built once), reusable
    across specs of one selection."""

    venue: Venue
    legs: pd.DataFrame
    attrition: pd.DataFrame

    def with_spec(self, spec: StrategySpec) -> Prepared:
        """The same legs under another spec (hold, lag, stop, costs, ...).

        The execution points are shared unless the spec changes how they are
        built (``missing_open``, ``limit_tolerance``; :meth:`Venue.with_spec`).
        """
        return replace(self, venue=self.venue.with_spec(spec))

    def without_event(self, event_id: str) -> Prepared:
        return replace(self, legs=self.legs[self.legs["event_id"] != event_id])


def prepare(
    panel: PricePanel, instances: pd.DataFrame, universe: Universe, spec: StrategySpec
) -> Prepared:
    """Select the legs of ``spec`` from the alignment's instance frame."""
    legs, attrition = select_legs(instances, universe, panel, spec)
    venue = Venue.of(panel, universe, spec, venue_symbols(legs, universe, spec))
    return Prepared(venue=venue, legs=legs, attrition=attrition)


NS_PER_DAY = 86_400_000_000_000


def _ts(ns: pd.Series) -> pd.DatetimeIndex:
    return utc_index(ns.to_numpy(dtype=np.int64))


def _trades(plan: pd.DataFrame, exe: Execution) -> pd.DataFrame:
    f = exe.fills
    fees = (f["entry_fees"] + f["exit_fees"]).to_numpy()
    pnl, ret = leg_returns(
        plan["side"].to_numpy(dtype=np.float64),
        f["size"].to_numpy(),
        f["entry_fill"].to_numpy(),
        f["exit_fill"].to_numpy(),
        fees,
    )
    t = plan.assign(
        side=np.where(plan["side"] > 0, "long", "short"),
        entry_time=_ts(plan["entry_ns"]),
        exit_time=_ts(plan["exit_ns"]),
        entry_date=plan["entry_session"],
        exit_date=plan["exit_session"],
        entry_fill=f["entry_fill"].to_numpy(),
        exit_fill=f["exit_fill"].to_numpy(),
        size=f["size"].to_numpy(),
        fees=fees,
        pnl=pnl,
        **{"return": ret},
    )
    return t.loc[f["filled"].to_numpy(), list(TRADE_COLUMNS)].reset_index(drop=True)


def _daily(series: pd.Series, how: str = "last") -> pd.Series:
    """The last (``how="max"``: largest) value of each UTC calendar day, indexed by the
    day (``date``).  The index is in time order, so a day's rows are consecutive; with
    NaNs, pandas' groupby (which skips them) decides."""
    import pandas as pd

    index = series.index
    ns = index.asi8 if getattr(index, "tz", None) is not None and index.unit == "ns" else None
    values = series.to_numpy(dtype=np.float64)
    if ns is None or not ns.size or np.isnan(values).any() or (np.diff(ns) < 0).any():
        idx = series.index.tz_convert(None).normalize()
        out = series.groupby(idx).agg(how)
        out.index.name = "date"
        return out
    day = ns - ns % NS_PER_DAY
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    if how == "last":
        got = values[np.r_[starts[1:], ns.size] - 1]
    elif how == "max":
        got = np.maximum.reduceat(values, starts)
    else:
        raise ValueError(f"how: {how!r}, expected 'last' or 'max'")
    index = pd.DatetimeIndex(day[starts].view("datetime64[ns]"), name="date")
    return pd.Series(got, index=index, name=series.name)


def _benchmark_symbol(prep: Prepared, plan: pd.DataFrame) -> str | None:
    spec, uni = prep.venue.spec, prep.venue.universe
    if spec.benchmark is not None:
        if spec.benchmark not in uni or spec.benchmark not in prep.venue.panel:
            raise StrategyError(
                "benchmark has no prices",
                field="benchmark",
                value=spec.benchmark,
                expected="a symbol of the panel",
            )
        return spec.benchmark
    for sym in plan.loc[plan["role"] == "signal", "security"]:
        for b in uni[sym].benchmarks:
            if b in prep.venue.panel:
                return str(b)
    return None


def _benchmark_equity(prep: Prepared, symbol: str, lo: int, hi: int) -> pd.Series:
    import pandas as pd

    pts = prep.venue.pts(prep.venue.universe[symbol])
    inside = (pts.instant >= lo) & (pts.instant <= hi)
    px = pts.price[inside]
    eq = prep.venue.spec.initial_cash * px / px[0] if px.shape[0] else px
    return _daily(pd.Series(eq, index=utc_index(pts.instant[inside])))


def _no_trades(prep: Prepared) -> StrategyError:
    spec = prep.venue.spec
    return StrategyError(
        "nothing to trade: no selected event instance has an executable leg",
        field="strategy",
        value=spec.strategy,
        expected=f"events with directions {list(spec.directions)} and types "
        f"{list(spec.event_types) or 'any'} on securities of the panel",
    )


def _summary(
    exe: Execution, returns: FloatArray, sessions_held: FloatArray, initial_cash: float
) -> tuple[pd.Series, Performance, TradeStats]:
    """Daily equity, performance and trade statistics of an execution (filled legs'
    returns and sessions held)."""
    daily = _daily(exe.equity)
    gross_frac = _daily(exe.gross) / daily
    perf = performance(daily.to_numpy(), initial_cash, intraday_equity=exe.equity.to_numpy())
    stats = trade_stats(
        returns, sessions_held, _daily(exe.gross, "max").to_numpy(), gross_frac.to_numpy()
    )
    return daily, perf, stats


def sweep_summary(
    prep: Prepared, planned: tuple[pd.DataFrame, pd.DataFrame] | None = None
) -> tuple[Performance, TradeStats]:
    """The performance and trade statistics :func:`run_prepared` reports, without the
    tables, the benchmark and the attrition (what a robustness sweep row needs)."""
    spec = prep.venue.spec
    plan, _ = planned if planned is not None else make_plan(prep.venue, prep.legs)
    if plan.empty:
        raise _no_trades(prep)
    exe = execute(
        plan, prep.venue.points, initial_cash=spec.initial_cash, leg_fraction=spec.leg_fraction
    )
    f = exe.fills
    filled = f["filled"].to_numpy()
    _, ret = leg_returns(
        plan["side"].to_numpy(dtype=np.float64),
        f["size"].to_numpy(),
        f["entry_fill"].to_numpy(),
        f["exit_fill"].to_numpy(),
        (f["entry_fees"] + f["exit_fees"]).to_numpy(),
    )
    held = plan["sessions_held"].to_numpy(dtype=np.float64)[filled]
    _, perf, stats = _summary(exe, ret[filled], held, spec.initial_cash)
    return perf, stats


def run_prepared(
    prep: Prepared,
    *,
    n_configurations: int = 1,
    planned: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> BacktestResult:
    """Plan, execute and summarise the legs of ``prep`` under its spec.

    ``planned``: the ``(plan, attrition)`` of ``make_plan(prep.venue, prep.legs)``
    when the caller already has it (see :func:`plan_without_event`).
    """
    import pandas as pd

    spec = prep.venue.spec
    plan, dropped = planned if planned is not None else make_plan(prep.venue, prep.legs)
    if plan.empty:
        raise _no_trades(prep)
    exe = execute(
        plan, prep.venue.points, initial_cash=spec.initial_cash, leg_fraction=spec.leg_fraction
    )
    rejected = plan.loc[~exe.fills["filled"].to_numpy(), ["event_id", "stage", "security"]]
    attrition = pd.concat(
        [
            prep.attrition,
            dropped,
            rejected.assign(reason="insufficient_cash", detail="entry rejected by vectorbt"),
        ],
        ignore_index=True,
    )
    trades = _trades(plan, exe)
    daily, perf, stats = _summary(
        exe,
        trades["return"].to_numpy(dtype=np.float64),
        trades["sessions_held"].to_numpy(dtype=np.float64),
        spec.initial_cash,
    )
    bench = _benchmark_symbol(prep, plan)
    lo, hi = int(plan["entry_ns"].min()), int(plan["exit_ns"].max())
    bench_eq = (
        _benchmark_equity(prep, bench, lo, hi) if bench is not None else pd.Series(dtype=np.float64)
    )
    bench_perf = performance(bench_eq.to_numpy(), spec.initial_cash) if len(bench_eq) else None
    return BacktestResult(
        spec=spec,
        trades=trades,
        equity=exe.equity,
        daily_equity=daily,
        performance=perf,
        stats=stats,
        benchmark=bench,
        benchmark_performance=bench_perf,
        benchmark_equity=bench_eq,
        attrition=attrition,
        policies=policy_notes(spec),
        synthetic=bool(prep.venue.panel.synthetic),
        n_configurations=n_configurations,
    )


def plan_without_event(
    planned: tuple[pd.DataFrame, pd.DataFrame], event_id: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The plan and attrition of the same legs without ``event_id``'s.

    Each leg is planned on its own and the plan is sorted stably, so dropping an
    event's rows from the full plan is the plan of the remaining legs (what
    :func:`make_plan` returns for them, legs renumbered).
    """
    plan, dropped = planned
    keep = plan[plan["event_id"] != event_id].reset_index(drop=True)
    keep["leg"] = np.arange(len(keep), dtype=np.int64)
    return keep, dropped[dropped["event_id"] != event_id].reset_index(drop=True)


def run_backtest(
    panel: PricePanel, instances: pd.DataFrame, universe: Universe, spec: StrategySpec | None = None
) -> BacktestResult:
    """Backtest ``spec`` on the aligned event instances (see :mod:`backtest.strategy`)."""
    spec = spec or StrategySpec()
    return run_prepared(prepare(panel, instances, universe, spec))
