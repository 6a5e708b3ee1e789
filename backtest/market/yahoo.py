"""Yahoo Finance through yfinance: batched downloads, retries, per-symbol failures.

``yfinance.download`` returns one frame with MultiIndex columns (Price, Ticker)
(or (Ticker, Price) with ``group_by='ticker'``); a symbol that returned nothing
is an all-NaN column block.  yfinance logs failures instead of raising, so the
adapter listens to the ``yfinance`` logger to say why a symbol failed.  When no
symbol at all could be fetched, Yahoo is treated as unreachable and
:class:`DataSourceUnavailable` is raised: never a silent fallback.

A fetch has one total deadline (``timeout``, 30 s by default; ``mib data fetch
--timeout``) covering every batch, retry and backoff.  yfinance makes several
requests per download, each with its own timeouts and retries, so each
download runs in a daemon thread that is abandoned when the deadline passes:
a network that accepts connections and never answers is reported as
unreachable after ``timeout`` seconds, not after minutes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from backtest.errors import DataSourceUnavailable
from backtest.market.panel import BAR_COLUMNS, SeriesMeta, SourceKind, frame_hash
from backtest.market.types import FetchResult, Progress, RawSeries, use_adjusted_close

if TYPE_CHECKING:
    import pandas as pd

FIELDS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _field_level(columns: pd.MultiIndex) -> int:
    for lvl in range(columns.nlevels):
        if set(columns.get_level_values(lvl)) & set(FIELDS):
            return lvl
    raise ValueError(f"no price fields in yfinance columns {list(columns)[:6]}")


def split_download(frame: pd.DataFrame, symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per-symbol frames (yfinance field names) from a ``yfinance.download`` result."""
    import pandas as pd

    if frame is None or frame.empty:
        return {}
    if not isinstance(frame.columns, pd.MultiIndex):
        if len(symbols) != 1:
            raise ValueError("flat yfinance columns for several symbols")
        return {symbols[0]: frame}
    flvl = _field_level(frame.columns)
    tlvl = 1 - flvl
    out: dict[str, pd.DataFrame] = {}
    by_upper = {s.upper(): s for s in symbols}
    for tkr in frame.columns.get_level_values(tlvl).unique():
        sym = by_upper.get(str(tkr).upper())
        if sym is not None:
            out[sym] = frame.xs(tkr, axis=1, level=tlvl)
    return out


def to_bars(sub: pd.DataFrame, tz: str | None, *, auto_adjust: bool = True) -> pd.DataFrame:
    """Canonical bars from one symbol's yfinance frame; empty when it returned nothing.

    A tz-aware index is converted to the exchange's zone ``tz`` before taking the
    date, so a Hong Kong bar stamped 16:00 UTC stays on its Hong Kong date.  An
    'Adj Close' column is used only with ``auto_adjust=False`` (yfinance adds an
    all-NaN one to every symbol when any symbol of the batch failed).
    """
    import pandas as pd

    named = sub.rename(columns=FIELDS)
    f = named[[c for c in FIELDS.values() if c in named.columns]].astype("float64")
    if "adj_close" in f and (auto_adjust or f["adj_close"].isna().all()):
        f = f.drop(columns="adj_close")
    idx = pd.DatetimeIndex(f.index)
    if idx.tz is not None:
        idx = idx.tz_convert(tz) if tz else idx
        idx = idx.tz_localize(None)
    f.index = idx.normalize().rename("date")
    f = f[f["close"].notna()] if "close" in f else f.iloc[0:0]
    f = use_adjusted_close(f)
    f = f[~f.index.duplicated(keep="last")].sort_index()
    return f[[c for c in BAR_COLUMNS if c in f]]


def _no_tz(symbol: str) -> str | None:
    """Default: keep a tz-aware index's own wall-clock dates."""
    return None


@dataclass(frozen=True)
class YahooSource:
    """Daily bars from Yahoo; ``auto_adjust`` is explicit and recorded in every series.

    ``timeout`` is the total deadline of one :meth:`fetch` in seconds; ``proxy``
    an ``http://host:port`` proxy for every request (None: yfinance's default
    session, which honours ``https_proxy``).
    """

    auto_adjust: bool = True
    batch_size: int = 20
    retries: int = 3
    backoff: float = 2.0  # seconds, doubled after each failed attempt
    timeout: float = 30.0  # seconds for the whole fetch
    tz_of: Callable[[str], str | None] = _no_tz
    sleep: Callable[[float], None] | None = None  # default: time.sleep
    clock: Callable[[], float] | None = None  # default: time.monotonic
    proxy: str | None = None
    kind: SourceKind = field(default="yahoo", init=False)

    def fetch(
        self,
        symbols: Sequence[str],
        *,
        start: str | None = None,
        end: str | None = None,
        progress: Progress | None = None,
    ) -> FetchResult:
        series: dict[str, RawSeries] = {}
        failures: dict[str, str] = {}
        done = 0
        clock = self.clock or time.monotonic
        deadline = clock() + self.timeout
        for i in range(0, len(symbols), self.batch_size):
            batch = list(symbols[i : i + self.batch_size])
            if clock() >= deadline:
                failures |= dict.fromkeys(symbols[i:], self._late())
                break
            got, failed = self._batch(batch, start, end, deadline)
            series |= got
            failures |= failed
            if not series and failed and all(_unreachable(r) for r in failed.values()):
                # The host cannot be reached at all: stop now instead of retrying
                # every batch (a closed network answers at once; waiting helps nobody).
                break
            for s in batch:
                done += 1
                if progress is not None:
                    progress(done, len(symbols), s)
        if symbols and not series:
            first = next(iter(failures.values()), "no data")
            what = (
                "Yahoo Finance is unreachable"
                if failures and all(_unreachable(r) for r in failures.values())
                else f"Yahoo Finance returned no data for any of {len(symbols)} symbols"
            )
            raise DataSourceUnavailable(
                f"{what} (first error: {first}); check the network, or run offline with --demo "
                "(synthetic prices) or --prices-dir DIR (your own CSV files)"
            )
        return FetchResult(series=series, failures=failures)

    def _late(self) -> str:
        return (
            f"not fetched: no answer within the {self.timeout:g} s deadline of the fetch "
            "(timed out; --timeout)"
        )

    def _batch(
        self, batch: list[str], start: str | None, end: str | None, deadline: float
    ) -> tuple[dict[str, RawSeries], dict[str, str]]:
        got: dict[str, RawSeries] = {}
        reasons: dict[str, str] = {}
        todo = list(batch)
        delay = self.backoff
        clock = self.clock or time.monotonic
        for attempt in range(1, self.retries + 1):
            left = deadline - clock()
            if left <= 0:
                reasons |= dict.fromkeys(todo, self._late())
                break
            frame, why = self._download(todo, start, end, left)
            parts = split_download(frame, todo) if frame is not None else {}
            for sym in list(todo):
                bars = (
                    to_bars(parts[sym], self.tz_of(sym), auto_adjust=self.auto_adjust)
                    if sym in parts
                    else None
                )
                if bars is not None and not bars.empty:
                    got[sym] = self._series(sym, bars)
                    todo.remove(sym)
                else:
                    reasons[sym] = _reason_for(sym, why)
            if not todo or (not got and all(_unreachable(reasons[s]) for s in todo)):
                break
            pause = min(delay, deadline - clock())
            if attempt < self.retries and pause > 0:
                (self.sleep or time.sleep)(pause)
                delay *= 2
        return got, {s: reasons[s] for s in todo}

    def _download(
        self, symbols: list[str], start: str | None, end: str | None, budget: float
    ) -> tuple[pd.DataFrame | None, list[str]]:
        """One ``yf.download`` in a daemon thread, abandoned after ``budget`` seconds."""
        import yfinance as yf

        session = _new_session(self.proxy)
        kw = {} if session is None else {"session": session}
        done: dict[str, object] = {}

        def work() -> None:
            try:
                done["frame"] = yf.download(
                    symbols,
                    start=start,
                    end=_exclusive_end(end),
                    interval="1d",
                    auto_adjust=self.auto_adjust,
                    actions=False,
                    group_by="column",
                    multi_level_index=True,
                    progress=False,
                    threads=True,
                    ignore_tz=True,
                    timeout=max(budget, 0.1),
                    **kw,
                )
            except Exception as exc:  # network stacks raise many types; keep the message
                done["error"] = f"{type(exc).__name__}: {exc}"

        handler = _Collect()
        logger = logging.getLogger("yfinance")
        logger.addHandler(handler)
        try:
            with warnings.catch_warnings(), _daemon_download_threads():
                # yfinance's own pandas deprecation warnings are not the user's to act on.
                warnings.filterwarnings("ignore", module=r"yfinance(\..*)?$")
                worker = threading.Thread(target=work, name="mib-yahoo-download", daemon=True)
                worker.start()
                worker.join(budget)
        finally:
            logger.removeHandler(handler)
        if worker.is_alive():
            return None, [
                *handler.messages,
                f"no answer from Yahoo Finance within "
                f"{budget:.3g} s: the connection stalled (timed out; --timeout)",
            ]
        if "error" in done:
            return None, [*handler.messages, str(done["error"])]
        return done.get("frame"), handler.messages

    def _series(self, sym: str, bars: pd.DataFrame) -> RawSeries:
        import yfinance as yf

        origin = f"yfinance {yf.__version__} download auto_adjust={self.auto_adjust}: " + (
            "OHLC split- and dividend-adjusted"
            if self.auto_adjust
            else "close = Adj Close, open/high/low scaled by Adj Close/Close"
        )
        meta = SeriesMeta(
            symbol=sym,
            source="yahoo",
            adjustment="adjusted",
            origin=origin,
            fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            rows=len(bars),
            first=f"{bars.index[0]:%Y-%m-%d}",
            last=f"{bars.index[-1]:%Y-%m-%d}",
            content_hash=frame_hash(bars),
        )
        return RawSeries(bars=bars, meta=meta)


UNREACHABLE_MARKERS = (
    "could not resolve host",
    "name or service not known",
    "temporary failure in name resolution",
    "network is unreachable",
    "connection refused",
    "failed to establish a new connection",
    "nodename nor servname",
    "timed out",
    "no answer",
)


def _new_session(proxy: str | None) -> Any:
    """An HTTP session for yfinance through ``proxy``; None keeps yfinance's default."""
    if proxy is None:
        return None
    from curl_cffi import requests

    session: Any = requests.Session(impersonate="chrome")
    session.proxies = {"http": proxy, "https": proxy}
    return session


@contextlib.contextmanager
def _daemon_download_threads() -> Iterator[None]:
    """yfinance's download threads (``multitasking``) as daemons while a download starts.

    A download abandoned at the deadline must not keep the process alive
    until its own socket timeouts expire.
    """
    try:
        import multitasking
    except ImportError:  # pragma: no cover - yfinance's dependency
        yield
        return
    before = bool(multitasking.config.get("DAEMON", False))
    multitasking.set_daemon(True)
    try:
        yield
    finally:
        multitasking.set_daemon(before)


def _unreachable(reason: str) -> bool:
    """True when a failure says the host cannot be reached (DNS, refused, no route)."""
    low = reason.lower()
    return any(m in low for m in UNREACHABLE_MARKERS)


def _exclusive_end(end: str | None) -> str | None:
    """yfinance's ``end`` is exclusive; ours is inclusive."""
    import pandas as pd

    return None if end is None else f"{pd.Timestamp(end) + pd.Timedelta(days=1):%Y-%m-%d}"


def _reason_for(sym: str, messages: list[str]) -> str:
    for m in messages:
        if sym.upper() in m.upper():
            return m.strip()
    return messages[-1].strip() if messages else "no rows returned"
