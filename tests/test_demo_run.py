"""Issue 2 acceptance: the demo recovers a planted effect and finds none when none is planted."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from backtest.runio import load_run

pytestmark = pytest.mark.slow


def _pooled_row(run_dir, window="[0,0]"):
    pooled = load_run(run_dir).table("pooled")
    # Incumbents the log expects to fall on tightening (sign -1), the calendar cluster
    # as the unit.
    row = pooled[
        (pooled["direction"] == "tightening")
        & (pooled["group"] == "us_incumbent")
        & (pooled["window"] == window)
        & (pooled["sign"] == "-1")
    ]
    assert len(row) == 1
    return row.iloc[0]


def test_planted_day0_effect_is_recovered_and_significant(planted_run):
    row = _pooled_row(planted_run.run_dir)
    # The plant is -5 %; the estimate is the mean over tightening events of each event's
    # mean incumbent AR on day 0, tested across events (valid when dates cluster).
    assert row["mean_car"] == pytest.approx(-0.05, abs=0.01)
    assert row["pvalue"] < 0.01
    assert row["n_events"] >= 10


def test_nothing_planted_nothing_found(null_run):
    row = _pooled_row(null_run.run_dir)
    assert abs(row["mean_car"]) < 0.01
    assert row["pvalue"] > 0.01


def test_planted_table_matches_the_plant(planted_run):
    planted = load_run(planted_run.run_dir).table("planted")
    assert set(planted["effect"]) == {-0.05}
    inst = load_run(planted_run.run_dir).table("instances")
    tight = inst[(inst["direction"] == "tightening") & (inst["group"] == "us_incumbent")]
    assert len(planted) == len(tight)


def test_run_folder_has_reports_tables_and_provenance(planted_run):
    run_dir = planted_run.run_dir
    assert (run_dir / "report.html").stat().st_size > 10_000
    assert (run_dir / "report.pdf").read_bytes()[:5] == b"%PDF-"
    for name in (
        "ar",
        "car",
        "tests",
        "attrition",
        "instances",
        "pooled",
        "backtest_trades",
        "spec_grid",
        "lag_decay",
    ):
        assert (run_dir / "tables" / f"{name}.parquet").exists(), name
        assert (run_dir / "tables" / f"{name}.csv").exists(), name
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["data"]["synthetic"] is True
    assert manifest["run"]["log_version"].startswith("v")
    assert len(manifest["data"]["content_hash"]) == 64
    assert manifest["versions"]["mib"] == manifest["run"]["package_version"]
    assert "spec" in manifest and manifest["spec"]["source"] == "demo"


def test_every_report_section_says_synthetic(planted_run):
    html = planted_run.html.read_text()
    assert html.count("SYNTHETIC DATA") >= 8


def test_tables_round_trip_between_parquet_and_csv(planted_run):
    run_dir = planted_run.run_dir
    a = pd.read_parquet(run_dir / "tables" / "car.parquet")
    b = pd.read_csv(run_dir / "tables" / "car.csv")
    assert len(a) == len(b)
    assert a["car"].to_numpy() == pytest.approx(b["car"].to_numpy(), rel=1e-12, nan_ok=True)


def test_demo_pdf_marks_every_page_and_html_stays_small(planted_run):
    import io

    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(planted_run.pdf.read_bytes()))
    assert len(reader.pages) > 5
    for i, page in enumerate(reader.pages):
        assert "SYNTHETIC DATA" in page.extract_text(), f"page {i + 1}"
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    for section in (
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
    ):
        assert section in text
    assert planted_run.html.stat().st_size < 10 * 1024 * 1024


def test_report_sets_planted_beside_estimated_for_every_plant(planted_run):
    run = load_run(planted_run.run_dir)
    check = run.table("plant_check")
    plants = run.manifest["spec"]["plants"]
    assert len(check) == sum(1 + bool(p["drift"] and p["drift_sessions"]) for p in plants)
    day0 = check[check["component"] == "day 0"].iloc[0]
    # The planted table, not the plant spec, is the reference: same-day events add up,
    # so the mean planted effect is -5 % or a little more negative.
    assert -0.06 <= day0["planted"] <= -0.05
    assert day0["estimated"] == pytest.approx(day0["planted"], abs=3 * day0["se"])
    html = planted_run.html.read_text()
    block = html.split("Planted vs estimated")[1].split("</table>")[0]
    assert f"{day0['planted'] * 100:+.2f}%" in block
    assert f"{day0['estimated'] * 100:+.2f}%" in block


def test_the_run_hands_every_frozen_object_back_to_the_collector(planted_run, null_run):
    """run_pipeline keeps its steps' results out of the collector's passes
    (backtest.longlived) and unfreezes them when it returns, report included."""
    import gc

    assert planted_run.pdf is not None and null_run.pdf is None
    assert gc.get_freeze_count() == 0


def test_the_run_leaves_no_child_process_behind(planted_run, null_run):
    """The backtest child, the PDF child started when the study ends, and the report's
    chart child have all ended when run_pipeline returns."""
    import multiprocessing

    assert planted_run.pdf is not None
    assert multiprocessing.active_children() == []
