"""Curation rules the schema alone cannot express, checked on every event.

Each rule has a code, a severity and a message that names the event, the
field and what is expected.  ``error`` rules are refused by ``mib events
validate`` and ``mib events add``; ``warning`` rules are reported.

=============================  ========  ==============================================
code                           severity  rule
=============================  ========  ==============================================
high_without_primary           error     ``confidence: high`` needs a ``primary: true``
                                         source (events/README.md: high = primary source
                                         for date and time)
confounder_with_direction      warning   a confounder has direction other than neutral
                                         (it never enters a direction pool either way)
time_fact_without_bounds       warning   a stage's note (or the event's notes) states a
                                         time-of-day fact (after the close, evening,
                                         before the open, ...) but the stage has no
                                         ``at`` and no ``not_before``/``not_after``
=============================  ========  ==============================================

The time-fact rule looks at every public stage (not ``effective``) for its own
note, and at the stage that sets day 0 under the ``official`` choice for the
event's notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from backtest.eventlog.models import Event, Stage

LintSeverity = Literal["error", "warning"]

# Phrases that state when in the day something became public.  English and the
# Chinese words used in the log's notes (evening, after the close, morning, ...).
TIME_FACT = re.compile(
    r"after (?:the )?(?:us |u\.s\. |new york |nasdaq |market |shanghai |hong kong )?"
    r"(?:close|closing bell)|after[- ]hours|post-?market|pre-?market|before (?:the )?open"
    r"|\bevening\b|\bovernight\b|\bmorning\b|\bafternoon\b|\bnight\b"
    r"|during (?:the )?(?:us |shanghai |trading |asian )?(?:session|trading)"
    r"|晚间|盘后|盘前|早盘|上午|下午|夜间",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Lint:
    """One finding about one event."""

    event_id: str
    code: str
    severity: LintSeverity
    field: str
    message: str

    def line(self) -> str:
        return f"{self.severity}: {self.event_id}: {self.field}: {self.message}"


def has_primary_source(event: Event) -> bool:
    return any(s.primary for s in event.sources)


def has_timing_data(stage: Stage) -> bool:
    """An exact time, or at least one bound."""
    return stage.at is not None or stage.not_before is not None or stage.not_after is not None


def time_facts(text: str) -> list[str]:
    """The time-of-day phrases in ``text`` (lower-case, in order, unique)."""
    found = [m.group(0).lower() for m in TIME_FACT.finditer(text or "")]
    return list(dict.fromkeys(found))


def lint_event(event: Event) -> list[Lint]:
    """Every rule above, on one event."""
    out: list[Lint] = []
    if event.confidence == "high" and not has_primary_source(event):
        out.append(
            Lint(
                event.id,
                "high_without_primary",
                "error",
                "confidence",
                "confidence 'high' without a primary source (got no source with "
                "primary: true; expected a primary source, or confidence medium)",
            )
        )
    if event.type == "confounder" and event.direction != "neutral":
        out.append(
            Lint(
                event.id,
                "confounder_with_direction",
                "warning",
                "direction",
                f"confounder with direction {event.direction!r} (expected neutral; "
                "confounders never enter direction pools)",
            )
        )
    day0_stage = event.official_stage()
    for i, st in enumerate(event.stages):
        if st.stage == "effective" or has_timing_data(st):
            continue  # effective dates never set day 0
        facts = time_facts(st.note)
        where = f"stages.{i}.note"
        if not facts and st is day0_stage:
            facts, where = time_facts(event.notes), "notes"
        if facts:
            out.append(
                Lint(
                    event.id,
                    "time_fact_without_bounds",
                    "warning",
                    f"stages.{i} ({st.stage})",
                    f"{where} says {', '.join(repr(f) for f in facts)} but the stage "
                    "has no 'at' and no not_before/not_after (expected the fact as "
                    "data, or a note saying why it cannot bound the time)",
                )
            )
    return out
