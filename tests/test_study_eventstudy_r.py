"""Cross-check against the R package EventStudy 0.50 on shippedA, window [0, +1].

Reference: ../shared/reference/eventstudy-r.  mib's textbook statistics are first
checked against an independent computation here; EventStudy differs from the
textbook only through a named quirk, reproduced by the same independent code:

* Quirk (EventStudy, BMP): for securities with missing estimation returns
  (ZM, UBER) the forecast-error term uses 1/L and the market mean and Sxx over
  all estimation rows, not the L_i complete observations of the regression.
  mib does not copy it (the textbook uses the regression sample); the test
  checks that the independent textbook value equals mib's and that the
  independent value *with* the quirk equals EventStudy's.
* Patell: EventStudy counts rows with missing values differently; mib's Patell
  is checked against the textbook formula only.
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

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"


# Module scope: it must run before the module-scoped fixtures that read the reference files
# (pytest sets up wider scopes first), or a missing ../shared errors instead of skipping.
@pytest.fixture(scope="module", autouse=True)
def _reference_present() -> None:
    require_shared(SHARED)


WINDOWS = {"[0,0]": (0, 0), "[+1,+1]": (1, 1), "[0,+1]": (0, 1)}


@pytest.fixture(scope="module")
def data():
    r = pd.read_csv(SHARED / "estudy2/input/rates.csv", index_col=0, parse_dates=True)
    m = pd.read_csv(SHARED / "estudy2/input/rates_indx.csv", index_col=0, parse_dates=True)[
        "^GSPC"
    ].rename("market")
    inst = pd.DataFrame({"event_id": "e", "security": r.columns, "day0": "2020-03-16"})
    spec = StudySpec(
        estimation=(-240, -1),
        windows=tuple(WINDOWS.values()),
        placebo_draws=0,
        daily_tests=(),
        tests=("cross_sectional_t", "bmp_t", "kp_bmp_t", "patell_z"),
    )
    res = run_study(inst, {c: r[c] for c in r}, m, spec)
    tests = res.tests.set_index(["window", "test"])["statistic"]
    return r, m, tests


def _ref(name: str) -> pd.DataFrame:
    return pd.read_csv(SHARED / f"eventstudy-r/shippedA_d0_p1_multi_{name}.csv")


def independent(r: pd.DataFrame, m: pd.Series, quirk: bool):
    """SCARs for [0,0], [+1,+1], [0,+1], residuals; CLM (1997) eq. 4.4.11 variances."""
    est, me = r.loc[:"2020-03-13"], m.loc[:"2020-03-13"]
    days = [pd.Timestamp("2020-03-16"), pd.Timestamp("2020-03-17")]
    scar = {k: [] for k in WINDOWS}
    resid, dof = {}, []
    for s in r.columns:
        ok = est[s].notna()
        x, y = me[ok].to_numpy(), est[s][ok].to_numpy()
        b, a = np.polyfit(x, y, 1)
        e = y - a - b * x
        L = len(y)
        sig2 = e @ e / (L - 2)
        xs = me.to_numpy() if quirk else x
        mb, sxx, LL = xs.mean(), ((xs - xs.mean()) ** 2).sum(), len(xs)
        ar = np.array([r.loc[d, s] - a - b * m.loc[d] for d in days])
        mm = np.array([m.loc[d] for d in days])
        for k, (lo, hi) in WINDOWS.items():
            sel = slice(lo, hi + 1)
            d = hi - lo + 1
            var = sig2 * (d + d * d / LL + (mm[sel].sum() - d * mb) ** 2 / sxx)
            scar[k].append(ar[sel].sum() / np.sqrt(var))
        resid[s] = pd.Series(e, index=est.index[ok])
        dof.append(L - 2)
    return {k: np.array(v) for k, v in scar.items()}, pd.DataFrame(resid), np.array(dof)


def _t(x: np.ndarray) -> float:
    return float(x.mean() / (x.std(ddof=1) / np.sqrt(len(x))))


def test_cross_sectional_t_equals_eventstudy(data):
    _, _, tests = data
    ref = _ref("CSectT")
    assert tests[("[0,0]", "cross_sectional_t")] == pytest.approx(ref.aar_t[0], rel=1e-10)
    assert tests[("[+1,+1]", "cross_sectional_t")] == pytest.approx(ref.aar_t[1], rel=1e-10)
    assert tests[("[0,+1]", "cross_sectional_t")] == pytest.approx(ref.caar_t[1], rel=1e-10)


def test_bmp_textbook_and_eventstudy_quirk(data):
    r, m, tests = data
    ref = _ref("BMP")
    text, _, _ = independent(r, m, quirk=False)
    quirk, _, _ = independent(r, m, quirk=True)
    for k in WINDOWS:
        assert tests[(k, "bmp_t")] == pytest.approx(_t(text[k]), rel=1e-10)
    assert _t(quirk["[0,0]"]) == pytest.approx(ref.bmp_t[0], rel=1e-10)
    assert _t(quirk["[+1,+1]"]) == pytest.approx(ref.bmp_t[1], rel=1e-10)
    assert _t(quirk["[0,+1]"]) == pytest.approx(ref.cbmp_t[1], rel=1e-10)


def test_kolari_pynnonen_factor(data):
    r, m, tests = data
    bmp, kp = _ref("BMP"), _ref("KP")
    _, resid, _ = independent(r, m, quirk=False)
    c = resid.corr().to_numpy()  # pandas: pairwise-complete Pearson
    rbar = c[np.triu_indices(7, 1)].mean()
    assert rbar == pytest.approx(0.16024, abs=5e-6)
    factor = np.sqrt((1 - rbar) / (1 + 6 * rbar))
    # EventStudy: the same factor multiplies its daily and cumulative BMP t
    assert kp.kp_t[0] == pytest.approx(factor * bmp.bmp_t[0], rel=1e-8)
    assert kp.ckp_t[1] == pytest.approx(factor * bmp.cbmp_t[1], rel=1e-8)
    for k in WINDOWS:
        assert tests[(k, "kp_bmp_t")] == pytest.approx(factor * tests[(k, "bmp_t")], rel=1e-8)


def test_patell_textbook(data):
    r, m, tests = data
    scar, _, dof = independent(r, m, quirk=False)
    for k in WINDOWS:
        z = scar[k].sum() / np.sqrt(np.sum(dof / (dof - 2.0)))
        assert tests[(k, "patell_z")] == pytest.approx(z, rel=1e-10)
