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


def cluster_mean(values: Any, clusters: Any) -> tuple[float, float, int, int]:
    """Mean over clusters of each cluster's mean, its standard error, instances, clusters.

    The calendar cluster is the unit (DESIGN section 4): values that are NaN are left
    out; a missing cluster label counts as an instance but joins no cluster (as in a
    pandas groupby).
    """
    import numpy as np
    import pandas as pd

    v = np.asarray(values, dtype=float)
    ok = ~np.isnan(v)
    codes, uniq = pd.factorize(np.asarray(clusters, dtype=object)[ok])
    keep = codes >= 0
    n = len(uniq)
    if not n:
        return float("nan"), float("nan"), int(ok.sum()), 0
    per = np.bincount(codes[keep], weights=v[ok][keep], minlength=n) / np.bincount(
        codes[keep], minlength=n
    )
    se = float(per.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return float(per.mean()), se, int(ok.sum()), n


def t_interval(mean: float, se: float, n: int) -> tuple[float, float]:
    """The 95 % interval ``mean +/- t(n - 1, 0.975) * se``; NaNs without two clusters."""
    from scipy.special import stdtrit  # t quantile, as scipy.stats.t.ppf computes it

    if not (n > 1 and se == se):
        return float("nan"), float("nan")
    q = float(stdtrit(n - 1, 0.975))
    return mean - q * se, mean + q * se


def _across_clusters(g: pd.DataFrame) -> dict[str, float]:
    """Mean of per-cluster mean CARs, its standard error and t(n_clusters - 1) p-value."""
    import numpy as np
    import pandas as pd
    from scipy.special import stdtr  # t distribution, as scipy.stats.t.sf computes it

    car = g["car"].to_numpy(dtype=float)
    mean, se, n_ok, n = cluster_mean(car, g["cluster"].to_numpy(dtype=object))
    t = mean / se if se and se == se and se > 0 else np.nan
    p = float(2.0 * stdtr(n - 1, -abs(t))) if t == t else np.nan
    ok = ~np.isnan(car)
    return {
        "mean_car": mean,
        "se": se,
        "t": t,
        "pvalue": p,
        "n_events": int(pd.unique(g["event_id"].to_numpy(dtype=object)[ok]).size),
        "n_clusters": n,
        "n_instances": n_ok,
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


def _segments(df: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """``df`` sorted by ``keys`` and the [start, stop) row ranges of each key combination
    (the order a sorted groupby visits them)."""
    import numpy as np

    d = df.sort_values(keys, kind="stable").reset_index(drop=True)
    if d.empty:
        return d, []
    change = np.zeros(len(d), dtype=bool)
    change[0] = True
    for k in keys:
        v = d[k].to_numpy(dtype=object)
        change[1:] |= v[1:] != v[:-1]
    starts = np.flatnonzero(change)
    stops = [*starts[1:], len(d)]
    return d, [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _mean(v: Any) -> float:
    """Mean of the non-NaN values (NaN when there are none), as pandas' ``mean``."""
    import numpy as np

    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else float("nan")


def _spread_rows(df: pd.DataFrame, by: str, spread: tuple[str, str]) -> list[dict[str, Any]]:
    """Per event: gainers of ``spread[0]`` minus ``spread[1]``; the event is the unit."""
    import numpy as np
    import pandas as pd

    a, b = spread
    d, segs = _segments(df, [by, "window", "event_id"])
    grp = d["group"].to_numpy(dtype=object)
    sv = d["sign_value"].to_numpy(dtype=float)
    car = d["car"].to_numpy(dtype=float)
    ev_ids = d["event_id"].to_numpy(dtype=object)
    kk, ww = d[by].to_numpy(dtype=object), d["window"].to_numpy(dtype=object)
    found: dict[tuple[Any, Any], tuple[list[Any], list[float]]] = {}
    for lo, hi in segs:
        g, s, c = grp[lo:hi], sv[lo:hi], car[lo:hi]
        is_inc, is_a = g == b, g == a
        if not is_inc.any():
            continue
        if np.isnan(s[is_inc]).all() and np.isnan(s).all():
            gain, inc = is_a, is_inc  # no expected signs: the whole groups
        else:
            inc_sign = np.sign(_mean(s[is_inc]))
            if inc_sign:
                gain, inc = is_a & (s == -inc_sign), is_inc & (s == inc_sign)
            else:
                gain, inc = is_a & (s > 0), is_inc
        if not gain.any():
            continue
        events, diffs = found.setdefault((kk[lo], ww[lo]), ([], []))
        events.append(ev_ids[lo])
        diffs.append(_mean(c[gain]) - _mean(c[inc]))
    rows = []
    for (k, w), (events, diffs) in found.items():
        frame = pd.DataFrame({"cluster": events, "car": diffs, "event_id": events})
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
    d, segs = _segments(df, [by, "window", "event_id"])
    grp = d["group"].to_numpy(dtype=object)
    sv = d["sign_value"].to_numpy(dtype=float)
    car = d["car"].to_numpy(dtype=float)
    secs = d["security"].to_numpy(dtype=object)
    ev_ids = d["event_id"].to_numpy(dtype=object)
    kk, ww = d[by].to_numpy(dtype=object), d["window"].to_numpy(dtype=object)
    # The AR rows on limit-hit sessions, once: (event_id, security) -> their rel_days.
    limit_days: dict[tuple[Any, Any], list[int]] = {}
    if hits and ar is not None:
        on_hit = [
            (str(x), pd.Timestamp(y)) in hits
            for x, y in zip(ar["security"], ar["date"], strict=False)
        ]
        for e_, s_, r_ in ar.loc[on_hit, ["event_id", "security", "rel_day"]].itertuples(
            index=False
        ):
            limit_days.setdefault((e_, s_), []).append(int(r_))
    rows = []
    for lo_, hi_ in segs:
        g, s, c = grp[lo_:hi_], sv[lo_:hi_], car[lo_:hi_]
        w = ww[lo_]
        lo, hi = (int(x) for x in str(w).strip("[]").split(","))
        is_inc, is_a = g == b, g == a
        if not is_inc.any():
            continue
        inc_sign = np.sign(_mean(s[is_inc])) if (~np.isnan(s[is_inc])).any() else 0
        if inc_sign:
            gain, inc = is_a & (s == -inc_sign), is_inc & (s == inc_sign)
        else:
            gain, inc = is_a & ~(s < 0), is_inc
        if not gain.any():
            continue
        ev = ev_ids[lo_]
        members = set(secs[lo_:hi_][gain]) | set(secs[lo_:hi_][inc])
        n_limit = sum(lo <= r <= hi for m in members for r in limit_days.get((ev, m), []))
        rows.append(
            {
                by: kk[lo_],
                "window": w,
                "event_id": ev,
                "spread": float(_mean(c[gain]) - _mean(c[inc])),
                "n_gainers": int(gain.sum()),
                "n_incumbents": int(inc.sum()),
                "limit_days": int(n_limit),
            }
        )
    out = pd.DataFrame(rows, columns=[c for c in cols if c != "contribution"])
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["contribution"] = out["spread"] / out.groupby([by, "window"])["spread"].transform("size")
    return out[cols]


SPREAD_SUMMARY_COLUMNS: tuple[str, ...] = (
    "direction",
    "window",
    "n_events",
    "mean",
    "median",
    "trimmed_mean",
    "trimmed_k",
    "top_event",
    "top_share",
    "limit_events",
)


def spread_summary(events: pd.DataFrame) -> pd.DataFrame:
    """Per (direction, window) of :func:`spread_events`: the mean, median and trimmed
    mean of the event spreads (:func:`robust_centre`), the event with the largest
    absolute contribution and its share of the sum of absolute contributions, and
    the number of events with a limit-hit session inside the window."""
    import pandas as pd

    rows = []
    if len(events):
        for (d, w), g in events.groupby(["direction", "window"], sort=True):
            c = robust_centre(g["spread"])
            contrib = g["contribution"].abs()
            total = float(contrib.sum())
            rows.append(
                {
                    "direction": d,
                    "window": w,
                    "n_events": int(c["n"]),
                    "mean": c["mean"],
                    "median": c["median"],
                    "trimmed_mean": c["trimmed_mean"],
                    "trimmed_k": int(c["trimmed_k"]),
                    "top_event": str(g.loc[contrib.idxmax(), "event_id"]) if total > 0 else "",
                    "top_share": float(contrib.max()) / total if total > 0 else float("nan"),
                    "limit_events": int((g["limit_days"] > 0).sum()),
                }
            )
    return pd.DataFrame(rows, columns=list(SPREAD_SUMMARY_COLUMNS))


def robust_centre(values: pd.Series, trim: float = 0.1) -> dict[str, float]:
    """Mean, median and trimmed mean of values.

    The trimmed mean drops ``max(1, floor(trim * n))`` of the lowest and as many of
    the highest values when there are at least five (a 10 % trim of fewer than ten
    values would drop nothing and repeat the mean); with fewer it is the mean.
    ``trimmed_k`` is the number dropped from each end.
    """
    import numpy as np

    v = np.sort(values.dropna().to_numpy(dtype=float))
    n = len(v)
    if not n:
        nan = float("nan")
        return {"mean": nan, "median": nan, "trimmed_mean": nan, "trimmed_k": 0, "n": 0}
    k = max(1, int(np.floor(trim * n))) if n >= 5 else 0
    return {
        "mean": float(v.mean()),
        "median": float(_median(v)),
        "trimmed_mean": float(v[k : n - k].mean()),
        "trimmed_k": k,
        "n": n,
    }


def _median(v: object) -> float:
    import numpy as np

    return float(np.median(np.asarray(v, dtype=float)))
