"""The synthetic market: deterministic, realistic magnitudes, venue rules, planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.market.calendars import sessions
from backtest.synth import Plant, SynthSpec, make_market
from backtest.universe import load_universe

UNIVERSE = load_universe()


@pytest.fixture(scope="module")
def market():
    return make_market(UNIVERSE, None, SynthSpec(seed=11, start="2019-01-02", end="2023-12-29"))


def _instances(rows):
    return pd.DataFrame(
        rows,
        columns=[
            "event_id",
            "stage",
            "security",
            "day0",
            "direction",
            "event_type",
            "knowable_at_utc",
        ],
    )


def test_same_seed_same_prices_and_other_seed_differs():
    sub = UNIVERSE.subset(["NVDA", "688256.SS"])
    a = make_market(sub, None, SynthSpec(seed=3, end="2020-12-31"))
    b = make_market(sub, None, SynthSpec(seed=3, end="2020-12-31"))
    c = make_market(sub, None, SynthSpec(seed=4, end="2020-12-31"))
    assert a.panel.content_hash() == b.panel.content_hash()
    assert a.panel.content_hash() != c.panel.content_hash()


def test_a_security_stream_does_not_depend_on_the_rest_of_the_universe():
    spec = SynthSpec(seed=5, end="2020-12-31")
    alone = make_market(UNIVERSE.subset(["NVDA"]), None, spec).panel.bars["NVDA"]
    full = make_market(UNIVERSE, None, spec).panel.bars["NVDA"]
    pd.testing.assert_frame_equal(alone, full)


def test_bars_lie_on_own_exchange_sessions(market):
    for sym in ("NVDA", "688256.SS", "0981.HK", "002371.SZ"):
        cal = UNIVERSE[sym].calendar
        idx = market.panel.bars[sym].index
        assert idx.isin(sessions(cal, idx[0], idx[-1])).all(), sym


def test_volatility_and_beta_look_like_the_real_names(market):
    p = market.panel
    vol = {s: p.returns(s).std() * np.sqrt(252) for s in ("NVDA", "SPY", "000300.SS")}
    # A large-cap US chip stock is far more volatile than the S&P 500 ETF.
    assert 0.35 < vol["NVDA"] < 0.75
    assert 0.12 < vol["SPY"] < 0.25
    assert 0.15 < vol["000300.SS"] < 0.30
    both = pd.concat([p.returns("NVDA"), p.returns("SPY")], axis=1).dropna()
    beta = np.cov(both.iloc[:, 0], both.iloc[:, 1])[0, 1] / both.iloc[:, 1].var()
    assert 1.2 < beta < 2.0


def test_returns_are_fat_tailed(market):
    r = market.panel.returns("NVDA")
    z = (r - r.mean()) / r.std()
    assert float((z**4).mean()) > 4.0  # a normal has kurtosis 3


def test_a_share_price_limits_hold(market):
    for sym, limit in (("688256.SS", 0.20), ("002371.SZ", 0.10)):
        bars = market.panel.bars[sym]
        r = bars["close"].pct_change().dropna()
        gap = pd.Series(market.panel.bars[sym].index).diff().dt.days.to_numpy()[1:]
        # Between consecutive sessions (no suspension in between) a limit binds.
        assert (r.abs().to_numpy()[gap <= 4] <= limit + 1e-9).all(), sym


def test_a_share_stocks_have_suspensions_and_others_do_not(market):
    def missing(sym):
        idx = market.panel.bars[sym].index
        return len(sessions(UNIVERSE[sym].calendar, idx[0], idx[-1])) - len(idx)

    assert missing("688981.SS") + missing("002371.SZ") + missing("688012.SS") > 0
    assert missing("NVDA") == 0
    assert missing("000300.SS") == 0  # an index is never suspended


def test_listing_date_respected(market):
    assert market.panel.bars["688041.SS"].index[0] >= pd.Timestamp("2022-08-12")


def test_planted_effects_are_read_back_exactly():
    sub = UNIVERSE.subset(["NVDA", "AMD", "688256.SS"])
    inst = _instances(
        [
            (
                "e1",
                "announcement",
                "NVDA",
                pd.Timestamp("2022-10-07"),
                "tightening",
                "restriction",
                pd.Timestamp("2022-10-07 17:00", tz="UTC"),
            ),
            (
                "e1",
                "announcement",
                "688256.SS",
                pd.Timestamp("2022-10-10"),
                "tightening",
                "restriction",
                pd.Timestamp("2022-10-07 17:00", tz="UTC"),
            ),
            (
                "e2",
                "announcement",
                "AMD",
                pd.Timestamp("2023-06-01"),
                "easing",
                "relaxation",
                pd.Timestamp("2023-05-31 21:00", tz="UTC"),
            ),
        ]
    )
    plants = (
        Plant(match="tightening", group="us_incumbent", day0=-0.05),
        Plant(match="tightening", group="cn_substitute", day0=0.01, drift=0.004, drift_sessions=3),
    )
    spec = SynthSpec(seed=9, end="2023-12-29")
    with_plant = make_market(sub, inst, spec.model_copy(update={"plants": plants}))
    without = make_market(sub, inst, spec)
    planted = with_plant.planted
    assert len(planted) == 1 + 4  # NVDA day 0; Cambricon day 0 + 3 drift sessions
    assert not planted["clipped"].any()
    for row in planted.itertuples():
        base = without.panel.bars[row.security]["close"]
        prev = base.index[base.index.get_loc(row.date) - 1]
        ratio_planted = with_plant.panel.bars[row.security]["close"]
        # ... so AR(planted) - AR(unplanted) = effect, measured from the same prior close.
        got = ratio_planted[row.date] / ratio_planted[prev] - base[row.date] / base[prev]
        assert got == pytest.approx(row.effect, abs=1e-12)
    # Unplanted securities are untouched.
    pd.testing.assert_frame_equal(with_plant.panel.bars["AMD"], without.panel.bars["AMD"])


def test_day0_effect_lands_overnight_only_when_news_preceded_the_open():
    sub = UNIVERSE.subset(["NVDA"])
    day0 = pd.Timestamp("2022-10-07")
    plants = (Plant(match="tightening", group="us_incumbent", day0=-0.05),)

    def gap(known):
        inst = _instances([("e", "announcement", "NVDA", day0, "tightening", "restriction", known)])
        m = make_market(sub, inst, SynthSpec(seed=2, end="2022-12-30", plants=plants))
        b0 = make_market(sub, None, SynthSpec(seed=2, end="2022-12-30")).panel.bars["NVDA"]
        b1 = m.panel.bars["NVDA"]
        prev = b0.index[b0.index.get_loc(day0) - 1]
        return (
            b1.loc[day0, "open"] / b1.loc[prev, "close"]
            - b0.loc[day0, "open"] / b0.loc[prev, "close"]
        )

    # Before the 13:30 UTC open: the whole effect is in the opening gap.
    assert gap(pd.Timestamp("2022-10-07 11:00", tz="UTC")) == pytest.approx(-0.05, abs=1e-12)
    # During the session (BIS released at about 13:00 ET): the open is untouched.
    assert gap(pd.Timestamp("2022-10-07 17:00", tz="UTC")) == pytest.approx(0.0, abs=1e-12)


def test_price_limit_clips_a_large_plant_and_says_so():
    sub = UNIVERSE.subset(["002371.SZ"])
    day0 = pd.Timestamp("2023-03-01")
    inst = _instances(
        [("e", "announcement", "002371.SZ", day0, "tightening", "restriction", pd.NaT)]
    )
    m = make_market(
        sub,
        inst,
        SynthSpec(
            seed=1,
            end="2023-06-30",
            suspension_rate=0.0,
            plants=(Plant(match="tightening", group="cn_substitute", day0=0.25),),
        ),
    )
    r = m.panel.bars["002371.SZ"]["close"].pct_change()
    assert r[day0] == pytest.approx(0.10, abs=1e-12)
    assert bool(m.planted["clipped"].iloc[0])


def test_panel_is_marked_synthetic(market):
    assert market.panel.synthetic
    assert all(m.source == "synthetic" for m in market.panel.meta.values())
    assert "SYNTHETIC" in market.panel.notes[0]
