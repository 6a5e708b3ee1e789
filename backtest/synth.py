"""A synthetic market with known, planted event effects.

Prices follow a two-region factor model on each exchange's own sessions:

* Latent daily shocks are drawn per calendar day for a US-time market factor,
  a semiconductor factor, a China A-share factor and a Hong Kong factor.
  A session aggregates the latent days since the previous session, and
  Asian sessions see the US-time shocks of the previous calendar day (they
  close before New York opens), which gives the non-synchronous pattern
  of the real data.
* Each security loads on those factors with betas and an idiosyncratic
  volatility that look like the real name (a large-cap US chip stock is far
  more volatile than SPY); shocks are Student-t (fat tails).
* A-shares obey daily price limits (10 % main board, 20 % STAR/ChiNext) and
  have occasional suspensions (no bar; the move accrues to the next bar).
* Planted effects are added per event instance (day-0 abnormal return and
  an optional drift over the following sessions) for the (direction or
  event type, group) pairs of :class:`Plant`; the planted table says exactly
  what was added where, so tests can read it back.

Everything is deterministic for a seed; each security has its own random
stream keyed by its symbol, so adding a security never changes another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from backtest.market.panel import PricePanel
    from backtest.universe import Security, Universe

TRADING_DAYS = 252.0


class Plant(BaseModel):
    """An effect planted on every instance matching ``match`` and ``group``.

    ``match`` is an event direction (tightening, easing, neutral) or an event
    type (e.g. entity_listing); ``day0`` is the abnormal return added on day 0
    and ``drift`` the abnormal return added on each of the ``drift_sessions``
    sessions after day 0.  Effects are simple returns.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: str
    group: str
    day0: float = 0.0
    drift: float = 0.0
    drift_sessions: int = Field(default=0, ge=0, le=60)


class SynthSpec(BaseModel):
    """Settings of the synthetic market."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 7
    start: str = "2018-01-02"
    end: str = "2026-10-30"
    plants: tuple[Plant, ...] = ()
    tail_df: float = Field(default=4.0, gt=2.0, description="Student-t degrees of freedom")
    suspension_rate: float = Field(
        default=0.002, ge=0.0, le=0.05, description="daily chance an A-share starts a suspension"
    )


# (annual market beta, semis beta, annual idiosyncratic vol) by symbol; the
# values are rough magnitudes of the real names (2019-2025), not estimates.
PROFILE: dict[str, tuple[float, float, float]] = {
    "NVDA": (1.6, 1.0, 0.38),
    "AMD": (1.6, 1.0, 0.42),
    "INTC": (1.1, 0.6, 0.32),
    "AVGO": (1.2, 0.7, 0.28),
    "QCOM": (1.2, 0.6, 0.26),
    "MU": (1.3, 0.9, 0.32),
    "TSM": (1.1, 0.7, 0.24),
    "ASML": (1.2, 0.8, 0.25),
    "AMAT": (1.3, 0.9, 0.27),
    "LRCX": (1.3, 0.9, 0.28),
    "KLAC": (1.2, 0.8, 0.25),
    "688256.SS": (1.3, 0.5, 0.62),
    "688981.SS": (1.1, 0.4, 0.38),
    "0981.HK": (1.2, 0.4, 0.42),
    "1347.HK": (1.2, 0.4, 0.45),
    "002371.SZ": (1.1, 0.4, 0.40),
    "688012.SS": (1.2, 0.4, 0.42),
    "688041.SS": (1.2, 0.4, 0.48),
    "688047.SS": (1.2, 0.4, 0.55),
    "BIDU": (1.1, 0.2, 0.38),
    "9888.HK": (1.1, 0.2, 0.36),
    "BABA": (1.1, 0.2, 0.36),
    "9988.HK": (1.1, 0.2, 0.34),
    "0700.HK": (1.0, 0.1, 0.28),
    "SPY": (1.0, 0.0, 0.01),
    "QQQ": (1.15, 0.25, 0.05),
    "SOXX": (1.2, 0.8, 0.05),
    "SMH": (1.2, 0.8, 0.05),
    "^SOX": (1.2, 0.8, 0.04),
    "^GSPC": (1.0, 0.0, 0.005),
    "^IXIC": (1.1, 0.2, 0.04),
    "^NDX": (1.15, 0.25, 0.04),
    "000300.SS": (1.0, 0.0, 0.01),
    "000688.SS": (1.2, 0.3, 0.10),
    "^HSI": (1.0, 0.0, 0.01),
    "FXI": (0.9, 0.0, 0.12),
    "KWEB": (1.2, 0.1, 0.20),
    "MCHI": (0.9, 0.0, 0.10),
}
DEFAULT_PROFILE: dict[str, tuple[float, float, float]] = {
    "us_incumbent": (1.4, 0.9, 0.38),
    "us_semis": (1.2, 0.7, 0.28),
    "us_equipment": (1.3, 0.8, 0.27),
    "cn_substitute": (1.2, 0.4, 0.45),
    "cn_platform": (1.1, 0.2, 0.35),
    "benchmark": (1.0, 0.0, 0.05),
}
# Annual volatilities of the latent factors: US market, semis, China A, Hong Kong.
FACTOR_VOL = {"us": 0.17, "semis": 0.22, "cn": 0.20, "hk": 0.22}
REGION_OF_CALENDAR = {"XNYS": "us", "XNAS": "us", "XSHG": "cn", "XHKG": "hk"}


@dataclass(frozen=True)
class SyntheticMarket:
    """Prices of the synthetic market and the effects planted in them.

    ``planted`` has one row per (event_id, security, stage, rel_day) with the
    simple return added (``effect``) and the session ``date``; ``seed`` and
    ``spec`` make the market reproducible.
    """

    panel: PricePanel
    planted: pd.DataFrame
    spec: SynthSpec


def _stream(seed: int, key: str) -> np.random.Generator:
    import numpy as np

    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


def _t_shocks(rng: np.random.Generator, n: int, df: float) -> np.ndarray:
    """Student-t draws scaled to unit variance, truncated at 8 standard deviations.

    The truncation keeps single-day moves plausible (NVDA's worst day in
    2019-2025 was about -17 %, some 7 daily sds).
    """
    import numpy as np

    draws: np.ndarray = rng.standard_t(df, size=n) * np.sqrt((df - 2.0) / df)
    clipped: np.ndarray = np.clip(draws, -8.0, 8.0)
    return clipped


def latent_factors(spec: SynthSpec) -> pd.DataFrame:
    """Daily latent factor shocks on every weekday (log-return units)."""
    import pandas as pd

    days = pd.bdate_range(pd.Timestamp(spec.start) - pd.Timedelta(days=10), spec.end)
    rng = _stream(spec.seed, "__factors__")
    out = {}
    for name, vol in FACTOR_VOL.items():
        daily = vol / TRADING_DAYS**0.5
        out[name] = _t_shocks(rng, len(days), spec.tail_df) * daily + 0.08 / TRADING_DAYS
    frame = pd.DataFrame(out, index=days)
    # Asian markets load on the previous US-time day's shocks.
    frame["cn"] += 0.35 * frame["us"].shift(1).fillna(0.0)
    frame["hk"] += 0.5 * frame["us"].shift(1).fillna(0.0)
    return frame


def _session_factors(latent: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Sum the latent daily shocks over (previous session, session]."""
    import numpy as np

    cum = latent.cumsum()
    pos = cum.index.searchsorted(sessions, side="right") - 1
    pos = np.clip(pos, 0, len(cum) - 1)
    at = cum.to_numpy()[pos]
    prev = np.vstack([np.zeros((1, at.shape[1])), at[:-1]])
    prev[0] = cum.to_numpy()[max(pos[0] - 1, 0)]
    return (
        latent.iloc[:0]
        .reindex(sessions)
        .assign(**{c: at[:, j] - prev[:, j] for j, c in enumerate(latent.columns)})
    )


def _profile(sec: Security) -> tuple[float, float, float]:
    return PROFILE.get(sec.symbol, DEFAULT_PROFILE[sec.group])


def _base_returns(
    sec: Security, sessions: pd.DatetimeIndex, latent: pd.DataFrame, spec: SynthSpec
) -> np.ndarray:
    """Log returns of one security from its factor loadings and t shocks."""
    region = REGION_OF_CALENDAR[sec.calendar]
    f = _session_factors(latent, sessions)
    beta_m, beta_s, idio = _profile(sec)
    if sec.symbol in ("FXI", "KWEB", "MCHI"):
        # US-listed China ETFs track Hong Kong with a one-day lag of nothing:
        # they trade in New York hours, so they see HK and US shocks of the day.
        market = 0.6 * f["hk"].to_numpy() + 0.4 * f["us"].to_numpy()
    elif sec.group in ("cn_platform",) and region == "us":
        market = 0.5 * f["hk"].to_numpy() + 0.5 * f["us"].to_numpy()
    else:
        market = f[region].to_numpy()
    rng = _stream(spec.seed, sec.symbol)
    shocks = _t_shocks(rng, len(sessions), spec.tail_df) * idio / TRADING_DAYS**0.5
    semis: np.ndarray = f["semis"].to_numpy()
    total: np.ndarray = beta_m * market + beta_s * semis + shocks
    return total


def _plant_table(
    sec: Security, sessions: pd.DatetimeIndex, instances: pd.DataFrame, plants: tuple[Plant, ...]
) -> pd.DataFrame:
    """Rows (event_id, stage, security, rel_day, date, effect, overnight) planted on one security.

    The day-0 effect lands overnight (in the open) when the news was knowable
    before day 0's open, else intraday (between the open and the close);
    drift effects move the whole session.
    """
    import pandas as pd

    from backtest.market.calendars import session_bounds

    rows = []
    mine = instances[instances["security"] == sec.symbol]
    opens = session_bounds(sec.calendar)["open"]
    for inst in mine.itertuples(index=False):
        for p in plants:
            if p.group != sec.group or p.match not in (inst.direction, inst.event_type):
                continue
            day0 = pd.Timestamp(inst.day0)
            pos = sessions.searchsorted(day0)
            if pos >= len(sessions) or sessions[pos] != day0:
                continue
            known = getattr(inst, "knowable_at_utc", None)
            before_open = known is None or pd.isna(known) or pd.Timestamp(known) <= opens[day0]
            effects = [(0, p.day0, before_open)]
            effects += [(k, p.drift, False) for k in range(1, p.drift_sessions + 1)]
            for rel, eff, overnight in effects:
                if eff != 0.0 and pos + rel < len(sessions):
                    rows.append(
                        (
                            inst.event_id,
                            inst.stage,
                            sec.symbol,
                            rel,
                            sessions[pos + rel],
                            eff,
                            overnight,
                        )
                    )
    return pd.DataFrame(
        rows, columns=["event_id", "stage", "security", "rel_day", "date", "effect", "overnight"]
    )


def _suspensions(sec: Security, n: int, spec: SynthSpec) -> np.ndarray:
    """Boolean mask of suspended sessions (A-share stocks only), 1-10 sessions each."""
    import numpy as np

    mask = np.zeros(n, dtype=bool)
    if not sec.is_a_share or sec.kind != "stock" or spec.suspension_rate == 0.0:
        return mask
    rng = _stream(spec.seed, sec.symbol + "/suspensions")
    starts = np.flatnonzero(rng.random(n) < spec.suspension_rate)
    for s in starts:
        mask[s : s + int(rng.integers(1, 11))] = True
    mask[0] = False
    return mask


def _bars(
    sec: Security,
    sessions: pd.DatetimeIndex,
    base: np.ndarray,
    plant: np.ndarray,
    plant_overnight: np.ndarray,
    spec: SynthSpec,
) -> tuple[pd.DataFrame, np.ndarray]:
    """OHLCV bars and the limit-hit mask of one security.

    ``base`` are simple returns from the factor model; ``plant`` the planted
    simple abnormal returns (added, so the planted AR is exactly the effect
    unless a price limit binds); ``plant_overnight`` the part of the plant
    that lands in the open.  A-share returns are clipped to the board's
    daily limit; suspended sessions are dropped and their move accrues to
    the next bar.
    """
    import numpy as np
    import pandas as pd

    rng = _stream(spec.seed, sec.symbol + "/bars")
    n = len(sessions)
    suspended = _suspensions(sec, n, spec)
    total = base + plant
    limit = sec.price_limit
    hit = np.zeros(n, dtype=bool)
    if limit is not None:
        clipped = np.clip(total, -limit, limit)
        hit = np.abs(clipped) >= limit - 1e-12
        total = clipped
    start_price = 100.0 if sec.group == "benchmark" else 50.0
    close = start_price * np.cumprod(1.0 + total)
    prev = np.concatenate([[start_price], close[:-1]])
    weight = rng.uniform(0.3, 0.7, n)
    gap = weight * base + plant_overnight
    if limit is not None:
        gap = np.clip(gap, -limit, limit)
    open_ = prev * (1.0 + gap)
    spread = np.abs(rng.normal(0.0, 0.006, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.maximum(np.minimum(open_, close) - spread, 0.01)
    if limit is not None:
        high = np.minimum(high, prev * (1.0 + limit))
        low = np.maximum(low, prev * (1.0 - limit))
    volume = np.round(np.exp(rng.normal(15.0, 0.4, n)))
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=sessions.rename("date"),
    )
    return frame[~suspended], hit & ~suspended


def make_market(
    universe: Universe, instances: pd.DataFrame | None = None, spec: SynthSpec | None = None
) -> SyntheticMarket:
    """Generate the synthetic market for every security of ``universe``.

    ``instances`` (from alignment) must have event_id, stage, security, day0,
    direction, event_type and optionally knowable_at_utc; it is only needed
    when ``spec.plants`` is not empty.
    """
    import numpy as np
    import pandas as pd

    from backtest.market.calendars import sessions as sessions_of
    from backtest.market.panel import PricePanel, SeriesMeta, frame_hash

    spec = spec or SynthSpec()
    if instances is None:
        instances = pd.DataFrame(
            columns=["event_id", "stage", "security", "day0", "direction", "event_type"]
        )
    latent = latent_factors(spec)
    bars: dict[str, pd.DataFrame] = {}
    meta: dict[str, SeriesMeta] = {}
    planted_parts = []
    for sec in universe.securities:
        start = max(pd.Timestamp(spec.start), pd.Timestamp(sec.listed or spec.start))
        sess = sessions_of(sec.calendar, start, spec.end)
        if len(sess) < 2:
            continue  # listed after the end of the synthetic history
        base = np.expm1(_base_returns(sec, sess, latent, spec))
        table = _plant_table(sec, sess, instances, spec.plants)
        plant = np.zeros(len(sess))
        overnight = np.zeros(len(sess))
        if len(table):
            pos = sess.get_indexer(pd.DatetimeIndex(table["date"]))
            np.add.at(plant, pos, table["effect"].to_numpy())
            on = table["overnight"].to_numpy(dtype=bool)
            np.add.at(overnight, pos[on], table["effect"].to_numpy()[on])
        frame, hit = _bars(sec, sess, base, plant, overnight, spec)
        if len(table):
            table = table.assign(clipped=hit[sess.get_indexer(pd.DatetimeIndex(table["date"]))])
            planted_parts.append(table)
        bars[sec.symbol] = frame
        meta[sec.symbol] = SeriesMeta(
            symbol=sec.symbol,
            source="synthetic",
            adjustment="adjusted",
            origin=f"synthetic seed={spec.seed}",
            rows=len(frame),
            first=f"{frame.index[0]:%Y-%m-%d}",
            last=f"{frame.index[-1]:%Y-%m-%d}",
            content_hash=frame_hash(frame),
        )
    planted = (
        pd.concat(planted_parts, ignore_index=True)
        if planted_parts
        else pd.DataFrame(
            columns=[
                "event_id",
                "stage",
                "security",
                "rel_day",
                "date",
                "effect",
                "overnight",
                "clipped",
            ]
        )
    )
    panel = PricePanel(
        bars=bars,
        meta=meta,
        synthetic=True,
        notes=("SYNTHETIC DATA: simulated prices, not market data",),
    )
    return SyntheticMarket(panel=panel, planted=planted, spec=spec)
