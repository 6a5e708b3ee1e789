"""The report is a pure function of a run folder: escaping, generated answer, marks, size."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from backtest.report.build import build_report, pdf_renderer, render_html, render_report
from backtest.runio import load_run
from backtest.steps import write_run
from backtest.summaries import caar_paths, pooled_car

SECTIONS = (
    "1. Summary",
    "2. How much",
    "3. How fast",
    "4. How significant",
    "5. Events",
    "6. The substitution spread",
    "7. Could it be traded?",
    "8. Robustness grid",
    "9. Data and method",
    "Appendix A. Every event",
    "Appendix B. Data files and provenance",
)


def _signed_instances(ar, events):
    """The instances a study used: incumbents expected to fall, substitutes to gain; each
    event its own calendar cluster."""
    inst = ar[["event_id", "security", "group"]].drop_duplicates()
    inst = inst.merge(events[["event_id", "direction"]], on="event_id")
    return inst.assign(
        expected_sign=np.where(inst["group"] == "us_incumbent", -1, 1),
        pool=True,
        cluster=inst["event_id"],
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
        "pooled": pooled_car(car, _signed_instances(ar, events)),
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


@pytest.mark.slow
def test_summary_text_follows_the_numbers(tmp_path):
    strong = render_html(load_run(_fake_run(tmp_path / "a", incumbent_effect=-0.04)))
    none = render_html(load_run(_fake_run(tmp_path / "b", incumbent_effect=0.0)))

    def how_much(html):
        return html.split("<b>How much?</b>")[1].split("</p>")[0]

    assert how_much(strong) != how_much(none)
    # Recomputed from the raw CAR table: the mean over tightening events (each its own
    # cluster) of the incumbents' mean CAR[0,+1].
    run = load_run(tmp_path / "a" / "run1")
    car = run.table("car").merge(run.table("events")[["event_id", "direction"]], on="event_id")
    inc = car[(car["group"] == "us_incumbent") & (car["direction"] == "tightening")]
    want = inc.groupby("event_id")["car"].mean().mean()
    assert want < -0.03
    assert f"US incumbents expected to fall moved {want * 100:+.2f}% over [0,+1]" in how_much(
        strong
    )
    assert f"moved {want * 100:+.2f}%" not in how_much(none)


def test_html_is_self_contained_and_marked_synthetic(tmp_path):
    html = render_html(load_run(_fake_run(tmp_path)))
    for section in SECTIONS:
        assert section in html
    assert html.count("SYNTHETIC DATA") >= len(SECTIONS)
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert "data:image/png;base64," in html  # charts are embedded PNGs (see charts.to_png)


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


@pytest.mark.slow
def test_a_pdf_child_started_early_gives_the_same_report_and_ends(tmp_path):
    """The pipeline starts the PDF child when its study ends; the report it gives is
    the one render_report makes with a child of its own, and the child is closed."""
    pypdf = pytest.importorskip("pypdf")
    run = load_run(_fake_run(tmp_path))
    early = pdf_renderer()
    child = early._proc
    html_early, pdf_early = render_report(run, renderer=early)
    html_own, pdf_own = render_report(run)
    assert html_early == html_own
    pages = [
        [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
        for pdf in (pdf_early, pdf_own)
    ]
    assert pages[0] == pages[1] and len(pages[0]) >= 2
    assert child is None or not child.is_alive()


def test_an_unused_pdf_child_is_ended_when_no_pdf_is_wanted(tmp_path):
    run = load_run(_fake_run(tmp_path))
    early = pdf_renderer()
    child = early._proc
    html, pdf = render_report(run, pdf=False, renderer=early)
    assert pdf is None and "<html" in html
    assert child is None or not child.is_alive()


@pytest.mark.slow
def test_intraday_section_appears_only_with_intraday_tables(tmp_path):
    plain = render_html(load_run(_fake_run(tmp_path / "a")))
    assert 'id="minutes"' not in plain
    run_dir = _fake_run(tmp_path / "b")
    t0 = pd.Timestamp("2025-04-15 20:05", tz="UTC")
    reaction = pd.DataFrame(
        {
            "event_id": ["e0", "e0"],
            "security": ["NVDA", "AMD"],
            "benchmark": ["SPY", "SPY"],
            "knowable_utc": [t0, t0],
            "reaction_after_utc": [t0, t0],
            "reaction_by_utc": [t0 + pd.Timedelta(hours=20)] * 2,
            "threshold": [0.01, 0.01],
            "first_session_move": [-0.0612, -0.0333],
            "share_5m": [0.41, 0.2],
            "share_30m": [0.62, 0.5],
            "share_60m": [0.7, 0.6],
            "share_after_hours": [0.55, 0.4],
            "share_premarket": [0.2, 0.3],
            "share_next_open": [0.9, 0.8],
            "n_bars": [390, 380],
            "note": ["", "thin after-hours"],
        }
    )
    paths = pd.DataFrame(
        {
            "event_id": "e0",
            "security": ["NVDA"] * 3 + ["AMD"] * 3,
            "minutes_since": [0, 5, 30] * 2,
            "abnormal_cum": [0.0, -0.025, -0.038, 0.0, -0.007, -0.0167],
            "raw_cum": [0.0, -0.03, -0.04, 0.0, -0.01, -0.02],
            "bar_utc": [t0 + pd.Timedelta(minutes=m) for m in (0, 5, 30)] * 2,
            "session": "after_hours",
        }
    )
    from backtest.runio import load_run as load

    run = load(run_dir)
    tables = {**run.tables, "intraday_reaction": reaction, "intraday_paths": paths}
    write_run(run_dir.parent / "run2", tables, run.manifest)
    html = render_html(load(run_dir.parent / "run2"))
    section = html.split('id="minutes"')[1]
    assert "minutes after the news for e0" in section
    # The reaction table, in percent with fixed decimals, one row per security.
    assert "-6.12%" in section and "-3.33%" in section
    assert "41%" in section and "thin after-hours" in section
    assert section.count('<tr><td class="l">') >= 2


@pytest.mark.slow
def test_counts_print_as_integers_and_hashes_are_short(tmp_path):
    from backtest.report.sections import count, short_hash

    assert count(134.0) == "134" and count(float("nan")) == "–"
    assert short_hash("v86:" + "a" * 64) == "v86:" + "a" * 12
    assert short_hash("b" * 64, 16) == "b" * 16
    html = render_html(load_run(_fake_run(tmp_path)))
    assert "134.000" not in html and ".000<" not in html


def test_loss_reasons_are_words_not_codes():
    from backtest.report.sections import lost_in_words, reason_words

    assert reason_words("day0_outside_data") == "day 0 outside the security's price file"
    assert reason_words("some_new_code") == "some new code"
    assert lost_in_words("day0_outside_data 7; before_listing 2") == (
        "day 0 outside the security's price file (7); day 0 before the listing date (2)"
    )
    assert lost_in_words("") == ""
