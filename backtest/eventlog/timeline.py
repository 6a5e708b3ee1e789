"""The catalog's timeline as data: one row per event at its announcement date.

The figure lives in :mod:`backtest.report.timeline` (the event log draws
nothing); :func:`plot_timeline` is kept here as a name for existing callers and
imports the report's on call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backtest.eventlog.catalog import Catalog, announced_date

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def timeline_rows(catalog: Catalog) -> pd.DataFrame:
    """event_id, authority, type and announcement date of every event, by date."""
    import pandas as pd

    rows = [
        {
            "event_id": e.id,
            "authority": e.authority,
            "type": e.type,
            "announced_date": pd.Timestamp(announced_date(e)),
        }
        for e in catalog.events
    ]
    frame = pd.DataFrame(rows, columns=["event_id", "authority", "type", "announced_date"])
    return frame.sort_values(["announced_date", "event_id"], ignore_index=True)


def plot_timeline(catalog: Catalog, ax: Axes | None = None) -> Figure:
    """The timeline figure (:func:`backtest.report.timeline.plot_timeline`)."""
    from backtest.report.timeline import plot_timeline as draw

    return draw(catalog, ax)
