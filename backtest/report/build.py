"""Build ``report.html`` and ``report.pdf`` from a run folder (a pure function of its tables)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.report import charts
from backtest.report.narrative import answer, key_numbers, speed_sentence

if TYPE_CHECKING:
    import pandas as pd

    from backtest.runio import Run

HEADLINE_WINDOW = "[0,+1]"
MAX_EVENT_CHARTS = 20


@dataclass(frozen=True, slots=True)
class ReportFiles:
    html: Path
    pdf: Path | None


def _svg_uri(fig: Any) -> str:
    """A chart as an SVG data URI (the HTML and the PDF embed the same vector image)."""
    svg = charts.to_svg(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _fmt(v: object, digits: int = 2) -> str:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "" if v is None else str(v)
    if f != f:
        return "–"
    return f"{f:.{digits}f}" if abs(f) >= 10**-digits or f == 0 else f"{f:.1e}"


def _pct(v: object) -> str:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "–" if f != f else f"{f * 100:.2f}%"


def _timeline_chart(run: Run) -> str | None:
    events = run.table("events")
    if events.empty:
        return None
    fig, ax = charts.figure(9.5, 3.6)
    prices = run.table("timeline_prices")
    series = None
    if not prices.empty:
        series = prices.set_index("date")["close"].rename(str(prices["symbol"].iloc[0]))
    charts.timeline(ax, events, series)
    return _svg_uri(fig)


def event_tests() -> tuple[str, ...]:
    """Per-event columns: lead tests that run on one calendar cluster, then the naive t."""
    from backtest.study.registry import lead_tests, properties

    one = [t for t in lead_tests() if properties(t).min_clusters <= 1]
    return (*one, "cross_sectional_t")


HEADLINE_GROUPS = ("us_incumbent", "cn_substitute", "cn_substitute-us_incumbent")


def _per_event(run: Run) -> list[dict[str, Any]]:
    """One block per event, ranked by the size of its largest group CAAR in the headline
    window (the events that moved prices most first): CAAR paths by group for the first
    :data:`MAX_EVENT_CHARTS`, and a table of CAARs and tests for every event."""
    paths, car, tests = run.table("paths"), run.table("car_summary"), run.table("tests")
    events, inst = run.table("events"), run.table("instances")
    if paths.empty:
        return []
    present = set(paths["event_id"])
    event_level = _event_level_tests(tests)
    head = car[car["window"] == HEADLINE_WINDOW] if not car.empty else car
    size = head.assign(a=head["caar"].abs()).groupby("event_id")["a"].max() if len(head) else None
    order = sorted(present, key=lambda e: (-(size.get(e, 0.0) if size is not None else 0.0), e))
    titles = events.set_index("event_id") if not events.empty else None
    out = []
    for k, event_id in enumerate(order):
        sub = paths[paths["event_id"] == event_id]
        meta = titles.loc[event_id] if titles is not None and event_id in titles.index else {}
        chart = None
        if k < MAX_EVENT_CHARTS:
            fig, ax = charts.figure(7.5, 2.6)
            charts.car_paths(ax, sub)
            chart = _svg_uri(fig)
        day0 = inst.loc[inst["event_id"] == event_id, "day0"] if not inst.empty else []
        rows, names = _event_rows(event_id, car, event_level)
        out.append(
            {
                "event_id": event_id,
                "title": meta.get("title", event_id),
                "windows": sorted(
                    set(car.loc[car["event_id"] == event_id, "window"]), key=_window_order
                ),
                "type": meta.get("type", ""),
                "direction": meta.get("direction", ""),
                "day0": ", ".join(sorted({str(d)[:10] for d in day0})),
                "chart": chart,
                "rows": rows,
                "test_names": names,
            }
        )
    return out


def _event_level_tests(tests: pd.DataFrame) -> pd.DataFrame:
    """Event-level rows of the per-event tests in the headline window, with ``event_id``."""
    if tests.empty or not {"level", "event"} <= set(tests.columns):
        return tests.iloc[:0]
    t = tests[
        (tests["level"] == "event")
        & tests["test"].isin(event_tests())
        & (tests["window"] == HEADLINE_WINDOW)
    ]
    return t.assign(event_id=t["event"].astype(str).str.split(":").str[0])


def _event_rows(
    event_id: str, car: pd.DataFrame, tests: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per group: the CAAR of every window and, in the headline window, the
    p-values of the event-level tests."""
    if car.empty:
        return [], []
    sub = car[car["event_id"] == event_id]
    t = tests[tests["event_id"] == event_id] if "event_id" in tests.columns else tests.iloc[:0]
    names = [n for n in event_tests() if n in set(t.get("test", ()))]
    rows = []
    for group, g in sub.groupby("group", sort=True):
        m = t[t["group"] == group] if len(t) else t
        rows.append(
            {
                "group": group,
                "n": int(g["n"].max()),
                "caar": dict(zip(g["window"], g["caar"], strict=False)),
                "p": dict(zip(m["test"], m["pvalue"], strict=False)) if len(m) else {},
            }
        )
    return rows, names


def _window_order(label: str) -> tuple[int, int]:
    a, b = label.strip("[]").split(",")
    return int(a), int(b)


def _headline_tests(run: Run) -> list[dict[str, Any]]:
    """Clustering-valid tests of the key groups and the spread in the headline window."""
    tests = run.table("tests")
    if tests.empty or "level" not in tests.columns:
        return []
    lead = lead_test_names()
    ev = tests["event"].astype(str)
    signed_pool = (tests["level"] == "pooled") & ev.str.match(r"direction=\w+,signed$")
    spread_pool = (tests["level"] == "spread_pooled") & ev.str.match(r"direction=\w+$")
    pick = tests[
        (signed_pool | spread_pool)
        & tests["group"].isin((*HEADLINE_GROUPS, "*"))
        & (tests["window"] == HEADLINE_WINDOW)
        & tests["test"].isin(lead)
    ]
    if "event_t" in lead:
        import pandas as pd

        pick = pd.concat([pick, _event_t_rows(run)], ignore_index=True)
    pick = pick.assign(
        order=pick["test"].map({t: i for i, t in enumerate(lead)}),
        first=~pick["event"].astype(str).str.startswith("direction=tightening"),
    )
    return pick.sort_values(["first", "event", "group", "order"]).head(48).to_dict("records")


def _event_t_rows(run: Run) -> pd.DataFrame:
    """The event-level t across calendar clusters (pooled table) as rows of the test table."""
    import numpy as np
    import pandas as pd

    p = run.table("pooled")
    if p.empty or "sign" not in p.columns:
        return pd.DataFrame()
    p = p[
        (p["window"] == HEADLINE_WINDOW)
        & (
            ((p["sign"] == "signed") & p["group"].isin((*HEADLINE_GROUPS, "*")))
            | (p["sign"] == "spread")
        )
    ]
    return pd.DataFrame(
        {
            "level": np.where(p["sign"] == "spread", "spread_pooled", "pooled"),
            "event": np.where(
                p["sign"] == "spread",
                "direction=" + p["direction"].astype(str),
                "direction=" + p["direction"].astype(str) + ",signed",
            ),
            "group": p["group"].to_numpy(),
            "window": p["window"].to_numpy(),
            "test": "event_t",
            "statistic": p["t"].to_numpy(),
            "pvalue": p["pvalue"].to_numpy(),
            "n": p["n_clusters"].to_numpy(),
            "distribution": [
                f"t({int(n) - 1})" if n == n and n > 1 else "" for n in p["n_clusters"]
            ],
        }
    )


def _lead_labels() -> str:
    from backtest.study.registry import properties

    return "; ".join(f"{properties(t).label} ({t})" for t in lead_test_names())


def lead_test_names() -> tuple[str, ...]:
    """The tests the report leads with: the registry's lead tests (backtest.study.properties)."""
    from backtest.study.registry import lead_tests

    return lead_tests()


def _pooled(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    pooled = run.table("pooled")
    if pooled.empty:
        return [], [], "direction"
    by = "direction" if "direction" in pooled.columns else pooled.columns[0]
    out = []
    for window in sorted(pooled["window"].unique()):
        fig, ax = charts.figure(7.5, 2.8)
        charts.pooled_bars(ax, pooled, by, window)
        out.append({"src": _svg_uri(fig), "alt": f"pooled mean CAR {window}"})
    return out, pooled.to_dict("records"), by


def _backtest(run: Run) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    out: dict[str, Any] = {"equity": None, "lag_decay": None, "hold_sweep": None}
    equity = run.table("backtest_equity")
    if not equity.empty:
        fig, ax = charts.figure(8.0, 3.0)
        wide = equity.pivot_table(index="date", columns="series", values="equity")
        charts.equity_curves(ax, wide)
        out["equity"] = _svg_uri(fig)
    for name, x, label in (
        ("lag_decay", "lag", "entry delay, sessions"),
        ("hold_sweep", "hold", "holding period, sessions"),
    ):
        frame = run.table(name)
        if not frame.empty:
            fig, ax = charts.figure(6.0, 2.6)
            by = "strategy" if "strategy" in frame.columns else None
            charts.line_by(ax, frame, x, "mean_trade_return", by, label, "mean trade return, %")
            out[name] = _svg_uri(fig)
    metrics = run.table("backtest_metrics")
    if metrics.empty:
        return out, [], []
    cols = [c for c in metrics.columns if c != "metric"]
    rows = [{"strategy": c, **dict(zip(metrics["metric"], metrics[c], strict=False))} for c in cols]
    return out, rows, list(metrics["metric"])


def _grid(run: Run) -> str | None:
    grid = run.table("spec_grid")
    if grid.empty:
        return None
    fig, ax = charts.figure(10.0, max(3.0, 0.22 * grid["row"].nunique() + 2.2))
    charts.spec_grid(ax, grid, "row", "col", "statistic")
    return _svg_uri(fig)


def _attrition(run: Run) -> list[dict[str, Any]]:
    frames = []
    for step in ("align_attrition", "attrition"):
        t = run.table(step)
        if not t.empty and "reason" in t.columns:
            c = t.groupby("reason").size().reset_index(name="n")
            c["step"] = "alignment" if step == "align_attrition" else "study"
            frames.append(c)
    return [r for f in frames for r in f.to_dict("records")]


def _excluded(run: Run) -> list[dict[str, Any]]:
    """Events kept out of pooled statistics, and why (the run's pooling policy)."""
    p = run.table("pools")
    if p.empty:
        return []
    return p[~p["pooled"].astype(bool)].to_dict("records")


def _fallbacks(run: Run) -> list[dict[str, Any]]:
    """Instances measured against a benchmark other than the first listed, grouped."""
    b = run.table("benchmarks")
    if b.empty or "fallback" not in b.columns:
        return []
    fb = b[b["fallback"].astype(bool)]
    if fb.empty:
        return []
    g = fb.groupby(["security", "benchmark"], sort=True).agg(
        n=("event_id", "size"),
        first=("day0", "min"),
        last=("day0", "max"),
        detail=("detail", "first"),
    )
    return g.reset_index().to_dict("records")


def _findings(run: Run) -> list[dict[str, Any]]:
    f = run.table("findings")
    if f.empty:
        return []
    g = f.groupby(["check", "severity"]).agg(n=("symbol", "size"), securities=("symbol", "nunique"))
    return g.reset_index().to_dict("records")


def _sample(run: Run) -> tuple[str, list[dict[str, Any]]]:
    """The page-1 sentence on the sample used, and the coverage rows of the data section."""
    from backtest.coverage import sample_sentence, used_instances

    cov = run.table("coverage")
    if cov.empty:
        return "", []
    used = used_instances(run.table("car"), run.table("instances"))
    return sample_sentence(cov, run.table("losses"), used), cov.to_dict("records")


# Findings listed row by row in the data section: the ones that can change a number.
DIRT_CHECKS = (
    "change_mismatch",
    "non_finite",
    "level_shift",
    "source_disagreement",
    "stitch_refused",
    "split_like",
    "spike",
    "beyond_limit",
)
DIRT_ROWS = 40


def _dirt(run: Run) -> list[dict[str, Any]]:
    f = run.table("findings")
    if f.empty:
        return []
    hit = f[f["check"].isin(DIRT_CHECKS) | (f["severity"] == "error")]
    return hit.head(DIRT_ROWS).to_dict("records")


def _template() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("backtest.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return env.get_template("report.html.j2")


def render_html(run: Run) -> str:
    """The report's HTML for a loaded run."""
    return _template().render(**report_context(run))


def report_context(run: Run) -> dict[str, Any]:
    """Everything the template shows, charts included."""
    m = run.manifest
    pooled_charts, pooled_rows, pooled_by = _pooled(run)
    keys = key_numbers(run.table("pooled"), HEADLINE_WINDOW)
    bt_charts, bt_stats, bt_names = _backtest(run)
    headline = _headline_tests(run)
    chart_map = {"timeline": _timeline_chart(run), "grid": _grid(run), **bt_charts}
    sample, coverage = _sample(run)
    return {
        "sample": sample,
        "coverage": coverage,
        "fallbacks": _fallbacks(run),
        "dirt": _dirt(run),
        "excluded": _excluded(run),
        "run": m.get("run", {}),
        "synthetic": run.synthetic,
        "data_source": m.get("data", {}).get("description", ""),
        "answer": answer(keys, speed_sentence(run.table("pooled"))),
        "key_numbers": keys,
        "headline_note": m.get("headline_note", ""),
        "headline_tests": headline,
        "headline_window": HEADLINE_WINDOW,
        "lead_labels": _lead_labels(),
        "max_event_charts": MAX_EVENT_CHARTS,
        "charts": chart_map,
        "n_events": len(run.table("events")),
        "per_event": _per_event(run),
        "pooled_charts": pooled_charts,
        "pooled_rows": pooled_rows,
        "pooled_by": pooled_by,
        "bt_stats": bt_stats,
        "bt_stat_names": bt_names,
        "bt_note": m.get("backtest_note", ""),
        "grid_note": m.get("grid_note", ""),
        "attrition": _attrition(run),
        "findings": _findings(run),
        "method": m.get("method", []),
        "provenance": sorted((k, str(v)) for k, v in m.get("provenance", {}).items()),
        "price_meta": run.table("price_meta").to_dict("records"),
        "fmt_num": _fmt,
        "pct": _pct,
    }


def build_report(run_dir: str | Path, *, pdf: bool = True) -> ReportFiles:
    """Write ``report.html`` (self-contained) and ``report.pdf`` into ``run_dir``.

    The run folder is checked first: every table ``run.json`` lists must be present
    with its recorded SHA-256 (a damaged folder is refused, naming the first missing
    or changed table: :func:`backtest.runio.verify_run`), and the folder must be
    writable.  Each report file is replaced at once, so a failure (disk full) keeps
    the previous one.
    """
    from backtest.runio import MB, OutputError, _atomic_write_bytes, check_writable_folder, load_run

    run = load_run(run_dir)
    check_writable_folder(run.path, field="RUN_DIR", need_bytes=8 * MB, what="the report")
    html = render_html(run)
    html_path = run.path / "report.html"
    pdf_path = run.path / "report.pdf" if pdf else None
    try:
        _atomic_write_bytes(html_path, html.encode("utf-8"))
        if pdf_path is not None:
            _atomic_write_bytes(pdf_path, html_to_pdf(html))
    except OSError as exc:
        raise OutputError(
            f"writing the report failed: {exc.strerror or exc}; any earlier report is untouched",
            file=run.path,
            expected="free disk space and write permission",
        ) from exc
    return ReportFiles(html=html_path, pdf=pdf_path)


def html_to_pdf(html: str) -> bytes:
    """Render the report HTML to PDF with WeasyPrint; only ``data:`` URLs are fetched."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    try:  # WeasyPrint >= 66: a fetcher object restricted to data: URLs
        from weasyprint.urls import URLFetcher

        fetcher: Any = URLFetcher(allowed_protocols={"data"})
    except ImportError:  # older WeasyPrint: a plain function
        from weasyprint.urls import default_url_fetcher

        def fetcher(url: str) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"report refers to an external resource: {url}")
            return default_url_fetcher(url)

    return HTML(string=html, url_fetcher=fetcher).write_pdf()
