"""The compact summary of a study: sample, lead tests per pool and window, placebo, warnings.

Presentation only: every number comes from the result's tables
(:class:`backtest.study.results.StudyResult`); which tests lead comes from the
registry (:func:`backtest.study.registry.lead_tests`), never from a list kept here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from backtest.study.results import StudyResult

MAX_ROWS = 24
"""Rows of the lead-test table in the summary; the rest are in ``result.lead_frame()``."""

POOL_WIDTH = 56
LABELLED_COLUMNS = (
    "pool",
    "level",
    "event",
    "group",
    "window",
    "test",
    "statistic",
    "pvalue",
    "n",
    "distribution",
    "valid",
    "reason",
    "lead",
)


def _event_t_rows(result: StudyResult) -> pd.DataFrame:
    """The event-level t across calendar clusters (:attr:`StudyResult.pooled`) as test rows.

    Pools are named as the engine names them: ``direction=<d>,signed`` (and
    ``,sign=+1``/``-1``) at level ``pooled``, ``direction=<d>`` for an unsigned study,
    and ``direction=<d>`` at level ``spread_pooled`` for the spread.
    """
    from backtest.study.registry import properties

    p = result.pooled
    if p.empty:
        return pd.DataFrame(columns=list(LABELLED_COLUMNS[1:-1]))
    d = "direction=" + p["direction"].astype(str)
    sign = p["sign"].astype(str)
    spread = sign == "spread"
    event = np.where(
        spread | (sign == "all"),
        d,
        np.where(sign == "signed", d + ",signed", d + ",sign=" + sign),
    )
    n = p["n_clusters"].to_numpy(dtype=float)
    ok = (n > 1) & np.isfinite(p["t"].to_numpy(dtype=float))
    prop = properties("event_t")
    return pd.DataFrame(
        {
            "level": np.where(spread, "spread_pooled", "pooled"),
            "event": event,
            "group": np.where(spread, "-".join(result.spec.spread), p["group"].astype(str)),
            "window": p["window"].astype(str).to_numpy(),
            "test": "event_t",
            "statistic": p["t"].to_numpy(dtype=float),
            "pvalue": p["pvalue"].to_numpy(dtype=float),
            "n": n,
            "distribution": [f"t({int(k) - 1})" if k > 1 else prop.distribution for k in n],
            "valid": ok,
            "reason": np.where(ok, "", "fewer than 2 calendar clusters"),
        }
    )


def labelled_tests(result: StudyResult, *, all_tests: bool = False) -> pd.DataFrame:
    """Window tests (event_t included) with their pool label, lead tests first."""
    from backtest.study.registry import lead_tests, ordered_tests
    from backtest.study.results import pool_label

    t = result.tests
    win = t[t["window"].astype(str) != ""]
    cols = list(LABELLED_COLUMNS[1:-1])
    frame = pd.concat([win.loc[:, cols], _event_t_rows(result)], ignore_index=True)
    frame = frame.astype({"level": str, "event": str, "group": str, "window": str})
    frame["valid"] = frame["valid"].astype(bool)
    frame["reason"] = frame["reason"].fillna("").astype(str)
    lead = lead_tests()
    frame["lead"] = frame["test"].isin(lead)
    if not all_tests:
        frame = frame[frame["lead"]]
    frame.insert(0, "pool", [pool_label(*k) for k in frame[["level", "event", "group"]].values])
    pools = {p: i for i, p in enumerate(dict.fromkeys(win_pools(win)))}
    order = {name: i for i, name in enumerate(ordered_tests())}
    windows = {w: i for i, w in enumerate(_window_labels(result))}
    keys = pd.DataFrame(
        {
            "p": frame["pool"].map(pools).fillna(len(pools)),
            "w": frame["window"].map(windows).fillna(len(windows)),
            "t": frame["test"].map(order).fillna(len(order)),
        }
    )
    idx = keys.sort_values(["p", "w", "t"], kind="stable").index
    return frame.loc[idx].reset_index(drop=True)


def win_pools(tests: pd.DataFrame) -> list[str]:
    """Pool labels in the order the engine wrote them."""
    from backtest.study.results import pool_label

    trip = tests[["level", "event", "group"]].astype(str).drop_duplicates()
    return [pool_label(*k) for k in trip.values]


def _window_labels(result: StudyResult) -> list[str]:
    from backtest.study.spec import window_label

    return [window_label(a, b) for a, b in result.spec.windows]


@dataclass(frozen=True, slots=True)
class Summary:
    """A study's summary: header lines, the lead-test table and warnings.

    ``str(summary)`` is plain text; ``_repr_html_`` renders the same content as an
    HTML table in a notebook.  ``table`` holds the numbers behind the lead-test rows.
    """

    header: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    table: pd.DataFrame
    legacy: tuple[str, ...] = ()

    @property
    def lines(self) -> tuple[str, ...]:
        """The text, one line per element."""
        if self.legacy:
            return self.legacy
        widths = [
            max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
            for i, c in enumerate(self.columns)
        ]
        out = list(self.header)
        if self.rows:

            def fmt(cells: tuple[str, ...]) -> str:
                first = f"  {cells[0]:<{widths[0]}s}"
                return first + "".join(
                    f"  {c:>{w}s}" for c, w in zip(cells[1:], widths[1:], strict=True)
                )

            out.append(fmt(self.columns))
            out += [fmt(r) for r in self.rows]
        out += list(self.notes)
        if self.warnings:
            out.append("Warnings:")
            out += [f"  - {w}" for w in self.warnings]
        return tuple(out)

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        if self.legacy:
            return f"<pre>{esc(str(self))}</pre>"
        parts = ["<div class='mib-summary'>"]
        parts += [f"<p>{esc(h)}</p>" for h in self.header if h]
        if self.rows:
            head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in self.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        parts += [f"<p>{esc(n)}</p>" for n in self.notes if n]
        if self.warnings:
            items = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
            parts.append(f"<p>Warnings:</p><ul>{items}</ul>")
        parts.append("</div>")
        return "".join(parts)


def build_summary(result: StudyResult, *, full: bool = False) -> Summary:
    """The summary of ``result``: compact by default, every window test with ``full``."""
    header = _header(result)
    if full:
        legacy = (*header, *_full_listing(result))
        return Summary(tuple(header), (), (), (), (), pd.DataFrame(), legacy)
    lead = result.lead_frame()
    table = _shown(lead)
    pairs = table[["pool", "window"]].drop_duplicates()
    more = len(pairs) - MAX_ROWS
    keep = pairs.head(MAX_ROWS).assign(_keep=True)
    table = table.merge(keep, on=["pool", "window"], how="left")
    table = table[table["_keep"].fillna(False).astype(bool)].drop(columns="_keep")
    tests = [t for t in _lead_order() if t in set(table.get("test", ()))]
    rows, numbers = _rows(result, table, tests)
    notes = []
    if rows:
        notes.append("p-values two-sided; the registry's lead tests, valid under clustering")
    if more > 0:
        notes.append(f"... {more} more rows: result.lead_frame(); every test: result.tests")
    return Summary(
        header=(*header, "", "Lead tests:" if rows else "Lead tests: none ran"),
        columns=("pool", "window", "n", "clusters", "CAAR", *tests),
        rows=tuple(rows),
        notes=tuple(notes),
        warnings=tuple(_warnings(result, lead)),
        table=numbers,
    )


def _lead_order() -> tuple[str, ...]:
    from backtest.study.registry import lead_tests

    return lead_tests()


def _header(result: StudyResult) -> list[str]:
    s = result.spec
    att = result.attrition_summary()
    dropped = att[att["stage"].str.startswith("dropped: ")]
    masked = att[att["stage"].str.startswith("estimation days masked")]
    lines = [
        f"Event study: model={s.model} conventions={s.conventions} returns={s.returns} "
        f"overlap={s.overlap}",
        f"estimation [{s.estimation[0]},{s.estimation[1]}], min obs {s.min_estimation_obs},"
        f" missing days: {s.missing}; windows {' '.join(_window_labels(result))}",
        _sample_line(result),
        "Attrition: "
        + ", ".join(
            [f"input {result.n_input}"]
            + [f"{r.stage} {r.instances}" for r in dropped.itertuples()]
            + [f"used {result.n_used}"]
            + [f"estimation days masked {r.instances}" for r in masked.itertuples()]
        ),
        _placebo_line(result),
    ]
    return lines


def _sample_line(result: StudyResult) -> str:
    inst = result.instances
    if inst is None or inst.empty:
        return f"Sample: {result.n_used} instances"
    n_ev = inst["event_id"].nunique()
    n_sec = inst["security"].nunique()
    n_cl = inst["cluster"].nunique() if "cluster" in inst else n_ev
    return (
        f"Sample: {result.n_used} instances, {n_ev} event{'s' * (n_ev != 1)}, "
        f"{n_sec} securit{'ies' if n_sec != 1 else 'y'}, "
        f"{n_cl} calendar cluster{'s' * (n_cl != 1)}"
    )


def _placebo_line(result: StudyResult) -> str:
    s = result.spec
    if not s.placebo_draws:
        return "Placebo: off (no pseudo-event draws)"
    name = f"placebo_{s.placebo_statistic}"
    t = result.tests[result.tests["test"] == name]
    valid = int(t["valid"].astype(bool).sum())
    return (
        f"Placebo: {s.placebo_draws} pseudo-event draws (seed {s.seed}); test {name}, "
        f"valid in {valid} of {len(t)} pools x windows (column {name} below)"
    )


def _shown(lead: pd.DataFrame) -> pd.DataFrame:
    """The lead tests of the pools a reader looks at first.

    Signed pools and the pooled spread when there are any; else every pooled set;
    else the event-level and spread sets (one event, or a study without pools).
    Within them: tightening before other directions, the pool across every group
    (``*``) before single groups.
    """
    if lead.empty:
        return lead
    ev = lead["event"]
    signed = (lead["level"] == "pooled") & ev.str.endswith(",signed")
    spread = lead["level"] == "spread_pooled"
    pick = lead
    for mask in (signed | spread, lead["level"] == "pooled", lead["level"] != "estudy2"):
        if mask.any():
            pick = lead[mask]
            break
    rank = pd.DataFrame(
        {
            "tight": ~pick["event"].str.startswith("direction=tightening"),
            "spread": pick["level"] == "spread_pooled",
            "star": pick["group"] != "*",
        }
    )
    order = rank.sort_values(["tight", "spread", "star"], kind="stable").index
    return pick.loc[order]


def _rows(
    result: StudyResult, table: pd.DataFrame, tests: list[str]
) -> tuple[list[tuple[str, ...]], pd.DataFrame]:
    caar = result.caar.astype({"level": str, "event": str, "group": str, "window": str})
    caar = caar.set_index(["level", "event", "group", "window"])
    rows: list[tuple[str, ...]] = []
    numbers = []
    for (pool, window), part in table.groupby(["pool", "window"], sort=False):
        first = part.iloc[0]
        key = (first["level"], first["event"], first["group"], window)
        c = caar.loc[key] if key in caar.index else None
        if isinstance(c, pd.DataFrame):
            c = c.iloc[0]
        by_test = part.drop_duplicates("test").set_index("test")
        ps = {t: float(by_test.loc[t, "pvalue"]) if t in by_test.index else np.nan for t in tests}
        ok = {t: bool(by_test.loc[t, "valid"]) if t in by_test.index else False for t in tests}
        n = int(c["n"]) if c is not None else int(part["n"].max())
        clusters = int(c["clusters"]) if c is not None else 0
        value = float(c["caar"]) if c is not None else np.nan
        label = pool if len(pool) <= POOL_WIDTH else pool[: POOL_WIDTH - 1] + "~"
        rows.append(
            (
                label,
                str(window),
                str(n),
                str(clusters) if c is not None else "-",
                _num(value, "{:+.4f}"),
                *(_num(ps[t], "{:.4f}") if ok[t] else "n/a" for t in tests),
            )
        )
        numbers.append(
            {"pool": pool, "window": window, "n": n, "clusters": clusters, "caar": value, **ps}
        )
    return rows, pd.DataFrame(numbers)


def _num(x: float, fmt: str) -> str:
    return fmt.format(x) if np.isfinite(x) else "n/a"


def _warnings(result: StudyResult, lead: pd.DataFrame) -> list[str]:
    out = []
    if result.n_input and result.n_used < result.n_input:
        counts = result.attrition["reason"].value_counts()
        top = ", ".join(f"{r} {n}" for r, n in counts.head(3).items())
        out.append(
            f"{result.n_input - result.n_used} of {result.n_input} instances dropped ({top}); "
            "see result.attrition"
        )
    bad = lead[~lead["valid"]]
    if len(bad):
        why = bad["reason"].replace("", "no reason given").value_counts().index[0]
        out.append(f"{len(bad)} of {len(lead)} lead tests could not run (most often: {why[:70]})")
    if result.instances is not None and "cluster" in result.instances:
        k = result.instances["cluster"].nunique()
        if k < 2:
            out.append(
                "one calendar cluster: every security reacted on the same date, so the "
                "securities are not independent evidence; pooled tests need several dates"
            )
    if not result.spec.placebo_draws:
        out.append("placebo inference is off (placebo=0)")
    ov = result.overlaps
    if ov is not None and len(ov):
        out.append(
            f"{len(ov)} security-day rows shared by several events (overlap policy "
            f"'{result.spec.overlap}'); see result.overlaps"
        )
    return out


def _full_listing(result: StudyResult) -> list[str]:
    """Every window test, lead tests first within each pool (the long form)."""
    from backtest.study.registry import ordered_tests

    lines = ["", "Attrition:"]
    lines += [
        f"  {r.stage:<40s} {r.instances:>8d}" for r in result.attrition_summary().itertuples()
    ]
    win = result.tests[result.tests["window"].astype(str) != ""]
    if not len(win):
        return lines
    order = {t: i for i, t in enumerate(ordered_tests())}
    win = win.assign(_o=win["test"].map(lambda t: order.get(t, len(order))))
    win = win.sort_values(["level", "event", "group", "window", "_o"], kind="stable")
    lines += ["", "Window tests (clustering-robust tests first; p two-sided):"]
    lines.append(
        f"  {'level':<14s}{'event':<22s}{'group':<16s}{'window':<10s}"
        f"{'test':<24s}{'stat':>9s}{'p':>9s}{'n':>7s}"
    )
    for r in win.itertuples():
        stat = f"{r.statistic:9.3f}" if np.isfinite(r.statistic) else "      n/a"
        p = f"{r.pvalue:9.4f}" if np.isfinite(r.pvalue) else "      n/a"
        lines.append(
            f"  {r.level:<14s}{str(r.event)[:21]:<22s}{str(r.group)[:15]:<16s}"
            f"{r.window:<10s}{r.test:<24s}{stat}{p}{int(r.n):7d}"
            + ("" if r.valid else f"  ({r.reason})")
        )
    return lines
