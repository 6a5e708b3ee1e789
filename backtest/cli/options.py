"""Options shared by several commands: one spelling, one default and one check each.

Every command that takes a price source, a seed, a stage, a log version, an
output folder or a holding period declares it with the aliases below, so the
spelling, the help and the default cannot drift apart between commands.  The
checks run in typer callbacks, i.e. while the command line is parsed, before
any computation; they raise :class:`backtest.errors.SpecError` naming the option.

Only typer is imported at module level (``mib --help`` stays instant).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from backtest.pipeline import Source

DEFAULT_SEED = 7  # = backtest.study.spec.DEFAULT_SEED (tests/test_study_design.py checks)
DEFAULT_STAGE = "official"
DEFAULT_HOLD = 5  # = backtest.strategy.spec.DEFAULT_HOLD (same test)
DEFAULT_PLACEBO = 1000
DEFAULT_OUT_ROOT = Path("reports")


def _seed(value: int) -> int:
    from backtest.pipeline import check_seed

    return check_seed(value, "--seed")


def _stage(value: str) -> str:
    from backtest.alignment.spec import STAGE_CHOICES
    from backtest.errors import SpecError

    if value not in STAGE_CHOICES:
        raise SpecError(
            "unknown event stage", field="--stage", value=value, expected=", ".join(STAGE_CHOICES)
        )
    return value


def at_least(value: int, field: str, minimum: int, what: str) -> int:
    """``value`` if it is >= ``minimum``, else a :class:`SpecError` naming ``field``."""
    from backtest.errors import SpecError

    if value < minimum:
        raise SpecError(f"too small: {what}", field=field, value=value, expected=f">= {minimum}")
    return value


def _placebo(value: int) -> int:
    return at_least(value, "--placebo", 0, "pseudo-event draws (0 = none)")


def _hold(value: int) -> int:
    from backtest.errors import SpecError

    if not 1 <= value <= 60:
        raise SpecError(
            "holding period out of range", field="--hold", value=value, expected="1 to 60 sessions"
        )
    return value


def _log_version(value: str | None) -> str | None:
    from backtest.errors import EventLogError, SpecError
    from backtest.eventlog.records import parse_version

    if value is None:
        return None
    try:
        parse_version(value)
    except EventLogError:
        raise SpecError(
            "invalid log version",
            field="--log-version",
            value=value,
            expected="N, vN or vN:DIGEST as printed by 'mib events validate'",
        ) from None
    return value


DemoOpt = Annotated[
    bool,
    typer.Option(
        "--demo", help="Prices: the offline synthetic market (planted effects, SYNTHETIC DATA)."
    ),
]
PricesDirOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--prices-dir",
        metavar="DIR",
        help="Prices: directory of CSV files (<SYMBOL>.csv). Repeat it to combine "
        "sources: each symbol's files are stitched on returns, the first directory "
        "winning where they overlap; a join whose returns disagree is refused.",
    ),
]
RunBarsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--bars",
        metavar="DIR",
        help="Optional: folder of intraday bar files (<SYMBOL>.csv); repeat for several, "
        "in priority order. Adds the report's 'minutes after the news' section and the "
        "intraday_reaction and intraday_paths tables.",
    ),
]
RunTzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="With --bars: IANA zone of naive bar time stamps (e.g. America/New_York).",
    ),
]


def bars_choice(bars: list[Path] | None, tz: str | None) -> tuple[tuple[str, ...], str | None]:
    """``--bars`` folders (each must exist) and ``--tz`` (a known zone, only with --bars)."""
    from backtest.errors import SpecError

    if tz is not None and not bars:
        raise SpecError("--tz needs --bars", field="--tz", value=tz, expected="--bars DIR")
    for d in bars or []:
        if not d.is_dir():
            raise SpecError(
                "bars directory not found",
                field="--bars",
                value=str(d),
                expected="an existing directory",
            )
    if tz is not None:
        from backtest.intraday.timezones import check_zone

        check_zone(tz)
    return tuple(str(d) for d in bars or []), tz


FromCacheOpt = Annotated[
    bool,
    typer.Option(
        "--from-cache",
        help="Prices: the local cache filled by 'mib data fetch/import' (offline).",
    ),
]
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        callback=_seed,
        help="Seed of the synthetic market and of placebo draws (an integer >= 0).",
    ),
]
StageOpt = Annotated[
    str,
    typer.Option(
        "--stage",
        callback=_stage,
        help="Event stage that sets day 0: official (earliest of announcement, filing, "
        "publication), first (leaks included), leak, announcement, filing, "
        "publication or effective.",
    ),
]
PlaceboOpt = Annotated[
    int,
    typer.Option(
        "--placebo",
        callback=_placebo,
        help="Pseudo-event draws for placebo (clustered-date) inference; 0 = none.",
    ),
]
HoldOpt = Annotated[
    int,
    typer.Option(
        "--hold", callback=_hold, help="Backtest holding period: sessions held (1 to 60)."
    ),
]
LaggedUsOpt = Annotated[
    bool,
    typer.Option(
        "--lagged-us",
        help="Market model: add the last US session that closed before the session opened "
        "(the first US benchmark listed for the US semis, e.g. SPY) as one more slope for "
        "Shanghai, Shenzhen and Hong Kong names (non-synchronous trading, Dimson 1979).",
    ),
]
LogOpt = Annotated[
    Path | None,
    typer.Option(
        "--log", metavar="FILE", help="Event log file (default: events/export_controls.yaml)."
    ),
]
LogVersionOpt = Annotated[
    str | None,
    typer.Option(
        "--log-version",
        metavar="N|vN:DIGEST",
        callback=_log_version,
        help="Rebuild the catalog from records 1..N only; 'vN:DIGEST' also checks the digest.",
    ),
]
UniverseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--universe-file",
        "--universe",
        metavar="FILE",
        help="Universe file (default: events/universe.yaml); '--universe' is the older "
        "spelling, kept for the event commands.",
    ),
]
DataUniverseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--universe-file", metavar="FILE", help="Universe file (default: events/universe.yaml)."
    ),
]
"""``mib data``: there ``--universe`` alone means every symbol of the universe."""
OutRootOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        metavar="DIR",
        help="Parent folder of run folders: the run is written to DIR/<run-id>/.",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Print the full tables too (they are always in the run folder)."
    ),
]


@dataclass(frozen=True, slots=True)
class PriceChoice:
    """The one price source the options name, and its directories (``--prices-dir``)."""

    source: Source
    dirs: tuple[Path, ...] = ()

    @property
    def spec_dirs(self) -> str | tuple[str, ...] | None:
        """``RunSpec.prices_dir``: None, one directory, or several in priority order."""
        if not self.dirs:
            return None
        if len(self.dirs) == 1:
            return str(self.dirs[0])
        return tuple(str(d) for d in self.dirs)


def price_choice(demo: bool, prices_dir: list[Path] | None, from_cache: bool) -> PriceChoice:
    """The shared exclusivity check: at most one of ``--demo``, ``--prices-dir``, ``--from-cache``.

    Naming none means Yahoo Finance.  Two sources are an error, never a silent pick.
    """
    from backtest.pipeline import price_source

    dirs = tuple(prices_dir or ())
    return PriceChoice(price_source(demo=demo, prices_dirs=dirs, from_cache=from_cache), dirs)


def log_version_number(text: str | None, log: Path | None) -> int | None:
    """The record count N of ``--log-version N|vN|vN:DIGEST`` (the digest checked here)."""
    if text is None:
        return None
    from backtest.eventlog.catalog import load_catalog
    from backtest.eventlog.records import parse_version

    seq, digest = parse_version(text)
    if digest is not None:
        load_catalog(log, version=text)  # an EventLogError when the digest differs
    return seq


def check_choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    """``value`` if it is one of ``allowed``, else a :class:`SpecError` naming ``field``."""
    from backtest.errors import SpecError

    if value not in allowed:
        raise SpecError("invalid choice", field=field, value=value, expected=", ".join(allowed))
    return value


def parse_date(value: str | None, field: str) -> dt.date | None:
    """``value`` (YYYY-MM-DD) as a date, None as None; else a SpecError naming ``field``."""
    from backtest.errors import SpecError

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SpecError("invalid date", field=field, value=value, expected="YYYY-MM-DD") from None
