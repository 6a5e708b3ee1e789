"""Return series on each security's own exchange sessions, and their market regressors.

This is the one step between the price panel and the study engine:

* a security's returns are indexed by every session of its exchange from its
  first to its last bar; a session without a bar (suspension, gap) is NaN,
  and the move across it is assigned to the next bar (the return from the
  last available close), as estudy2 does with ``multi_day=TRUE``;
* its market regressor is the return of its first benchmark that has prices,
  read on the security's own sessions (same calendar for every shipped
  benchmark); the policy and the benchmark chosen are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.universe import Universe

ReturnKind = Literal["simple", "log"]


@dataclass(frozen=True)
class StudyInputs:
    """Per-security returns and regressors, ready for the study engine."""

    returns: dict[str, pd.Series]
    market: dict[str, pd.DataFrame]
    benchmark_of: dict[str, str]
    missing: dict[str, str]


def session_returns(panel: PricePanel, symbol: str, calendar: str,
                    kind: ReturnKind = "simple") -> pd.Series:
    """Returns of ``symbol`` on every session of ``calendar`` within its data span."""
    import numpy as np

    from backtest.market.calendars import sessions

    close = panel.close(symbol).dropna()
    close = close[close > 0]
    if len(close) < 2:
        return close.iloc[:0].astype(float)
    sess = sessions(calendar, close.index[0], close.index[-1])
    ratio = close / close.shift(1)
    r = np.log(ratio) if kind == "log" else ratio - 1.0
    return r.reindex(sess.union(close.index)).iloc[1:].rename(symbol)


US_CALENDARS = ("XNYS", "XNAS")


def study_inputs(panel: PricePanel, universe: Universe, symbols: list[str] | tuple[str, ...],
                 kind: ReturnKind = "simple", factors: pd.DataFrame | None = None
                 ) -> StudyInputs:
    """Returns and first-available-benchmark regressors for ``symbols``.

    With ``factors`` (Fama-French daily, decimals), securities on US sessions get
    the factor columns as extra regressors on their own dates; the factors are US
    factors, so other markets do not get them (a factor model drops them, counted
    in the attrition table).
    """
    import pandas as pd

    returns: dict[str, pd.Series] = {}
    market: dict[str, pd.DataFrame] = {}
    chosen: dict[str, str] = {}
    missing: dict[str, str] = {}
    for sym in symbols:
        if sym not in universe:
            missing[sym] = "not in the universe"
            continue
        sec = universe[sym]
        if sym not in panel:
            missing[sym] = "no prices"
            continue
        r = session_returns(panel, sym, sec.calendar, kind)
        bench = next((b for b in sec.benchmarks if b in panel), None)
        if bench is None:
            missing[sym] = f"none of its benchmarks {list(sec.benchmarks)} has prices"
            continue
        m = session_returns(panel, bench, universe[bench].calendar, kind)
        returns[sym] = r
        regs = pd.DataFrame({"market": m.reindex(r.index)})
        if factors is not None and sec.calendar in US_CALENDARS:
            regs = regs.join(factors.reindex(r.index))
        market[sym] = regs
        chosen[sym] = bench
    return StudyInputs(returns=returns, market=market, benchmark_of=chosen, missing=missing)
