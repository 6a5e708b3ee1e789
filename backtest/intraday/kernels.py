"""Numerical kernels of the intraday study: numpy arrays in, numpy arrays out, no I/O.

Instants are int64 UTC nanoseconds; prices and returns float64.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MINUTE_NS = 60_000_000_000


def bar_returns(close: FloatArray, start_ns: Int64Array, max_gap_ns: int) -> FloatArray:
    """Simple return of each bar from the previous bar's close; NaN for the first bar and
    after a gap longer than ``max_gap_ns`` (a hole of days is no bar return)."""
    r = np.full(len(close), np.nan)
    if len(close) > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            r[1:] = close[1:] / close[:-1] - 1.0
        r[1:][np.diff(start_ns) > max_gap_ns] = np.nan
    return r


def matched_returns(
    start_ns: Int64Array, bench_ns: Int64Array, bench_close: FloatArray
) -> FloatArray:
    """The benchmark's return over each bar's own interval (previous bar's instant to its
    instant), NaN where the benchmark has no bar at either instant."""
    pos = np.searchsorted(bench_ns, start_ns)
    safe = np.minimum(pos, max(len(bench_ns) - 1, 0))
    hit = (pos < len(bench_ns)) & (bench_ns[safe] == start_ns) if len(bench_ns) else None
    level = np.full(len(start_ns), np.nan)
    if hit is not None:
        level[hit] = bench_close[safe[hit]]
    r = np.full(len(start_ns), np.nan)
    if len(start_ns) > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            r[1:] = level[1:] / level[:-1] - 1.0
    return r


def abnormal_returns(r: FloatArray, r_bench: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Market-adjusted returns r - r_bench; where the benchmark has no return, the raw r.

    Returns the abnormal returns and the mask of bars that had a benchmark return.
    """
    has = np.isfinite(r_bench)
    return np.where(has, r - np.where(has, r_bench, 0.0), r), has


def tod_sigma(
    prior_slot: Int64Array,
    prior_class: Int64Array,
    prior_ar: FloatArray,
    slot: Int64Array,
    klass: Int64Array,
    *,
    halfwidth: int,
    min_obs: int,
    floor: float = 0.0,
) -> tuple[FloatArray, Int64Array]:
    """Time-of-day volatility: root mean square of prior abnormal returns of the same class
    (session part and whether the bar follows a gap) whose slot (minutes after local
    midnight) is within ``halfwidth`` of the bar's; where fewer than ``min_obs`` such
    returns exist, every prior return of the class; NaN (and 0 obs) when even that is
    short.  Never below ``floor``.  Returns sigma and the number of returns it rests on.
    """
    ok = np.isfinite(prior_ar)
    ps, pc, pa = prior_slot[ok], prior_class[ok], prior_ar[ok] ** 2
    sigma = np.full(len(slot), np.nan)
    n = np.zeros(len(slot), dtype=np.int64)
    pairs, inverse = np.unique(np.stack([klass, slot]), axis=1, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    for j in range(pairs.shape[1]):
        c, sl = int(pairs[0, j]), int(pairs[1, j])
        same = pc == c
        near = same & (np.abs(ps - sl) <= halfwidth)
        use = near if near.sum() >= min_obs else same
        m = int(use.sum())
        if m >= min_obs:
            rows = inverse == j
            sigma[rows] = max(float(np.sqrt(pa[use].mean())), floor)
            n[rows] = m
    return sigma, n


def regular_sigma(ar: FloatArray, regular_inside: BoolArray) -> float:
    """Root mean square of the abnormal returns of regular bars that follow a regular bar."""
    x = ar[regular_inside & np.isfinite(ar)]
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def first_reaction(
    z: FloatArray, ar: FloatArray, threshold: float, *, hold_bars: int = 2, keep: float = 0.5
) -> int:
    """Index of the first bar with |z| >= threshold whose move holds, -1 when none.

    A move holds when the abnormal returns of the bar and the ``hold_bars`` bars after it
    sum to at least ``keep`` times the bar's own abnormal return, same sign: a one-bar
    print that the next bar takes back (common in thin extended hours) is not a reaction,
    and neither is the bar that takes such a print back: the bar and the one before it
    must also keep ``keep`` times the bar's move.  NaN z never exceeds.
    """
    a = np.nan_to_num(ar, nan=0.0)
    csum = np.concatenate([[0.0], np.cumsum(a)])
    for hit in np.flatnonzero(np.abs(np.nan_to_num(z, nan=0.0)) >= threshold):
        i = int(hit)
        j = min(i + hold_bars + 1, len(a))
        held = csum[j] - csum[i]
        undo = csum[i + 1] - csum[max(i - 1, 0)]
        bound = keep * abs(a[i])
        if held * np.sign(a[i]) >= bound and undo * np.sign(a[i]) >= bound:
            return i
    return -1


def value_at(end_ns: Int64Array, values: FloatArray, instant_ns: int) -> float:
    """``values`` at the last bar ending at or before ``instant_ns`` (NaN when none)."""
    pos = int(np.searchsorted(end_ns, instant_ns, side="right")) - 1
    return float(values[pos]) if pos >= 0 else float("nan")


def share(part: float, whole: float) -> float:
    """part / whole, NaN when the whole is zero or missing."""
    if not np.isfinite(whole) or whole == 0.0 or not np.isfinite(part):
        return float("nan")
    return part / whole
