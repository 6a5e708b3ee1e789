"""The context of every report section, from a loaded run's tables (formatting only).

Every number shown comes from a run table; this module selects, orders, formats
and draws.  Percentages carry fixed decimals (:func:`backtest.report.narrative.pct`),
counts are integers, hashes are shortened (the full values are in ``run.json``).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from backtest.report import charts
from backtest.report import narrative as nar
from backtest.summaries import t_interval

if TYPE_CHECKING:
    import pandas as pd

    from backtest.runio import Run

HEADLINE_WINDOW = nar.HEADLINE_WINDOW
# Windows of the main body's pooled and test tables (every window is in tables/).
MAIN_WINDOWS = ("[0,0]", "[0,+1]", "[0,+5]")
TOP_EVENTS = 15  # events in the main body's ranking (all of them are in the appendix)
DIRT_ROWS = 25
# Findings listed row by row in the data section: the ones that can change a number.
DIRT_CHECKS = (
    "change_mismatch",
    "non_finite",
    "level_shift",
    "source_disagreement",
    "stitch_refused",
    "split_like",
    "spike",
    "beyond_limit",
)


def chart_uri(fig: Any) -> str:
    """A chart as a PNG data URI (the HTML and the PDF embed the same image)."""
    return "data:image/png;base64," + base64.b64encode(charts.to_png(fig)).decode()


def count(v: object) -> str:
    """An integer count without decimals ("–" when missing)."""
    try:
        f = float(v)  # type: ignore[arg-type]  # anything float() accepts
    except (TypeError, ValueError):
        return "–"
    return "–" if f != f else f"{round(f):d}"


def num(v: object, digits: int = 2) -> str:
    """A plain number with fixed decimals ("–" when missing)."""
    try:
        f = float(v)  # type: ignore[arg-type]  # anything float() accepts
    except (TypeError, ValueError):
        return "" if v is None else str(v)
    return "–" if f != f else f"{f:.{digits}f}"


def _is_digest(text: str) -> bool:
    return len(text) >= 16 and all(c in "0123456789abcdef" for c in text.lower())


def short_hash(v: object, n: int = 12) -> str:
    """A hex digest shortened for tables; ``v12:abcdef...`` keeps its version prefix.

    Anything that is not a digest (a path, a date, a description) is returned whole.
    """
    text = str(v or "")
    head, sep, digest = text.rpartition(":")
    if sep and _is_digest(digest):
        return f"{head}:{digest[:n]}"
    return text[:n] if _is_digest(text) else text


def label(name: str) -> str:
    """A table or test name in words: ``us_incumbent`` -> ``us incumbent``."""
    return nar.GROUP_NAMES.get(name, str(name).replace("_", " "))


# --- 2. How much -------------------------------------------------------------------


PATH_PANELS = (
    {
        "direction": "tightening",
        "title": "Tightening events",
        "lines": [
            ("-1", "us_incumbent", "US incumbents, expected to fall"),
            ("+1", "cn_substitute", "Chinese substitutes, expected to gain"),
            ("signed", "*", "all names, signed"),
        ],
    },
    {
        "direction": "easing",
        "title": "Easing events",
        "lines": [
            ("+1", "us_incumbent", "US incumbents, expected to gain"),
            ("-1", "cn_substitute", "Chinese substitutes, expected to fall"),
            ("signed", "*", "all names, signed"),
        ],
    },
)


def paths_chart(run: Run) -> str | None:
    """The standard event-study figure: pooled signed CAAR paths with 95 % bands."""
    paths = run.table("pooled_paths")
    if paths.empty:
        return None
    panels = [p for p in PATH_PANELS if (paths["direction"] == p["direction"]).any()]
    if not panels:
        return None
    fig, axes = charts.figure(10.0, 3.6, ncols=len(panels))
    fig.subplots_adjust(bottom=0.36, top=0.93)
    charts.pooled_paths(axes if isinstance(axes, list) else [axes], paths, panels)
    return chart_uri(fig)


def pooled_rows(run: Run) -> list[dict[str, Any]]:
    """Headline pools x windows: mean CAR, 95 % interval, event-level p, events, clusters."""
    pooled = run.table("pooled")
    if pooled.empty or "sign" not in pooled.columns:
        return []
    rows = []
    sub = pooled.set_index(["direction", "sign", "group", "window"]).sort_index()
    windows = sorted(set(pooled["window"]) & set(MAIN_WINDOWS), key=_window_order)
    for d, s, g in (*nar.HEADLINE_POOLS, ("tightening", "spread", "spread")):
        for w in windows:
            if (d, s, g, w) not in sub.index:
                continue
            r = sub.loc[(d, s, g, w)]
            lo, hi = t_interval(float(r["mean_car"]), float(r["se"]), int(r["n_clusters"]))
            rows.append(
                {
                    "pool": nar.pool_name(d, s, g),
                    "window": w,
                    "mean": nar.pct(r["mean_car"]),
                    "interval": f"{nar.pct(lo)} to {nar.pct(hi)}" if lo == lo else "–",
                    "p": num(r["pvalue"], 3),
                    "sig": bool(r["pvalue"] < 0.05),
                    "events": count(r["n_events"]),
                    "clusters": count(r["n_clusters"]),
                    "instances": count(r["n_instances"]),
                }
            )
    return rows


def _window_order(label_: str) -> tuple[int, int]:
    a, b = str(label_).strip("[]").split(",")
    return int(a), int(b)


# --- 3. How fast ---------------------------------------------------------------------

SPEED_POOLS = (
    ("tightening", "-1", "us_incumbent"),
    ("tightening", "+1", "cn_substitute"),
    ("tightening", "signed", "*"),
    ("easing", "+1", "us_incumbent"),
    ("easing", "signed", "*"),
)
SPEED_SHOWN = (
    "overnight0",
    "session0",
    "first_open",
    "car01",
    "share_first_open",
    "peak_day",
    "car05",
    "car010",
    "post_2_10",
)


def speed_rows(run: Run) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per pool, one column per measure: value and 95 % band."""
    from backtest.howfast import MEASURES

    speed = run.table("speed")
    if speed.empty:
        return [], []
    s = speed.set_index(["direction", "sign", "group", "measure"])
    rows = []
    for pool in SPEED_POOLS:
        if (*pool, "car01") not in s.index:
            continue
        cells = []
        for m in SPEED_SHOWN:
            r = s.loc[(*pool, m)] if (*pool, m) in s.index else None
            if r is None or r["value"] != r["value"]:
                cells.append({"v": "–", "b": ""})
            elif m == "peak_day":
                cells.append({"v": f"day {int(r['value']):+d}", "b": ""})
            elif m == "share_first_open":
                b = (
                    f"{nar.pct(r['lo'], 0, sign=False)} to {nar.pct(r['hi'], 0, sign=False)}"
                    if r["lo"] == r["lo"]
                    else ""
                )
                cells.append({"v": nar.pct(r["value"], 1, sign=False), "b": b})
            else:
                b = f"{nar.pct(r['lo'])} to {nar.pct(r['hi'])}" if r["lo"] == r["lo"] else ""
                cells.append({"v": nar.pct(r["value"]), "b": b})
        n = s.loc[(*pool, "car01")]
        rows.append(
            {
                "pool": nar.pool_name(*pool),
                "cells": cells,
                "n": f"{count(n['n_instances'])} / {count(n['n_clusters'])}",
            }
        )
    return [MEASURES[m] for m in SPEED_SHOWN], rows


def cross_chart(run: Run) -> str | None:
    cross = run.table("cross_market")
    if cross.empty or cross["market"].nunique() < 2:
        return None
    fig, ax = charts.figure(7.0, 2.6)
    charts.cross_market(ax, cross)
    return chart_uri(fig)


def intraday(run: Run) -> list[dict[str, Any]]:
    """ "Minutes after the news": one chart and summary row per event with intraday tables."""
    reac, paths = run.table("intraday_reaction"), run.table("intraday_paths")
    if reac.empty or paths.empty:
        return []
    out = []
    for event_id, r in reac.groupby("event_id", sort=True):
        p = paths[paths["event_id"] == event_id]
        chart = None
        if len(p):
            fig, ax = charts.figure(7.0, 2.4)
            charts.minutes(ax, p, str(event_id))
            chart = chart_uri(fig)
        out.append(
            {
                "event_id": event_id,
                "chart": chart,
                "rows": [
                    {
                        "security": x.security,
                        "benchmark": x.benchmark,
                        "knowable": str(x.knowable_utc)[:16],
                        "first_move": nar.pct(x.first_session_move),
                        "s5": nar.pct(x.share_5m, 0, sign=False),
                        "s30": nar.pct(x.share_30m, 0, sign=False),
                        "s60": nar.pct(x.share_60m, 0, sign=False),
                        "after": nar.pct(x.share_after_hours, 0, sign=False),
                        "pre": nar.pct(x.share_premarket, 0, sign=False),
                        "open": nar.pct(x.share_next_open, 0, sign=False),
                        "bars": count(x.n_bars),
                        "note": x.note,
                    }
                    for x in r.itertuples(index=False)
                ],
            }
        )
    return out


# --- 4. How significant --------------------------------------------------------------


def significance(run: Run) -> tuple[list[str], list[dict[str, Any]]]:
    """Lead tests (columns, in words) x headline signed pools (rows): p-values."""
    from backtest.study.registry import lead_tests, properties

    tests, pooled = run.table("tests"), run.table("pooled")
    if tests.empty or "level" not in tests.columns:
        return [], []
    names = list(lead_tests())
    rows = []
    for window in sorted(set(tests["window"].dropna()) & set(MAIN_WINDOWS), key=_window_order):
        for d, g in (
            ("tightening", "us_incumbent"),
            ("tightening", "cn_substitute"),
            ("tightening", "*"),
            ("easing", "us_incumbent"),
            ("easing", "*"),
        ):
            t = tests[
                (tests["level"] == "pooled")
                & (tests["event"] == f"direction={d},signed")
                & (tests["group"] == g)
                & (tests["window"] == window)
            ].set_index("test")
            if t.empty:
                continue
            cells = []
            for name in names:
                if name == "event_t":
                    r = pooled[
                        (pooled["direction"] == d)
                        & (pooled["sign"] == "signed")
                        & (pooled["group"] == g)
                        & (pooled["window"] == window)
                    ]
                    p = float(r["pvalue"].iloc[0]) if len(r) else float("nan")
                else:
                    p = float(t.loc[name, "pvalue"]) if name in t.index else float("nan")
                cells.append({"p": num(p, 3), "sig": p == p and p < 0.05})
            rows.append({"pool": nar.pool_name(d, "signed", g), "window": window, "cells": cells})
    return [properties(n).label for n in names], rows


# --- 5. Events -----------------------------------------------------------------------


def timeline_chart(run: Run) -> str | None:
    events = run.table("events")
    if events.empty or "authority" not in events.columns:
        return None
    fig, ax = charts.figure(10.0, 2.6)
    fig.subplots_adjust(left=0.12, right=0.74, bottom=0.14, top=0.95)
    prices = run.table("timeline_prices")
    series = None
    if not prices.empty:
        series = prices.set_index("date")["close"].rename(str(prices["symbol"].iloc[0]))
    charts.timeline(ax, events, series)
    return chart_uri(fig)


def heatmap_window(run: Run) -> str:
    car = run.table("car")
    return HEADLINE_WINDOW if (car.get("window", []) == HEADLINE_WINDOW).any() else "[0,0]"


def heatmap_chart(run: Run) -> str | None:
    """CAR over the headline window by security (rows, by group) x event (columns, by date)."""
    import pandas as pd

    car, inst = run.table("car"), run.table("instances")
    if car.empty or inst.empty or "day0" not in inst.columns:
        return None
    w = heatmap_window(run)
    c = car[car["window"] == w]
    if c.empty:
        return None
    first = pd.to_datetime(inst.groupby("event_id")["day0"].min())
    events = sorted(set(c["event_id"]), key=lambda e: (first.get(e, pd.NaT), e))
    groups = c.drop_duplicates("security").set_index("security")["group"]
    secs = sorted(groups.index, key=lambda s: (str(groups[s]), s))
    wide = c.pivot_table(index="security", columns="event_id", values="car").reindex(
        index=secs, columns=events
    )
    labels = [f"{first.get(e, pd.NaT):%Y-%m-%d}" for e in events]
    from matplotlib.figure import Figure

    height = 1.3 + 0.12 * len(secs)
    fig = Figure(figsize=(10.0, height), dpi=96)
    fig.subplots_adjust(left=0.17, right=1.0, bottom=0.75 / height, top=1 - 0.3 / height)
    charts.heatmap(
        fig,
        wide,
        [str(groups[s]) for s in secs],
        labels,
        f"CAR{w} by security (rows, grouped) and event (columns, by day 0); blue up, red down",
        nar.GROUP_NAMES,
    )
    return chart_uri(fig)


def ranked_events(run: Run) -> list[dict[str, Any]]:
    """Every event with results, ranked by its largest |group CAAR| over the headline window."""
    import pandas as pd

    car, events, inst = run.table("car_summary"), run.table("events"), run.table("instances")
    paths = run.table("paths")
    present = set(car["event_id"]) if len(car) else set(paths.get("event_id", []))
    if not present:
        return []
    head = car[car["window"] == HEADLINE_WINDOW] if len(car) else car
    if head.empty and len(car):
        head = car[car["window"] == car["window"].iloc[0]]
    size = head.assign(a=head["caar"].abs()).groupby("event_id")["a"].max() if len(head) else None
    top = (
        head.loc[head.assign(a=head["caar"].abs()).groupby("event_id")["a"].idxmax()].set_index(
            "event_id"
        )
        if len(head)
        else None
    )
    order = sorted(present, key=lambda e: (-(size.get(e, 0.0) if size is not None else 0.0), e))
    meta = events.set_index("event_id") if "event_id" in events.columns else None
    day0 = (
        inst.groupby("event_id")["day0"].min()
        if len(inst) and "day0" in inst.columns
        else pd.Series(dtype=object)
    )
    out = []
    for k, e in enumerate(order, start=1):
        m = meta.loc[e] if meta is not None and e in meta.index else {}
        t = top.loc[e] if top is not None and e in top.index else None
        out.append(
            {
                "rank": k,
                "event_id": e,
                "anchor": "ev-" + "".join(ch if ch.isalnum() else "-" for ch in str(e)),
                "title": m.get("title", e),
                "type": str(m.get("type", "")).replace("_", " "),
                "direction": m.get("direction", ""),
                "day0": str(day0.get(e, ""))[:10],
                "impact": nar.pct(t["caar"]) if t is not None else "–",
                "impact_group": label(str(t["group"])) if t is not None else "",
            }
        )
    return out


def by_type_rows(run: Run) -> list[dict[str, Any]]:
    """Per event type: the signed pool of all names over the headline window, and the
    incumbents' and substitutes' signed pools."""
    p = run.table("pooled_by_type")
    if p.empty or "sign" not in p.columns:
        return []
    sub = p[(p["window"] == HEADLINE_WINDOW) & (p["sign"] == "signed")]
    rows = []
    for etype, g in sub.groupby("event_type", sort=True):
        cells: dict[str, dict[str, Any]] = {}
        for group in ("*", "us_incumbent", "cn_substitute"):
            r = g[g["group"] == group]
            if r.empty:
                cells[group] = {"v": "–", "b": "", "n": ""}
                continue
            r0 = r.iloc[0]
            lo, hi = t_interval(float(r0["mean_car"]), float(r0["se"]), int(r0["n_clusters"]))
            cells[group] = {
                "v": nar.pct(r0["mean_car"]),
                "b": f"{nar.pct(lo)} to {nar.pct(hi)}" if lo == lo else "",
                "n": f"{count(r0['n_events'])} / {count(r0['n_clusters'])}",
                "sig": bool(r0["pvalue"] < 0.05),
            }
        rows.append(
            {
                "type": str(etype).replace("_", " "),
                **{k.strip("*") or "all": v for k, v in cells.items()},
            }
        )
    return rows


# --- 6. Spread -----------------------------------------------------------------------


def spread_section(run: Run) -> dict[str, Any]:
    """Mean, median and trimmed mean of the event spreads (the run's ``spread_summary``
    table), and each event's contribution (``spread_events``)."""
    se = run.table("spread_events")
    if se.empty:
        return {}
    out: dict[str, Any] = {"rows": [], "chart": None, "limits": []}
    for r in run.table("spread_summary").itertuples(index=False):
        out["rows"].append(
            {
                "direction": r.direction,
                "window": r.window,
                "mean": nar.pct(r.mean),
                "median": nar.pct(r.median),
                "trimmed": nar.pct(r.trimmed_mean),
                "n": count(r.n_events),
                "top": str(r.top_event),
                "top_share": nar.pct(r.top_share, 0, sign=False),
                "limit_events": count(r.limit_events),
            }
        )
    head = se[(se["direction"] == "tightening") & (se["window"] == HEADLINE_WINDOW)]
    if len(head):
        fig, ax = charts.figure(9.0, 0.9 + 0.16 * len(head))
        fig.subplots_adjust(
            left=0.38, right=0.98, bottom=0.5 / (0.9 + 0.16 * len(head)) + 0.1, top=0.9
        )
        charts.contributions(
            ax, head, f"Tightening, {HEADLINE_WINDOW}: each event's share of the mean spread"
        )
        out["chart"] = chart_uri(fig)
        out["limits"] = head[head["limit_days"] > 0].to_dict("records")
    return out


# --- 7. Backtest ---------------------------------------------------------------------

BT_ROWS = (
    ("total_return", "total return", "pct"),
    ("annual_return", "annual return", "pct"),
    ("annual_volatility", "annual volatility", "pct"),
    ("sharpe", "Sharpe ratio", "num"),
    ("max_drawdown", "maximum drawdown", "pct"),
    ("n_trades", "trades", "count"),
    ("hit_rate", "share of winning trades", "share"),
    ("average_trade", "mean trade return", "pct"),
    ("time_in_market", "time in the market", "share"),
    ("average_gross_exposure", "average gross exposure", "share"),
)


def backtest_section(run: Run) -> dict[str, Any]:
    """Strategy vs cash vs the equal-weight legs, in percent; equity, lag decay, sweeps."""
    import pandas as pd

    metrics = run.table("backtest_metrics")
    if metrics.empty:
        return {}
    m = dict(zip(metrics["metric"], metrics["strategy"], strict=False))
    legs_m = run.table("backtest_legs_metrics")
    lm = dict(zip(legs_m["metric"], legs_m["value"], strict=False)) if len(legs_m) else {}
    fmt = {
        "pct": lambda v: nar.pct(v),
        "share": lambda v: nar.pct(v, sign=False),
        "num": lambda v: num(v),
        "count": count,
    }
    rows = [
        {
            "name": name,
            "strategy": fmt[kind](m.get(key)),
            "cash": fmt[kind](0.0)
            if key in ("total_return", "annual_return", "annual_volatility", "max_drawdown")
            else "–",
            "legs": fmt[kind](lm[key]) if key in lm else "–",
        }
        for key, name, kind in BT_ROWS
        if key in m
    ]
    out: dict[str, Any] = {"rows": rows}
    equity = run.table("backtest_equity")
    curves: dict[str, pd.Series] = {}
    if len(equity):
        e = equity[equity["series"] == "strategy"]
        curves["strategy (net of costs)"] = pd.Series(
            e["equity"].to_numpy(), pd.to_datetime(e["date"])
        )
    legs = run.table("backtest_legs")
    if len(legs):
        curves["equal-weight legs, always on"] = pd.Series(
            legs["equity"].to_numpy(), pd.to_datetime(legs["date"])
        )
    if curves:
        fig, ax = charts.figure(9.0, 2.3)
        fig.subplots_adjust(top=0.86)
        charts.equity_curves(ax, curves)
        out["equity"] = chart_uri(fig)
    sweeps = []
    for name, x, xlabel in (
        ("lag_decay", "lag", "entry delay, sessions"),
        ("hold_sweep", "hold", "holding period, sessions"),
    ):
        f = run.table(name)
        if f.empty:
            continue
        has_band = {"band_lo", "band_hi"} <= set(f.columns)  # run folders before 2026-11-30
        nan = float("nan")
        f = f.assign(lo=f["band_lo"] if has_band else nan, hi=f["band_hi"] if has_band else nan)
        sweeps.append((f, x, xlabel))
    if sweeps:
        fig, axes = charts.figure(10.0, 2.5, ncols=len(sweeps))
        for ax, (f, x, xlabel) in zip(
            axes if isinstance(axes, list) else [axes], sweeps, strict=False
        ):
            charts.sweep(ax, f, x, xlabel)
        out["sweeps"] = chart_uri(fig)
    rob = run.table("backtest_robustness")
    fig_ = nar.trade_figures(metrics, rob, legs_m)
    if fig_ is not None:
        out["n_configurations"] = fig_.n_configurations
        out["loo"] = f"{nar.pct(fig_.loo[0])} to {nar.pct(fig_.loo[1])}"
        out["lags"] = f"{nar.pct(fig_.lags[0])} to {nar.pct(fig_.lags[1])}"
        loo = run.table("leave_one_out")
        if len(loo):
            worst = loo.loc[loo["total_return"].idxmin()]
            best = loo.loc[loo["total_return"].idxmax()]
            out["loo_extremes"] = (
                f"lowest without {worst['event_id']}, highest without {best['event_id']}"
            )
    return out


# --- 8. Robustness -------------------------------------------------------------------


def grid_chart(run: Run) -> tuple[str | None, str]:
    """The specification grid with test labels in words, and a note counting its studies."""
    from backtest.study.registry import properties

    grid = run.table("spec_grid")
    if grid.empty:
        return None, ""

    def test_label(t: str) -> str:
        try:
            return str(properties(t).label)
        except (KeyError, ValueError):
            return t.replace("_", " ")

    g = grid.assign(
        r=grid["group"].map(_grid_group)
        + " | "
        + grid["model"].str.replace("_", " ")
        + " | "
        + grid["policy"],
        c=grid["window"] + " " + grid["test"].map(test_label),
    )
    table = g.pivot_table(index="r", columns="c", values="statistic", aggfunc="first")
    from matplotlib.figure import Figure

    top = 0.15 + 0.045 * max(len(c) for c in table.columns)  # rotated column labels, inches
    height = 0.3 + 0.16 * len(table) + top
    width = 10.0
    # Row labels at 7 pt take about 0.055 in a character: the left margin fits the longest.
    left = min(0.5, (0.2 + 0.055 * max(len(str(r)) for r in table.index)) / width)
    fig = Figure(figsize=(width, height), dpi=96)
    fig.subplots_adjust(left=left, right=0.99, bottom=top / height, top=1 - 0.15 / height)
    charts.spec_grid(fig, table)
    n_studies = grid[["model", "policy"]].drop_duplicates().shape[0]
    note = (
        f"{n_studies} studies ({grid['model'].nunique()} normal-return models x "
        f"{grid['policy'].nunique()} day-0 policies), {table.shape[0]} rows (group x model x "
        f"policy), {grid['test'].nunique()} tests x {grid['window'].nunique()} windows. "
        "Cells: the statistic of each test on tightening events pooled, on signed abnormal "
        "returns (positive = prices moved as the log expects)."
    )
    return chart_uri(fig), note


def _grid_group(group: str) -> str:
    """Grid rows: group names in words; the spread group reads as the spread."""
    if "-" in group and group not in nar.GROUP_NAMES:
        return "spread (substitutes - incumbents)"
    return label(group)


# --- 9. Data, appendix, header -------------------------------------------------------


def reason_words(code: str) -> str:
    """An attrition code in words (``day0_outside_data`` -> "day 0 outside the
    security's price file"); an unknown code with its underscores as spaces."""
    from backtest.coverage import REASON_WORDS

    return REASON_WORDS.get(code, code.replace("_", " "))


def lost_in_words(codes: str) -> str:
    """The coverage table's ``lost_reasons`` ("code n; code n") in words: "words (n); ..."."""
    parts = [p.rsplit(" ", 1) for p in str(codes).split("; ") if p.strip()]
    return "; ".join(
        f"{reason_words(p[0])} ({p[1]})" if len(p) == 2 else reason_words(p[0]) for p in parts
    )


def attrition_rows(run: Run) -> list[dict[str, Any]]:
    rows = []
    for step in ("align_attrition", "attrition"):
        t = run.table(step)
        if not t.empty and "reason" in t.columns:
            for reason, n in t.groupby("reason").size().items():
                rows.append(
                    {
                        "step": "alignment" if step == "align_attrition" else "study",
                        "reason": reason_words(str(reason)),
                        "n": count(n),
                    }
                )
    return rows


def fallbacks(run: Run) -> list[dict[str, Any]]:
    b = run.table("benchmarks")
    if b.empty or "fallback" not in b.columns:
        return []
    fb = b[b["fallback"].astype(bool)]
    if fb.empty:
        return []
    g = fb.groupby(["security", "benchmark"], sort=True).agg(
        n=("event_id", "size"),
        first=("day0", "min"),
        last=("day0", "max"),
        detail=("detail", "first"),
    )
    records: list[dict[str, Any]] = g.reset_index().to_dict("records")
    return records


def findings(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    f = run.table("findings")
    if f.empty:
        return [], []
    g = f.groupby(["check", "severity"]).agg(n=("symbol", "size"), securities=("symbol", "nunique"))
    dirt = f[f["check"].isin(DIRT_CHECKS) | (f["severity"] == "error")]
    return g.reset_index().to_dict("records"), dirt.head(DIRT_ROWS).to_dict("records")


APPENDIX_GROUP_WIDTH = 24
APPENDIX_CELL_WIDTH = 10


def appendix_line(cells: list[str]) -> str:
    """One fixed-width line of an appendix block: a left-aligned label, right-aligned cells."""
    head, *rest = cells
    return f"{head[:APPENDIX_GROUP_WIDTH]:<{APPENDIX_GROUP_WIDTH}}" + "".join(
        f"{c:>{APPENDIX_CELL_WIDTH}}" for c in rest
    )


def appendix(run: Run, ranked: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """One compact block per event, in rank order: group CAARs per window, and the p-values
    of the one-cluster lead tests in the headline window.

    Each block is fixed-width text (``text``: a header line and one line per group),
    not a table: a PDF lays out eighty small tables several times slower than the
    whole main body.  The column names in words come back first (the legend).
    """
    from backtest.study.registry import lead_tests, properties

    car, tests = run.table("car_summary"), run.table("tests")
    if car.empty:
        return [], []
    windows = sorted(set(car["window"]), key=_window_order)
    one = [t for t in lead_tests() if properties(t).min_clusters <= 1]
    t = tests.iloc[:0]
    if len(tests) and "level" in tests.columns:
        t = tests[
            (tests["level"] == "event")
            & tests["test"].isin(one)
            & (tests["window"] == HEADLINE_WINDOW)
        ]
        t = t.assign(event_id=t["event"].astype(str).str.split(":").str[0])
    # Plain dictionaries first: a pandas selection per event and group cost 0.5-0.7 s.
    n_max = car.groupby(["event_id", "group"], sort=False)["n"].max().to_dict()
    caars: dict[tuple[Any, Any], dict[Any, Any]] = {}
    for key in zip(car["event_id"], car["group"], car["window"], car["caar"], strict=True):
        caars.setdefault(key[:2], {})[key[2]] = key[3]
    groups: dict[Any, list[Any]] = {}
    for ev_id, group in caars:
        groups.setdefault(ev_id, []).append(group)
    pvalues: dict[tuple[Any, Any], dict[Any, Any]] = {}
    if len(t):
        for key in zip(t["event_id"], t["group"], t["test"], t["pvalue"], strict=True):
            pvalues.setdefault(key[:2], {})[key[2]] = key[3]
    header = appendix_line(
        ["group", "n", *windows, *(f"p{k + 1} {HEADLINE_WINDOW}" for k in range(len(one)))]
    )
    blocks = []
    for ev in ranked:
        if ev["event_id"] not in groups:
            blocks.append({**ev, "text": ""})
            continue
        lines = [header]
        for group in sorted(groups[ev["event_id"]]):
            caar = caars[(ev["event_id"], group)]
            ps = pvalues.get((ev["event_id"], group), {})
            lines.append(
                appendix_line(
                    [
                        label(str(group)),
                        count(n_max[(ev["event_id"], group)]),
                        *(nar.pct(caar.get(w)) for w in windows),
                        *(num(ps.get(x), 3) if x in ps else "–" for x in one),
                    ]
                )
            )
        blocks.append({**ev, "text": "\n".join(lines)})
    legend = [
        f"p{k + 1}: {properties(x).label}, p-value over {HEADLINE_WINDOW}"
        for k, x in enumerate(one)
    ]
    return legend, blocks


def planted_rows(run: Run) -> list[dict[str, Any]]:
    """Planted vs estimated for every planted effect (demo runs)."""
    pc = run.table("plant_check")
    if pc.empty:
        return []
    rows = []
    for r in pc.itertuples(index=False):
        lo, hi = t_interval(float(r.estimated), float(r.se), int(r.n_clusters))
        rows.append(
            {
                "effect": f"{r.match} · {label(str(r.group))} · {r.component}",
                "planted": nar.pct(r.planted),
                "estimated": nar.pct(r.estimated),
                "interval": f"{nar.pct(lo)} to {nar.pct(hi)}" if lo == lo else "–",
                "n": f"{count(r.n_instances)} / {count(r.n_clusters)}",
                "inside": bool(lo == lo and lo <= r.planted <= hi),
            }
        )
    return rows


def report_context(run: Run) -> dict[str, Any]:
    """Everything the template shows, charts and the appendix's blocks included.

    The specification grid, the heatmap, the backtest section and the appendix's
    blocks are made in a child process on a second core while the rest is prepared
    here (:class:`backtest.background.Background`); they are the same either way.
    """
    from backtest.background import Background

    def aside() -> tuple[tuple[str | None, str], str | None, dict[str, Any], dict[str, Any]]:
        return grid_chart(run), heatmap_chart(run), backtest_section(run), appendix_context(run)

    charts.warm()  # before the fork: the chart child starts with fonts loaded
    with Background(aside) as side:
        ctx = _report_context(run)
        (grid, grid_note), heatmap, bt, appendix_ctx = side.result()
    ctx.update(appendix_ctx)
    ctx.update(grid_chart=grid, grid_note=grid_note, heatmap_chart=heatmap, bt=bt)
    return ctx


def _report_context(run: Run) -> dict[str, Any]:
    """:func:`report_context` without the charts drawn alongside."""
    from backtest.coverage import sample_sentence, used_instances

    m = run.manifest
    spec = m.get("spec", {})
    ranked = ranked_events(run)
    speed_cols, speed = speed_rows(run)
    sig_cols, sig = significance(run)
    find, dirt = findings(run)
    cov = run.table("coverage")
    sample = (
        sample_sentence(
            cov, run.table("losses"), used_instances(run.table("car"), run.table("instances"))
        )
        if len(cov)
        else ""
    )
    trade = nar.trade_figures(
        run.table("backtest_metrics"),
        run.table("backtest_robustness"),
        run.table("backtest_legs_metrics"),
        str(spec.get("strategy", "")),
    )
    ctx: dict[str, Any] = {
        "how_much": nar.how_much(nar.pool_figures(run.table("pooled"))),
        "how_fast": nar.how_fast(run.table("speed"), run.table("cross_market")),
        "how_significant": nar.how_significant(
            run.table("tests"), run.table("pooled"), int(spec.get("placebo_draws", 0) or 0)
        ),
        "could_trade": nar.could_trade(trade),
    }
    run_info = dict(m.get("run", {}))
    run_info["log_version_short"] = short_hash(run_info.get("log_version", ""))
    provenance = sorted((k, short_hash(v, 16)) for k, v in m.get("provenance", {}).items())
    return {
        **ctx,
        "answers": nar.answers(ctx),
        "sample": sample,
        "planted": planted_rows(run),
        "run": run_info,
        "synthetic": run.synthetic,
        "data_source": m.get("data", {}).get("description", ""),
        "headline_window": HEADLINE_WINDOW,
        "paths_chart": paths_chart(run),
        "pooled_rows": pooled_rows(run),
        "speed_cols": speed_cols,
        "speed_rows": speed,
        "cross_chart": cross_chart(run),
        "intraday": intraday(run),
        "sig_cols": sig_cols,
        "sig_rows": sig,
        "timeline_chart": timeline_chart(run),
        "heatmap_window": heatmap_window(run),
        "ranked": ranked[:TOP_EVENTS],
        "n_ranked": len(ranked),
        "n_events": len(run.table("events")),
        "by_type": by_type_rows(run),
        "spread": spread_section(run),
        "bt_note": m.get("backtest_note", ""),
        "attrition": attrition_rows(run),
        "coverage": (
            cov.assign(lost_reasons=cov["lost_reasons"].map(lost_in_words))
            if "lost_reasons" in cov.columns
            else cov
        ).to_dict("records"),
        "fallbacks": fallbacks(run),
        "findings": find,
        "dirt": dirt,
        "excluded": _excluded(run),
        "method": m.get("method", []),
        "provenance": provenance,
        "price_meta": run.table("price_meta").to_dict("records"),
        "count": count,
        "short_hash": short_hash,
    }


def appendix_context(run: Run) -> dict[str, Any]:
    """The appendix's legend and its block per event, ranked (:func:`appendix`)."""
    cols, blocks = appendix(run, ranked_events(run))
    return {"appendix_cols": cols, "appendix": blocks}


def _excluded(run: Run) -> list[dict[str, Any]]:
    p = run.table("pools")
    if p.empty or "pooled" not in p.columns:
        return []
    records: list[dict[str, Any]] = p[~p["pooled"].astype(bool)].to_dict("records")
    return records
