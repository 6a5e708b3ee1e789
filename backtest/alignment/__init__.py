"""Event time across markets: the modules behind :mod:`backtest.align`.

``spec`` (options and errors), ``knowable`` (when news became public, actual or
assumed), ``sessions`` (day-0 kernel, session windows, how day 0 was decided),
``instances`` (the :class:`Alignment` result) and ``overlaps`` (other events in
the windows, estimation masks).  Import from :mod:`backtest.align`.
"""
