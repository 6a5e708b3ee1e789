"""Intraday bars: reading (layouts, time-zone rules, session tags), caching, the intraday
event study (reaction intervals, shares of the move) and its figures.  See
:mod:`backtest.intraday.reaction` for the method and :mod:`backtest.intraday.run` for the
catalog-level tables the report reads."""
