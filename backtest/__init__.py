"""mib: a market-impact backtester for AI-chip export-control events.

Heavy dependencies (pandas, numba, vectorbt) are imported lazily by the
modules that need them, so importing this package is cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
