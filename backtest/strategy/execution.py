"""Execute a trade plan with vectorbt ``Portfolio.from_orders``.

Why ``from_orders``: the plan already fixes each leg's entry and exit point
(with venue rules applied), so the simulator only has to fill two orders per
column, charge fees and slippage, and keep one shared cash account.
``from_signals`` would re-decide timing and stops inside vectorbt, which
knows nothing of price limits or T+1.

Layout: rows are UTC instants (every open and close of the securities
involved, merged across exchanges, so a Hong Kong close sorts before a New
York open of the same date).  Every leg (one event instance in one
security; hedges are legs too) is its own position in its own column, so
overlapping trades never net against each other.  To keep the arrays small,
a column is a *slot* that legs reuse once the previous leg has exited
(:func:`assign_slots`): there are as many columns as legs ever open at
once, not as many as legs.  ``close`` holds, in each slot, the prices of
the leg occupying it at that leg's own instants (vectorbt forward-fills the
rest for valuation); ``price`` holds the order prices; ``call_seq="auto"``
lets vectorbt process the orders of one row that free cash first.

Cash: ``lock_cash=True``, so a short needs free cash as collateral for its
full value (no leverage from short proceeds).  Entry size is
``leg_fraction * initial_cash / entry_price`` shares (signed); the exit is
a target of zero shares, so an entry vectorbt rejected for lack of free
cash never turns into an opposite position.  Slippage moves the fill price
against the order; fees (and the sell tax on sells) are a fraction of the
filled value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backtest.strategy.timing import ExecutionPoints, FloatArray, IntArray

if TYPE_CHECKING:
    import pandas as pd

BPS = 1e-4
SIZE_AMOUNT, SIZE_TARGET_AMOUNT = 0, 3  # vectorbt SizeType codes


@dataclass(frozen=True)
class Execution:
    """What vectorbt did with a plan.

    equity:  portfolio value at every row instant (UTC index).
    gross:   gross exposure (sum of absolute position values) at every row.
    fills:   one row per leg: filled (bool), size, entry_fill, exit_fill,
             entry_fees, exit_fees (fill prices include slippage).
    """

    equity: pd.Series
    gross: pd.Series
    fills: pd.DataFrame


def _row_index(plan: pd.DataFrame, points: dict[str, ExecutionPoints]) -> np.ndarray:
    lo, hi = int(plan["entry_ns"].min()), int(plan["exit_ns"].max())
    parts = []
    for sym in plan["security"].unique():
        t = points[sym].instant
        parts.append(t[(t >= lo) & (t <= hi)])
    return np.unique(np.concatenate(parts))


def assign_slots(entry_row: IntArray, exit_row: IntArray) -> IntArray:
    """Column ("slot") of each leg: the lowest-numbered slot free before the leg enters.

    Legs must be in entry order.  A slot is free when its previous leg exited
    on an earlier row, so no column ever holds two positions at once.
    """
    free_at: list[int] = []  # last exit row of each slot
    slots = np.empty(entry_row.shape[0], dtype=np.int64)
    for k in range(entry_row.shape[0]):
        free = [s for s, busy_until in enumerate(free_at) if busy_until < entry_row[k]]
        slot = free[0] if free else len(free_at)
        if not free:
            free_at.append(-1)
        slots[k] = slot
        free_at[slot] = int(exit_row[k])
    return slots


def _order_arrays(
    plan: pd.DataFrame,
    points: dict[str, ExecutionPoints],
    rows: IntArray,
    slots: IntArray,
    notional: float,
) -> dict[str, np.ndarray]:
    """Dense (rows x slots) arrays for vectorbt: close, size, size_type, price, fees, slippage."""
    shape = (rows.shape[0], int(slots.max()) + 1)
    close = np.full(shape, np.nan)
    size = np.full(shape, np.nan)
    size_type = np.full(shape, SIZE_AMOUNT, dtype=np.int64)
    price = np.full(shape, np.nan)
    fees = np.zeros(shape)
    slip = np.zeros(shape)
    for leg, col in zip(plan.itertuples(index=False), slots, strict=True):
        pts = points[leg.security]
        inside = (pts.instant >= leg.entry_ns) & (pts.instant <= leg.exit_ns)
        close[np.searchsorted(rows, pts.instant[inside]), col] = pts.price[inside]
        i, j = np.searchsorted(rows, [leg.entry_ns, leg.exit_ns])
        size[i, col] = leg.side * notional / leg.entry_price
        size[j, col], size_type[j, col] = 0.0, SIZE_TARGET_AMOUNT
        price[i, col], price[j, col] = leg.entry_price, leg.exit_price
        entry_tax = leg.sell_tax_bps if leg.side < 0 else 0.0
        exit_tax = leg.sell_tax_bps if leg.side > 0 else 0.0
        fees[i, col] = (leg.fee_bps + entry_tax) * BPS
        fees[j, col] = (leg.fee_bps + exit_tax) * BPS
        slip[[i, j], col] = leg.slippage_bps * BPS
    return {
        "close": close,
        "size": size,
        "size_type": size_type,
        "price": price,
        "fees": fees,
        "slippage": slip,
    }


def _fills(
    records: np.ndarray, slots: IntArray, entry_row: IntArray, exit_row: IntArray
) -> pd.DataFrame:
    """Per leg: its entry and exit orders, found by (slot, row)."""
    import pandas as pd

    by_cell = {(int(r["col"]), int(r["idx"])): r for r in records}
    n = slots.shape[0]
    out = {
        k: np.full(n, np.nan)
        for k in ("size", "entry_fill", "exit_fill", "entry_fees", "exit_fees")
    }
    filled = np.zeros(n, dtype=bool)
    for k in range(n):
        entry = by_cell.get((int(slots[k]), int(entry_row[k])))
        exit_ = by_cell.get((int(slots[k]), int(exit_row[k])))
        if entry is None or exit_ is None:
            continue
        filled[k] = True
        out["size"][k] = entry["size"]
        out["entry_fill"][k], out["entry_fees"][k] = entry["price"], entry["fees"]
        out["exit_fill"][k], out["exit_fees"][k] = exit_["price"], exit_["fees"]
    frame = pd.DataFrame(out)
    frame["filled"] = filled
    frame["slot"], frame["entry_row"], frame["exit_row"] = slots, entry_row, exit_row
    return frame


def _gross(close: np.ndarray, fills: pd.DataFrame) -> FloatArray:
    """Sum over legs of |shares x last price| while each leg is open (entry row to exit row)."""
    import pandas as pd

    last = pd.DataFrame(close).ffill().to_numpy()
    gross = np.zeros(close.shape[0])
    for f in fills.itertuples(index=False):
        if f.filled:
            gross[f.entry_row : f.exit_row] += np.abs(
                f.size * last[f.entry_row : f.exit_row, f.slot]
            )
    return gross


def execute(
    plan: pd.DataFrame,
    points: dict[str, ExecutionPoints],
    *,
    initial_cash: float,
    leg_fraction: float,
) -> Execution:
    """Simulate the plan in one cash-sharing vectorbt portfolio."""
    import pandas as pd
    import vectorbt as vbt

    rows = _row_index(plan, points)
    entry_row = np.searchsorted(rows, plan["entry_ns"].to_numpy(dtype=np.int64))
    exit_row = np.searchsorted(rows, plan["exit_ns"].to_numpy(dtype=np.int64))
    slots = assign_slots(entry_row, exit_row)
    arrays = _order_arrays(plan, points, rows, slots, leg_fraction * initial_cash)
    pf = vbt.Portfolio.from_orders(
        close=arrays["close"],
        size=arrays["size"],
        size_type=arrays["size_type"],
        price=arrays["price"],
        fees=arrays["fees"],
        slippage=arrays["slippage"],
        direction="both",
        init_cash=initial_cash,
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        allow_partial=False,
        lock_cash=True,
        ffill_val_price=True,
        max_orders=2 * len(plan) + 2,
        max_logs=0,
    )
    index = pd.DatetimeIndex(pd.to_datetime(rows, utc=True), name="time")
    fills = _fills(pf.orders.values, slots, entry_row, exit_row)
    equity = pd.Series(np.asarray(pf.value(), dtype=np.float64), index=index, name="equity")
    gross = pd.Series(_gross(arrays["close"], fills), index=index, name="gross")
    return Execution(equity=equity, gross=gross, fills=fills)


def leg_returns(
    side: FloatArray,
    size: FloatArray,
    entry_fill: FloatArray,
    exit_fill: FloatArray,
    fees: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """``(pnl, return)`` of each leg; the return is net P&L over the entry notional."""
    pnl = side * size * (exit_fill - entry_fill) - fees
    return pnl, pnl / (size * entry_fill)
