"""``load_prices``: one entry point from a source (Yahoo, CSV directory, cache) to a PricePanel.

Every series is put on its own exchange's sessions: rows dated before the
calendar's coverage or on a non-session are handled by an explicit
:data:`NonSessionPolicy` and always recorded as findings (panel notes that
``verify`` turns back into rows of its table).

Whatever the source (CSV, cache, Yahoo), every series is screened before it
enters a panel (:func:`screen_series`): a non-finite or non-positive close and
a row dated after today are dropped, a non-finite or non-positive open, high,
low or volume becomes empty, each with an error-severity finding; and jumps of
10x or more that are no split ratio are ``level_shift`` findings.  So such
values never reach a study silently: the findings are in ``panel.notes``, in
``mib data verify`` and in a run's findings table.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from backtest.errors import DataError, InputFileError
from backtest.market.cache import CacheError, PriceCache
from backtest.market.checks import CheckPolicy, absurd_values, level_shift_issues
from backtest.market.csvsource import (
    CsvDirectorySource,
    clip_dates,
    find_symbol_file,
    latest_plausible_date,
    name_case_issue,
    read_price_csv,
    symbol_file_names,
)
from backtest.market.layouts import NumberFormat
from backtest.market.panel import Adjustment, PricePanel
from backtest.market.types import (
    FetchResult,
    Issue,
    NonSessionPolicy,
    PriceSource,
    Progress,
    RawSeries,
    UnknownSymbolError,
    bars_hash,
)

if TYPE_CHECKING:
    from backtest.market.stitch import StitchPolicy, StitchReport
    from backtest.universe import Universe

LoadSource = Literal["yahoo", "csv", "cache"]
# One directory, or several in priority order (first wins; see backtest.market.stitch).
PricesDirs = str | Path | Sequence[str | Path]
# A requested symbol without prices: recorded as a 'not_loaded' finding, or refused.
MissingPolicy = Literal["note", "raise"]


def align_to_sessions(
    raw: RawSeries, calendar: str, *, policy: NonSessionPolicy = "drop"
) -> RawSeries:
    """Check the series' dates against ``calendar``'s sessions, applying ``policy``.

    Rows before the calendar's first session cannot be checked and are dropped
    (one ``outside_calendar`` finding); rows on non-sessions are dropped
    (``drop``), kept (``keep``) or refused (``raise``), each one recorded.
    """
    from backtest.market.calendars import sessions

    sess = sessions(calendar)
    b = raw.bars
    issues = list(raw.issues)
    early = b.index < sess[0]
    if early.any():
        issues.append(
            Issue(
                raw.meta.symbol,
                "",
                "outside_calendar",
                "info",
                f"{int(early.sum())} rows {b.index[0]:%Y-%m-%d}.."
                f"{b.index[early][-1]:%Y-%m-%d} precede the {calendar} calendar "
                f"(from {sess[0]:%Y-%m-%d}); dropped",
            )
        )
        b = b[~early]
    off = ~b.index.isin(sess)
    if off.any():
        days = [f"{d:%Y-%m-%d}" for d in b.index[off]]
        if policy == "raise":
            raise DataError(
                f"{len(days)} rows on dates that are not {calendar} sessions, first {days[0]}",
                file=_file_of(raw),
                field=raw.meta.symbol,
                expected="rows on exchange sessions only",
            )
        verb = "dropped" if policy == "drop" else "kept"
        issues += [
            Issue(
                raw.meta.symbol,
                d,
                "non_session",
                "warning",
                f"row on a day that is not a {calendar} session; {verb}",
            )
            for d in days
        ]
        if policy == "drop":
            b = b[~off]
    if len(b) == len(raw.bars):
        return dataclasses.replace(raw, issues=tuple(issues))
    if b.empty:
        raise DataError(
            f"no rows on {calendar} sessions", field=raw.meta.symbol, file=_file_of(raw)
        )
    meta = dataclasses.replace(
        raw.meta,
        rows=len(b),
        first=f"{b.index[0]:%Y-%m-%d}",
        last=f"{b.index[-1]:%Y-%m-%d}",
        content_hash=bars_hash(b),
    )
    return RawSeries(bars=b, meta=meta, issues=tuple(issues))


_SCREENED = ("open", "high", "low", "close", "volume")


def screen_series(raw: RawSeries, policy: CheckPolicy | None = None) -> RawSeries:
    """Drop or blank what can be no price, whatever the source, recording each as an error.

    ``non_finite`` (inf, or a magnitude above ``policy.max_price``/``max_volume``)
    and ``non_positive`` (a price <= 0, a volume < 0): the cell becomes empty and
    such a close drops its row; ``future_date``: a row dated after today anywhere
    on Earth is dropped.  The CSV reader already did this naming file and line;
    here it catches the cache and Yahoo.  A series left without rows is an error.
    """
    import pandas as pd

    pol = policy or CheckPolicy()
    b = raw.bars
    cols = [c for c in _SCREENED if c in b]
    bounds = np.array([pol.max_volume if c == "volume" else pol.max_price for c in cols])
    absurd = np.zeros((len(b), len(cols)), dtype=bool)
    nonpos = np.zeros_like(absurd)
    for j, c in enumerate(cols):
        v = b[c].to_numpy(dtype="float64")
        r, _ = absurd_values(v[:, None], bounds[j : j + 1])
        absurd[r, j] = True
        with np.errstate(invalid="ignore"):
            nonpos[:, j] = ~absurd[:, j] & ((v < 0) if c == "volume" else (v <= 0))
    limit = latest_plausible_date()
    future = b.index.values.astype("datetime64[D]") > limit
    flagged = np.flatnonzero(future | (absurd | nonpos).any(axis=1))
    if not len(flagged):
        return raw
    sym = raw.meta.symbol
    is_close = np.array([c == "close" for c in cols])
    keep = ~future & ~((absurd | nonpos) & is_close).any(axis=1)
    issues = list(raw.issues)
    vals = b[cols].to_numpy(dtype="float64", copy=True)
    for i in flagged:
        day = f"{b.index[i]:%Y-%m-%d}"
        if future[i]:
            issues.append(
                Issue(
                    sym,
                    day,
                    "future_date",
                    "error",
                    f"dated after today ({limit} anywhere on Earth); row dropped",
                )
            )
            continue
        tail = "treated as empty" if keep[i] else "row dropped"
        for check, mask in (("non_finite", absurd[i]), ("non_positive", nonpos[i])):
            js = np.flatnonzero(mask)
            if not len(js):
                continue
            what = ", ".join(f"{cols[j]} {vals[i, j]:g}" for j in js)
            if check == "non_finite":
                want = "a finite number of magnitude <= " + ", ".join(
                    sorted({f"{bounds[j]:g}" for j in js})
                )
            else:
                want = " and ".join(
                    sorted({"a price > 0" if cols[j] != "volume" else "a volume >= 0" for j in js})
                )
            issues.append(Issue(sym, day, check, "error", f"{what}: expected {want}; {tail}"))
            vals[i, js] = np.nan
    out = b.loc[keep].copy()
    out[cols] = pd.DataFrame(vals[keep], index=out.index, columns=cols)
    if out.empty:
        raise DataError(
            "no usable rows: every row was dropped as no price "
            f"({issues[-1].check}: {issues[-1].detail})",
            field=sym,
            file=_file_of(raw),
            expected="finite, positive prices dated up to today",
        )
    meta = dataclasses.replace(
        raw.meta,
        rows=len(out),
        first=f"{out.index[0]:%Y-%m-%d}",
        last=f"{out.index[-1]:%Y-%m-%d}",
        content_hash=bars_hash(out),
    )
    return RawSeries(bars=out, meta=meta, issues=tuple(issues))


def _level_shift_notes(raw: RawSeries, policy: CheckPolicy) -> list[str]:
    close = raw.bars["close"].to_numpy(dtype="float64")
    ok = np.isfinite(close) & (close > 0) & (close <= policy.max_price)
    return [
        i.as_note()
        for i in level_shift_issues(raw.meta.symbol, close[ok], raw.bars.index[ok], policy)
    ]


def _file_of(raw: RawSeries) -> str | None:
    origin = raw.meta.origin.removeprefix("stitched on returns: ")
    return origin.split(" [")[0] if raw.meta.source == "csv" else None


def _check_symbols(symbols: Sequence[str], universe: Universe) -> None:
    unknown = [s for s in symbols if s not in universe]
    if unknown:
        raise UnknownSymbolError(
            f"not in the universe: {', '.join(unknown)}",
            field="symbols",
            value=unknown,
            expected="symbols listed in events/universe.yaml",
        )


def build_panel(
    series: Mapping[str, RawSeries],
    universe: Universe,
    *,
    policy: NonSessionPolicy = "drop",
    notes: Sequence[str] = (),
    synthetic: bool = False,
    checks: CheckPolicy | None = None,
) -> tuple[PricePanel, dict[str, RawSeries]]:
    """Screen every series (:func:`screen_series`), align it to its exchange's sessions
    and assemble the panel; ``level_shift`` findings are added to the notes."""
    pol = checks or CheckPolicy()
    aligned = {
        s: align_to_sessions(screen_series(r, pol), universe[s].calendar, policy=policy)
        for s, r in series.items()
    }
    all_notes = list(notes) + [i.as_note() for r in aligned.values() for i in r.issues]
    all_notes += [n for r in aligned.values() for n in _level_shift_notes(r, pol)]
    panel = PricePanel(
        bars={s: r.bars for s, r in aligned.items()},
        meta={s: r.meta for s, r in aligned.items()},
        synthetic=synthetic,
        notes=tuple(dict.fromkeys(all_notes)),
    )
    return panel, aligned


def load_prices(
    source: LoadSource,
    symbols: Sequence[str] | None = None,
    *,
    universe: Universe,
    prices_dir: PricesDirs | None = None,
    start: str | None = None,
    end: str | None = None,
    cache_dir: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    refresh: bool = False,
    progress: Progress | None = None,
    non_sessions: NonSessionPolicy = "drop",
    missing: MissingPolicy = "note",
    adjustment: Adjustment | None = None,
    write_cache: bool | None = None,
    yahoo: PriceSource | None = None,
    stitch: StitchPolicy | None = None,
    numbers: NumberFormat | None = None,
    timeout: float | None = None,
) -> PricePanel:
    """Daily bars for ``symbols`` (default: the whole universe) from ``source``.

    ``csv`` reads ``prices_dir`` (``columns``/``adjustment`` override the layout);
    several directories (priority order) are stitched per symbol on returns under
    ``stitch`` (default :class:`~backtest.market.stitch.StitchPolicy`), a refused
    join keeping the earlier series with a ``stitch_refused`` finding;
    ``yahoo`` serves cached Yahoo series unless ``refresh`` and fetches the rest;
    ``cache`` works offline from the cache (an empty cache is an error that says
    how to check CSV files instead).  ``write_cache`` (default: True for
    yahoo, False for csv) stores what was read.  ``numbers`` names the CSV files'
    decimal mark and thousands separator (default: '.' and none; others are
    refused).  ``timeout`` is the total deadline of a Yahoo fetch in seconds
    (default 30).  Each series keeps its own
    exchange's sessions; findings made while loading are in ``panel.notes``.
    A symbol without prices is a ``not_loaded`` finding (``missing='note'``) or
    an error (``missing='raise'``); no prices at all is always an error.
    """
    syms = list(symbols) if symbols is not None else list(universe.symbols)
    _check_symbols(syms, universe)
    cache = PriceCache.open(cache_dir)
    if source == "cache":
        got = _from_cache(cache, syms if symbols is not None else None, universe)
    elif source == "csv":
        dirs = price_dirs(prices_dir)
        if len(dirs) > 1:
            got = fetch_stitched(
                dirs,
                syms,
                columns=columns,
                adjustment=adjustment,
                policy=stitch,
                progress=progress,
                numbers=numbers,
            ).fetch_result()
        else:
            got = CsvDirectorySource(
                dirs[0], columns=columns, adjustment=adjustment, numbers=numbers
            ).fetch(syms, progress=progress)
    elif source == "yahoo":
        got = _yahoo(
            syms,
            cache,
            yahoo=yahoo or _default_yahoo(universe, timeout),
            refresh=refresh,
            start=start,
            end=end,
            progress=progress,
            write=write_cache is not False,
        )
    else:
        raise InputFileError(
            "unknown price source", field="source", value=source, expected="yahoo, csv or cache"
        )
    return _assemble(
        got,
        universe,
        start=start,
        end=end,
        non_sessions=non_sessions,
        missing=missing,
        where=_where(prices_dir) if source == "csv" else None,
        cache=cache if write_cache and source == "csv" else None,
    )


def _assemble(
    got: FetchResult,
    universe: Universe,
    *,
    start: str | None,
    end: str | None,
    non_sessions: NonSessionPolicy,
    missing: MissingPolicy,
    where: str | None,
    cache: PriceCache | None,
) -> PricePanel:
    """Refuse missing prices per ``missing``, clip, align to sessions, optionally cache."""
    if got.failures and (missing == "raise" or not got.series):
        first = next(iter(got.failures.items()))
        raise DataError(
            f"no prices for {', '.join(got.failures)} ({first[1]})",
            file=where,
            expected="a series for every requested symbol"
            if missing == "raise"
            else "at least one series",
        )
    series, notes = _clip_all(got, start, end)
    panel, aligned = build_panel(series, universe, policy=non_sessions, notes=notes)
    if cache is not None:
        cache.write(aligned)
    return panel


def price_dirs(prices_dir: PricesDirs | None) -> list[Path]:
    """``prices_dir`` as a non-empty list of directories (priority order)."""
    if prices_dir is None or (
        not isinstance(prices_dir, str | os.PathLike) and len(prices_dir) == 0
    ):
        raise InputFileError(
            "the csv source needs a directory",
            field="--prices-dir",
            expected="a directory of <SYMBOL>.csv",
        )
    if isinstance(prices_dir, str | os.PathLike):
        return [Path(prices_dir)]
    return [Path(d) for d in prices_dir]


def _where(prices_dir: PricesDirs | None) -> str | None:
    if prices_dir is None or isinstance(prices_dir, str | os.PathLike):
        return None if prices_dir is None else str(prices_dir)
    return " + ".join(str(d) for d in prices_dir)


def fetch_stitched(
    dirs: Sequence[str | Path],
    symbols: Sequence[str],
    *,
    columns: Mapping[str, str] | None = None,
    adjustment: Adjustment | None = None,
    policy: StitchPolicy | None = None,
    progress: Progress | None = None,
    numbers: NumberFormat | None = None,
) -> StitchReport:
    """Read each symbol's file from every directory that has one and stitch them in order.

    A symbol with no file in any directory is a failure; the files are read in
    full (clip to a date range after stitching, so the overlap is not lost).
    """
    from backtest.market.stitch import StitchSource, stitch_many

    paths = [Path(d) for d in dirs]
    for d in paths:
        if not d.is_dir():
            raise InputFileError("price directory not found", file=d)
    candidates: dict[str, list[StitchSource]] = {}
    failures: dict[str, str] = {}
    for i, sym in enumerate(symbols, 1):
        files = [f for d in paths if (f := find_symbol_file(d, sym)) is not None]
        if files:
            candidates[sym] = [
                StitchSource(
                    str(f),
                    _with_name_case(
                        f,
                        sym,
                        read_price_csv(
                            f, sym, columns=columns, adjustment=adjustment, numbers=numbers
                        ),
                    ),
                )
                for f in files
            ]
        else:
            failures[sym] = (
                f"no file {' or '.join(symbol_file_names(sym))} in any of "
                f"{', '.join(map(str, paths))}"
            )
        if progress is not None:
            progress(i, len(symbols), sym)
    return stitch_many(candidates, policy, failures)


def _with_name_case(path: Path, symbol: str, raw: RawSeries) -> RawSeries:
    return dataclasses.replace(raw, issues=(*name_case_issue(path, symbol), *raw.issues))


@dataclass(frozen=True)
class StitchedLoad:
    """A panel of stitched series and the stitch report (segments and joins) behind it."""

    panel: PricePanel
    report: StitchReport


def load_stitched(
    dirs: Sequence[str | Path],
    symbols: Sequence[str] | None = None,
    *,
    universe: Universe,
    policy: StitchPolicy | None = None,
    start: str | None = None,
    end: str | None = None,
    columns: Mapping[str, str] | None = None,
    adjustment: Adjustment | None = None,
    cache_dir: str | Path | None = None,
    write_cache: bool = False,
    progress: Progress | None = None,
    non_sessions: NonSessionPolicy = "drop",
    missing: MissingPolicy = "note",
    numbers: NumberFormat | None = None,
) -> StitchedLoad:
    """Like ``load_prices('csv', prices_dir=dirs)``, also returning the stitch report."""
    syms = list(symbols) if symbols is not None else list(universe.symbols)
    _check_symbols(syms, universe)
    report = fetch_stitched(
        dirs,
        syms,
        columns=columns,
        adjustment=adjustment,
        policy=policy,
        progress=progress,
        numbers=numbers,
    )
    panel = _assemble(
        report.fetch_result(),
        universe,
        start=start,
        end=end,
        non_sessions=non_sessions,
        missing=missing,
        where=_where(list(dirs)),
        cache=PriceCache.open(cache_dir) if write_cache else None,
    )
    return StitchedLoad(panel=panel, report=report)


def _clip_all(
    got: FetchResult, start: str | None, end: str | None
) -> tuple[dict[str, RawSeries], list[str]]:
    """Series clipped to [start, end]; failures and empty ranges become not_loaded notes."""
    notes = [
        Issue(s, "", "not_loaded", "warning", why).as_note() for s, why in got.failures.items()
    ]
    series = {s: clip_dates(r, start, end) for s, r in got.series.items()}
    notes += [
        Issue(
            s,
            "",
            "not_loaded",
            "warning",
            f"no rows between {start or 'start'} and {end or 'end'} "
            f"(data {got.series[s].meta.first}..{got.series[s].meta.last})",
        ).as_note()
        for s, r in series.items()
        if not r.meta.rows
    ]
    return {s: r for s, r in series.items() if r.meta.rows}, notes


def _from_cache(cache: PriceCache, syms: list[str] | None, universe: Universe) -> FetchResult:
    entries = cache.entries()
    if not entries and syms is None:
        raise CacheError(
            "the price cache is empty: nothing was imported or fetched into it "
            "(CSV files read with --prices-dir are not cached)",
            file=cache.root,
            expected="'mib data import DIR' or 'mib data fetch' first; to check "
            "CSV files without importing them, 'mib data verify "
            "--prices-dir DIR'",
        )
    wanted = syms if syms is not None else [s for s in entries if s in universe]
    have = [s for s in wanted if s in entries]
    why = (
        f"not in the price cache {cache.root}; run 'mib data fetch' or 'mib data import DIR' first"
    )
    return FetchResult(
        series=cache.load(have), failures={s: why for s in wanted if s not in entries}
    )


def _covers(first: str, last: str, start: str | None, end: str | None, slack_days: int = 7) -> bool:
    """Whether a cached range [first, last] covers [start, end] (up to a week of holidays)."""
    import pandas as pd

    slack = pd.Timedelta(days=slack_days)
    ok_start = start is None or pd.Timestamp(first) <= pd.Timestamp(start) + slack
    ok_end = end is None or pd.Timestamp(last) >= pd.Timestamp(end) - slack
    return ok_start and ok_end


def _default_yahoo(universe: Universe, timeout: float | None = None) -> PriceSource:
    from backtest.market.calendars import calendar_data
    from backtest.market.yahoo import YahooSource

    def tz_of(symbol: str) -> str | None:
        return calendar_data(universe[symbol].calendar).tz if symbol in universe else None

    if timeout is None:
        return YahooSource(tz_of=tz_of)
    return YahooSource(tz_of=tz_of, timeout=timeout)


def _yahoo(
    syms: list[str],
    cache: PriceCache,
    *,
    yahoo: PriceSource,
    refresh: bool,
    start: str | None,
    end: str | None,
    progress: Progress | None,
    write: bool,
) -> FetchResult:
    src = yahoo
    cached = {s: e for s, e in cache.entries().items() if e.meta.source == "yahoo"}
    have = (
        []
        if refresh
        else [
            s
            for s in syms
            if s in cached and _covers(cached[s].meta.first, cached[s].meta.last, start, end)
        ]
    )
    todo = [s for s in syms if s not in have]
    fetched = (
        src.fetch(todo, start=start, end=end, progress=progress) if todo else FetchResult(series={})
    )
    fetched = FetchResult(
        series={s: screen_series(r) for s, r in fetched.series.items()}, failures=fetched.failures
    )
    if write and fetched.series:
        cache.write(fetched.series)
    series = {**cache.load(have), **fetched.series}
    return FetchResult(
        series={s: series[s] for s in syms if s in series}, failures=fetched.failures
    )
