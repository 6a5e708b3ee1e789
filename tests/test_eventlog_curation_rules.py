"""Curation rules: confidence needs a primary source, confounders stay neutral and out of
pools, time-of-day facts must be data, and the audit's time status and pinning.

Each day 0 below is worked out by hand from the exchange hours: New York 09:30-16:00
ET, Shanghai 09:30-15:00 CST (UTC+8), Hong Kong 09:30-16:00 HKT (UTC+8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.alignment.audit import audit_events, audit_summary, stage_day0, time_status
from backtest.eventlog import empty_log_text
from backtest.eventlog.lint import lint_event, time_facts
from backtest.eventlog.models import Event, Stage
from backtest.eventlog.pooling import pool_reason, pool_table

try:
    from cli_support import run_cli as run
except ImportError:  # pragma: no cover
    from tests.cli_support import run_cli as run

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNIVERSE = str(ROOT / "events" / "universe.yaml")


def _event(**over) -> Event:
    base = {
        "id": "bis-2024-01-10-test-rule",
        "title": "t",
        "authority": "US-BIS",
        "jurisdiction": "US",
        "type": "restriction",
        "direction": "tightening",
        "confidence": "medium",
        "stages": [
            {
                "stage": "announcement",
                "timezone": "America/New_York",
                "time_known": False,
                "date": "2024-01-10",
            }
        ],
        "affected": [{"target": "NVDA", "sign": -1}],
        "sources": [{"url": "https://example.org/a", "title": "a"}],
    }
    base.update(over)
    return Event.model_validate(base)


def _stage(**kw) -> Stage:
    return Stage.model_validate({"stage": "announcement", "time_known": False, **kw})


# ------------------------------------------------------------------ lint rules


def test_high_confidence_needs_a_primary_source():
    bad = _event(confidence="high")
    assert [x.code for x in lint_event(bad)] == ["high_without_primary"]
    good = _event(
        confidence="high",
        sources=[{"url": "https://www.federalregister.gov/x", "title": "FR", "primary": True}],
    )
    assert lint_event(good) == []


def test_confounder_with_a_direction_is_a_warning():
    ev = _event(type="confounder", direction="tightening")
    lints = lint_event(ev)
    assert [(x.code, x.severity) for x in lints] == [("confounder_with_direction", "warning")]
    assert lint_event(_event(type="confounder", direction="neutral")) == []


@pytest.mark.parametrize(
    ("note", "facts"),
    [
        ("8-K filed after the close", ["after the close"]),
        ("posted in the Beijing evening", ["evening"]),
        ("MOFCOM 晚间发布", ["晚间"]),
        ("before the open on Monday", ["before the open"]),
        ("reported on 2024-01-10", []),
    ],
)
def test_time_facts_are_found_in_notes(note, facts):
    assert time_facts(note) == facts


def test_a_time_fact_in_a_note_must_become_data():
    note = "Nvidia filed its 8-K after the close."
    ev = _event(
        stages=[
            {
                "stage": "announcement",
                "timezone": "America/New_York",
                "time_known": False,
                "date": "2024-01-10",
                "note": note,
            }
        ]
    )
    assert [x.code for x in lint_event(ev)] == ["time_fact_without_bounds"]
    fixed = _event(
        stages=[
            {
                "stage": "announcement",
                "timezone": "America/New_York",
                "time_known": False,
                "date": "2024-01-10",
                "note": note,
                "not_before": "2024-01-10T16:00:00-05:00",
            }
        ]
    )
    assert lint_event(fixed) == []
    # The event's notes count for the stage that sets day 0.
    ev2 = _event(notes="The post came in the evening, Washington time.")
    assert [x.field for x in lint_event(ev2)] == ["stages.0 (announcement)"]


def test_validate_and_add_refuse_high_without_primary(tmp_path, capsys):
    draft = {
        "events": [
            {
                "id": "bis-2024-01-10-test-rule",
                "title": "t",
                "authority": "US-BIS",
                "jurisdiction": "US",
                "type": "restriction",
                "direction": "tightening",
                "confidence": "high",
                "stages": [
                    {
                        "stage": "announcement",
                        "timezone": "America/New_York",
                        "time_known": False,
                        "date": "2024-01-10",
                    }
                ],
                "affected": [{"target": "NVDA", "sign": -1}],
                "sources": [{"url": "https://example.org/a", "title": "press"}],
            }
        ]
    }
    f = tmp_path / "new.yaml"
    f.write_text(yaml.safe_dump(draft), encoding="utf-8")
    code, _, err = run(capsys, "events", "validate", str(f), "--universe", UNIVERSE)
    assert code == 1 and "high_without_primary" not in err
    assert "confidence 'high' without a primary source" in err and "new.yaml" in err
    log = tmp_path / "log.yaml"
    log.write_text(empty_log_text(), encoding="utf-8")
    before = log.read_bytes()
    code, _, err = run(capsys, "events", "add", str(f), "--log", str(log), "--universe", UNIVERSE)
    assert code == 1 and "without a primary source" in err and err.count("\n") == 1
    assert log.read_bytes() == before


# ------------------------------------------------------------------ audit


def test_time_status_of_each_kind_of_stage():
    assert (
        time_status(
            _stage(timezone="America/New_York", time_known=True, at="2024-01-10T16:30:00-05:00")
        )
        == "exact"
    )
    assert (
        time_status(
            _stage(
                timezone="America/New_York",
                date="2024-01-10",
                not_before="2024-01-10T16:00:00-05:00",
            )
        )
        == "bounded"
    )
    assert time_status(_stage(timezone="America/New_York", date="2024-01-10")) == "policy"


def test_weekday_date_only_us_news_is_not_pinned():
    # Wed 2024-01-10, New York, no time: before 16:00 ET -> NY day 0 that day; after the
    # close -> Thu 2024-01-11.  The local date starts at 00:00 ET = 13:00 CST on 01-10,
    # before Shanghai's 15:00 close and Hong Kong's 16:00 close, so the earliest instant
    # gives 01-10 there too, and the latest (23:59 ET = 12:59 CST on 01-11) gives 01-11:
    # no exchange is pinned.  The business-hours policy (12:00 ET = 01:00 CST on 01-11)
    # gives NY 01-10, Shanghai and Hong Kong 01-11.
    st = _stage(timezone="America/New_York", date="2024-01-10")
    ny, sh, hk = (stage_day0(st, c) for c in ("XNYS", "XSHG", "XHKG"))
    assert (ny.earliest, ny.latest, ny.pinned) == ("2024-01-10", "2024-01-11", False)
    assert (sh.earliest, sh.latest, sh.pinned) == ("2024-01-10", "2024-01-11", False)
    assert not hk.pinned
    assert (ny.assumed, sh.assumed, hk.assumed) == ("2024-01-10", "2024-01-11", "2024-01-11")


def test_after_close_bound_pins_new_york():
    # not_before 16:00 ET Wed 2024-01-10: earliest 16:00 -> NY Thu 01-11 (first close
    # strictly after); latest 23:59 ET = 12:59 CST Thu -> Shanghai Thu 01-11 (closes 15:00).
    st = _stage(
        timezone="America/New_York", date="2024-01-10", not_before="2024-01-10T16:00:00-05:00"
    )
    ny, sh = stage_day0(st, "XNYS"), stage_day0(st, "XSHG")
    assert (ny.earliest, ny.latest) == ("2024-01-11", "2024-01-11")
    assert (sh.earliest, sh.latest) == ("2024-01-11", "2024-01-11")


def test_beijing_evening_bound_moves_shanghai_not_new_york():
    # Tue 2024-01-09 after 18:00 CST (05:00 ET): Shanghai closed 15:00 -> Wed 01-10;
    # New York's Tue session closes 16:00 ET = 05:00 CST Wed, after any Tue evening
    # instant in Beijing (up to 23:59 CST = 10:59 ET) -> NY Tue 01-09.
    st = _stage(timezone="Asia/Shanghai", date="2024-01-09", not_before="2024-01-09T18:00:00+08:00")
    assert stage_day0(st, "XSHG").pinned and stage_day0(st, "XSHG").earliest == "2024-01-10"
    ny = stage_day0(st, "XNYS")
    assert ny.pinned and ny.earliest == "2024-01-09"


def test_sunday_news_is_pinned_without_bounds():
    st = _stage(timezone="America/New_York", date="2025-08-10")  # a Sunday
    for cal in ("XNYS", "XSHG", "XHKG"):
        d = stage_day0(st, cal)
        assert d.pinned and d.earliest == "2025-08-11"


def test_audit_table_and_summary_figures():
    evs = [
        _event(id="a-2024-01-10-x"),  # policy
        _event(
            id="b-2024-01-10-x",
            stages=[
                {
                    "stage": "filing",
                    "timezone": "America/New_York",
                    "time_known": True,
                    "at": "2024-01-10T17:05:00-05:00",
                }
            ],
        ),  # exact
        _event(
            id="c-2025-08-10-x",
            stages=[
                {
                    "stage": "announcement",
                    "timezone": "America/New_York",
                    "time_known": False,
                    "date": "2025-08-10",
                }
            ],
        ),
    ]
    t = audit_events(evs).set_index("event_id")
    assert t.loc["a-2024-01-10-x", "time_status"] == "policy"
    assert not t.loc["a-2024-01-10-x", "pinned"]
    assert t.loc["b-2024-01-10-x", ["day0_XNYS", "day0_XSHG", "day0_XHKG"]].tolist() == [
        "2024-01-11",
        "2024-01-11",
        "2024-01-11",
    ]
    assert t.loc["c-2025-08-10-x", "pinned"]
    lines = audit_summary(t.reset_index())
    assert lines[0].endswith("exact 1, bounded 0, policy 2 (33% carry a clock time or bounds)")
    assert "2 of 3 (67%)" in lines[1]


# ------------------------------------------------------------------ pooling policy


def test_confounders_and_low_confidence_stay_out_of_pools():
    conf = _event(id="c-2025-01-27-x", type="confounder", direction="tightening")
    low = _event(id="l-2026-05-14-x", confidence="low", direction="easing")
    ok = _event(id="o-2024-01-10-x")
    assert pool_reason(conf) == "confounder (never pooled)"
    assert pool_reason(low) == "confidence low below --min-confidence medium"
    assert pool_reason(low, "low") == "" and pool_reason(ok, "high") != ""
    t = pool_table([conf, low, ok]).set_index("event_id")
    assert t["pooled"].to_dict() == {
        "c-2025-01-27-x": False,
        "l-2026-05-14-x": False,
        "o-2024-01-10-x": True,
    }


def test_unpooled_events_keep_event_results_but_leave_pooled_tests():
    from backtest.study.engine import run_study
    from backtest.study.spec import StudySpec

    rng = np.random.default_rng(5)
    idx = pd.bdate_range("2021-01-01", periods=400)
    m = pd.Series(rng.normal(0, 0.01, 400), index=idx, name="market")
    rets = {
        f"S{i}": pd.Series(0.8 * m.to_numpy() + rng.normal(0, 0.02, 400), index=idx)
        for i in range(6)
    }
    rows = [
        (f"ev{d}", s, idx[d], "us_incumbent", "tightening", d != 300)
        for d in (200, 250, 300)
        for s in rets
    ]
    inst = pd.DataFrame(
        rows, columns=["event_id", "security", "day0", "group", "direction", "pool"]
    )
    spec = StudySpec(
        estimation=(-120, -11),
        min_estimation_obs=80,
        windows=((0, 0),),
        placebo_draws=0,
        daily_tests=(),
        tests=("cross_sectional_t",),
    )
    res = run_study(inst, rets, m, spec)
    t = res.tests
    events = set(t[t["level"] == "event"]["event"])
    assert events == {"ev200", "ev250", "ev300"}  # every event keeps its result
    pooled = t[(t["level"] == "pooled") & (t["event"] == "direction=tightening")]
    assert (pooled["n"] == 12).all()  # 2 pooled events x 6 securities
    everything = run_study(inst.assign(pool=True), rets, m, spec).tests
    p_all = everything[
        (everything["level"] == "pooled") & (everything["event"] == "direction=tightening")
    ]
    assert (p_all["n"] == 18).all()
