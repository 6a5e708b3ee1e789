"""The report's short answer, written from the numbers of a run (never hard-coded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

GROUP_NAMES = {
    "us_incumbent": "US incumbents",
    "cn_substitute": "Chinese substitutes",
    "spread": "the substitution spread (substitutes minus incumbents)",
    "us_semis": "other US semiconductors",
    "us_equipment": "equipment makers",
    "cn_platform": "Chinese platforms",
}


@dataclass(frozen=True, slots=True)
class KeyNumber:
    """One headline figure: mean CAR of a group over a window on one kind of event."""

    direction: str
    group: str
    window: str
    mean_car: float
    t: float
    pvalue: float
    n_events: int
    sign: str = "all"  # '-1' / '+1' (expected to fall / gain), 'spread', 'all'
    n_clusters: int = 0

    def sentence(self) -> str:
        name = GROUP_NAMES.get(self.group, self.group)
        if self.sign in ("-1", "+1"):
            name += " expected to " + ("fall" if self.sign == "-1" else "gain")
        verdict = (
            "significant at 1%"
            if self.pvalue < 0.01
            else "significant at 5%"
            if self.pvalue < 0.05
            else "not significant at 5%"
        )
        move = "fell" if self.mean_car < 0 else "rose"
        unit = (
            f"{self.n_clusters} trading-day clusters of {self.n_events} events"
            if self.n_clusters and self.sign != "spread"
            else f"{self.n_events} events"
        )
        return (
            f"On {self.direction} events, {name} {move} by {abs(self.mean_car):.2%} on "
            f"average over {self.window} (t = {self.t:.2f} across {unit}, "
            f"p = {self.pvalue:.3f}; {verdict})."
        )


def key_numbers(pooled: pd.DataFrame, window: str) -> list[KeyNumber]:
    """Headline figures for incumbents, substitutes and the spread on tightening/easing.

    Within a group the row of the expected sign that most instances carry is the
    headline (e.g. incumbents expected to fall on tightening); names the log
    expects to move the other way are a separate row of the pooled table.
    """
    out = []
    if pooled.empty or "pvalue" not in pooled.columns:
        return out
    sub = pooled[pooled["window"] == window]
    if "sign" not in sub.columns:
        sub = sub.assign(sign="all", n_clusters=0)
    for direction in ("tightening", "easing"):
        for group in ("us_incumbent", "cn_substitute", "spread"):
            row = sub[
                (sub["direction"] == direction)
                & (sub["group"] == group)
                & ~sub["sign"].isin(["signed"])
            ]
            if not row.empty and "n_instances" in row.columns:
                row = row.sort_values("n_instances", ascending=False)
            if row.empty or not row["n_events"].iloc[0] > 1:
                continue
            r = row.iloc[0]
            out.append(
                KeyNumber(
                    direction,
                    group,
                    window,
                    float(r["mean_car"]),
                    float(r["t"]),
                    float(r["pvalue"]),
                    int(r["n_events"]),
                    str(r["sign"]),
                    int(r.get("n_clusters", 0) or 0),
                )
            )
    return out


def answer(keys: list[KeyNumber], speed: str = "") -> str:
    """A short answer to the report's question, from the key numbers."""
    if not keys:
        return "The run has too few events per group to answer the question."
    by = {(k.direction, k.group): k for k in keys}
    parts = []
    inc = by.get(("tightening", "us_incumbent"))
    sub = by.get(("tightening", "cn_substitute"))
    if inc is not None:
        hurt = inc.mean_car < 0 and inc.pvalue < 0.05
        parts.append(
            "Tightening hurts US incumbents"
            if hurt
            else "The evidence that tightening hurts US incumbents is weak"
            if inc.mean_car < 0
            else "US incumbents did not fall on tightening"
        )
    if sub is not None:
        helped = sub.mean_car > 0 and sub.pvalue < 0.05
        parts.append(
            "helps Chinese substitutes"
            if helped
            else "the gain of Chinese substitutes is not significant"
            if sub.mean_car > 0
            else "Chinese substitutes did not rise"
        )
    text = "; ".join(parts) + "." if parts else ""
    if speed:
        text += " " + speed
    return text.strip()


def speed_sentence(
    pooled: pd.DataFrame, direction: str = "tightening", group: str = "us_incumbent"
) -> str:
    """How fast: the day-0 move against the move over [0,+5], from the pooled table."""
    if pooled.empty or "window" not in pooled.columns:
        return ""
    sub = pooled[(pooled["direction"] == direction) & (pooled["group"] == group)]
    if "sign" in sub.columns and "n_instances" in sub.columns:
        sub = sub[~sub["sign"].isin(["signed"])]
        top = sub.groupby("sign")["n_instances"].sum().sort_values(ascending=False)
        sub = sub[sub["sign"] == top.index[0]] if len(top) else sub
    cars = dict(zip(sub["window"], sub["mean_car"], strict=False))
    d0, d5 = cars.get("[0,0]"), cars.get("[0,+5]")
    if d0 is None or d5 is None or d0 != d0 or d5 != d5 or d5 == 0:
        return ""
    name = GROUP_NAMES.get(group, group)
    share = d0 / d5
    if share >= 0.7:
        pace = "the move is priced on day 0"
    elif share > 0:
        pace = "the move builds over the following sessions"
    else:
        pace = "day 0 and the following sessions move in opposite directions"
    return (
        f"Speed: for {name} on {direction} events, {pace} (mean CAR {d0:.2%} on day 0 "
        f"against {d5:.2%} over [0,+5])."
    )
