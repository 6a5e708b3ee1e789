"""Data checks: a table of findings about a price panel.

Kernels take numpy arrays and return index arrays; :func:`verify` labels them
and adds the findings recorded while loading (panel notes).  Checks:

===================  ========  =================================================
check                severity  meaning
===================  ========  =================================================
gap                  warning   a session of the exchange without a row (non A/H stock)
suspension           warning   an A-share/HK stock session without a row (listed span)
duplicate_date       error     two rows with the same date
non_positive         error     a price <= 0 (or a volume < 0); dropped while loading
future_date          error     a row dated after today anywhere on Earth; dropped while loading
file_name_case       warning   the CSV file matched its symbol only ignoring case (amd.csv)
missing_close        warning   a row without a close
stale                warning   the close unchanged for ``stale_run`` rows or more
split_like           warning   a jump matching a split ratio that persists (unadjusted split?)
spike                warning   a split-ratio jump that reverses the next row (bad print)
level_shift          error     a close-to-close jump of ``level_shift_factor`` (10x) or more,
                               up or down, that is no split ratio (x100 units, wrong scale)
non_finite           error     inf, -inf, or a magnitude above ``max_price`` (1e9) for a
                               price or ``max_volume`` (1e15) for a volume (1e308 fill values)
change_mismatch      error     the file's own change (``chg``, 涨跌额) or percent-change
                               (``pct_chg``, ``pctChg``, 涨跌幅) column of the next row
                               implies a previous close that differs from this row's close
                               by more than ``change_atol`` (0.006, price units) or
                               ``change_rtol`` (5e-4, relative) respectively (read time)
source_disagreement  warning   ``verify --against DIR``: the close-to-close return to this
                               date differs from the return of DIR's file on the same
                               common dates by more than ``return_tolerance`` (0.002)
not_compared         info      ``--against``: the file in DIR is unreadable or shares
                               fewer than two dates with the series
limit_hit            info      A-share close at the daily limit vs the previous close
beyond_limit         warning   an A-share move larger than its board's daily limit
zero_volume          info      a stock row with zero volume (thin trading)
non_session          error     a row on a day that is not a session of its exchange
===================  ========  =================================================

``non_finite``, ``non_positive``, ``future_date`` and ``change_mismatch`` also run
while a CSV file is read (:mod:`backtest.market.csvsource`): there a non-finite or
non-positive price becomes an empty cell (such a close drops the row) and the
finding names the file, line, column and value.  ``load_prices`` screens every
series the same way whatever its source (CSV, cache, Yahoo; see
:func:`backtest.market.load.screen_series`) and adds ``level_shift`` findings, so
none of these values reaches a panel silently.  ``change_mismatch`` is dated on
the row whose close the next row's change column contradicts (e.g. a
mid-session snapshot close) and names both rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backtest.market.types import Issue, Severity, parse_note

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.compare import Reference
    from backtest.market.panel import PricePanel
    from backtest.universe import Security, Universe

FINDING_COLUMNS: tuple[str, ...] = ("symbol", "date", "check", "severity", "detail")


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """Thresholds of the checks; recorded by whoever runs them."""

    stale_run: int = 5
    split_ratios: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0)
    split_tolerance: float = 0.03  # relative distance to a split ratio
    tick: float = 0.01  # A-share price tick (CNY)
    limit_ticks: float = 1.0  # unadjusted: within this many ticks of the limit price
    limit_rel_tolerance: float = 0.002  # adjusted/unknown basis: within this of the limit
    level_shift_factor: float = 10.0  # |jump| >= 10x (or <= 1/10) and no split ratio
    max_price: float = 1e9  # above this a price is absurd (fill/overflow value)
    max_volume: float = 1e15  # above this a volume is absurd
    change_atol: float = 0.006  # change column: 2-dp rounding (0.005) plus float noise
    change_rtol: float = 5e-4  # pct-change column: relative to the previous close
    return_tolerance: float = 0.002  # --against: |return here - return there|


# ---------------------------------------------------------------- kernels (numpy only)


def stale_positions(close: np.ndarray, run: int) -> np.ndarray:
    """Positions i whose close equals the previous one, inside a run of >= ``run`` equal closes."""
    same = np.concatenate([[False], close[1:] == close[:-1]])
    out = np.zeros(len(close), dtype=bool)
    i = 0
    n = len(close)
    while i < n:
        if same[i]:
            j = i
            while j < n and same[j]:
                j += 1
            if j - i + 1 >= run:
                out[i:j] = True
            i = j
        else:
            i += 1
    return out


def split_jumps(
    close: np.ndarray, ratios: tuple[float, ...], tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of jumps c[i]/c[i-1] near 1/k or k, the matched ratio, and whether it reverses.

    A jump reverses when the next close is back within ``tol`` of the pre-jump level.
    """
    if len(close) < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, np.zeros(0), np.zeros(0, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = close[1:] / close[:-1]
        cands = np.array([*(1.0 / np.array(ratios)), *ratios])
        dist = np.abs(rel[:, None] / cands[None, :] - 1.0)
    dist = np.where(np.isnan(dist), np.inf, dist)
    hit = dist.min(axis=1) <= tol
    pos = np.flatnonzero(hit) + 1
    matched = cands[dist.argmin(axis=1)][hit]
    nxt = np.minimum(pos + 1, len(close) - 1)
    reverses = (pos + 1 < len(close)) & (np.abs(close[nxt] / close[pos - 1] - 1.0) <= tol)
    return pos, matched, reverses


def level_shifts(
    close: np.ndarray, factor: float, ratios: tuple[float, ...], tol: float
) -> np.ndarray:
    """Positions i with c[i]/c[i-1] >= ``factor`` or <= 1/``factor`` that match no split ratio.

    Jumps within ``tol`` of a ratio in ``ratios`` (or its inverse) are left to
    :func:`split_jumps`; pairs with a non-positive or non-finite close are skipped.
    """
    if len(close) < 2:
        return np.zeros(0, dtype=np.int64)
    prev, cur = close[:-1], close[1:]
    ok = np.isfinite(prev) & np.isfinite(cur) & (prev > 0) & (cur > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(ok, cur / prev, 1.0)
    big = (rel >= factor) | (rel <= 1.0 / factor)
    cands = np.array([*(1.0 / np.array(ratios)), *ratios])
    near = (np.abs(rel[:, None] / cands[None, :] - 1.0) <= tol).any(axis=1)
    return np.flatnonzero(ok & big & ~near) + 1


def absurd_values(values: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) positions of +/-inf or of magnitudes above the column's bound.

    ``values`` is (rows, columns), ``bounds`` one bound per column; NaN (a
    missing value) is not absurd.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(v) & ~(np.abs(v) <= np.asarray(bounds, dtype=float)[None, :])
    rows, cols = np.nonzero(bad)
    return rows, cols


def change_mismatches(
    close: np.ndarray, change: np.ndarray, pct_change: np.ndarray, *, atol: float, rtol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose close disagrees with the next row's own change column.

    Row i's change column states the previous close: ``close[i] - change[i]``
    (price units) or ``close[i] / (1 + pct_change[i] / 100)`` (percent).  Row
    i - 1 is returned when that implied close differs from ``close[i - 1]`` by
    more than ``atol`` (change) or ``rtol * close[i - 1]`` (pct_change).  NaN
    entries (column absent, first row) are not compared.  Returns the
    positions i - 1 and the previous close implied there (from ``change`` when
    present, else from ``pct_change``).
    """
    if len(close) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    prev, cur = close[:-1], close[1:]
    chg, pct = change[1:], pct_change[1:]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        from_chg = cur - chg
        from_pct = cur / (1.0 + pct / 100.0)
        bad_chg = ~np.isnan(from_chg) & ~(np.abs(from_chg - prev) <= atol)
        bad_pct = ~np.isnan(from_pct) & ~(np.abs(from_pct - prev) <= rtol * np.abs(prev))
    pos = np.flatnonzero(bad_chg | bad_pct)
    implied = np.where(np.isnan(from_chg), from_pct, from_chg)[pos]
    return pos, implied


def limit_hits(
    close: np.ndarray, limit: float, *, tick: float, ticks: float, rel_tol: float, on_ticks: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions closing at the limit-up and limit-down price of the previous close.

    ``on_ticks``: prices are raw exchange prices, so the limit price is the
    previous close times (1 +/- limit) rounded half-up to the tick, and a hit is
    a close within ``ticks`` ticks of it; otherwise (adjusted prices) a hit is a
    return within ``rel_tol`` of +/- ``limit``.
    """
    if len(close) < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, e
    prev, cur = close[:-1], close[1:]
    if on_ticks:
        up_px = np.floor(prev * (1 + limit) / tick + 0.5 + 1e-9) * tick
        dn_px = np.floor(prev * (1 - limit) / tick + 0.5 + 1e-9) * tick
        eps = ticks * tick + 1e-9
        up = (np.abs(cur - up_px) <= eps) & (cur > prev)
        dn = (np.abs(cur - dn_px) <= eps) & (cur < prev)
    else:
        r = cur / prev - 1.0
        up = r >= limit - rel_tol
        dn = r <= -limit + rel_tol
    return np.flatnonzero(up) + 1, np.flatnonzero(dn) + 1


# ---------------------------------------------------------------- labelled results


@dataclass(frozen=True)
class Findings:
    """The findings table: one row per symbol x date x check."""

    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    def of(self, check: str) -> pd.DataFrame:
        return self.frame[self.frame["check"] == check]

    def mask(self, check: str | tuple[str, ...]) -> pd.DataFrame:
        """Boolean frame (date x symbol), True where a dated finding of ``check`` exists."""
        import pandas as pd

        checks = (check,) if isinstance(check, str) else check
        f = self.frame[self.frame["check"].isin(checks) & (self.frame["date"] != "")]
        if f.empty:
            return pd.DataFrame(dtype=bool, index=pd.DatetimeIndex([], name="date"))
        m = pd.crosstab(pd.to_datetime(f["date"]).rename("date"), f["symbol"]) > 0
        m.columns.name = None
        return m

    def counts(self) -> pd.DataFrame:
        """Number of findings per symbol and check."""
        return (
            self.frame.groupby(["symbol", "check"]).size().unstack(fill_value=0)
            if len(self.frame)
            else self.frame.iloc[0:0]
        )

    def summary(self) -> str:
        if not len(self.frame):
            return "no findings"
        by = self.frame.groupby(["check", "severity"]).size()
        return "; ".join(f"{c} ({s}): {n}" for (c, s), n in by.items())


def _dated(
    sym: str, idx: pd.DatetimeIndex, pos: np.ndarray, check: str, sev: Severity, details: list[str]
) -> list[Issue]:
    return [
        Issue(sym, f"{idx[p]:%Y-%m-%d}", check, sev, d) for p, d in zip(pos, details, strict=True)
    ]


def _calendar_checks(sym: str, bars: pd.DataFrame, sec: Security) -> list[Issue]:
    import pandas as pd

    from backtest.market.calendars import sessions

    out: list[Issue] = []
    idx = bars.index
    sess = sessions(sec.calendar)
    off = ~idx.isin(sess) & (idx >= sess[0])
    out += [
        Issue(
            sym,
            f"{d:%Y-%m-%d}",
            "non_session",
            "error",
            f"row on a day that is not a {sec.calendar} session",
        )
        for d in idx[off]
    ]
    lo = max(idx[0], pd.Timestamp(sec.listed)) if sec.listed else idx[0]
    span = sess[(sess >= lo) & (sess <= idx[-1])]
    missing = span[~span.isin(idx)]
    if len(missing):
        check = (
            "suspension" if sec.mic in ("XSHG", "XSHE", "XHKG") and sec.kind == "stock" else "gap"
        )
        run_id = np.cumsum(np.concatenate([[1], np.diff(span.get_indexer(missing)) != 1]))
        for r in np.unique(run_id):
            days = missing[run_id == r]
            what = (
                f"no row on {sec.calendar} session; run of {len(days)} "
                f"({days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d})"
            )
            out += [Issue(sym, f"{d:%Y-%m-%d}", check, "warning", what) for d in days]
    return out


def _value_checks(sym: str, bars: pd.DataFrame, policy: CheckPolicy) -> list[Issue]:
    """duplicate_date, non_positive, non_finite, missing_close."""
    idx = bars.index
    out = [
        Issue(sym, f"{d:%Y-%m-%d}", "duplicate_date", "error", "several rows on this date")
        for d in idx[idx.duplicated()]
    ]
    cols = [c for c in ("open", "high", "low", "close", "volume") if c in bars]
    vals = bars[cols].to_numpy(float)
    px = vals[:, [i for i, c in enumerate(cols) if c != "volume"]]
    bad = np.flatnonzero((px <= 0).any(axis=1))
    out += _dated(sym, idx, bad, "non_positive", "error", ["price <= 0"] * len(bad))
    bounds = np.array([policy.max_volume if c == "volume" else policy.max_price for c in cols])
    rows, at = absurd_values(vals, bounds)
    for r in np.unique(rows):
        ks = at[rows == r]
        out.append(
            Issue(
                sym,
                f"{idx[r]:%Y-%m-%d}",
                "non_finite",
                "error",
                ", ".join(f"{cols[k]} {vals[r, k]:g}" for k in ks)
                + ": expected a finite number of magnitude <= "
                + ", ".join(sorted({f"{bounds[k]:g}" for k in ks})),
            )
        )
    nan = np.flatnonzero(np.isnan(vals[:, cols.index("close")]))
    out += _dated(sym, idx, nan, "missing_close", "warning", ["no close"] * len(nan))
    return out


def _jump_checks(
    sym: str, c: np.ndarray, cidx: pd.DatetimeIndex, policy: CheckPolicy
) -> list[Issue]:
    """stale, split_like, spike, level_shift on the usable closes ``c`` dated ``cidx``."""
    st = np.flatnonzero(stale_positions(c, policy.stale_run))
    out = _dated(
        sym,
        cidx,
        st,
        "stale",
        "warning",
        [f"close {c[p]:g} unchanged for {policy.stale_run}+ rows" for p in st],
    )
    pos, ratio, rev = split_jumps(c, policy.split_ratios, policy.split_tolerance)
    for p, k, r in zip(pos, ratio, rev, strict=True):
        check = "spike" if r else "split_like"
        sev: Severity = "warning"
        what = (
            f"close {c[p - 1]:g} -> {c[p]:g} (x{c[p] / c[p - 1]:.3f}, near "
            f"{'1:' + format(1 / k, 'g') if k < 1 else format(k, 'g') + ':1'})"
            + ("; reverses next row" if r else "; persists: unadjusted split?")
        )
        out.append(Issue(sym, f"{cidx[p]:%Y-%m-%d}", check, sev, what))
    return out + level_shift_issues(sym, c, cidx, policy)


def level_shift_issues(
    sym: str, c: np.ndarray, cidx: pd.DatetimeIndex, policy: CheckPolicy
) -> list[Issue]:
    """``level_shift`` findings on the usable closes ``c`` dated ``cidx`` (also run at load)."""
    f = policy.level_shift_factor
    ls = level_shifts(c, f, policy.split_ratios, policy.split_tolerance)
    return _dated(
        sym,
        cidx,
        ls,
        "level_shift",
        "error",
        [
            f"close {c[p - 1]:g} -> {c[p]:g} (x{c[p] / c[p - 1]:.4g}): a jump of {f:g}x "
            "or more that is no split ratio (units, scale or a wrong row?)"
            for p in ls
        ],
    )


def _limit_checks(
    sym: str, c: np.ndarray, cidx: pd.DatetimeIndex, sec: Security, basis: str, policy: CheckPolicy
) -> list[Issue]:
    """limit_hit and beyond_limit for an A-share with a daily price limit."""
    limit = sec.price_limit
    assert limit is not None
    up, dn = limit_hits(
        c,
        limit,
        tick=policy.tick,
        ticks=policy.limit_ticks,
        rel_tol=policy.limit_rel_tolerance,
        on_ticks=basis == "unadjusted",
    )
    out: list[Issue] = []
    for arr, word in ((up, "up"), (dn, "down")):
        out += _dated(
            sym,
            cidx,
            arr,
            "limit_hit",
            "info",
            [f"limit-{word} {limit:.0%}: close {c[p]:g} vs previous {c[p - 1]:g}" for p in arr],
        )
    beyond = np.flatnonzero(np.abs(c[1:] / c[:-1] - 1.0) > limit + policy.limit_rel_tolerance) + 1
    out += _dated(
        sym,
        cidx,
        beyond,
        "beyond_limit",
        "warning",
        [
            f"move {c[p] / c[p - 1] - 1:+.2%} exceeds the {limit:.0%} "
            "limit (new listing, wrong board or adjustment?)"
            for p in beyond
        ],
    )
    return out


def _series_checks(
    sym: str, bars: pd.DataFrame, sec: Security | None, basis: str, policy: CheckPolicy
) -> list[Issue]:
    out = _value_checks(sym, bars, policy)
    close = bars["close"].to_numpy(float)
    # Jumps and limits only between usable closes: finite, positive, not absurd.
    ok = np.isfinite(close) & (close > 0) & (close <= policy.max_price)
    c, cidx = close[ok], bars.index[ok]
    out += _jump_checks(sym, c, cidx, policy)
    if sec is not None and sec.is_a_share and sec.price_limit:
        out += _limit_checks(sym, c, cidx, sec, basis, policy)
    if sec is not None and sec.kind == "stock" and "volume" in bars:
        zv = np.flatnonzero(bars["volume"].to_numpy(float) == 0)
        out += _dated(sym, bars.index, zv, "zero_volume", "info", ["volume 0"] * len(zv))
    return out


def verify(
    panel: PricePanel,
    universe: Universe,
    *,
    policy: CheckPolicy | None = None,
    against: Reference | None = None,
) -> Findings:
    """Run every check on every series of ``panel``; include findings made while loading.

    ``against``: series of the same symbols from another source (``verify
    --against DIR``); their returns are compared with the panel's on common
    dates (``source_disagreement``, see :mod:`backtest.market.compare`).
    """
    from backtest.market.compare import compare_with

    pol = policy or CheckPolicy()
    issues: list[Issue] = [i for n in panel.notes if (i := parse_note(n)) is not None]
    if against is not None:
        issues += [i for i in against.issues if i.symbol in panel.bars]
    for sym, bars in panel.bars.items():
        sec = universe[sym] if sym in universe else None
        if bars.empty:
            issues.append(Issue(sym, "", "empty", "error", "no rows"))
            continue
        if sec is None:
            issues.append(
                Issue(
                    sym, "", "not_in_universe", "error", "exchange unknown: calendar checks skipped"
                )
            )
        basis = panel.meta[sym].adjustment if sym in panel.meta else "unknown"
        issues += _series_checks(sym, bars, sec, basis, pol)
        if sec is not None:
            issues += _calendar_checks(sym, bars, sec)
        if against is not None and sym in against.series:
            issues += compare_with(
                sym,
                bars["close"],
                against.series[sym],
                tolerance=pol.return_tolerance,
                label=against.label,
            )
    return findings_table(issues)


def findings_table(issues: Iterable[Issue]) -> Findings:
    """The findings table of ``issues``: one row per symbol x date x check, sorted."""
    import pandas as pd

    frame = pd.DataFrame(
        [(i.symbol, i.date, i.check, i.severity, i.detail) for i in issues],
        columns=list(FINDING_COLUMNS),
    )
    frame = frame.drop_duplicates(["symbol", "date", "check"], keep="first")
    frame = frame.sort_values(["symbol", "date", "check"], kind="stable", ignore_index=True)
    return Findings(frame=frame)
