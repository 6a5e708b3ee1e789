"""Entry and exit timing kernels: numpy arrays in, fills out (no pandas, no I/O).

A security's *execution points* are the prices one could trade at, in time
order: the open and the close of every bar on its exchange.  A point is
stamped with the UTC instant at which its price is set (the session's open
or close), so "no look-ahead" is a comparison of integers: an entry point's
instant is strictly after the instant the news became knowable.

Venue rules enter as per-point flags: ``buy_blocked`` (the price is locked
at limit-up) and ``sell_blocked`` (locked at limit-down); a blocked order
waits for the first point of the next session that has a bar.  T+1 forbids
an exit on the entry session.  Sessions without a bar (suspensions) have no
points at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

OPEN, CLOSE = 0, 1


@dataclass(frozen=True, slots=True)
class ExecutionPoints:
    """Executable prices of one security, in time order.

    instant:      (m,) UTC nanoseconds at which each price is set, increasing.
    price:        (m,) the open or close price.
    session:      (m,) position of the point's session in the exchange calendar.
    phase:        (m,) OPEN or CLOSE.
    low, high:    (m,) the session's low and high (NaN when unknown), for stops.
    buy_blocked:  (m,) price locked at limit-up: no buying at this point.
    sell_blocked: (m,) price locked at limit-down: no selling at this point.
    t_plus_one:   positions cannot be closed on the session they were opened.
    """

    instant: IntArray
    price: FloatArray
    session: IntArray
    phase: IntArray
    low: FloatArray
    high: FloatArray
    buy_blocked: BoolArray
    sell_blocked: BoolArray
    t_plus_one: bool

    @property
    def m(self) -> int:
        return int(self.instant.shape[0])


@dataclass(frozen=True, slots=True)
class Fill:
    """Where an order executes.

    point:   index into the security's points (-1 when it cannot execute).
    price:   the fill price before slippage (a stop can fill at its level).
    delay:   sessions waited beyond the intended session.
    waits:   why it waited (``suspended``, ``limit_up``, ``limit_down``, ``t_plus_one``).
    outcome: entries: ``filled``, ``no_price_after_news``, ``entry_wait_exceeded``;
             exits: ``hold``, ``stop``, ``end_of_data``, ``no_exit_price``.
    """

    point: int
    price: float
    delay: int
    waits: tuple[str, ...]
    outcome: str


def intended_point(
    open_ns: IntArray, close_ns: IntArray, knowable_ns: int, lag: int
) -> tuple[int, int]:
    """The calendar session and instant of the first price after the news, plus a lag.

    The session is the first whose close is strictly after ``knowable_ns``;
    its open is used when the open too is after the news, else its close.
    ``lag`` sessions later, the same phase.  Returns ``(session, instant)``
    with session -1 when the calendar ends first.
    """
    s = int(np.searchsorted(close_ns, knowable_ns, side="right"))
    use_open = s < close_ns.shape[0] and open_ns[s] > knowable_ns
    s += lag
    if s >= close_ns.shape[0]:
        return -1, 0
    return s, int(open_ns[s] if use_open else close_ns[s])


def next_session_start(pts: ExecutionPoints, i: int) -> int:
    """Index of the first point of the next session that has a point after ``i``."""
    j = i + 1
    while j < pts.m and pts.session[j] == pts.session[i]:
        j += 1
    return j


def _blocked(pts: ExecutionPoints, i: int, buy: bool) -> bool:
    return bool(pts.buy_blocked[i] if buy else pts.sell_blocked[i])


def find_entry(
    pts: ExecutionPoints, target_ns: int, target_session: int, *, buy: bool, max_wait: int
) -> Fill:
    """First point at or after ``target_ns`` where the order may execute."""
    i = int(np.searchsorted(pts.instant, target_ns, side="left"))
    waits: list[str] = []
    if i < pts.m and pts.session[i] != target_session:
        waits.append("suspended")
    while i < pts.m:
        delay = int(pts.session[i]) - target_session
        if delay > max_wait:
            return Fill(-1, float("nan"), delay, tuple(waits), "entry_wait_exceeded")
        if not _blocked(pts, i, buy):
            return Fill(i, float(pts.price[i]), delay, tuple(waits), "filled")
        waits.append("limit_up" if buy else "limit_down")
        i = next_session_start(pts, i)
    return Fill(-1, float("nan"), 0, tuple(waits), "no_price_after_news")


def stop_trigger(
    pts: ExecutionPoints, entry: int, last: int, entry_price: float, side: int, stop: float
) -> tuple[int, float]:
    """First point in (entry, last] where a resting stop order is hit, and its fill price.

    The stop level is ``entry_price * (1 - side * stop)``.  At an open beyond
    the level the stop fills at the open (a gap through the stop); during a
    session (low or high beyond the level) it fills at the level, booked at
    that session's close point; without low/high the close itself is checked
    and used.  Returns ``(-1, nan)`` when the stop is not hit.
    """
    level = entry_price * (1.0 - side * stop)

    def beyond(px: float) -> bool:
        return px <= level if side > 0 else px >= level

    for k in range(entry + 1, min(last, pts.m - 1) + 1):
        if pts.phase[k] == OPEN:
            if beyond(float(pts.price[k])):
                return k, float(pts.price[k])
            continue
        extreme = float(pts.low[k] if side > 0 else pts.high[k])
        if np.isfinite(extreme):
            if beyond(extreme):
                return k, level
        elif beyond(float(pts.price[k])):
            return k, float(pts.price[k])
    return -1, float("nan")


def _execute_exit(
    pts: ExecutionPoints,
    entry: int,
    j: int,
    price: float | None,
    target_session: int,
    buy: bool,
    outcome: str,
    waits: list[str],
) -> Fill:
    """Walk forward from point ``j`` past T+1 and limit blocks; ``price`` overrides at ``j``."""
    first = j
    while j < pts.m:
        if pts.t_plus_one and pts.session[j] == pts.session[entry]:
            waits.append("t_plus_one")
            j = next_session_start(pts, j)
            continue
        if _blocked(pts, j, buy):
            waits.append("limit_up" if buy else "limit_down")
            j = next_session_start(pts, j)
            continue
        px = price if (price is not None and j == first) else float(pts.price[j])
        return Fill(j, px, max(int(pts.session[j]) - target_session, 0), tuple(waits), outcome)
    if pts.m - 1 > entry:
        return Fill(pts.m - 1, float(pts.price[pts.m - 1]), 0, tuple(waits), "end_of_data")
    return Fill(-1, float("nan"), 0, tuple(waits), "no_exit_price")


def find_exit(
    pts: ExecutionPoints,
    entry: int,
    entry_price: float,
    side: int,
    target_ns: int,
    target_session: int,
    stop: float | None,
) -> Fill:
    """Where a leg opened at point ``entry`` closes.

    Scheduled exit: the first point at or after ``target_ns``.  A stop hit
    before it exits instead.  The closing order is a sell for a long
    (``side`` +1) and a buy for a short; T+1 and limit blocks push it to the
    next session; past the last bar the leg is marked at the last price
    (``end_of_data``).
    """
    buy = side < 0
    j = int(np.searchsorted(pts.instant, target_ns, side="left"))
    waits: list[str] = []
    if stop is not None:
        k, px = stop_trigger(pts, entry, j, entry_price, side, stop)
        if k >= 0:
            return _execute_exit(pts, entry, k, px, int(pts.session[k]), buy, "stop", waits)
    if j < pts.m and target_session >= 0 and pts.session[j] != target_session:
        waits.append("suspended")
    return _execute_exit(pts, entry, j, None, target_session, buy, "hold", waits)
