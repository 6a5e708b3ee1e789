"""``Catalog``: the curated event log at one version, as DataFrames for a notebook.

A thin facade over :class:`backtest.eventlog.catalog.Catalog` (the fold of log
records 1..v) and :func:`backtest.align.align` (day 0 on each exchange).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from backtest.alignment.spec import StageChoice, UnknownTime
    from backtest.eventlog.catalog import Catalog as EventCatalog
    from backtest.universe import Universe

HISTORY_COLUMNS = ("seq", "recorded", "kind", "event_id", "line", "reason", "changes", "digest")


@dataclass(frozen=True, slots=True)
class Catalog:
    """The event log folded as of one version, with the universe it is checked against.

    Load it with :meth:`Catalog.load`; ``events`` is one row per event in force,
    :meth:`align` places day 0 on each security's exchange, :meth:`history` lists
    the records about one event.

    >>> import backtest
    >>> cat = backtest.Catalog.load(version=3)
    >>> cat.version.startswith("v3:"), len(cat.events) >= 1
    (True, True)
    """

    catalog: EventCatalog
    universe: Universe

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        version: int | str | None = None,
        *,
        universe: str | Path | None = None,
    ) -> Catalog:
        """Read and chain-check the log, then fold records 1..``version``.

        Parameters
        ----------
        path:
            The event log (default ``events/export_controls.yaml``).
        version:
            ``N``, ``"vN"`` or ``"vN:digest"`` (default: the whole log).
        universe:
            The universe file (default ``events/universe.yaml``).

        Returns
        -------
        Catalog
            Raises :class:`backtest.errors.EventLogError` for a damaged log or an
            unknown version.
        """
        from backtest.eventlog.catalog import load_catalog
        from backtest.universe import load_universe

        uni = load_universe(universe)
        return cls(load_catalog(path, version=version, universe=uni), uni)

    @property
    def version(self) -> str:
        """``vN:digest`` of the folded records."""
        return str(self.catalog.version)

    @property
    def path(self) -> Path:
        """The log file."""
        return self.catalog.path

    @property
    def events(self) -> pd.DataFrame:
        """One row per event in force (``event_id``, title, type, direction, stages...).

        >>> import backtest
        >>> ev = backtest.Catalog.load(version=3).events
        >>> {"event_id", "type", "direction", "announced_date"} <= set(ev.columns)
        True
        """
        from backtest.steps import events_table

        return events_table(self.catalog)

    def align(
        self,
        securities: str | list[str] | tuple[str, ...] | None = None,
        stage: StageChoice = "official",
        unknown_time: UnknownTime = "business_hours",
    ) -> pd.DataFrame:
        """Day 0 of ``stage`` of every event on each affected security's exchange.

        Parameters
        ----------
        securities:
            Symbols or group names to keep (default: every non-benchmark security).
        stage:
            ``official``, ``first``, ``leak``, ``announcement``, ``filing``,
            ``publication`` or ``effective``.
        unknown_time:
            Where a date-only stage is placed in its day (see
            :mod:`backtest.alignment.knowable`); such instances carry ``time_assumed``.

        Returns
        -------
        DataFrame
            One row per event x security: ``event_id, security, day0``, the exchange,
            the expected sign and how day 0 was decided.  Instances that could not be
            aligned are in ``frame.attrs["attrition"]``.

        >>> import backtest
        >>> inst = backtest.Catalog.load(version=3).align(securities="NVDA")
        >>> set(inst["security"]) <= {"NVDA"}
        True
        """
        from pydantic import ValidationError

        from backtest.align import AlignSpec, align
        from backtest.errors import SpecError

        secs = (securities,) if isinstance(securities, str) else securities
        try:
            spec = AlignSpec(
                stage=stage,
                unknown_time=unknown_time,
                securities=tuple(secs) if secs is not None else None,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise SpecError(
                str(err.get("msg", "invalid")).removeprefix("Value error, "),
                field=".".join(str(p) for p in err.get("loc", ())),
                value=err.get("input"),
            ) from None
        got = align(self.catalog.events, self.universe, spec)
        out = got.instances.copy()
        out.attrs["attrition"] = got.attrition
        return out

    def history(self, event_id: str) -> pd.DataFrame:
        """The log records about ``event_id``: its announcement, amendments, retraction.

        Raises :class:`backtest.eventlog.records.UnknownEventError` for an id that
        appears in no record.

        >>> import backtest
        >>> cat = backtest.Catalog.load(version=3)
        >>> first = cat.events["event_id"].iloc[0]
        >>> cat.history(first)["kind"].iloc[0]
        'announce'
        """
        import pandas as pd

        rows = []
        for entry in self.catalog.history(event_id):
            r = entry.record
            rows.append(
                {
                    "seq": r.seq,
                    "recorded": r.recorded,
                    "kind": r.kind,
                    "event_id": r.event_id,
                    "line": entry.line,
                    "reason": getattr(r, "reason", ""),
                    "changes": getattr(r, "changes", {}),
                    "digest": r.digest,
                }
            )
        return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))

    def __len__(self) -> int:
        return len(self.catalog)
