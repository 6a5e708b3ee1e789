"""estudy2 parity: the ``estudy2`` conventions reproduce estudy2 0.10.0 on its shipped data.

Reference: ../shared/reference/estudy2 (configuration shippedA: estimation window
2019-04-01..2020-03-13 = relative days [-240, -1] before day 0 = 2020-03-16, event
window 2020-03-16..20 = [0, +4]; CAR windows full [0,+4], d0 [0,0], d0_d2 [0,+2]).
All estudy2 quirks are copied (see backtest.study.estudy2), so no corrected value
is needed here.  The spec leaves min_estimation_obs and missing at their defaults, as a
user of the preset would (estudy2's inclusion rule keeps all seven securities); the
missing-data case is in test_study_estudy2_missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

from backtest.study.engine import run_study
from backtest.study.spec import StudySpec

REF = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "estudy2"


# Module scope: it must run before the module-scoped fixtures that read the reference files
# (pytest sets up wider scopes first), or a missing ../shared errors instead of skipping.
@pytest.fixture(scope="module", autouse=True)
def _reference_present() -> None:
    require_shared(REF)


MODELS = {"sim": "market", "mean_adj": "constant_mean", "mrkt_adj": "market_adjusted"}
WINDOWS = {"full": (0, 4), "d0": (0, 0), "d0_d2": (0, 2)}
DAILY = {
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


def _label(w: tuple[int, int]) -> str:
    return "[" + ",".join(f"{x:+d}" if x else "0" for x in w) + "]"


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    r = pd.read_csv(REF / "input" / "rates.csv", index_col=0, parse_dates=True)
    m = pd.read_csv(REF / "input" / "rates_indx.csv", index_col=0, parse_dates=True)["^GSPC"]
    return r, m.rename("market")


@pytest.fixture(scope="module", params=list(MODELS))
def case(request, data):
    tag = request.param
    r, m = data
    inst = pd.DataFrame({"event_id": "shippedA", "security": r.columns, "day0": "2020-03-16"})
    spec = StudySpec(
        model=MODELS[tag],
        estimation=(-240, -1),
        windows=tuple(WINDOWS.values()),
        conventions="estudy2",
        placebo_draws=0,
        daily_tests=(),
    )
    res = run_study(inst, {c: r[c] for c in r}, m, spec)
    return tag, res


def _out(tag: str, what: str) -> pd.DataFrame:
    return pd.read_csv(REF / "output" / f"shippedA_{tag}_{what}.csv")


def test_params(case):
    tag, res = case
    ref = _out(tag, "params").set_index("security")
    assert res.attrition.empty
    p = res.params.set_index("security").loc[ref.index]
    np.testing.assert_array_equal(p["n_est"].to_numpy(), ref["estimation_length"].to_numpy())
    np.testing.assert_allclose(p["sigma"], ref["estimation_ar_sd_nminus1"], rtol=1e-10)
    if tag == "sim":
        np.testing.assert_allclose(p["alpha"], ref["alpha"], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(p["beta_market"], ref["beta"], rtol=1e-10)
    if tag == "mean_adj":
        np.testing.assert_allclose(p["alpha"], ref["mean_estimation_predicted"], rtol=1e-10)


def test_event_ars(case):
    tag, res = case
    ref = _out(tag, "event_ar_wide").set_index("date")
    wide = (
        res.ar.assign(date=res.ar["date"].dt.strftime("%Y-%m-%d"))
        .pivot(index="date", columns="security", values="ar")
        .loc[ref.index, ref.columns]
    )
    np.testing.assert_allclose(wide.to_numpy(), ref.to_numpy(), rtol=1e-10, atol=1e-15)


def test_car_by_security(case):
    tag, res = case
    ref = _out(tag, "car_by_security")
    for name, w in WINDOWS.items():
        r = ref[ref["window"] == name].set_index("security")
        c = res.car[res.car["window"] == _label(w)].set_index("security").loc[r.index]
        np.testing.assert_allclose(c["car"], r["car_sum_ar"], rtol=1e-10, atol=1e-15)
        np.testing.assert_array_equal(c["days"], r["n_days_nonmissing"])


def test_daily_statistics(case):
    tag, res = case
    t = res.tests[res.tests["level"] == "estudy2"]
    par, npar = _out(tag, "parametric_daily"), _out(tag, "nonparametric_daily")
    checked = 0
    for col, name in DAILY.items():
        ref = par if f"{col}_stat" in par else npar
        got = t[(t["test"] == name) & (t["window"] == "")].sort_values("rel_day")
        if f"{col}_stat" not in ref:  # Patell, Boehmer, Lamb: estudy2 refuses non-sim models
            assert tag != "sim"
            assert not got["valid"].any() and got["statistic"].isna().all()
            continue
        np.testing.assert_allclose(got["statistic"], ref[f"{col}_stat"], rtol=1e-8)
        np.testing.assert_allclose(got["pvalue"], ref[f"{col}_pvalue"], rtol=1e-8)
        checked += 1
    assert checked == (12 if tag == "sim" else 9)


def test_car_statistics(case):
    tag, res = case
    t = res.tests[res.tests["level"] == "estudy2"]
    ref = _out(tag, "car_tests")
    for name, w in WINDOWS.items():
        r = ref[ref["window"] == name].set_index("name")
        got = t[t["window"] == _label(w)].set_index("test")
        for test in r.index:
            assert got.loc[test, "statistic"] == pytest.approx(r.loc[test, "statistic"], rel=1e-8)
            assert got.loc[test, "pvalue"] == pytest.approx(r.loc[test, "pvalue"], rel=1e-8)
            assert got.loc[test, "n"] == r.loc[test, "number_of_days"]
        if tag != "sim":  # car_lamb errors in estudy2 for these models; ours is invalid
            assert not got.loc["car_lamb", "valid"]


def test_market_model_matches_statsmodels(data):
    sm = pytest.importorskip("statsmodels.api")
    r, m = data
    inst = pd.DataFrame({"event_id": "e", "security": r.columns, "day0": "2020-03-16"})
    spec = StudySpec(
        estimation=(-240, -1), windows=((0, 4),), placebo_draws=0, daily_tests=(), tests=()
    )
    res = run_study(inst, {c: r[c] for c in r}, m, spec).params.set_index("security")
    est = r.loc[:"2020-03-13"]
    for sec in r.columns:
        ok = est[sec].notna() & m.loc[est.index].notna()
        ols = sm.OLS(est[sec][ok], sm.add_constant(m.loc[est.index][ok])).fit()
        assert res.loc[sec, "alpha"] == pytest.approx(ols.params.iloc[0], rel=1e-10, abs=1e-16)
        assert res.loc[sec, "beta_market"] == pytest.approx(ols.params.iloc[1], rel=1e-10)
        # textbook sigma: residual variance with L - 2 degrees of freedom
        assert res.loc[sec, "sigma"] == pytest.approx(np.sqrt(ols.scale), rel=1e-10)
