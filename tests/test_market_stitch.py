"""Stitching one symbol's series from several sources on returns (backtest.market.stitch).

Expectations are computed independently: by hand from the frames built here, or
with plain pandas from the raw CSV files in ../shared.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import SpecError
from backtest.market import (
    PriceCache,
    SeriesMeta,
    StitchPolicy,
    StitchSource,
    frame_hash,
    load_prices,
    stitch_series,
)
from backtest.market.stitch import (
    AGREE,
    ISOLATED,
    STEP,
    assess_overlap,
    classify_disagreements,
    combined_basis,
)
from backtest.market.types import RawSeries, parse_note
from backtest.universe import load_universe

try:
    from cli_support import run_cli as run
except ImportError:  # pragma: no cover
    from tests.cli_support import run_cli as run

REPO = Path(__file__).resolve().parent.parent
PRICES = REPO.parent / "shared" / "data" / "prices"
DANYOKO = PRICES / "supplementary" / "later_vintages" / "yahoo_danyoko"
TONY = PRICES / "supplementary" / "later_vintages" / "raw_TonyLeung"
SUPERSEDED = PRICES / "supplementary" / "superseded_primary_2026-11"

DATES = pd.bdate_range("2024-04-01", periods=40)  # 2024-04-01..2024-05-24, all XNYS sessions
LONG = pd.bdate_range("2023-01-02", periods=200)


# ---------------------------------------------------------------- helpers


def _raw(
    dates, closes, *, symbol: str = "NVDA", basis: str = "adjusted", volume: bool = True
) -> RawSeries:
    idx = pd.DatetimeIndex(dates, name="date")
    c = np.asarray(closes, dtype=float)
    cols = {"open": c * 0.99, "high": c * 1.01, "low": c * 0.98, "close": c}
    if volume:
        cols["volume"] = np.arange(1.0, len(c) + 1) * 1000
    bars = pd.DataFrame(cols, index=idx)
    meta = SeriesMeta(
        symbol=symbol,
        source="csv",
        adjustment=basis,  # type: ignore[arg-type]
        origin=f"{symbol}.csv [test]",
        fetched_at="2026-01-01T00:00:00Z",
        rows=len(bars),
        first=f"{idx[0]:%Y-%m-%d}",
        last=f"{idx[-1]:%Y-%m-%d}",
        content_hash=frame_hash(bars),
    )
    return RawSeries(bars=bars, meta=meta)


def _path(n: int = 40, seed: int = 1) -> np.ndarray:
    """A positive price path with daily moves of a few percent."""
    rng = np.random.default_rng(seed)
    return 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.02, n))


def _src(label: str, raw: RawSeries) -> StitchSource:
    return StitchSource(label, raw)


def _needs_shared() -> None:
    """Real-data tests: fail on CI (the data must be there), skip elsewhere."""
    if not PRICES.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PRICES} is missing on CI")
        pytest.skip("../shared/data/prices is not available")


# ---------------------------------------------------------------- kernels


def test_classify_isolated_row_and_step_by_hand():
    a = np.array([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    bad = a.copy()
    bad[2] = 99.0  # one bad row: returns 1 and 2 off, ratio back on row 3
    assert classify_disagreements(a, bad, 1e-3).tolist() == [
        AGREE,
        ISOLATED,
        ISOLATED,
        AGREE,
        AGREE,
    ]
    step = a.copy()
    step[3:] *= 0.98  # an unadjusted dividend: the ratio moves and stays
    assert classify_disagreements(a, step, 1e-3).tolist() == [AGREE, AGREE, STEP, AGREE, AGREE]
    last = a.copy()
    last[-1] = 110.0  # last common row off: cannot be shown to revert
    assert classify_disagreements(a, last, 1e-3).tolist()[-1] == STEP


def test_assess_overlap_numbers_by_hand():
    a = np.array([10.0, 11.0, 12.1, 12.1])
    b = np.array([20.0, 22.0, 24.2, 24.2]) * np.array([1.0, 1.0, 1.0, 1.001])
    st = assess_overlap(a, b, StitchPolicy(min_overlap=1, join_window=1))
    assert st.overlap == 3
    assert st.max_abs_diff == pytest.approx(0.001, abs=1e-12)  # 0 vs +0.1 % on the last
    assert st.argmax == 3 and st.n_beyond == 0  # exactly at tol is agreement
    assert st.drift == pytest.approx(0.001, rel=1e-9)


def test_policy_is_validated():
    with pytest.raises(SpecError, match="return_tol"):
        StitchPolicy(return_tol=-0.1)
    with pytest.raises(SpecError, match="join_window"):
        StitchPolicy(min_overlap=3, join_window=5)


def test_combined_basis():
    assert combined_basis(["adjusted", "adjusted"]) == "adjusted"
    assert combined_basis(["unadjusted", "unadjusted"]) == "unadjusted"
    assert combined_basis(["adjusted", "unadjusted"]) == "unknown"
    assert combined_basis(["adjusted", "unknown"]) == "unknown"


# ---------------------------------------------------------------- hand-made frames


def test_extend_after_levels_continuous_and_returns_are_the_sources_own():
    p = _path()
    a = _raw(DATES[:30], p[:30])
    b_close = p[5:] * 0.5  # another vintage: constant factor 0.5
    b_close[25:] *= np.linspace(1.0, 1.1, 10)  # its own path after A ends
    b = _raw(DATES[5:], b_close)
    res = stitch_series("NVDA", [_src("A.csv", a), _src("B.csv", b)])
    s = res.series.bars["close"]
    assert list(s.index) == list(DATES)
    pd.testing.assert_series_equal(s.iloc[:30], a.bars["close"], check_names=False)
    # continuous at the join: the first new level is A's last level times B's own return
    assert s.iloc[30] == pytest.approx(p[29] * b_close[25] / b_close[24], rel=1e-12)
    own = pd.Series(b_close, index=DATES[5:]).pct_change()
    np.testing.assert_allclose(s.pct_change().iloc[30:], own.iloc[25:], rtol=1e-12)
    # open/high/low rescaled by the same factor; volume left as given
    bars = res.series.bars
    np.testing.assert_allclose(bars["open"].iloc[30:] / bars["close"].iloc[30:], 0.99)
    np.testing.assert_array_equal(bars["volume"].iloc[30:], b.bars["volume"].iloc[25:])
    (j,) = res.joins
    assert (j.verdict, j.overlap, j.from_source, j.to_source) == ("joined", 24, "A.csv", "B.csv")
    assert j.max_abs_diff < 1e-12
    assert [(g.source, g.first, g.last, g.rows) for g in res.segments] == [
        ("A.csv", "2024-04-01", "2024-05-10", 30),
        ("B.csv", "2024-05-13", "2024-05-24", 10),
    ]
    m = res.series.meta
    assert (m.rows, m.first, m.last, m.adjustment) == (40, "2024-04-01", "2024-05-24", "adjusted")
    assert m.origin.startswith(
        "stitched on returns: A.csv [adjusted] 2024-04-01..2024-05-10 + "
        "B.csv [adjusted] 2024-05-13..2024-05-24 ("
    )
    assert "overlap 24" in m.origin and m.content_hash == frame_hash(res.series.bars)


def test_extend_before_anchors_on_the_primarys_first_row():
    p = _path(seed=2)
    a = _raw(DATES[15:], p[15:])
    b = _raw(DATES[:40], p * 3.0)
    res = stitch_series("NVDA", [_src("A", a), _src("B", b)])
    s = res.series.bars["close"]
    assert s.index[0] == DATES[0] and len(s) == 40
    np.testing.assert_allclose(s.iloc[:15], p[:15], rtol=1e-12)  # B/3 = A's levels
    assert res.joins[0].verdict == "joined" and res.joins[0].overlap == 24


def test_planted_disagreement_is_refused_with_a_one_line_reason():
    p = _path(seed=3)
    a = _raw(DATES[:30], p[:30])
    b_close = p[5:].copy()
    b_close[12:] *= 0.97  # 2024-04-24 onwards: a 3 % dividend not adjusted
    b = _raw(DATES[5:], b_close, basis="unadjusted")
    res = stitch_series("NVDA", [_src("qfq.csv", a), _src("raw.csv", b)])
    (j,) = res.joins
    assert j.verdict == "refused"
    assert j.max_date == f"{DATES[17]:%Y-%m-%d}"
    assert j.max_abs_diff == pytest.approx(abs(p[17] / p[16] - 0.97 * p[17] / p[16]), rel=1e-9)
    assert "\n" not in j.reason
    for part in (
        "NVDA",
        "qfq.csv",
        "raw.csv",
        "overlap 24 common returns",
        "do not revert",
        f"largest |Δr| {j.max_abs_diff:.4g} on {DATES[17]:%Y-%m-%d}",
    ):
        assert part in j.reason
    pd.testing.assert_frame_equal(res.series.bars, a.bars)  # the first source is kept
    assert res.series.meta.adjustment == "adjusted"
    refused = [i for i in res.series.issues if i.check == "stitch_refused"]
    assert len(refused) == 1 and refused[0].severity == "warning"


def test_no_overlap_and_short_overlap_are_refused():
    p = _path(seed=4)
    a = _raw(DATES[:20], p[:20])
    late = _raw(DATES[22:], p[22:])
    (j,) = stitch_series("NVDA", [_src("A", a), _src("late", late)]).joins
    assert j.verdict == "refused" and j.overlap == 0 and "no overlap" in j.reason
    short = _raw(DATES[15:], p[15:])  # 5 common dates = 4 returns
    (j,) = stitch_series("NVDA", [_src("A", a), _src("short", short)]).joins
    assert j.verdict == "refused" and j.overlap == 4
    assert "overlap too short (4 < min_overlap 20)" in j.reason


def test_a_gap_stays_a_gap():
    p = _path(seed=5)
    a_idx = DATES[:30].delete(12)  # the primary lacks 2024-04-17
    a = _raw(a_idx, np.delete(p[:30], 12))
    b_idx = DATES.delete([30, 31, 32])  # the source lacks 3 days after A ends
    b = _raw(b_idx, np.delete(p, [30, 31, 32]) * 2.0)
    res = stitch_series("NVDA", [_src("A", a), _src("B", b)])
    s = res.series.bars["close"]
    assert res.joins[0].verdict == "joined"
    assert DATES[12] not in s.index  # not filled from B
    assert not set(DATES[30:33]) & set(s.index)  # not interpolated
    # the return across the gap is B's own multi-day return
    assert s[DATES[33]] / s[DATES[29]] == pytest.approx(p[33] / p[29], rel=1e-12)


def test_isolated_bad_row_mid_overlap_is_excused_and_kept_from_the_primary():
    p = _path(200, seed=6)
    a_close = p[:150].copy()
    a_close[100] *= 0.97  # a mid-session snapshot in A
    a = _raw(LONG[:150], a_close)
    b = _raw(LONG[40:], p[40:])  # 109 common returns
    res = stitch_series("NVDA", [_src("A", a), _src("B", b)])
    (j,) = res.joins
    assert j.verdict == "joined" and j.isolated_rows == (f"{LONG[100]:%Y-%m-%d}",)
    assert j.share_beyond == pytest.approx(2 / 109, rel=1e-12)  # into and out of the row
    assert j.max_date in (f"{LONG[100]:%Y-%m-%d}", f"{LONG[101]:%Y-%m-%d}")
    assert j.drift < 1e-12  # the bad row is left out of the drift
    assert res.series.bars["close"][LONG[100]] == a_close[100]  # first wins, not repaired
    assert res.series.bars.index[-1] == LONG[-1]
    (iso,) = [i for i in res.series.issues if i.check == "stitch_isolated_row"]
    assert iso.date == f"{LONG[100]:%Y-%m-%d}" and iso.severity == "warning"


def test_isolated_rows_default_share_and_join_window():
    p = _path(seed=7)
    b = _raw(DATES, p)
    loose = StitchPolicy(max_beyond_share=0.1)
    # the same kind of bad row next to the join date: refused (it would shift the extension)
    a_close = p[:30].copy()
    a_close[27] *= 0.97
    (j,) = stitch_series("NVDA", [_src("A", _raw(DATES[:30], a_close)), _src("B", b)], loose).joins
    assert j.verdict == "refused" and "within 5 common returns of the join date" in j.reason
    assert j.isolated_rows == (f"{DATES[27]:%Y-%m-%d}",)
    # ...or on the join date itself: it cannot be shown to revert
    a_close = p[:30].copy()
    a_close[29] *= 0.97
    (j,) = stitch_series("NVDA", [_src("A", _raw(DATES[:30], a_close)), _src("B", b)], loose).joins
    assert j.verdict == "refused" and "do not revert" in j.reason
    # one isolated row in 29 common returns is 6.9 % of the overlap: above a 5 % share
    a_close = p[:30].copy()
    a_close[10] *= 0.97
    pol = StitchPolicy(max_beyond_share=0.05)
    (j,) = stitch_series("NVDA", [_src("A", _raw(DATES[:30], a_close)), _src("B", b)], pol).joins
    assert j.verdict == "refused" and "6.9% of common returns beyond" in j.reason


def test_small_disagreements_that_add_up_are_refused_on_drift():
    p = _path(seed=8)
    a = _raw(DATES[:30], p[:30])
    f = np.ones(40)
    f[10:20] = np.cumprod(np.full(10, 1.0004))  # 4 bp a day for ten days: 0.4 %
    f[20:] = f[19]
    b_close = p * f
    (j,) = stitch_series("NVDA", [_src("A", a), _src("B", _raw(DATES, b_close))]).joins
    assert j.max_abs_diff < 1e-3  # every date is within return_tol
    assert j.verdict == "refused" and "drifts 0.401%" in j.reason


def test_covered_source_is_checked_and_basis_follows_the_sources_used():
    p = _path(seed=9)
    a = _raw(DATES, p)
    inner = _raw(DATES[5:35], p[5:35] * 0.7, basis="unknown")
    res = stitch_series("NVDA", [_src("A", a), _src("inner", inner)])
    assert res.joins[0].verdict == "covered" and res.series.meta.adjustment == "adjusted"
    pd.testing.assert_frame_equal(res.series.bars, a.bars)
    later = _raw(DATES[5:], p[5:] * 0.7, basis="unknown")
    res = stitch_series("NVDA", [_src("A", _raw(DATES[:30], p[:30])), _src("later", later)])
    assert res.joins[0].verdict == "joined" and res.series.meta.adjustment == "unknown"
    assert "bases differ, so unknown" in res.series.meta.origin


def test_three_sources_chain_in_priority_order():
    p = _path(seed=10)
    a = _raw(DATES[10:30], p[10:30])
    b = _raw(DATES[:25], p[:25] * 2.0)
    c = _raw(DATES[5:], p[5:] * 4.0)
    res = stitch_series(
        "NVDA",
        [_src("A", a), _src("B", b), _src("C", c)],
        StitchPolicy(min_overlap=10, join_window=3),
    )
    np.testing.assert_allclose(res.series.bars["close"], p, rtol=1e-12)
    assert [(g.source, g.first, g.last) for g in res.segments] == [
        ("B", "2024-04-01", "2024-04-12"),
        ("A", "2024-04-15", "2024-05-10"),
        ("C", "2024-05-13", "2024-05-24"),
    ]
    assert [j.verdict for j in res.joins] == ["joined", "joined"]
    assert res.joins[1].from_source == "B+A"


# ---------------------------------------------------------------- load_prices and the CLI


@pytest.fixture(scope="module")
def universe():
    return load_universe(REPO / "events" / "universe.yaml")


def _write(d: Path, name: str, dates, closes) -> None:
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"Date": pd.DatetimeIndex(dates).strftime("%Y-%m-%d"), "Close": closes}).to_csv(
        d / name, index=False
    )


@pytest.fixture()
def two_dirs(tmp_path):
    p, q = _path(seed=11), _path(seed=12)
    first, second = tmp_path / "first", tmp_path / "second"
    _write(first, "NVDA.csv", DATES[:30], p[:30])
    _write(second, "NVDA.csv", DATES[5:], p[5:] * 1.5)  # agrees: joined
    _write(first, "AMD.csv", DATES[:20], q[:20])
    _write(second, "AMD.csv", DATES[25:], q[25:])  # no overlap: refused
    _write(second, "INTC.csv", DATES, q)  # only in the second
    return first, second, p


def test_load_prices_with_several_directories(universe, two_dirs):
    first, second, p = two_dirs
    panel = load_prices(
        "csv", ["NVDA", "AMD", "INTC"], universe=universe, prices_dir=[first, second]
    )
    np.testing.assert_allclose(panel.close("NVDA"), p, rtol=1e-9)
    assert panel.meta["NVDA"].origin.startswith("stitched on returns: ")
    assert panel.meta["AMD"].last == f"{DATES[19]:%Y-%m-%d}"  # first source kept
    issues = [parse_note(n) for n in panel.notes]
    refused = [i for i in issues if i is not None and i.check == "stitch_refused"]
    assert [(i.symbol, i.severity) for i in refused] == [("AMD", "warning")]
    assert "no overlap" in refused[0].detail
    assert panel.meta["INTC"].rows == 40


def test_load_prices_single_directory_unchanged(universe, two_dirs):
    first, _, p = two_dirs
    one = load_prices("csv", ["NVDA"], universe=universe, prices_dir=first)
    listed = load_prices("csv", ["NVDA"], universe=universe, prices_dir=[str(first)])
    assert one.meta == listed.meta and one.notes == listed.notes
    assert one.meta["NVDA"].origin.startswith(str(first / "NVDA.csv"))
    np.testing.assert_allclose(one.close("NVDA"), p[:30])


def test_cli_import_needs_stitch_for_several_dirs(capsys, tmp_path, two_dirs):
    first, second, _ = two_dirs
    cache = str(tmp_path / "cache")
    code, out, err = run(capsys, "data", "import", str(first), str(second), "--cache-dir", cache)
    assert code == 1 and "Traceback" not in err
    assert err.count("\n") == 1 and "without --stitch" in err
    code, out, err = run(
        capsys, "data", "import", str(first), str(second), "--stitch", "--cache-dir", cache
    )
    assert code == 0, err
    assert "imported 3 series stitched on returns" in out
    joins = out.split("joins (paths relative to")[1]
    nvda = next(line for line in joins.splitlines() if line.strip().startswith("NVDA"))
    assert "first/NVDA.csv" in nvda and "second/NVDA.csv" in nvda and nvda.endswith("joined")
    assert " 24 " in nvda  # overlap
    assert any(
        line.startswith("AMD: refused joining") and "no overlap" in line
        for line in out.splitlines()
    )
    cached = PriceCache.open(cache).entries()
    assert cached["NVDA"].meta.last == "2024-05-24"
    assert any(i.check == "stitch_refused" for i in cached["AMD"].issues)
    code, _, err = run(
        capsys,
        "data",
        "import",
        str(first),
        str(tmp_path / "nope"),
        "--stitch",
        "--cache-dir",
        cache,
    )
    assert code == 1 and "not a directory" in err and err.count("\n") == 1


def test_cli_help_states_the_policy_defaults(capsys):
    code, out, _ = run(capsys, "data", "import", "--help")
    pol = StitchPolicy()
    assert code == 0 and "--stitch" in out and "no silent first-wins" in out
    text = " ".join(out.split())
    for opt, value in (
        ("--return-tol", pol.return_tol),
        ("--drift-tol", pol.drift_tol),
        ("--min-overlap", pol.min_overlap),
    ):
        assert opt in text and f"(default {value:g})" in text


# ---------------------------------------------------------------- the real files


def _yahoo_close(path: Path) -> pd.Series:
    """Close by date from a yfinance multi-header CSV, read with plain pandas."""
    raw = pd.read_csv(path, skiprows=[1])  # line 2 is the ticker row
    return pd.Series(raw["Close"].to_numpy(float), index=pd.to_datetime(raw["Date"]))


def _real(symbol: str, *dirs: Path, policy: StitchPolicy | None = None):
    from backtest.market import fetch_stitched

    return fetch_stitched(list(dirs), [symbol], policy=policy).results[symbol]


def test_real_star_stock_extended_to_2026_02_27():
    _needs_shared()
    res = _real("688256.SS", PRICES, DANYOKO)
    s = res.series.bars["close"]
    assert s.index[-1] == pd.Timestamp("2026-02-27")
    (j,) = res.joins
    assert j.verdict == "joined" and j.overlap >= 200 and j.max_abs_diff < 1e-6
    y = _yahoo_close(DANYOKO / "688256.SS.csv")
    for day in ("2026-01-26", "2026-02-10", "2026-02-27"):  # after the primary's 2026-01-23
        t = pd.Timestamp(day)
        prev = y.index[y.index.get_loc(t) - 1]
        assert s[t] / s[s.index[s.index.get_loc(t) - 1]] - 1 == pytest.approx(
            y[t] / y[prev] - 1, rel=1e-9, abs=1e-12
        )
    primary = pd.read_csv(PRICES / "688256.SS.csv")
    last = primary["date"].iloc[-1]
    assert last == "2026-01-23"
    assert s[pd.Timestamp(last)] == pytest.approx(primary["close"].iloc[-1], rel=1e-12)


def test_real_bad_row_of_688981_is_an_isolated_row():
    _needs_shared()
    res = _real("688981.SS", PRICES, DANYOKO)
    (j,) = res.joins
    assert j.verdict == "joined" and j.isolated_rows == ("2026-01-27",)
    assert j.max_abs_diff > 0.02  # reported, not hidden
    assert res.series.bars.index[-1] == pd.Timestamp("2026-02-27")
    assert res.series.bars["close"][pd.Timestamp("2026-01-27")] == pytest.approx(120.70)


def test_real_raw_and_qfq_naura_are_refused():
    _needs_shared()
    res = _real("002371.SZ", PRICES, SUPERSEDED)
    (j,) = res.joins
    assert j.verdict == "refused" and j.overlap == 841
    assert "002371.SZ" in j.reason and "superseded_primary_2026-11/002371.SZ.csv" in j.reason
    assert res.series.meta.last == "2026-04-03"  # the qfq file, unchanged
    # the other way round the raw file would be extended by qfq returns: refused too
    rev = _real("002371.SZ", SUPERSEDED, PRICES)
    assert rev.joins[0].verdict == "refused" and rev.series.meta.last == "2024-06-26"


def test_real_no_overlap_for_0981():
    _needs_shared()
    res = _real("0981.HK", PRICES, TONY)
    (j,) = res.joins
    assert j.verdict == "refused" and j.overlap == 0 and "no overlap" in j.reason
    assert res.series.meta.last == "2025-10-30"


@pytest.mark.slow
def test_real_acceptance_command(capsys, tmp_path):
    _needs_shared()
    code, out, err = run(
        capsys,
        "data",
        "import",
        str(PRICES),
        str(DANYOKO),
        "--stitch",
        "--cache-dir",
        str(tmp_path / "c"),
        "--universe-file",
        str(REPO / "events" / "universe.yaml"),
    )
    assert code == 0, err
    entries = PriceCache.open(tmp_path / "c").entries()
    joins = out.split("joins (paths relative to")[1].splitlines()
    for sym in ("688256.SS", "688981.SS", "688012.SS", "688041.SS", "688047.SS"):
        assert entries[sym].meta.last == "2026-02-27"
        assert "stitched on returns" in entries[sym].meta.origin
        (line,) = [x for x in joins if x.strip().startswith(sym)]
        assert line.endswith("joined") and f"yahoo_danyoko/{sym}.csv" in line
