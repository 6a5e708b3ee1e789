"""Figures of a study result, drawn on a fresh ``matplotlib.figure.Figure``.

No pyplot and no ``matplotlib.use``: the caller's backend is never touched, and
nothing is shown; a notebook displays the returned Figure, a script saves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtest.errors import SpecError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from backtest.study.results import StudyResult


def _figure(width: float = 7.5, height: float = 3.4) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.15, top=0.9)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.axhline(0, color="black", linewidth=0.4)
    ax.set_xlabel("sessions relative to day 0 (own exchange)")
    ax.set_ylabel("CAAR, %")
    return fig, ax


def _parse(pool: str) -> tuple[str, str, str]:
    level, _, rest = pool.partition(" ")
    event, sep, group = rest.rpartition(" / ")
    if not sep or not event:
        raise SpecError(
            "not a pool label",
            field="pool",
            value=pool,
            expected="'<level> <event> / <group>' as in result.pvalues, "
            "e.g. 'pooled direction=tightening,signed / *'",
        )
    return level, event, group


def _column(inst: pd.DataFrame, name: str) -> np.ndarray:
    if name not in inst:
        return np.full(len(inst), "", dtype=object)
    values: np.ndarray = inst[name].fillna("").astype(str).to_numpy(dtype=object)
    return values


def pool_members(result: StudyResult, pool: str) -> tuple[np.ndarray, np.ndarray]:
    """Which instances (rows of ``result.instances``) a pool holds, and the sign applied.

    Mirrors the engine's pools (:func:`backtest.study.engine.subsets`): an event x
    group at level ``event``; at level ``pooled`` the signed pools (AR times the
    expected sign), the pools of one expected sign by type or direction, and the
    unsigned pools of a study without signs.
    """
    from backtest.study.engine import event_key

    inst = result.instances
    if inst is None or inst.empty:
        raise SpecError("the study has no instances to draw", field="pool", value=pool)
    level, event, group = _parse(pool)
    grp = _column(inst, "group")
    in_group = np.ones(len(inst), bool) if group == "*" else grp == group
    sign = pd.to_numeric(inst.get("expected_sign"), errors="coerce")
    sign_v = sign.to_numpy(dtype=float) if sign is not None else np.full(len(inst), np.nan)
    ones = np.ones(len(inst))
    if level == "event":
        labels = inst.assign(stage=_column(inst, "stage"))
        return (event_key(labels) == event) & in_group, ones
    if level != "pooled":
        raise SpecError(
            "only event and pooled sets have a CAAR path",
            field="pool",
            value=pool,
            expected="a label of result.pvalues at level 'event' or 'pooled'",
        )
    pooled = inst["pool"].to_numpy(dtype=bool) if "pool" in inst else np.ones(len(inst), bool)
    direction, etype = _column(inst, "direction"), _column(inst, "event_type")
    etype = np.where(etype == "", "*", etype)
    head, signed_tag, _ = event.partition(",signed")
    if signed_tag:
        has = np.isin(sign_v, (-1.0, 1.0))
        d = head.removeprefix("direction=")
        return pooled & has & (direction == d) & in_group, np.where(has, sign_v, 1.0)
    head, sign_tag, s = event.partition(",sign=")
    rows = pooled & in_group
    if sign_tag:
        rows &= sign_v == float(s)
    if head.startswith("direction="):
        rows &= direction == head.removeprefix("direction=")
    else:
        rows &= etype == head
    return rows, ones


def _paths(result: StudyResult, rows: np.ndarray, sign: np.ndarray) -> pd.DataFrame:
    """Per instance: the cumulated (signed) AR at each relative day of the event span."""
    assert result.instances is not None
    keys = result.instances.loc[rows, ["event_id", "security", "group"]].assign(
        _sign=sign[rows],
        _cluster=result.instances.loc[rows, "cluster"].to_numpy()
        if "cluster" in result.instances
        else 0,
    )
    a, b = result.spec.event_span
    ar = result.ar[(result.ar["rel_day"] >= a) & (result.ar["rel_day"] <= b)]
    ar = ar.merge(keys, on=["event_id", "security", "group"], how="inner")
    ar = ar.sort_values(["event_id", "security", "rel_day"], kind="stable")
    ar["car"] = (ar["ar"] * ar["_sign"]).groupby([ar["event_id"], ar["security"]]).cumsum()
    return ar


def plot_caar(result: StudyResult, pool: str | None = None, *, band: float = 0.95) -> Figure:
    """The CAAR path of ``pool`` with a ``band`` interval (see StudyResult.plot_caar).

    The interval is across calendar clusters (the mean of each cluster's members,
    its standard error across clusters) when the pool spans several dates; with one
    date it is the cross-sectional interval, which assumes independent securities,
    and the legend says so.
    """
    from scipy.stats import norm

    if pool is None:
        shown = result.summary().table
        if shown.empty:
            raise SpecError("the study has no tested pool to draw", field="pool")
        pool = str(shown["pool"].iloc[0])
    rows, sign = pool_members(result, pool)
    if not rows.any():
        raise SpecError(
            "no instance in this pool",
            field="pool",
            value=pool,
            expected="a label of result.pvalues, e.g. " + repr(result.pvalues.index[0][0])
            if len(result.pvalues)
            else "a pool of the study",
        )
    paths = _paths(result, rows, sign)
    z = float(norm.ppf(0.5 + band / 2.0))
    by_day = paths.groupby("rel_day")
    caar = by_day["car"].mean()
    clusters = paths.groupby(["rel_day", "_cluster"])["car"].mean().groupby("rel_day")
    k = int(paths["_cluster"].nunique())
    if k > 1:
        se = clusters.std(ddof=1) / np.sqrt(clusters.count())
        what = f"{band:.0%} interval across {k} calendar clusters"
    else:
        se = by_day["car"].std(ddof=1) / np.sqrt(by_day["car"].count())
        what = f"{band:.0%} cross-sectional interval (one date: assumes independent securities)"
    fig, ax = _figure()
    x = caar.index.to_numpy()
    n = int(paths[["event_id", "security"]].drop_duplicates().shape[0])
    ax.plot(x, caar.to_numpy() * 100.0, linewidth=1.6, label=f"CAAR (n={n})")
    lo, hi = (caar - z * se) * 100.0, (caar + z * se) * 100.0
    ax.fill_between(x, lo.to_numpy(), hi.to_numpy(), alpha=0.2, linewidth=0, label=what)
    ax.set_title(pool, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_paths(result: StudyResult, event_id: str | None = None) -> Figure:
    """CAAR paths by group: one event's (``event_id``) or every event's, faint, with
    the mean path across events in bold."""
    from backtest.summaries import caar_paths

    a, b = result.spec.event_span
    ar = result.ar
    if event_id is not None:
        if event_id not in set(ar["event_id"]):
            raise SpecError(
                "no abnormal returns for this event",
                field="event_id",
                value=event_id,
                expected="an event_id of result.ar",
            )
        ar = ar[ar["event_id"] == event_id]
    paths = caar_paths(ar, start=a, end=b)
    fig, ax = _figure()
    for i, (group, sub) in enumerate(paths.groupby("group", sort=True)):
        colour = f"C{i % 10}"
        for _, one in sub.groupby("event_id"):
            one = one.sort_values("rel_day")
            ax.plot(one["rel_day"], one["caar"] * 100.0, color=colour, alpha=0.25, linewidth=0.7)
        mean = sub.groupby("rel_day")["caar"].mean()
        label = f"{group} ({sub['event_id'].nunique()} event(s))"
        ax.plot(mean.index, mean.to_numpy() * 100.0, color=colour, linewidth=1.8, label=label)
    ax.set_title(event_id or "CAAR paths by group (bold: mean across events)", fontsize=9)
    if len(paths):
        ax.legend(fontsize=7, loc="best")
    return fig
