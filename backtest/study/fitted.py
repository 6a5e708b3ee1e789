"""A fitted study and the groups it tests (no statistics here).

:class:`Fitted` holds the usable instances after the model fit; :func:`pools`
decides which instances are tested together (each event x group, and the pools
across events), :func:`signed_subsets` and :func:`signed_view` the signed pools
(AR times the log's expected sign).  The engine, the placebo and the estudy2
layers all read a :class:`Fitted`; none of them is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from backtest.study.arrays import AbnormalReturns, DesignArrays, WindowCAR
from backtest.study.models import ModelFit

Subset = tuple[str, str, str, np.ndarray]
"""(level, event, group, rows) of a tested group of instances."""


@dataclass(frozen=True, slots=True)
class Fitted:
    """The usable instances after the model fit: arrays, labels, fit and AR contract."""

    arrays: DesignArrays
    labels: pd.DataFrame
    fit: ModelFit
    ar: AbnormalReturns
    windows: tuple[WindowCAR, ...]
    attrition: pd.DataFrame
    slope_names: tuple[str, ...]
    subsets: tuple[Subset, ...]


def event_key(labels: pd.DataFrame) -> np.ndarray:
    """The event an instance belongs to: event_id, with the stage when there is one."""
    ev = labels["event_id"].to_numpy(dtype=object)
    st = labels["stage"].to_numpy(dtype=object)
    if not (st != "").any():
        return np.asarray(ev)
    return np.array([e if not s else f"{e}:{s}" for e, s in zip(ev, st, strict=True)], dtype=object)


def _split(keys: list[np.ndarray]) -> list[tuple[tuple[object, ...], np.ndarray]]:
    """Row indices of each distinct combination of ``keys`` (sorted by key)."""
    if not len(keys[0]):
        return []
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    for k in keys:
        codes, uniq = pd.factorize(k, sort=True)
        combined = combined * (len(uniq) + 1) + codes
    order = np.argsort(combined, kind="stable")
    bounds = np.flatnonzero(np.diff(combined[order])) + 1
    return [(tuple(k[part[0]] for k in keys), part) for part in np.split(order, bounds)]


def _sign_label(v: float) -> str:
    return f"sign={int(v):+d}"


def subsets(f: Fitted) -> tuple[Subset, ...]:
    """The tested groups of a fit (:func:`pools` of its labels and clusters)."""
    return pools(f.labels, f.arrays.cluster)


def pools(lab: pd.DataFrame, cluster: np.ndarray) -> tuple[Subset, ...]:
    """(level, event, group, rows): each event x group, and the pools across events.

    Pools take only instances flagged ``pool`` (the overlap policy and the pooling
    policy decide) and need more than one calendar cluster.  Where instances carry
    an expected sign, pools never mix names expected to fall with names expected to
    gain: ``<type>,sign=-1`` and ``direction=<d>,sign=-1`` (and ``+1``) per group;
    instances with sign 0 or none enter no signed pool.  Without any expected sign
    (e.g. a bring-your-own study) the pools are by event type and by direction.
    The signed pools (AR times expected sign) are in :func:`signed_subsets`.
    """
    grp = lab["group"].to_numpy(dtype=object)
    out: list[Subset] = [
        ("event", str(e), str(g), rows) for (e, g), rows in _split([event_key(lab), grp])
    ]
    sign = _signs(lab)
    has_sign = np.isin(sign, (-1.0, 1.0))
    sign_txt = np.array(
        [_sign_label(v) if ok else "" for v, ok in zip(sign, has_sign, strict=True)], dtype=object
    )
    signed_study = bool(has_sign.any())
    etype = lab["event_type"].replace("", "*").to_numpy(dtype=object)
    direction = lab["direction"].to_numpy(dtype=object)
    if signed_study:
        etype = np.where(has_sign, etype.astype(str) + "," + sign_txt.astype(str), "")
        direction = np.where(
            has_sign & (direction != ""),
            "direction=" + direction.astype(str) + "," + sign_txt.astype(str),
            "",
        )
    else:
        direction = np.where(direction != "", "direction=" + direction.astype(str), "")
    pools = [
        [(k, r) for k, r in _split([etype, grp]) if k[0]],
        [(k, r) for k, r in _split([direction, grp]) if k[0]],
    ]
    pooled = _pool_flags(lab)
    for pool in pools:
        for (t, g), rows in pool:
            rows = rows[pooled[rows]]
            if len(np.unique(cluster[rows])) > 1:
                out.append(("pooled", str(t), str(g), rows))
    return tuple(out)


def _signs(lab: pd.DataFrame) -> np.ndarray:
    if "expected_sign" not in lab:
        return np.full(len(lab), np.nan)
    return np.asarray(pd.to_numeric(lab["expected_sign"], errors="coerce"), dtype=float)


def unit_signs(lab: pd.DataFrame) -> np.ndarray:
    """Each instance's expected sign where it is +1 or -1, else 1 (the signed view's
    multiplier)."""
    s = _signs(lab)
    return np.where(np.isin(s, (-1.0, 1.0)), s, 1.0)


def _pool_flags(lab: pd.DataFrame) -> np.ndarray:
    return lab["pool"].to_numpy(dtype=bool) if "pool" in lab else np.ones(len(lab), bool)


def signed_subsets(f: Fitted) -> tuple[Subset, ...]:
    """Signed pools: instances with an expected sign of +1 or -1, per direction, per
    group and across all groups (``*``), to be tested on the signed view
    (:func:`signed_view`): "did prices move the way the log expects?"."""
    lab = f.labels
    sign = _signs(lab)
    ok = np.isin(sign, (-1.0, 1.0)) & _pool_flags(lab)
    direction = lab["direction"].to_numpy(dtype=object)
    grp = lab["group"].to_numpy(dtype=object)
    out: list[Subset] = []
    for d in sorted(set(direction[ok]) - {""}):
        base = ok & (direction == d)
        for g in [*sorted(set(grp[base])), "*"]:
            rows = np.flatnonzero(base & ((grp == g) if g != "*" else True))
            if len(np.unique(f.arrays.cluster[rows])) > 1:
                out.append(("pooled", f"direction={d},signed", str(g), rows))
    return tuple(out)


def signed_view(f: Fitted) -> tuple[AbnormalReturns, tuple[WindowCAR, ...]]:
    """ARs and window CARs multiplied by each instance's expected sign (1 where none).

    Variances are unchanged; a positive mean says prices moved as the log expects.
    """
    s = unit_signs(f.labels)
    ar = replace(
        f.ar,
        est=f.ar.est * s[:, None] if f.ar.est.size else f.ar.est,
        event=f.ar.event * s[:, None],
    )
    wins = tuple(replace(w, car=w.car * s, bhar=w.bhar * s) for w in f.windows)
    return ar, wins
