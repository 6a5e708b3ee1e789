"""Chart helpers: each draws on a matplotlib axis it is given; ``to_svg`` renders a figure.

No statistics are computed here: every number drawn comes from a run table.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

GROUP_COLOURS = {
    "us_incumbent": "#c0392b",
    "us_semis": "#e67e22",
    "us_equipment": "#d35400",
    "cn_substitute": "#1e8449",
    "cn_platform": "#2874a6",
    "benchmark": "#7f8c8d",
    "spread": "#6c3483",
}
TYPE_MARKERS = {
    "restriction": "v",
    "tightening": "v",
    "entity_listing": "X",
    "relaxation": "^",
    "licence_grant": "^",
    "rescission": "^",
    "countermeasure": "s",
    "company_disclosure": "D",
    "confounder": "o",
}


def figure(width: float = 8.0, height: float = 3.2) -> tuple[Figure, Axes]:
    """A new figure and axis on the Agg backend (never shown)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    # Fixed margins instead of tight_layout, which draws every figure one extra time.
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.17, top=0.92)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    return fig, ax


def to_svg(fig: Figure) -> str:
    """The figure as a standalone SVG document (text as text: small, no external files)."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mib"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def timeline(ax: Axes, events: pd.DataFrame, prices: pd.Series | None = None) -> None:
    """Events by authority (rows) and type (marker), over a normalised price line."""
    import pandas as pd

    authorities = sorted(events["authority"].unique())
    rows = {a: i for i, a in enumerate(authorities)}
    for etype, sub in events.groupby("type"):
        ax.scatter(
            pd.to_datetime(sub["announced_date"]),
            sub["authority"].map(rows),
            marker=TYPE_MARKERS.get(str(etype), "o"),
            s=36,
            label=str(etype),
            zorder=3,
        )
    ax.set_yticks(range(len(authorities)), authorities, fontsize=7)
    ax.legend(fontsize=6, ncol=3, loc="upper left", framealpha=0.8)
    if prices is not None and len(prices):
        twin = ax.twinx()
        twin.plot(
            prices.index, prices / prices.iloc[0] * 100.0, color="#95a5a6", linewidth=0.8, zorder=1
        )
        twin.set_ylabel(f"{prices.name} (start = 100)", fontsize=7)
        twin.tick_params(labelsize=7)
    ax.tick_params(axis="x", labelsize=7)


def car_paths(ax: Axes, paths: pd.DataFrame, title: str = "") -> None:
    """CAAR path per group with a 95 % band (cross-sectional standard error)."""
    for group, sub in paths.groupby("group"):
        sub = sub.sort_values("rel_day")
        colour = GROUP_COLOURS.get(str(group), None)
        ax.plot(
            sub["rel_day"],
            sub["caar"] * 100.0,
            label=f"{group} (n={sub['n'].max()})",
            color=colour,
            linewidth=1.4,
        )
        lo = (sub["caar"] - 1.96 * sub["se"]) * 100.0
        hi = (sub["caar"] + 1.96 * sub["se"]) * 100.0
        ax.fill_between(sub["rel_day"], lo, hi, color=colour, alpha=0.15, linewidth=0)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.axhline(0, color="black", linewidth=0.4)
    ax.set_xlabel("sessions relative to day 0 (own exchange)", fontsize=7)
    ax.set_ylabel("CAAR, %", fontsize=7)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, loc="best")


SIGN_WORDS = {"-1": "(expected down)", "+1": "(expected up)", "spread": "(spread)", "all": ""}


def pooled_bars(ax: Axes, pooled: pd.DataFrame, by: str, window: str) -> None:
    """Mean CAR by group for each value of ``by`` in one window, with 95 % intervals."""
    import numpy as np

    sub = pooled[pooled["window"] == window]
    if "sign" in sub.columns:  # one bar cluster per (by, expected sign); no signed rows
        sub = sub[~sub["sign"].isin(["signed"])]
        sub = sub.assign(
            key=sub[by].astype(str)
            + " "
            + sub["sign"].map(SIGN_WORDS).fillna(sub["sign"].astype(str))
        )
    else:
        sub = sub.assign(key=sub[by].astype(str))
    keys = sorted(sub["key"].unique())
    groups = sorted(sub["group"].unique())
    width = 0.8 / max(len(groups), 1)
    for j, group in enumerate(groups):
        g = sub[sub["group"] == group].groupby("key").first().reindex(keys)
        x = np.arange(len(keys)) + j * width
        ax.bar(
            x,
            g["mean_car"] * 100.0,
            width,
            label=group,
            color=GROUP_COLOURS.get(group),
            yerr=1.96 * g["se"] * 100.0,
            error_kw={"linewidth": 0.7},
        )
    ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys, fontsize=7)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel(f"mean CAR{window}, %", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)


def equity_curves(ax: Axes, equity: pd.DataFrame) -> None:
    """Equity curves (columns) indexed by date, rebased to 100."""
    for col in equity.columns:
        s = equity[col].dropna()
        if len(s):
            ax.plot(s.index, s / s.iloc[0] * 100.0, label=str(col), linewidth=1.0)
    ax.set_ylabel("value (start = 100)", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)


def line_by(
    ax: Axes,
    frame: pd.DataFrame,
    x: str,
    y: str,
    by: str | None,
    xlabel: str,
    ylabel: str,
    scale: float = 100.0,
) -> None:
    """One line per value of ``by`` (or a single line), e.g. lag decay or holding sweep."""
    groups = frame.groupby(by) if by else [("", frame)]
    for key, sub in groups:
        sub = sub.sort_values(x)
        ax.plot(sub[x], sub[y] * scale, marker="o", markersize=3, label=str(key) or None)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel(xlabel, fontsize=7)
    ax.set_ylabel(ylabel, fontsize=7)
    ax.tick_params(labelsize=7)
    if by:
        ax.legend(fontsize=6)


def spec_grid(ax: Axes, grid: pd.DataFrame, rows: str, cols: str, value: str) -> None:
    """Heatmap of a statistic over a specification grid, annotated with its values."""
    table = grid.pivot_table(index=rows, columns=cols, values=value, aggfunc="first")
    ax.figure.subplots_adjust(left=0.30, right=0.95, bottom=0.34, top=0.97)
    im = ax.imshow(table.to_numpy(dtype=float), cmap="RdBu_r", vmin=-4, vmax=4, aspect="auto")
    ax.set_xticks(
        range(table.shape[1]), [str(c) for c in table.columns], fontsize=6, rotation=45, ha="right"
    )
    ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index], fontsize=6)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = table.iat[i, j]
            if v == v:
                ax.text(
                    j,
                    i,
                    f"{v:.1f}",
                    ha="center",
                    va="center",
                    fontsize=5,
                    color="white" if abs(v) > 2.5 else "black",
                )
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label=value)
    ax.grid(False)
