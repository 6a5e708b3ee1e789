"""The Python API: event_study on DataFrames (parity with the CLI and with estudy2),
labelled results, typed errors, figures that leave the backend alone, doctests, import time."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import backtest

try:
    from cli_support import one_error_line, run_cli
    from shared_support import require_shared
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line, run_cli
    from tests.shared_support import require_shared

REF = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "estudy2"
WINDOWS = {"full": (0, 4), "d0": (0, 0), "d0_d2": (0, 2)}
LABELS = {"full": "[0,+4]", "d0": "[0,0]", "d0_d2": "[0,+2]"}


@pytest.fixture(scope="module")
def estudy2_frames() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    require_shared(REF)
    r = pd.read_csv(REF / "input" / "rates.csv", index_col=0, parse_dates=True)
    m = pd.read_csv(REF / "input" / "rates_indx.csv", index_col=0, parse_dates=True)["^GSPC"]
    ev = pd.DataFrame({"event_id": "covid", "security": r.columns, "day0": "2020-03-16"})
    return r, m, ev


def _estudy2(frames, **kw):
    r, m, ev = frames
    return backtest.event_study(
        r,
        m,
        ev,
        estimation=(-240, -1),
        windows=list(WINDOWS.values()),
        model="sim",
        conventions="estudy2",
        placebo=0,
        **kw,
    )


def test_estudy2_example_matches_estudy2_outputs(estudy2_frames):
    res = _estudy2(estudy2_frames)
    ref = pd.read_csv(REF / "output" / "shippedA_sim_event_ar_wide.csv", index_col=0)
    wide = res.ar.assign(date=res.ar["date"].dt.strftime("%Y-%m-%d")).pivot(
        index="date", columns="security", values="ar"
    )
    np.testing.assert_allclose(wide.loc[ref.index, ref.columns], ref, rtol=1e-10, atol=1e-15)
    cars = pd.read_csv(REF / "output" / "shippedA_sim_car_by_security.csv")
    tests = pd.read_csv(REF / "output" / "shippedA_sim_car_tests.csv")
    for name, label in LABELS.items():
        want = cars[cars["window"] == name].set_index("security")["car_sum_ar"]
        got = res.car[res.car["window"] == label].set_index("security")["car"]
        np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-10, atol=1e-15)
        t = tests[tests["window"] == name]
        for row in t.itertuples():
            key = ("estudy2 * / all", label, row.name)
            assert res.tstats[key] == pytest.approx(row.statistic, rel=1e-10)
            assert res.pvalues[key] == pytest.approx(row.pvalue, rel=1e-10, abs=1e-15)


def test_cli_bring_your_own_is_the_same_function_to_the_last_bit(estudy2_frames, tmp_path, capsys):
    ev = estudy2_frames[2]
    ev.to_csv(tmp_path / "E.csv", index=False)
    out = tmp_path / "out"
    argv = [
        "study", "run",
        "--returns", str(REF / "input" / "rates.csv"),
        "--benchmark", str(REF / "input" / "rates_indx.csv"),
        "--events", str(tmp_path / "E.csv"),
        "--estimation", "-240:-1",
        "--window", "0:4", "--window", "0:0", "--window", "0:2",
        "--model", "sim", "--conventions", "estudy2", "--placebo", "0",
        "--out", str(out),
    ]  # fmt: skip
    code, stdout, err = run_cli(capsys, *argv)
    assert code == 0, err
    res = _estudy2(estudy2_frames)
    assert str(res.summary()) in stdout
    cli_ar = pd.read_csv(out / "ar.csv")
    assert np.array_equal(cli_ar["ar"].to_numpy(), res.ar["ar"].to_numpy())
    cli_car = pd.read_csv(out / "car.csv")
    for col in ("car", "car_se", "bhar", "t_stat", "t_pvalue"):
        assert np.array_equal(cli_car[col].to_numpy(), res.car[col].to_numpy(), equal_nan=True)
    cli_t = pd.read_csv(out / "tests.csv", keep_default_na=False)
    for col in ("statistic", "pvalue"):
        got = pd.to_numeric(cli_t[col].replace("", np.nan)).to_numpy(dtype=float)
        assert np.array_equal(got, res.tests[col].to_numpy(dtype=float), equal_nan=True)


def _small(seed: int = 4, n_events: int = 3):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2022-01-03", periods=320)
    m = pd.Series(rng.normal(0, 0.01, len(days)), index=days, name="SPX")
    secs = [f"S{i}" for i in range(6)]
    r = pd.DataFrame({s: 0.8 * m + rng.normal(0, 0.015, len(days)) for s in secs}, index=days)
    rows = []
    for k in range(n_events):
        d0 = days[260 + 15 * k]
        r.loc[d0, secs[:3]] += 0.04  # expected to gain
        r.loc[d0, secs[3:]] -= 0.04  # expected to fall
        rows += [
            {
                "event_id": f"e{k}",
                "security": s,
                "day0": d0,
                "group": "up" if s in secs[:3] else "down",
                "direction": "tightening",
                "expected_sign": 1 if s in secs[:3] else -1,
            }
            for s in secs
        ]
    return r, m, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def small():
    r, m, ev = _small()
    res = backtest.event_study(
        r, m, ev, estimation=(-200, -11), windows=[(0, 0), (0, 1)], min_obs=150, placebo=50
    )
    return r, m, ev, res


def test_long_returns_and_per_security_benchmarks_agree_with_wide(small):
    r, m, ev, res = small
    long = r.stack().rename("ret").rename_axis(["date", "security"]).reset_index()
    per = pd.DataFrame({f"B_{s}": m for s in r.columns})
    mapping = {s: f"B_{s}" for s in r.columns}
    for args, kw in (((long, m), {}), ((r, per), {"benchmark_map": mapping})):
        again = backtest.event_study(
            *args, ev, estimation=(-200, -11), windows=[(0, 0), (0, 1)], min_obs=150,
            placebo=50, **kw,
        )  # fmt: skip
        assert np.array_equal(again.car["car"].to_numpy(), res.car["car"].to_numpy())
        pd.testing.assert_series_equal(again.pvalues, res.pvalues)


def test_labelled_pvalues_and_tstats_come_from_the_tests_table(small):
    *_, res = small
    assert res.pvalues.index.names == ["pool", "window", "test"]
    assert res.pvalues.index.is_unique and res.tstats.index.equals(res.pvalues.index)
    t = res.tests
    row = t[
        (t["level"] == "pooled")
        & (t["event"] == "direction=tightening,signed")
        & (t["group"] == "*")
        & (t["window"] == "[0,0]")
        & (t["test"] == "kp_bmp_t")
    ].iloc[0]
    key = ("pooled direction=tightening,signed / *", "[0,0]", "kp_bmp_t")
    assert res.pvalues[key] == row["pvalue"] and res.tstats[key] == row["statistic"]
    # the event-level t: the mean of per-cluster signed CARs over its standard error
    car = res.car[res.car["window"] == "[0,0]"].merge(res.instances, on=["event_id", "security"])
    per = (car["car"] * car["expected_sign"]).groupby(car["cluster"]).mean()
    t_event = per.mean() / (per.std(ddof=1) / np.sqrt(len(per)))
    key = ("pooled direction=tightening,signed / *", "[0,0]", "event_t")
    assert res.tstats[key] == pytest.approx(t_event, rel=1e-12)
    assert res.tstats[key] > 5  # +4 % planted against 1.5 % noise, in the expected direction


def test_frames_and_summary(small):
    *_, res = small
    assert res.to_frame().equals(res.tests)
    assert res.to_frame("bhar").columns.tolist()[:4] == ["event_id", "security", "group", "window"]
    assert len(res.to_frame("pooled")) == len(res.pooled) > 0
    with pytest.raises(backtest.MibError, match="kind: unknown table"):
        res.to_frame("nope")
    s = res.summary()
    text = str(s)
    assert isinstance(s, backtest.Summary) and len(text.splitlines()) <= 40
    assert "pooled direction=tightening,signed / *" in text and "kp_bmp_t" in text
    assert "Placebo: 50 pseudo-event draws (seed 0)" in text
    html = s._repr_html_()
    assert html.startswith("<div") and "<table>" in html
    assert s.warnings and all(escape(w) in html for w in s.warnings)  # text is escaped
    assert len(s.table) == len(s.rows)


def test_figures_leave_the_backend_alone(small):
    import matplotlib
    from matplotlib.figure import Figure

    *_, res = small
    before = matplotlib.rcParams._get_backend_or_none()
    fig = res.plot_caar("pooled direction=tightening,signed / *")
    assert isinstance(fig, Figure) and isinstance(res.plot_paths("e0"), Figure)
    line = fig.axes[0].lines[-1]
    # the signed CAAR path on day 0 is the mean signed CAR[0,0] (x 100, percent)
    day0 = dict(zip(line.get_xdata(), line.get_ydata(), strict=True))[0]
    car = res.car[res.car["window"] == "[0,0]"].merge(res.instances, on=["event_id", "security"])
    assert day0 == pytest.approx(100 * (car["car"] * car["expected_sign"]).mean(), rel=1e-12)
    assert matplotlib.rcParams._get_backend_or_none() == before
    with pytest.raises(backtest.MibError, match="pool: not a pool label"):
        res.plot_caar("nonsense")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r, m, e: (r * 100, m, e), "looks like percent returns"),
        (lambda r, m, e: (r, None, e), "benchmark: this model needs a benchmark"),
        (lambda r, m, e: (r, m, e.assign(security="ZZZ")), "unknown security (got 'ZZZ'"),
        (lambda r, m, e: (r, m, e.drop(columns="day0")), "missing columns (got 'day0'"),
        (lambda r, m, e: (r, m, e.assign(day0="someday")), "not a date"),
        (lambda r, m, e: (r.reset_index(drop=True), m, e), "returns index is not dates"),
    ],
)
def test_mistakes_are_typed_one_line_errors(change, needle):
    r, m, ev = _small(n_events=1)
    with pytest.raises(backtest.MibError) as err:
        backtest.event_study(*change(r, m, ev), estimation=(-200, -11), min_obs=150, placebo=0)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_bad_options_and_spec_with_options():
    r, m, ev = _small(n_events=1)
    with pytest.raises(backtest.MibError, match="model: unknown model"):
        backtest.event_study(r, m, ev, model="capm")
    with pytest.raises(backtest.MibError, match="overlaps the event window"):
        backtest.event_study(r, m, ev, estimation=(-20, 3))
    spec = backtest.StudySpec(estimation=(-200, -11), min_estimation_obs=150, placebo_draws=0)
    with pytest.raises(backtest.MibError, match="placebo: options given together with spec"):
        backtest.event_study(r, m, ev, spec=spec, placebo=5)
    with pytest.raises(backtest.MibError, match="no event instance survived"):
        backtest.event_study(r.iloc[-80:], m, ev, estimation=(-200, -11), min_obs=150, placebo=0)


def test_there_is_no_benchmark_model_and_the_aliases_are_exact(tmp_path, capsys):
    """``benchmark`` used to run market_adjusted under another name: now refused in one
    line pointing to market_adjusted, by the API and by ``mib study run``; estudy2's names
    give the very same numbers as mib's."""
    from backtest.api.study import MODEL_ALIASES

    r, m, ev = _small(n_events=1)
    kw = {"estimation": (-200, -11), "min_obs": 150, "placebo": 0}
    with pytest.raises(backtest.MibError) as err:
        backtest.event_study(r, m, ev, model="benchmark", **kw)
    assert "use market_adjusted" in str(err.value) and "\n" not in str(err.value)
    assert "benchmark" not in MODEL_ALIASES
    for alias, name in (
        ("sim", "market"),
        ("mean_adj", "constant_mean"),
        ("mrkt_adj", "market_adjusted"),
    ):
        a = backtest.event_study(r, m, ev, model=alias, **kw)
        b = backtest.event_study(r, m, ev, model=name, **kw)
        assert a.spec.model == name
        pd.testing.assert_frame_equal(a.car, b.car)
    # market_adjusted: AR = R - the benchmark, whatever the benchmark is (no slope).
    ma = backtest.event_study(r, m, ev, model="market_adjusted", **kw)
    row = ma.ar.iloc[0]
    want = r.loc[row["date"], row["security"]] - m.loc[row["date"]]
    assert row["ar"] == pytest.approx(want, abs=1e-15)
    r.to_csv(tmp_path / "R.csv", index_label="date")
    m.to_frame("SPX").to_csv(tmp_path / "M.csv", index_label="date")
    ev.to_csv(tmp_path / "E.csv", index=False)
    args = ["study", "run", "--returns", str(tmp_path / "R.csv"), "--benchmark"]
    args += [str(tmp_path / "M.csv"), "--events", str(tmp_path / "E.csv")]
    code, _, err = run_cli(capsys, *args, "--model", "benchmark", "--out", str(tmp_path / "o"))
    one_error_line(code, err, "--model", "use market_adjusted")


def test_catalog_facade():
    cat = backtest.Catalog.load(version=5)
    assert cat.version.startswith("v5:") and len(cat.events) == len(cat)
    inst = cat.align(securities=("NVDA",), stage="official")
    assert set(inst["security"]) <= {"NVDA"} and set(inst["event_id"]) <= set(
        cat.events["event_id"]
    )
    first = cat.events["event_id"].iloc[0]
    assert cat.history(first)["kind"].iloc[0] == "announce"
    with pytest.raises(backtest.MibError, match="no record about this id"):
        cat.history("no-such-event")
    with pytest.raises(backtest.MibError, match="unknown_time"):
        cat.align(unknown_time="noon")  # type: ignore[arg-type]


def test_load_run_needs_a_path_or_mib_run(monkeypatch):
    monkeypatch.delenv("MIB_RUN", raising=False)
    with pytest.raises(backtest.MibError, match="MIB_RUN: no run folder given"):
        backtest.load_run()


PUBLIC_MODULES = (
    "backtest",
    "backtest.api.study",
    "backtest.api.catalog",
    "backtest.study.results",
    "backtest.runio",
)


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_doctests(module):
    got = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert got.failed == 0 and got.attempted > 0


def test_every_public_name_is_documented():
    for name in backtest.__all__[1:]:
        obj = getattr(backtest, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, name


def test_import_is_fast_and_lazy():
    code = (
        "import sys, time; t = time.perf_counter(); import backtest; "
        "print(time.perf_counter() - t, 'pandas' in sys.modules)"
    )
    best = min(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()[0])
        for _ in range(3)
    )  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert best < 0.3 and out.stdout.split()[1] == "False"
