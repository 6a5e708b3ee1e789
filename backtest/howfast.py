"""How fast prices reacted, measured from daily bars: the open splits day 0.

A close-to-close abnormal return on day 0 mixes two intervals: the previous
close to day 0's open (overnight) and the open to the close (session).  When
the news was public before day 0's open, the overnight part is the reaction
the first price after the news already held; the session part is what came
later.  When the news came during day 0's session the first open after it is
day +1's, and the reaction by then is the day-0 AR plus day +1's overnight part.

Pure numerics on in-memory tables (no I/O, no plotting):

* :func:`open_split` - per instance: the overnight and session parts of the
  day-0 AR, day +1's overnight part and the CARs the pools need.
* :func:`pooled_speed` - per signed pool (direction x group, AR times the
  log's expected sign): the mean of each measure over calendar clusters with a
  95 % band, the share of the [0,+1] reaction already in the first open, and
  the session of the peak |CAAR| cumulated from day 0.
* :func:`cross_market` - for news released while the US was closed and Asia
  opened first, the signed reaction at each market's day-0 open and close,
  placed on one axis of hours after the news (UTC instants).

What daily bars cannot resolve: anything inside a session (the minute the
price moved), and a reaction split between the pre-market and the open.  The
abnormal overnight part is ``r_on - beta * m_on`` (the security's and its
benchmark's overnight returns, beta from the study's estimation window); the
intercept and the cross term ``r_on * r_session`` stay in the session part so
that the two parts add up to the day-0 AR exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from backtest.summaries import cluster_mean, t_interval

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from backtest.market.panel import PricePanel

SPLIT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "security",
    "group",
    "mic",
    "direction",
    "expected_sign",
    "cluster",
    "pool",
    "knowable_at_utc",
    "day0_open_utc",
    "day0_close_utc",
    "news_before_open",
    "beta",
    "overnight0",
    "session0",
    "ar0",
    "overnight1",
    "first_open",
    "car01",
    "car05",
    "car010",
    "note",
)
SPEED_COLUMNS: tuple[str, ...] = (
    "direction",
    "sign",
    "group",
    "measure",
    "value",
    "se",
    "lo",
    "hi",
    "n_instances",
    "n_clusters",
)
CROSS_COLUMNS: tuple[str, ...] = (
    "market",
    "point",
    "hours",
    "mean",
    "se",
    "n_instances",
    "n_events",
)
# Measures of pooled_speed, in the order the report lists them.  ``before_open``
# measures use only instances whose news preceded day 0's open.
MEASURES: dict[str, str] = {
    "overnight0": "day-0 overnight part (news before the open)",
    "session0": "day-0 session part (news before the open)",
    "ar0_before_open": "day-0 AR (news before the open)",
    "first_open": "reaction by the first open after the news",
    "car01": "CAR[0,+1]",
    "car05": "CAR[0,+5]",
    "car010": "CAR[0,+10]",
    "post_2_10": "days +2 to +10 (drift > 0, reversal < 0)",
    "share_first_open": "share of CAR[0,+1] in the first open",
    "peak_day": "day of the largest |CAAR| from day 0",
}
MARKETS: dict[str, str] = {
    "XNYS": "US",
    "XNAS": "US",
    "XSHG": "China A",
    "XSHE": "China A",
    "XHKG": "Hong Kong",
}
# An overnight return beyond this is a data problem (unadjusted open beside an
# adjusted close), not a reaction: the instance keeps its AR but no split.
MAX_OVERNIGHT = 0.5


class _Bars(NamedTuple):
    """A security's bar dates with its open and close columns as arrays (read once)."""

    index: pd.DatetimeIndex
    open: np.ndarray
    close: np.ndarray


def _bars_with_open(bars: pd.DataFrame | None) -> _Bars | None:
    if bars is None or "open" not in bars.columns:
        return None
    return _Bars(bars.index, bars["open"].to_numpy(), bars["close"].to_numpy())


def _overnight(bars: _Bars | None, day: Any) -> float:
    """Open of ``day`` over the previous bar's close, minus one (NaN if unknown)."""
    import numpy as np
    import pandas as pd

    if bars is None or pd.isna(day):
        return float("nan")
    idx = bars.index
    pos = int(idx.searchsorted(pd.Timestamp(day)))
    if pos <= 0 or pos >= len(idx) or idx[pos] != pd.Timestamp(day):
        return float("nan")
    op = float(bars.open[pos])
    prev = float(bars.close[pos - 1])
    if not (op > 0 and prev > 0):
        return float("nan")
    r = op / prev - 1.0
    return r if abs(r) <= MAX_OVERNIGHT else float(np.nan)


def _beta(params: pd.DataFrame) -> pd.Series:
    """The market slope per (event_id, security).

    One ``beta_*`` column (market model): that column; several (factor model): the
    market factor's (``beta_Mkt-RF``) if present, else NaN (no split); none
    (constant mean): 0.
    """
    key = params.set_index(["event_id", "security"])
    betas = [c for c in key.columns if c.startswith("beta_")]
    market = [c for c in betas if "Mkt" in c]
    if len(betas) == 1 or market:
        return key[(market or betas)[0]].astype(float)
    return key["alpha"].astype(float) * 0.0 + (0.0 if not betas else float("nan"))


def open_split(
    ar: pd.DataFrame,
    instances: pd.DataFrame,
    panel: PricePanel,
    benchmarks: pd.DataFrame,
    params: pd.DataFrame,
    *,
    model: str = "market",
) -> pd.DataFrame:
    """Per instance with a day-0 AR: overnight and session parts and the CARs pools need.

    ``ar`` is the study's AR table (event_id, security, rel_day, date, ar);
    ``instances`` the study's used instances with the alignment's timing columns
    (knowable_at_utc, day0_open_utc, day0_close_utc, mic) and pooling columns
    (direction, expected_sign, cluster, pool); ``benchmarks`` the benchmark of
    each instance (event_id, security, benchmark); ``params`` the study's
    parameters (beta_<column>).  The market-adjusted model has beta 1 and the
    constant-mean model beta 0.
    """
    import numpy as np
    import pandas as pd

    if ar.empty:
        return pd.DataFrame(columns=list(SPLIT_COLUMNS))
    wide = ar.pivot_table(index=["event_id", "security"], columns="rel_day", values="ar")
    dates = ar.pivot_table(
        index=["event_id", "security"], columns="rel_day", values="date", aggfunc="first"
    )
    bench = (
        benchmarks.drop_duplicates(["event_id", "security"]).set_index(["event_id", "security"])[
            "benchmark"
        ]
        if len(benchmarks)
        else pd.Series(dtype=object)
    )
    if model == "market_adjusted":
        beta = pd.Series(1.0, index=wide.index)
    elif model == "constant_mean":
        beta = pd.Series(0.0, index=wide.index)
    else:
        beta = _beta(params).reindex(wide.index)
    info = (
        instances.drop_duplicates(["event_id", "security"])
        .set_index(["event_id", "security"])
        .reindex(wide.index)
    )
    has = info.index.isin(instances.set_index(["event_id", "security"]).index)
    if 0 not in wide.columns:
        return pd.DataFrame(columns=list(SPLIT_COLUMNS))
    # Every day's AR as one float matrix (days 0..10; a missing day is NaN), so the
    # CARs are row sums: NaN unless every day of the window is present.
    days = wide.reindex(columns=range(0, 11)).to_numpy(dtype=float)
    cars = {
        name: days[:, : hi + 1].sum(axis=1)
        for name, hi in (("car01", 1), ("car05", 5), ("car010", 10))
    }
    d0s = dates[0].to_numpy()
    d1s = dates[1].to_numpy() if 1 in dates.columns else np.full(len(dates), pd.NaT)
    beta_v = beta.to_numpy(dtype=float)
    col = {c: info[c].to_numpy() if c in info.columns else None for c in INFO_COLUMNS}

    def utc(name: str) -> pd.Series:
        """A timing column as UTC times; all NaT when the instances lack it."""
        if name not in info.columns:
            return pd.Series(pd.NaT, index=info.index, dtype="datetime64[ns, UTC]")
        times: pd.Series = pd.to_datetime(info[name], utc=True)
        return times

    known_all = utc("knowable_at_utc")
    open_all = utc("day0_open_utc")
    close_all = utc("day0_close_utc")
    rows = []
    read: dict[str, _Bars | None] = {}

    def bars_of(sym: object) -> _Bars | None:
        if not isinstance(sym, str):
            return None
        if sym not in read:
            read[sym] = _bars_with_open(panel.bars.get(sym))
        return read[sym]

    for i, key in enumerate(wide.index):
        ar0 = float(days[i, 0])
        if ar0 != ar0:
            continue
        sec = key[1]
        bars, bbars = bars_of(sec), bars_of(bench.get(key))
        b = float(beta_v[i])
        on0 = _overnight(bars, d0s[i]) - (b * _overnight(bbars, d0s[i]) if b else 0.0)
        on1 = _overnight(bars, d1s[i]) - (b * _overnight(bbars, d1s[i]) if b else 0.0)
        known = known_all.iloc[i] if has[i] else pd.NaT
        opened = open_all.iloc[i] if has[i] else pd.NaT
        before = bool(pd.notna(known) and pd.notna(opened) and known <= opened)
        first = on0 if before else ar0 + on1
        note = ""
        if on0 != on0:
            note = "no open price (security or benchmark) on day 0"

        def get(c: str, default: Any, i: int = i) -> Any:
            v = col[c]
            return v[i] if has[i] and v is not None else default

        rows.append(
            {
                "event_id": key[0],
                "security": sec,
                "group": get("group", ""),
                "mic": get("mic", ""),
                "direction": get("direction", ""),
                "expected_sign": get("expected_sign", np.nan),
                "cluster": get("cluster", key[0]),
                "pool": bool(get("pool", True)),
                "knowable_at_utc": known,
                "day0_open_utc": opened,
                "day0_close_utc": close_all.iloc[i] if has[i] else pd.NaT,
                "news_before_open": before,
                "beta": b,
                "overnight0": on0,
                "session0": ar0 - on0,
                "ar0": ar0,
                "overnight1": on1,
                "first_open": first,
                "car01": float(cars["car01"][i]),
                "car05": float(cars["car05"][i]),
                "car010": float(cars["car010"][i]),
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=list(SPLIT_COLUMNS))


INFO_COLUMNS = ("group", "mic", "direction", "expected_sign", "cluster", "pool")


def _ratio(a: Any, b: Any, clusters: Any) -> tuple[float, float, int, int]:
    """Ratio of cluster means mean(a) / mean(b), with a delta-method standard error."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"a": np.asarray(a, float), "b": np.asarray(b, float)})
    frame["c"] = np.asarray(clusters)
    frame = frame.dropna()
    per = frame.groupby("c")[["a", "b"]].mean()
    n = len(per)
    if n < 2 or per["b"].mean() == 0:
        return float("nan"), float("nan"), len(frame), n
    r = float(per["a"].mean() / per["b"].mean())
    resid = per["a"] - r * per["b"]
    se = float(np.sqrt((resid**2).sum() / (n * (n - 1))) / abs(per["b"].mean()))
    return r, se, len(frame), n


def _pool_rows(
    direction: str, sign_key: str, group: str, part: pd.DataFrame
) -> list[dict[str, Any]]:
    """Every measure of one signed pool."""
    import numpy as np

    sign = part["expected_sign"].astype(float).to_numpy()
    cl = part["cluster"].astype(str).to_numpy()
    out = []

    def add(measure: str, mean: float, se: float, n_i: int, n_c: int) -> None:
        lo, hi = t_interval(mean, se, n_c)
        out.append(
            {
                "direction": direction,
                "sign": sign_key,
                "group": group,
                "measure": measure,
                "value": mean,
                "se": se,
                "lo": lo,
                "hi": hi,
                "n_instances": n_i,
                "n_clusters": n_c,
            }
        )

    before = part["news_before_open"].astype(bool).to_numpy()
    for col, name in (
        ("overnight0", "overnight0"),
        ("session0", "session0"),
        ("ar0", "ar0_before_open"),
    ):
        v = part[col].to_numpy(dtype=float) * sign
        add(name, *cluster_mean(v[before], cl[before]))
    for col in ("first_open", "car01", "car05", "car010"):
        add(col, *cluster_mean(part[col].to_numpy(dtype=float) * sign, cl))
    post = (part["car010"] - part["car01"]).to_numpy(dtype=float) * sign
    add("post_2_10", *cluster_mean(post, cl))
    add(
        "share_first_open",
        *_ratio(
            part["first_open"].to_numpy(float) * sign, part["car01"].to_numpy(float) * sign, cl
        ),
    )
    out.append(
        {
            "direction": direction,
            "sign": sign_key,
            "group": group,
            "measure": "peak_day",
            "value": float("nan"),
            "se": np.nan,
            "lo": np.nan,
            "hi": np.nan,
            "n_instances": 0,
            "n_clusters": 0,
        }
    )
    return out


def _pools(split: pd.DataFrame) -> list[tuple[str, str, str, pd.DataFrame]]:
    """(direction, sign, group, members) of every signed pool.

    Pools follow the pooled table: per direction, names the log expects to fall
    (sign ``-1``) and to gain (``+1``) by group, and ``signed`` across all groups
    (``*``).  Only pooled instances with an expected sign of -1 or +1 count.
    """
    s = split[split["pool"].astype(bool) & split["expected_sign"].isin([-1, 1, -1.0, 1.0])]
    out = []
    for direction, d in s.groupby("direction", sort=True):
        for sign, ds in d.groupby("expected_sign", sort=True):
            for group, part in ds.groupby("group", sort=True):
                out.append((str(direction), f"{int(sign):+d}", str(group), part))
        out.append((str(direction), "signed", "*", d))
    return out


def pooled_speed(split: pd.DataFrame, ar: pd.DataFrame) -> pd.DataFrame:
    """Every :data:`MEASURES` per signed pool (:func:`_pools`).

    Values are AR times the expected sign (positive: prices moved as the log
    expects), the calendar cluster being the unit.  ``peak_day`` is the relative
    day (0..10) where the pooled signed CAAR, cumulated from day 0, is largest in
    absolute value.
    """
    import pandas as pd

    if split.empty:
        return pd.DataFrame(columns=list(SPEED_COLUMNS))
    rows: list[dict[str, Any]] = []
    ar = ar[ar["rel_day"].between(0, 10)]  # the days _peak_day reads, selected once
    for direction, sign, group, part in _pools(split):
        pool_rows = _pool_rows(direction, sign, group, part)
        peak, n_i, n_c = _peak_day(part, ar)
        pool_rows[-1].update(value=peak, n_instances=n_i, n_clusters=n_c)
        rows += pool_rows
    return pd.DataFrame(rows, columns=list(SPEED_COLUMNS))


def _peak_day(part: pd.DataFrame, ar: pd.DataFrame) -> tuple[float, int, int]:
    """Relative day of the largest |signed CAAR| cumulated from day 0 (clusters as unit)."""
    path = signed_path(part, ar, start=0, end=10)
    if path.empty:
        return float("nan"), 0, 0
    best = path.loc[path["caar"].abs().idxmax()]
    return float(best["rel_day"]), int(best["n_instances"]), int(best["n_clusters"])


def signed_path(
    members: pd.DataFrame, ar: pd.DataFrame, *, start: int = -5, end: int = 10
) -> pd.DataFrame:
    """Pooled signed CAAR path of ``members`` (event_id, security, expected_sign, cluster).

    Each instance's signed AR is cumulated from ``start``; on each relative day
    the path is the mean over calendar clusters of the clusters' mean CAR, with
    the standard error across clusters and a 95 % band from t(clusters - 1).
    """
    import numpy as np
    import pandas as pd

    cols = ["rel_day", "caar", "se", "lo", "hi", "n_instances", "n_clusters"]
    keys = members[["event_id", "security", "expected_sign", "cluster"]].drop_duplicates(
        ["event_id", "security"]
    )
    sub = ar[ar["rel_day"].between(start, end)]
    # Each AR row's member (an inner join on event and security) ...
    ev = keys["event_id"].to_numpy(dtype=object)
    sec = keys["security"].to_numpy(dtype=object)
    who = pd.MultiIndex.from_arrays([ev, sec]).get_indexer(
        pd.MultiIndex.from_arrays([sub["event_id"], sub["security"]])
    )
    hit = who >= 0
    if not hit.any():
        return pd.DataFrame(columns=cols)
    # ... in the order of (event_id, security, rel_day), rows of one member together.
    rank = np.empty(len(keys), dtype=np.int64)
    rank[sorted(range(len(keys)), key=lambda i: (ev[i], sec[i]))] = np.arange(len(keys))
    who, day = who[hit], sub["rel_day"].to_numpy()[hit]
    by_member = np.lexsort((day, rank[who]))
    who, day = who[by_member], day[by_member]
    sign = keys["expected_sign"].astype(float).to_numpy()[who]
    signed = sub["ar"].to_numpy(dtype=float)[hit][by_member] * sign
    cum = pd.Series(signed).groupby(who, sort=False).cumsum().to_numpy()
    # Each relative day's rows in their order above (what groupby("rel_day") gives).
    order = np.argsort(day, kind="stable")
    car = cum[order]
    cluster = keys["cluster"].astype(str).to_numpy(dtype=object)[who][order]
    days, starts = np.unique(day[order], return_index=True)
    rows = []
    for d, a, b in zip(days, starts, [*starts[1:], order.size], strict=True):
        mean, se, n_i, n_c = cluster_mean(car[a:b], cluster[a:b])
        lo, hi = t_interval(mean, se, n_c)
        rows.append(
            {
                "rel_day": int(d),
                "caar": mean,
                "se": se,
                "lo": lo,
                "hi": hi,
                "n_instances": n_i,
                "n_clusters": n_c,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def pooled_paths(split: pd.DataFrame, ar: pd.DataFrame) -> pd.DataFrame:
    """:func:`signed_path` (days -5..+10) for every signed pool (:func:`_pools`)."""
    import pandas as pd

    cols = ["direction", "sign", "group", "rel_day", "caar", "se", "lo", "hi"]
    parts = []
    ar = ar[ar["rel_day"].between(-5, 10)]  # the days signed_path reads, selected once
    for direction, sign, group, part in _pools(split):
        path = signed_path(part, ar)
        if len(path):
            parts.append(path.assign(direction=direction, sign=sign, group=group))
    if not parts:
        return pd.DataFrame(columns=[*cols, "n_instances", "n_clusters"])
    out = pd.concat(parts, ignore_index=True)
    return out[[*cols, "n_instances", "n_clusters"]]


def cross_market(split: pd.DataFrame) -> pd.DataFrame:
    """The order of reactions across markets for news released while the US was closed.

    Events qualify when a US instance had its news before day 0's open and outside
    the US session, and an Asian instance's day-0 open came before the US day-0
    open (Asia was the first to trade on the news).  For each market, the signed
    day-0 overnight part (at its open) and the signed day-0 AR (at its close), the
    event being the unit, placed at the median hours from the news to that open
    and close.  Pooled instances with an expected sign only.
    """
    import pandas as pd

    s = split[split["pool"].astype(bool) & split["expected_sign"].isin([-1, 1, -1.0, 1.0])]
    s = s.assign(market=s["mic"].map(MARKETS))
    s = s[s["market"].notna() & s["news_before_open"].astype(bool)]
    if s.empty:
        return pd.DataFrame(columns=list(CROSS_COLUMNS))
    us_open = s[s["market"] == "US"].groupby("event_id")["day0_open_utc"].min()
    asia_open = s[s["market"] != "US"].groupby("event_id")["day0_open_utc"].min()
    both = us_open.index.intersection(asia_open.index)
    first = [e for e in both if asia_open[e] < us_open[e]]
    q = s[s["event_id"].isin(first)]
    rows = []
    for market, g in q.groupby("market", sort=True):
        sign = g["expected_sign"].astype(float)
        for point, value, at in (
            ("open", g["overnight0"] * sign, g["day0_open_utc"]),
            ("close", g["ar0"] * sign, g["day0_close_utc"]),
        ):
            hours = (at - g["knowable_at_utc"]).dt.total_seconds() / 3600.0
            mean, se, n_i, n_e = cluster_mean(value.to_numpy(), g["event_id"].astype(str))
            rows.append(
                {
                    "market": market,
                    "point": point,
                    "hours": float(hours.median()),
                    "mean": mean,
                    "se": se,
                    "n_instances": n_i,
                    "n_events": n_e,
                }
            )
    return pd.DataFrame(rows, columns=list(CROSS_COLUMNS))
