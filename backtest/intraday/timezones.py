"""Which instant a bar's time stamp means: explicit rules, never a silent guess.

Every file gets exactly one rule, and the import says which:

``offset``
    Every stamp carries its UTC offset (``-04:00``, ``+00:00``, ``Z``): used as given.
    A ``--tz`` given as well is not needed and is ignored (the message says so).
``epoch``
    The stamps are naive (or a bare time of day) but the file has an epoch column
    (seconds or milliseconds since 1970-01-01 UTC): the instant comes from the epoch,
    and the zone of the naive stamps is *proved* by finding the one candidate zone
    in which every naive stamp equals its epoch instant (within ``tolerance_s``).
    A ``--tz`` that disagrees with the proof is not used, and the rule says so
    (one ``--tz`` may serve several folders, some of which carry their own proof).
``option``
    Naive stamps and no proof: read in the zone given with ``--tz``.  Without
    ``--tz`` the file is refused with one line naming it.

Mixed naive and offset stamps in one file are refused.  Non-existent or ambiguous
local times (the hour a DST change skips or repeats) are refused, naming the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from backtest.errors import InputFileError

if TYPE_CHECKING:
    import pandas as pd

RuleKind = Literal["offset", "epoch", "option"]
Int64Array = npt.NDArray[np.int64]

# Zones tried when an epoch column is to prove what the naive stamps mean.
CANDIDATE_ZONES: tuple[str, ...] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "UTC",
    "Europe/London",
    "Europe/Amsterdam",
    "Asia/Shanghai",
    "Asia/Tokyo",
)
_OFFSET_TAIL = r"(?:Z|[+-]\d{2}:?\d{2})$"


class NaiveTimestampError(InputFileError):
    """Naive time stamps without a proof of their zone and without ``--tz``."""


@dataclass(frozen=True, slots=True)
class TzRule:
    """The rule one file's stamps were read under, and the zone it established."""

    kind: RuleKind
    zone: str  # the zone of the stamps as written ('' when each stamp carries its own offset)
    detail: str  # one sentence for the import's report and the cache manifest

    def __str__(self) -> str:
        return self.detail


def check_zone(name: str, *, field: str = "--tz") -> str:
    """``name`` if it is an IANA zone, else one error line naming the option."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputFileError(
            "unknown time zone",
            field=field,
            value=name,
            expected="an IANA zone such as America/New_York, America/Los_Angeles, Asia/Shanghai",
        ) from None
    return name


def _ns(values: pd.DatetimeIndex) -> Int64Array:
    """UTC nanoseconds of a tz-aware index (pandas may parse at us or s resolution)."""
    out: Int64Array = values.tz_convert("UTC").as_unit("ns").asi8.astype(np.int64)
    return out


def epoch_to_ns(epoch: npt.NDArray[np.float64]) -> Int64Array:
    """Epoch seconds or milliseconds (told apart by magnitude) as UTC nanoseconds."""
    scale = 1_000_000 if np.nanmedian(np.abs(epoch)) > 1e11 else 1_000_000_000
    # integer arithmetic: 1.765e12 ms * 1e6 as a float loses the last nanoseconds
    out: Int64Array = np.rint(epoch).astype(np.int64) * np.int64(scale)
    return out


def parse_offset_stamps(text: pd.Series, file: Path, column: str) -> Int64Array:
    """Stamps that all carry an offset, as UTC nanoseconds."""
    import pandas as pd

    try:
        idx = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise InputFileError(
            f"unreadable time stamp: {str(exc).splitlines()[0]}",
            file=file,
            field=column,
            expected="ISO 8601 stamps such as 2025-04-15 17:25:00-04:00",
        ) from None
    return _ns(idx)


def has_offsets(text: pd.Series, file: Path, column: str) -> bool:
    """True when every stamp has an offset, False when none has; mixed files are refused."""
    with_offset = text.str.contains(_OFFSET_TAIL, regex=True, na=False)
    n = int(with_offset.sum())
    if n == 0:
        return False
    if n == len(text):
        return True
    first = text[~with_offset].iloc[0]
    raise InputFileError(
        f"{len(text) - n} of {len(text)} time stamps have no UTC offset while the others have one",
        file=file,
        field=column,
        value=str(first),
        expected="one convention per file: every stamp with its offset, or every stamp naive",
    )


def localize_naive(naive: pd.DatetimeIndex, zone: str, file: Path, column: str) -> Int64Array:
    """Naive local stamps in ``zone`` as UTC nanoseconds; DST gaps and repeats refused."""
    try:
        idx = naive.tz_localize(zone, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # pytz/zoneinfo errors differ by pandas version; all are refused
        raise InputFileError(
            f"a time stamp does not exist or is ambiguous in {zone}: {str(exc).splitlines()[0]}",
            file=file,
            field=column,
            expected="stamps with a UTC offset, or an epoch column",
        ) from None
    return _ns(idx)


def prove_zone(
    naive: pd.DatetimeIndex,
    epoch_ns: Int64Array,
    *,
    tolerance_s: float = 0.0,
    zones: tuple[str, ...] = CANDIDATE_ZONES,
) -> str | None:
    """The one candidate zone in which every naive stamp is its epoch instant, else None.

    ``tolerance_s`` allows a quote stamp to lag the epoch by a few seconds.
    """
    hits = []
    for zone in zones:
        try:
            local = naive.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        except (ValueError, TypeError):
            continue
        got = local.as_unit("ns").asi8
        ok = ~local.isna() & (np.abs(got - epoch_ns) <= tolerance_s * 1e9)
        if bool(np.all(ok)):
            hits.append(zone)
    return hits[0] if len(hits) == 1 else None


def naive_rule(
    naive: pd.DatetimeIndex,
    epoch_ns: Int64Array | None,
    tz: str | None,
    *,
    file: Path,
    column: str,
    epoch_column: str = "",
    tolerance_s: float = 0.0,
) -> tuple[Int64Array, TzRule]:
    """UTC nanoseconds and the rule for naive stamps: proved by an epoch column, or ``--tz``."""
    if epoch_ns is not None:
        zone = prove_zone(naive, epoch_ns, tolerance_s=tolerance_s)
        if zone is None:
            raise InputFileError(
                f"the epoch column '{epoch_column}' fits the naive stamps in none of the zones "
                f"tried ({', '.join(CANDIDATE_ZONES)})",
                file=file,
                field=column,
                value=str(naive[0]),
                expected="an epoch column that matches the stamps, or stamps with a UTC offset",
            )
        unused = f"; --tz {tz} not used (the proof wins)" if tz is not None and tz != zone else ""
        return epoch_ns, TzRule(
            "epoch",
            zone,
            f"naive stamps in '{column}' are {zone}, proved by the epoch column "
            f"'{epoch_column}' on every row; instants taken from the epoch{unused}",
        )
    if tz is None:
        raise NaiveTimestampError(
            "naive time stamps (no UTC offset) and no --tz; the file carries no proof of its zone",
            file=file,
            field=column,
            value=str(naive[0]),
            expected="--tz ZONE (e.g. --tz America/New_York), or stamps with a UTC offset",
        )
    return localize_naive(naive, tz, file, column), TzRule(
        "option",
        tz,
        f"naive stamps in '{column}' read as {tz} (--tz); nothing in the file proves it",
    )


def offset_rule(column: str, tz: str | None, sample: str) -> TzRule:
    """The rule for stamps that carry offsets (``--tz`` not needed, said so when given)."""
    extra = f"; --tz {tz} not needed and not used" if tz else ""
    return TzRule(
        "offset",
        "",
        f"stamps in '{column}' carry UTC offsets (e.g. '{sample}'): used as given{extra}",
    )
