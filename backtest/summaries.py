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

from typing import TYPE_CHECKING, Any

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


def _spread_rows(df: pd.DataFrame, by: str, spread: tuple[str, str]) -> list[dict[str, Any]]:
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


SPREAD_EVENT_COLUMNS = (
    "direction",
    "window",
    "event_id",
    "spread",
    "n_gainers",
    "n_incumbents",
    "contribution",
    "limit_days",
)


def spread_events(
    car: pd.DataFrame,
    instances: pd.DataFrame,
    ar: pd.DataFrame | None = None,
    limit_hits: pd.DataFrame | None = None,
    *,
    by: str = "direction",
    spread: tuple[str, str] = ("cn_substitute", "us_incumbent"),
) -> pd.DataFrame:
    """Each event's substitution spread, its contribution to the mean, and limit days.

    The spread of an event is the one :func:`pooled_car` averages (``spread[0]``'s
    expected gainers minus ``spread[1]``'s names of its own expected sign; pooled
    instances only).  ``contribution`` is spread / number of events in the row's
    (direction, window), so the contributions sum to the pooled mean.
    ``limit_days`` counts (security, session) pairs of the event's members inside
    the window that hit a daily price limit (``limit_hits``: symbol, date; e.g.
    the data checks' ``limit_hit`` findings), read from the AR table's dates.
    """
    import numpy as np
    import pandas as pd

    cols = list(SPREAD_EVENT_COLUMNS)
    if car.empty:
        return pd.DataFrame(columns=cols)
    df = _pool_frame(car, instances, by)
    df = df[df["sign_value"].isin([-1.0, 1.0])] if df["sign_value"].notna().any() else df
    hits: set[tuple[str, pd.Timestamp]] = set()
    if limit_hits is not None and len(limit_hits):
        hits = {
            (str(s), pd.Timestamp(d))
            for s, d in zip(limit_hits["symbol"], limit_hits["date"], strict=False)
        }
    a, b = spread
    rows = []
    for (k, w), part in df.groupby([by, "window"]):
        lo, hi = (int(x) for x in str(w).strip("[]").split(","))
        for ev, e in part.groupby("event_id"):
            inc = e[e["group"] == b]
            if inc.empty:
                continue
            inc_sign = np.sign(inc["sign_value"].mean()) if inc["sign_value"].notna().any() else 0
            gain = (
                e[(e["group"] == a) & (e["sign_value"] == -inc_sign)]
                if inc_sign
                else e[(e["group"] == a) & ~(e["sign_value"] < 0)]
            )
            inc = inc[inc["sign_value"] == inc_sign] if inc_sign else inc
            if gain.empty:
                continue
            members = set(gain["security"]) | set(inc["security"])
            n_limit = 0
            if hits and ar is not None:
                days = ar[
                    (ar["event_id"] == ev)
                    & ar["security"].isin(members)
                    & ar["rel_day"].between(lo, hi)
                ]
                n_limit = sum(
                    (str(s), pd.Timestamp(d)) in hits
                    for s, d in zip(days["security"], days["date"], strict=False)
                )
            rows.append(
                {
                    by: k,
                    "window": w,
                    "event_id": ev,
                    "spread": float(gain["car"].mean() - inc["car"].mean()),
                    "n_gainers": len(gain),
                    "n_incumbents": len(inc),
                    "limit_days": int(n_limit),
                }
            )
    out = pd.DataFrame(rows, columns=[c for c in cols if c != "contribution"])
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["contribution"] = out["spread"] / out.groupby([by, "window"])["spread"].transform("size")
    return out[cols]


def robust_centre(values: pd.Series, trim: float = 0.1) -> dict[str, float]:
    """Mean, median and ``trim``-trimmed mean (proportion cut from each end) of values."""
    from scipy.stats import trim_mean

    v = values.dropna().to_numpy(dtype=float)
    if not len(v):
        nan = float("nan")
        return {"mean": nan, "median": nan, "trimmed_mean": nan, "n": 0}
    return {
        "mean": float(v.mean()),
        "median": float(_median(v)),
        "trimmed_mean": float(trim_mean(v, trim)),
        "n": len(v),
    }


def _median(v: object) -> float:
    import numpy as np

    return float(np.median(np.asarray(v, dtype=float)))
