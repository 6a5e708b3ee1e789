"""Stitch one symbol's series from several sources by chaining returns, never levels.

Sources come in priority order; the first wins wherever it has rows.  Each
further source is compared with the series stitched so far on their common
dates and, when the comparison passes :class:`StitchPolicy`, extends it before
its first and after its last date with the source's own returns: its levels are
rescaled by the ratio of the two closes on the join date, so the series is
continuous there and every return on the new segment equals the source's own
close-to-close return.  Three layers: numpy kernels (:func:`return_gaps`,
:func:`classify_disagreements`, :func:`assess_overlap`), :func:`stitch_series`
that labels them for one symbol, and :class:`StitchReport` tables for many.
Reading files is the caller's job (``backtest.market.load``).

The rule, in full (``tol`` is ``return_tol``):

1. Overlap.  Returns are compared on the common dates only: ``r_k`` is the
   close-to-close return between consecutive common dates in each source, so a
   row one source has and the other lacks (a suspension, a holiday row) never
   counts as a disagreement.  The overlap is the number of common returns; no
   common date is refused as 'no overlap', fewer than ``min_overlap`` common
   returns as too short.
2. Per date.  ``|r_a - r_b| > tol`` is a disagreement.  A disagreement is an
   *isolated bad row* when the level ratio a/b is back within ``tol`` of its
   previous value one common date later: one row of one source is off (a
   mid-session snapshot, a typo) and the next return undoes it, so the two
   sources still agree on everything else.  Any other disagreement is a
   *step* in the ratio -- a dividend or bonus issue adjusted in one source and
   not the other, a split, a different vintage -- and refuses the join.  A
   disagreement on the last common return cannot be shown to revert and counts
   as a step.
3. Overall.  Disagreements (isolated ones included) may cover at most
   ``max_beyond_share`` of the overlap, and the level ratio, with isolated bad
   rows left out, may range over at most ``drift_tol`` (``max/min - 1``): this
   catches sources whose per-date differences are small but add up (small
   dividends adjusted in one source only, a different qfq arithmetic).
4. Near the join.  The ``join_window`` common returns ending at the join date
   (starting at it, for an extension backwards) must all agree, and the source
   must have a row on the join date itself: the rescaling ratio is taken there,
   so a bad row at the join would shift every extended level.
5. What is used.  Only rows outside the stitched range are added; a date
   missing inside the range (in the primary, say) stays missing, and a gap
   between sources stays a gap -- nothing is interpolated or filled.  Isolated
   bad rows are not repaired: the higher-priority row stays and is recorded as
   a ``stitch_isolated_row`` finding.  Volume is taken as the source gives it;
   the stitched frame keeps the primary's columns (NaN where a source lacks one).
6. Basis.  The stitched series has the primary's basis when every source used
   has the same basis; mixing 'unadjusted' or 'unknown' with anything else
   gives 'unknown'; two different adjusted labels keep the primary's.

A source that adds no rows is still checked (verdict ``covered``); a refused
source adds nothing and leaves a ``stitch_refused`` warning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from backtest.errors import SpecError
from backtest.market.panel import Adjustment, SeriesMeta, frame_hash
from backtest.market.types import FetchResult, Issue, RawSeries

if TYPE_CHECKING:
    import pandas as pd

FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]
IntArray = npt.NDArray[np.int64]
Verdict = Literal["joined", "covered", "refused"]

AGREE, ISOLATED, STEP = 0, 1, 2
SEGMENT_COLUMNS: tuple[str, ...] = ("symbol", "source", "basis", "first", "last", "rows")
JOIN_COLUMNS: tuple[str, ...] = (
    "symbol",
    "from_source",
    "to_source",
    "overlap",
    "max_abs_diff",
    "max_date",
    "share_beyond",
    "drift",
    "isolated_rows",
    "verdict",
    "reason",
)


@dataclass(frozen=True, slots=True)
class StitchPolicy:
    """When two sources agree well enough to chain their returns (see the module docstring).

    Defaults: 10 bp per date is above cent rounding of prices over ~10 and float32
    storage, and below any dividend worth adjusting for; 20 bp of drift bounds the
    error a join can add to a cumulative return; 20 common returns is a month.
    """

    return_tol: float = 1e-3  # max |r_a - r_b| on a common return date
    drift_tol: float = 2e-3  # max range (max/min - 1) of the level ratio a/b
    min_overlap: int = 20  # common returns needed to judge a join
    max_beyond_share: float = 0.02  # share of common returns beyond return_tol allowed
    join_window: int = 5  # common returns next to the join date that must agree

    def __post_init__(self) -> None:
        for name in ("return_tol", "drift_tol", "max_beyond_share"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0 <= v < 1):
                raise SpecError(
                    "invalid stitch policy", field=name, value=v, expected="a number in [0, 1)"
                )
        if not (isinstance(self.min_overlap, int) and self.min_overlap >= 1):
            raise SpecError(
                "invalid stitch policy",
                field="min_overlap",
                value=self.min_overlap,
                expected="an integer >= 1",
            )
        if not (isinstance(self.join_window, int) and 1 <= self.join_window <= self.min_overlap):
            raise SpecError(
                "invalid stitch policy",
                field="join_window",
                value=self.join_window,
                expected=f"an integer in [1, min_overlap={self.min_overlap}]",
            )

    def describe(self) -> str:
        return (
            f"return_tol={self.return_tol:g}, drift_tol={self.drift_tol:g}, "
            f"min_overlap={self.min_overlap}, max_beyond_share={self.max_beyond_share:g}, "
            f"join_window={self.join_window}"
        )


# ---------------------------------------------------------------- kernels (numpy only)


def return_gaps(a: FloatArray, b: FloatArray) -> FloatArray:
    """``|r_a - r_b|`` for each common return; ``a``/``b`` are closes on the same dates.

    NaN (a non-positive or missing close) stays NaN; callers treat it as a disagreement.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(a[1:] / a[:-1] - b[1:] / b[:-1])


def classify_disagreements(a: FloatArray, b: FloatArray, tol: float) -> Int8Array:
    """Per common return: ``AGREE``, ``ISOLATED`` (part of a one-row excursion) or ``STEP``.

    Return k spans common rows k..k+1.  When it disagrees and the level ratio
    a/b on row k+2 is within ``tol`` of row k, row k+1 is an isolated bad row and
    returns k and k+1 are both ``ISOLATED``; otherwise return k is a ``STEP``.
    """
    gap = return_gaps(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a / b
    out = np.zeros(len(gap), dtype=np.int8)
    k = 0
    while k < len(gap):
        if gap[k] <= tol:
            k += 1
        elif k + 1 < len(gap) and abs(ratio[k + 2] / ratio[k] - 1.0) <= tol:
            out[k] = out[k + 1] = ISOLATED
            k += 2
        else:
            out[k] = STEP
            k += 1
    return out


@dataclass(frozen=True, slots=True)
class OverlapStats:
    """The comparison of two close arrays on their common dates (positions, no labels)."""

    overlap: int  # common returns
    max_abs_diff: float  # largest |r_a - r_b| (NaN counts as inf); 0 when no overlap
    argmax: int  # common-row position of the largest (the return's end row); -1
    n_beyond: int  # common returns beyond return_tol
    drift: float  # range of a/b without isolated bad rows
    classes: Int8Array  # per common return: AGREE, ISOLATED or STEP
    isolated_rows: IntArray  # common-row positions of isolated bad rows

    @property
    def share_beyond(self) -> float:
        return self.n_beyond / self.overlap if self.overlap else 0.0

    @property
    def n_steps(self) -> int:
        return int((self.classes == STEP).sum())


def assess_overlap(a: FloatArray, b: FloatArray, policy: StitchPolicy) -> OverlapStats:
    """Compare closes ``a`` and ``b`` on their common dates under ``policy``."""
    if len(a) < 2:
        e = np.zeros(0, dtype=np.int64)
        return OverlapStats(0, 0.0, -1, 0, 0.0, np.zeros(0, dtype=np.int8), e)
    gap = np.nan_to_num(return_gaps(a, b), nan=np.inf)
    classes = classify_disagreements(a, b, policy.return_tol)
    iso = np.flatnonzero(classes == ISOLATED)
    bad_rows = iso[::2] + 1  # ISOLATED comes in pairs (k, k+1): row k+1 is bad
    keep = np.ones(len(a), dtype=bool)
    keep[bad_rows] = False
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (a / b)[keep]
    drift = float(ratio.max() / ratio.min() - 1.0) if np.isfinite(ratio).all() else np.inf
    k = int(gap.argmax())
    return OverlapStats(
        overlap=len(gap),
        max_abs_diff=float(gap[k]),
        argmax=k + 1,
        n_beyond=int((gap > policy.return_tol).sum()),
        drift=drift,
        classes=classes,
        isolated_rows=bad_rows.astype(np.int64),
    )


# ---------------------------------------------------------------- labelled results


@dataclass(frozen=True, slots=True)
class StitchSource:
    """One candidate series and the label (usually the file path) that names it."""

    label: str
    series: RawSeries


@dataclass(frozen=True, slots=True)
class Segment:
    """Which source supplies which date range of a stitched series."""

    symbol: str
    source: str
    basis: str
    first: str
    last: str
    rows: int


@dataclass(frozen=True, slots=True)
class Join:
    """The overlap check of one source against the series stitched before it."""

    symbol: str
    from_source: str  # the source(s) supplying the common dates, '+'-joined
    to_source: str
    overlap: int  # common returns
    max_abs_diff: float
    max_date: str  # date of the largest disagreement ('' if none or 0)
    share_beyond: float  # share of common returns beyond return_tol
    drift: float  # range of the level ratio, isolated bad rows left out
    isolated_rows: tuple[str, ...]
    verdict: Verdict
    reason: str  # one line; '' when joined or covered

    def summary(self) -> str:
        """'overlap 221, max |Δr| 8.7e-08 on 2025-08-25[, isolated rows ...]'."""
        iso = f", isolated rows {', '.join(self.isolated_rows)}" if self.isolated_rows else ""
        return (
            f"overlap {self.overlap}, max |Δr| {self.max_abs_diff:.2g}"
            + (f" on {self.max_date}" if self.max_date else "")
            + iso
        )

    def as_issue(self) -> Issue:
        if self.verdict == "refused":
            return Issue(
                self.symbol,
                "",
                "stitch_refused",
                "warning",
                f"{self.reason}; kept the series without it",
            )
        return Issue(
            self.symbol,
            "",
            "stitch_joined" if self.verdict == "joined" else "stitch_covered",
            "info",
            f"{self.to_source} {self.verdict}: {self.summary()}",
        )


@dataclass(frozen=True, slots=True)
class StitchResult:
    """One symbol: the stitched series, its segments and the join checks."""

    series: RawSeries
    segments: tuple[Segment, ...]
    joins: tuple[Join, ...]
    policy: StitchPolicy

    @property
    def refused(self) -> tuple[Join, ...]:
        return tuple(j for j in self.joins if j.verdict == "refused")


@dataclass(frozen=True)
class StitchReport:
    """Stitch results for many symbols, with symbols no source had (``failures``)."""

    results: Mapping[str, StitchResult]
    policy: StitchPolicy
    failures: Mapping[str, str] = field(default_factory=dict)

    def segments_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [dataclasses.astuple(s) for r in self.results.values() for s in r.segments],
            columns=list(SEGMENT_COLUMNS),
        )

    def joins_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            (*dataclasses.astuple(j)[:8], ", ".join(j.isolated_rows), j.verdict, j.reason)
            for r in self.results.values()
            for j in r.joins
        ]
        return pd.DataFrame(rows, columns=list(JOIN_COLUMNS))

    @property
    def refused(self) -> tuple[Join, ...]:
        return tuple(j for r in self.results.values() for j in r.refused)

    def fetch_result(self) -> FetchResult:
        return FetchResult(
            series={s: r.series for s, r in self.results.items()}, failures=dict(self.failures)
        )


# ---------------------------------------------------------------- stitching one symbol


def stitch_series(
    symbol: str, sources: Sequence[StitchSource], policy: StitchPolicy | None = None
) -> StitchResult:
    """Chain ``sources`` (priority order, first wins) into one series for ``symbol``."""
    pol = policy or StitchPolicy()
    if not sources:
        raise SpecError("nothing to stitch", field=symbol, expected="at least one source")
    first = sources[0]
    bars = first.series.bars
    segments = [_segment(symbol, first, bars)]
    issues = list(first.series.issues)
    joins: list[Join] = []
    used = [first]
    for src in sources[1:]:
        join, before, after = _check(symbol, bars, segments, src, pol)
        joins.append(join)
        issues.append(join.as_issue())
        if join.verdict == "refused":
            continue
        issues += _isolated_issues(symbol, join, src)
        if join.verdict == "covered":
            continue
        used.append(src)
        bars, added = _extend(bars, src.series.bars, before, after)
        segments += [_segment(symbol, src, part) for part in added]
        issues += [
            i
            for i in src.series.issues
            if not i.date
            or any(s.first <= i.date <= s.last for s in segments if s.source == src.label)
        ]
    segments.sort(key=lambda s: s.first)
    meta = _stitched_meta(symbol, bars, used, segments, joins)
    series = RawSeries(bars=bars, meta=meta, issues=tuple(issues))
    return StitchResult(series=series, segments=tuple(segments), joins=tuple(joins), policy=pol)


def _segment(symbol: str, src: StitchSource, part: pd.DataFrame) -> Segment:
    return Segment(
        symbol,
        src.label,
        src.series.meta.adjustment,
        f"{part.index[0]:%Y-%m-%d}",
        f"{part.index[-1]:%Y-%m-%d}",
        len(part),
    )


def _check(
    symbol: str, bars: pd.DataFrame, segments: list[Segment], src: StitchSource, pol: StitchPolicy
) -> tuple[Join, pd.DatetimeIndex, pd.DatetimeIndex]:
    """The join record and the source's dates before and after the stitched range."""
    sec = src.series.bars
    common = bars.index.intersection(sec.index)
    a = bars["close"].reindex(common).to_numpy(dtype="float64")
    b = sec["close"].reindex(common).to_numpy(dtype="float64")
    st = assess_overlap(a, b, pol)
    before = sec.index[sec.index < bars.index[0]]
    after = sec.index[sec.index > bars.index[-1]]
    d0, d1 = (f"{common[0]:%Y-%m-%d}", f"{common[-1]:%Y-%m-%d}") if len(common) else ("", "")
    from_src = (
        "+".join(
            dict.fromkeys(
                s.source
                for s in sorted(segments, key=lambda g: g.first)
                if s.first <= d1 and s.last >= d0
            )
        )
        or segments[0].source
    )
    why = _refusal(st, pol, bars, sec, before, after, common)
    verdict: Verdict = "refused" if why else ("joined" if len(before) or len(after) else "covered")
    max_date = f"{common[st.argmax]:%Y-%m-%d}" if st.argmax >= 0 and st.max_abs_diff else ""
    reason = ""
    if why:
        reason = (
            f"{symbol}: refused joining {src.label} to {from_src}: {why}; overlap "
            f"{st.overlap} common returns"
            + (f", largest |Δr| {st.max_abs_diff:.4g} on {max_date}" if max_date else "")
        )
    join = Join(
        symbol=symbol,
        from_source=from_src,
        to_source=src.label,
        overlap=st.overlap,
        max_abs_diff=st.max_abs_diff,
        max_date=max_date,
        share_beyond=st.share_beyond,
        drift=st.drift,
        isolated_rows=tuple(f"{common[p]:%Y-%m-%d}" for p in st.isolated_rows),
        verdict=verdict,
        reason=reason,
    )
    return join, before, after


def _refusal(
    st: OverlapStats,
    pol: StitchPolicy,
    bars: pd.DataFrame,
    sec: pd.DataFrame,
    before: pd.DatetimeIndex,
    after: pd.DatetimeIndex,
    common: pd.DatetimeIndex,
) -> str:
    """Why the join is refused ('' when it passes), first failing rule only."""
    if len(common) == 0:
        return (
            f"no overlap (stitched {bars.index[0]:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d}, "
            f"source {sec.index[0]:%Y-%m-%d}..{sec.index[-1]:%Y-%m-%d})"
        )
    if st.overlap < pol.min_overlap:
        return f"overlap too short ({st.overlap} < min_overlap {pol.min_overlap})"
    if st.n_steps:
        k = int(np.flatnonzero(st.classes == STEP)[0]) + 1
        return (
            f"returns disagree beyond return_tol {pol.return_tol:g} on {st.n_steps} "
            f"date(s) that do not revert, first {common[k]:%Y-%m-%d}"
        )
    if st.share_beyond > pol.max_beyond_share:
        return (
            f"{st.share_beyond:.1%} of common returns beyond return_tol "
            f"{pol.return_tol:g} (max_beyond_share {pol.max_beyond_share:.1%})"
        )
    if st.drift > pol.drift_tol:
        return (
            f"the level ratio drifts {st.drift:.3%} over the overlap "
            f"(drift_tol {pol.drift_tol:.3%})"
        )
    w = pol.join_window
    for side, dates, anchor, window in (
        ("after", after, bars.index[-1], st.classes[-w:]),
        ("before", before, bars.index[0], st.classes[:w]),
    ):
        if not len(dates):
            continue
        if anchor not in sec.index:
            return f"the source has no row on the join date {anchor:%Y-%m-%d} ({side})"
        if (window != AGREE).any():
            return f"returns disagree within {w} common returns of the join date {anchor:%Y-%m-%d}"
    return ""


def _extend(
    bars: pd.DataFrame, sec: pd.DataFrame, before: pd.DatetimeIndex, after: pd.DatetimeIndex
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """``bars`` extended with ``sec`` rows rescaled at each join date, and the added parts."""
    import pandas as pd

    parts: list[pd.DataFrame] = []
    pieces = [bars]
    for dates, anchor in ((before, bars.index[0]), (after, bars.index[-1])):
        if not len(dates):
            continue
        factor = float(bars.at[anchor, "close"]) / float(sec.at[anchor, "close"])
        part = sec.loc[dates].reindex(columns=bars.columns)
        prices = [c for c in ("open", "high", "low", "close") if c in part]
        part[prices] = part[prices] * factor
        parts.append(part)
        pieces.insert(0 if anchor == bars.index[0] else len(pieces), part)
    out = pd.concat(pieces).astype("float64")
    out.index.name = "date"
    return out, parts


def _isolated_issues(symbol: str, join: Join, src: StitchSource) -> list[Issue]:
    return [
        Issue(
            symbol,
            d,
            "stitch_isolated_row",
            "warning",
            f"{join.from_source} and {src.label} disagree on this row only (the next "
            f"return reverts); one of them is a bad row; the {join.from_source} row "
            "is kept",
        )
        for d in join.isolated_rows
    ]


def combined_basis(bases: Sequence[Adjustment]) -> Adjustment:
    """The basis of a series stitched from sources of ``bases`` (primary first)."""
    if len(set(bases)) == 1:
        return bases[0]
    if "unadjusted" in bases or "unknown" in bases:
        return "unknown"
    return bases[0]


def _stitched_meta(
    symbol: str,
    bars: pd.DataFrame,
    used: list[StitchSource],
    segments: list[Segment],
    joins: list[Join],
) -> SeriesMeta:
    primary = used[0].series.meta
    if len(used) == 1 and not joins:
        return primary
    basis = combined_basis([u.series.meta.adjustment for u in used])
    segs = " + ".join(f"{s.source} [{s.basis}] {s.first}..{s.last}" for s in segments)
    checks = "; ".join(
        f"{_short(j.to_source)}: "
        + (j.summary() if j.verdict != "refused" else "refused, see stitch_refused")
        for j in joins
    )
    mixed = "" if basis == primary.adjustment else f"; bases differ, so {basis}"
    origin = (
        f"stitched on returns: {segs} ({checks}){mixed}"
        if len(used) > 1
        else f"{primary.origin}; stitch checks: {checks}"
    )
    return SeriesMeta(
        symbol=symbol,
        source=primary.source,
        adjustment=basis,
        origin=origin,
        fetched_at=max(u.series.meta.fetched_at for u in used),
        rows=len(bars),
        first=f"{bars.index[0]:%Y-%m-%d}",
        last=f"{bars.index[-1]:%Y-%m-%d}",
        content_hash=frame_hash(bars),
    )


def _short(label: str) -> str:
    """The last two parts of a path label ('yahoo_danyoko/688256.SS.csv')."""
    parts = label.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def stitch_many(
    candidates: Mapping[str, Sequence[StitchSource]],
    policy: StitchPolicy | None = None,
    failures: Mapping[str, str] | None = None,
) -> StitchReport:
    """:func:`stitch_series` for each symbol of ``candidates``."""
    pol = policy or StitchPolicy()
    return StitchReport(
        results={s: stitch_series(s, c, pol) for s, c in candidates.items()},
        policy=pol,
        failures=dict(failures or {}),
    )
