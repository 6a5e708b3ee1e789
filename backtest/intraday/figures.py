"""Figures of the intraday study, built as matplotlib ``Figure`` objects (no pyplot, no
backend switch): the caller saves or embeds them.

``minutes_figure(paths)``  abnormal cumulative move (%) of each security against minutes
                           since the knowable instant (one event's ``intraday_paths`` rows).
``utc_timeline(paths, ...)`` one event on a UTC axis: each security's raw cumulative move,
                           the US pre-market and after-hours shaded, the Shanghai and Hong
                           Kong sessions as bands, optional quote snapshots (e.g. the Hang
                           Seng ETF) on a second axis, and the knowable instant marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_SHADE = {"pre": "#dbe9f6", "post": "#f6e3d4"}
_ASIA = (("XSHG", "#e6f2e6"), ("XHKG", "#f2ece6"))


def minutes_figure(paths: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Abnormal cumulative move against minutes since the knowable instant, per security."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot()
    for sec, g in paths.groupby("security", sort=True):
        ax.step(
            g["minutes_since"].to_numpy(dtype=float),
            100 * g["abnormal_cum"].to_numpy(dtype=float),
            where="post",
            label=str(sec),
            lw=1.2,
        )
    ax.axvline(0.0, color="black", lw=0.8, ls="--")
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_xlabel("minutes since the knowable instant (bar end)")
    ax.set_ylabel("abnormal cumulative move (%)")
    event = str(paths["event_id"].iloc[0]) if len(paths) else ""
    ax.set_title(title or f"Minutes after the news: {event}", fontsize=9)
    if len(paths):
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def utc_timeline(
    paths: pd.DataFrame,
    *,
    knowable_utc: dt.datetime | None = None,
    snapshots: pd.Series | None = None,
    snapshot_label: str = "159920.SZ (Hang Seng ETF)",
    asia_calendars: Sequence[tuple[str, str]] = _ASIA,
    title: str | None = None,
) -> Figure:
    """One event on a UTC axis (see the module docstring)."""
    import pandas as pd
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.8))
    ax = fig.add_subplot()
    lo = hi = None
    for sec, g in paths.groupby("security", sort=True):
        t = pd.DatetimeIndex(g["bar_utc"]).tz_convert("UTC").tz_localize(None)
        ax.plot(t, 100 * g["raw_cum"].to_numpy(dtype=float), lw=1.0, label=str(sec))
        lo = t.min() if lo is None else min(lo, t.min())
        hi = t.max() if hi is None else max(hi, t.max())
        for part, colour in _SHADE.items():
            sel = (g["session"] == part).to_numpy()
            for a, b in _runs(t, sel):
                ax.axvspan(a, b, color=colour, lw=0, zorder=0)
    if lo is not None and hi is not None:
        _asia_bands(ax, lo, hi, asia_calendars)
    if knowable_utc is not None:
        k = pd.Timestamp(knowable_utc).tz_convert("UTC").tz_localize(None)
        ax.axvline(k, color="black", ls="--", lw=0.8, label="knowable")
    if snapshots is not None and len(snapshots):
        ax2 = ax.twinx()
        s = snapshots.copy()
        s.index = pd.DatetimeIndex(s.index).tz_convert("UTC").tz_localize(None)
        ax2.plot(s.index, s.to_numpy(dtype=float), color="purple", lw=0.7, label=snapshot_label)
        ax2.set_ylabel(snapshot_label, fontsize=7)
    ax.set_xlabel("UTC")
    ax.set_ylabel("move since the previous US close (%)")
    event = str(paths["event_id"].iloc[0]) if len(paths) else ""
    ax.set_title(
        title or f"UTC timeline: {event} (shaded: US pre/after hours; bands: Asia)", fontsize=9
    )
    ax.legend(fontsize=7, loc="best")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _runs(t: pd.DatetimeIndex, sel: np.ndarray) -> list[tuple[Any, Any]]:
    """(first, last) instants of each run of consecutive selected bars."""
    out: list[tuple[Any, Any]] = []
    idx = np.flatnonzero(sel)
    if not len(idx):
        return out
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    for a, b in zip(starts, ends, strict=True):
        out.append((t[a], t[b]))
    return out


def _asia_bands(ax: Axes, lo: object, hi: object, calendars: Sequence[tuple[str, str]]) -> None:
    """Shade the Asian sessions between ``lo`` and ``hi`` (naive UTC) on ``ax``."""
    import pandas as pd

    from backtest.market.calendars import session_bounds

    for cal, colour in calendars:
        b = session_bounds(cal)
        o = b["open"].dt.tz_convert("UTC").dt.tz_localize(None)
        c = b["close"].dt.tz_convert("UTC").dt.tz_localize(None)
        inside = (c >= pd.Timestamp(lo)) & (o <= pd.Timestamp(hi))
        for a, z in zip(o[inside], c[inside], strict=True):
            ax.axvspan(a, z, ymin=0.0, ymax=0.06, color=colour, lw=0)
            ax.text(a, 0.01, cal, transform=ax.get_xaxis_transform(), fontsize=6)
