"""Benchmarks that run out: per-instance fallback, its record, and benchmark_missing.

Expectations are set by hand from the dates planted in small panels, and the
abnormal return of a fallback instance is recomputed independently with a
plain least-squares fit (numpy.linalg.lstsq) against the fallback benchmark.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.market.panel import PricePanel, SeriesMeta
from backtest.returns import choose_benchmarks, regressor_key, study_inputs
from backtest.study.engine import run_study
from backtest.study.spec import StudySpec
from backtest.universe import Security, Universe

SPEC = StudySpec(
    estimation=(-60, -11),
    min_estimation_obs=40,
    windows=((0, 0), (0, 1)),
    placebo_draws=0,
    daily_tests=(),
    tests=("cross_sectional_t",),
)


def _universe() -> Universe:
    sec = [
        Security(
            symbol="AAA",
            name="A",
            mic="XNAS",
            currency="USD",
            group="us_incumbent",
            benchmarks=("IDX1", "IDX2"),
        ),
        Security(
            symbol="BBB",
            name="B",
            mic="XNAS",
            currency="USD",
            group="us_incumbent",
            benchmarks=("IDX1",),
        ),
        Security(
            symbol="IDX1", name="I1", mic="XNAS", currency="USD", group="benchmark", kind="index"
        ),
        Security(
            symbol="IDX2", name="I2", mic="XNAS", currency="USD", group="benchmark", kind="index"
        ),
    ]
    return Universe(securities=tuple(sec))


def _panel(idx1_last: str) -> tuple[PricePanel, pd.DatetimeIndex]:
    """Random-walk closes on XNAS sessions of 2023; IDX1 stops at ``idx1_last``."""
    from backtest.market.calendars import sessions

    days = sessions("XNAS", "2023-01-03", "2023-12-29")
    rng = np.random.default_rng(3)
    closes = {}
    for s in ("AAA", "BBB", "IDX1", "IDX2"):
        closes[s] = pd.Series(
            100 * np.cumprod(1 + rng.normal(0, 0.01, len(days))),
            index=pd.DatetimeIndex(days, name="date"),
        )
    closes["IDX1"] = closes["IDX1"][:idx1_last]
    bars = {s: pd.DataFrame({"close": c}) for s, c in closes.items()}
    meta = {
        s: SeriesMeta(
            symbol=s,
            source="csv",
            adjustment="adjusted",
            rows=len(c),
            first=f"{c.index[0]:%Y-%m-%d}",
            last=f"{c.index[-1]:%Y-%m-%d}",
        )
        for s, c in closes.items()
    }
    return PricePanel(bars=bars, meta=meta), days


def _instances(days: pd.DatetimeIndex, positions: list[int]) -> pd.DataFrame:
    rows = [(f"ev{p}", sym, days[p], "us_incumbent") for p in positions for sym in ("AAA", "BBB")]
    return pd.DataFrame(rows, columns=["event_id", "security", "day0", "group"])


def test_first_benchmark_used_while_it_covers_then_the_next_one():
    panel, days = _panel("2023-08-31")
    u = _universe()
    inputs = study_inputs(panel, u, ["AAA", "BBB"])
    # Day 0 at session 100 (late May): windows end at session 101, well before IDX1 ends.
    # Day 0 at session 200 (mid-October): IDX1 ended 2023-08-31, so AAA falls back to
    # IDX2 and BBB, whose only benchmark is IDX1, is dropped.
    inst = _instances(days, [100, 200])
    choice = choose_benchmarks(inst, inputs, SPEC.estimation, SPEC.event_span)
    chosen = choice.chosen.set_index(["event_id", "security"])
    assert chosen.loc[("ev100", "AAA"), "benchmark"] == "IDX1"
    assert not chosen.loc[("ev100", "AAA"), "fallback"]
    assert chosen.loc[("ev100", "BBB"), "benchmark"] == "IDX1"
    assert chosen.loc[("ev200", "AAA"), "benchmark"] == "IDX2"
    assert chosen.loc[("ev200", "AAA"), "fallback"]
    assert chosen.loc[("ev200", "AAA"), "rank"] == 2
    assert "IDX1 ends 2023-08-31" in chosen.loc[("ev200", "AAA"), "detail"]
    dropped = choice.dropped
    assert dropped[["event_id", "security", "reason"]].values.tolist() == [
        ["ev200", "BBB", "benchmark_missing"]
    ]
    detail = dropped["detail"].iloc[0]
    assert "IDX1 ends 2023-08-31" in detail
    assert f"needs to {days[201]:%Y-%m-%d}" in detail
    keys = dict(
        zip(
            zip(choice.instances["event_id"], choice.instances["security"], strict=True),
            choice.instances["regressor"],
            strict=True,
        )
    )
    assert keys[("ev100", "AAA")] == "AAA" and keys[("ev200", "AAA")] == "AAA@IDX2"
    assert ("ev200", "BBB") not in keys


def test_fallback_instance_is_measured_against_the_fallback_benchmark():
    panel, days = _panel("2023-08-31")
    u = _universe()
    inputs = study_inputs(panel, u, ["AAA", "BBB"])
    inst = _instances(days, [100, 200])
    choice = choose_benchmarks(inst, inputs, SPEC.estimation, SPEC.event_span)
    res = run_study(choice.instances, inputs.returns, inputs.market, SPEC)
    ar = res.ar.set_index(["event_id", "security", "rel_day"])["ar"]
    for event, pos, bench in (("ev100", 100, "IDX1"), ("ev200", 200, "IDX2")):
        r = panel.returns("AAA")
        m = panel.returns(bench)
        est = days[pos - 60 : pos - 10]  # relative days -60..-11
        X = np.column_stack([np.ones(len(est)), m.reindex(est).to_numpy()])
        beta = np.linalg.lstsq(X, r.reindex(est).to_numpy(), rcond=None)[0]
        d0 = days[pos]
        expected = r.loc[d0] - beta[0] - beta[1] * m.loc[d0]
        assert ar.loc[(event, "AAA", 0)] == pytest.approx(expected, abs=1e-12)
    assert ("ev200", "BBB", 0) not in ar.index


def test_missing_first_benchmark_file_is_a_fallback_not_a_silent_switch():
    panel, days = _panel("2023-12-29")
    panel = panel.subset(["AAA", "BBB", "IDX2"])  # IDX1.csv missing altogether
    inputs = study_inputs(panel, _universe(), ["AAA", "BBB"])
    assert inputs.missing == {"BBB": "none of its benchmarks ['IDX1'] has prices"}
    inst = _instances(days, [100])
    inst = inst[inst["security"] == "AAA"]
    choice = choose_benchmarks(inst, inputs, SPEC.estimation, SPEC.event_span)
    row = choice.chosen.iloc[0]
    assert row["benchmark"] == "IDX2" and row["fallback"] and "IDX1 has no prices" in row["detail"]
    # AAA's first benchmark with prices is IDX2, so its regressors are keyed by its symbol.
    assert regressor_key("AAA", "IDX2", inputs.candidates["AAA"][0]) == "AAA"


def test_benchmark_lines_say_it_aloud():
    from backtest.coverage import benchmark_lines

    panel, days = _panel("2023-08-31")
    inputs = study_inputs(panel, _universe(), ["AAA", "BBB"])
    choice = choose_benchmarks(
        _instances(days, [100, 200]), inputs, SPEC.estimation, SPEC.event_span
    )
    lines = benchmark_lines(choice.chosen, choice.dropped)
    assert any(
        ln.startswith("note: AAA: 1 instance(s) measured against fallback benchmark IDX2")
        for ln in lines
    )
    assert any(ln.startswith("note: BBB: 1 instance(s) dropped, benchmark_missing") for ln in lines)
