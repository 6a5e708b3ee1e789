"""Compare a series with the same symbol from another source (``mib data verify --against``).

Two files of one symbol may differ by a constant factor (another adjustment
basis or a later vintage of adjusted prices) without either being wrong, so
closes are compared through their close-to-close returns on the dates both
files have: with ``a`` and ``b`` the two closes on the common dates,

    r_a[i] = a[i] / a[i-1] - 1,   r_b[i] = b[i] / b[i-1] - 1,

and date i is a ``source_disagreement`` when ``|r_a[i] - r_b[i]| > tolerance``
(``CheckPolicy.return_tolerance``, 0.002: above the rounding noise of 2-dp
adjusted prices and the vintage noise seen between Yahoo downloads, below a
bad print such as Yahoo's 2023-08-25 ^HSI, 0.9 %).  A constant ratio leaves
every return unchanged and is never flagged; a single wrong close shows up on
its own date and on the next common date (the return into it and out of it).
A dividend paid between two dates differs between an adjusted and a raw file
on its ex-date by about the dividend yield, which is flagged when above the
tolerance.  Where a date is missing from one file both returns span the same
interval, because only common dates are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backtest.market.types import Issue, RawSeries

if TYPE_CHECKING:
    import pandas as pd


def return_disagreements(a: np.ndarray, b: np.ndarray, tolerance: float) -> np.ndarray:
    """Positions i >= 1 where the returns of ``a`` and ``b`` into i differ by more than tolerance.

    ``a`` and ``b`` are closes on the same dates, in the same order.  A return
    that cannot be computed on one side (a zero or non-finite close) while it
    can on the other counts as a disagreement; if neither can, it does not.
    """
    if len(a) != len(b):
        raise ValueError(f"closes of different lengths: {len(a)} and {len(b)}")
    if len(a) < 2:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ra = a[1:] / a[:-1] - 1.0
        rb = b[1:] / b[:-1] - 1.0
        diff = np.abs(ra - rb)
    fa, fb = np.isfinite(ra), np.isfinite(rb)
    bad = (fa & fb & (diff > tolerance)) | (fa != fb)
    return np.flatnonzero(bad) + 1


def compare_with(
    symbol: str, close: pd.Series, other: RawSeries, *, tolerance: float, label: str
) -> list[Issue]:
    """``source_disagreement`` findings of ``close`` against ``other`` (labelled kernel call).

    A series sharing fewer than two dates with ``other`` gives one
    ``not_compared`` finding instead.
    """
    o = other.bars["close"].dropna()
    c = close.dropna()
    common = c.index.intersection(o.index)
    if len(common) < 2:
        return [
            Issue(
                symbol,
                "",
                "not_compared",
                "info",
                f"{len(common)} common dates with {label} (here {_span(c)}, there "
                f"{_span(o)}); returns not compared",
            )
        ]
    a = c.loc[common].to_numpy(float)
    b = o.loc[common].to_numpy(float)
    pos = return_disagreements(a, b, tolerance)
    out = []
    for p in pos:
        ra, rb = a[p] / a[p - 1] - 1.0, b[p] / b[p - 1] - 1.0
        out.append(
            Issue(
                symbol,
                f"{common[p]:%Y-%m-%d}",
                "source_disagreement",
                "warning",
                f"return from {common[p - 1]:%Y-%m-%d} {ra:+.3%} here (close {a[p - 1]:.10g} -> "
                f"{a[p]:.10g}) vs {rb:+.3%} in {label} (close {b[p - 1]:.10g} -> {b[p]:.10g}); "
                f"difference {abs(ra - rb):.3%} > {tolerance:g}",
            )
        )
    return out


def _span(s: pd.Series) -> str:
    return f"{s.index[0]:%Y-%m-%d}..{s.index[-1]:%Y-%m-%d}" if len(s) else "no rows"


@dataclass(frozen=True, slots=True)
class Reference:
    """Another source's series to compare with (``verify --against DIR``)."""

    label: str  # the directory, as the findings name it
    series: Mapping[str, RawSeries]
    issues: tuple[Issue, ...] = ()  # not_compared: unreadable files
    absent: tuple[str, ...] = ()  # symbols without a file there
