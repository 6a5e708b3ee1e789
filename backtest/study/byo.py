"""Bring-your-own studies: checks on the analyst's own returns, before and after the study.

The study itself is :func:`backtest.event_study` (DataFrames in); reading and
writing the CSV files of ``mib study run --returns ...`` is :mod:`backtest.byo_io`.

Returns must be simple (or log) returns as decimals: 0.012 for +1.2 %.
:func:`check_return_columns` refuses columns that look like price levels or
percent returns, with the evidence; the thresholds are stated there.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.study.results import StudyResult

# What decimal returns look like (check_return_columns).  A daily, weekly or monthly
# simple return series has a median |r| of a few percent at most; a price can never
# be negative; a move beyond +-100 % is a once-in-a-history event.
MAX_MEDIAN_ABS = 0.2  # median |value| above this: not decimal returns
MIN_OBS_ALL_POSITIVE = 20  # this many values, none <= 0: price levels
MAX_SHARE_BEYOND_ONE = 0.01  # more than 1 % of values beyond +-1 (and at least 3)...
MIN_BEYOND_ONE = 3
MAX_RATIO_TO_OTHERS = 25.0  # typical |value| this many times the other columns'...
MIN_TYPICAL_FOR_RATIO = 0.05  # ...and above 0.05 (needs at least 2 other columns)
RETURNS_EXPECTED = (
    "decimal returns, e.g. 0.012 for +1.2 %: median |value| <= 0.2, at most 1 % of values "
    "beyond +-1, typical |value| under 25x the other columns', some values <= 0"
)


def _shape(values: np.ndarray) -> tuple[int, float, int, bool]:
    """Observations, median |value|, values beyond +-1, and whether all are positive."""
    x = values[np.isfinite(values)]
    if not x.size:
        return 0, 0.0, 0, False
    return x.size, float(np.median(np.abs(x))), int((np.abs(x) > 1.0).sum()), bool(x.min() > 0)


def check_return_columns(columns: Mapping[tuple[str | Path, Hashable], np.ndarray]) -> None:
    """Refuse a column that does not look like decimal simple (or log) returns.

    Each column (keyed by its source, a file or a name such as ``returns``, and its
    name) is judged on its finite values:

    * price levels: at least 20 values and none <= 0 (a return series always has
      down days), or a median |value| above 0.2 with no value <= 0;
    * percent returns: a median |value| above 0.2 with some values <= 0; or more
      than 1 % of values (and at least 3) beyond +-1, i.e. daily moves over 100 %;
      or a typical (median) |value| above 0.05 and at least 25 times the median of
      the other columns' typical |value| (with at least two other columns).

    Raises :class:`DataError` naming the file, the column, the evidence and these
    thresholds.
    """
    shapes = {k: _shape(v) for k, v in columns.items()}
    typical = {k: s[1] for k, s in shapes.items() if s[0]}
    for (path, col), (n, med, beyond, positive) in shapes.items():
        if not n:
            continue
        kind, evidence = "", ""
        if positive and (n >= MIN_OBS_ALL_POSITIVE or med > MAX_MEDIAN_ABS):
            kind = "price levels"
            evidence = f"all {n} values positive, median |value| {med:.4g}"
        elif med > MAX_MEDIAN_ABS:
            kind, evidence = "percent returns", f"median |value| {med:.4g} > {MAX_MEDIAN_ABS}"
        elif beyond >= MIN_BEYOND_ONE and beyond > MAX_SHARE_BEYOND_ONE * n:
            kind = "percent returns"
            evidence = f"{beyond} of {n} values beyond +-1 (moves over 100 %)"
        else:
            others = [t for k, t in typical.items() if k != (path, col)]
            ref = float(np.median(others)) if len(others) >= 2 else 0.0
            if med > MIN_TYPICAL_FOR_RATIO and ref > 0 and med >= MAX_RATIO_TO_OTHERS * ref:
                kind = "percent returns"
                evidence = (
                    f"median |value| {med:.4g}, {med / ref:.0f}x the other columns' {ref:.4g}"
                )
        if kind:
            raise DataError(
                f"looks like {kind}, not decimal returns",
                file=path,
                field=str(col),
                value=evidence,
                expected=RETURNS_EXPECTED,
            )


def require_survivors(result: StudyResult, outcome: str = "nothing was written") -> None:
    """Raise :class:`DataError` when no event instance survived, naming the reasons.

    ``outcome`` says what the caller did not do (the CLI: nothing was written).
    """
    if result.n_used:
        return
    att = result.attrition
    if not result.n_input:
        raise DataError(
            "no event instances to study",
            field="events",
            expected="at least one row in the events file",
        )
    counts = att["reason"].value_counts() if len(att) else pd.Series(dtype=int)
    reasons = ", ".join(f"{r} {n}" for r, n in counts.items()) or "none recorded"
    example = ""
    if len(att) and "detail" in att.columns:
        first = att.iloc[0]
        example = f"; e.g. {first['event_id']}/{first['security']}: {first['detail']}"
    raise DataError(
        f"no event instance survived; {outcome}",
        field="instances",
        value=f"0 of {result.n_input} used, dropped: {reasons}{example}",
        expected="at least one instance with enough estimation-window returns "
        "(see --estimation, --min-obs) and a day 0 among the returns' dates",
    )
