"""The Python API of mib: DataFrames in, result objects out.

Re-exported lazily from :mod:`backtest` (``backtest.event_study`` and so on), so
``import backtest`` stays fast; see the README's "From Python" section.
"""

from __future__ import annotations

from backtest.api.catalog import Catalog
from backtest.api.runs import RunBacktest, run
from backtest.api.study import event_study
from backtest.api.summary import Summary

__all__ = ["Catalog", "RunBacktest", "Summary", "event_study", "run"]
