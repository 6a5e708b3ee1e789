"""Signals: which event instances a strategy trades, and on which side.

Input is the alignment's instance frame (one row per event x stage x
security); output is one row per *leg* (one event instance traded in one
security), which becomes one vectorbt column, so overlapping trades in the
same security are independent positions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backtest.strategy.spec import StrategyError, StrategySpec

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.universe import Universe

REQUIRED_COLUMNS: tuple[str, ...] = (
    "event_id",
    "stage",
    "security",
    "event_type",
    "direction",
    "knowable_at_utc",
)

# (group, direction) -> side (+1 long, -1 short) for each strategy.
SIDES: dict[str, dict[tuple[str, str], int]] = {
    "short_incumbents": {("us_incumbent", "tightening"): -1, ("us_incumbent", "easing"): 1},
    "long_substitutes": {("cn_substitute", "tightening"): 1},
    "substitution_spread": {
        ("cn_substitute", "tightening"): 1,
        ("us_incumbent", "tightening"): -1,
        ("us_incumbent", "easing"): 1,
    },
}
LEG_COLUMNS: tuple[str, ...] = (
    "event_id",
    "stage",
    "security",
    "group",
    "event_type",
    "direction",
    "knowable_at_utc",
    "side",
)
ATTRITION_COLUMNS: tuple[str, ...] = ("event_id", "stage", "security", "reason", "detail")


def _check_columns(instances: pd.DataFrame, spec: StrategySpec) -> None:
    need = list(REQUIRED_COLUMNS) + (["authority"] if spec.authorities else [])
    missing = [c for c in need if c not in instances.columns]
    if missing:
        raise StrategyError(
            "the instance frame lacks required columns",
            field="instances",
            value=missing,
            expected=", ".join(need),
        )


def _filter_events(instances: pd.DataFrame, spec: StrategySpec) -> pd.DataFrame:
    """Rows of the selected event types, directions, authorities and stage."""
    sel = instances
    if spec.event_types:
        sel = sel[sel["event_type"].isin(spec.event_types)]
    else:
        sel = sel[sel["event_type"] != "confounder"]
    sel = sel[sel["direction"].isin(spec.directions)]
    if spec.authorities:
        sel = sel[sel["authority"].isin(spec.authorities)]
    if spec.stage == "first":
        sel = sel.sort_values(["event_id", "security", "knowable_at_utc"], kind="stable")
        sel = sel.drop_duplicates(["event_id", "security"], keep="first")
    else:
        sel = sel[sel["stage"] == spec.stage]
    return sel


def select_legs(
    instances: pd.DataFrame, universe: Universe, panel: PricePanel, spec: StrategySpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The legs a strategy trades, and the attrition of selected rows.

    Returns ``(legs, attrition)``: legs have :data:`LEG_COLUMNS`, sorted by
    knowledge time; attrition lists selected instances that cannot be traded
    (security not in the universe or without prices).
    """
    import pandas as pd

    _check_columns(instances, spec)
    sel = _filter_events(instances, spec)
    table = SIDES[spec.strategy]
    rows, dropped = [], []
    for inst in sel.itertuples(index=False):
        sym = str(inst.security)
        if pd.isna(inst.knowable_at_utc):
            dropped.append((inst.event_id, inst.stage, sym, "no_knowable_time", ""))
            continue
        if sym not in universe:
            dropped.append((inst.event_id, inst.stage, sym, "not_in_universe", ""))
            continue
        group = universe[sym].group
        side = table.get((group, str(inst.direction)))
        if side is None:
            continue
        if sym not in panel:
            dropped.append((inst.event_id, inst.stage, sym, "no_prices", "not in the panel"))
            continue
        rows.append(
            (
                inst.event_id,
                inst.stage,
                sym,
                group,
                inst.event_type,
                inst.direction,
                pd.Timestamp(inst.knowable_at_utc),
                side,
            )
        )
    legs = pd.DataFrame(rows, columns=list(LEG_COLUMNS))
    if len(legs):
        legs["knowable_at_utc"] = pd.to_datetime(legs["knowable_at_utc"], utc=True)
        legs = legs.sort_values(
            ["knowable_at_utc", "event_id", "security"], kind="stable"
        ).reset_index(drop=True)
    return legs, pd.DataFrame(dropped, columns=list(ATTRITION_COLUMNS))
