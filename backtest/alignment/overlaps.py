"""Other catalog events near each instance, and estimation-window masks.

Another event is located on an exchange exactly like an instance: its day 0
there is the first session closing strictly after the instant it became
knowable, and ``rel_day`` counts that exchange's sessions from the instance's
day 0 (negative = before).

Which instants of the other events count (``OtherStages``):

``public`` (default)
    every stage except ``effective`` (all of them if an event has only an
    effective stage): a leak and the formal announcement both move prices,
    so both are kept out of a clean estimation window.
``chosen``
    only the stage the alignment studies (``AlignSpec.stage``); events
    without it are skipped.

When ``others`` is an :class:`Alignment`, its own (event, stage) instants are
used as they are.  Date-only stages use the alignment's unknown-time policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from backtest.alignment.instances import Alignment
from backtest.alignment.knowable import knowable_instant
from backtest.alignment.sessions import session_table
from backtest.alignment.spec import AlignError, AlignSpec
from backtest.eventlog.models import Event, Stage

if TYPE_CHECKING:
    import pandas as pd

    from backtest.universe import Universe

EstimationMask = Literal["mask_other_events", "none"]
OtherStages = Literal["public", "chosen"]
Where = Literal["event_window", "estimation_window"]

OTHER_COLUMNS: tuple[str, ...] = ("other_event_id", "other_type", "other_stage", "knowable_at_utc")
OVERLAP_COLUMNS: tuple[str, ...] = (
    "event_id",
    "stage",
    "security",
    "exchange",
    "other_event_id",
    "other_type",
    "other_stage",
    "where",
    "rel_day",
)
MASK_COLUMNS: tuple[str, ...] = ("event_id", "stage", "security", "rel_day", "other_event_ids")
_KEY = ["event_id", "stage", "security"]


def _stages_for(event: Event, spec: AlignSpec, other_stages: OtherStages) -> list[Stage]:
    if other_stages == "chosen":
        chosen = event.chosen_stage(spec.stage)
        return [chosen] if chosen is not None else []
    public = [s for s in event.stages if s.stage != "effective"]
    return public or list(event.stages)


def other_event_days(
    others: Alignment | Sequence[Event], spec: AlignSpec, other_stages: OtherStages = "public"
) -> pd.DataFrame:
    """Instants of the other events: columns ``OTHER_COLUMNS`` (one row per event x stage)."""
    import pandas as pd

    if isinstance(others, Alignment):
        inst = others.instances
        frame = inst[["event_id", "event_type", "stage", "knowable_at_utc"]].drop_duplicates(
            ["event_id", "stage"]
        )
        frame.columns = list(OTHER_COLUMNS)
        return frame.reset_index(drop=True)
    rows = [
        (e.id, e.type, s.stage, knowable_instant(s, spec.effective_policy).at_utc)
        for e in others
        for s in _stages_for(e, spec, other_stages)
    ]
    frame = pd.DataFrame(rows, columns=list(OTHER_COLUMNS))
    frame["knowable_at_utc"] = pd.to_datetime(frame["knowable_at_utc"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    return frame


def _pairs(alignment: Alignment, other: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """Instance x other-event pairs whose relative day lies in [lo, hi]."""
    import pandas as pd

    inst = alignment.instances
    parts = []
    knowable_ns = (
        other["knowable_at_utc"]
        .astype("datetime64[ns, UTC]")
        .to_numpy(dtype="datetime64[ns]")
        .view(np.int64)
    )
    for exchange, group in inst.groupby("exchange", sort=True):
        table = session_table(str(exchange))
        p = table.sessions.get_indexer(pd.DatetimeIndex(group["day0"]))
        q = table.day0_positions(knowable_ns)
        ok = q >= 0
        rel = q[ok][None, :] - p[:, None]
        other_ids = other["other_event_id"].to_numpy()[ok]
        same = group["event_id"].to_numpy()[:, None] == other_ids[None, :]
        i, j = np.nonzero((rel >= lo) & (rel <= hi) & ~same)
        if not len(i):
            continue
        left = group.iloc[i][["event_id", "stage", "security", "exchange"]].reset_index(drop=True)
        right = other[ok].iloc[j][["other_event_id", "other_type", "other_stage"]]
        part = pd.concat([left, right.reset_index(drop=True)], axis=1)
        part["rel_day"] = rel[i, j].astype(np.int64)
        parts.append(part)
    if not parts:
        empty = {c: pd.Series(dtype="str") for c in OVERLAP_COLUMNS if c not in ("where",)}
        empty["rel_day"] = pd.Series(dtype=np.int64)
        return pd.DataFrame(empty)
    return pd.concat(parts, ignore_index=True)


def _check_universe(alignment: Alignment, universe: Universe | None) -> None:
    """Refuse an alignment whose securities or exchanges disagree with ``universe``."""
    if universe is None:
        return
    pairs = alignment.instances[["security", "exchange"]].drop_duplicates()
    for sym, exchange in pairs.itertuples(index=False):
        if sym not in universe:
            raise AlignError(
                "alignment security is not in the universe",
                field="security",
                value=sym,
                expected="the universe the alignment was built with",
            )
        if universe[sym].calendar != exchange:
            raise AlignError(
                f"{sym} trades on {universe[sym].calendar}, not {exchange}",
                field="exchange",
                value=exchange,
                expected=universe[sym].calendar,
            )


def _check_window(name: str, window: tuple[int, int]) -> None:
    if len(window) != 2 or window[0] > window[1]:
        raise AlignError(
            "window start is after its end",
            field=name,
            value=window,
            expected="(start, end) with start <= end",
        )


def overlaps(
    alignment: Alignment,
    others: Alignment | Sequence[Event],
    universe: Universe | None = None,
    *,
    estimation: tuple[int, int] = (-250, -11),
    window: tuple[int, int] = (-1, 1),
    other_stages: OtherStages = "public",
) -> pd.DataFrame:
    """Other events whose day 0 (same exchange) falls in each instance's windows.

    Columns ``OVERLAP_COLUMNS``: the instance (event_id, stage, security,
    exchange), the other event (id, type, stage), ``where``
    (``event_window`` | ``estimation_window``) and ``rel_day`` (sessions from
    the instance's day 0).  A pair in both windows appears twice.  Exchanges
    come from the alignment; ``universe``, if given, is only checked against
    them (an alignment built from another universe is refused).
    """
    import pandas as pd

    _check_universe(alignment, universe)
    _check_window("estimation", estimation)
    _check_window("window", window)
    other = other_event_days(others, alignment.spec, other_stages)
    lo, hi = min(estimation[0], window[0]), max(estimation[1], window[1])
    pairs = _pairs(alignment, other, lo, hi)
    out = []
    for where, (a, b) in (("event_window", window), ("estimation_window", estimation)):
        part = pairs[(pairs["rel_day"] >= a) & (pairs["rel_day"] <= b)].copy()
        part["where"] = where
        out.append(part)
    frame = pd.concat(out, ignore_index=True)[list(OVERLAP_COLUMNS)]
    frame["where"] = frame["where"].astype("str")
    return frame.sort_values([*_KEY, "rel_day", "other_event_id"], ignore_index=True)


def estimation_mask(
    alignment: Alignment,
    others: Alignment | Sequence[Event],
    universe: Universe | None = None,
    *,
    policy: EstimationMask = "mask_other_events",
    estimation: tuple[int, int] = (-250, -11),
    pad: tuple[int, int] = (-1, 1),
    other_stages: OtherStages = "public",
) -> pd.DataFrame:
    """Relative days to drop from each instance's estimation window.

    Shape: a tidy frame, columns ``MASK_COLUMNS``, one row per instance
    (event_id, stage, security) x relative day to drop, with the ids of the
    other events responsible (comma-joined, sorted).  Instances with nothing
    to drop have no rows.  The study keeps estimation day r of an instance
    only if (instance, r) is absent.

    ``mask_other_events``: for every other event with day 0 at relative day d
    on the instance's exchange, drop days d+pad[0] .. d+pad[1] that fall
    inside ``estimation`` (so an event just outside the window still masks
    its edge).  ``none``: drop nothing (the frame is empty).  ``universe`` as
    in :func:`overlaps`.
    """
    import pandas as pd

    _check_universe(alignment, universe)
    _check_window("estimation", estimation)
    _check_window("pad", pad)
    empty = pd.DataFrame(
        {c: pd.Series(dtype=np.int64 if c == "rel_day" else "str") for c in MASK_COLUMNS}
    )
    if policy == "none":
        return empty
    if policy != "mask_other_events":
        raise AlignError(
            "unknown estimation mask policy",
            field="policy",
            value=policy,
            expected="'mask_other_events' or 'none'",
        )
    other = other_event_days(others, alignment.spec, other_stages)
    pairs = _pairs(alignment, other, estimation[0] - pad[1], estimation[1] - pad[0])
    if pairs.empty:
        return empty
    offsets = np.arange(pad[0], pad[1] + 1)
    expanded = pairs.loc[pairs.index.repeat(len(offsets))].reset_index(drop=True)
    expanded["rel_day"] = expanded["rel_day"].to_numpy() + np.tile(offsets, len(pairs))
    inside = expanded["rel_day"].between(estimation[0], estimation[1])
    grouped = expanded[inside].groupby([*_KEY, "rel_day"], sort=True)["other_event_id"]
    frame = grouped.agg(lambda s: ",".join(sorted(set(s)))).reset_index()
    frame.columns = list(MASK_COLUMNS)
    frame["rel_day"] = frame["rel_day"].astype(np.int64)
    frame["other_event_ids"] = frame["other_event_ids"].astype("str")
    return frame
