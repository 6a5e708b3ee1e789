"""What a backtest trades and how: the strategy specification and its policies.

Everything a run depends on travels in one frozen :class:`StrategySpec`,
validated once at the boundary.  The policies that decide prices and sizes
are named fields (``missing_open``, ``sizing``) and are recorded with the
result, so a reader can see exactly what was assumed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backtest.errors import SpecError

DEFAULT_HOLD = 5
"""Sessions a leg is held (its exit is the close of the hold-th session after entry);
also the default of ``--hold``."""

StrategyName = Literal["short_incumbents", "long_substitutes", "substitution_spread"]
STRATEGIES: tuple[str, ...] = ("short_incumbents", "long_substitutes", "substitution_spread")
Market = Literal["us", "hk", "a_share"]
MARKETS: tuple[Market, ...] = ("us", "hk", "a_share")
Direction = Literal["tightening", "easing", "neutral"]
StageSelection = Literal["first", "leak", "announcement", "filing", "publication", "effective"]
# When a bar has no open price: trade at that session's close (the first
# price after the news that exists), or refuse the run.
MissingOpen = Literal["use_close", "refuse"]

MARKET_OF_MIC: dict[str, Market] = {
    "XNAS": "us",
    "XNYS": "us",
    "ARCX": "us",
    "BATS": "us",
    "XHKG": "hk",
    "XSHG": "a_share",
    "XSHE": "a_share",
}


class StrategyError(SpecError):
    """A strategy specification or its inputs cannot be used as given."""


class CostModel(BaseModel):
    """Trading costs of one market, in basis points of traded value.

    ``fee_bps`` is paid on every order (commission, exchange and clearing
    fees, and stamp duty where it is charged on both sides, as in Hong Kong);
    ``slippage_bps`` moves the fill against the order (buys fill higher,
    sells lower); ``sell_tax_bps`` is paid on sells only (A-share stamp duty).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fee_bps: float = Field(default=1.0, ge=0.0, le=500.0)
    slippage_bps: float = Field(default=2.0, ge=0.0, le=500.0)
    sell_tax_bps: float = Field(default=0.0, ge=0.0, le=500.0)

    def round_trip_bps(self) -> float:
        """Approximate cost of one round trip (two fees, two slippages, one sell tax)."""
        return 2.0 * self.fee_bps + 2.0 * self.slippage_bps + self.sell_tax_bps


class Costs(BaseModel):
    """Cost models per market.

    Defaults: US 1 bp fee + 2 bp slippage; Hong Kong 13 bp fee (commission
    plus the 0.10 % stamp duty charged on both sides) + 5 bp slippage;
    A-shares 3 bp fee + 5 bp slippage + 5 bp stamp duty on sells (the rate
    since August 2023).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    us: CostModel = CostModel(fee_bps=1.0, slippage_bps=2.0)
    hk: CostModel = CostModel(fee_bps=13.0, slippage_bps=5.0)
    a_share: CostModel = CostModel(fee_bps=3.0, slippage_bps=5.0, sell_tax_bps=5.0)

    def of(self, market: Market) -> CostModel:
        model: CostModel = getattr(self, market)
        return model

    def with_fee(self, fee_bps: float) -> Costs:
        """The same costs with every market's fee set to ``fee_bps``."""
        return Costs.model_validate(
            {m: {**self.of(m).model_dump(), "fee_bps": fee_bps} for m in MARKETS}
        )


class StrategySpec(BaseModel):
    """A strategy, the events it trades, and how it executes.

    Strategies (the side per group and event direction; neutral events are
    never traded):

    * ``short_incumbents``: us_incumbent short on tightening, long on easing.
    * ``long_substitutes``: cn_substitute long on tightening (easing is not
      traded: shorting A-shares is not generally available).
    * ``substitution_spread``: per tightening event, long every cn_substitute
      and short every us_incumbent (easing: the reverse on incumbents only).

    ``hedge`` adds, for every leg, the opposite position in the security's
    first benchmark for the same notional, opened and closed at the first
    prices of the benchmark at or after the leg's own entry and exit.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: StrategyName = "substitution_spread"
    hedge: bool = False
    event_types: tuple[str, ...] = Field(
        default=(), description="event types to trade; empty = all except confounder"
    )
    directions: tuple[Direction, ...] = ("tightening", "easing")
    authorities: tuple[str, ...] = Field(
        default=(), description="authorities to trade; empty = all (needs an 'authority' column)"
    )
    stage: StageSelection = Field(
        default="first", description="stage to trade; 'first' = earliest knowable stage per event"
    )
    hold: int = Field(
        default=DEFAULT_HOLD,
        ge=1,
        le=250,
        description="exit at the close of the hold-th session after entry",
    )
    stop_loss: float | None = Field(
        default=None, gt=0.0, lt=1.0, description="exit when the leg loses this fraction"
    )
    entry_lag: int = Field(
        default=0,
        ge=0,
        le=60,
        description="extra sessions to wait after the first executable price",
    )
    costs: Costs = Costs()
    initial_cash: float = Field(default=1_000_000.0, gt=0.0)
    leg_fraction: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="notional of each leg as a fraction of initial cash",
    )
    missing_open: MissingOpen = "use_close"
    limit_tolerance: float = Field(
        default=0.001,
        ge=0.0,
        lt=0.05,
        description="a move within this of the daily limit counts as locked at the limit",
    )
    max_entry_wait: int = Field(
        default=5, ge=0, le=60, description="sessions an entry may wait (limit, suspension)"
    )
    benchmark: str | None = Field(
        default=None, description="buy-and-hold comparison; None = first traded leg's benchmark"
    )

    @field_validator("event_types", "authorities")
    @classmethod
    def _no_blanks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s.strip() for s in v):
            raise ValueError("names must not be blank")
        return v

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from backtest.eventlog.models import EVENT_TYPES

        unknown = [t for t in v if t not in EVENT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown event type(s) {unknown}; expected any of " + ", ".join(EVENT_TYPES)
            )
        return v


def market_of(mic: str) -> Market:
    """The cost market of a listing (US, Hong Kong or A-share)."""
    try:
        return MARKET_OF_MIC[mic]
    except KeyError:
        raise StrategyError(
            "no cost market for this exchange",
            field="mic",
            value=mic,
            expected=", ".join(sorted(MARKET_OF_MIC)),
        ) from None


def policy_notes(spec: StrategySpec) -> dict[str, str]:
    """The execution policies of a run, in words, for the result and the report."""
    open_rule = (
        "a bar without an open price is entered at that session's close"
        if spec.missing_open == "use_close"
        else "bars without an open are refused"
    )
    return {
        "entry": (
            "first executable price strictly after knowable_at_utc on the security's "
            "exchange: news before the open -> that session's open; during the session "
            "-> its close; after the close -> the next session's open; "
            f"then {spec.entry_lag} more session(s) of lag; {open_rule}"
        ),
        "exit": (
            f"close of the exchange session {spec.hold} session(s) after the entry "
            "session (sessions without a bar count; if that one has none, the next price)"
            + (
                f", or a resting stop at -{spec.stop_loss:.1%}: filled at the open when an "
                "open gaps through it, else at the stop level on the session whose low "
                "(high, for shorts) reaches it"
                if spec.stop_loss
                else ""
            )
        ),
        "venue": (
            "A-share stocks: no exit on the entry session (T+1); no buy at limit-up or "
            "sell at limit-down (the order waits for the next session, delay recorded); "
            f"entries waiting more than {spec.max_entry_wait} sessions are skipped; "
            "no trading on sessions without a bar (suspension)"
        ),
        "sizing": (
            f"each leg {spec.leg_fraction:.1%} of initial cash at the entry price; "
            "one shared cash account; shorts are fully collateralised; an entry the free "
            "cash cannot fund is rejected (listed in attrition)"
        ),
        "currency": "returns in each listing's own currency; FX is not modelled",
        "metrics": "daily (UTC date) equity; 252 periods a year; risk-free rate 0",
    }
