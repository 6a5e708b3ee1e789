"""The sample a run actually used: per-security coverage, and what was lost and why.

An event study answers a smaller question than it seems to whenever instances
drop out silently (a benchmark file that ends, an A-share file that stops a
year early).  This module turns the alignment and study outputs into

* :func:`coverage_table`: one row per affected security: its price data span
  and source, the instances the catalog intended for it, those the study used,
  and why the rest were lost;
* :func:`loss_table`: one row per intended (event, security) instance that was
  not used, with the pipeline step and reason;
* :func:`summary_lines` and :func:`sample_sentence`: the same facts in three
  console lines and in one sentence for page 1 of the report.

Everything here is counting on tables; nothing reads files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from backtest.market.panel import SeriesMeta
    from backtest.universe import Universe

COVERAGE_COLUMNS: tuple[str, ...] = (
    "security",
    "name",
    "group",
    "mic",
    "data_first",
    "data_last",
    "used_first",
    "used_last",
    "source",
    "adjustment",
    "benchmarks_used",
    "intended",
    "used",
    "lost",
    "lost_reasons",
)
LOSS_COLUMNS: tuple[str, ...] = ("event_id", "security", "step", "reason", "detail")

# Words for the attrition codes of alignment and study, for sentences.
REASON_WORDS: dict[str, str] = {
    "no_prices": "no price file",
    "no_returns": "no return series",
    "day0_outside_data": "day 0 outside the security's price file",
    "day0_not_a_row": "day 0 not a row of the price file",
    "benchmark_missing": "no listed benchmark covers the windows",
    "estimation_too_short": "too few estimation-window returns",
    "all_missing_returns": "no return in the estimation window",
    "no_event_returns": "no return in the event window",
    "missing_event_day": "a missing event-window day",
    "missing_regressor": "no regressor for the model",
    "constant_returns": "constant returns",
    "singular_design": "a singular regression",
    "duplicate_instance": "a duplicate instance",
    "before_listing": "day 0 before the listing date",
    "no_session": "no session on the exchange",
    "stage_missing": "the chosen stage is missing",
    "not_in_universe": "security not in the universe",
    "no_data": "no data",
    "outside_data_range": "outside the calendar's range",
    "not_studied": "not reached by the study",
}


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    if frame is None or frame.empty:
        return set()
    return set(zip(frame["event_id"].astype(str), frame["security"].astype(str), strict=True))


def used_instances(car: pd.DataFrame, instances: pd.DataFrame) -> pd.DataFrame:
    """(event_id, security, day0) of the instances with a CAR, day 0 from the alignment."""
    import pandas as pd

    cols = ["event_id", "security", "day0"]
    if car is None or car.empty:
        return pd.DataFrame(columns=cols)
    pairs = car[["event_id", "security"]].drop_duplicates()
    day0 = instances[cols].drop_duplicates(["event_id", "security"])
    return pairs.merge(day0, on=["event_id", "security"], how="left")[cols]


def loss_table(
    instances: pd.DataFrame,
    align_attrition: pd.DataFrame,
    study_attrition: pd.DataFrame,
    used: pd.DataFrame,
) -> pd.DataFrame:
    """Every intended (event, security) instance that the study did not use, and why.

    ``study_attrition`` rows with ``event_id == '*'`` apply to every instance of
    their security (a security without prices).  The first reason recorded for an
    instance wins: alignment before study.
    """
    import pandas as pd

    used_pairs = _pairs(used)
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in align_attrition.itertuples(index=False):
        key = (str(r.event_id), str(r.security))
        if key not in used_pairs and key not in seen:
            seen.add(key)
            rows.append(
                {
                    "event_id": key[0],
                    "security": key[1],
                    "step": "alignment",
                    "reason": str(r.reason),
                    "detail": str(r.detail),
                }
            )
    whole = {
        str(r.security): r
        for r in study_attrition.itertuples(index=False)
        if str(r.event_id) == "*"
    }
    per = {
        (str(r.event_id), str(r.security)): r
        for r in study_attrition.itertuples(index=False)
        if str(r.event_id) != "*"
    }
    for key in sorted(_pairs(instances) - used_pairs - seen):
        hit = per.get(key) or whole.get(key[1])
        seen.add(key)
        rows.append(
            {
                "event_id": key[0],
                "security": key[1],
                "step": "study",
                "reason": str(hit.reason) if hit is not None else "not_studied",
                "detail": str(hit.detail) if hit is not None else "",
            }
        )
    return pd.DataFrame(rows, columns=list(LOSS_COLUMNS))


def coverage_table(
    instances: pd.DataFrame,
    losses: pd.DataFrame,
    used: pd.DataFrame,
    meta: Mapping[str, SeriesMeta],
    universe: Universe,
    chosen: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per security the catalog intended instances for.

    ``used`` holds the instances the study used (event_id, security, day0);
    ``chosen`` the per-instance benchmark choice (see :mod:`backtest.returns`).
    """
    import pandas as pd

    intended = _pairs(instances) | _pairs(losses)
    secs = sorted({s for _, s in intended})
    u = used.drop_duplicates(["event_id", "security"]) if not used.empty else used
    rows = []
    for sym in secs:
        sec = universe[sym] if sym in universe else None
        m = meta.get(sym)
        mine = u[u["security"] == sym] if not u.empty else u
        lost = losses[losses["security"] == sym]
        counts = lost["reason"].value_counts()
        day0 = pd.to_datetime(mine["day0"]) if len(mine) else pd.Series(dtype="datetime64[ns]")
        bench = ""
        if chosen is not None and not chosen.empty:
            b = chosen[chosen["security"] == sym]["benchmark"].value_counts()
            bench = "; ".join(f"{k} ×{v}" for k, v in b.items())
        rows.append(
            {
                "security": sym,
                "name": sec.name if sec else "",
                "group": sec.group if sec else "",
                "mic": sec.mic if sec else "",
                "data_first": m.first if m else "",
                "data_last": m.last if m else "",
                "used_first": f"{day0.min():%Y-%m-%d}" if len(day0) else "",
                "used_last": f"{day0.max():%Y-%m-%d}" if len(day0) else "",
                "source": _source(m),
                "adjustment": m.adjustment if m else "",
                "benchmarks_used": bench,
                "intended": sum(1 for _, s in intended if s == sym),
                "used": len(mine),
                "lost": len(lost),
                "lost_reasons": "; ".join(f"{k} {v}" for k, v in counts.items()),
            }
        )
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def _source(m: SeriesMeta | None) -> str:
    if m is None:
        return "no prices"
    if m.origin.startswith("stitched on returns:"):
        return m.origin.split(" (")[0]  # every file with the dates it supplies
    if m.source == "csv":
        return m.origin.split(" [")[0]
    return f"{m.source}: {m.origin}" if m.origin else m.source


def _counts(coverage: pd.DataFrame, losses: pd.DataFrame, used: pd.DataFrame) -> dict[str, int]:
    ev_int = set(losses["event_id"]) | (set(used["event_id"]) if not used.empty else set())
    return {
        "events_intended": len(ev_int),
        "events_used": used["event_id"].nunique() if not used.empty else 0,
        "secs_intended": len(coverage),
        "secs_used": int((coverage["used"] > 0).sum()),
        "inst_intended": int(coverage["intended"].sum()),
        "inst_used": int(coverage["used"].sum()),
    }


def _top_losses(losses: pd.DataFrame, k: int = 3) -> list[str]:
    """'reason N (SYM a, SYM b)' for the k reasons that lost the most instances."""
    out = []
    for reason, n in losses["reason"].value_counts().head(k).items():
        who = losses[losses["reason"] == reason]["security"].value_counts().head(3)
        names = ", ".join(f"{s} {c}" for s, c in who.items())
        out.append(f"{REASON_WORDS.get(str(reason), str(reason))} ({reason}) {n}: {names}")
    return out


def summary_lines(
    coverage: pd.DataFrame, losses: pd.DataFrame, used: pd.DataFrame
) -> tuple[str, str, str]:
    """Three console lines: events, securities, the biggest causes of loss."""
    c = _counts(coverage, losses, used)
    unused = coverage[coverage["used"] == 0]["security"].tolist()
    top = _top_losses(losses)
    return (
        f"events used: {c['events_used']} of {c['events_intended']} intended "
        f"(instances {c['inst_used']} of {c['inst_intended']})",
        f"securities used: {c['secs_used']} of {c['secs_intended']}"
        + (f" (none used: {', '.join(unused)})" if unused else ""),
        "biggest losses: " + ("; ".join(top) if top else "none"),
    )


def sample_sentence(coverage: pd.DataFrame, losses: pd.DataFrame, used: pd.DataFrame) -> str:
    """One sentence for page 1: the sample, its date range, what was lost and why."""
    c = _counts(coverage, losses, used)
    if not c["inst_intended"]:
        return "No event instance was intended: the catalog names no security in the universe."
    import pandas as pd

    day0 = pd.to_datetime(used["day0"]).dropna() if not used.empty else None
    span = (
        f", with day 0 from {day0.min():%Y-%m-%d} to {day0.max():%Y-%m-%d}"
        if day0 is not None and len(day0)
        else ""
    )
    lost = c["inst_intended"] - c["inst_used"]
    head = (
        f"The sample is {c['inst_used']} of {c['inst_intended']} intended event-security "
        f"instances ({c['events_used']} of {c['events_intended']} events, {c['secs_used']} "
        f"of {c['secs_intended']} securities){span}."
    )
    if not lost:
        return head + " No instance was lost."
    parts = [
        f"{REASON_WORDS.get(str(r), str(r))} ({n})"
        for r, n in losses["reason"].value_counts().head(3).items()
    ]
    return head + f" {lost} were lost, mostly to " + ", ".join(parts) + "."


def benchmark_lines(chosen: pd.DataFrame, dropped: pd.DataFrame) -> list[str]:
    """Console lines for instances measured against a fallback benchmark (``chosen`` rows
    with ``fallback``) or dropped as ``benchmark_missing`` (``dropped``)."""
    out = []
    fb = chosen[chosen["fallback"].astype(bool)] if len(chosen) else chosen
    for (sym, bench), g in fb.groupby(["security", "benchmark"], sort=True):
        out.append(
            f"note: {sym}: {len(g)} instance(s) measured against fallback benchmark "
            f"{bench} ({g['detail'].iloc[0]})"
        )
    dropped = dropped[dropped["reason"] == "benchmark_missing"] if len(dropped) else dropped
    for sym, g in dropped.groupby("security", sort=True):
        out.append(
            f"note: {sym}: {len(g)} instance(s) dropped, benchmark_missing ({g['detail'].iloc[0]})"
        )
    return out
