"""The intraday study over a catalog: which events the bars cover, and the two tidy tables.

``intraday_tables(catalog, bars_dirs)`` reads the folders once, finds every event whose
day-0 stage has bars around its knowable instant, studies each with
:func:`backtest.intraday.reaction.study_event`, and returns

``intraday_reaction``  one row per event x security (``reaction.REACTION_COLUMNS``);
``intraday_paths``     one row per event x security x bar (``reaction.PATH_COLUMNS``).

Securities of an event: its affected securities (groups resolved through the universe)
that have bars; for a confounder (or when none has bars) also the spec's benchmarks
that have bars, each measured against the next benchmark listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backtest.intraday.reaction import (
    PATH_COLUMNS,
    REACTION_COLUMNS,
    EventReaction,
    IntradaySpec,
    stage_instants,
    study_event,
)
from backtest.intraday.series import BarSet, read_bar_dirs

if TYPE_CHECKING:
    import pandas as pd

    from backtest.eventlog.catalog import Catalog
    from backtest.eventlog.models import Event
    from backtest.universe import Universe

_DAY_NS = 86_400 * 1_000_000_000


def event_symbols(
    event: Event, bars: BarSet, universe: Universe | None, spec: IntradaySpec
) -> list[str]:
    """The event's securities with bars; the spec's benchmarks with bars are added for a
    confounder (a market-wide shock shows in them first) or when no security has bars."""
    out: list[str] = []
    for a in event.affected:
        names = [s.symbol for s in universe.resolve(a.target)] if universe else [a.target]
        out += [n for n in names if n in bars and n not in out]
    if event.type == "confounder" or not out:
        out += [b for b in spec.benchmarks if b in bars and b not in out]
    return out


def covered(bars: BarSet, symbols: Sequence[str], known_ns: int) -> bool:
    """True when some symbol has a bar within a day either side of the knowable instant."""
    for sym in symbols:
        for s in bars[sym]:
            a, b = np.searchsorted(s.start_ns, [known_ns - _DAY_NS, known_ns + _DAY_NS])
            if b > a:
                return True
    return False


def study_catalog(
    catalog: Catalog,
    bars: BarSet,
    *,
    stage: str = "official",
    spec: IntradaySpec | None = None,
    universe: Universe | None = None,
    event_ids: Sequence[str] | None = None,
) -> list[EventReaction]:
    """Every event of ``catalog`` (or of ``event_ids``) that the bars cover, studied."""
    spec = spec or IntradaySpec()
    wanted = set(event_ids) if event_ids is not None else None
    out = []
    for ev in catalog.events:
        if wanted is not None and ev.id not in wanted:
            continue
        st = ev.chosen_stage(stage)
        if st is None:
            continue
        known, _, _ = stage_instants(st, spec.policy)
        syms = event_symbols(ev, bars, universe, spec)
        if not syms or not covered(bars, syms, int(known.timestamp() * 1e9)):
            continue
        result = study_event(ev.id, st, bars, syms, spec)
        if result.reactions:
            out.append(result)
    return out


def tables_from(results: Sequence[EventReaction]) -> dict[str, pd.DataFrame]:
    """The two tidy tables of a list of event reactions."""
    import pandas as pd

    reaction = pd.concat(
        [r.to_frame() for r in results] or [pd.DataFrame(columns=list(REACTION_COLUMNS))],
        ignore_index=True,
    )
    paths = pd.concat(
        [r.paths for r in results] or [pd.DataFrame(columns=list(PATH_COLUMNS))],
        ignore_index=True,
    )
    for c in ("knowable_utc", "reaction_after_utc", "reaction_by_utc"):
        reaction[c] = pd.to_datetime(reaction[c], utc=True)
    return {"intraday_reaction": reaction, "intraday_paths": paths}


def intraday_tables(
    catalog: Catalog,
    bars_dirs: Sequence[str | Path],
    *,
    tz: str | None = None,
    stage: str = "official",
    spec: IntradaySpec | None = None,
    universe: Universe | None = None,
) -> dict[str, pd.DataFrame]:
    """``intraday_reaction`` and ``intraday_paths`` for every event the folders cover."""
    known = set(universe.symbols) if universe else {"^GSPC"}
    cals = {s.symbol: s.calendar for s in universe.securities} if universe else None
    bars = read_bar_dirs([Path(d) for d in bars_dirs], tz=tz, known_symbols=known, calendars=cals)
    results = study_catalog(catalog, bars, stage=stage, spec=spec, universe=universe)
    return tables_from(results)
