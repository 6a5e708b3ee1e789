"""How fast, from daily opens: the overnight/session split against the synthetic market's
planted opening gaps, and the pooled measures against hand-worked values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.howfast import cross_market, open_split, pooled_speed, signed_path
from backtest.synth import Plant

PLANTS = (
    # Day 0 only: the whole [0,+1] reaction is in day 0.
    Plant(match="tightening", group="us_incumbent", day0=-0.20),
    # Day 0 plus one session of drift: 6 % of the 9 % [0,+1] reaction is on day 0.
    Plant(match="tightening", group="cn_substitute", day0=0.06, drift=0.03, drift_sessions=1),
)


@pytest.fixture(scope="module")
def synthetic_split():
    """The demo market with large planted effects, a small study and its open split."""
    from backtest.pipeline import RunSpec, prepare_inputs
    from backtest.steps import run_catalog_study, speed_tables
    from backtest.study.spec import StudySpec

    got = prepare_inputs(RunSpec(source="demo", seed=11, plants=PLANTS))
    sspec = StudySpec(
        windows=((0, 1),), placebo_draws=0, daily_tests=(), tests=("cross_sectional_t",)
    )
    result, _, choice = run_catalog_study(
        got.panel, got.universe, got.alignment, got.catalog, sspec, "official"
    )
    tables = speed_tables(got.panel, got.alignment, result, choice, "market")
    return tables, got.planted, result


def _with_plants(split, planted):
    day0 = planted[planted["rel_day"] == 0][["event_id", "security", "effect", "overnight"]]
    return split.merge(day0, on=["event_id", "security"], how="inner")


@pytest.mark.slow
def test_news_before_the_open_matches_where_the_market_planted_the_gap(synthetic_split):
    tables, planted, _ = synthetic_split
    both = _with_plants(tables["open_split"], planted)
    assert len(both) >= 100
    # The synthetic market puts the day-0 effect in the open exactly when the news was
    # knowable before day 0's open (its own session table); the split decides the same
    # from the alignment's day-0 open.
    assert (both["news_before_open"] == both["overnight"].astype(bool)).all()
    assert both["overnight"].astype(bool).sum() >= 30
    assert (~both["overnight"].astype(bool)).sum() >= 10


@pytest.mark.slow
@pytest.mark.parametrize("where", ["overnight", "session"])
def test_overnight_and_session_parts_recover_the_planted_gap(synthetic_split, where):
    tables, planted, _ = synthetic_split
    both = _with_plants(tables["open_split"], planted).dropna(subset=["overnight0"])
    both = both[~both["security"].str.endswith((".SS", ".SZ"))]  # no price-limit clipping
    gap = both["overnight"].astype(bool) == (where == "overnight")
    sub = both[gap]
    assert len(sub) >= 10
    planted_on = np.where(sub["overnight"].astype(bool), sub["effect"], 0.0)
    planted_session = sub["effect"] - planted_on
    # Residual noise: half a day of idiosyncratic volatility per part (~1.5 %), averaged.
    tol = 4.0 * 0.02 / np.sqrt(len(sub))
    assert (sub["overnight0"] - planted_on).mean() == pytest.approx(0.0, abs=tol)
    assert (sub["session0"] - planted_session).mean() == pytest.approx(0.0, abs=tol)
    # The two parts add up to the day-0 AR exactly.
    assert np.allclose(sub["overnight0"] + sub["session0"], sub["ar0"], atol=1e-12)


def _planted_share(split, planted, direction, sign, group):
    """The share of the planted [0,+1] effect that sat in the first open after the news,
    from the planted table alone (same-day events add up), calendar clusters as the unit."""
    p = planted.assign(date=pd.to_datetime(planted["date"]))
    on = p[p["overnight"].astype(bool)].groupby(["security", "date"])["effect"].sum()
    tot = p.groupby(["security", "date"])["effect"].sum()
    pool = split[
        (split["direction"] == direction)
        & (split["expected_sign"] == sign)
        & (split["group"] == group)
    ]
    rows = []
    for r in pool.itertuples(index=False):
        d0, d1 = r.dates
        t0, t1 = tot.get((r.security, d0), 0.0), tot.get((r.security, d1), 0.0)
        first = (
            on.get((r.security, d0), 0.0)
            if r.news_before_open
            else t0 + on.get((r.security, d1), 0.0)
        )
        rows.append((r.cluster, first * sign, (t0 + t1) * sign))
    frame = pd.DataFrame(rows, columns=["cluster", "first", "car01"]).groupby("cluster").mean()
    return frame["first"].mean() / frame["car01"].mean()


@pytest.mark.slow
def test_share_of_the_reaction_in_the_first_open_matches_the_plant(synthetic_split):
    from backtest.howfast import pooled_speed

    tables, planted, result = synthetic_split
    # Every instance (not only pooled ones): this tests the measurement, not the policy.
    split = tables["open_split"].assign(pool=True)
    speed = pooled_speed(split, result.ar).set_index(["direction", "sign", "group", "measure"])
    days = result.ar.pivot_table(
        index=["event_id", "security"], columns="rel_day", values="date", aggfunc="first"
    )
    dates = [
        (pd.Timestamp(days.at[(e, s), 0]), pd.Timestamp(days.at[(e, s), 1]))
        for e, s in zip(split["event_id"], split["security"], strict=True)
    ]
    split = split.assign(dates=dates)
    for sign, group, key in ((-1.0, "us_incumbent", "-1"), (1.0, "cn_substitute", "+1")):
        want = _planted_share(split, planted, "tightening", sign, group)
        got = speed.loc[("tightening", key, group, "share_first_open")]
        assert got["se"] < 0.1
        assert got["value"] == pytest.approx(want, abs=3 * got["se"])
    # Incumbents: the plant is all on day 0 (share 1 unless events share dates);
    # expected gainers among substitutes: 6 % of 9 % (the drift lands after day +1's open).
    assert _planted_share(split, planted, "tightening", -1.0, "us_incumbent") > 0.8
    assert 0.5 < _planted_share(split, planted, "tightening", 1.0, "cn_substitute") < 0.8
    assert speed.loc[("tightening", "-1", "us_incumbent", "peak_day"), "value"] in (0.0, 1.0)
    assert speed.loc[("tightening", "+1", "cn_substitute", "peak_day"), "value"] == 1.0


def _hand_split():
    """Two clusters, three instances, all expected to fall (sign -1)."""
    t = pd.Timestamp
    return pd.DataFrame(
        {
            "event_id": ["a", "a", "b"],
            "security": ["NVDA", "AMD", "NVDA"],
            "group": "us_incumbent",
            "mic": "XNAS",
            "direction": "tightening",
            "expected_sign": -1.0,
            "cluster": ["c1", "c1", "c2"],
            "pool": True,
            "knowable_at_utc": [t("2024-01-02 22:00", tz="UTC")] * 2
            + [t("2024-02-01 16:00", tz="UTC")],
            "day0_open_utc": [t("2024-01-03 14:30", tz="UTC")] * 2
            + [t("2024-02-01 14:30", tz="UTC")],
            "day0_close_utc": [t("2024-01-03 21:00", tz="UTC")] * 2
            + [t("2024-02-01 21:00", tz="UTC")],
            "news_before_open": [True, True, False],
            "beta": 1.0,
            "overnight0": [-0.02, -0.04, 0.001],
            "session0": [-0.01, 0.00, -0.03],
            "ar0": [-0.03, -0.04, -0.029],
            "overnight1": [0.0, 0.0, -0.011],
            "first_open": [-0.02, -0.04, -0.04],
            "car01": [-0.04, -0.04, -0.05],
            "car05": [-0.03, -0.05, -0.05],
            "car010": [-0.02, -0.04, -0.05],
            "note": "",
        }
    )


def test_pooled_measures_are_cluster_means_worked_by_hand():
    ar = pd.DataFrame(
        {
            "event_id": ["a"] * 4 + ["b"] * 2,
            "security": ["NVDA", "NVDA", "AMD", "AMD", "NVDA", "NVDA"],
            "rel_day": [0, 1, 0, 1, 0, 1],
            "ar": [-0.03, -0.01, -0.04, 0.0, -0.029, -0.021],
        }
    )
    speed = pooled_speed(_hand_split(), ar)
    assert set(speed["sign"]) == {"-1", "signed"}
    speed = speed[speed["sign"] == "-1"].set_index(["group", "measure"])
    # Signed (times -1).  First open: cluster c1 mean (0.02 + 0.04) / 2 = 0.03, c2 0.04.
    fo = speed.loc[("us_incumbent", "first_open")]
    assert fo["value"] == pytest.approx(0.035)
    assert fo["se"] == pytest.approx(np.std([0.03, 0.04], ddof=1) / np.sqrt(2))
    assert fo["n_clusters"] == 2 and fo["n_instances"] == 3
    # Overnight part uses only the news-before-open instances: one cluster (c1).
    on = speed.loc[("us_incumbent", "overnight0")]
    assert on["value"] == pytest.approx(0.03) and on["n_clusters"] == 1
    # Share: mean first open 0.035 over mean CAR[0,+1] (0.04 + 0.05) / 2 = 0.045.
    share = speed.loc[("us_incumbent", "share_first_open")]
    assert share["value"] == pytest.approx(0.035 / 0.045)
    # CAR[+2,+10] = CAR[0,+10] - CAR[0,+1]: c1 (-0.02 + 0) / 2 = -0.01, c2 0.0.
    assert speed.loc[("us_incumbent", "post_2_10"), "value"] == pytest.approx(-0.005)
    # Peak of the signed CAAR from day 0: day 0 (0.035 + 0.029)/2 = 0.032, day 1 0.045.
    assert speed.loc[("us_incumbent", "peak_day"), "value"] == 1.0
    path = signed_path(_hand_split(), ar, start=0, end=1).set_index("rel_day")
    assert path.loc[1, "caar"] == pytest.approx(0.045)


def test_cross_market_orders_asia_before_the_us_on_one_utc_axis():
    t = pd.Timestamp
    us = _hand_split().iloc[:2]
    asia = us.assign(
        security=["688256.SS", "0981.HK"],
        group="cn_substitute",
        mic=["XSHG", "XHKG"],
        expected_sign=1.0,
        day0_open_utc=t("2024-01-03 01:30", tz="UTC"),
        day0_close_utc=t("2024-01-03 07:00", tz="UTC"),
        overnight0=[0.03, 0.01],
        ar0=[0.05, 0.02],
    )
    out = cross_market(pd.concat([us, asia], ignore_index=True)).set_index(["market", "point"])
    # News at 22:00 UTC: Shanghai opens 3.5 h later, New York 16.5 h later.
    assert out.loc[("China A", "open"), "hours"] == pytest.approx(3.5)
    assert out.loc[("US", "open"), "hours"] == pytest.approx(16.5)
    assert out.loc[("US", "close"), "hours"] == pytest.approx(23.0)
    assert out.loc[("China A", "open"), "mean"] == pytest.approx(0.03)
    # Signed US overnight: -(-0.02 - 0.04) / 2 within one event.
    assert out.loc[("US", "open"), "mean"] == pytest.approx(0.03)
    assert out.loc[("Hong Kong", "close"), "mean"] == pytest.approx(0.02)


def test_missing_open_gives_no_split_and_says_why():
    from backtest.market.panel import PricePanel

    idx = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]), name="date")
    bars = {
        "X": pd.DataFrame({"close": [10.0, 11.0, 12.1]}, index=idx),
        "M": pd.DataFrame({"open": [1.0, 1.0, 1.0], "close": [1.0, 1.0, 1.0]}, index=idx),
    }
    panel = PricePanel(bars=bars, meta={})
    ar = pd.DataFrame(
        {
            "event_id": "e",
            "security": "X",
            "rel_day": [0, 1],
            "date": idx[1:],
            "ar": [0.1, 0.1],
        }
    )
    inst = pd.DataFrame({"event_id": ["e"], "security": ["X"], "expected_sign": [1.0]})
    bench = pd.DataFrame({"event_id": ["e"], "security": ["X"], "benchmark": ["M"]})
    params = pd.DataFrame({"event_id": ["e"], "security": ["X"], "alpha": [0.0], "beta_M": [1.0]})
    split = open_split(ar, inst, panel, bench, params)
    assert len(split) == 1 and np.isnan(split["overnight0"].iloc[0])
    assert "no open price" in split["note"].iloc[0]
    assert split["car01"].iloc[0] == pytest.approx(0.2)
