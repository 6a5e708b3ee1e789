"""How fast the tape reacted to one event: paths, the reaction interval, shares of the move.

For each security with bars around an event stage's knowable instant ``K`` (exact, or
assumed under the unknown-time policy, :func:`backtest.alignment.knowable.knowable_instant`)
and the earliest instant the stage allows ``E`` (``K`` when exact; else its local date's
start clamped into its bounds):

* **path**: bars from the last regular close at or before ``E`` (the base: the close of
  the last regular bar) to the second regular close strictly after ``K``, in UTC.
* **abnormal move**: market-adjusted, the bar's return minus the benchmark's return over
  the same interval (same bar instants).  Where the benchmark has no bar (an index
  outside regular hours) the raw return is used, and the note counts those bars.
* **scaling**: each bar's abnormal return is divided by the time-of-day volatility of
  the prior ``lookback_sessions`` sessions (:func:`kernels.tod_sigma`: same session part,
  same gap status, slots within ``halfwidth_minutes``), giving ``z``.
* **reaction interval** ``[reaction_after_utc, reaction_by_utc]``: the first path bar with
  ``|z| >= threshold`` moved between the end of the bar before it (its price did not
  yet show the news) and its own end.  Across a data gap this spans the gap (19:55 to
  04:00 ET bars give [20:00, 04:05]).
* **shares** of the first-session move (abnormal, base to day 0's regular close; day 0 is
  the first session closing strictly after ``K``) reached 5, 30 and 60 minutes after
  ``K``, by the end of the after-hours and of the pre-market before day 0, and at day
  0's opening price (the last three only when ``K`` falls outside day 0's regular hours).

Folders are joined per security: the finest bar length with bars in the path, then every
folder with that bar length, in the order given, where its closes agree with what is
already joined on common instants (median |ratio - 1| <= ``join_tolerance``; a
split-adjusted and an unadjusted file never join).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from backtest.alignment.knowable import knowable_instant
from backtest.intraday import kernels as k
from backtest.intraday.series import BarSet, IntradaySeries

if TYPE_CHECKING:
    import pandas as pd

    from backtest.alignment.spec import UnknownTime
    from backtest.eventlog.models import Stage

DEFAULT_BENCHMARKS: tuple[str, ...] = ("QQQ", "SPY", "SMH", "^GSPC")
REACTION_COLUMNS: tuple[str, ...] = (
    "event_id",
    "security",
    "benchmark",
    "knowable_utc",
    "reaction_after_utc",
    "reaction_by_utc",
    "threshold",
    "first_session_move",
    "share_5m",
    "share_30m",
    "share_60m",
    "share_after_hours",
    "share_premarket",
    "share_next_open",
    "n_bars",
    "note",
)
PATH_COLUMNS: tuple[str, ...] = (
    "event_id",
    "security",
    "minutes_since",
    "abnormal_cum",
    "raw_cum",
    "bar_utc",
    "session",
)
_DAY_NS = 86_400 * 1_000_000_000
_REGULAR_INSIDE = 2  # class code: regular part (1) * 2 + no gap (0)


@dataclass(frozen=True, slots=True)
class IntradaySpec:
    """Options of the intraday study (defaults are the ones the tests pin)."""

    threshold: float = 4.0  # |abnormal return| / time-of-day sigma that marks the reaction
    lookback_sessions: int = 20
    halfwidth_minutes: int = 15
    min_obs: int = 10  # prior returns a time-of-day sigma needs
    min_gap_obs: int = 5  # ... for bars after a gap (one per prior session: a week)
    hold_bars: int = 2  # a reaction's move must hold over this many further bars
    benchmarks: tuple[str, ...] = DEFAULT_BENCHMARKS
    policy: UnknownTime = "business_hours"
    join_tolerance: float = 0.005
    max_gap_days: int = 4


@dataclass(frozen=True, slots=True)
class Reaction:
    """One security's reaction to one event stage (a row of ``intraday_reaction``)."""

    event_id: str
    security: str
    benchmark: str
    knowable_utc: dt.datetime
    reaction_after_utc: dt.datetime | None
    reaction_by_utc: dt.datetime | None
    threshold: float
    first_session_move: float
    share_5m: float
    share_30m: float
    share_60m: float
    share_after_hours: float
    share_premarket: float
    share_next_open: float
    n_bars: int
    note: str

    def row(self) -> dict[str, object]:
        return {c: getattr(self, c) for c in REACTION_COLUMNS}


@dataclass(frozen=True)
class EventReaction:
    """Every covered security of one event: reactions and the paths behind them."""

    event_id: str
    stage: str
    knowable_utc: dt.datetime
    reactions: tuple[Reaction, ...]
    paths: pd.DataFrame  # PATH_COLUMNS
    skipped: tuple[str, ...] = field(default=())  # 'SYMBOL: why'

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([r.row() for r in self.reactions], columns=list(REACTION_COLUMNS))


def _ts(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)


def _ns(instant: dt.datetime) -> int:
    import pandas as pd

    return int(pd.Timestamp(instant).as_unit("ns").value)


@dataclass(frozen=True, slots=True)
class _Window:
    """The instants of one study window on one calendar (UTC ns)."""

    known: int  # K
    search: int  # last regular close at or before E
    lookback: int  # start of the prior sessions
    day0_open: int
    day0_close: int
    end: int  # second regular close after K


def _window(calendar: str, known: int, earliest: int, lookback_sessions: int) -> _Window | None:
    from backtest.alignment.sessions import session_table

    t = session_table(calendar)
    prev = int(np.searchsorted(t.closes_ns, earliest, side="right")) - 1
    d0 = int(np.searchsorted(t.closes_ns, known, side="right"))
    if prev < lookback_sessions or d0 + 1 >= len(t):
        return None
    return _Window(
        known=known,
        search=int(t.closes_ns[prev]),
        lookback=int(t.opens_ns[prev - lookback_sessions + 1]) - 12 * 3_600_000_000_000,
        day0_open=int(t.opens_ns[d0]),
        day0_close=int(t.closes_ns[d0]),
        end=int(t.closes_ns[d0 + 1]),
    )


def join_series(
    candidates: Sequence[IntradaySeries], lo: int, hi: int, path_lo: int, tolerance: float
) -> tuple[IntradaySeries | None, list[str]]:
    """One series for [lo, hi) from a symbol's folders (see the module docstring)."""
    import pandas as pd

    notes: list[str] = []
    parts = []
    for s in candidates:
        a, b = np.searchsorted(s.start_ns, [lo, hi])
        if b > a:
            parts.append((s, s.frame.iloc[int(a) : int(b)]))
    in_path = [f["bar_seconds"][f.index.as_unit("ns").asi8 >= path_lo] for _, f in parts]
    lengths = [int(x.min()) for x in in_path if len(x)]
    if not lengths:
        return None, notes
    length = min(lengths)
    joined: pd.DataFrame | None = None
    used = []
    for s, f in parts:
        f = f[f["bar_seconds"] == length]
        if f.empty:
            continue
        if joined is not None:
            common = joined.index.intersection(f.index)
            if len(common):
                ratio = f.loc[common, "close"] / joined.loc[common, "close"]
                off = float(np.nanmedian(np.abs(ratio.to_numpy(dtype=np.float64) - 1.0)))
                if not off <= tolerance:
                    notes.append(f"{s.label} not joined (levels differ by {off:.1%})")
                    continue
            f = f[~f.index.isin(joined.index)]
            joined = pd.concat([joined, f]).sort_index()
        else:
            joined = f
        used.append(s.label)
    assert joined is not None
    first = candidates[0]
    series = IntradaySeries(first.symbol, first.calendar, joined, (), " + ".join(used))
    return series, notes


def _classes(series: IntradaySeries, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Slot (minutes after local midnight) and class (session part x follows-a-gap)."""
    import pandas as pd

    idx = series.frame.index.tz_convert(tz)
    slot = (idx.hour * 60 + idx.minute).to_numpy(dtype=np.int64)
    start = series.start_ns
    step = series.frame["bar_seconds"].to_numpy(dtype=np.int64) * 1_000_000_000
    gap = np.concatenate([[True], np.diff(start) > 1.5 * step[1:]])
    part = pd.Categorical(series.frame["session"], categories=["pre", "regular", "post", "closed"])
    klass = part.codes.astype(np.int64) * 2 + gap.astype(np.int64)
    return slot, klass


@dataclass(frozen=True, slots=True)
class _Bars:
    """Arrays of a joined series with returns, abnormal returns and z."""

    start: np.ndarray
    end: np.ndarray
    close: np.ndarray
    open: np.ndarray
    session: np.ndarray
    ar: np.ndarray
    raw: np.ndarray
    z: np.ndarray
    has_bench: np.ndarray
    sigma_n: np.ndarray


def _scaled(
    sec: IntradaySeries, bench: IntradaySeries | None, w: _Window, spec: IntradaySpec
) -> _Bars:
    from backtest.alignment.sessions import session_table

    start = sec.start_ns
    close = sec.close
    max_gap = spec.max_gap_days * _DAY_NS
    raw = k.bar_returns(close, start, max_gap)
    if bench is not None:
        rb = k.matched_returns(start, bench.start_ns, bench.close)
        rb[1:][np.diff(start) > max_gap] = np.nan
    else:
        rb = np.full(len(start), np.nan)
    ar, has = k.abnormal_returns(raw, rb)
    slot, klass = _classes(sec, session_table(sec.calendar).tz)
    prior = start < w.search
    target = start >= w.search
    floor = k.regular_sigma(ar[prior], klass[prior] == _REGULAR_INSIDE)
    gap = (klass % 2) == 1
    sigma = np.full(len(start), np.nan)
    n = np.zeros(len(start), dtype=np.int64)
    for is_gap, need in ((False, spec.min_obs), (True, spec.min_gap_obs)):
        pick = prior & (gap == is_gap)
        out = target & (gap == is_gap)
        sigma[out], n[out] = k.tod_sigma(
            slot[pick],
            klass[pick],
            ar[pick],
            slot[out],
            klass[out],
            halfwidth=spec.halfwidth_minutes,
            min_obs=need,
            floor=floor,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        z = ar / sigma
    return _Bars(
        start=start,
        end=sec.end_ns,
        close=close,
        open=sec.frame["open"].to_numpy(dtype=np.float64),
        session=sec.frame["session"].to_numpy(),
        ar=ar,
        raw=raw,
        z=z,
        has_bench=has,
        sigma_n=n,
    )


def _pick_benchmark(
    bars: BarSet,
    symbol: str,
    w: _Window,
    spec: IntradaySpec,
    path_ns: np.ndarray,
    joined_cache: dict[str, IntradaySeries | None],
) -> tuple[str, IntradaySeries | None]:
    best: tuple[int, str, IntradaySeries | None] = (0, "", None)
    for b in spec.benchmarks:
        if b == symbol or b not in bars:
            continue
        if b not in joined_cache:
            joined_cache[b] = join_series(
                bars[b], w.lookback, w.end, w.search, spec.join_tolerance
            )[0]
        joined = joined_cache[b]
        if joined is None:
            continue
        hits = int(np.isin(path_ns, joined.start_ns).sum())
        if hits > best[0]:
            best = (hits, b, joined)
    return best[1], best[2]


def study_security(
    event_id: str,
    symbol: str,
    bars: BarSet,
    known: dt.datetime,
    earliest: dt.datetime,
    spec: IntradaySpec,
    joined_cache: dict[str, IntradaySeries | None] | None = None,
) -> tuple[Reaction | None, pd.DataFrame | None, str]:
    """One security's reaction and path; (None, None, why) when its bars do not cover it."""
    import pandas as pd

    if symbol not in bars:
        return None, None, "no bars"
    w = _window(bars[symbol][0].calendar, _ns(known), _ns(earliest), spec.lookback_sessions)
    if w is None:
        return None, None, "the calendar does not cover the window"
    sec, notes = join_series(bars[symbol], w.lookback, w.end, w.search, spec.join_tolerance)
    if sec is None:
        return None, None, "no bars in the path"
    b = _scaled(sec, None, w, spec)  # benchmark picked on the path's instants
    path = (b.start >= w.search) & (b.start < w.end)
    base_pos = np.flatnonzero((b.start < w.search) & (b.session == "regular"))
    if not path.any() or not len(base_pos) or b.end[base_pos[-1]] < w.search:
        return None, None, "bars do not reach back to the previous regular close"
    cache = joined_cache if joined_cache is not None else {}
    bench_name, bench = _pick_benchmark(bars, symbol, w, spec, b.start[path], cache)
    b = _scaled(sec, bench, w, spec)
    idx = np.flatnonzero(path)
    base = b.close[base_pos[-1]]
    cum = np.cumsum(np.nan_to_num(b.ar[idx], nan=0.0))
    raw_cum = b.close[idx] / base - 1.0
    end = b.end[idx]
    hit = k.first_reaction(b.z[idx], b.ar[idx], spec.threshold, hold_bars=spec.hold_bars)
    after = by = None
    if hit >= 0:
        i = idx[hit]
        after = _ts(int(b.end[i - 1]) if i > 0 else int(b.start[i]))
        by = _ts(int(b.end[i]))
    else:
        notes.append(f"no bar reached |z| >= {spec.threshold:g}")
    move = k.value_at(end, cum, w.day0_close)
    outside = w.known < w.day0_open
    pre = np.flatnonzero(
        (b.session[idx] == "pre")
        & (end <= w.day0_open)
        & (b.start[idx] >= w.day0_open - _DAY_NS // 2)
    )
    post = np.flatnonzero((b.session[idx] == "post") & (end <= w.day0_open - _DAY_NS // 4))
    first_reg = np.flatnonzero((b.session[idx] == "regular") & (b.start[idx] >= w.day0_open))
    nan = float("nan")
    s_post = k.share(float(cum[post[-1]]), move) if outside and len(post) else nan
    s_pre = k.share(float(cum[pre[-1]]), move) if outside and len(pre) else nan
    s_open = nan
    if outside and len(first_reg):
        j = first_reg[0]
        prev_cum = float(cum[j - 1]) if j > 0 else 0.0
        gap_raw = b.open[idx[j]] / b.close[idx[j] - 1] - 1.0
        gap_b = _bench_open_return(bench, int(b.start[idx[j]]), int(b.start[idx[j] - 1]))
        s_open = k.share(prev_cum + gap_raw - (gap_b if np.isfinite(gap_b) else 0.0), move)
    if not outside:
        notes.append("news during day 0's regular hours: no after-hours, pre-market or open share")
    no_bench = int((~b.has_bench[idx]).sum())
    if no_bench:
        notes.append(
            f"{no_bench} of {len(idx)} bars without a {bench_name or 'benchmark'} bar: raw moves"
        )
    if hit >= 0 and int(b.sigma_n[idx[hit]]) < 3 * spec.min_obs:
        notes.append(f"sigma of the reaction bar rests on {int(b.sigma_n[idx[hit]])} prior returns")
    notes.insert(0, f"bars: {sec.label}")
    x = [k.value_at(end, cum, w.known + m * k.MINUTE_NS) for m in (5, 30, 60)]
    reaction = Reaction(
        event_id=event_id,
        security=symbol,
        benchmark=bench_name,
        knowable_utc=_ts(w.known),
        reaction_after_utc=after,
        reaction_by_utc=by,
        threshold=spec.threshold,
        first_session_move=move,
        share_5m=k.share(x[0], move),
        share_30m=k.share(x[1], move),
        share_60m=k.share(x[2], move),
        share_after_hours=s_post,
        share_premarket=s_pre,
        share_next_open=s_open,
        n_bars=len(idx),
        note="; ".join(notes),
    )
    frame = pd.DataFrame(
        {
            "event_id": event_id,
            "security": symbol,
            "minutes_since": (end - w.known) / k.MINUTE_NS,
            "abnormal_cum": cum,
            "raw_cum": raw_cum,
            "bar_utc": pd.to_datetime(b.start[idx], utc=True),
            "session": b.session[idx],
        },
        columns=list(PATH_COLUMNS),
    )
    return reaction, frame, ""


def _bench_open_return(bench: IntradaySeries | None, at: int, before: int) -> float:
    """The benchmark's return from its close at ``before`` to its open at ``at``."""
    if bench is None:
        return float("nan")
    s = bench.start_ns
    i, j = np.searchsorted(s, [at, before])
    if i >= len(s) or j >= len(s) or s[i] != at or s[j] != before:
        return float("nan")
    return float(bench.frame["open"].iloc[int(i)] / bench.close[int(j)] - 1.0)


def stage_instants(stage: Stage, policy: UnknownTime) -> tuple[dt.datetime, dt.datetime, str]:
    """The knowable instant, the earliest instant the stage allows, and the policy label."""
    known = knowable_instant(stage, policy)
    earliest = known.at_utc if not known.assumed else knowable_instant(stage, "start_of_day").at_utc
    return known.at_utc, earliest, known.policy


def study_event(
    event_id: str,
    stage: Stage,
    bars: BarSet,
    symbols: Sequence[str] | None = None,
    spec: IntradaySpec | None = None,
) -> EventReaction:
    """Every security of ``symbols`` (default: all with bars) around one stage."""
    import pandas as pd

    spec = spec or IntradaySpec()
    known, earliest, _ = stage_instants(stage, spec.policy)
    rows, paths, skipped = [], [], []
    cache: dict[str, IntradaySeries | None] = {}  # benchmarks joined once per event
    for sym in symbols if symbols is not None else bars.symbols:
        r, p, why = study_security(event_id, sym, bars, known, earliest, spec, cache)
        if r is None or p is None:
            skipped.append(f"{sym}: {why}")
            continue
        rows.append(r)
        paths.append(p)
    frame = (
        pd.concat(paths, ignore_index=True) if paths else pd.DataFrame(columns=list(PATH_COLUMNS))
    )
    return EventReaction(event_id, stage.stage, known, tuple(rows), frame, tuple(skipped))
