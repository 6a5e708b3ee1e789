"""Execute a trade plan with vectorbt's order simulator (what ``Portfolio.from_orders``
runs, called with the arguments it would build, :func:`simulation_args`).

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
from typing import TYPE_CHECKING, Any

import numpy as np

from backtest.strategy.timing import ExecutionPoints, FloatArray, IntArray

if TYPE_CHECKING:
    from collections.abc import Mapping

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


def utc_index(ns: IntArray, name: str | None = None) -> pd.DatetimeIndex:
    """UTC nanoseconds as a tz-aware index (what ``pd.to_datetime(ns, utc=True)`` gives,
    without its per-element conversion, about 2 ms a call)."""
    import pandas as pd

    naive = pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]"), name=name)
    return naive.tz_localize("UTC")


def _row_index(plan: pd.DataFrame, points: Mapping[str, ExecutionPoints]) -> np.ndarray:
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
    slots: list[int] = []
    for entry, exit_ in zip(entry_row.tolist(), exit_row.tolist(), strict=True):
        slot = next((s for s, busy_until in enumerate(free_at) if busy_until < entry), None)
        if slot is None:
            slot = len(free_at)
            free_at.append(-1)
        slots.append(slot)
        free_at[slot] = exit_
    return np.array(slots, dtype=np.int64)


def _leg_points(
    plan: pd.DataFrame, points: Mapping[str, ExecutionPoints]
) -> tuple[IntArray, FloatArray, IntArray]:
    """(instants, prices, leg of each) of every leg's own points from entry to exit."""
    inst, price, owner = [], [], []
    entry = plan["entry_ns"].to_numpy(dtype=np.int64)
    exit_ = plan["exit_ns"].to_numpy(dtype=np.int64)
    for sym, legs in plan.groupby("security", sort=False).indices.items():
        pts = points[sym]
        lo = np.searchsorted(pts.instant, entry[legs], side="left")
        hi = np.searchsorted(pts.instant, exit_[legs], side="right")
        counts = hi - lo
        at = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        inst.append(pts.instant[at])
        price.append(pts.price[at])
        owner.append(np.repeat(legs, counts))
    return np.concatenate(inst), np.concatenate(price), np.concatenate(owner)


ORDER_FIELDS = ("size", "size_type", "price", "fees", "slippage")


def _order_arrays(
    plan: pd.DataFrame,
    points: Mapping[str, ExecutionPoints],
    rows: IntArray,
    slots: IntArray,
    notional: float,
) -> tuple[FloatArray, dict[str, np.ndarray], IntArray]:
    """``(close, orders, active)`` for vectorbt.

    close: (rows x slots), each leg's prices at its own instants in its slot, NaN
    elsewhere.  orders: size, size_type, price, fees, slippage on the ``active`` rows
    only (those where some slot places an order: a leg's entry or exit); a grid of
    every row would hold nothing else.  A slot holds one leg at a time
    (:func:`assign_slots`), so no two legs write a cell.
    """
    n_slots = int(slots.max()) + 1
    close = np.full((rows.shape[0], n_slots), np.nan)
    inst, px, owner = _leg_points(plan, points)
    close[np.searchsorted(rows, inst), slots[owner]] = px
    i_full = np.searchsorted(rows, plan["entry_ns"].to_numpy(dtype=np.int64))
    j_full = np.searchsorted(rows, plan["exit_ns"].to_numpy(dtype=np.int64))
    cand = np.unique(np.concatenate([i_full, j_full]))
    i, j = np.searchsorted(cand, i_full), np.searchsorted(cand, j_full)
    shape = (cand.shape[0], n_slots)
    size = np.full(shape, np.nan)
    size_type = np.full(shape, SIZE_AMOUNT, dtype=np.int64)
    price = np.full(shape, np.nan)
    fees = np.zeros(shape)
    slip = np.zeros(shape)
    side = plan["side"].to_numpy()
    entry_price = plan["entry_price"].to_numpy(dtype=np.float64)
    fee = plan["fee_bps"].to_numpy(dtype=np.float64)
    tax = plan["sell_tax_bps"].to_numpy(dtype=np.float64)
    size[i, slots] = side * notional / entry_price
    size[j, slots], size_type[j, slots] = 0.0, SIZE_TARGET_AMOUNT
    price[i, slots] = entry_price
    price[j, slots] = plan["exit_price"].to_numpy(dtype=np.float64)
    fees[i, slots] = (fee + np.where(side < 0, tax, 0.0)) * BPS
    fees[j, slots] = (fee + np.where(side > 0, tax, 0.0)) * BPS
    slip[i, slots] = slip[j, slots] = plan["slippage_bps"].to_numpy(dtype=np.float64) * BPS
    keep = np.isfinite(size).any(axis=1)  # a row whose every size is NaN places no order
    orders = dict(zip(ORDER_FIELDS, (size, size_type, price, fees, slip), strict=True))
    return close, {k: a[keep] for k, a in orders.items()}, cand[keep]


def _fills(
    records: np.ndarray, slots: IntArray, entry_row: IntArray, exit_row: IntArray
) -> pd.DataFrame:
    """Per leg: its entry and exit orders, found by (slot, row)."""
    import pandas as pd

    n_rows = int(max(entry_row.max(initial=0), exit_row.max(initial=0))) + 1
    cell = records["col"].astype(np.int64) * n_rows + records["idx"].astype(np.int64)
    order = np.argsort(cell, kind="stable")
    cell = cell[order]

    def find(row: IntArray) -> tuple[np.ndarray, np.ndarray]:
        want = slots * n_rows + row
        at = np.minimum(np.searchsorted(cell, want), max(cell.size - 1, 0))
        hit = (cell[at] == want) if cell.size else np.zeros(want.shape, dtype=bool)
        return hit, order[at] if cell.size else at

    e_hit, e_at = find(entry_row)
    x_hit, x_at = find(exit_row)
    filled = e_hit & x_hit
    nan = np.full(slots.shape[0], np.nan)
    frame = pd.DataFrame(
        {
            "size": np.where(filled, records["size"][e_at], nan) if cell.size else nan,
            "entry_fill": np.where(filled, records["price"][e_at], nan) if cell.size else nan,
            "exit_fill": np.where(filled, records["price"][x_at], nan) if cell.size else nan,
            "entry_fees": np.where(filled, records["fees"][e_at], nan) if cell.size else nan,
            "exit_fees": np.where(filled, records["fees"][x_at], nan) if cell.size else nan,
        }
    )
    frame["filled"] = filled
    frame["slot"], frame["entry_row"], frame["exit_row"] = slots, entry_row, exit_row
    return frame


def _equity(records: np.ndarray, last: FloatArray, initial_cash: float) -> FloatArray:
    """The cash-sharing group's value at every row from its order records and the
    forward-filled closes ``last``: vectorbt's ``Portfolio.value()`` computed by the
    same vectorbt kernels, without its pandas wrapping (which costs more than the
    simulation).  ``test_strategy_pnl`` pins it equal to ``pf.value()``."""
    import pandas as pd
    from vectorbt.portfolio import dispatch
    from vectorbt.portfolio.enums import Direction
    from vectorbt.records.dispatch import col_map

    shape = last.shape
    cmap = col_map(records["col"], shape[1])
    lens = np.array([shape[1]], dtype=np.int64)
    flow = dispatch.cash_flow_grouped(dispatch.cash_flow(shape, records, cmap, False), lens)
    init = dispatch.init_cash_grouped(np.array([initial_cash], dtype=np.float64), lens, True)
    cash = dispatch.cash_grouped(shape, flow, lens, init)
    assets = dispatch.assets(dispatch.asset_flow(shape, records, cmap, Direction.Both))
    filled = pd.DataFrame(last).bfill().to_numpy(dtype=np.float64, copy=True)  # filled close
    filled[assets == 0] = 0.0
    held = dispatch.asset_value_grouped(dispatch.asset_value(filled, assets), lens)
    value = dispatch.value(cash, held)
    return np.asarray(value, dtype=np.float64)[:, 0]


def _gross(last: FloatArray, fills: pd.DataFrame) -> FloatArray:
    """Sum over legs of |shares x last price| while each leg is open (entry row to exit row);
    ``last`` holds the forward-filled closes."""
    gross = np.zeros(last.shape[0])
    ok = fills["filled"].to_numpy(dtype=bool)
    cols = ("size", "slot", "entry_row", "exit_row")
    size, slot, lo, hi = (fills[c].to_numpy()[ok] for c in cols)
    for k in range(size.shape[0]):  # leg by leg, in plan order
        a, b = int(lo[k]), int(hi[k])
        gross[a:b] += np.abs(size[k] * last[a:b, int(slot[k])])
    return gross


# What an added row or column holds: no order (size NaN), a harmless price and costs.
_PAD = {"size": np.nan, "price": np.nan, "fees": 0.0, "slippage": 0.0, "close": 1.0}


def _two_by_two(grid: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The order grid with at least two rows and two columns, the additions without orders.

    numba compiles vectorbt's simulator once per argument layout, and a grid with a
    single row or column is both C- and F-contiguous, which it types apart from the
    usual grid: a one-leg plan or a one-row simulation would compile the simulator a
    second time (about 15 s on a cold cache).  An added column (slot) never trades
    (size NaN; its close 1.0 values its zero position at 0) and sits after the real
    ones; an added row repeats the last closes with no order.  Neither changes an
    order, so the order records are those of the grid as given.
    """
    rows, cols = grid["size"].shape
    out = dict(grid)
    if cols < 2:
        for k, a in out.items():
            fill = _PAD.get(k, a[0, 0] if a.size else 0)
            out[k] = np.concatenate([a, np.full((rows, 1), fill, dtype=a.dtype)], axis=1)
    if rows < 2:
        for k, a in out.items():
            extra = a[-1:].copy() if k in ("close", "size_type") else np.full_like(a[-1:], _PAD[k])
            out[k] = np.concatenate([a, extra], axis=0)
    return out


def simulation_args(
    grid: dict[str, np.ndarray], initial_cash: float, n_legs: int
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments ``vbt.Portfolio.from_orders`` would hand vectorbt's simulator for
    ``grid`` (one cash-sharing group, ``direction="both"``, ``call_seq="auto"``,
    ``lock_cash``, no partial fills, ``ffill_val_price``), built without its pandas
    wrapping, which costs about 18 ms a call, more than the simulation.

    Same values, dtypes, layouts and read-only flags as ``from_orders`` gives (numba
    compiles the simulator once per argument types), which
    ``test_strategy_pnl`` pins against a captured ``from_orders`` call.
    """
    from vectorbt.portfolio.enums import Direction
    from vectorbt.portfolio.nb import build_call_seq

    rows, cols = grid["size"].shape
    shape = (int(rows), int(cols))
    group_lens = np.array([cols], dtype=np.int64)
    init_cash = np.require(np.broadcast_to(initial_cash, (1,)), dtype=np.float64)
    args: tuple[Any, ...] = (
        shape,
        group_lens,
        init_cash,
        build_call_seq(shape, group_lens),
        grid["size"],
        grid["price"],
        grid["size_type"],
        np.asarray(Direction.Both),
        grid["fees"],
        np.asarray(0.0),  # fixed_fees
        grid["slippage"],
        np.asarray(1e-8),  # min_size (vectorbt's default)
        np.asarray(np.inf),  # max_size
        np.asarray(np.nan),  # size_granularity
        np.asarray(0.0),  # reject_prob
        np.asarray(True),  # lock_cash
        np.asarray(False),  # allow_partial
        np.asarray(False),  # raise_reject
        np.asarray(False),  # log
        np.asarray(np.inf),  # val_price
        grid["close"],
    )
    options: dict[str, Any] = {
        "auto_call_seq": True,
        "ffill_val_price": True,
        "update_value": False,
        "max_orders": 2 * n_legs + 2,
        "max_logs": 1,
        "init_temp_records": False,
        "flex_2d": True,
        "engine": None,
    }
    return args, options


def _simulate(
    orders: dict[str, np.ndarray],
    active: IntArray,
    last: FloatArray,
    initial_cash: float,
    n_legs: int,
) -> np.ndarray:
    """vectorbt's order records of the plan, on the rows where an order is placed.

    ``orders`` holds the order arrays (``ORDER_FIELDS``) of the ``active`` rows only.
    Rows without an order change neither cash nor positions, and with
    ``ffill_val_price`` an order row values every slot at its last known close,
    so simulating only the order rows, with the forward-filled closes, places
    the same orders (``test_strategy_pnl`` pins it against ``from_orders`` on the
    full grid).  Order records come back indexed by the full rows.
    """
    from vectorbt.portfolio import dispatch

    grid = _two_by_two({k: orders[k] for k in ORDER_FIELDS} | {"close": last[active]})
    args, options = simulation_args(grid, initial_cash, n_legs)
    order_records, _ = dispatch.simulate_from_orders(*args, **options)
    records = np.array(order_records, copy=True)
    records["idx"] = active[records["idx"]]
    return records


def execute(
    plan: pd.DataFrame,
    points: Mapping[str, ExecutionPoints],
    *,
    initial_cash: float,
    leg_fraction: float,
) -> Execution:
    """Simulate the plan in one cash-sharing vectorbt portfolio."""
    import pandas as pd

    rows = _row_index(plan, points)
    entry_row = np.searchsorted(rows, plan["entry_ns"].to_numpy(dtype=np.int64))
    exit_row = np.searchsorted(rows, plan["exit_ns"].to_numpy(dtype=np.int64))
    slots = assign_slots(entry_row, exit_row)
    close, orders, active = _order_arrays(plan, points, rows, slots, leg_fraction * initial_cash)
    last = pd.DataFrame(close).ffill().to_numpy(dtype=np.float64)
    records = _simulate(orders, active, last, initial_cash, len(plan))
    index = utc_index(rows, name="time")
    fills = _fills(records, slots, entry_row, exit_row)
    equity = pd.Series(_equity(records, last, initial_cash), index=index, name="equity")
    gross = pd.Series(_gross(last, fills), index=index, name="gross")
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
