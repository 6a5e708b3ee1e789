"""One overlap policy: a security-day shared by several events enters each pool once.

Two catalog events on the same day (Nvidia's and AMD's 8-Ks of 2025-04-16; a
tightening and an easing 8-K of Nvidia's on 2022-09-01) give the same security
the same day 0, and so the same abnormal returns, once per event.  Pooling
them as two observations counts one reaction twice.  Per-event results keep
every instance; for **pooled** statistics the policy decides
(``StudySpec.overlap``):

``merge`` (default)
    the security-day enters once, as the first of its instances (in the order
    given, which for a catalog study is the log's date order); when their
    expected signs conflict (one event expects the name to fall, the other to
    gain) it measures neither and is excluded from every pool;
``first``
    the first instance enters the pools, whatever the signs;
``drop``
    no instance of a shared security-day enters any pool.

Instances already out of pools (confounders, low-confidence events) are
listed when they share a security-day, but do not count as a claimant.
:func:`overlap_table` records every shared security-day and the decision,
so a reader can see which events were merged.  Different day-0 dates whose
event windows overlap are not merged: calendar clusters
(:func:`backtest.study.design.calendar_clusters`) keep each date's reaction
one observation of the clustering-valid tests.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

OverlapPolicy = Literal["merge", "first", "drop"]
OVERLAP_COLUMNS: tuple[str, ...] = (
    "security",
    "exchange",
    "day0",
    "event_ids",
    "directions",
    "expected_signs",
    "pooled_before",
    "decision",
    "kept_event_id",
)


def _sign_text(v: object) -> str:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "?"
    return "?" if f != f else f"{int(f):+d}" if f else "0"


def apply_overlap_policy(
    instances: pd.DataFrame, policy: OverlapPolicy = "merge"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Instances with their ``pool`` flag updated by ``policy``, and the overlap table.

    ``instances`` has event_id, security, day0 and optionally ``pool`` (default
    True), ``expected_sign``, ``direction`` and ``exchange``.  Row order decides
    which instance is "first".
    """
    df = instances.reset_index(drop=True).copy()
    pool = (
        df["pool"].fillna(True).astype(bool).to_numpy()
        if "pool" in df.columns
        else np.ones(len(df), dtype=bool)
    )
    day0 = pd.to_datetime(df["day0"]).dt.tz_localize(None).dt.normalize()
    key = df["security"].astype(str) + "|" + day0.dt.strftime("%Y-%m-%d")
    dup = key.duplicated(keep=False).to_numpy()
    rows = []
    new_pool = pool.copy()
    for _, idx in pd.Series(np.arange(len(df)))[dup].groupby(key[dup].to_numpy()):
        members = idx.to_numpy()
        claim = members[pool[members]]
        signs = df["expected_sign"].to_numpy()[claim] if "expected_sign" in df else []
        nonzero = {float(s) for s in signs if s == s and s != 0}
        kept = ""
        if len(claim) <= 1:
            decision = "no conflict: at most one instance in pools"
            kept = str(df.at[claim[0], "event_id"]) if len(claim) else ""
        elif policy == "drop":
            new_pool[claim] = False
            decision = "dropped from pools (policy drop)"
        elif policy == "merge" and len(nonzero) > 1:
            new_pool[claim] = False
            decision = "excluded from pools: expected signs conflict"
        else:
            new_pool[claim[1:]] = False
            kept = str(df.at[claim[0], "event_id"])
            decision = (
                "merged: enters pools once"
                if policy == "merge"
                else "first instance enters pools (policy first)"
            )
        first = members[0]
        rows.append(
            {
                "security": str(df.at[first, "security"]),
                "exchange": str(df.at[first, "exchange"]) if "exchange" in df else "",
                "day0": day0.iloc[first],
                "event_ids": "; ".join(df["event_id"].astype(str).to_numpy()[members]),
                "directions": "; ".join(df["direction"].astype(str).to_numpy()[members])
                if "direction" in df
                else "",
                "expected_signs": "; ".join(
                    _sign_text(v) for v in df["expected_sign"].to_numpy()[members]
                )
                if "expected_sign" in df
                else "",
                "pooled_before": len(claim),
                "decision": decision,
                "kept_event_id": kept,
            }
        )
    df["pool"] = new_pool
    return df, pd.DataFrame(rows, columns=list(OVERLAP_COLUMNS))
