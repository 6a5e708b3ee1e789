"""The intraday study: kernels worked by hand, and the three facts of the shared tape."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.eventlog import default_log_path, load_catalog
from backtest.intraday import kernels as k
from backtest.intraday.figures import minutes_figure, utc_timeline
from backtest.intraday.reaction import IntradaySpec, study_event
from backtest.intraday.series import read_bar_dirs
from tests.cli_support import run_cli
from tests.shared_support import SHARED, require_shared

INTRADAY = SHARED / "data" / "intraday"
ET = "America/New_York"


def _et(v: object) -> pd.Timestamp:
    return pd.Timestamp(v).tz_convert(ET)


def _event(eid: str, dirs: list[str], tz: str | None = None, version: int | None = None):  # type: ignore[no-untyped-def]
    require_shared(INTRADAY)
    ev = {e.id: e for e in load_catalog(version=version).events}[eid]
    bars = read_bar_dirs([INTRADAY / d for d in dirs], tz=tz, known_symbols={"^GSPC"})
    return study_event(eid, ev.chosen_stage("official"), bars)


# ---- kernels, by hand ---------------------------------------------------------------


def test_bar_returns_and_gaps() -> None:
    close = np.array([100.0, 101.0, 99.99, 110.0])
    start = np.array([0, 300, 600, 600 + 5 * 86_400], dtype=np.int64) * 1_000_000_000
    r = k.bar_returns(close, start, max_gap_ns=4 * 86_400 * 10**9)
    assert np.isnan(r[0]) and np.isnan(r[3])
    assert r[1] == pytest.approx(0.01, abs=1e-15) and r[2] == pytest.approx(-0.01, abs=1e-15)


def test_benchmark_returns_only_on_the_same_instants() -> None:
    start = np.array([0, 5, 10, 15], dtype=np.int64)
    bench_ns = np.array([0, 5, 15], dtype=np.int64)
    rb = k.matched_returns(start, bench_ns, np.array([200.0, 202.0, 204.02]))
    assert np.isnan(rb[0]) and np.isnan(rb[2]) and np.isnan(rb[3])  # no bench bar at 10
    assert rb[1] == pytest.approx(0.01, abs=1e-15)
    ar, has = k.abnormal_returns(np.array([np.nan, 0.03, 0.02, -0.01]), rb)
    assert (
        ar[1] == pytest.approx(0.02, abs=1e-15)
        and ar[2] == 0.02
        and has.tolist() == [False, True, False, False]
    )


def test_time_of_day_sigma_by_hand() -> None:
    # class 0 priors at slots 600 and 605 (ar 0.01, -0.03) and 700 (0.2); class 1 one prior
    sigma, n = k.tod_sigma(
        np.array([600, 605, 700, 600]),
        np.array([0, 0, 0, 1]),
        np.array([0.01, -0.03, 0.2, 0.5]),
        np.array([602, 602, 900]),
        np.array([0, 1, 0]),
        halfwidth=15,
        min_obs=2,
        floor=0.001,
    )
    assert sigma[0] == pytest.approx(np.sqrt((0.01**2 + 0.03**2) / 2), abs=1e-15) and n[0] == 2
    assert np.isnan(sigma[1]) and n[1] == 0  # one class-1 prior < min_obs
    assert sigma[2] == pytest.approx(
        np.sqrt((0.01**2 + 0.03**2 + 0.2**2) / 3), abs=1e-15
    )  # widened


def test_first_reaction_skips_a_print_and_its_reversal() -> None:
    ar = np.array([0.0, -0.015, 0.0159, 0.001, -0.0004, -0.023, -0.018, -0.004])
    z = ar / 0.001
    assert k.first_reaction(z, ar, 4.0) == 5  # not 1 (taken back) nor 2 (the take-back)
    assert k.first_reaction(z, ar, 30.0) == -1


def test_value_at_and_share() -> None:
    end = np.array([10, 20, 30], dtype=np.int64)
    v = np.array([0.1, 0.2, 0.3])
    assert k.value_at(end, v, 25) == 0.2 and np.isnan(k.value_at(end, v, 5))
    assert k.share(0.02, -0.04) == -0.5 and np.isnan(k.share(1.0, 0.0))


# ---- the shared tape ------------------------------------------------------------------


def test_h20_8k_reaction_starts_in_the_1720_1725_bars() -> None:
    """Closes 112.12 (17:15), 111.86 (17:20), 109.30 (17:25): EDGAR accepted at 17:22:59."""
    res = _event("nvda-2025-04-15-h20-licence-8k", ["et_ext_michael545_excerpts", "et_5m_Uwater1"])
    r = next(x for x in res.reactions if x.security == "NVDA")
    assert _et(r.knowable_utc) == pd.Timestamp("2025-04-15 17:22:59", tz=ET)
    assert _et(r.reaction_after_utc) == pd.Timestamp("2025-04-15 17:25", tz=ET)
    assert _et(r.reaction_by_utc) == pd.Timestamp("2025-04-15 17:30", tz=ET)
    assert r.benchmark == "^GSPC" and "without a ^GSPC bar" in r.note  # index has no after-hours
    p = res.paths[res.paths["security"] == "NVDA"].set_index("bar_utc")
    row = p.loc[pd.Timestamp("2025-04-15 17:25", tz=ET).tz_convert("UTC")]
    # raw move since the 16:00 close: the 15:55 bar closes the regular session
    base = read_bar_dirs([INTRADAY / "et_ext_michael545_excerpts"])["NVDA"][0].frame
    base_close = float(base["close"].loc[pd.Timestamp("2025-04-15 15:55", tz=ET)])
    assert row["raw_cum"] == pytest.approx(109.2998 / base_close - 1, abs=1e-6)
    assert row["minutes_since"] == pytest.approx(7 + 1 / 60, abs=1e-9)  # bar ends 17:30:00


def test_h20_resumption_reaction_spans_the_overnight_gap() -> None:
    res = _event("nvda-2025-07-14-h20-sales-resumption", ["et_5m_ext_Tanushree28"])
    nvda = next(x for x in res.reactions if x.security == "NVDA")
    assert _et(nvda.reaction_after_utc) == pd.Timestamp("2025-07-14 20:00", tz=ET)
    assert _et(nvda.reaction_by_utc) == pd.Timestamp("2025-07-15 04:05", tz=ET)
    for r in res.reactions:
        if r.reaction_by_utc is not None:
            assert pd.Timestamp("2025-07-14 16:00", tz=ET) <= _et(r.reaction_after_utc)
            assert _et(r.reaction_by_utc) <= pd.Timestamp("2025-07-15 04:05", tz=ET)
    # first-session move by hand: NVDA/QQQ closes at the 15:55 bars of 07-14 and 07-15
    f = read_bar_dirs([INTRADAY / "et_5m_ext_Tanushree28"], symbols={"NVDA", "QQQ"})
    n = f["NVDA"][0].frame["close"]
    q = f["QQQ"][0].frame["close"]
    t0, t1 = (pd.Timestamp(f"2025-07-{d} 15:55", tz=ET) for d in (14, 15))
    raw = n.loc[t1] / n.loc[t0] - 1
    assert nvda.first_session_move == pytest.approx(raw - (q.loc[t1] / q.loc[t0] - 1), abs=0.003)


def test_2025_10_10_first_reaction_in_the_1050_1105_bars() -> None:
    res = _event(
        "trump-2025-10-10-100pct-tariff-threat",
        ["et_5m_Tanushree28_2025-10-09", "et_5m_Tanushree28_2025-10-10", "et_5m_ext_Tanushree28"],
    )
    hits = [r for r in res.reactions if r.reaction_by_utc is not None]
    first = min(hits, key=lambda r: r.reaction_by_utc)
    assert pd.Timestamp("2025-10-10 10:50", tz=ET) <= _et(first.reaction_after_utc)
    assert _et(first.reaction_by_utc) <= pd.Timestamp("2025-10-10 11:05", tz=ET)
    assert first.share_after_hours != first.share_after_hours  # NaN: news in regular hours


def test_figures_carry_the_paths() -> None:
    res = _event("nvda-2025-04-15-h20-licence-8k", ["et_ext_michael545_excerpts"])
    fig = minutes_figure(res.paths)
    lines = fig.axes[0].get_lines()
    nv = next(ln for ln in lines if ln.get_label() == "NVDA")
    p = res.paths[res.paths["security"] == "NVDA"]
    np.testing.assert_allclose(
        nv.get_ydata(), 100 * p["abnormal_cum"].to_numpy(), rtol=0, atol=1e-12
    )
    tl = utc_timeline(res.paths, knowable_utc=res.knowable_utc)
    assert any(ln.get_label() == "knowable" for ln in tl.axes[0].get_lines())


# ---- the commands ---------------------------------------------------------------------


def test_study_intraday_writes_a_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_shared(INTRADAY)
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        capsys,
        "study",
        "intraday",
        "--event",
        "nvda-2025-04-15-h20-licence-8k",
        "--bars",
        str(INTRADAY / "et_ext_michael545_excerpts"),
        "--out",
        str(out),
    )
    assert code == 0, err
    assert "reaction between 2025-04-15 17:25 ET and 2025-04-15 17:30 ET" in stdout
    t = pd.read_csv(out / "tables" / "intraday_reaction.csv")
    assert t.loc[0, "security"] == "NVDA" and t.loc[0, "reaction_by_utc"].startswith(
        "2025-04-15 21:30:00"
    )
    assert (out / "tables" / "intraday_reaction.parquet").exists()
    assert (out / "charts" / "nvda-2025-04-15-h20-licence-8k-minutes.svg").exists()
    from backtest.runio import load_run

    assert len(load_run(out).table("intraday_paths")) == int(t.loc[0, "n_bars"])


def test_audit_with_bars_proposes_bounds_for_the_date_only_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At log v93 the H20 resumption is date-only (2025-07-14, no bounds)."""
    require_shared(INTRADAY)
    log = default_log_path()
    before = hashlib.sha256(log.read_bytes()).hexdigest()
    amends = tmp_path / "amends.yaml"
    code, out, err = run_cli(
        capsys,
        "events",
        "audit",
        "--bars",
        str(INTRADAY / "et_5m_ext_Tanushree28"),
        "--log-version",
        "93",
        "--amend-file",
        str(amends),
    )
    assert code == 0, err
    line = next(
        ln for ln in out.splitlines() if ln.startswith("nvda-2025-07-14-h20-sales-resumption")
    )
    assert "[announcement, policy] recorded_too_early" in line
    assert (
        "proposed not_before 2025-07-14T19:55:00-04:00, not_after 2025-07-15T04:05:00-04:00" in line
    )
    import yaml

    doc = yaml.safe_load(amends.read_text(encoding="utf-8"))
    prop = next(
        p for p in doc["proposals"] if p["event_id"] == "nvda-2025-07-14-h20-sales-resumption"
    )
    assert prop["proposed"] == {
        "not_before": "2025-07-14T19:55:00-04:00",
        "not_after": "2025-07-15T04:05:00-04:00",
    }
    assert doc["log_version"].startswith("v93:")
    assert hashlib.sha256(log.read_bytes()).hexdigest() == before  # never applied


def test_audit_confirms_the_exact_8k_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_shared(INTRADAY)
    code, out, err = run_cli(
        capsys,
        "events",
        "audit",
        "--bars",
        str(INTRADAY / "et_ext_michael545_excerpts"),
        "--amend-file",
        str(tmp_path / "a.yaml"),
    )
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("nvda-2025-04-15-h20-licence-8k"))
    assert "[filing, exact] confirmed" in line


def test_threshold_is_a_stated_option() -> None:
    spec = IntradaySpec(threshold=50.0)
    require_shared(INTRADAY)
    ev = {e.id: e for e in load_catalog().events}["nvda-2025-04-15-h20-licence-8k"]
    bars = read_bar_dirs([INTRADAY / "et_ext_michael545_excerpts"])
    r = study_event(ev.id, ev.chosen_stage("official"), bars, ["NVDA"], spec).reactions[0]
    assert (
        r.reaction_by_utc is None and "no bar reached |z| >= 50" in r.note and r.threshold == 50.0
    )
