"""mib: a market-impact backtester for AI-chip export-control events.

The Python API (imported on first use, so ``import backtest`` stays cheap):

- :func:`event_study` -- an event study on DataFrames, returning a :class:`StudyResult`;
- :func:`load_run` -- a run folder as a :class:`Run` (``.study``, ``.backtest``,
  ``.catalog``, ``.coverage``, ``.manifest``); :func:`run` does a whole run;
- :class:`Catalog` -- the curated event log at one version (``Catalog.load()``);
- :class:`RunSpec`, :class:`StudySpec` -- the frozen specifications;
- :class:`MibError` -- the base of every error a user can cause.

>>> import backtest
>>> sorted(backtest.__all__)[:3]
['Catalog', 'MibError', 'Run']
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "event_study": "backtest.api.study",
    "run": "backtest.api.runs",
    "Catalog": "backtest.api.catalog",
    "Summary": "backtest.api.summary",
    "load_run": "backtest.runio",
    "Run": "backtest.runio",
    "StudyResult": "backtest.study.results",
    "StudySpec": "backtest.study.spec",
    "RunSpec": "backtest.pipeline",
    "MibError": "backtest.errors",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from backtest.api.catalog import Catalog as Catalog
    from backtest.api.runs import run as run
    from backtest.api.study import event_study as event_study
    from backtest.api.summary import Summary as Summary
    from backtest.errors import MibError as MibError
    from backtest.pipeline import RunSpec as RunSpec
    from backtest.runio import Run as Run
    from backtest.runio import load_run as load_run
    from backtest.study.results import StudyResult as StudyResult
    from backtest.study.spec import StudySpec as StudySpec


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562; nothing is cached here,
    the module system caches the module)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'backtest' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
