"""Data checks: kernels against hand-computed values, then the labelled findings table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.market import CheckPolicy, PricePanel, SeriesMeta, verify
from backtest.market.checks import limit_hits, split_jumps, stale_positions
from backtest.market.types import Issue, parse_note
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent


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
    pos, _, _ = split_jumps(np.array([10, 30.2, 30.0]), (3.0,), 0.03)   # 1:3 reverse split
    assert list(pos) == [1]
    pos, _, _ = split_jumps(np.array([100, 60, 61.0]), (2.0,), 0.03)    # -40%: no ratio
    assert len(pos) == 0


def test_limit_hits_on_ticks_round_half_up():
    # 67.32 * 1.2 = 80.784 -> 80.78; 10.05 * 1.1 = 11.055 -> 11.06; 10.05 * 0.9 = 9.045 -> 9.05
    up, dn = limit_hits(np.array([67.32, 80.78]), 0.2, tick=0.01, ticks=0.0, rel_tol=0,
                        on_ticks=True)
    assert list(up) == [1] and len(dn) == 0
    c = np.array([10.05, 11.06, 10.05, 9.05, 10.05, 11.04])
    up, dn = limit_hits(c, 0.1, tick=0.01, ticks=0.0, rel_tol=0, on_ticks=True)
    assert list(up) == [1] and list(dn) == [3]
    up, _ = limit_hits(c, 0.1, tick=0.01, ticks=2.0, rel_tol=0, on_ticks=True)
    assert list(up) == [1, 5]
    up, dn = limit_hits(np.array([100, 119.9, 95.99]), 0.2, tick=0.01, ticks=1,
                        rel_tol=0.002, on_ticks=False)
    assert list(up) == [1] and list(dn) == [2]   # +19.9% and -19.94%


def _frame(dates, close, **extra) -> pd.DataFrame:
    f = pd.DataFrame({"close": np.asarray(close, dtype=float), **extra},
                     index=pd.DatetimeIndex(pd.to_datetime(dates), name="date"))
    return f


def _panel(bars: dict[str, pd.DataFrame], basis: str = "unadjusted",
           notes: tuple[str, ...] = ()) -> PricePanel:
    return PricePanel(bars=bars, meta={s: SeriesMeta(s, "csv", basis) for s in bars},
                      notes=notes)


def test_verify_finds_each_problem(universe):
    # XNAS sessions 2024-03-04..08 (Mon-Fri); 03-06 missing -> gap; 03-09 Saturday.
    nv = _frame(["2024-03-04", "2024-03-05", "2024-03-07", "2024-03-08", "2024-03-09"],
                [10, 10, 10, -1, 10])
    # Cambricon (STAR, 20%): 2024-03-06 missing -> suspension; 03-07 limit-up (10 * 1.2 = 12).
    cb = _frame(["2024-03-04", "2024-03-05", "2024-03-07", "2024-03-08"], [10, 10, 12, 12.5],
                volume=[100, 0, 5, 5])
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
    dates = pd.bdate_range("2024-03-04", periods=8)   # all XNYS sessions (no holiday)
    amd = _frame(dates, [100, 100, 100, 100, 100, 50, 50.5, 51])
    f = verify(_panel({"AMD": amd}, basis="adjusted"), universe)
    checks = f.frame.groupby("check").size().to_dict()
    assert checks == {"stale": 4, "split_like": 1}
    assert f.of("split_like").iloc[0]["date"] == "2024-03-11"
    f6 = verify(_panel({"AMD": amd}, basis="adjusted"), universe,
                policy=CheckPolicy(stale_run=6))
    assert "stale" not in set(f6.frame["check"])


def test_verify_listed_span_and_beyond_limit(universe):
    # Hygon (688041.SS) listed 2022-08-12: sessions before the first row are not suspensions.
    hy = _frame(["2022-08-12", "2022-08-15", "2022-08-16"], [60.1, 56.82, 80.0])
    f = verify(_panel({"688041.SS": hy}), universe)
    assert set(f.frame["check"]) == {"beyond_limit"}
    assert f.frame.iloc[0]["date"] == "2022-08-16"


def test_unknown_symbol_and_empty_findings(universe):
    f = verify(_panel({"XYZ": _frame(["2024-03-04"], [1.0])}), universe)
    assert list(f.frame["check"]) == ["not_in_universe"]
    empty = verify(_panel({"NVDA": _frame(["2024-03-04", "2024-03-05"], [1.0, 1.1])}),
                   universe)
    assert len(empty) == 0 and empty.summary() == "no findings" and empty.mask("gap").empty


def test_note_round_trip():
    i = Issue("^SOX", "", "outside_calendar", "info", "12 rows: dropped")
    assert parse_note(i.as_note()) == i
    assert parse_note("plain note") is None


def test_shared_data_findings(universe):
    shared = REPO.parent / "shared" / "data" / "prices"
    if not shared.is_dir():
        pytest.skip("../shared/data/prices not available")
    from backtest.market import load_prices

    p = load_prices("csv", ["0981.HK", "688256.SS"], universe=universe, prices_dir=shared)
    f = verify(p, universe)
    # Hong Kong closed for typhoon/rainstorm on 2023-09-01 and 2023-09-08; exchange_calendars
    # lists both as sessions, so they show up as suspensions of 0981.HK.
    assert set(f.of("suspension")["date"]) == {"2023-09-01", "2023-09-08"}
    lim = f.of("limit_hit")
    row = lim[lim["date"] == "2022-09-02"].iloc[0]
    assert row["symbol"] == "688256.SS" and "80.78" in row["detail"]  # 67.32 * 1.2
