"""The catalog timeline figure: authorities as rows, event types as markers.

Built on a :class:`matplotlib.figure.Figure` (no pyplot state, never shown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backtest.eventlog.catalog import Catalog, announced_date
from backtest.eventlog.models import EVENT_TYPES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MARKERS = ("v", "o", "^", "P", "X", "s", "D", "*", "h")
COLOURS = (
    "#d62728",
    "#ff7f0e",
    "#2ca02c",
    "#17becf",
    "#9467bd",
    "#8c564b",
    "#1f77b4",
    "#e377c2",
    "#7f7f7f",
)


def plot_timeline(catalog: Catalog, ax: Axes | None = None) -> Figure:
    """Draw each event at its announcement date on its authority's row.

    Draws on ``ax`` if given (and returns its figure), else on a new figure.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    authorities = sorted({e.authority for e in catalog.events})
    if ax is None:
        fig = Figure(figsize=(11, max(3.0, 0.45 * len(authorities) + 1.8)))
        ax = fig.add_subplot()
    else:
        fig = ax.get_figure()  # type: ignore[assignment]  # an Axes' figure is a Figure here
    rows = {a: i for i, a in enumerate(authorities)}
    for k, etype in enumerate(EVENT_TYPES):
        evs = [e for e in catalog.events if e.type == etype]
        if not evs:
            continue
        ax.scatter(
            pd.DatetimeIndex([announced_date(e) for e in evs]),
            [rows[e.authority] for e in evs],
            marker=MARKERS[k % len(MARKERS)],
            color=COLOURS[k % len(COLOURS)],
            s=46,
            label=etype.replace("_", " "),
            zorder=3,
            edgecolors="black",
            linewidths=0.4,
        )
    ax.set_yticks(list(rows.values()), list(rows.keys()))
    ax.set_ylim(max(len(rows) - 0.3, 0.7), -0.7)
    ax.grid(axis="x", linestyle=":", linewidth=0.6)
    ax.set_xlabel("announcement date (authority's local date)")
    ax.set_title(f"Export-control event log {catalog.version}: {len(catalog)} events")
    if catalog.events:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
