"""Signal selection: which instances become legs, on which side, and what is dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from backtest.strategy import StrategyError, StrategySpec
from backtest.strategy.signals import select_legs

try:
    from test_strategy_support import UNIVERSE, instances, make_panel, random_bars, utc
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.test_strategy_support import UNIVERSE, instances, make_panel, random_bars, utc

SYMBOLS = ("NVDA", "AMD", "688981.SS", "0981.HK", "SPY")
PANEL = make_panel(
    {
        s: random_bars(s, "2024-01-02", "2024-02-28", np.random.default_rng(0))
        for s in ("NVDA", "AMD", "688981.SS", "0981.HK", "SPY")
    }
)
T = utc("2024-01-10 15:00")


def _legs(spec: StrategySpec, inst: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return select_legs(inst, UNIVERSE, PANEL, spec)


@pytest.mark.parametrize(
    ("strategy", "direction", "expected"),
    [
        ("short_incumbents", "tightening", {"NVDA": -1, "AMD": -1}),
        ("short_incumbents", "easing", {"NVDA": 1, "AMD": 1}),
        ("long_substitutes", "tightening", {"688981.SS": 1, "0981.HK": 1}),
        ("long_substitutes", "easing", {}),
        (
            "substitution_spread",
            "tightening",
            {"NVDA": -1, "AMD": -1, "688981.SS": 1, "0981.HK": 1},
        ),
        ("substitution_spread", "neutral", {}),
    ],
)
def test_sides_by_strategy_group_and_direction(strategy, direction, expected):
    spec = StrategySpec(strategy=strategy, directions=("tightening", "easing", "neutral"))
    legs, _ = _legs(spec, instances([("e", direction, T)], SYMBOLS))
    assert dict(zip(legs["security"], legs["side"], strict=True)) == expected


def test_confounders_are_excluded_unless_selected():
    inst = pd.concat(
        [
            instances([("dx", "tightening", T)], ("NVDA",), event_type="confounder"),
            instances([("bis", "tightening", T)], ("NVDA",), event_type="entity_listing"),
        ]
    )
    legs, _ = _legs(StrategySpec(strategy="short_incumbents"), inst)
    assert legs["event_id"].tolist() == ["bis"]
    legs, _ = _legs(StrategySpec(strategy="short_incumbents", event_types=("confounder",)), inst)
    assert legs["event_id"].tolist() == ["dx"]


def test_first_stage_is_the_earliest_knowable_per_event_and_security():
    leak = instances([("e", "tightening", T)], ("NVDA",)).assign(stage="leak")
    official = instances([("e", "tightening", T + pd.Timedelta(days=2))], ("NVDA",))
    inst = pd.concat([official, leak], ignore_index=True)
    legs, _ = _legs(StrategySpec(strategy="short_incumbents"), inst)
    assert legs["stage"].tolist() == ["leak"]
    legs, _ = _legs(StrategySpec(strategy="short_incumbents", stage="announcement"), inst)
    assert legs["knowable_at_utc"].tolist() == [T + pd.Timedelta(days=2)]


def test_untradable_instances_are_listed_with_a_reason():
    inst = instances([("e", "tightening", T)], ("NVDA", "002371.SZ"))
    inst.loc[0, "knowable_at_utc"] = pd.NaT
    _, dropped = _legs(StrategySpec(), inst)
    assert dict(zip(dropped["security"], dropped["reason"], strict=True)) == {
        "NVDA": "no_knowable_time",
        "002371.SZ": "no_prices",
    }


def test_bad_inputs_name_the_field():
    inst = instances([("e", "tightening", T)], ("NVDA",))
    with pytest.raises(StrategyError, match="knowable_at_utc"):
        _legs(StrategySpec(), inst.drop(columns="knowable_at_utc"))
    with pytest.raises(StrategyError, match="authority"):
        _legs(StrategySpec(authorities=("BIS",)), inst)
    with pytest.raises(ValidationError, match="unknown event type"):
        StrategySpec(event_types=("tariff",))


def test_prepared_shares_point_caches_only_when_points_would_not_change():
    from backtest.strategy import prepare

    prep = prepare(
        PANEL,
        instances([("e", "tightening", T)], ("NVDA",)),
        UNIVERSE,
        StrategySpec(strategy="short_incumbents"),
    )
    assert "NVDA" in prep.venue.points  # built when the legs are prepared, not on use
    longer = prep.with_spec(prep.venue.spec.model_copy(update={"hold": 9}))
    assert longer.venue.points is prep.venue.points and longer.venue.spec.hold == 9
    looser = prep.with_spec(prep.venue.spec.model_copy(update={"limit_tolerance": 0.01}))
    assert looser.venue.points is not prep.venue.points
    assert set(looser.venue.points) == set(prep.venue.points)
    assert looser.venue.clocks is not None and set(looser.venue.clocks) == set(prep.venue.clocks)
    assert len(prep.without_event("e").legs) == 0
