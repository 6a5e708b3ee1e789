"""Return series on each security's own exchange sessions, and their market regressors.

This is the one step between the price panel and the study engine:

* a security's returns are indexed by every session of its exchange from its
  first to its last bar; a session without a bar (suspension, gap) is NaN,
  and the move across it is assigned to the next bar (the return from the
  last available close), as estudy2 does with ``multi_day=TRUE``;
* its market regressor is, **per instance**, the first benchmark listed for
  it in the universe whose data span covers that instance's estimation and
  event windows (policy :data:`BENCHMARK_POLICY`); the choice is recorded per
  instance, and an instance that no listed benchmark covers is dropped with
  attrition reason ``benchmark_missing`` naming the benchmarks and the dates
  they lack.  A benchmark series that ends therefore never silently removes
  a market from the sample;
* a Chinese or Hong Kong security also gets the column ``us_market_prev``: the
  return of a US benchmark on the last US session that closed before its own
  session opened (:func:`previous_us_return`), the extra slope of
  ``StudySpec(lagged_us=True)`` (non-synchronous trading, Dimson 1979).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.universe import Universe

ReturnKind = Literal["simple", "log"]

BENCHMARK_POLICY = (
    "first listed benchmark whose returns span the instance's estimation and event windows "
    "(where the security itself has data); otherwise the next one listed; none: dropped as "
    "benchmark_missing"
)
BENCHMARK_COLUMNS: tuple[str, ...] = (
    "event_id",
    "security",
    "day0",
    "benchmark",
    "rank",
    "fallback",
    "detail",
)
BENCHMARK_DROP_COLUMNS: tuple[str, ...] = (
    "event_id",
    "security",
    "day0",
    "group",
    "reason",
    "detail",
)


@dataclass(frozen=True)
class StudyInputs:
    """Per-security returns and regressors, ready for the study engine.

    ``market`` is keyed by regressor key: the security's symbol for its first
    benchmark with prices, ``SYMBOL@BENCH`` for each later one (see
    :func:`regressor_key`).  ``listed[sym]`` is the universe's list of the
    security's benchmarks and ``candidates[sym]`` those of them with prices.
    """

    returns: dict[str, pd.Series]
    market: dict[str, pd.DataFrame]
    benchmark_of: dict[str, str]
    missing: dict[str, str]
    candidates: dict[str, tuple[str, ...]]
    listed: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class BenchmarkChoice:
    """Instances with their regressor key, the per-instance choice, and the drops."""

    instances: pd.DataFrame
    chosen: pd.DataFrame
    dropped: pd.DataFrame

    def fallbacks(self) -> pd.DataFrame:
        """The instances measured against a benchmark other than the first listed."""
        return self.chosen[self.chosen["fallback"]]


def regressor_key(security: str, benchmark: str, first: str) -> str:
    """The key of ``security``'s regressors against ``benchmark`` in ``StudyInputs.market``."""
    return security if benchmark == first else f"{security}@{benchmark}"


def session_returns(
    panel: PricePanel, symbol: str, calendar: str, kind: ReturnKind = "simple"
) -> pd.Series:
    """Returns of ``symbol`` on every session of ``calendar`` within its data span."""
    import numpy as np

    from backtest.market.calendars import sessions

    close = panel.close(symbol).dropna()
    close = close[close > 0]
    if len(close) < 2:
        return close.iloc[:0].astype(float)
    sess = sessions(calendar, close.index[0], close.index[-1])
    ratio = close / close.shift(1)
    r = np.log(ratio) if kind == "log" else ratio - 1.0
    return r.reindex(sess.union(close.index)).iloc[1:].rename(symbol)


US_CALENDARS = ("XNYS", "XNAS")
LAGGED_US_MICS = ("XSHG", "XSHE", "XHKG")
"""Exchanges whose sessions open after the previous US session closed (and close before
the next one opens): their securities get the lagged US regressor."""
US_LAG_COLUMN = "us_market_prev"
US_LAG_GROUP = "us_semis"
"""The group whose first US benchmark is the default lagged US regressor."""


def default_us_lag_benchmark(universe: Universe) -> str | None:
    """The first benchmark on a US calendar listed for the universe's US semiconductor
    names (group ``us_semis``, in universe order); None if it lists none."""
    for sec in universe.in_group(US_LAG_GROUP):
        for b in sec.benchmarks:
            if b in universe and universe[b].calendar in US_CALENDARS:
                return b
    return None


def us_lag_column(us: pd.Series, calendar: str, sessions: pd.DatetimeIndex) -> np.ndarray:
    """:func:`previous_us_return` of ``us`` (returns on ``calendar``'s sessions within its
    data span) on ``sessions``, with ``us`` first put on every session of ``calendar``
    around them, so a date past the end of the US data gets NaN, not its last return."""
    import numpy as np
    import pandas as pd

    from backtest.market.calendars import sessions as sessions_of

    if not len(sessions):
        return np.zeros(0)
    cal = sessions_of(calendar, sessions[0] - pd.Timedelta(days=14), sessions[-1])
    full = us.reindex(cal.union(us.index[(us.index >= cal[0]) & (us.index <= cal[-1])]))
    return np.asarray(previous_us_return(full, sessions).to_numpy(), dtype=float)


def previous_us_return(us: pd.Series, sessions: pd.DatetimeIndex) -> pd.Series:
    """For each session date d of an Asian exchange, ``us`` on the last US session dated
    strictly before d.

    ``us`` is indexed by every US calendar session from before the first date of
    ``sessions`` to its last (New York dates; NaN = a session without a return, which
    stays NaN: an older session never stands in for it; see :func:`us_lag_column`).  A
    US session dated u closes at 16:00 New York time, i.e. 04:00 or 05:00 on u + 1 in
    Shanghai and Hong Kong, before their 09:30 open; the session dated d closes after
    d's Asian session.  So "dated strictly before d" is exactly "closed before the
    Asian session of d opened", across holidays on either side: after a US holiday
    the Asian session sees the US session before the holiday (again), after an Asian
    holiday it sees the last US session before its own date.  NaN before the first
    US session.
    """
    import numpy as np
    import pandas as pd

    us = us.sort_index()
    days = pd.DatetimeIndex(sessions).normalize()
    pos = us.index.normalize().searchsorted(days, side="left") - 1
    vals = us.to_numpy(dtype=float, na_value=np.nan)
    out = np.where(pos >= 0, vals[np.maximum(pos, 0)] if len(vals) else np.nan, np.nan)
    return pd.Series(out, index=sessions, name=US_LAG_COLUMN)


def study_inputs(
    panel: PricePanel,
    universe: Universe,
    symbols: list[str] | tuple[str, ...],
    kind: ReturnKind = "simple",
    factors: pd.DataFrame | None = None,
    us_lag: str | None = None,
) -> StudyInputs:
    """Returns, and regressors against every listed benchmark that has prices.

    With ``factors`` (Fama-French daily, decimals), securities on US sessions get
    the factor columns as extra regressors on their own dates; the factors are US
    factors, so other markets do not get them (a factor model drops them, counted
    in the attrition table).  Securities on :data:`LAGGED_US_MICS` get the column
    ``us_market_prev``: the previous US session's return of ``us_lag`` (default
    :func:`default_us_lag_benchmark`), used only by ``StudySpec(lagged_us=True)``;
    none when that benchmark has no prices.
    """
    import pandas as pd

    returns: dict[str, pd.Series] = {}
    market: dict[str, pd.DataFrame] = {}
    chosen: dict[str, str] = {}
    missing: dict[str, str] = {}
    candidates: dict[str, tuple[str, ...]] = {}
    listed: dict[str, tuple[str, ...]] = {}
    bench_returns: dict[str, pd.Series] = {}
    lag_sym = us_lag if us_lag is not None else default_us_lag_benchmark(universe)
    if us_lag is not None and (
        us_lag not in universe
        or us_lag not in panel
        or universe[us_lag].calendar not in US_CALENDARS
    ):
        from backtest.errors import SpecError

        raise SpecError(
            "lagged US benchmark unusable",
            field="us_lag",
            value=us_lag,
            expected="a security of the universe on a US calendar, with prices",
        )
    lag_us = (
        session_returns(panel, lag_sym, universe[lag_sym].calendar, kind)
        if lag_sym is not None and lag_sym in universe and lag_sym in panel
        else None
    )
    for sym in symbols:
        if sym not in universe:
            missing[sym] = "not in the universe"
            continue
        sec = universe[sym]
        if sym not in panel:
            missing[sym] = "no prices"
            continue
        have = tuple(b for b in sec.benchmarks if b in panel)
        if not have:
            missing[sym] = f"none of its benchmarks {list(sec.benchmarks)} has prices"
            continue
        r = session_returns(panel, sym, sec.calendar, kind)
        returns[sym] = r
        for b in have:
            if b not in bench_returns:
                bench_returns[b] = session_returns(panel, b, universe[b].calendar, kind)
            regs = pd.DataFrame({"market": bench_returns[b].reindex(r.index)})
            if factors is not None and sec.calendar in US_CALENDARS:
                regs = regs.join(factors.reindex(r.index))
            if lag_us is not None and lag_sym is not None and sec.mic in LAGGED_US_MICS:
                regs[US_LAG_COLUMN] = us_lag_column(lag_us, universe[lag_sym].calendar, r.index)
            market[regressor_key(sym, b, have[0])] = regs
        chosen[sym] = have[0]
        candidates[sym] = have
        listed[sym] = tuple(sec.benchmarks)
    return StudyInputs(
        returns=returns,
        market=market,
        benchmark_of=chosen,
        missing=missing,
        candidates=candidates,
        listed=listed,
    )


def _valid_span(series: pd.Series) -> tuple[object, object] | None:
    ok = series.notna().to_numpy()
    if not ok.any():
        return None
    idx = series.index[ok]
    return idx[0], idx[-1]


def choose_benchmarks(
    instances: pd.DataFrame,
    inputs: StudyInputs,
    estimation: tuple[int, int],
    event_span: tuple[int, int],
) -> BenchmarkChoice:
    """Per instance, the first listed benchmark that covers its windows.

    The span an instance needs is the sessions [day0 + estimation[0], day0 +
    event_span[1]] of the security's own exchange, cut to where the security
    itself has returns (a stock listed late is not the benchmark's fault).  A
    benchmark covers it when its first and last returns on those sessions
    bracket that span; gaps inside are left to the study's own rules.
    Instances of securities without returns pass through unchanged (the study
    records them as ``no_returns``).
    """
    import numpy as np
    import pandas as pd

    df = instances.reset_index(drop=True).copy()
    keys = df["security"].astype(str).to_numpy(dtype=object).copy()
    rows: list[dict[str, object]] = []
    drops: list[dict[str, object]] = []
    keep = np.ones(len(df), dtype=bool)
    spans: dict[str, tuple[object, object] | None] = {}  # by regressor key
    owns: dict[str, tuple[object, object] | None] = {}  # by security
    day0s = pd.to_datetime(df["day0"]).dt.tz_localize(None).dt.normalize()
    for i, (sym, d0) in enumerate(zip(df["security"], day0s, strict=True)):
        if sym not in inputs.returns:
            continue
        r = inputs.returns[sym]
        if sym not in owns:
            owns[sym] = _valid_span(r)
        own = owns[sym]
        pos = r.index.searchsorted(d0)
        if own is None or pos >= len(r.index) or r.index[pos] != d0:
            continue  # day 0 outside the data: the study says so
        lo = r.index[max(pos + estimation[0], 0)]
        hi = r.index[min(pos + event_span[1], len(r.index) - 1)]
        lo, hi = max(lo, own[0]), min(hi, own[1])
        cands = inputs.candidates[sym]
        listed = inputs.listed[sym]
        lacks = [f"{b} has no prices" for b in listed if b not in cands]
        pick = None
        for rank, b in enumerate(cands):
            key = regressor_key(sym, b, cands[0])
            if key not in spans:
                spans[key] = _valid_span(inputs.market[key]["market"])
            sp = spans[key]
            if sp is not None and sp[0] <= lo and sp[1] >= hi:
                pick = (rank, b, key)
                break
            lacks.append(f"{b} " + _missing_part(sp, lo, hi))
        need = f"needs {lo:%Y-%m-%d}..{hi:%Y-%m-%d}"
        if pick is None:
            keep[i] = False
            drops.append(
                {
                    "event_id": df.at[i, "event_id"],
                    "security": sym,
                    "day0": d0,
                    "group": df.at[i, "group"] if "group" in df else "",
                    "reason": "benchmark_missing",
                    "detail": f"{need}; " + "; ".join(lacks),
                }
            )
            continue
        _, b, key = pick
        keys[i] = key
        fallback = b != listed[0]
        rows.append(
            {
                "event_id": df.at[i, "event_id"],
                "security": sym,
                "day0": d0,
                "benchmark": b,
                "rank": listed.index(b) + 1,
                "fallback": fallback,
                "detail": (f"{need}; " + "; ".join(lacks)) if fallback else "",
            }
        )
    df["regressor"] = keys
    chosen = pd.DataFrame(rows, columns=list(BENCHMARK_COLUMNS))
    chosen["fallback"] = chosen["fallback"].astype(bool)
    return BenchmarkChoice(
        instances=df[keep].reset_index(drop=True),
        chosen=chosen,
        dropped=pd.DataFrame(drops, columns=list(BENCHMARK_DROP_COLUMNS)),
    )


def _missing_part(span: tuple[Any, Any] | None, lo: Any, hi: Any) -> str:
    """'starts 2021-03-12 (needs from 2020-07-17)' / 'ends 2024-08-05 (needs to ...)'."""
    if span is None:
        return "has no returns"
    parts = []
    if span[0] > lo:
        parts.append(f"starts {span[0]:%Y-%m-%d} (needs from {lo:%Y-%m-%d})")
    if span[1] < hi:
        parts.append(f"ends {span[1]:%Y-%m-%d} (needs to {hi:%Y-%m-%d})")
    return " and ".join(parts)
