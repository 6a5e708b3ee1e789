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


POOLED_COLUMNS = (
    "sign",
    "group",
    "window",
    "mean_car",
    "se",
    "t",
    "pvalue",
    "n_events",
    "n_clusters",
    "n_instances",
)


def _pool_frame(car: pd.DataFrame, instances: pd.DataFrame, by: str) -> pd.DataFrame:
    """CARs with the pooling columns: ``by``, sign, pool flag and calendar cluster."""
    import numpy as np
    import pandas as pd

    if "security" in instances.columns:
        cols = [
            c
            for c in ("event_id", "security", by, "expected_sign", "pool", "cluster", "day0")
            if c in instances.columns
        ]
        info = instances[cols].drop_duplicates(["event_id", "security"])
        df = car.merge(info, on=["event_id", "security"], how="left", suffixes=("", "_inst"))
    else:  # per-event table (older callers): the event is the cluster, signs unknown
        df = car.merge(
            instances[["event_id", by]].drop_duplicates("event_id"), on="event_id", how="left"
        )
    if "cluster" not in df:
        df["cluster"] = df["day0"].astype(str) if "day0" in df else df["event_id"]
    sign = (
        pd.to_numeric(df["expected_sign"], errors="coerce")
        if "expected_sign" in df
        else pd.Series(np.nan, index=df.index)
    )
    df["sign_value"] = sign
    df["pool"] = df["pool"].fillna(True).astype(bool) if "pool" in df else True
    return df[df["pool"] & df[by].notna() & (df[by].astype(str) != "")]


def _across_clusters(g: pd.DataFrame) -> dict[str, float]:
    """Mean of per-cluster mean CARs, its standard error and t(n_clusters - 1) p-value."""
    import numpy as np
    from scipy.stats import t as student_t

    per = g.groupby("cluster")["car"].mean().dropna()
    n = len(per)
    mean = float(per.mean()) if n else np.nan
    se = float(per.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    t = mean / se if se and se == se and se > 0 else np.nan
    p = float(2.0 * student_t.sf(abs(t), n - 1)) if t == t else np.nan
    return {
        "mean_car": mean,
        "se": se,
        "t": t,
        "pvalue": p,
        "n_events": int(g.loc[g["car"].notna(), "event_id"].nunique()),
        "n_clusters": n,
        "n_instances": int(g["car"].notna().sum()),
    }


def pooled_car(
    car: pd.DataFrame,
    instances: pd.DataFrame,
    *,
    by: str = "direction",
    spread: tuple[str, str] = ("cn_substitute", "us_incumbent"),
) -> pd.DataFrame:
    """Mean CAR by (``by``, expected sign, group, window), the calendar cluster as the unit.

    ``car`` has event_id, security, group, window, car.  ``instances`` holds, per
    (event_id, security), the ``by`` column, ``expected_sign``, ``pool`` (the overlap
    and pooling policies' decision) and ``cluster`` (market and day-0 date): the
    instances a study used (``StudyResult.instances``).  Only pooled instances
    count.  Each calendar cluster contributes the mean CAR of its members once,
    so two events on one day are one observation and a security-day merged by
    the overlap policy enters once; the standard error is the standard deviation
    across clusters over sqrt(number of clusters), and the p-value is two-sided
    from t(clusters - 1).

    Rows: ``sign`` -1 / +1 (names the log expects to fall / to gain; sign-0 names
    enter no row), ``signed`` (CAR times expected sign, per group and across all
    groups ``*``: did prices move the way the log expects?), and ``spread`` (per
    event, the mean CAR of the first group's expected gainers, i.e. members whose
    sign is opposite to the second group's, minus the second group's mean; the
    event is the unit).  Without expected signs (a per-event table) rows have sign
    ``all`` and the event is the cluster.
    """
    import numpy as np
    import pandas as pd

    cols = [by, *POOLED_COLUMNS]
    if car.empty:
        return pd.DataFrame(columns=cols)
    df = _pool_frame(car, instances, by)
    rows = []
    signed_study = df["sign_value"].isin([-1.0, 1.0]).any()
    if not signed_study:
        for (k, g, w), part in df.groupby([by, "group", "window"]):
            rows.append({by: k, "sign": "all", "group": g, "window": w, **_across_clusters(part)})
        rows += _spread_rows(df, by, spread)
    else:
        sg = df[df["sign_value"].isin([-1.0, 1.0])]
        for (k, v, g, w), part in sg.groupby([by, "sign_value", "group", "window"]):
            rows.append(
                {by: k, "sign": f"{int(v):+d}", "group": g, "window": w, **_across_clusters(part)}
            )
        signed = sg.assign(car=sg["car"] * sg["sign_value"])
        for (k, w), part in signed.groupby([by, "window"]):
            for g, sub in [*part.groupby("group"), ("*", part)]:
                rows.append(
                    {by: k, "sign": "signed", "group": g, "window": w, **_across_clusters(sub)}
                )
        rows += _spread_rows(sg, by, spread)
    out = pd.DataFrame(rows, columns=cols)
    return out.replace({np.inf: np.nan})


def _spread_rows(df: pd.DataFrame, by: str, spread: tuple[str, str]) -> list[dict]:
    """Per event: gainers of ``spread[0]`` minus ``spread[1]``; the event is the unit."""
    import numpy as np
    import pandas as pd

    a, b = spread
    rows = []
    for (k, w), part in df.groupby([by, "window"]):
        diffs = []
        events = []
        for ev, e in part.groupby("event_id"):
            inc = e[e["group"] == b]
            if inc.empty:
                continue
            if inc["sign_value"].isna().all() and e["sign_value"].isna().all():
                gain = e[e["group"] == a]  # no expected signs: the whole groups
            else:
                inc_sign = np.sign(inc["sign_value"].mean())
                gain = (
                    e[(e["group"] == a) & (e["sign_value"] == -inc_sign)]
                    if inc_sign
                    else e[(e["group"] == a) & (e["sign_value"] > 0)]
                )
                inc = inc[inc["sign_value"] == inc_sign] if inc_sign else inc
            if gain.empty:
                continue
            diffs.append(gain["car"].mean() - inc["car"].mean())
            events.append(ev)
        frame = pd.DataFrame({"cluster": events, "car": diffs, "event_id": events})
        if len(frame):
            rows.append(
                {by: k, "sign": "spread", "group": SPREAD, "window": w, **_across_clusters(frame)}
            )
    return rows
