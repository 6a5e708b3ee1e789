"""Design: turn event instances and per-security return series into (n, days) arrays.

Relative day 0 of an instance is the position of its ``day0`` in the security's
own session index (the index of its return series); the estimation and event
windows count that security's sessions.  Every instance that cannot be used is
recorded in the attrition table with a reason; nothing is dropped silently.

This is the one step that touches pandas on the way in; the arrays it returns
feed the numpy kernels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from backtest.errors import SpecError
from backtest.study.arrays import DesignArrays as DesignArrays  # re-exported
from backtest.study.arrays import IntArray
from backtest.study.kernels import covered_sessions
from backtest.study.models import ModelDef, model_def
from backtest.study.spec import StudySpec

AttritionCode = Literal[
    "duplicate_instance",
    "no_returns",
    "day0_outside_data",
    "day0_not_a_row",
    "missing_regressor",
    "all_missing_returns",
    "estimation_too_short",
    "constant_returns",
    "no_event_returns",
    "missing_event_day",
    "singular_design",
]
ATTRITION_COLUMNS = ("event_id", "security", "day0", "group", "reason", "detail")
REQUIRED_INSTANCE_COLUMNS = ("event_id", "security", "day0")

Regressors: TypeAlias = Mapping[str, pd.DataFrame | pd.Series] | pd.DataFrame | pd.Series | None


@dataclass(frozen=True, slots=True)
class Design:
    """The arrays, one label row per array row, and the instances that were dropped."""

    arrays: DesignArrays
    labels: pd.DataFrame
    attrition: pd.DataFrame
    model: ModelDef


def _normalise_instances(instances: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_INSTANCE_COLUMNS if c not in instances.columns]
    if missing:
        raise SpecError(
            "instances lack required columns",
            field="instances",
            value=missing,
            expected=f"columns {list(REQUIRED_INSTANCE_COLUMNS)}",
        )
    df = instances.reset_index(drop=True).copy()
    try:
        df["day0"] = pd.to_datetime(df["day0"]).dt.tz_localize(None).dt.normalize()
    except (ValueError, TypeError) as exc:
        raise SpecError(
            "day0 is not a date", field="day0", value=str(exc)[:80], expected="YYYY-MM-DD dates"
        ) from None
    for col, fill in (
        ("event_id", ""),
        ("security", ""),
        ("group", "all"),
        ("event_type", ""),
        ("stage", ""),
        ("direction", ""),
    ):
        df[col] = _as_text(df[col] if col in df.columns else None, fill, len(df))
    # Optional per-instance regressor key (see backtest.returns.choose_benchmarks):
    # the key of ``market`` that holds this instance's regressors; default its security.
    reg = _as_text(df["regressor"] if "regressor" in df.columns else None, "", len(df))
    df["regressor"] = np.where(reg == "", df["security"].to_numpy(dtype=object), reg)
    # Optional ``pool`` flag: False keeps the instance in per-event results but out of
    # every pooled statistic (e.g. confounders, low-confidence events); default True.
    df["pool"] = (
        df["pool"].fillna(True).astype(bool).to_numpy()
        if "pool" in df.columns
        else np.ones(len(df), dtype=bool)
    )
    # Optional expected sign of the instance (-1, 0, +1; NaN unknown) for signed pools, and
    # the exchange, whose market and day-0 date make the calendar cluster.
    df["expected_sign"] = (
        pd.to_numeric(df["expected_sign"], errors="coerce").astype(float).to_numpy()
        if "expected_sign" in df.columns
        else np.full(len(df), np.nan)
    )
    df["exchange"] = _as_text(df["exchange"] if "exchange" in df.columns else None, "", len(df))
    return df


# Exchanges that share one trading calendar form one market: a day-0 date on NYSE and on
# Nasdaq is one observation of the US market's reaction (DESIGN section 4).
MARKET_OF_EXCHANGE: dict[str, str] = {
    "XNYS": "US",
    "XNAS": "US",
    "ARCX": "US",
    "BATS": "US",
    "XSHG": "CN",
    "XSHE": "CN",
    "XHKG": "HK",
}


def calendar_clusters(exchange: np.ndarray, day0: pd.Series) -> IntArray:
    """Cluster id of each instance: its (market, day-0 date).

    Instances of different events on the same market and day 0 share a cluster,
    so clustering-valid tests count that day once; without exchanges the day-0
    date alone decides.
    """
    market = np.array([MARKET_OF_EXCHANGE.get(str(e), str(e)) for e in exchange], dtype=object)
    key = pd.Series(market).astype(str) + "|" + pd.to_datetime(day0).dt.strftime("%Y-%m-%d")
    return np.asarray(pd.factorize(key.to_numpy())[0], dtype=np.int64)


def _as_text(col: pd.Series | None, fill: str, n: int) -> np.ndarray:
    """Labels as a numpy object array of str (missing -> ``fill``); fast to compare."""
    if col is None:
        return np.full(n, fill, dtype=object)
    vals = col.to_numpy(dtype=object, na_value=None)
    return np.array([fill if v is None or v != v else str(v) for v in vals], dtype=object)


def _member(values: np.ndarray, allowed: object) -> np.ndarray:
    """values[i] in allowed, for object arrays of str."""
    keep = set(allowed)  # type: ignore[call-overload]
    return np.fromiter((v in keep for v in values), dtype=bool, count=len(values))


def _values(s: pd.Series) -> np.ndarray:
    """A float64 view of a return series (NaN for missing)."""
    if s.dtype == np.float64:
        return np.asarray(s.to_numpy())
    return np.asarray(s.to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)


def _regressor_frame(market: Regressors, security: str) -> pd.DataFrame | None:
    if market is None:
        return None
    if isinstance(market, pd.Series):
        return market.to_frame(name=market.name if isinstance(market.name, str) else "market")
    if isinstance(market, pd.DataFrame):
        return market
    got = market.get(security)
    if got is None:
        return None
    return got.to_frame(name="market") if isinstance(got, pd.Series) else got


def _take(
    mat: np.ndarray, start: np.ndarray, width: int, sec: np.ndarray | None = None
) -> np.ndarray:
    """Windows of ``width`` sessions from ``start``: (n, width) rows of ``mat``.

    mat is (T,) shared by all, or (S, T) security-major (row ``sec[i]`` for instance i);
    sessions outside [0, T) are NaN.  Reads are contiguous (a strided window view).
    """
    T = mat.shape[-1]
    if not len(start):
        return np.zeros((0, width))
    lo = max(0, -int(start.min()))
    hi = max(0, int(start.max()) + width - T)
    if lo or hi:
        pad = np.full((*mat.shape[:-1], T + lo + hi), np.nan)
        pad[..., lo : lo + T] = mat
        mat = pad
    view = np.lib.stride_tricks.sliding_window_view(mat, width, axis=-1)
    return np.asarray(view[start + lo] if sec is None else view[sec, start + lo])


def _take_x(X: np.ndarray, start: np.ndarray, width: int, sec: np.ndarray | None) -> np.ndarray:
    """(n, width, p) regressor windows from X (p, T) shared or (p, S, T) per security."""
    p = X.shape[0]
    out = np.empty((len(start), width, p))
    for j in range(p):
        out[:, :, j] = _take(X[j], start, width, sec)
    return out


@dataclass(frozen=True, slots=True)
class _Block:
    rows: np.ndarray
    r_est: np.ndarray
    x_est: np.ndarray
    r_evt: np.ndarray
    x_evt: np.ndarray
    colmask: np.ndarray
    evt_dates: np.ndarray
    est_masked: np.ndarray

    def take(self, keep: np.ndarray) -> _Block:
        return _Block(
            self.rows[keep],
            self.r_est[keep],
            self.x_est[keep],
            self.r_evt[keep],
            self.x_evt[keep],
            self.colmask[keep],
            self.evt_dates[keep],
            self.est_masked[keep],
        )


def _index_groups(
    secs: list[str], returns: Mapping[str, pd.Series]
) -> list[tuple[pd.DatetimeIndex, list[str]]]:
    """Securities whose return series share one session index (same data, or equal)."""
    by_ptr: dict[tuple[int, int], tuple[pd.DatetimeIndex, list[str]]] = {}
    groups: dict[tuple[object, ...], list[tuple[pd.DatetimeIndex, list[str]]]] = {}
    for s in secs:
        idx = returns[s].index
        di = idx if isinstance(idx, pd.DatetimeIndex) else pd.DatetimeIndex(idx)
        i8 = di.asi8
        ptr = (i8.ctypes.data, len(i8))
        if ptr in by_ptr:  # same underlying dates (e.g. columns of one frame)
            by_ptr[ptr][1].append(s)
            continue
        key = (len(i8), int(i8[0]) if len(i8) else 0, int(i8[-1]) if len(i8) else 0)
        for g in groups.setdefault(key, []):
            if np.array_equal(g[0].asi8, i8):
                g[1].append(s)
                by_ptr[ptr] = g
                break
        else:
            g = (di, [s])
            groups[key].append(g)
            by_ptr[ptr] = g
    return [g for gs in groups.values() for g in gs]


def _check_index(index: pd.DatetimeIndex, sec: str) -> None:
    if not index.is_monotonic_increasing or not index.is_unique:
        raise SpecError(
            "return series index must be sorted unique session dates",
            field=f"returns[{sec}]",
            value="unsorted or duplicated",
            expected="a sorted, unique DatetimeIndex",
        )


def _regressors(
    index: pd.DatetimeIndex, secs: list[str], market: Regressors, cols: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Regressor values on ``index``: (T, p) if shared, else (T, S, p); and have (S, p)."""

    def values(frame: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
        x = np.full((len(index), len(cols)), np.nan)
        have = np.zeros(len(cols), dtype=bool)
        if frame is None:
            return x, have
        if not (frame.index is index or frame.index.equals(index)):
            frame = frame.reindex(index)
        for j, c in enumerate(cols):
            if c in frame.columns:
                x[:, j] = frame[c].to_numpy(dtype=float, na_value=np.nan)
                have[j] = True
        return x, have

    if market is None or isinstance(market, pd.Series | pd.DataFrame):
        x, have = values(_regressor_frame(market, ""))
        return x, np.broadcast_to(have, (len(secs), len(cols))), True
    xs = np.full((len(index), len(secs), len(cols)), np.nan)
    haves = np.zeros((len(secs), len(cols)), dtype=bool)
    for k, sec in enumerate(secs):
        xs[:, k, :], haves[k] = values(_regressor_frame(market, sec))
    return xs, haves, False


def _group_block(
    df: pd.DataFrame,
    index: pd.DatetimeIndex,
    secs: list[str],
    returns: Mapping[str, pd.Series],
    market: Regressors,
    model: ModelDef,
    spec: StudySpec,
    drops: list[tuple[int, str, str]],
    masks: pd.DataFrame | None,
) -> _Block | None:
    """Gather the windows of every instance of securities sharing ``index``."""
    _check_index(index, secs[0])
    cols = model.columns
    R = np.stack([_values(returns[s]) for s in secs])  # (S, T) security-major
    rows_df = df[_member(df["security"].to_numpy(), secs)]
    rows = rows_df.index.to_numpy()
    sec = pd.Index(secs).get_indexer(rows_df["security"])
    xkeys = list(dict.fromkeys(rows_df["regressor"].to_numpy(dtype=object)))
    X, have, shared = (
        _regressors(index, xkeys, market, cols)
        if cols
        else (np.zeros((len(index), 0)), np.zeros((len(xkeys), 0), bool), True)
    )
    xk = pd.Index(xkeys).get_indexer(rows_df["regressor"])
    need = np.array([c not in model.optional for c in cols], dtype=bool)
    lacking = (need[None, :] & ~have).any(axis=1)[xk] if cols else np.zeros(len(rows), bool)
    day0 = pd.DatetimeIndex(rows_df["day0"])
    pos = index.get_indexer(day0)
    span = f"{index[0].date()}..{index[-1].date()}" if len(index) else "no rows"
    bad = np.flatnonzero(lacking | (pos < 0))
    for r, d, lk, p in zip(rows[bad], day0[bad], lacking[bad], pos[bad], strict=True):
        if lk:
            drops.append((int(r), "missing_regressor", f"no column among {list(cols)}"))
        elif p < 0:
            out = not len(index) or d < index[0] or d > index[-1]
            drops.append(
                (
                    int(r),
                    "day0_outside_data" if out else "day0_not_a_row",
                    f"{d.date()} vs data {span}",
                )
            )
    ok = (pos >= 0) & ~lacking
    if not ok.any():
        return None
    rows, pos, sec, xk = rows[ok], pos[ok], sec[ok], xk[ok]
    lo, hi = spec.event_span
    e0, e1 = spec.estimation
    mpos, msec = pos, sec  # other events of a security are masked out of its estimation
    if masks is not None and len(masks):  # windows: its other instances and ``masks``
        mrows = masks[_member(masks["security"].to_numpy(), secs)]
        mp = index.get_indexer(pd.DatetimeIndex(mrows["day0"]))
        ms = pd.Index(secs).get_indexer(mrows["security"])
        mpos, msec = np.concatenate([pos, mp[mp >= 0]]), np.concatenate([sec, ms[mp >= 0]])
    # Never let an instance's own mask reach into its own estimation window.
    m0, m1 = max(spec.mask_window[0], e1 + 1), spec.mask_window[1]
    masked = np.where(covered_sessions(mpos, msec, m0, m1, len(index), len(secs)), np.nan, R)
    lost = np.zeros((len(secs), len(index) + 1), dtype=np.int64)  # masked days with data
    np.cumsum(np.isnan(masked) & ~np.isnan(R), axis=1, out=lost[:, 1:])
    a, b = np.clip(pos + e0, 0, len(index)), np.clip(pos + e1 + 1, 0, len(index))
    est_masked = lost[sec, b] - lost[sec, a]
    xsec = None if shared else xk
    Xm = np.moveaxis(X, -1, 0)  # (p, T) shared or (p, S, T)
    Xm = Xm if shared else np.ascontiguousarray(np.swapaxes(Xm, 1, 2))
    days = index.to_numpy().astype("datetime64[D]").astype(np.int64).astype(float)
    evt_dates = _take(days, pos + lo, hi - lo + 1)
    evt_dates = np.where(np.isnan(evt_dates), np.iinfo(np.int64).min, evt_dates)
    L, W = e1 - e0 + 1, hi - lo + 1
    return _Block(
        rows,
        _take(masked, pos + e0, L, sec),
        _take_x(Xm, pos + e0, L, xsec),
        _take(R, pos + lo, W, sec),
        _take_x(Xm, pos + lo, W, xsec),
        np.asarray(have)[xk].copy(),
        evt_dates.astype(np.int64).astype("datetime64[D]"),
        est_masked,
    )


def _complete(r: np.ndarray, x: np.ndarray, colmask: np.ndarray) -> np.ndarray:
    """Observations with a return and every regressor the instance uses."""
    ok = ~np.isnan(r)
    if x.shape[-1]:
        ok &= ~(np.isnan(x) & colmask[:, None, :]).any(axis=-1)
    return np.asarray(ok)


def _screen(block: _Block, spec: StudySpec, drops: list[tuple[int, str, str]]) -> np.ndarray:
    """Boolean mask of the block's usable rows; the others are recorded in ``drops``."""
    est_ok = _complete(block.r_est, block.x_est, block.colmask)
    evt_ok = _complete(block.r_evt, block.x_evt, block.colmask)
    n_est = est_ok.sum(axis=1)
    n_any = (~np.isnan(block.r_est)).sum(axis=1)
    r = np.where(est_ok, block.r_est, np.nan)
    with np.errstate(invalid="ignore"):  # fmax/fmin skip NaN; all-NaN rows give NaN
        spread = np.fmax.reduce(r, axis=1) - np.fmin.reduce(r, axis=1)
    conds = [
        n_any == 0,
        n_est < spec.min_estimation_obs,
        ~(spread > 0),
        ~evt_ok.any(axis=1),
        (spec.missing == "drop_instance") & ~evt_ok.all(axis=1),
    ]
    code = np.select(conds, np.arange(1, 6), 0)
    lo, hi = spec.event_span
    for i in np.flatnonzero(code):
        c = int(code[i])
        detail = {
            1: "no return in the estimation window",
            2: f"required={spec.min_estimation_obs} available={int(n_est[i])}",
            3: "returns constant over the estimation window",
            4: f"no return in [{lo},{hi}]",
            5: f"{int((~evt_ok[i]).sum())} missing day(s) in [{lo},{hi}]",
        }[c]
        reason = (
            "",
            "all_missing_returns",
            "estimation_too_short",
            "constant_returns",
            "no_event_returns",
            "missing_event_day",
        )[c]
        drops.append((int(block.rows[i]), reason, detail))
    return np.asarray(code == 0)


def build_design(
    instances: pd.DataFrame,
    returns: Mapping[str, pd.Series],
    market: Regressors,
    spec: StudySpec,
    masks: pd.DataFrame | None = None,
) -> Design:
    """Arrays of every usable instance, their labels, and the attrition table.

    instances: columns event_id, security, day0 (and optionally group, event_type,
    stage).  returns[security]: that security's returns on its own sessions.
    market: per security (mapping) or shared (frame/series) regressors, reindexed
    onto each security's sessions; a Series is the market column.
    masks: optional (security, day0) rows of other events (e.g. confounders) whose
    event span is masked out of estimation windows, like the study's own instances.
    """
    model = model_def(spec)
    df = _normalise_instances(instances)
    drops: list[tuple[int, str, str]] = []
    dup = df.duplicated(subset=["event_id", "security", "day0"], keep="first").to_numpy()
    drops.extend(
        (int(r), "duplicate_instance", "same event_id, security and day0")
        for r in np.flatnonzero(dup)
    )
    live = df[~dup]
    known = _member(live["security"].to_numpy(), returns.keys())
    drops.extend(
        (int(r), "no_returns", f"no return series for {s}")
        for r, s in zip(live.index[~known], live["security"][~known], strict=True)
    )
    live = live[known]
    mk = None
    if masks is not None:
        mk = pd.DataFrame(
            {
                "security": _as_text(masks["security"], "", len(masks)),
                "day0": pd.to_datetime(masks["day0"]).dt.normalize(),
            }
        )
    blocks: list[_Block] = []
    for index, secs in _index_groups(
        list(dict.fromkeys(live["security"].to_numpy(dtype=object))), returns
    ):
        block = _group_block(live, index, secs, returns, market, model, spec, drops, mk)
        if block is not None:
            keep = _screen(block, spec, drops)
            blocks.append(block if keep.all() else block.take(keep))
    return _assemble(df, blocks, drops, model, spec)


def _assemble(
    df: pd.DataFrame,
    blocks: list[_Block],
    drops: list[tuple[int, str, str]],
    model: ModelDef,
    spec: StudySpec,
) -> Design:
    est_days = np.arange(spec.estimation[0], spec.estimation[1] + 1, dtype=np.int64)
    rel_days = np.arange(spec.event_span[0], spec.event_span[1] + 1, dtype=np.int64)
    p = len(model.columns)
    rows = np.concatenate([b.rows for b in blocks]) if blocks else np.zeros(0, np.int64)

    def cat(name: str, shape: tuple[int, ...], dtype: npt.DTypeLike = float) -> np.ndarray:
        if not blocks:
            return np.zeros((0, *shape), dtype=dtype)
        if len(blocks) == 1:
            return np.asarray(getattr(blocks[0], name))
        return np.concatenate([getattr(b, name) for b in blocks])

    labels = df.loc[
        rows,
        [
            "event_id",
            "security",
            "group",
            "day0",
            "event_type",
            "stage",
            "direction",
            "pool",
            "expected_sign",
            "exchange",
        ],
    ].reset_index(drop=True)
    cluster = calendar_clusters(labels["exchange"].to_numpy(dtype=object), labels["day0"])
    arrays = DesignArrays(
        cat("r_est", (len(est_days),)),
        cat("x_est", (len(est_days), p)),
        cat("r_evt", (len(rel_days),)),
        cat("x_evt", (len(rel_days), p)),
        cat("colmask", (p,), bool),
        est_days,
        rel_days,
        cat("evt_dates", (len(rel_days),), "datetime64[D]"),
        cluster,
        model.columns,
        cat("est_masked", (), np.int64),
    )
    return Design(arrays, labels, attrition_frame(df, drops), model)


def attrition_frame(df: pd.DataFrame, drops: list[tuple[int, str, str]]) -> pd.DataFrame:
    """One row per dropped instance: who, and why."""
    if not drops:
        return pd.DataFrame(columns=list(ATTRITION_COLUMNS))
    idx = [d[0] for d in drops]
    out = df.loc[idx, ["event_id", "security", "day0", "group"]].reset_index(drop=True)
    out["reason"] = [d[1] for d in drops]
    out["detail"] = [d[2] for d in drops]
    return out
