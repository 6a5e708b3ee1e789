"""Data checks: a table of findings about a price panel.

Kernels take numpy arrays and return index arrays; :func:`verify` labels them
and adds the findings recorded while loading (panel notes).  Checks:

==================  ========  ==================================================
check               severity  meaning
==================  ========  ==================================================
gap                 warning   a session of the exchange without a row (non A/H stock)
suspension          warning   an A-share/HK stock session without a row (listed span)
duplicate_date      error     two rows with the same date
non_positive        error     a price <= 0
missing_close       warning   a row without a close
stale               warning   the close unchanged for ``stale_run`` rows or more
split_like          warning   a jump matching a split ratio that persists (unadjusted split?)
spike               warning   a split-ratio jump that reverses the next row (bad print)
limit_hit           info      A-share close at the daily limit vs the previous close
beyond_limit        warning   an A-share move larger than its board's daily limit
zero_volume         info      a stock row with zero volume (thin trading)
non_session         error     a row on a day that is not a session of its exchange
==================  ========  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backtest.market.types import Issue, Severity, parse_note

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.universe import Security, Universe

FINDING_COLUMNS: tuple[str, ...] = ("symbol", "date", "check", "severity", "detail")


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """Thresholds of the checks; recorded by whoever runs them."""

    stale_run: int = 5
    split_ratios: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0)
    split_tolerance: float = 0.03       # relative distance to a split ratio
    tick: float = 0.01                  # A-share price tick (CNY)
    limit_ticks: float = 1.0            # unadjusted: within this many ticks of the limit price
    limit_rel_tolerance: float = 0.002  # adjusted/unknown basis: within this of the limit


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


def split_jumps(close: np.ndarray, ratios: tuple[float, ...],
                tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of jumps c[i]/c[i-1] near 1/k or k, the matched ratio, and whether it reverses.

    A jump reverses when the next close is back within ``tol`` of the pre-jump level.
    """
    if len(close) < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, np.zeros(0), np.zeros(0, dtype=bool)
    rel = close[1:] / close[:-1]
    cands = np.array([*(1.0 / np.array(ratios)), *ratios])
    dist = np.abs(rel[:, None] / cands[None, :] - 1.0)
    hit = dist.min(axis=1) <= tol
    pos = np.flatnonzero(hit) + 1
    matched = cands[dist.argmin(axis=1)][hit]
    nxt = np.minimum(pos + 1, len(close) - 1)
    reverses = (pos + 1 < len(close)) & (np.abs(close[nxt] / close[pos - 1] - 1.0) <= tol)
    return pos, matched, reverses


def limit_hits(close: np.ndarray, limit: float, *, tick: float, ticks: float,
               rel_tol: float, on_ticks: bool) -> tuple[np.ndarray, np.ndarray]:
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
        return (self.frame.groupby(["symbol", "check"]).size().unstack(fill_value=0)
                if len(self.frame) else self.frame.iloc[0:0])

    def summary(self) -> str:
        if not len(self.frame):
            return "no findings"
        by = self.frame.groupby(["check", "severity"]).size()
        return "; ".join(f"{c} ({s}): {n}" for (c, s), n in by.items())


def _dated(sym: str, idx: pd.DatetimeIndex, pos: np.ndarray, check: str, sev: Severity,
           details: list[str]) -> list[Issue]:
    return [Issue(sym, f"{idx[p]:%Y-%m-%d}", check, sev, d) for p, d in zip(pos, details,
                                                                           strict=True)]


def _calendar_checks(sym: str, bars: pd.DataFrame, sec: Security) -> list[Issue]:
    import pandas as pd

    from backtest.market.calendars import sessions

    out: list[Issue] = []
    idx = bars.index
    sess = sessions(sec.calendar)
    off = ~idx.isin(sess) & (idx >= sess[0])
    out += [Issue(sym, f"{d:%Y-%m-%d}", "non_session", "error",
                  f"row on a day that is not a {sec.calendar} session") for d in idx[off]]
    lo = max(idx[0], pd.Timestamp(sec.listed)) if sec.listed else idx[0]
    span = sess[(sess >= lo) & (sess <= idx[-1])]
    missing = span[~span.isin(idx)]
    if len(missing):
        check = ("suspension" if sec.mic in ("XSHG", "XSHE", "XHKG") and sec.kind == "stock"
                 else "gap")
        run_id = np.cumsum(np.concatenate([[1], np.diff(span.get_indexer(missing)) != 1]))
        for r in np.unique(run_id):
            days = missing[run_id == r]
            what = f"no row on {sec.calendar} session; run of {len(days)} " \
                   f"({days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d})"
            out += [Issue(sym, f"{d:%Y-%m-%d}", check, "warning", what) for d in days]
    return out


def _series_checks(sym: str, bars: pd.DataFrame, sec: Security | None, basis: str,
                   policy: CheckPolicy) -> list[Issue]:
    idx = bars.index
    out: list[Issue] = []
    dup = idx.duplicated()
    out += [Issue(sym, f"{d:%Y-%m-%d}", "duplicate_date", "error", "several rows on this date")
            for d in idx[dup]]
    px = bars[[c for c in ("open", "high", "low", "close") if c in bars]].to_numpy(float)
    bad = np.flatnonzero((px <= 0).any(axis=1))
    out += _dated(sym, idx, bad, "non_positive", "error", ["price <= 0"] * len(bad))
    close = bars["close"].to_numpy(float)
    nan = np.flatnonzero(np.isnan(close))
    out += _dated(sym, idx, nan, "missing_close", "warning", ["no close"] * len(nan))
    ok = ~np.isnan(close)
    c, cidx = close[ok], idx[ok]
    st = np.flatnonzero(stale_positions(c, policy.stale_run))
    out += _dated(sym, cidx, st, "stale", "warning",
                  [f"close {c[p]:g} unchanged for {policy.stale_run}+ rows" for p in st])
    pos, ratio, rev = split_jumps(c, policy.split_ratios, policy.split_tolerance)
    for p, k, r in zip(pos, ratio, rev, strict=True):
        check, sev = ("spike", "warning") if r else ("split_like", "warning")
        what = (f"close {c[p - 1]:g} -> {c[p]:g} (x{c[p] / c[p - 1]:.3f}, near "
                f"{'1:' + format(1 / k, 'g') if k < 1 else format(k, 'g') + ':1'})"
                + ("; reverses next row" if r else "; persists: unadjusted split?"))
        out.append(Issue(sym, f"{cidx[p]:%Y-%m-%d}", check, sev, what))
    if sec is not None and sec.is_a_share and sec.price_limit:
        up, dn = limit_hits(c, sec.price_limit, tick=policy.tick, ticks=policy.limit_ticks,
                            rel_tol=policy.limit_rel_tolerance, on_ticks=basis == "unadjusted")
        for arr, word in ((up, "up"), (dn, "down")):
            out += _dated(sym, cidx, arr, "limit_hit", "info",
                          [f"limit-{word} {sec.price_limit:.0%}: close {c[p]:g} vs previous "
                           f"{c[p - 1]:g}" for p in arr])
        beyond = np.flatnonzero(np.abs(c[1:] / c[:-1] - 1.0)
                                > sec.price_limit + policy.limit_rel_tolerance) + 1
        out += _dated(sym, cidx, beyond, "beyond_limit", "warning",
                      [f"move {c[p] / c[p - 1] - 1:+.2%} exceeds the {sec.price_limit:.0%} "
                       "limit (new listing, wrong board or adjustment?)" for p in beyond])
    if sec is not None and sec.kind == "stock" and "volume" in bars:
        zv = np.flatnonzero(bars["volume"].to_numpy(float) == 0)
        out += _dated(sym, idx, zv, "zero_volume", "info", ["volume 0"] * len(zv))
    return out


def verify(panel: PricePanel, universe: Universe, *,
           policy: CheckPolicy | None = None) -> Findings:
    """Run every check on every series of ``panel``; include findings made while loading."""
    import pandas as pd

    pol = policy or CheckPolicy()
    issues: list[Issue] = [i for n in panel.notes if (i := parse_note(n)) is not None]
    for sym, bars in panel.bars.items():
        sec = universe[sym] if sym in universe else None
        if bars.empty:
            issues.append(Issue(sym, "", "empty", "error", "no rows"))
            continue
        if sec is None:
            issues.append(Issue(sym, "", "not_in_universe", "error",
                                "exchange unknown: calendar checks skipped"))
        basis = panel.meta[sym].adjustment if sym in panel.meta else "unknown"
        issues += _series_checks(sym, bars, sec, basis, pol)
        if sec is not None:
            issues += _calendar_checks(sym, bars, sec)
    frame = pd.DataFrame([(i.symbol, i.date, i.check, i.severity, i.detail) for i in issues],
                         columns=list(FINDING_COLUMNS))
    frame = frame.drop_duplicates(["symbol", "date", "check"], keep="first")
    frame = frame.sort_values(["symbol", "date", "check"], kind="stable", ignore_index=True)
    return Findings(frame=frame)
