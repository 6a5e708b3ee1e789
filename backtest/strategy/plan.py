"""The trade plan: for every leg, where it enters and exits, decided before any simulation.

Planning applies the timing kernels (:mod:`backtest.strategy.timing`) to each
leg; vectorbt then executes the plan (:mod:`backtest.strategy.execution`).
A leg that cannot be traded (no price after the news, an entry blocked for
too long, no benchmark to hedge with) is listed in the attrition table with
its reason instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from backtest.strategy.points import Clock, build_points, clock
from backtest.strategy.spec import StrategySpec, market_of
from backtest.strategy.timing import (
    OPEN,
    ExecutionPoints,
    Fill,
    find_entry,
    find_exit,
    intended_point,
)

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.universe import Security, Universe

NEVER = np.iinfo(np.int64).max
PLAN_COLUMNS: tuple[str, ...] = (
    "leg",
    "event_id",
    "stage",
    "security",
    "group",
    "role",
    "hedge_of",
    "side",
    "market",
    "knowable_at_utc",
    "entry_ns",
    "entry_session",
    "entry_phase",
    "entry_price",
    "entry_delay",
    "entry_waits",
    "exit_ns",
    "exit_session",
    "exit_phase",
    "exit_price",
    "exit_delay",
    "exit_waits",
    "exit_reason",
    "sessions_held",
    "fee_bps",
    "slippage_bps",
    "sell_tax_bps",
)


@dataclass(frozen=True)
class Venue:
    """Clocks and execution points of the securities a run touches, built once.

        :meth:`of` builds them for the given symbols (a run's legs, their benchmarks and
        the spec's benchmark); the mappings are read-only afterwards.  A security outside
        them still gets its points, computed on demand and not kept, and its clock (made once
    per process by :func:`backtest.strategy.points.clock`).
    """

    panel: PricePanel
    universe: Universe
    spec: StrategySpec
    clocks: Mapping[str, Clock]
    points: Mapping[str, ExecutionPoints]

    @classmethod
    def of(
        cls,
        panel: PricePanel,
        universe: Universe,
        spec: StrategySpec,
        symbols: Iterable[str] = (),
        clocks: Mapping[str, Clock] | None = None,
    ) -> Venue:
        """The venue of ``symbols`` (those in the universe and the panel), reusing
        ``clocks`` (they do not depend on the spec)."""
        secs = [universe[s] for s in dict.fromkeys(symbols) if s in universe and s in panel]
        clk = dict(clocks or {})
        for sec in secs:
            if sec.calendar not in clk:
                clk[sec.calendar] = clock(sec.calendar)
        pts = {
            sec.symbol: build_points(sec, panel.bars[sec.symbol], clk[sec.calendar], spec)
            for sec in secs
        }
        return cls(panel, universe, spec, MappingProxyType(clk), MappingProxyType(pts))

    def clock(self, sec: Security) -> Clock:
        got = self.clocks.get(sec.calendar)
        return got if got is not None else clock(sec.calendar)

    def pts(self, sec: Security) -> ExecutionPoints:
        got = self.points.get(sec.symbol)
        if got is not None:
            return got
        return build_points(sec, self.panel.bars[sec.symbol], self.clock(sec), self.spec)

    def with_spec(self, spec: StrategySpec) -> Venue:
        """The venue under another spec: the same points unless the spec changes how
        they are built (``missing_open``, ``limit_tolerance``)."""
        old = self.spec
        if (spec.missing_open, spec.limit_tolerance) == (old.missing_open, old.limit_tolerance):
            return replace(self, spec=spec)
        return Venue.of(self.panel, self.universe, spec, self.points, self.clocks)


def venue_symbols(legs: pd.DataFrame, universe: Universe, spec: StrategySpec) -> list[str]:
    """The securities a backtest of ``legs`` may price: each leg's security, its
    benchmarks (hedges, buy-and-hold comparison) and the spec's benchmark."""
    out: list[str] = []
    for sym in dict.fromkeys(legs["security"]):
        out.append(str(sym))
        if sym in universe:
            out += list(universe[sym].benchmarks)
    if spec.benchmark is not None:
        out.append(spec.benchmark)
    return out


def _row(
    venue: Venue,
    leg: Any,
    sec: Security,
    role: str,
    hedge_of: str,
    side: int,
    entry: Fill,
    exit_: Fill,
) -> dict[str, object]:
    """One plan row; ``leg`` is a row of the legs frame (event_id, stage, knowable_at_utc)."""
    pts, clk = venue.pts(sec), venue.clock(sec)
    market = market_of(sec.mic)
    cost = venue.spec.costs.of(market)
    es, xs = int(pts.session[entry.point]), int(pts.session[exit_.point])
    return {
        "leg": 0,
        "event_id": leg.event_id,
        "stage": leg.stage,
        "security": sec.symbol,
        "group": sec.group,
        "role": role,
        "hedge_of": hedge_of,
        "side": side,
        "market": market,
        "knowable_at_utc": leg.knowable_at_utc,
        "entry_ns": int(pts.instant[entry.point]),
        "entry_session": clk.labels[es],
        "entry_phase": "open" if pts.phase[entry.point] == OPEN else "close",
        "entry_price": entry.price,
        "entry_delay": entry.delay,
        "entry_waits": ",".join(entry.waits),
        "exit_ns": int(pts.instant[exit_.point]),
        "exit_session": clk.labels[xs],
        "exit_phase": "open" if pts.phase[exit_.point] == OPEN else "close",
        "exit_price": exit_.price,
        "exit_delay": exit_.delay,
        "exit_waits": ",".join(exit_.waits),
        "exit_reason": exit_.outcome,
        "sessions_held": xs - es,
        "fee_bps": cost.fee_bps,
        "slippage_bps": cost.slippage_bps,
        # indices stand in for index futures: no stamp duty
        "sell_tax_bps": 0.0 if sec.kind == "index" else cost.sell_tax_bps,
    }


def _session_at(clk: Clock, instant: int) -> int:
    return int(np.searchsorted(clk.close_ns, instant, side="left"))


def _plan_signal(venue: Venue, leg: Any, sec: Security) -> tuple[Fill, Fill] | str:
    spec, side = venue.spec, int(leg.side)
    clk, pts = venue.clock(sec), venue.pts(sec)
    known = int(leg.knowable_at_utc.value)
    s, target = intended_point(clk.open_ns, clk.close_ns, known, spec.entry_lag)
    if s < 0:
        return "no_session_after_news"
    if pts.m == 0 or s < pts.session[0]:
        return "before_first_bar"
    entry = find_entry(pts, target, s, buy=side > 0, max_wait=spec.max_entry_wait)
    if entry.point < 0:
        return entry.outcome
    s_exit = int(pts.session[entry.point]) + spec.hold
    exit_ns = int(clk.close_ns[s_exit]) if s_exit < clk.close_ns.shape[0] else NEVER
    exit_ = find_exit(
        pts,
        entry.point,
        entry.price,
        side,
        exit_ns,
        s_exit if exit_ns != NEVER else -1,
        spec.stop_loss,
    )
    if exit_.point < 0:
        return exit_.outcome
    return entry, exit_


def _plan_hedge(
    venue: Venue, bench: Security, side: int, entry_ns: int, exit_ns: int
) -> tuple[Fill, Fill] | str:
    clk, pts = venue.clock(bench), venue.pts(bench)
    entry = find_entry(
        pts, entry_ns, _session_at(clk, entry_ns), buy=side > 0, max_wait=venue.spec.max_entry_wait
    )
    if entry.point < 0:
        return "hedge_" + entry.outcome
    exit_ = find_exit(pts, entry.point, entry.price, side, exit_ns, _session_at(clk, exit_ns), None)
    if exit_.point < 0:
        return "hedge_" + exit_.outcome
    return entry, exit_


def _hedge_security(venue: Venue, sec: Security) -> Security | str:
    if not sec.benchmarks:
        return "no_benchmark"
    bench = venue.universe[sec.benchmarks[0]]
    if bench.symbol not in venue.panel:
        return "no_benchmark_prices"
    return bench


def make_plan(venue: Venue, legs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(plan, attrition)``: one plan row per executable leg (and hedge), in entry order."""
    import pandas as pd

    rows: list[dict[str, object]] = []
    dropped: list[tuple[object, ...]] = []
    for leg in legs.itertuples(index=False):
        sec = venue.universe[leg.security]
        got = _plan_signal(venue, leg, sec)
        if isinstance(got, str):
            dropped.append((leg.event_id, leg.stage, leg.security, got, ""))
            continue
        main = _row(venue, leg, sec, "signal", "", int(leg.side), *got)
        entry_ns, exit_ns = main["entry_ns"], main["exit_ns"]
        assert isinstance(entry_ns, int) and isinstance(exit_ns, int)
        rows.append(main)
        if not venue.spec.hedge:
            continue
        bench = _hedge_security(venue, sec)
        hedged = (
            bench
            if isinstance(bench, str)
            else _plan_hedge(venue, bench, -int(leg.side), int(entry_ns), int(exit_ns))
        )
        if isinstance(hedged, str):
            dropped.append((leg.event_id, leg.stage, leg.security, hedged, "traded unhedged"))
            continue
        assert not isinstance(bench, str)
        rows.append(_row(venue, leg, bench, "hedge", sec.symbol, -int(leg.side), *hedged))
    plan = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    if len(plan):
        plan = plan.sort_values(["entry_ns", "event_id", "security"], kind="stable")
        plan = plan.reset_index(drop=True)
        plan["leg"] = np.arange(len(plan), dtype=np.int64)
    cols = ["event_id", "stage", "security", "reason", "detail"]
    return plan, pd.DataFrame(dropped, columns=cols)
