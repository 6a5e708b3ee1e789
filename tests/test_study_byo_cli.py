"""Bring-your-own CLI: `mib study run --returns R.csv --benchmark M.csv --events E.csv ...`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from shared_support import require_shared
except ImportError:  # pragma: no cover
    from tests.shared_support import require_shared

try:
    from cli_support import run_cli
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import run_cli

try:
    from test_study_estudy2_missing import missing_case
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.test_study_estudy2_missing import missing_case


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    return run_cli(capsys, *argv)


REF = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "estudy2"
SECS = ["AMZN", "ZM", "UBER", "NFLX", "SHOP", "FB", "UPWK"]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2021-01-01", periods=160)
    m = rng.normal(0, 0.01, 160)
    r = pd.DataFrame({s: 0.9 * m + rng.normal(0, 0.02, 160) for s in ("A", "B", "C")}, index=idx)
    r.iloc[150, 0] += 0.05
    paths = {"R": tmp_path / "R.csv", "M": tmp_path / "M.csv", "E": tmp_path / "E.csv"}
    r.to_csv(paths["R"], index_label="date", date_format="%Y-%m-%d", na_rep="NA")
    pd.DataFrame({"SPX": m}, index=idx).to_csv(
        paths["M"], index_label="date", date_format="%Y-%m-%d"
    )
    pd.DataFrame(
        {
            "event_id": ["ev", "ev", "ev"],
            "security": ["A", "B", "C"],
            "day0": [idx[150].strftime("%Y-%m-%d")] * 3,
        }
    ).to_csv(paths["E"], index=False)
    return paths


def _base(f: dict[str, Path], out: Path) -> list[str]:
    return [
        "study",
        "run",
        "--returns",
        str(f["R"]),
        "--benchmark",
        str(f["M"]),
        "--events",
        str(f["E"]),
        "--estimation",
        "-120:-11",
        "--window",
        "0:1",
        "--window",
        "-1:1",
        "--min-obs",
        "100",
        "--placebo",
        "0",
        "--out",
        str(out),
    ]


def test_writes_the_four_files_with_stable_columns(files, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, _ = _run(_base(files, out), capsys)
    assert code == 0 and "Attrition" in stdout
    ar = pd.read_csv(out / "ar.csv")
    car = pd.read_csv(out / "car.csv")
    tests = pd.read_csv(out / "tests.csv", keep_default_na=False)
    att = pd.read_csv(out / "attrition.csv")
    assert list(ar.columns[:5]) == ["event_id", "security", "rel_day", "date", "ar"]
    assert list(car.columns[:5]) == ["event_id", "security", "window", "car", "car_se"]
    assert list(tests.columns[:8]) == [
        "level",
        "group",
        "window",
        "rel_day",
        "test",
        "statistic",
        "pvalue",
        "n",
    ]
    assert list(att.columns) == ["event_id", "security", "day0", "group", "reason", "detail"]
    assert len(ar) == 3 * 3 and set(car.window) == {"[0,+1]", "[-1,+1]"}
    a = car[(car.security == "A") & (car.window == "[0,+1]")].car.iloc[0]
    assert a == pytest.approx(ar[(ar.security == "A") & (ar.rel_day >= 0)].ar.sum(), rel=1e-12)
    assert a > 0.03  # the planted +5 % on day 0


def test_per_security_benchmark_columns(files, tmp_path, capsys):
    r = pd.read_csv(files["R"], index_col=0)
    m = pd.read_csv(files["M"], index_col=0)
    per = pd.DataFrame({s: m["SPX"] for s in r.columns}, index=m.index)
    per.to_csv(files["M"])
    code, _, _ = _run(_base(files, tmp_path / "o1"), capsys)
    assert code == 0
    per.drop(columns="C").to_csv(files["M"])
    code, _, err = _run(_base(files, tmp_path / "o2"), capsys)
    assert code == 1 and "no benchmark column" in err and "'C'" in err


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (
            lambda f, a: a.__setitem__(a.index("--returns") + 1, str(f["R"]) + ".nope"),
            "file not found",
        ),
        (lambda f, a: a.__setitem__(a.index("--window") + 1, "0-1"), "--window: not a window"),
        (lambda f, a: a.__setitem__(a.index("--estimation") + 1, "-5:3"), "overlaps"),
        (lambda f, a: a.extend(["--model", "capm"]), "unknown model"),
        (lambda f, a: a.extend(["--conventions", "r"]), "unknown conventions"),
        (
            lambda f, a: a.extend(["--missing", "skip"]),
            "expected require_day0 | drop_day | drop_instance",
        ),
    ],
)
def test_bad_options_one_line(files, tmp_path, capsys, mutate, needle):
    argv = _base(files, tmp_path / "out")
    mutate(files, argv)
    code, _, err = _run(argv, capsys)
    assert code == 1
    assert needle in err and len(err.strip().splitlines()) == 1


def test_bad_event_file_lines(files, tmp_path, capsys):
    files["E"].write_text("event_id,security,day0\nev,A,2021-07-01\nev,ZZZ,2021-07-01\n")
    code, _, err = _run(_base(files, tmp_path / "out"), capsys)
    assert code == 1 and "E.csv:3: security: unknown security (got 'ZZZ'" in err
    files["E"].write_text("event_id,security,day0\nev,A,07/01/2021\n")
    code, _, err = _run(_base(files, tmp_path / "out"), capsys)
    assert code == 1 and "E.csv:2: day0: not a date" in err
    files["R"].write_text("date,A\n2021-01-01,abc\n")
    code, _, err = _run(_base(files, tmp_path / "out"), capsys)
    assert code == 1 and "R.csv:2: A: not a number" in err


def test_estudy2_conventions_reproduce_shipped(tmp_path, capsys):
    """The README example: estudy2's shippedA through the CLI."""
    require_shared(REF)
    ev = tmp_path / "E.csv"
    pd.DataFrame({"event_id": "covid", "security": SECS, "day0": "2020-03-16"}).to_csv(
        ev, index=False
    )
    out = tmp_path / "out"
    argv = [
        "study",
        "run",
        "--returns",
        str(REF / "input/rates.csv"),
        "--benchmark",
        str(REF / "input/rates_indx.csv"),
        "--events",
        str(ev),
        "--estimation",
        "-240:-1",
        "--window",
        "0:4",
        "--model",
        "sim",
        "--conventions",
        "estudy2",
        "--placebo",
        "0",
        "--out",
        str(out),
    ]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    ar = pd.read_csv(out / "ar.csv").pivot(index="date", columns="security", values="ar")
    ref = pd.read_csv(REF / "output/shippedA_sim_event_ar_wide.csv", index_col=0)
    np.testing.assert_allclose(ar.loc[ref.index, ref.columns], ref, rtol=1e-10, atol=1e-15)
    t = pd.read_csv(out / "tests.csv", keep_default_na=False)
    t = t[(t.level == "estudy2") & (t.window == "[0,+4]")].set_index("test")
    ct = pd.read_csv(REF / "output/shippedA_sim_car_tests.csv")
    ct = ct[ct.window == "full"].set_index("name")
    for name in ct.index:
        assert float(t.loc[name, "statistic"]) == pytest.approx(ct.loc[name, "statistic"], rel=1e-8)


def _missing_case_files(tmp_path: Path) -> list[str]:
    """estudy2's missing-data case (see test_study_estudy2_missing) as R.csv, M.csv, E.csv."""
    require_shared(REF)
    r, m = missing_case()
    paths = {k: tmp_path / f"{k}.csv" for k in "RME"}
    r.to_csv(paths["R"], index_label="date", na_rep="NA", float_format="%.17g")
    m.to_frame("SPX").to_csv(paths["M"], index_label="date", na_rep="NA", float_format="%.17g")
    pd.DataFrame({"event_id": "missingA", "security": SECS, "day0": "2020-03-16"}).to_csv(
        paths["E"], index=False
    )
    return [
        "study",
        "run",
        "--returns",
        str(paths["R"]),
        "--benchmark",
        str(paths["M"]),
        "--events",
        str(paths["E"]),
        "--estimation",
        "-240:-1",
        "--window",
        "0:4",
        "--model",
        "sim",
        "--conventions",
        "estudy2",
        "--placebo",
        "0",
    ]


def test_estudy2_preset_missing_data_default_options(tmp_path, capsys):
    """Was an IndexError (scaled Wilcoxon V = 24.5 > 21 on day +4); now R's exact p."""
    out = tmp_path / "out"
    code, stdout, err = _run([*_missing_case_files(tmp_path), "--out", str(out)], capsys)
    assert code == 0, err
    assert "min obs 3, missing days: require_day0" in stdout
    assert pd.read_csv(out / "attrition.csv").empty  # UPWK (103 estimation days) is kept
    t = pd.read_csv(out / "tests.csv", keep_default_na=False)
    w = t[(t.level == "estudy2") & (t.test == "wilcoxon")].sort_values("rel_day")
    # R 4.2.2: min(1, 2 * min(psignrank(v, n), psignrank(v - 1, n, lower.tail = FALSE)))
    np.testing.assert_allclose(w.statistic.astype(float), [56 / 3, 10, 15, 27, 24.5], rtol=1e-12)
    np.testing.assert_allclose(
        w.pvalue.astype(float),
        [0.093750000000000042, 0.578125, 0.9375, 0.03125, 0.0],
        rtol=1e-12,
        atol=0,
    )


def test_estudy2_preset_explicit_min_obs(tmp_path, capsys):
    out = tmp_path / "out"
    argv = [*_missing_case_files(tmp_path), "--min-obs", "120", "--out", str(out)]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    att = pd.read_csv(out / "attrition.csv")
    assert att.security.tolist() == ["UPWK"] and att.reason.tolist() == ["estimation_too_short"]
