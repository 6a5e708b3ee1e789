"""The estudy2 preset on missing data: estudy2's own edge case, built the way estudy2 builds it.

Case ``missingA``: estudy2's shipped prices (../shared/reference/estudy2/input/prices.csv)
with some prices removed, turned into returns as estudy2's
``get_rates_from_prices(prices, "Close", multi_day = TRUE, "continuous")`` does: log(P_t /
P_s) with s the previous date that has a price, NA on a date without one (this function
reproduces the shipped rates.csv, see the first test).  Removed:

* ZM on 2020-03-16 (day 0) and UBER on 2020-03-20 (day +4): n_t = 6 of N = 7 on those
  days (percentage 85.7 < 90, so they leave estudy2's CAR tests), estudy2's N/n' scaled,
  non-integer Wilcoxon V, and on day +4 (six positive market-model ARs) V = 21 x 7/6 =
  24.5, above n'(n'+1)/2 = 21: the value that ran past the signed-rank table;
* AMZN on 2019-12-24: a gap inside the estimation window (and a two-day return after it);
* UPWK before 2019-10-15: a late listing with 103 estimation returns, fewer than mib's
  textbook minimum of 120; estudy2 keeps it.

Expected values.  ../shared/reference/estudy2 has estudy2 outputs for the shipped data
only, so the expected values come from an independent re-derivation written here, in
pandas on calendar dates, from the reference's formula conventions (its README, section
4) - the way the reference validated estudy2 itself (its re-derivation agrees with
estudy2 to 1e-14, NA-edge configurations included).  The re-derivation is first checked
against estudy2's shipped outputs (to 1e-10 on every statistic and p-value), then mib's
preset is checked against it on missingA (to 1e-8).  Wilcoxon p-values: estudy2 reports
none; like the reference we use 2 min(psignrank(V, n'), psignrank(V - 1, n', lower.tail =
FALSE)), here from an exact enumeration of the 2^n' sign patterns with R's rounding of a
non-integer V (nearest integer of V + 1e-7), and pinned to R 4.2.2's own numbers.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

from backtest.study.arrays import AbnormalReturns, WindowCAR
from backtest.study.engine import run_study
from backtest.study.estudy2 import (
    SIGNRANK_EXACT_MAX,
    signrank_cdfs,
    signrank_pvalue,
    wilcoxon,
)
from backtest.study.kernels import required_days, window_sums
from backtest.study.ranks import corrado_rank
from backtest.study.spec import ESTUDY2_MIN_ESTIMATION_OBS, StudySpec

REF = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "estudy2"
EST = ("2019-04-01", "2020-03-13")  # estimation window, dates (relative days [-240, -1])
EVT = ("2020-03-16", "2020-03-20")  # event window, day 0 .. +4
WINDOWS = {(0, 4): EVT, (0, 0): (EVT[0], EVT[0]), (0, 2): (EVT[0], "2020-03-18")}
MODELS = {"sim": "market", "mean_adj": "constant_mean", "mrkt_adj": "market_adjusted"}
REMOVED = {"ZM": ["2020-03-16"], "UBER": ["2020-03-20"], "AMZN": ["2019-12-24"]}
LATE = ("UPWK", "2019-10-15")  # first price
COLUMNS = {
    "bw_1980": "brown_warner_1980",
    "bw_1985": "brown_warner_1985",
    "t_test": "t_test",
    "pt": "patell",
    "bh": "boehmer",
    "lmb": "lamb",
    "sign": "sign",
    "gsign": "generalized_sign",
    "csign": "corrado_sign",
    "rank": "rank",
    "mrank": "modified_rank",
    "wlcx": "wilcoxon",
}


@pytest.fixture(autouse=True)
def _reference_present() -> None:
    require_shared(REF)


# --------------------------------------------------------------- the case, estudy2's way


def rates_from_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """get_rates_from_prices(quote="Close", multi_day=TRUE, compounding="continuous")."""
    prev = prices.ffill().shift(1)
    return np.log(prices / prev).iloc[1:]


def _prices(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "input" / name, index_col=0)


def missing_case() -> tuple[pd.DataFrame, pd.Series]:
    """Returns of case missingA (date strings as index) and the S&P 500 returns."""
    p = _prices("prices.csv")
    for sec, dates in REMOVED.items():
        p.loc[dates, sec] = np.nan
    p.loc[p.index < LATE[1], LATE[0]] = np.nan
    m = rates_from_prices(_prices("prices_indx.csv")).iloc[:, 0].rename("market")
    return rates_from_prices(p), m


def _dated(x: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    return x.set_axis(pd.to_datetime(x.index))


def run_preset(r: pd.DataFrame, m: pd.Series, model: str, **kw: object):
    inst = pd.DataFrame({"event_id": "missingA", "security": r.columns, "day0": EVT[0]})
    spec = StudySpec(
        model=MODELS[model],
        estimation=(-240, -1),
        windows=tuple(WINDOWS),
        conventions="estudy2",
        placebo_draws=0,
        daily_tests=(),
        **kw,
    )
    rd = _dated(r)
    return run_study(inst, {c: rd[c] for c in rd}, _dated(m), spec)


# --------------------------------------------------------------- independent re-derivation


def fit_ars(r: pd.DataFrame, m: pd.Series, model: str) -> tuple[pd.DataFrame, pd.Series]:
    """ARs on every date and estimation_length, as estudy2's returns() (README section 3)."""
    in_e = (r.index >= EST[0]) & (r.index <= EST[1])
    ars, length = {}, {}
    for c in r:
        ok = in_e & r[c].notna().to_numpy()
        if model == "mean_adj":
            ars[c], length[c] = r[c] - r[c][ok].mean(), int(ok.sum())
            continue
        ok &= m.notna().to_numpy()
        a, b = 0.0, 1.0
        if model == "sim":
            b, a = np.polyfit(m[ok].to_numpy(), r[c][ok].to_numpy(), 1)
        ars[c], length[c] = r[c] - a - b * m, int(ok.sum())
    return pd.DataFrame(ars), pd.Series(length)


def _sum_star(x: pd.DataFrame) -> pd.Series:
    """estudy2's rowMeans(x, na.rm = TRUE) * ncol(x)."""
    return x.mean(axis=1) * x.shape[1]


def parametric(ar: pd.DataFrame, m: pd.Series, length: pd.Series, sim: bool) -> dict:
    """Tests 1-6 of README section 4: name -> (statistic by date, reference distribution)."""
    big_n, e, w = ar.shape[1], ar.loc[EST[0] : EST[1]], ar.loc[EVT[0] : EVT[1]]
    n, aar, s = w.notna().sum(axis=1), w.mean(axis=1), e.std(ddof=1)
    df_l = ("t", length.mean() - 1)
    s85 = e.mean(axis=1).std(ddof=1)
    out = {
        "brown_warner_1980": (aar / (math.sqrt((s**2).sum()) / big_n), df_l),
        "brown_warner_1985": (aar / s85, df_l),
        "t_test": (aar / w.std(axis=1, ddof=1) * np.sqrt(n), ("t", n - 1)),
    }
    if sim:
        me, mw = m.loc[e.index], m.loc[w.index]
        sxx = ((me - me.mean()) ** 2).sum()
        c = (
            1
            + (1 / length).to_numpy()[None, :]
            + (((mw - me.mean()) ** 2) / sxx).to_numpy()[:, None]
        )
        sar = w / np.sqrt(c) / s
        out["patell"] = (_sum_star(sar) / math.sqrt(((length - 2) / (length - 4)).sum()), ("z",))
        out["boehmer"] = (sar.mean(axis=1) / sar.std(axis=1, ddof=1) * np.sqrt(n), ("t", n - 1))
        out["lamb"] = (
            aar / (s85 * np.sqrt(1 + 1 / length.mean() + (mw - me.mean()) ** 2 / sxx)),
            ("z",),
        )
    return out


def nonparametric(ar: pd.DataFrame) -> dict:
    """Tests 7-12 of README section 4 over F = E u W."""
    e, w = ar.loc[EST[0] : EST[1]], ar.loc[EVT[0] : EVT[1]]
    n = w.notna().sum(axis=1)
    pos = (w > 0).astype(float).where(w.notna())
    ev = e.to_numpy()[~np.isnan(e.to_numpy())]
    p = float(np.mean(ev > 0))
    f = pd.concat([e, w])
    n_s, t_i = f.notna().sum(axis=1), f.notna().sum()
    g = _sum_star(np.sign(f - f.median()))
    s_g = math.sqrt(((g / np.sqrt(n_s)) ** 2).sum() / t_i.mean())
    k = f.rank(method="average")
    d = _sum_star(k - k.mean())
    s_d = math.sqrt(((d / n_s) ** 2).sum() / t_i.mean())
    du = _sum_star(k / (t_i + 1) - 0.5)
    s_u = math.sqrt(((du / np.sqrt(n_s)) ** 2).sum() / t_i.mean())
    z = ("z",)
    return {
        "sign": ((_sum_star(pos) - 0.5 * n) / np.sqrt(0.25 * n), z),
        "generalized_sign": ((_sum_star(pos) - n * p) / np.sqrt(n * p * (1 - p)), z),
        "corrado_sign": ((g / (np.sqrt(n_s) * s_g)).loc[w.index], z),
        "rank": (((d / n_s) / s_d).loc[w.index], z),
        "modified_rank": ((du / (np.sqrt(n_s) * s_u)).loc[w.index], z),
        "wilcoxon": _wilcoxon_v(w),
    }


def _wilcoxon_v(w: pd.DataFrame) -> tuple[pd.Series, tuple]:
    v, nn = [], []
    for date in w.index:
        x = w.loc[date].dropna()
        x = x[x != 0]
        v.append(x.abs().rank(method="average")[x > 0].sum() * w.shape[1] / len(x))
        nn.append(len(x))
    return pd.Series(v, index=w.index), ("signrank", nn)


def enumerated_cdf(n: int) -> np.ndarray:
    """P(V <= v), v = 0..n(n+1)/2, by listing all 2^n sign patterns of ranks 1..n."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    for signs in itertools.product((0, 1), repeat=n):
        counts[sum(j for j, s in zip(range(1, n + 1), signs, strict=True) if s)] += 1
    return np.cumsum(counts) / 2.0**n


def r_two_sided(v: float, n: int) -> float:
    """min(1, 2 min(psignrank(v, n), psignrank(v - 1, n, lower.tail = FALSE))) in R.

    psignrank rounds its q to the nearest integer of q + 1e-7 (R_forceint(x + 1e-7) in
    nmath/signrank.c); q beyond 0..n(n+1)/2 gives 0 or 1.
    """
    k, top, cdf = math.floor(v + 1e-7 + 0.5), n * (n + 1) // 2, enumerated_cdf(n)
    lower = 0.0 if k < 0 else 1.0 if k >= top else cdf[k]
    upper = 1.0 if k <= 0 else 0.0 if k > top else 1.0 - cdf[k - 1]
    return min(1.0, 2.0 * min(lower, upper))


def pvalues(stat: pd.Series, dist: tuple) -> np.ndarray:
    if dist[0] == "z":
        return np.asarray(2 * sps.norm.sf(stat.abs()))
    if dist[0] == "t":
        return np.asarray(2 * sps.t.sf(stat.abs(), dist[1]))
    return np.array([r_two_sided(v, k) for v, k in zip(stat, dist[1], strict=True)])


def car_tests(
    ar: pd.DataFrame, daily: dict, start: str, end: str, pct: float = 90.0
) -> dict[str, float]:
    """Tests 13-15 of README section 4 over [start, end] (days with 100 n_t/N > pct)."""
    w = ar.loc[start:end]
    kept = w.index[100 * w.notna().sum(axis=1) / ar.shape[1] > pct]
    if not len(kept):
        return {}
    root = math.sqrt(len(kept))
    out = {
        name: daily[test][0].loc[kept].sum() / root
        for name, test in (("car_brown_warner_1985", "brown_warner_1985"), ("car_lamb", "lamb"))
        if test in daily
    }
    f = pd.concat([ar.loc[EST[0] : EST[1]], w])
    k = f.rank(method="average")
    kbar = k.mean().mean()
    den = math.sqrt(((k.mean(axis=1) - kbar) ** 2).sum() / f.notna().sum().mean())
    out["car_rank_test"] = root * (np.nanmean(k.loc[kept].to_numpy()) - kbar) / den
    return out


def rederive(r: pd.DataFrame, m: pd.Series, model: str) -> tuple[dict, dict, pd.Series]:
    ar, length = fit_ars(r, m, model)
    daily = {**parametric(ar, m, length, model == "sim"), **nonparametric(ar)}
    cars = {win: car_tests(ar, daily, a, b) for win, (a, b) in WINDOWS.items()}
    return daily, cars, length


# --------------------------------------------------------------- the re-derivation is estudy2


def test_rates_are_built_like_estudy2() -> None:
    mine = rates_from_prices(_prices("prices.csv"))
    shipped = pd.read_csv(REF / "input" / "rates.csv", index_col=0)
    assert (mine.isna() == shipped.isna()).all().all()
    np.testing.assert_allclose(mine.to_numpy(), shipped.to_numpy(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("model", list(MODELS))
def test_rederivation_reproduces_estudy2_shipped_outputs(model: str) -> None:
    r = pd.read_csv(REF / "input" / "rates.csv", index_col=0)
    m = pd.read_csv(REF / "input" / "rates_indx.csv", index_col=0)["^GSPC"]
    daily, cars, _ = rederive(r, m, model)
    out = REF / "output"
    par = pd.read_csv(out / f"shippedA_{model}_parametric_daily.csv", index_col=0)
    npar = pd.read_csv(out / f"shippedA_{model}_nonparametric_daily.csv", index_col=0)
    for col, name in COLUMNS.items():
        ref = par if f"{col}_stat" in par else npar
        if f"{col}_stat" not in ref:
            assert name not in daily
            continue
        stat, dist = daily[name]
        np.testing.assert_allclose(stat, ref[f"{col}_stat"], rtol=1e-10)
        np.testing.assert_allclose(pvalues(stat, dist), ref[f"{col}_pvalue"], rtol=1e-10)
    ct = pd.read_csv(out / f"shippedA_{model}_car_tests.csv")
    for label, win in {"full": (0, 4), "d0": (0, 0), "d0_d2": (0, 2)}.items():
        for row in ct[ct["window"] == label].itertuples():
            if row.name in cars[win]:
                assert cars[win][row.name] == pytest.approx(row.statistic, rel=1e-10)


# --------------------------------------------------------------- mib's preset on missingA


@pytest.mark.parametrize("model", list(MODELS))
def test_preset_matches_estudy2_on_missing_data(model: str) -> None:
    """Default options: no --min-obs, default --missing; every statistic and p to 1e-8."""
    r, m = missing_case()
    res = run_preset(r, m, model)
    daily, cars, length = rederive(r, m, model)
    assert res.attrition.empty  # UPWK's 103 estimation returns are enough, as in estudy2
    n_est = res.params.set_index("security")["n_est"]
    assert n_est.loc[length.index].tolist() == length.tolist()
    assert n_est["UPWK"] == 103
    t = res.tests[res.tests["level"] == "estudy2"]
    for name in COLUMNS.values():
        got = t[(t["test"] == name) & (t["window"] == "")].sort_values("rel_day")
        if name not in daily:  # Patell, Boehmer, Lamb: market model only
            assert not got["valid"].any()
            continue
        stat, dist = daily[name]
        assert got["valid"].all(), name
        np.testing.assert_allclose(got["statistic"], stat, rtol=1e-8, err_msg=name)
        np.testing.assert_allclose(
            got["pvalue"], pvalues(stat, dist), rtol=1e-8, atol=1e-300, err_msg=name
        )
    for (_, b), expected in cars.items():
        got = t[t["window"] == f"[0,{f'+{b}' if b else '0'}]"].set_index("test")
        if not expected:  # [0,0]: day 0 has 6 of 7 ARs (85.7 % <= 90 %), no day is kept
            assert not got["valid"].any() and (got["n"] == 0).all()
            continue
        for name, value in expected.items():
            assert got.loc[name, "statistic"] == pytest.approx(value, rel=1e-8), name
            assert got.loc[name, "n"] == (3 if b == 4 else 2)  # kept: not day 0, not +4


def test_preset_wilcoxon_on_missing_data_pinned_to_r() -> None:
    """Day 0 and +4 have n' = 6 of N = 7: V is scaled by 7/6 (estudy2's Σ*).

    R 4.2.2: p <- function(v, n) min(1, 2 * min(psignrank(v, n),
    psignrank(v - 1, n, lower.tail = FALSE))).  Before the fix day +4 (V = 24.5 > 21)
    raised IndexError and mrkt_adj day 0 (V = 16.33) gave 0.21875 (floor/ceil) for R's 0.3125.
    """
    r, m = missing_case()
    expected = {
        "sim": (
            [18 + 2 / 3, 10, 15, 27, 24.5],
            [0.093750000000000042, 0.578125, 0.9375, 0.03125, 0.0],
        ),
        "mrkt_adj": (
            [16 + 1 / 3, 8, 15, 27, 24.5],
            [0.31250000000000011, 0.375, 0.9375, 0.03125, 0.0],
        ),
    }
    for model, (v, p) in expected.items():
        t = run_preset(r, m, model).tests
        got = t[(t["level"] == "estudy2") & (t["test"] == "wilcoxon")].sort_values("rel_day")
        np.testing.assert_allclose(got["statistic"], v, rtol=1e-12)
        np.testing.assert_allclose(got["pvalue"], p, rtol=1e-12, atol=0)
        assert got["n"].tolist() == [6, 7, 7, 7, 6]
        assert "rounded as R's psignrank" in got["distribution"].iloc[0]
        assert "above its maximum 21" in got["distribution"].iloc[4]


def test_explicit_min_obs_keeps_mibs_rule() -> None:
    """--min-obs given: estudy2's inclusion rule no longer applies (UPWK has 103 < 120)."""
    r, m = missing_case()
    assert StudySpec(conventions="estudy2").min_estimation_obs == ESTUDY2_MIN_ESTIMATION_OBS
    assert StudySpec().min_estimation_obs == 120
    res = run_preset(r, m, "sim", min_estimation_obs=120)
    att = res.attrition.set_index("security")
    assert att.loc["UPWK", "reason"] == "estimation_too_short"
    assert "required=120 available=103" in att.loc["UPWK", "detail"]


def test_car_by_security_convention() -> None:
    """Per-security CARs are mib's, not estudy2's (estudy2 has none; the reference sums the
    ARs present).  Under the default --missing require_day0, ZM (no day-0 return) has no
    CAR in a window containing day 0; under drop_day it is the sum of the days present.
    estudy2's own statistics come from the AR matrix and are the same under both."""
    r, m = missing_case()
    ar, _ = fit_ars(r, m, "sim")
    res = run_preset(r, m, "sim", missing="drop_day")
    car = res.car.set_index(["security", "window"])
    assert car.loc[("ZM", "[0,+4]"), "car"] == pytest.approx(
        ar.loc[EVT[0] : EVT[1], "ZM"].sum(), rel=1e-10
    )
    assert car.loc[("ZM", "[0,+4]"), "days"] == 4
    t0 = run_preset(r, m, "sim").tests
    t1 = res.tests
    e0, e1 = (t[t["level"] == "estudy2"].reset_index(drop=True) for t in (t0, t1))
    pd.testing.assert_frame_equal(e0, e1)


def test_default_policy_drops_a_car_missing_day0() -> None:
    r, m = missing_case()
    car = run_preset(r, m, "sim").car.set_index(["security", "window"])
    assert np.isnan(car.loc[("ZM", "[0,+4]"), "car"]) and car.loc[("ZM", "[0,+4]"), "days"] == 0
    assert car.loc[("UBER", "[0,+4]"), "days"] == 4  # +4 missing: skipped, day 0 present


# --------------------------------------------------------------- Wilcoxon p, unit level


@pytest.mark.parametrize(
    ("v", "n", "r_value"),
    [
        (16 + 1 / 3, 6, 0.31250000000000011),
        (18 + 2 / 3, 6, 0.093750000000000042),
        (24.5, 6, 0.0),
        (0.0, 6, 0.031250000000000014),
        (27.0, 7, 0.031250000000000007),
        (21.0, 7, 0.29687500000000006),
        (24.5, 7, 0.078125000000000028),
        (3.5, 7, 0.10937500000000003),
    ],
)
def test_signrank_pvalue_is_r_and_enumeration(v: float, n: int, r_value: float) -> None:
    p, label = signrank_pvalue(v, n, signrank_cdfs({n})[n])
    assert p == pytest.approx(r_two_sided(v, n), rel=1e-13, abs=1e-300)
    assert p == pytest.approx(r_value, rel=1e-13, abs=1e-300)
    assert label.startswith(f"signrank({n}) exact")


def test_signrank_integer_v_is_scipys_exact_test() -> None:
    x = np.random.default_rng(7).normal(0.3, 1.0, 14)
    v = float(sps.rankdata(np.abs(x))[x > 0].sum())
    p, _ = signrank_pvalue(v, 14, signrank_cdfs({14})[14])
    assert p == pytest.approx(sps.wilcoxon(x, method="exact").pvalue, rel=1e-12)


def test_signrank_cdfs_one_pass_equal_enumeration() -> None:
    cdfs = signrank_cdfs({1, 4, 9, 12})
    for n, cdf in cdfs.items():
        np.testing.assert_allclose(cdf, enumerated_cdf(n), rtol=1e-14)


def test_signrank_large_n_exact_then_labelled_normal() -> None:
    # R 4.2.2: 2 * min(psignrank(70000, 500), psignrank(69999, 500, lower.tail = FALSE))
    p, label = signrank_pvalue(70000.0, 500, signrank_cdfs({500})[500])
    assert p == pytest.approx(0.022430358766319949, rel=1e-10)
    assert label == "signrank(500) exact"
    n = SIGNRANK_EXACT_MAX + 1
    mu, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    p, label = signrank_pvalue(mu + 2 * sd, n, None)
    assert label == f"N(0,1) approx. of signrank({n})"
    assert p == pytest.approx(2 * sps.norm.sf(2.0), rel=1e-12)


def test_wilcoxon_drops_zero_and_missing_ars() -> None:
    a = np.array([[0.02, 0.0], [-0.01, 0.03], [np.nan, 0.01], [0.03, -0.02]])
    d = wilcoxon(a)
    assert d.n.tolist() == [3, 3]
    # day 0: |AR| ranks 2, 1, 3 -> V = (2 + 3) x 4/3; day 1: ranks 3, 1, 2 -> (3 + 1) x 4/3
    np.testing.assert_allclose(d.statistic, [20 / 3, 16 / 3], rtol=1e-14)
    np.testing.assert_allclose(
        d.pvalue, [r_two_sided(20 / 3, 3), r_two_sided(16 / 3, 3)], rtol=1e-14
    )


# --------------------------------------------------------------- Corrado: one window at a time


def _shipped_study(windows: tuple, conventions: str):
    r = _dated(pd.read_csv(REF / "input" / "rates.csv", index_col=0))
    m = _dated(pd.read_csv(REF / "input" / "rates_indx.csv", index_col=0)["^GSPC"])
    inst = pd.DataFrame({"event_id": "e", "security": r.columns, "day0": EVT[0]})
    spec = StudySpec(
        estimation=(-230, -6),
        windows=windows,
        conventions=conventions,
        placebo_draws=0,
        daily_tests=(),
        tests=("corrado_rank",),
    )
    return run_study(inst, {c: r[c] for c in r}, m.rename("market"), spec).tests


@pytest.mark.parametrize("conventions", ["textbook", "estudy2"])
def test_corrado_day0_does_not_depend_on_other_windows(conventions: str) -> None:
    alone = _shipped_study(((0, 0),), conventions)
    more = _shipped_study(((0, 0), (-5, 10)), conventions)
    tests = ["corrado_rank"] + (["car_rank_test"] if conventions == "estudy2" else [])
    for t in (alone, more):
        assert set(tests) <= set(t.loc[t["window"] == "[0,0]", "test"])
    for name in tests:
        a = alone[(alone["window"] == "[0,0]") & (alone["test"] == name)]
        b = more[(more["window"] == "[0,0]") & (more["test"] == name)]
        assert len(a) == len(b) >= 1
        np.testing.assert_array_equal(a["statistic"].to_numpy(), b["statistic"].to_numpy())


def test_corrado_day0_by_hand() -> None:
    """Corrado (1989): ranks within each instance over the estimation days and day 0 only
    (T = L + 1), Z = (Kbar_0 - (T+1)/2) / S(K), S(K)^2 = (1/T) sum_t (Kbar_t - (T+1)/2)^2;
    the other event days in the arrays (-1, +1) do not enter."""
    rng = np.random.default_rng(3)
    n, big_l = 5, 12
    est, event = rng.normal(0, 0.01, (n, big_l)), rng.normal(0.004, 0.01, (n, 3))
    ar = AbnormalReturns(
        est,
        event,
        np.arange(-20, -8, dtype=np.int64),
        np.array([-1, 0, 1], dtype=np.int64),
        np.full(n, big_l, np.int64),
        np.ones(n, np.int64),
        np.full(n, 0.01),
        np.ones((n, 3)),
        np.zeros(n, np.int64),
    )
    w = WindowCAR(0, 0, event[:, 1], np.full(n, 1e-4), np.ones(n, np.int64), event[:, 1])
    big_t = big_l + 1
    ranks = [sps.rankdata([*est[i], event[i, 1]]) for i in range(n)]
    dev = [sum(ranks[i][t] for i in range(n)) / n - (big_t + 1) / 2 for t in range(big_t)]
    s_k = math.sqrt(sum(d * d for d in dev) / big_t)
    assert corrado_rank(ar, w).statistic == pytest.approx(dev[-1] / s_k, rel=1e-12)


# --------------------------------------------------------------- the missing-day kernel


def test_required_day0_kernel() -> None:
    ar = np.array([[0.01, np.nan, 0.02], [np.nan, 0.03, 0.01], [0.02, 0.01, np.nan]])
    rel = np.array([-1, 0, 1])
    whole = np.ones(3, dtype=bool)
    assert required_days(rel, whole, "drop_day") is None
    req = required_days(rel, whole, "require_day0")
    assert req is not None and req.tolist() == [False, True, False]
    car, days = window_sums(ar, whole, req)
    assert np.isnan(car[0]) and days.tolist() == [0, 2, 2]
    np.testing.assert_allclose(car[1:], [0.04, 0.03], rtol=1e-14)
    before = rel < 0  # a window without day 0 needs nothing
    assert not required_days(rel, before, "require_day0").any()
    car, days = window_sums(ar, whole)  # drop_day: skip every missing day
    np.testing.assert_allclose(car, [0.03, 0.04, 0.03], rtol=1e-14)
