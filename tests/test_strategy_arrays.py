"""The array shortcuts of the backtest equal the pandas operations they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.strategy.engine import _daily
from backtest.strategy.execution import utc_index


def test_utc_index_is_to_datetime_utc():
    ns = np.array([0, 1_700_000_000_123_456_789, -86_400_000_000_000 - 5], dtype=np.int64)
    got = utc_index(ns, name="time")
    want = pd.DatetimeIndex(pd.to_datetime(ns, utc=True), name="time")
    pd.testing.assert_index_equal(got, want, exact=True)


def _times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sorted unique UTC instants over a few weeks, several per day, pre-1970 ones too."""
    base = np.int64(-3 * 86_400_000_000_000)
    steps = rng.integers(1, 20 * 3_600_000_000_000, size=n)
    return base + np.cumsum(steps)


@pytest.mark.parametrize("how", ["last", "max"])
@pytest.mark.parametrize("seed", range(4))
def test_daily_equals_groupby_by_utc_day(how, seed):
    rng = np.random.default_rng(seed)
    ns = _times(rng, 200)
    s = pd.Series(rng.normal(size=ns.size), index=utc_index(ns), name="equity")
    want = s.groupby(s.index.tz_convert(None).normalize()).agg(how)
    want.index.name = "date"
    pd.testing.assert_series_equal(_daily(s, how), want, check_exact=True, check_freq=False)
    s.iloc[rng.integers(0, ns.size, 20)] = np.nan  # with NaNs, pandas decides
    want = s.groupby(s.index.tz_convert(None).normalize()).agg(how)
    want.index.name = "date"
    pd.testing.assert_series_equal(_daily(s, how), want, check_exact=True, check_freq=False)
