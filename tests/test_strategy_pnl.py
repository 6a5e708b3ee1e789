"""Acceptance: on a small hand-made case, vectorbt's P&L equals the P&L computed by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from backtest.strategy import CostModel, Costs, StrategySpec, run_backtest

try:
    from test_strategy_support import UNIVERSE, bars_from, instances, make_panel, session_dates, utc
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.test_strategy_support import (
        UNIVERSE,
        bars_from,
        instances,
        make_panel,
        session_dates,
        utc,
    )

CASH = 1_000_000.0
NOTIONAL = 0.05 * CASH
NEWS = utc("2024-04-10 12:00")  # Wednesday, before the New York open (13:30 UTC)


def _linear(symbol: str, base: float, step: float, gap: float) -> pd.DataFrame:
    dates = session_dates(symbol, "2024-03-25", "2024-04-30")
    close = base + step * np.arange(len(dates))
    open_ = np.concatenate([[close[0]], close[:-1]]) + gap
    return bars_from(dates, close, open_)


@pytest.fixture(scope="module")
def panel():
    return make_panel(
        {
            "NVDA": _linear("NVDA", 100.0, 0.5, 0.25),
            "SPY": _linear("SPY", 500.0, 1.0, -0.5),
            "688981.SS": _linear("688981.SS", 40.0, -0.2, 0.1),
            "000300.SS": _linear("000300.SS", 3500.0, 2.0, 1.0),
        }
    )


def _short_pnl(bars: pd.DataFrame, entry: str, exit_: str, cost: CostModel):
    p_in, p_out = bars.loc[entry, "open"], bars.loc[exit_, "close"]
    q = NOTIONAL / p_in
    f_in = p_in * (1 - cost.slippage_bps * 1e-4)  # a short sale fills lower
    f_out = p_out * (1 + cost.slippage_bps * 1e-4)  # the cover fills higher
    fees = q * f_in * (cost.fee_bps + cost.sell_tax_bps) * 1e-4 + q * f_out * cost.fee_bps * 1e-4
    return q * (f_in - f_out) - fees, q, f_in


def _long_pnl(bars: pd.DataFrame, entry: str, exit_: str, cost: CostModel):
    p_in, p_out = bars.loc[entry, "open"], bars.loc[exit_, "close"]
    q = NOTIONAL / p_in
    f_in = p_in * (1 + cost.slippage_bps * 1e-4)
    f_out = p_out * (1 - cost.slippage_bps * 1e-4)
    fees = q * f_in * cost.fee_bps * 1e-4 + q * f_out * (cost.fee_bps + cost.sell_tax_bps) * 1e-4
    return q * (f_out - f_in) - fees, q, f_in


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_spread_pnl_equals_hand_computation(panel):
    costs = Costs()
    inst = instances([("rule-1", "tightening", NEWS)], ["NVDA", "688981.SS"])
    res = run_backtest(
        panel,
        inst,
        UNIVERSE,
        StrategySpec(strategy="substitution_spread", hold=3, initial_cash=CASH),
    )
    # NVDA: news before the open -> short at the 04-10 open, exit at the close 3 sessions later.
    nv_pnl, nv_q, nv_fill = _short_pnl(panel.bars["NVDA"], "2024-04-10", "2024-04-15", costs.us)
    # Shanghai closed at 07:00 UTC on 04-10, before the news: first price is the 04-11 open.
    cn_pnl, _, _ = _long_pnl(panel.bars["688981.SS"], "2024-04-11", "2024-04-16", costs.a_share)

    assert res.equity.iloc[-1] - CASH == pytest.approx(nv_pnl + cn_pnl, rel=1e-10)
    t = res.trades.set_index("security")
    assert t.loc["NVDA", "pnl"] == pytest.approx(nv_pnl, rel=1e-10)
    assert t.loc["688981.SS", "pnl"] == pytest.approx(cn_pnl, rel=1e-10)
    assert t.loc["NVDA", "return"] == pytest.approx(nv_pnl / (nv_q * nv_fill), rel=1e-10)
    assert t.loc["NVDA", "side"] == "short" and t.loc["688981.SS", "side"] == "long"
    assert (t.loc["NVDA", "entry_date"], t.loc["NVDA", "entry_phase"]) == (
        pd.Timestamp("2024-04-10"),
        "open",
    )
    assert (t.loc["688981.SS", "exit_date"], t.loc["688981.SS", "exit_phase"]) == (
        pd.Timestamp("2024-04-16"),
        "close",
    )
    # Marked to market at the NVDA close of the entry day (the A-share leg is not yet open).
    close_0410 = panel.bars["NVDA"].loc["2024-04-10", "close"]
    fee_in = nv_q * nv_fill * 1e-4
    assert res.equity.loc[utc("2024-04-10 20:00")] == pytest.approx(
        CASH + nv_q * (nv_fill - close_0410) - fee_in, rel=1e-12
    )


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_hedged_leg_takes_the_opposite_side_of_the_benchmark(panel):
    costs = Costs()
    inst = instances([("rule-1", "tightening", NEWS)], ["NVDA"])
    res = run_backtest(
        panel,
        inst,
        UNIVERSE,
        StrategySpec(strategy="short_incumbents", hedge=True, hold=3, initial_cash=CASH),
    )
    nv_pnl, _, _ = _short_pnl(panel.bars["NVDA"], "2024-04-10", "2024-04-15", costs.us)
    spy_pnl, spy_q, _ = _long_pnl(panel.bars["SPY"], "2024-04-10", "2024-04-15", costs.us)
    t = res.trades.set_index("security")
    assert t.loc["SPY", "role"] == "hedge" and t.loc["SPY", "hedge_of"] == "NVDA"
    assert t.loc["SPY", "side"] == "long"
    assert t.loc["SPY", "size"] == pytest.approx(spy_q, rel=1e-12)
    assert res.equity.iloc[-1] - CASH == pytest.approx(nv_pnl + spy_pnl, rel=1e-10)


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_fees_override_changes_pnl_by_the_fee_difference(panel):
    inst = instances([("rule-1", "easing", NEWS)], ["NVDA"])
    base = run_backtest(panel, inst, UNIVERSE, StrategySpec(strategy="short_incumbents", hold=3))
    dearer = run_backtest(
        panel,
        inst,
        UNIVERSE,
        StrategySpec(strategy="short_incumbents", hold=3, costs=Costs().with_fee(10.0)),
    )
    t0, t1 = base.trades.iloc[0], dearer.trades.iloc[0]
    assert t0["side"] == "long"  # easing -> long incumbents
    notional_in, notional_out = t0["size"] * t0["entry_fill"], t0["size"] * t0["exit_fill"]
    assert t0["pnl"] - t1["pnl"] == pytest.approx(9e-4 * (notional_in + notional_out), rel=1e-9)


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_result_reports_benchmark_and_tables(panel):
    inst = instances([("rule-1", "tightening", NEWS)], ["NVDA", "688981.SS"])
    res = run_backtest(panel, inst, UNIVERSE, StrategySpec(hold=3))
    assert res.benchmark == "SPY"  # the first signal leg's first benchmark
    spy = panel.bars["SPY"]
    # Same span as the strategy: from the first entry (NVDA, 04-10 open) to the last exit
    # (Shanghai close of 04-16, 07:00 UTC): SPY's last price by then is the 04-15 close.
    expected = spy.loc["2024-04-15", "close"] / spy.loc["2024-04-10", "open"] - 1.0
    assert res.benchmark_performance.total_return == pytest.approx(expected, rel=1e-12)
    text = res.summary()
    assert "SYNTHETIC DATA" in text and "buy&hold SPY" in text and "trades 2" in text
    vol = next(ln for ln in text.splitlines() if ln.startswith("annual volatility"))
    assert "+" not in vol and f"{res.performance.annual_volatility:.2%}" in vol  # unsigned
    tables = res.tables()
    assert set(tables) == {
        "backtest_trades",
        "backtest_metrics",
        "backtest_equity",
        "backtest_attrition",
    }
    m = tables["backtest_metrics"].set_index("metric")
    assert m.loc["n_trades", "strategy"] == 2
    assert m.loc["total_return", "strategy"] == pytest.approx(res.equity.iloc[-1] / 1e6 - 1)


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_entry_the_free_cash_cannot_fund_is_rejected_and_listed(panel):
    # Two legs at 60 % of cash each: vectorbt rejects the second (shorts need collateral too).
    inst = instances([("rule-1", "tightening", NEWS)], ["NVDA", "688981.SS"])
    res = run_backtest(panel, inst, UNIVERSE, StrategySpec(hold=3, leg_fraction=0.6))
    assert res.trades["security"].tolist() == ["NVDA"]
    assert res.attrition[["security", "reason"]].values.tolist() == [
        ["688981.SS", "insufficient_cash"]
    ]
    nv_pnl, _, _ = _short_pnl(panel.bars["NVDA"], "2024-04-10", "2024-04-15", Costs().us)
    assert res.equity.iloc[-1] - CASH == pytest.approx(nv_pnl * 12, rel=1e-10)


def _random_orders(seed: int, rows: int = 60, slots: int = 4):
    """Dense order arrays like execution._order_arrays: legs in slots, closes only at
    each leg's own rows, entries sized in shares and exits to a target of zero."""
    from backtest.strategy.execution import SIZE_AMOUNT, SIZE_TARGET_AMOUNT

    rng = np.random.default_rng(seed)
    shape = (rows, slots)
    out = {
        "close": np.full(shape, np.nan),
        "size": np.full(shape, np.nan),
        "size_type": np.full(shape, SIZE_AMOUNT, dtype=np.int64),
        "price": np.full(shape, np.nan),
        "fees": np.zeros(shape),
        "slippage": np.zeros(shape),
    }
    for col in range(slots):
        at = 1 + col
        while at + 3 < rows:
            i, j = at, at + int(rng.integers(2, 9))
            j = min(j, rows - 1)
            px = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.02, j - i + 1)))
            out["close"][i : j + 1, col] = px
            out["size"][i, col] = rng.choice([-1.0, 1.0]) * 4_000.0 / px[0]
            out["size"][j, col], out["size_type"][j, col] = 0.0, SIZE_TARGET_AMOUNT
            out["price"][i, col], out["price"][j, col] = px[0], px[-1]
            out["fees"][[i, j], col] = 0.001
            out["slippage"][[i, j], col] = 0.0005
            at = j + 1 + int(rng.integers(0, 5))
    return out


def _vbt_portfolio(arrays: dict[str, np.ndarray], **extra: object) -> Any:
    """vectorbt's own Portfolio.from_orders on dense order arrays, with the options
    execution._simulate promises to reproduce (one cash-sharing group, both directions,
    automatic call order, locked cash, no partial fills, forward-filled valuation)."""
    import vectorbt as vbt

    return vbt.Portfolio.from_orders(
        **arrays,
        direction="both",
        init_cash=10_000.0,
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        allow_partial=False,
        lock_cash=True,
        ffill_val_price=True,
        max_logs=0,
        **extra,
    )


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_order_rows_only_simulation_equals_vectorbt_on_every_row(seed):
    """execution._simulate (order rows only, closes forward-filled) and _equity give the
    order records and pf.value() of vectorbt run on every row."""

    from backtest.strategy.execution import ORDER_FIELDS, _equity, _simulate

    arrays = _random_orders(seed)
    pf = _vbt_portfolio(arrays)
    last = pd.DataFrame(arrays["close"]).ffill().to_numpy()
    active = np.flatnonzero(np.isfinite(arrays["size"]).any(axis=1))  # the order rows
    orders = {k: arrays[k][active] for k in ORDER_FIELDS}
    records = _simulate(orders, active, last, 10_000.0, 100)
    full = pf.order_records
    assert len(full) > 10
    for field in ("col", "idx", "size", "price", "fees", "side"):
        assert np.array_equal(np.sort(records[field]), np.sort(full[field])), field
    assert np.array_equal(_equity(records, last, 10_000.0), np.asarray(pf.value()))


def test_leave_one_out_plan_equals_planning_the_remaining_legs(panel):
    from backtest.strategy.engine import plan_without_event, prepare
    from backtest.strategy.plan import make_plan

    inst = instances(
        [("rule-1", "tightening", NEWS), ("rule-2", "tightening", utc("2024-04-17 12:00"))],
        ["NVDA", "688981.SS"],
    )
    prep = prepare(panel, inst, UNIVERSE, StrategySpec(hedge=True, hold=3))
    full = make_plan(prep.venue, prep.legs)
    assert set(full[0]["event_id"]) == {"rule-1", "rule-2"}
    for ev in ("rule-1", "rule-2"):
        alone = make_plan(prep.venue, prep.without_event(ev).legs)
        cut = plan_without_event(full, ev)
        pd.testing.assert_frame_equal(cut[0], alone[0], check_exact=True)
        pd.testing.assert_frame_equal(cut[1], alone[1], check_exact=True, check_dtype=False)


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_simulator_gets_what_from_orders_would_give_it(monkeypatch):
    """execution.simulation_args hands vectorbt's simulator the arguments
    ``Portfolio.from_orders`` passes it for the same grid: equal values, dtypes, array
    layouts and read-only flags (numba's types, so no second compilation), and the
    same options."""
    import numba
    from vectorbt.portfolio import base, dispatch

    from backtest.strategy.execution import simulation_args

    arrays = _random_orders(4)
    seen: list[tuple[tuple[object, ...], dict[str, object]]] = []
    real = dispatch.simulate_from_orders

    def spy(*args: object, **kwargs: object) -> object:
        seen.append((args, dict(kwargs)))  # as given: a copy would lose read-only flags
        return real(*args, **kwargs)

    monkeypatch.setattr(base.dispatch, "simulate_from_orders", spy)
    _vbt_portfolio(arrays, max_orders=2 * 100 + 2)
    ((want, want_kw),) = seen
    got, got_kw = simulation_args(arrays, 10_000.0, 100)
    assert got_kw == want_kw
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        if isinstance(w, tuple):
            assert g == w and all(type(x) is int for x in g), k
            continue
        assert numba.typeof(g) == numba.typeof(w), (k, numba.typeof(g), numba.typeof(w))
        if k == 3:  # call_seq: from_orders' copy was re-sorted in place by the simulation
            assert g.shape == w.shape
            continue
        assert np.array_equal(g, w, equal_nan=True), k
