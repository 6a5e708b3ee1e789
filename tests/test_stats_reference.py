"""Cross-sectional t, BMP, Kolari-Pynnönen BMP and Patell against EventStudy (R).

Reference: ../shared/reference/eventstudy-r (EventStudy 0.50.0 on estudy2's
``shippedA`` data: market model, estimation 2019-04-01..2020-03-13, day 0
2020-03-16, windows [0,0] and [0,+1]).  The abnormal returns are computed here
with an independent numpy least-squares fit of the market model on
../shared/reference/estudy2/input/rates.csv and rates_indx.csv; the arrays are
then built by hand, in each of EventStudy's conventions where ours differ.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared
from scipy import stats as sps

from backtest.study.arrays import AbnormalReturns, WindowCAR
from backtest.study.clustering import kp_bmp_t, within_cluster_rbar
from backtest.study.stats import bmp_t, cross_sectional_t, patell_z

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
ESTUDY = SHARED / "estudy2" / "input"
EVSTUDY = SHARED / "eventstudy-r"


# Module scope: it must run before the module-scoped fixtures that read the reference files
# (pytest sets up wider scopes first), or a missing ../shared errors instead of skipping.
@pytest.fixture(scope="module", autouse=True)
def _reference_present() -> None:
    require_shared(EVSTUDY)
    require_shared(ESTUDY)


def _read(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    with path.open() as fh:
        rows = list(csv.reader(fh))
    dates = np.array([r[0] for r in rows[1:]])
    vals = np.array([[math.nan if v == "NA" else float(v) for v in r[1:]] for r in rows[1:]])
    return rows[0][1:], dates, vals


def _ref(name: str) -> list[dict[str, str]]:
    with (EVSTUDY / f"shippedA_d0_p1_multi_{name}.csv").open() as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Fit:
    ar: np.ndarray  # (n, 2): abnormal returns on day 0 and day +1
    resid: np.ndarray  # (n, L) estimation residuals, NaN where the stock has no return
    sigma: np.ndarray  # sqrt(SSR / (L_i - 2))
    n_obs: np.ndarray  # L_i, complete (stock, market) days
    rows: int  # estimation rows in the data (240), missing ones included
    fe_rows: np.ndarray  # (n, 2) 1 + 1/L_i + (M_t - mean M)^2 / Sxx, M over all rows
    market_event: np.ndarray


@pytest.fixture(scope="module")
def fit() -> Fit:
    _, dates, r = _read(ESTUDY / "rates.csv")
    _, dates_m, m = _read(ESTUDY / "rates_indx.csv")
    assert np.array_equal(dates, dates_m)
    m = m[:, 0]
    est = (dates >= "2019-04-01") & (dates <= "2020-03-13")
    day0 = int(np.flatnonzero(dates == "2020-03-16")[0])
    n = r.shape[1]
    ar, resid = np.empty((n, 2)), np.full((n, int(est.sum())), np.nan)
    sigma, n_obs = np.empty(n), np.empty(n, dtype=np.int64)
    for i in range(n):
        ok = est & np.isfinite(r[:, i])
        x = np.column_stack([np.ones(ok.sum()), m[ok]])
        coef, *_ = np.linalg.lstsq(x, r[ok, i], rcond=None)
        e = r[ok, i] - x @ coef
        resid[i, ok[est]] = e
        n_obs[i] = ok.sum()
        sigma[i] = math.sqrt(e @ e / (n_obs[i] - 2))
        ar[i] = r[day0 : day0 + 2, i] - (coef[0] + coef[1] * m[day0 : day0 + 2])
    m_est = m[est]
    sxx = float(np.sum((m_est - m_est.mean()) ** 2))
    fe_rows = 1 + 1 / n_obs[:, None] + (m[day0 : day0 + 2] - m_est.mean()) ** 2 / sxx
    return Fit(ar, resid, sigma, n_obs, int(est.sum()), fe_rows, m[day0 : day0 + 2])


def _arrays(f: Fit, n_est: np.ndarray, fe: np.ndarray) -> AbnormalReturns:
    n = f.ar.shape[0]
    return AbnormalReturns(
        est=f.resid,
        event=f.ar,
        est_days=np.arange(-f.rows - 1, -1, dtype=np.int64),
        rel_days=np.array([0, 1], dtype=np.int64),
        n_est=n_est.astype(np.int64),
        k=np.full(n, 2, dtype=np.int64),
        sigma=f.sigma,
        fe=fe,
        cluster=np.zeros(n, dtype=np.int64),
    )


def _window(f: Fit, end: int, var: np.ndarray, car: np.ndarray | None = None) -> WindowCAR:
    n = f.ar.shape[0]
    c = f.ar[:, : end + 1].sum(axis=1) if car is None else car
    return WindowCAR(0, end, c, var, np.full(n, end + 1, dtype=np.int64), np.full(n, np.nan))


def test_cross_sectional_t_matches_eventstudy(fit: Fit) -> None:
    ref = _ref("CSectT")
    ar = _arrays(fit, fit.n_obs, np.ones((7, 2)))
    for end, col in ((0, "aar_t"), (1, "caar_t")):
        res = cross_sectional_t(ar, _window(fit, end, fit.sigma**2 * (end + 1)))
        assert res.statistic == pytest.approx(float(ref[end][col]), rel=1e-8)
        assert (res.n, res.distribution) == (7, "t(6)")


def _eventstudy_bmp_inputs(fit: Fit, end: int) -> tuple[AbnormalReturns, WindowCAR]:
    # Convention difference: EventStudy's BMP standardises AR_it by the residual sd
    # (L_i - 2 dof) *without* the forecast-error term (its mean_sar on day 0,
    # 1.10842, equals mean(AR_i0 / sigma_i); with the CLM term it would be 0.96589),
    # and its cumulative SCAR is sum_t SAR_it / sqrt(days).  Both are our SCAR with
    # fe = 1, i.e. Var(CAR_i) = sigma_i^2 * days, so the conventions agree exactly
    # once the arrays are built that way.
    ar = _arrays(fit, fit.n_obs, np.ones((7, 2)))
    return ar, _window(fit, end, fit.sigma**2 * (end + 1))


def test_bmp_matches_eventstudy(fit: Fit) -> None:
    ref = _ref("BMP")
    sar0 = fit.ar[:, 0] / fit.sigma
    assert sar0.mean() == pytest.approx(float(ref[0]["mean_sar"]), rel=1e-12)
    assert sar0.std(ddof=1) == pytest.approx(float(ref[0]["sd_sar"]), rel=1e-12)
    for end, col in ((0, "bmp_t"), (1, "cbmp_t")):
        res = bmp_t(*_eventstudy_bmp_inputs(fit, end))
        assert res.statistic == pytest.approx(float(ref[end][col]), rel=1e-8)
        assert res.distribution == "t(6)"


def test_kp_adjusted_bmp_matches_eventstudy(fit: Fit) -> None:
    ref = _ref("KP")
    # r̄ by hand: mean over the 21 pairs of np.corrcoef on pairwise-complete days.
    pairs = []
    for a, b in itertools.combinations(range(7), 2):
        ok = np.isfinite(fit.resid[a]) & np.isfinite(fit.resid[b])
        pairs.append(np.corrcoef(fit.resid[a, ok], fit.resid[b, ok])[0, 1])
    rbar = float(np.mean(pairs))
    assert rbar == pytest.approx(0.16024, abs=5e-6)  # value quoted in the README
    cc = within_cluster_rbar(fit.resid, np.zeros(7, dtype=np.int64))
    assert cc.rbar == pytest.approx(rbar, rel=1e-12)
    assert cc.pairs == 21
    for end, col in ((0, "kp_t"), (1, "ckp_t")):
        res = kp_bmp_t(*_eventstudy_bmp_inputs(fit, end))
        assert res.statistic == pytest.approx(float(ref[end][col]), rel=1e-8)
        base = bmp_t(*_eventstudy_bmp_inputs(fit, end)).statistic
        factor = math.sqrt((1 - rbar) / (1 + 6 * rbar))
        assert res.statistic == pytest.approx(base * factor, rel=1e-12)
        assert res.pvalue == pytest.approx(2 * sps.t.sf(abs(res.statistic), 6), rel=1e-12)


def test_patell_matches_eventstudy_day0(fit: Fit) -> None:
    # EventStudy's Patell (re-derived numerically, see the README): SAR_it =
    # AR_it / (sigma_i sqrt(1 + 1/L_i + (M_t - Mbar)^2 / Sxx)) with Mbar and Sxx over
    # all 240 estimation rows (also rows where the stock is missing, unlike the OLS
    # sample), and the denominator sqrt(sum (L - 2) / (L - 4)) with L = 240 rows for
    # every stock ("counts rows with missing values").  We feed exactly those inputs:
    # Var(AR_i0) = sigma_i^2 * fe_rows and n_est = 240.
    ref = _ref("PatellZ")
    ar = _arrays(fit, np.full(7, fit.rows), fit.fe_rows)
    res = patell_z(ar, _window(fit, 0, fit.sigma**2 * fit.fe_rows[:, 0]))
    assert res.statistic == pytest.approx(float(ref[0]["aar_z"]), rel=1e-8)
    assert res.distribution == "N(0,1)"
    # The textbook (our default) inputs use each stock's own L_i, its OLS sample
    # for Mbar and Sxx: a slightly different value, worked out here by hand.
    days = np.isfinite(fit.resid)
    fe_own = np.empty(7)
    m_all = _read(ESTUDY / "rates_indx.csv")[2][:, 0]
    dates = _read(ESTUDY / "rates_indx.csv")[1]
    m_est = m_all[(dates >= "2019-04-01") & (dates <= "2020-03-13")]
    for i in range(7):
        mi = m_est[days[i]]
        fe_own[i] = (
            1 + 1 / mi.size + (fit.market_event[0] - mi.mean()) ** 2 / np.sum((mi - mi.mean()) ** 2)
        )
    z_own = np.sum(fit.ar[:, 0] / (fit.sigma * np.sqrt(fe_own))) / math.sqrt(
        np.sum((fit.n_obs - 2) / (fit.n_obs - 4))
    )
    ar2 = _arrays(fit, fit.n_obs, fit.fe_rows)
    res2 = patell_z(ar2, _window(fit, 0, fit.sigma**2 * fe_own))
    assert res2.statistic == pytest.approx(z_own, rel=1e-12)
    assert abs(res2.statistic - res.statistic) > 1e-4  # the conventions do differ here


def test_patell_cumulative_matches_eventstudy(fit: Fit) -> None:
    # EventStudy cumulates *standardised daily* ARs: CSAR_i = (SAR_i0 + SAR_i1) /
    # sqrt(2), whereas we standardise the CAR by its own CLM variance.  The two agree
    # in the aggregation step, which is what this checks: a WindowCAR whose CAR is
    # sum_t SAR_it with variance 2 (the SARs have unit variance) gives CSAR_i.
    ref = _ref("PatellZ")
    sar = fit.ar / (fit.sigma[:, None] * np.sqrt(fit.fe_rows))
    ar = _arrays(fit, np.full(7, fit.rows), fit.fe_rows)
    w = _window(fit, 1, np.full(7, 2.0), car=sar.sum(axis=1))
    res = patell_z(ar, w)
    assert res.statistic == pytest.approx(float(ref[1]["caar_z"]), rel=1e-8)
