"""The sample a run used: coverage per security, lost instances, the console and page-1 text.

A small hand-made case: three events, three securities; the counts below are
worked out by hand from the rows written here.
"""

from __future__ import annotations

import pandas as pd

from backtest.coverage import (
    coverage_table,
    loss_table,
    sample_sentence,
    summary_lines,
    used_instances,
)
from backtest.market.panel import SeriesMeta
from backtest.universe import Security, Universe

U = Universe(
    securities=(
        Security(
            symbol="NVDA",
            name="NVIDIA",
            mic="XNAS",
            currency="USD",
            group="us_incumbent",
            benchmarks=("SPY",),
        ),
        Security(
            symbol="0981.HK",
            name="SMIC",
            mic="XHKG",
            currency="HKD",
            group="cn_substitute",
            benchmarks=("^HSI",),
        ),
        Security(
            symbol="1347.HK",
            name="Hua Hong",
            mic="XHKG",
            currency="HKD",
            group="cn_substitute",
            benchmarks=("^HSI",),
        ),
        Security(
            symbol="SPY", name="SPY", mic="ARCX", currency="USD", group="benchmark", kind="etf"
        ),
        Security(
            symbol="^HSI", name="HSI", mic="XHKG", currency="HKD", group="benchmark", kind="index"
        ),
    )
)

INSTANCES = pd.DataFrame(
    [
        ("e1", "NVDA", "2024-01-02"),
        ("e1", "0981.HK", "2024-01-02"),
        ("e2", "NVDA", "2024-09-03"),
        ("e2", "0981.HK", "2024-09-03"),
        ("e2", "1347.HK", "2024-09-03"),
        ("e3", "NVDA", "2025-01-06"),
    ],
    columns=["event_id", "security", "day0"],
)
ALIGN_ATTRITION = pd.DataFrame(
    [("e3", "official", "0981.HK", "no_session", "x")],
    columns=["event_id", "stage", "security", "reason", "detail"],
)
STUDY_ATTRITION = pd.DataFrame(
    [
        (
            "e2",
            "0981.HK",
            "2024-09-03",
            "cn_substitute",
            "benchmark_missing",
            "^HSI ends 2024-08-05",
        ),
        ("*", "1347.HK", None, None, "no_prices", "no file 1347.HK.csv"),
    ],
    columns=["event_id", "security", "day0", "group", "reason", "detail"],
)
CAR = pd.DataFrame(
    [
        ("e1", "NVDA", "[0,0]"),
        ("e1", "NVDA", "[0,+1]"),
        ("e1", "0981.HK", "[0,0]"),
        ("e2", "NVDA", "[0,0]"),
        ("e3", "NVDA", "[0,0]"),
    ],
    columns=["event_id", "security", "window"],
)
META = {
    "NVDA": SeriesMeta(
        symbol="NVDA",
        source="csv",
        adjustment="adjusted",
        origin="/d/NVDA.csv [yahoo-adj-close]; x",
        first="2019-05-16",
        last="2026-05-15",
    ),
    "0981.HK": SeriesMeta(
        symbol="0981.HK",
        source="csv",
        adjustment="adjusted",
        origin="/d/0981.HK.csv [yfinance]",
        first="2018-01-02",
        last="2025-10-30",
    ),
}


def _tables():
    used = used_instances(CAR, INSTANCES)
    losses = loss_table(INSTANCES, ALIGN_ATTRITION, STUDY_ATTRITION, used)
    cov = coverage_table(INSTANCES, losses, used, META, U)
    return used, losses, cov


def test_used_instances_take_day0_from_the_alignment():
    used = used_instances(CAR, INSTANCES)
    assert len(used) == 4  # (e1,NVDA) (e1,0981) (e2,NVDA) (e3,NVDA): windows collapse
    assert set(used["day0"]) == {"2024-01-02", "2024-09-03", "2025-01-06"}


def test_every_lost_instance_has_one_reason_from_the_step_that_lost_it():
    _, losses, _ = _tables()
    got = {(r.event_id, r.security): (r.step, r.reason) for r in losses.itertuples()}
    assert got == {
        ("e3", "0981.HK"): ("alignment", "no_session"),
        ("e2", "0981.HK"): ("study", "benchmark_missing"),
        ("e2", "1347.HK"): ("study", "no_prices"),  # the '*' row covers all its instances
    }


def test_coverage_rows_count_intended_used_and_lost():
    _, _, cov = _tables()
    rows = cov.set_index("security")
    # NVDA: e1, e2, e3 intended and used.  0981.HK: e1, e2 aligned plus e3 lost in the
    # alignment = 3 intended, 1 used.  1347.HK: 1 intended, 0 used, no prices.
    assert rows.loc["NVDA", ["intended", "used", "lost"]].tolist() == [3, 3, 0]
    assert rows.loc["0981.HK", ["intended", "used", "lost"]].tolist() == [3, 1, 2]
    assert rows.loc["1347.HK", ["intended", "used", "lost"]].tolist() == [1, 0, 1]
    assert rows.loc["0981.HK", "lost_reasons"] in (
        "no_session 1; benchmark_missing 1",
        "benchmark_missing 1; no_session 1",
    )
    assert rows.loc["NVDA", "source"] == "/d/NVDA.csv"
    assert rows.loc["1347.HK", "source"] == "no prices"
    assert (rows.loc["NVDA", "used_first"], rows.loc["NVDA", "used_last"]) == (
        "2024-01-02",
        "2025-01-06",
    )


def test_console_lines_and_page_one_sentence():
    used, losses, cov = _tables()
    ev, secs, loss = summary_lines(cov, losses, used)
    assert ev == "events used: 3 of 3 intended (instances 4 of 7)"
    assert secs == "securities used: 2 of 3 (none used: 1347.HK)"
    assert loss.startswith("biggest losses: ") and "benchmark_missing" in loss
    s = sample_sentence(cov, losses, used)
    assert s.startswith(
        "The sample is 4 of 7 intended event-security instances (3 of 3 "
        "events, 2 of 3 securities), with day 0 from 2024-01-02 to 2025-01-06."
    )
    assert "3 were lost" in s and "no listed benchmark covers the windows (1)" in s
