"""The report is a pure function of a run folder: escaping, generated answer, marks, size."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from backtest.report.build import build_report, render_html
from backtest.runio import load_run
from backtest.steps import write_run
from backtest.summaries import caar_paths, pooled_car

SECTIONS = (
    "1. Summary",
    "2. Timeline of events",
    "3. Per event",
    "4. Pooled by event type",
    "5. Backtests",
    "6. Robustness",
    "7. Data and method",
)


def _fake_run(root, *, title="BIS rule", incumbent_effect=-0.03, synthetic=True, seed=0):
    """A small run folder written the way the pipeline writes one."""
    rng = np.random.default_rng(seed)
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(6)],
            "title": [title] + [f"Event {i}" for i in range(1, 6)],
            "authority": ["US-BIS", "US-BIS", "CN-MOFCOM", "NVIDIA", "US-BIS", "US-BIS"],
            "type": [
                "restriction",
                "tightening",
                "countermeasure",
                "company_disclosure",
                "relaxation",
                "tightening",
            ],
            "direction": ["tightening"] * 4 + ["easing", "tightening"],
            "announced_date": pd.to_datetime(
                ["2022-10-07", "2023-10-17", "2023-07-03", "2025-04-15", "2025-05-13", "2024-12-02"]
            ),
        }
    )
    rows = []
    for ev in events["event_id"]:
        for sec, group, eff in (
            ("NVDA", "us_incumbent", incumbent_effect),
            ("AMD", "us_incumbent", incumbent_effect),
            ("688256.SS", "cn_substitute", 0.02),
        ):
            for rel in range(-5, 11):
                ar = rng.normal(0, 0.01) + (eff if rel == 0 else 0.0)
                rows.append((ev, sec, group, rel, ar))
    ar = pd.DataFrame(rows, columns=["event_id", "security", "group", "rel_day", "ar"])
    car = (
        ar[ar["rel_day"].between(0, 1)]
        .groupby(["event_id", "security", "group"])["ar"]
        .sum()
        .reset_index(name="car")
        .assign(window="[0,+1]")
    )
    run_dir = root / "run1"
    tables = {
        "events": events,
        "ar": ar,
        "car": car,
        "paths": caar_paths(ar),
        "pooled": pooled_car(car, events),
        "car_summary": car.groupby(["event_id", "group", "window"])["car"]
        .agg(caar="mean", n="count")
        .reset_index(),
        "instances": pd.DataFrame(
            {"event_id": events["event_id"], "day0": events["announced_date"]}
        ),
    }
    write_run(
        run_dir,
        tables,
        {
            "run": {
                "run_id": "run1",
                "created_at": "2026-11-28T00:00:00+00:00",
                "package_version": "0.1.0",
                "log_version": "v6:abc",
                "seed": 7,
            },
            "data": {"synthetic": synthetic, "description": "test"},
        },
    )
    return run_dir


def test_event_text_is_escaped_and_inert(tmp_path):
    run_dir = _fake_run(tmp_path, title='<script>alert("x")</script> & <b>bold</b>')
    html = render_html(load_run(run_dir))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    # A content security policy forbids scripts and network loads even if something slipped.
    assert "default-src 'none'" in html


def test_summary_text_follows_the_numbers(tmp_path):
    strong = render_html(load_run(_fake_run(tmp_path / "a", incumbent_effect=-0.04)))
    none = render_html(load_run(_fake_run(tmp_path / "b", incumbent_effect=0.0)))

    def answer(html):
        return html.split('class="answer">')[1].split("</p>")[0]

    assert answer(strong).startswith("Tightening hurts US incumbents")
    assert answer(none) != answer(strong)
    assert "Tightening hurts US incumbents" not in answer(none)


def test_html_is_self_contained_and_marked_synthetic(tmp_path):
    html = render_html(load_run(_fake_run(tmp_path)))
    for section in SECTIONS:
        assert section in html
    assert html.count("SYNTHETIC DATA") >= len(SECTIONS)
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert "data:image/svg+xml;base64," in html


def test_real_data_report_has_no_synthetic_mark(tmp_path):
    html = render_html(load_run(_fake_run(tmp_path, synthetic=False)))
    assert "SYNTHETIC" not in html


@pytest.mark.slow
def test_pdf_has_every_section_and_the_mark_on_every_page(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    files = build_report(_fake_run(tmp_path))
    reader = pypdf.PdfReader(io.BytesIO(files.pdf.read_bytes()))
    texts = [page.extract_text() for page in reader.pages]
    assert len(texts) >= 2
    for i, text in enumerate(texts):
        assert "SYNTHETIC DATA" in text, f"page {i + 1} lacks the mark"
    joined = " ".join(" ".join(texts).split())
    for section in SECTIONS:
        assert section in joined
    assert files.html.stat().st_size < 10 * 1024 * 1024


def test_speed_sentence_follows_the_numbers():
    from backtest.report.narrative import speed_sentence

    def pooled(d0, d5):
        return pd.DataFrame(
            {
                "direction": "tightening",
                "group": "us_incumbent",
                "window": ["[0,0]", "[0,+5]"],
                "mean_car": [d0, d5],
            }
        )

    fast = speed_sentence(pooled(-0.03, -0.032))
    slow = speed_sentence(pooled(-0.01, -0.04))
    assert "priced on day 0" in fast and "-3.00%" in fast and "-3.20%" in fast
    assert "builds over the following sessions" in slow
    assert speed_sentence(pooled(-0.01, float("nan"))) == ""
