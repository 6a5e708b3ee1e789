"""Chart helpers: each builds a :class:`matplotlib.figure.Figure` or draws on an axis it is
given; :func:`to_png` renders a figure.

No statistics are computed here: every number drawn comes from a run table.  No
pyplot and no ``matplotlib.use``: figures are built directly, so the user's
backend and global state are never touched.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
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
    "*": "#34495e",
}
MARKET_COLOURS = {"US": "#c0392b", "China A": "#1e8449", "Hong Kong": "#2874a6"}
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
FONT = 7.5


def figure(width: float = 8.0, height: float = 3.2, *, ncols: int = 1) -> tuple[Figure, Any]:
    """A new figure with ``ncols`` axes side by side (one axis when ``ncols`` is 1)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    # Fixed margins instead of tight_layout, which draws every figure one extra time.
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.88, wspace=0.28)
    axes = [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]
    for ax in axes:
        ax.grid(True, alpha=0.3, linewidth=0.5)
        ax.tick_params(labelsize=FONT)
    return fig, axes[0] if ncols == 1 else axes


PNG_DPI = 150  # sharp on A4 at the report's chart widths; a tenth of an SVG's weight in the PDF


def to_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as a PNG at ``dpi`` (Agg canvas attached to this figure only).

    Raster charts keep WeasyPrint fast: an SVG with thousands of points or cells
    (equity curves, heatmaps) is laid out element by element in the PDF.  An opaque
    figure (every chart here) is written as RGB, without the alpha channel, which
    WeasyPrint would otherwise split off and compress again as a separate mask in
    every PDF part; a figure with any transparency keeps it (RGBA).  The figure is
    left at ``dpi`` (it is drawn once, for this image).
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    opaque = bool((rgba[..., 3] == 255).all())
    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3]) if opaque else rgba)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def warm() -> None:
    """Import matplotlib and draw a tiny figure with text (fonts and glyph caches loaded):
    done once before the report forks its chart child, which then starts warm."""
    fig, ax = figure(1.0, 0.5)
    ax.plot([0, 1], [0, 1])
    ax.set_title("0.0% −", fontsize=FONT, fontweight="bold")
    to_png(fig, dpi=20)


def timeline(ax: Axes, events: pd.DataFrame, prices: pd.Series | None = None) -> None:
    """Events by authority (rows) and type (marker), over a normalised price line."""
    import pandas as pd

    authorities = sorted(events["authority"].unique())
    rows = {a: i for i, a in enumerate(authorities)}
    if prices is not None and len(prices):
        twin = ax.twinx()
        twin.plot(
            prices.index, prices / prices.iloc[0] * 100.0, color="#95a5a6", linewidth=0.8, zorder=1
        )
        twin.set_ylabel(f"{prices.name} (start = 100)", fontsize=FONT)
        twin.tick_params(labelsize=FONT)
    for etype, sub in events.groupby("type"):
        ax.scatter(
            pd.to_datetime(sub["announced_date"]),
            sub["authority"].map(rows),
            marker=TYPE_MARKERS.get(str(etype), "o"),
            s=30,
            label=str(etype).replace("_", " "),
            zorder=3,
        )
    ax.set_yticks(range(len(authorities)), authorities, fontsize=FONT)
    ax.set_ylim(len(authorities) - 0.5, -0.5)
    ax.legend(fontsize=6.5, ncol=1, loc="upper left", bbox_to_anchor=(1.07, 1.0), frameon=False)


def pooled_paths(axes: list[Axes], paths: pd.DataFrame, panels: list[dict[str, Any]]) -> None:
    """Signed pooled CAAR paths with 95 % bands, one panel per direction.

    ``panels``: per axis, the title and the (sign, group, label) lines to draw.
    """
    for ax, panel in zip(axes, panels, strict=False):
        for sign, group, label in panel["lines"]:
            sub = paths[
                (paths["direction"] == panel["direction"])
                & (paths["sign"] == sign)
                & (paths["group"] == group)
            ].sort_values("rel_day")
            if sub.empty:
                continue
            colour = GROUP_COLOURS.get(group)
            n = int(sub["n_clusters"].max())
            ax.plot(
                sub["rel_day"],
                sub["caar"] * 100.0,
                color=colour,
                linewidth=1.4,
                marker="o",
                markersize=2.5,
                label=f"{label} ({n} clusters)",
            )
            ax.fill_between(
                sub["rel_day"],
                sub["lo"] * 100.0,
                sub["hi"] * 100.0,
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
        ax.axvline(-0.5, color="black", linewidth=0.6, linestyle=":")
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_title(panel["title"], fontsize=8)
        ax.set_xlabel("sessions relative to day 0", fontsize=FONT)
        ax.set_ylabel("signed CAAR from day -5, %", fontsize=FONT)
        ax.legend(
            fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False
        )


def heatmap(
    fig: Figure,
    values: pd.DataFrame,
    row_groups: list[str],
    col_labels: list[str],
    title: str,
    row_names: dict[str, str] | None = None,
) -> None:
    """Security x event matrix of abnormal returns (percent), signs coloured, ±10 % clip.

    ``col_labels`` are the events' day-0 dates (``YYYY-MM-DD``, columns in date
    order); ``row_names`` turns group codes into words for the row labels.
    """
    row_names = row_names or {}
    import numpy as np

    ax = fig.add_subplot(1, 1, 1)
    data = values.to_numpy(dtype=float) * 100.0
    im = ax.imshow(
        np.ma.masked_invalid(data),
        cmap="RdBu",
        vmin=-10,
        vmax=10,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_yticks(
        range(len(values.index)),
        [f"{s} · {row_names.get(g, g)}" for s, g in zip(values.index, row_groups, strict=False)],
        fontsize=6,
    )
    # Years as spans (columns are in date order, not evenly spaced in time): a thin line
    # where each year starts, its label centred on years with room for one.
    years = [str(c)[:4] for c in col_labels]
    starts = [k for k, y in enumerate(years) if k == 0 or y != years[k - 1]]
    ends = [*starts[1:], len(years)]
    for k in starts[1:]:
        ax.axvline(k - 0.5, color="#555555", linewidth=0.4)
    wide = [(a, b) for a, b in zip(starts, ends, strict=True) if b - a >= 3]
    ax.set_xticks([(a + b - 1) / 2 for a, b in wide], [years[a] for a, _ in wide], fontsize=FONT)
    ax.tick_params(axis="x", length=0)
    ax.set_xlabel(f"{len(col_labels)} events in order of day 0, by year", fontsize=FONT)
    for k in range(1, len(row_groups)):
        if row_groups[k] != row_groups[k - 1]:
            ax.axhline(k - 0.5, color="black", linewidth=0.8)
    ax.set_title(title, fontsize=8)
    ax.set_facecolor("#eeeeee")
    cb = fig.colorbar(im, ax=ax, shrink=0.6, pad=0.01)
    cb.set_label("AR, % (clipped at ±10)", fontsize=FONT)
    cb.ax.tick_params(labelsize=FONT)


def contributions(ax: Axes, frame: pd.DataFrame, title: str) -> None:
    """Each event's contribution to the mean spread (percentage points), limit days hatched."""
    import numpy as np

    f = frame.sort_values("contribution")
    y = np.arange(len(f))
    colours = ["#1e8449" if v >= 0 else "#c0392b" for v in f["contribution"]]
    bars = ax.barh(y, f["contribution"] * 100.0, color=colours, height=0.7)
    for bar, lim in zip(bars, f["limit_days"], strict=False):
        if lim > 0:
            bar.set_hatch("///")
            bar.set_edgecolor("black")
    ax.set_yticks(y, [str(e)[:38] for e in f["event_id"]], fontsize=6)
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("contribution to the mean spread, percentage points", fontsize=FONT)
    ax.set_title(title, fontsize=8)


def equity_curves(ax: Axes, curves: dict[str, pd.Series]) -> None:
    """Equity curves indexed by date, in percent gained since the start (0 = start)."""
    for name, s in curves.items():
        s = s.dropna()
        if len(s):
            ax.plot(s.index, (s / s.iloc[0] - 1.0) * 100.0, label=name, linewidth=1.0)
    ax.axhline(0, color="black", linewidth=0.6, label="cash (0 %)")
    ax.set_ylabel("cumulative return, %", fontsize=FONT)
    ax.legend(fontsize=6.5, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3)


def sweep(
    ax: Axes,
    frame: pd.DataFrame,
    x: str,
    xlabel: str,
) -> None:
    """Mean trade return per setting with its 95 % band and the trade count at each point."""
    f = frame.sort_values(x)
    xs = f[x].to_numpy()
    ax.plot(xs, f["mean_trade_return"] * 100.0, marker="o", markersize=3, color="#2874a6")
    if "lo" in f.columns:
        ax.fill_between(xs, f["lo"] * 100.0, f["hi"] * 100.0, color="#2874a6", alpha=0.15)
    for xv, yv, n in zip(xs, f["mean_trade_return"] * 100.0, f["n_trades"], strict=False):
        ax.annotate(
            f"{int(n)}",
            (xv, yv),
            textcoords="offset points",
            xytext=(0, 5),
            fontsize=6,
            ha="center",
            color="#555555",
        )
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(xs)
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel("mean trade return, %", fontsize=FONT)


def cross_market(ax: Axes, frame: pd.DataFrame) -> None:
    """Signed reaction at each market's day-0 open and close, hours after the news (UTC)."""
    for market, sub in frame.groupby("market", sort=True):
        sub = sub.sort_values("hours")
        colour = MARKET_COLOURS.get(str(market))
        xs = [0.0, *sub["hours"]]
        ys = [0.0, *(sub["mean"] * 100.0)]
        ax.plot(xs, ys, marker="o", markersize=3.5, color=colour, label=str(market))
        for h, m, se, pt in zip(sub["hours"], sub["mean"], sub["se"], sub["point"], strict=False):
            if se == se:
                ax.errorbar(h, m * 100.0, yerr=1.96 * se * 100.0, color=colour, capsize=2)
            ax.annotate(pt, (h, m * 100.0), textcoords="offset points", xytext=(3, -9), fontsize=6)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("hours after the news (UTC instants)", fontsize=FONT)
    ax.set_ylabel("signed abnormal return, %", fontsize=FONT)
    ax.legend(fontsize=6.5, frameon=False)


def minutes(ax: Axes, paths: pd.DataFrame, title: str) -> None:
    """Abnormal cumulative move against minutes since the knowable instant, per security."""
    for sec, sub in paths.groupby("security", sort=True):
        sub = sub.sort_values("minutes_since")
        ax.plot(sub["minutes_since"], sub["abnormal_cum"] * 100.0, linewidth=1.0, label=str(sec))
    ax.axvline(0, color="black", linewidth=0.6)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("minutes since the news was knowable", fontsize=FONT)
    ax.set_ylabel("abnormal cumulative move, %", fontsize=FONT)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, frameon=False, ncol=2)


def spec_grid(fig: Figure, table: pd.DataFrame) -> None:
    """Heatmap of a statistic over a specification grid (rows x columns), annotated."""
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(table.to_numpy(dtype=float), cmap="RdBu_r", vmin=-4, vmax=4, aspect="auto")
    ax.set_xticks(
        range(table.shape[1]), [str(c) for c in table.columns], fontsize=7, rotation=40, ha="right"
    )
    ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index], fontsize=7)
    _cell_labels(ax, table.to_numpy(dtype=float), 6.5)
    cb = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.01)
    cb.set_label("test statistic", fontsize=FONT)
    cb.ax.tick_params(labelsize=FONT)


def _cell_labels(ax: Axes, values: np.ndarray, size: float) -> None:
    """Each finite cell's value (one decimal) centred on it, white on dark cells.

    Drawn as one collection of glyph outlines, each distinct label laid out once: a
    grid has hundreds of cells but few distinct labels, and one ``ax.text`` per cell
    costs a font layout and a glyph rendering each (about a second for 300 cells).
    """
    import numpy as np
    from matplotlib.collections import PathCollection
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    prop = FontProperties(size=size)
    shapes: dict[str, Any] = {}
    paths, offsets, colours = [], [], []
    for i, j in zip(*np.nonzero(np.isfinite(values)), strict=True):
        v = float(values[i, j])
        text = f"{v:.1f}"
        if text not in shapes:
            path = TextPath((0.0, 0.0), text, prop=prop)
            # Centred on the box of its outline points (exact curve extents cost more).
            pts = path.vertices[path.codes != Path.CLOSEPOLY]
            mid = (pts.min(axis=0) + pts.max(axis=0)) / 2.0
            shapes[text] = path.transformed(Affine2D().translate(-mid[0], -mid[1]))
        paths.append(shapes[text])
        offsets.append((j, i))
        colours.append("white" if abs(v) > 2.5 else "black")
    if not paths:
        return
    # Outlines are in points; points -> inches -> pixels at the dpi the figure is drawn at.
    ax.add_collection(
        PathCollection(
            paths,
            offsets=offsets,
            offset_transform=ax.transData,
            transform=Affine2D().scale(1.0 / 72.0) + ax.figure.dpi_scale_trans,
            facecolors=colours,
            edgecolors="none",
        ),
        autolim=False,
    )
