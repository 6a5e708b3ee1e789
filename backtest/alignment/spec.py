"""Options of an alignment run and the errors it can raise."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from backtest.errors import SpecError

StageChoice = Literal[
    "leak",
    "announcement",
    "filing",
    "publication",
    "effective",
    "first",
    "official",
]
STAGE_CHOICES: tuple[str, ...] = (
    "leak",
    "announcement",
    "filing",
    "publication",
    "effective",
    "first",
    "official",
)
UnknownTime = Literal["business_hours", "start_of_day", "end_of_day"]
UNKNOWN_TIME_POLICIES: tuple[str, ...] = ("business_hours", "start_of_day", "end_of_day")
Coverage = Literal["affected", "all"]
AttritionReasonName = Literal[
    "stage_missing",
    "not_in_universe",
    "no_session",
    "before_listing",
    "no_data",
    "outside_data_range",
]

# The policy used instead when ``AlignSpec.alternate`` is set: the other plausible
# day 0.  Business hours <-> after the close of business (end of the local day);
# start of day <-> end of day.  Only date-only stages are affected.
ALTERNATE_POLICY: dict[str, UnknownTime] = {
    "business_hours": "end_of_day",
    "start_of_day": "end_of_day",
    "end_of_day": "start_of_day",
}


class AlignError(SpecError):
    """An alignment request cannot be carried out as asked."""


class UnknownSelection(AlignError):
    """A ``securities`` entry is neither a symbol nor a group of the universe."""


class SessionOutOfRange(AlignError):
    """A session offset or window runs past the ends of the exchange calendar."""


class AlignSpec(BaseModel):
    """What to align and how to treat stages whose time of day is unknown.

    stage:        the stage studied; ``first`` is the earliest public stage
                  (``Event.first_public``, leaks included); ``official`` the
                  earliest of announcement, filing and publication
                  (``Event.official_stage``); both recorded under the stage's own name.
    unknown_time: where in the stage's local date a date-only stage is placed
                  (see ``backtest.alignment.knowable``); every such instance
                  carries ``time_assumed=True`` and the policy used.
    alternate:    sensitivity re-run: date-only stages use
                  ``ALTERNATE_POLICY[unknown_time]`` instead (the other
                  plausible day 0); exact stages are unchanged.
    securities:   symbols or group names to keep; ``None`` = every
                  non-benchmark security of the universe.  Benchmarks are
                  included only when named here.
    coverage:     ``affected`` = per event, only the selected securities the
                  event lists in ``affected`` (directly or through a group);
                  ``all`` = every selected security for every event
                  (expected_sign is missing where the event names none).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: StageChoice = "announcement"
    unknown_time: UnknownTime = "business_hours"
    alternate: bool = False
    securities: tuple[str, ...] | None = None
    coverage: Coverage = "affected"

    @field_validator("securities")
    @classmethod
    def _nonempty(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return None
        cleaned = tuple(dict.fromkeys(s.strip() for s in v if s.strip()))
        if not cleaned:
            raise ValueError("securities is empty: name symbols or groups, or leave it unset")
        return cleaned

    @property
    def effective_policy(self) -> UnknownTime:
        """The unknown-time policy actually applied (after ``alternate``)."""
        return ALTERNATE_POLICY[self.unknown_time] if self.alternate else self.unknown_time

    def describe(self) -> str:
        """One line naming every option, for summaries and provenance."""
        alt = f" (alternate of {self.unknown_time})" if self.alternate else ""
        sel = ",".join(self.securities) if self.securities else "all non-benchmark"
        return (
            f"stage={self.stage}, unknown_time={self.effective_policy}{alt}, "
            f"securities={sel}, coverage={self.coverage}"
        )
