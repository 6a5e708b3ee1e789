"""Page 1 of the report: four questions answered in sentences written from a run's tables.

Nothing here is hard-coded: every number comes from the pooled, speed, test and
backtest tables.  Percentages carry a fixed number of decimals; tests are named
in words (the registry's labels), never by their codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backtest.summaries import t_interval

if TYPE_CHECKING:
    import pandas as pd

GROUP_NAMES = {
    "us_incumbent": "US incumbents",
    "cn_substitute": "Chinese substitutes",
    "spread": "the substitution spread (substitutes minus incumbents)",
    "us_semis": "other US semiconductors",
    "us_equipment": "equipment makers",
    "cn_platform": "Chinese platforms",
    "*": "all names",
}
SIGN_WORDS = {"-1": "expected to fall", "+1": "expected to gain"}
HEADLINE_WINDOW = "[0,+1]"
# The pools page 1 reports: (direction, sign, group).
HEADLINE_POOLS: tuple[tuple[str, str, str], ...] = (
    ("tightening", "-1", "us_incumbent"),
    ("tightening", "+1", "cn_substitute"),
    ("tightening", "signed", "*"),
    ("easing", "+1", "us_incumbent"),
    ("easing", "signed", "*"),
)


def pct(v: object, digits: int = 2, *, sign: bool = True) -> str:
    """A fraction as a percentage with a fixed number of decimals ("–" when missing)."""
    try:
        f = float(v)  # type: ignore[arg-type]  # anything float() accepts
    except (TypeError, ValueError):
        return "–"
    if f != f:
        return "–"
    return f"{f * 100:+.{digits}f}%" if sign else f"{f * 100:.{digits}f}%"


def pvalue(p: object) -> str:
    """A p-value in words-ready form: ``p = 0.012``, ``p < 0.001``."""
    try:
        f = float(p)  # type: ignore[arg-type]  # anything float() accepts
    except (TypeError, ValueError):
        return "p unavailable"
    if f != f:
        return "p unavailable"
    return "p < 0.001" if f < 0.001 else f"p = {f:.3f}"


def pool_name(direction: str, sign: str, group: str) -> str:
    """``US incumbents expected to fall on tightening``; ``all names (signed) on easing``."""
    name = GROUP_NAMES.get(group, group)
    if sign in SIGN_WORDS:
        name += " " + SIGN_WORDS[sign]
    return f"{name} on {direction} events"


@dataclass(frozen=True, slots=True)
class PoolFigure:
    """One pooled mean CAR with its interval and sample: a row of the pooled table."""

    direction: str
    sign: str
    group: str
    window: str
    mean_car: float
    se: float
    pvalue: float
    n_events: int
    n_clusters: int

    @property
    def interval(self) -> tuple[float, float]:
        return t_interval(self.mean_car, self.se, self.n_clusters)

    def phrase(self) -> str:
        lo, hi = self.interval
        name = GROUP_NAMES.get(self.group, self.group)
        if self.sign == "signed":
            what = f"{name} moved {pct(self.mean_car)} in the direction the log expects"
        else:
            what = f"{name} {SIGN_WORDS.get(self.sign, '')} moved {pct(self.mean_car)}".replace(
                "  ", " "
            )
        ci = f"95% interval {pct(lo)} to {pct(hi)}; " if lo == lo else ""
        return (
            f"{what} over {self.window} ({ci}{self.n_events} events in "
            f"{self.n_clusters} calendar clusters)"
        )


def pool_figures(pooled: pd.DataFrame, window: str = HEADLINE_WINDOW) -> list[PoolFigure]:
    """The :data:`HEADLINE_POOLS` present in the pooled table, with at least two clusters."""
    out: list[PoolFigure] = []
    if pooled.empty or "sign" not in pooled.columns:
        return out
    sub = pooled[pooled["window"] == window].set_index(["direction", "sign", "group"])
    for key in HEADLINE_POOLS:
        if key not in sub.index:
            continue
        r = sub.loc[key]
        if not int(r["n_clusters"]) > 1:
            continue
        out.append(
            PoolFigure(
                key[0],
                key[1],
                key[2],
                window,
                float(r["mean_car"]),
                float(r["se"]),
                float(r["pvalue"]),
                int(r["n_events"]),
                int(r["n_clusters"]),
            )
        )
    return out


def how_much(figures: list[PoolFigure]) -> str:
    """Signed pools by direction x expected sign, with intervals and n."""
    if not figures:
        return "Too few events per pool to measure the size of the reaction."
    parts = []
    for direction in ("tightening", "easing"):
        mine = [f.phrase() for f in figures if f.direction == direction]
        if mine:
            parts.append(f"On {direction} events, " + "; ".join(mine) + ".")
    return " ".join(parts)


def how_fast(speed: pd.DataFrame, cross: pd.DataFrame) -> str:
    """Share in the first open, peak session, reversal by +10, and the cross-market order."""
    if speed.empty:
        return "The run has no open prices to time the reaction."
    s = speed.set_index(["direction", "sign", "group", "measure"])
    text = []
    for direction, sign, group in (
        ("tightening", "-1", "us_incumbent"),
        ("tightening", "+1", "cn_substitute"),
    ):
        key = (direction, sign, group)
        if (*key, "share_first_open") not in s.index:
            continue
        share = s.loc[(*key, "share_first_open")]
        peak = s.loc[(*key, "peak_day")]
        post = s.loc[(*key, "post_2_10")]
        if share["value"] != share["value"]:
            continue
        name = f"{GROUP_NAMES[group]} {SIGN_WORDS[sign]} on {direction}"
        band_txt = (
            f" (95% interval {pct(share['lo'], 1, sign=False)} to "
            f"{pct(share['hi'], 1, sign=False)})"
            if share["lo"] == share["lo"]
            else ""
        )
        line = (
            f"For {name}, {pct(share['value'], 1, sign=False)}{band_txt} of the {HEADLINE_WINDOW} "
            f"move was already in the first open after the news ({int(share['n_clusters'])} "
            f"calendar clusters)"
        )
        if peak["value"] == peak["value"]:
            line += f"; the pooled move peaked on day {int(peak['value']):+d}"
        if post["value"] == post["value"] and post["lo"] == post["lo"]:
            verdict = (
                "a significant reversal"
                if post["hi"] < 0
                else "a significant further drift"
                if post["lo"] > 0
                else "neither a significant reversal nor further drift"
            )
            line += (
                f", and days +2 to +10 added {pct(post['value'])} (95% interval "
                f"{pct(post['lo'])} to {pct(post['hi'])}): {verdict}"
            )
        text.append(line + ".")
    text.append(cross_market_sentence(cross))
    text.append(
        "Daily bars cannot say when inside a session prices moved, nor separate the "
        "pre-market from the open."
    )
    return " ".join(t for t in text if t)


MARKET_WORDS = {"US": "US names", "China A": "A-shares", "Hong Kong": "Hong Kong names"}


def cross_market_sentence(cross: pd.DataFrame) -> str:
    """The order of the open reactions across markets, for news released while the US was shut."""
    if cross.empty:
        return ""
    opens = cross[cross["point"] == "open"].sort_values("hours")
    if len(opens) < 2:
        return ""
    parts = [
        f"{MARKET_WORDS.get(str(r.market), str(r.market))} {pct(r.mean)} at their open "
        f"{r.hours:.1f} h after the news"
        for r in opens.itertuples(index=False)
    ]
    n = int(opens["n_events"].max())
    return (
        f"For news released while the US market was closed ({n} events), the signed moves "
        f"came in this order: " + ", then ".join(parts) + "."
    )


def how_significant(tests: pd.DataFrame, pooled: pd.DataFrame, placebo_draws: int) -> str:
    """The lead tests of the two main signed pools, named in words, with the placebo p."""
    from backtest.study.registry import lead_tests, properties

    if tests.empty or "level" not in tests.columns:
        return "The run has no pooled tests."
    out = []
    for direction, group in (("tightening", "us_incumbent"), ("tightening", "*")):
        event = f"direction={direction},signed"
        test_group = group
        rows = tests[
            (tests["level"] == "pooled")
            & (tests["event"] == event)
            & (tests["group"] == test_group)
            & (tests["window"] == HEADLINE_WINDOW)
        ].set_index("test")
        bits = []
        for t in lead_tests():
            if t == "event_t":
                p = _event_t_p(pooled, direction, "signed", group)
            elif t in rows.index:
                p = (
                    float(rows.loc[t, "pvalue"])
                    if bool(rows.loc[t].get("valid", True))
                    else float("nan")
                )
            else:
                continue
            if p != p:
                continue
            label = properties(t).label
            if t.startswith("placebo"):
                label += f", {placebo_draws} draws"
            bits.append(f"{label} {pvalue(p)}")
        if bits:
            out.append(
                f"For {pool_name(direction, 'signed', group)} over {HEADLINE_WINDOW}: "
                + "; ".join(bits)
                + "."
            )
    if not out:
        return "No lead test could run on the headline pools."
    return " ".join(out) + (
        " These tests keep their size when every name reacts on the same date and news "
        "days are more volatile (chosen by simulation)."
    )


def _event_t_p(pooled: pd.DataFrame, direction: str, sign: str, group: str) -> float:
    if pooled.empty or "sign" not in pooled.columns:
        return float("nan")
    r = pooled[
        (pooled["direction"] == direction)
        & (pooled["sign"] == sign)
        & (pooled["group"] == group)
        & (pooled["window"] == HEADLINE_WINDOW)
    ]
    return float(r["pvalue"].iloc[0]) if len(r) else float("nan")


@dataclass(frozen=True, slots=True)
class TradeFigures:
    """What page 1 says about trading: net result, risk, exposure and the search behind it."""

    strategy: str
    total_return: float
    sharpe: float
    exposure: float
    n_trades: int
    legs_total: float
    n_configurations: int
    loo: tuple[float, float]
    lags: tuple[float, float]


def trade_figures(
    metrics: pd.DataFrame,
    robustness: pd.DataFrame,
    legs: pd.DataFrame,
    strategy: str = "",
) -> TradeFigures | None:
    """The backtest's headline figures from its tables (None without a backtest)."""
    if metrics.empty or "strategy" not in metrics.columns:
        return None
    m = dict(zip(metrics["metric"], metrics["strategy"], strict=False))
    lm = dict(zip(legs["metric"], legs["value"], strict=False)) if len(legs) else {}

    def span(sweep: str) -> tuple[float, float]:
        if robustness.empty:
            return float("nan"), float("nan")
        v = robustness.loc[robustness["sweep"] == sweep, "total_return"].dropna()
        return (float(v.min()), float(v.max())) if len(v) else (float("nan"), float("nan"))

    return TradeFigures(
        strategy=strategy,
        total_return=float(m.get("total_return", float("nan"))),
        sharpe=float(m.get("sharpe", float("nan"))),
        exposure=float(m.get("average_gross_exposure", float("nan"))),
        n_trades=int(m.get("n_trades", 0) or 0),
        legs_total=float(lm.get("total_return", float("nan"))),
        n_configurations=len(robustness) + 1,
        loo=span("leave_one_out"),
        lags=span("lag"),
    )


def could_trade(fig: TradeFigures | None) -> str:
    """Net return, Sharpe, exposure, configurations tried and the sweep ranges."""
    if fig is None:
        return "The run has no backtest."
    name = fig.strategy.replace("_", " ") or "The event strategy"
    text = (
        f"The {name} strategy returned {pct(fig.total_return)} in total after costs over "
        f"{fig.n_trades} trades (Sharpe {fig.sharpe:.2f}, average gross exposure "
        f"{pct(fig.exposure, sign=False)} of equity), against {pct(0.0)} for cash"
    )
    if fig.legs_total == fig.legs_total:
        text += (
            f" and {pct(fig.legs_total)} for an equal-weight position held throughout in "
            "the same names"
        )
    text += f". {fig.n_configurations} configurations were tried"
    ranges = []
    if fig.loo[0] == fig.loo[0]:
        ranges.append(f"leaving one event out gives {pct(fig.loo[0])} to {pct(fig.loo[1])}")
    if fig.lags[0] == fig.lags[0]:
        ranges.append(f"entry lags of 0-5 sessions give {pct(fig.lags[0])} to {pct(fig.lags[1])}")
    return text + (": " + "; ".join(ranges) if ranges else "") + "."


def answers(context: dict[str, Any]) -> list[dict[str, str]]:
    """The four questions and their generated answers, in page-1 order."""
    return [
        {"q": "How much?", "a": context["how_much"]},
        {"q": "How fast?", "a": context["how_fast"]},
        {"q": "How significant?", "a": context["how_significant"]},
        {"q": "Could it be traded?", "a": context["could_trade"]},
    ]
