"""Event time across markets: day 0 of each event stage on each security's exchange.

Public entry point; the implementation lives in :mod:`backtest.alignment`.

    >>> from backtest.align import AlignSpec, align
    >>> result = align(catalog.events, universe, AlignSpec(stage="first"))
    >>> result.instances[["event_id", "security", "day0", "decided_by"]]

Rule (DESIGN section 3): day 0 is the first session of the security's own
exchange whose close is strictly after the instant the news became knowable.
Windows count sessions of that exchange (:func:`session_offset`,
:func:`window_sessions`).  Other catalog events near each instance are listed
by :func:`overlaps` and turned into estimation-window masks by
:func:`estimation_mask`.
"""

from __future__ import annotations

from backtest.alignment.instances import (
    ATTRITION_COLUMNS,
    INSTANCE_COLUMNS,
    Alignment,
    align,
)
from backtest.alignment.knowable import ASSUMED_LOCAL_TIME, Knowable, knowable_instant
from backtest.alignment.overlaps import (
    MASK_COLUMNS,
    OVERLAP_COLUMNS,
    EstimationMask,
    estimation_mask,
    other_event_days,
    overlaps,
)
from backtest.alignment.sessions import (
    SessionTable,
    first_close_after,
    session_offset,
    session_table,
    window_sessions,
)
from backtest.alignment.spec import (
    ALTERNATE_POLICY,
    STAGE_CHOICES,
    UNKNOWN_TIME_POLICIES,
    AlignError,
    AlignSpec,
    AttritionReasonName,
    Coverage,
    SessionOutOfRange,
    StageChoice,
    UnknownSelection,
    UnknownTime,
)

__all__ = [
    "ALTERNATE_POLICY",
    "ASSUMED_LOCAL_TIME",
    "ATTRITION_COLUMNS",
    "INSTANCE_COLUMNS",
    "MASK_COLUMNS",
    "OVERLAP_COLUMNS",
    "STAGE_CHOICES",
    "UNKNOWN_TIME_POLICIES",
    "AlignError",
    "AlignSpec",
    "Alignment",
    "AttritionReasonName",
    "Coverage",
    "EstimationMask",
    "Knowable",
    "SessionOutOfRange",
    "SessionTable",
    "StageChoice",
    "UnknownSelection",
    "UnknownTime",
    "align",
    "estimation_mask",
    "first_close_after",
    "knowable_instant",
    "other_event_days",
    "overlaps",
    "session_offset",
    "session_table",
    "window_sessions",
]
