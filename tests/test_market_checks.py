"""Data checks: kernels against hand-computed values, then the labelled findings table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

from backtest.market import CheckPolicy, PricePanel, SeriesMeta, verify
from backtest.market.checks import (
    absurd_values,
    change_mismatches,
    level_shifts,
    limit_hits,
    split_jumps,
    stale_positions,
)
from backtest.market.types import Issue, parse_note
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent
RATIOS = CheckPolicy().split_ratios


def _shared_prices_or_skip() -> Path:
    """../shared/data/prices (fails under CI=true when absent, skips elsewhere)."""
    return require_shared(REPO.parent / "shared" / "data" / "prices")


@pytest.fixture(scope="module")
def universe():
    return load_universe(REPO / "events" / "universe.yaml")


def test_stale_positions():
    c = np.array([1, 2, 2, 2, 2, 2, 3, 3, 3.0])
    assert list(np.flatnonzero(stale_positions(c, 5))) == [2, 3, 4, 5]
    assert list(np.flatnonzero(stale_positions(c, 3))) == [2, 3, 4, 5, 7, 8]


def test_split_jumps_persisting_and_reversing():
    pos, ratio, rev = split_jumps(np.array([100, 50.5, 51, 52.0]), (2.0, 3.0), 0.03)
    assert list(pos) == [1] and ratio[0] == 0.5 and not rev[0]
    pos, ratio, rev = split_jumps(np.array([100, 50, 99.0, 100]), (2.0,), 0.03)
    assert list(pos) == [1, 2] and list(rev) == [True, False]
    pos, _, _ = split_jumps(np.array([10, 30.2, 30.0]), (3.0,), 0.03)  # 1:3 reverse split
    assert list(pos) == [1]
    pos, _, _ = split_jumps(np.array([100, 60, 61.0]), (2.0,), 0.03)  # -40%: no ratio
    assert len(pos) == 0


def test_limit_hits_on_ticks_round_half_up():
    # 67.32 * 1.2 = 80.784 -> 80.78; 10.05 * 1.1 = 11.055 -> 11.06; 10.05 * 0.9 = 9.045 -> 9.05
    up, dn = limit_hits(
        np.array([67.32, 80.78]), 0.2, tick=0.01, ticks=0.0, rel_tol=0, on_ticks=True
    )
    assert list(up) == [1] and len(dn) == 0
    c = np.array([10.05, 11.06, 10.05, 9.05, 10.05, 11.04])
    up, dn = limit_hits(c, 0.1, tick=0.01, ticks=0.0, rel_tol=0, on_ticks=True)
    assert list(up) == [1] and list(dn) == [3]
    up, _ = limit_hits(c, 0.1, tick=0.01, ticks=2.0, rel_tol=0, on_ticks=True)
    assert list(up) == [1, 5]
    up, dn = limit_hits(
        np.array([100, 119.9, 95.99]), 0.2, tick=0.01, ticks=1, rel_tol=0.002, on_ticks=False
    )
    assert list(up) == [1] and list(dn) == [2]  # +19.9% and -19.94%


def test_level_shifts_are_jumps_of_10x_that_match_no_split_ratio():
    assert list(level_shifts(np.array([10, 1000, 1000.0]), 10.0, RATIOS, 0.03)) == [1]  # x100
    assert list(level_shifts(np.array([10, 0.1, 0.1]), 10.0, RATIOS, 0.03)) == [1]  # /100
    assert list(level_shifts(np.array([10, 1000, 10.0]), 10.0, RATIOS, 0.03)) == [1, 2]
    # x10.05 is within 3 % of the 10:1 split ratio: split_like's business, not a level shift
    assert len(level_shifts(np.array([10, 100.5]), 10.0, RATIOS, 0.03)) == 0
    assert list(level_shifts(np.array([10, 100.5]), 10.0, (2.0,), 0.03)) == [1]
    # x9.9 stays below the factor; pairs with a non-positive or infinite close are skipped
    assert len(level_shifts(np.array([10, 99.0]), 10.0, (), 0.03)) == 0
    assert len(level_shifts(np.array([10, -1, 1000, np.inf, 1.0]), 10.0, (), 0.03)) == 0


def test_absurd_values_are_inf_or_beyond_the_column_bound():
    v = np.array([[1.0, np.inf], [np.nan, 2.0], [1e308, 3.0], [-np.inf, 1e15], [5.0, 2e15]])
    rows, cols = absurd_values(v, np.array([1e9, 1e15]))
    assert list(zip(rows, cols, strict=True)) == [(0, 1), (2, 0), (3, 0), (4, 1)]
    assert len(absurd_values(np.zeros((0, 2)), np.array([1.0, 1.0]))[0]) == 0


def test_change_mismatches_date_the_close_the_next_change_contradicts():
    nan = np.nan
    close = np.array([10.0, 11.0, 12.5])
    none = np.full(3, nan)
    pos, _ = change_mismatches(close, np.array([nan, 1.0, 1.5]), none, atol=0.006, rtol=5e-4)
    assert len(pos) == 0
    # 12.5 - 2.0 = 10.5: the change of row 2 says row 1 closed at 10.5, not 11
    pos, implied = change_mismatches(close, np.array([nan, 1.0, 2.0]), none, atol=0.006, rtol=5e-4)
    assert list(pos) == [1] and implied[0] == pytest.approx(10.5)
    # 2-dp rounding of the change column (0.005) is inside atol = 0.006
    pos, _ = change_mismatches(close, np.array([nan, 1.005, 1.5]), none, atol=0.006, rtol=5e-4)
    assert len(pos) == 0
    # percent: 110 / 1.10 = 100 agrees; 110 / 1.12 = 98.21 does not (rtol 5e-4 of 100)
    c2 = np.array([100.0, 110.0])
    assert (
        len(change_mismatches(c2, np.full(2, nan), np.array([nan, 10.0]), atol=0.006, rtol=5e-4)[0])
        == 0
    )
    pos, implied = change_mismatches(
        c2, np.full(2, nan), np.array([nan, 12.0]), atol=0.006, rtol=5e-4
    )
    assert list(pos) == [0] and implied[0] == pytest.approx(110 / 1.12)
    # 10.04 % against 10 %: 110 / 1.1004 = 99.96, 0.04 % off, inside rtol
    assert (
        len(
            change_mismatches(c2, np.full(2, nan), np.array([nan, 10.04]), atol=0.006, rtol=5e-4)[0]
        )
        == 0
    )


def _frame(dates, close, **extra) -> pd.DataFrame:
    f = pd.DataFrame(
        {"close": np.asarray(close, dtype=float), **extra},
        index=pd.DatetimeIndex(pd.to_datetime(dates), name="date"),
    )
    return f


def _panel(
    bars: dict[str, pd.DataFrame], basis: str = "unadjusted", notes: tuple[str, ...] = ()
) -> PricePanel:
    return PricePanel(bars=bars, meta={s: SeriesMeta(s, "csv", basis) for s in bars}, notes=notes)


def test_verify_finds_each_problem(universe):
    # XNAS sessions 2024-03-04..08 (Mon-Fri); 03-06 missing -> gap; 03-09 Saturday.
    nv = _frame(
        ["2024-03-04", "2024-03-05", "2024-03-07", "2024-03-08", "2024-03-09"], [10, 10, 10, -1, 10]
    )
    # Cambricon (STAR, 20%): 2024-03-06 missing -> suspension; 03-07 limit-up (10 * 1.2 = 12).
    cb = _frame(
        ["2024-03-04", "2024-03-05", "2024-03-07", "2024-03-08"],
        [10, 10, 12, 12.5],
        volume=[100, 0, 5, 5],
    )
    note = Issue("NVDA", "2024-01-06", "non_session", "warning", "dropped").as_note()
    f = verify(_panel({"NVDA": nv, "688256.SS": cb}, notes=(note, "free text")), universe)
    got = {(r.symbol, r.date, r.check) for r in f.frame.itertuples()}
    assert got == {
        ("NVDA", "2024-01-06", "non_session"),
        ("NVDA", "2024-03-06", "gap"),
        ("NVDA", "2024-03-08", "non_positive"),
        ("NVDA", "2024-03-09", "non_session"),
        ("688256.SS", "2024-03-06", "suspension"),
        ("688256.SS", "2024-03-07", "limit_hit"),
        ("688256.SS", "2024-03-05", "zero_volume"),
    }
    assert list(f.frame.columns) == ["symbol", "date", "check", "severity", "detail"]
    m = f.mask("limit_hit")
    assert m.loc[pd.Timestamp("2024-03-07"), "688256.SS"] and m.shape == (1, 1)
    both = f.mask(("gap", "suspension"))
    assert both.loc[pd.Timestamp("2024-03-06")].to_dict() == {"688256.SS": True, "NVDA": True}
    assert f.counts().loc["NVDA", "gap"] == 1
    assert "limit_hit (info): 1" in f.summary()


def test_verify_stale_split_and_policy(universe):
    dates = pd.bdate_range("2024-03-04", periods=8)  # all XNYS sessions (no holiday)
    amd = _frame(dates, [100, 100, 100, 100, 100, 50, 50.5, 51])
    f = verify(_panel({"AMD": amd}, basis="adjusted"), universe)
    checks = f.frame.groupby("check").size().to_dict()
    assert checks == {"stale": 4, "split_like": 1}
    assert f.of("split_like").iloc[0]["date"] == "2024-03-11"
    f6 = verify(_panel({"AMD": amd}, basis="adjusted"), universe, policy=CheckPolicy(stale_run=6))
    assert "stale" not in set(f6.frame["check"])


def test_verify_listed_span_and_beyond_limit(universe):
    # Hygon (688041.SS) listed 2022-08-12: sessions before the first row are not suspensions.
    hy = _frame(["2022-08-12", "2022-08-15", "2022-08-16"], [60.1, 56.82, 80.0])
    f = verify(_panel({"688041.SS": hy}), universe)
    assert set(f.frame["check"]) == {"beyond_limit"}
    assert f.frame.iloc[0]["date"] == "2022-08-16"


def test_verify_level_shift_and_non_finite_are_errors(universe):
    dates = pd.bdate_range("2024-03-04", periods=5)  # XNAS sessions
    x100 = _frame(dates, [10, 10.2, 1020, 1030, 1025])
    f = verify(_panel({"NVDA": x100}, basis="adjusted"), universe)
    assert f.frame[["date", "check", "severity"]].values.tolist() == [
        ["2024-03-06", "level_shift", "error"]
    ]
    assert "10.2 -> 1020 (x100)" in f.frame.iloc[0]["detail"]
    # a series that reached the panel with inf or 1e308 (e.g. from a cache)
    bad = _frame(dates, [10, np.inf, 10, 1e308, 10], volume=[1, 2, 3, 4, np.inf])
    f = verify(_panel({"NVDA": bad}, basis="adjusted"), universe)
    nf = f.of("non_finite")
    assert list(nf["date"]) == ["2024-03-05", "2024-03-07", "2024-03-08"]
    assert set(nf["severity"]) == {"error"} and "close inf" in nf.iloc[0]["detail"]
    assert "volume inf" in nf.iloc[2]["detail"]
    assert set(f.frame["check"]) == {"non_finite"}  # no jumps into or out of absurd closes


def test_unknown_symbol_and_empty_findings(universe):
    f = verify(_panel({"XYZ": _frame(["2024-03-04"], [1.0])}), universe)
    assert list(f.frame["check"]) == ["not_in_universe"]
    empty = verify(_panel({"NVDA": _frame(["2024-03-04", "2024-03-05"], [1.0, 1.1])}), universe)
    assert len(empty) == 0 and empty.summary() == "no findings" and empty.mask("gap").empty


def test_note_round_trip():
    i = Issue("^SOX", "", "outside_calendar", "info", "12 rows: dropped")
    assert parse_note(i.as_note()) == i
    assert parse_note("plain note") is None


def test_shared_data_findings(universe):
    shared = _shared_prices_or_skip()
    from backtest.market import load_prices

    syms = ["0981.HK", "688256.SS", "688981.SS", "688041.SS", "688012.SS"]
    p = load_prices("csv", syms, universe=universe, prices_dir=shared)
    f = verify(p, universe)
    sus = f.of("suspension")
    # PROVENANCE: real suspensions with rows absent (XSHG sessions counted by hand:
    # 2025-05-26..30, 06-03..06 and 06-09, the Dragon Boat holiday on 06-02; 09-01..05, 09-08;
    # 12-19, 12-22..26, 12-29..31).
    for sym, first, last, n in (
        ("688041.SS", "2025-05-26", "2025-06-09", 10),
        ("688981.SS", "2025-09-01", "2025-09-08", 6),
        ("688012.SS", "2025-12-19", "2025-12-31", 9),
    ):
        dates = sorted(sus[sus["symbol"] == sym]["date"])
        assert (dates[0], dates[-1], len(dates)) == (first, last, n), sym
    assert not (sus["symbol"] == "688256.SS").any()
    # 0981.HK.csv has 2012-03-16 (line 800) then 2012-03-20 (line 801): Monday 03-19 is
    # absent.  The HK typhoon/rainstorm days of September 2023 are suspensions only while
    # the calendar lacks those closures.
    hk = set(sus[sus["symbol"] == "0981.HK"]["date"])
    assert "2012-03-19" in hk and hk <= {"2012-03-19", "2023-09-01", "2023-09-08"}
    lim = f.of("limit_hit")
    row = lim[lim["date"] == "2022-09-02"].iloc[0]
    assert row["symbol"] == "688256.SS" and "80.78" in row["detail"]  # 67.32 * 1.2
    # PROVENANCE: chg agrees with consecutive closes on every row except 688981 2026-01-27
    cm = f.of("change_mismatch")
    assert cm[["symbol", "date", "severity"]].values.tolist() == [
        ["688981.SS", "2026-01-27", "error"]
    ]
    assert "120.7" in cm.iloc[0]["detail"] and "124.05" in cm.iloc[0]["detail"]
    assert f.of("level_shift").empty and f.of("non_finite").empty
