"""Which events enter pooled statistics: an explicit, recorded policy.

Per-event results are computed for every event; pools (by direction, by event
type, the spread across events) take only the events this policy admits:

* a **confounder** never enters a pool, whatever its ``direction`` field says
  (events/README.md: confounders mask estimation windows and flag contaminated
  windows; they are not studied as policy events);
* an event whose ``confidence`` is below ``min_confidence`` (default
  ``medium``: ``low`` events, e.g. aggregator-sourced reports, are out) stays
  out of pools, so it cannot weigh as much as a Federal Register rule.

:func:`pool_table` says, for every event, whether it is pooled and why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from backtest.eventlog.models import Event

if TYPE_CHECKING:
    import pandas as pd

MinConfidence = Literal["low", "medium", "high"]
CONFIDENCE_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
DEFAULT_MIN_CONFIDENCE: MinConfidence = "medium"
POOL_COLUMNS: tuple[str, ...] = (
    "event_id",
    "type",
    "direction",
    "confidence",
    "pooled",
    "excluded_because",
)


def pool_reason(event: Event, min_confidence: MinConfidence = DEFAULT_MIN_CONFIDENCE) -> str:
    """'' when the event enters pools, else why it does not."""
    if event.type == "confounder":
        return "confounder (never pooled)"
    if CONFIDENCE_RANK[event.confidence] < CONFIDENCE_RANK[min_confidence]:
        return f"confidence {event.confidence} below --min-confidence {min_confidence}"
    return ""


def pool_table(
    events: Sequence[Event], min_confidence: MinConfidence = DEFAULT_MIN_CONFIDENCE
) -> pd.DataFrame:
    """One row per event: pooled or not, and the reason."""
    import pandas as pd

    rows = []
    for ev in events:
        why = pool_reason(ev, min_confidence)
        rows.append(
            {
                "event_id": ev.id,
                "type": ev.type,
                "direction": ev.direction,
                "confidence": ev.confidence,
                "pooled": not why,
                "excluded_because": why,
            }
        )
    return pd.DataFrame(rows, columns=list(POOL_COLUMNS))
