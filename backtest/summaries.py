"""Aggregates drawn in the report: CAAR paths and pooled CARs by group.

Pure numerics on the tidy study frames (no I/O, no plotting).  Standard
errors follow the clustering problem of DESIGN section 4: a path of one event
(all securities share the date) uses the cross-sectional standard error of
that event's securities, and pooled results treat the *event* as the unit
(the mean over events of each event's group-mean CAR, with the standard
error across events), so securities reacting on the same date never count as
independent evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

SPREAD = "spread"  # cn_substitute minus us_incumbent


def caar_paths(ar: pd.DataFrame, *, start: int = -5, end: int = 10) -> pd.DataFrame:
    """Cumulative average AR path per (event_id, group) over relative days.

    ``ar`` has event_id, security, group, rel_day, ar.  Returns event_id,
    group, rel_day, caar, se, n where se is the cross-sectional standard
    error of the securities' CARs cumulated from ``start``.
    """
    import numpy as np
    import pandas as pd

    cols = ["event_id", "group", "rel_day", "caar", "se", "n"]
    if ar.empty:
        return pd.DataFrame(columns=cols)
    sub = ar[(ar["rel_day"] >= start) & (ar["rel_day"] <= end)].copy()
    sub = sub.sort_values(["event_id", "security", "rel_day"])
    sub["car"] = sub.groupby(["event_id", "security"])["ar"].cumsum()
    g = sub.groupby(["event_id", "group", "rel_day"])["car"]
    out = g.agg(caar="mean", sd="std", n="count").reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"].where(out["n"] > 1))
    return out[cols]


def pooled_car(car: pd.DataFrame, events: pd.DataFrame, *, by: str = "direction") -> pd.DataFrame:
    """Mean CAR by (``by``, group, window) with the event as the unit of inference.

    ``car`` has event_id, security, group, window, car; ``events`` maps
    event_id to the ``by`` column (direction or event_type).  Each event
    contributes its group-mean CAR once; the standard error is the standard
    deviation across events over sqrt(number of events), and the p-value
    is two-sided from t(number of events - 1).  The spread row is
    the per-event difference cn_substitute minus us_incumbent.
    """
    import numpy as np
    import pandas as pd
    from scipy.stats import t as student_t

    cols = [by, "group", "window", "mean_car", "se", "t", "pvalue", "n_events", "n_instances"]
    if car.empty:
        return pd.DataFrame(columns=cols)
    merged = car.merge(events[["event_id", by]], on="event_id", how="left")
    per_event = (merged.groupby([by, "group", "window", "event_id"])["car"]
                 .agg(["mean", "count"]).reset_index())
    wide = per_event.pivot_table(index=[by, "window", "event_id"], columns="group",
                                 values="mean")
    if {"cn_substitute", "us_incumbent"} <= set(wide.columns):
        spread = (wide["cn_substitute"] - wide["us_incumbent"]).dropna().rename("mean")
        spread = spread.reset_index().assign(group=SPREAD, count=2)
        per_event = pd.concat([per_event, spread], ignore_index=True)
    agg = per_event.groupby([by, "group", "window"]).agg(
        mean_car=("mean", "mean"), sd=("mean", "std"), n_events=("mean", "count"),
        n_instances=("count", "sum")).reset_index()
    agg["se"] = agg["sd"] / np.sqrt(agg["n_events"].where(agg["n_events"] > 1))
    agg["t"] = agg["mean_car"] / agg["se"]
    dof = (agg["n_events"] - 1).clip(lower=1)
    agg["pvalue"] = 2.0 * student_t.sf(np.abs(agg["t"].to_numpy(dtype=float)), dof)
    return agg[cols]
