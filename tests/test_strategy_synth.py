"""Acceptance: on the synthetic market the spread strategy earns the planted drift minus costs.

The lead's synthetic market (``backtest.synth``) plants, after every tightening
event, a drift of -1 % a session on US incumbents and +1 % a session on
Chinese substitutes for the 3 sessions after day 0.  The spread strategy
(short incumbents, long substitutes, hold 3 sessions) then earns about
1.01**3 - 1 = 3.03 % on a long leg and 1 - 0.99**3 = 2.97 % on a short leg,
before costs.  The same seed without plants gives the same base prices, so
the planted-minus-null difference of each trade isolates the drift.

Tolerances, stated:
* mean trade return (planted) = mean drift - mean round-trip cost, within
  3 standard errors of the per-event mean return of the null run (events,
  not legs, are the independent units: legs of one event share the date);
* paired planted-minus-null mean = mean drift, within 0.2 percentage points
  (compounding with base returns is the only difference);
* mean trade return (null) = -mean round-trip cost, within 3 standard errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.strategy import StrategySpec, robustness, run_backtest
from backtest.synth import Plant, SynthSpec, make_market

# A whole simulated market per fixture: run by .ci/run (pytest -m slow).
pytestmark = pytest.mark.slow

try:
    from test_strategy_support import UNIVERSE, instances
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.test_strategy_support import UNIVERSE, instances

SYMBOLS = ("NVDA", "AMD", "688981.SS", "002371.SZ", "0981.HK")
DRIFT = 0.01
PLANTS = (
    Plant(match="tightening", group="us_incumbent", drift=-DRIFT, drift_sessions=3),
    Plant(match="tightening", group="cn_substitute", drift=DRIFT, drift_sessions=3),
)
SPEC = StrategySpec(strategy="substitution_spread", hold=3)
N_EVENTS = 40


def _catalog() -> pd.DataFrame:
    """40 tightening events at random instants, one per 45-day block (windows never overlap)."""
    rng = np.random.default_rng(2024)
    start = pd.Timestamp("2019-03-01", tz="UTC")
    times = [
        start + pd.Timedelta(days=45 * k) + pd.Timedelta(seconds=int(s))
        for k, s in enumerate(rng.uniform(0, 30 * 86400, N_EVENTS))
    ]
    return instances([(f"ev-{k:02d}", "tightening", t) for k, t in enumerate(times)], SYMBOLS)


@pytest.fixture(scope="module")
def markets():
    inst = _catalog()
    synth = dict(start="2019-01-02", end="2024-12-31", seed=11)
    planted = make_market(UNIVERSE, inst, SynthSpec(plants=PLANTS, **synth))
    null = make_market(UNIVERSE, inst, SynthSpec(**synth))
    return inst, planted.panel, null.panel


def _cost(trades: pd.DataFrame) -> float:
    rt = {m: SPEC.costs.of(m).round_trip_bps() * 1e-4 for m in ("us", "hk", "a_share")}
    return float(trades["market"].map(rt).mean())


def _drift(trades: pd.DataFrame) -> float:
    gross = np.where(trades["side"] == "long", (1 + DRIFT) ** 3 - 1, 1 - (1 - DRIFT) ** 3)
    return float(gross.mean())


def _event_se(trades: pd.DataFrame) -> float:
    per_event = trades.groupby("event_id")["return"].mean()
    return float(per_event.std(ddof=1) / np.sqrt(len(per_event)))


@pytest.fixture(scope="module")
def runs(markets):
    inst, planted, null = markets
    return (run_backtest(planted, inst, UNIVERSE, SPEC), run_backtest(null, inst, UNIVERSE, SPEC))


def test_planted_drift_minus_costs_is_recovered(runs):
    planted, null = runs
    t = planted.trades
    assert len(t) == N_EVENTS * len(SYMBOLS)
    assert (t["sessions_held"] == 3).all()
    expected = _drift(t) - _cost(t)
    tol = 3 * _event_se(null.trades)
    assert tol < 0.5 * _drift(t)  # tight enough to tell the drift from nothing
    assert t["return"].mean() == pytest.approx(expected, abs=tol)
    paired = t.merge(null.trades, on=["event_id", "security"], suffixes=("", "_null"))
    diff = (paired["return"] - paired["return_null"]).mean()
    assert diff == pytest.approx(_drift(t), abs=0.002)


def test_with_nothing_planted_the_mean_trade_is_minus_the_costs(runs):
    _, null = runs
    t = null.trades
    assert t["return"].mean() == pytest.approx(-_cost(t), abs=3 * _event_se(t))
    # costs are charged on every leg: fees are positive and larger in Hong Kong than in the US
    fee_rate = t["fees"] / (t["size"] * t["entry_fill"])
    assert fee_rate[t["market"] == "hk"].min() > fee_rate[t["market"] == "us"].max()


def test_robustness_sweeps_show_the_drift_decaying_with_lag(markets):
    inst, planted, null = markets
    first = inst[inst["event_id"].isin([f"ev-{k:02d}" for k in range(12)])]
    kw = dict(lags=range(6), holds=(1, 3, 5), leave_one_out=True)
    rp = robustness(planted, first, UNIVERSE, SPEC, **kw)
    r0 = robustness(null, first, UNIVERSE, SPEC, **kw)
    assert rp.n_configurations == 6 + 3 + 12 + 1 == rp.base.n_configurations
    assert "22 configurations tried" in rp.summary()
    lag = rp.sweep("lag")["average_trade"] - r0.sweep("lag")["average_trade"]
    assert lag.iloc[0] == pytest.approx(0.03, abs=0.003)  # all three drift sessions
    assert lag.iloc[4:].abs().max() < 0.003  # entered after the drift
    assert (lag.diff().dropna() < 0.002).all()  # never grows with delay
    hold = rp.sweep("hold")["average_trade"] - r0.sweep("hold")["average_trade"]
    assert hold.tolist() == pytest.approx([0.01, 0.03, 0.03], abs=0.003)
    loo = rp.sweep("leave_one_out")
    assert len(loo) == 12 and (loo["n_trades"] == 11 * len(SYMBOLS)).all()
    tables = rp.tables()
    assert set(tables) >= {"backtest_trades", "backtest_robustness", "lag_decay", "hold_sweep"}
    assert tables["hold_sweep"]["hold"].tolist() == [1, 3, 5]
    assert (
        tables["lag_decay"]["mean_trade_return"].tolist()
        == rp.sweep("lag")["average_trade"].tolist()
    )
    # Bands: the row of the base spec (entry lag SPEC.entry_lag) has the dispersion of
    # the base run's own trades, and its band is mean +/- t(n-1) sd / sqrt(n) (scipy).
    from scipy import stats as st

    base = tables["lag_decay"][tables["lag_decay"]["lag"] == SPEC.entry_lag].iloc[0]
    r = tables["backtest_trades"]["return"].to_numpy()
    assert base["n_trades"] == len(r)
    assert base["trade_sd"] == pytest.approx(r.std(ddof=1), rel=1e-12)
    half = st.t.ppf(0.975, len(r) - 1) * r.std(ddof=1) / len(r) ** 0.5
    assert base["band_lo"] == pytest.approx(r.mean() - half, rel=1e-9)
    assert base["band_hi"] == pytest.approx(r.mean() + half, rel=1e-9)
    assert "band_lo" not in tables["leave_one_out"]
