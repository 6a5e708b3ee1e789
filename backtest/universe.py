"""The universe: securities, their exchanges, groups and benchmarks (``events/universe.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Group = Literal[
    "us_incumbent", "us_semis", "us_equipment", "cn_substitute", "cn_platform", "benchmark"
]
GROUPS: tuple[str, ...] = (
    "us_incumbent",
    "us_semis",
    "us_equipment",
    "cn_substitute",
    "cn_platform",
    "benchmark",
)
Mic = Literal["XNAS", "XNYS", "ARCX", "BATS", "XSHG", "XSHE", "XHKG"]
Board = Literal["main", "star", "chinext", "none"]
Kind = Literal["stock", "adr", "etf", "index"]

# exchange_calendars has no Shenzhen calendar; Shenzhen and Shanghai share
# their trading days and hours (both set by the CSRC holiday schedule).
CALENDAR_FOR_MIC: dict[str, str] = {
    "XNAS": "XNAS",
    "XNYS": "XNYS",
    "ARCX": "XNYS",
    "BATS": "XNYS",
    "XSHG": "XSHG",
    "XSHE": "XSHG",
    "XHKG": "XHKG",
}

# Daily price-limit band by board (A-shares only), as a fraction of the previous close.
PRICE_LIMIT: dict[str, float] = {"main": 0.10, "star": 0.20, "chinext": 0.20}


class Security(BaseModel):
    """One tradable line: a stock, ADR, ETF or index."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(description="Yahoo Finance symbol, e.g. NVDA, 688256.SS, 0981.HK, ^SOX")
    name: str
    mic: Mic = Field(description="ISO 10383 market identifier of the primary listing")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    group: Group
    kind: Kind = "stock"
    board: Board = "none"
    benchmarks: tuple[str, ...] = Field(
        default=(), description="benchmark symbols, the first is the default market proxy"
    )
    listed: str | None = Field(default=None, description="first trading date, YYYY-MM-DD")
    cik: str | None = Field(
        default=None,
        description="SEC EDGAR Central Index Key of the issuer (10 digits, zero-padded), for "
        "US-listed stocks and ADRs; read by `mib events sources edgar`",
    )

    @field_validator("cik", mode="before")
    @classmethod
    def _cik(cls, v: object) -> object:
        if v is None or v == "":
            return None
        text = str(v).strip()
        if not text.isdigit() or len(text) > 10 or int(text) == 0:
            raise ValueError(
                f"CIK {v!r} is not up to 10 digits (expected e.g. '0001045810', quoted)"
            )
        return text.zfill(10)

    @property
    def calendar(self) -> str:
        """Name of the exchange_calendars calendar for this security's sessions."""
        return CALENDAR_FOR_MIC[self.mic]

    @property
    def price_limit(self) -> float | None:
        """Daily price-limit band (fraction), or None where there is none."""
        return PRICE_LIMIT.get(self.board)

    @property
    def is_a_share(self) -> bool:
        return self.mic in ("XSHG", "XSHE")


class Universe(BaseModel):
    """All securities of a study, keyed by symbol."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    securities: tuple[Security, ...]

    @field_validator("securities")
    @classmethod
    def _unique(cls, v: tuple[Security, ...]) -> tuple[Security, ...]:
        seen: set[str] = set()
        for s in v:
            if s.symbol in seen:
                raise ValueError(f"duplicate symbol {s.symbol!r}")
            seen.add(s.symbol)
        return v

    @model_validator(mode="after")
    def _benchmarks_known(self) -> Universe:
        known = {s.symbol for s in self.securities}
        for s in self.securities:
            for b in s.benchmarks:
                if b not in known:
                    raise ValueError(f"{s.symbol}: benchmark {b!r} is not in the universe")
        return self

    def __getitem__(self, symbol: str) -> Security:
        for s in self.securities:
            if s.symbol == symbol:
                return s
        raise KeyError(symbol)

    def __contains__(self, symbol: object) -> bool:
        return any(s.symbol == symbol for s in self.securities)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s.symbol for s in self.securities)

    def in_group(self, group: str) -> tuple[Security, ...]:
        return tuple(s for s in self.securities if s.group == group)

    def resolve(self, target: str) -> tuple[Security, ...]:
        """Securities named by ``target``: a symbol or a group name."""
        if target in GROUPS:
            return self.in_group(target)
        if target in self:
            return (self[target],)
        raise KeyError(target)

    def by_cik(self, cik: str) -> tuple[Security, ...]:
        """Securities of the issuer with this CIK (an ADR and its home line share one)."""
        padded = str(cik).strip().zfill(10)
        return tuple(s for s in self.securities if s.cik == padded)

    def subset(self, symbols: list[str] | tuple[str, ...]) -> Universe:
        """The named securities plus every benchmark they refer to."""
        keep: set[str] = set()
        for sym in symbols:
            keep.add(sym)
            keep.update(self[sym].benchmarks)
        return Universe(securities=tuple(s for s in self.securities if s.symbol in keep))


def default_universe_path() -> Path:
    """``events/universe.yaml`` of the checkout, or the copy shipped in the package."""
    here = Path.cwd() / "events" / "universe.yaml"
    if here.exists():
        return here
    return Path(__file__).resolve().parent.parent / "events" / "universe.yaml"


def load_universe(path: str | Path | None = None) -> Universe:
    """Read and validate a universe file; errors name the file and the field.

    The YAML is read like the event log (:func:`backtest.eventlog.yamlio.load_yaml`):
    duplicate keys are refused, dates stay strings, and anchors and aliases are
    limited to :data:`~backtest.eventlog.yamlio.MAX_ALIASES` references adding at
    most :data:`~backtest.eventlog.yamlio.MAX_ALIAS_NODES` nodes, so a "billion
    laughs" file is refused before it is expanded.
    """
    from pydantic import ValidationError

    from backtest.errors import MibError, UniverseError
    from backtest.eventlog.yamlio import load_yaml

    p = Path(path) if path is not None else default_universe_path()
    if not p.exists():
        raise UniverseError("universe file not found", file=p)
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UniverseError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=p) from None
    except OSError as exc:
        raise UniverseError(f"cannot read file: {exc.strerror or exc}", file=p) from None
    try:
        raw = load_yaml(text, p).data
    except MibError as exc:  # malformed YAML, duplicate keys, alias limits
        raise UniverseError(
            exc.message,
            file=p,
            line=exc.line,
            field=exc.field,
            value=exc.value,
            expected=(exc.expected or "").replace(" (see events/README.md)", "") or None,
        ) from None
    if not isinstance(raw, dict) or "securities" not in raw:
        raise UniverseError("expected a mapping with a 'securities' list", file=p)
    try:
        return Universe.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise UniverseError(
            first["msg"],
            file=p,
            field=loc,
            value=first.get("input") if not isinstance(first.get("input"), dict) else None,
        ) from None
