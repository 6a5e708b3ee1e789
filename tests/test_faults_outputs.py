"""Output and environment faults: one clear line, nothing already stored is lost.

Each class of fault is one parametrised test.  Every case asserts the exit code,
the one ``mib: error:`` line, no traceback, and that the folder it ran in is
byte-identical afterwards (no partial output, no earlier output changed).  The
pipeline's heavy steps are replaced by small tables so the whole file runs in
seconds; the real steps are exercised by test_demo_run.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import backtest.runio as runio
from backtest.errors import SpecError

try:
    from cli_support import run_cli
    from test_report_build import _fake_run
    from test_strategy_cli import _fake_inputs
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import run_cli
    from tests.test_report_build import _fake_run
    from tests.test_strategy_cli import _fake_inputs


# -- helpers --------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def one_error(code: int, err: str, needle: str, *, only: bool = True) -> str:
    """The single ``mib: error:`` line (the last; the only line when ``only``)."""
    lines = err.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("mib: error:")]
    assert code == 1, err
    assert "Traceback" not in err
    assert len(errors) == 1 and lines[-1] == errors[0], err
    if only:
        assert len(lines) == 1, err
    assert needle in errors[0], errors[0]
    return errors[0]


def byo_files(root: Path, kind: str = "ok") -> list[str]:
    """Small R.csv, M.csv, E.csv in ``root`` and the bring-your-own arguments (no --out).

    kind: ok | prices (R is price levels) | percent (one column in percent) |
    percent_benchmark | none_survive (day 0 too early for any estimation window).
    """
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2021-01-01", periods=160)
    m = rng.normal(0, 0.01, 160)
    r = pd.DataFrame({s: 0.9 * m + rng.normal(0, 0.02, 160) for s in ("A", "B", "C")}, index=idx)
    day0 = idx[20] if kind == "none_survive" else idx[150]
    if kind == "prices":
        r = 50.0 * (1.0 + r).cumprod()
    elif kind == "percent":
        r["B"] *= 100.0
    elif kind == "percent_benchmark":
        m = m * 100.0
    root.mkdir(parents=True, exist_ok=True)
    paths = {k: root / f"{k}.csv" for k in "RME"}
    r.to_csv(paths["R"], index_label="date", date_format="%Y-%m-%d")
    pd.DataFrame({"SPX": m}, index=idx).to_csv(
        paths["M"], index_label="date", date_format="%Y-%m-%d"
    )
    pd.DataFrame(
        {"event_id": "ev", "security": ["A", "B", "C"], "day0": day0.strftime("%Y-%m-%d")}
    ).to_csv(paths["E"], index=False)
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
        "-120:-11",
        "--window",
        "0:1",
        "--min-obs",
        "100",
        "--placebo",
        "0",
    ]


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if any computation starts (options must be checked before)."""
    import backtest.cli.backtest as cli_backtest
    import backtest.pipeline as pipeline

    def refuse(*_a, **_k):
        raise AssertionError("computation started before the options were checked")

    monkeypatch.setattr(pipeline, "prepare_inputs", refuse)
    monkeypatch.setattr(cli_backtest, "load_inputs", refuse)


@pytest.fixture
def fast_steps(monkeypatch, tmp_path_factory):
    """`mib run`, `mib backtest run` and `mib study run --demo` on small fixed tables."""
    import backtest.cli.backtest as cli_backtest
    import backtest.pipeline as pipeline
    import backtest.steps as steps
    from backtest.byo_io import read_inputs
    from backtest.returns import BenchmarkChoice
    from backtest.runio import load_run
    from backtest.study.engine import run_study
    from backtest.study.spec import StudySpec

    t = load_run(_fake_run(tmp_path_factory.mktemp("src"))).tables
    inputs = SimpleNamespace(
        catalog=SimpleNamespace(version="v1"),
        universe=None,
        alignment=None,
        planted=pd.DataFrame(),
        panel=SimpleNamespace(synthetic=True, content_hash=lambda: "h"),
    )
    monkeypatch.setattr(pipeline, "prepare_inputs", lambda spec: inputs)
    monkeypatch.setattr(steps, "events_table", lambda c: t["events"])
    monkeypatch.setattr(
        steps,
        "data_tables",
        lambda *a, **k: {"instances": t["instances"], "findings": pd.DataFrame()},
    )
    monkeypatch.setattr(steps, "event_masks", lambda *a, **k: pd.DataFrame(), raising=False)
    monkeypatch.setattr(
        steps,
        "study",
        lambda *a, **kw: {k: t[k] for k in ("ar", "car", "paths", "pooled", "car_summary")},
    )
    monkeypatch.setattr(steps, "spec_grid", lambda *a, **k: t["car"].iloc[:0])
    monkeypatch.setattr(steps, "grid_parts", lambda *a, which=(), **k: {i: [] for i in which})
    monkeypatch.setattr(steps, "assemble_grid", lambda parts: t["car"].iloc[:0])
    monkeypatch.setattr(steps, "backtest", lambda *a, **k: {})
    monkeypatch.setattr(
        steps,
        "manifest",
        lambda spec, c, p, u, now, run_id: {"run": {"run_id": run_id}, "data": {"synthetic": True}},
    )
    monkeypatch.setattr(cli_backtest, "load_inputs", _fake_inputs)
    root = tmp_path_factory.mktemp("byo")
    byo_files(root)
    got = read_inputs(root / "R.csv", root / "M.csv", root / "E.csv")
    result = run_study(
        got.instances,
        got.returns,
        got.market,
        StudySpec(
            estimation=(-120, -11),
            windows=((0, 1),),
            min_estimation_obs=100,
            placebo_draws=0,
        ),
    )
    empty = pd.DataFrame(
        {"security": [], "benchmark": [], "detail": [], "fallback": pd.Series(dtype=bool)}
    )
    choice = BenchmarkChoice(instances=empty, chosen=empty, dropped=empty)
    monkeypatch.setattr(steps, "run_catalog_study", lambda *a, **k: (result, None, choice))


def _make_readonly(folder: Path) -> None:
    folder.chmod(0o555)
    probe = folder / ".w"
    try:
        probe.mkdir()
    except OSError:
        return
    probe.rmdir()  # root ignores modes: make the folder immutable instead
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0
    ):
        folder.chmod(0o755)
        pytest.skip("cannot make a read-only folder here")


def _undo_readonly(folder: Path) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def _full_disk_after(monkeypatch, n_ok: int) -> None:
    """The table writer writes half of file ``n_ok + 1`` and then fails with ENOSPC."""
    real = runio.write_file
    calls = [0]

    def write_file(path: Path, data: bytes) -> str:
        calls[0] += 1
        if calls[0] > n_ok:
            real(path, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(runio, "write_file", write_file)


# -- 1. options and the output folder: checked before any computation ----------------


def _existing_file(tmp: Path) -> str:
    (tmp / "notes.txt").write_text("keep me\n")
    return str(tmp / "notes.txt")


PRE = [
    (
        "run --out FILE",
        lambda t: ["run", "--demo", "--no-pdf", "--out", _existing_file(t)],
        "--out: not a folder",
    ),
    (
        "run --out FILE/sub",
        lambda t: ["run", "--demo", "--out", _existing_file(t) + "/sub"],
        "--out: not a folder (got '",
    ),
    (
        "backtest --out FILE",
        lambda t: ["backtest", "run", "--demo", "--out", _existing_file(t)],
        "--out: not a folder",
    ),
    (
        "study --demo --out FILE",
        lambda t: ["study", "run", "--demo", "--placebo", "0", "--out", _existing_file(t)],
        "--out: not a folder",
    ),
    (
        "study byo --out FILE",
        lambda t: [*byo_files(t / "in"), "--out", _existing_file(t)],
        "--out: not a folder",
    ),
    (
        "run --seed -1",
        lambda t: ["run", "--demo", "--seed", "-1", "--out", str(t / "runs")],
        "--seed: seed must not be negative (got -1; expected an integer >= 0)",
    ),
    (
        "study --seed -1",
        lambda t: [*byo_files(t / "in"), "--seed", "-1", "--out", str(t / "o")],
        "--seed: seed must not be negative",
    ),
    (
        "backtest --seed -1",
        lambda t: ["backtest", "run", "--demo", "--seed", "-1"],
        "--seed: seed must not be negative",
    ),
    (
        "run --placebo -1",
        lambda t: ["run", "--demo", "--placebo", "-1"],
        "--placebo: too small: pseudo-event draws (0 = none) (got -1; expected >= 0)",
    ),
    (
        "run --stage bogus",
        lambda t: ["run", "--demo", "--stage", "bogus"],
        "--stage: unknown event stage (got 'bogus'",
    ),
    (
        "run --log missing",
        lambda t: ["run", "--demo", "--log", str(t / "nope.yaml")],
        "--log: event log not found",
    ),
    (
        "study --demo --prices-dir",
        lambda t: ["study", "run", "--demo", "--prices-dir", str(t)],
        "choose one price source (got '--demo --prices-dir'",
    ),
    (
        "study --returns --demo",
        lambda t: [*byo_files(t / "in"), "--demo", "--out", str(t)],
        "a price source has no use in bring-your-own mode",
    ),
    (
        "backtest --demo --from-cache",
        lambda t: ["backtest", "run", "--demo", "--from-cache"],
        "choose one price source",
    ),
]


@pytest.mark.parametrize(("argv", "needle"), [p[1:] for p in PRE], ids=[p[0] for p in PRE])
def test_options_and_output_folder_checked_first(no_compute, tmp_path, capsys, argv, needle):
    args = argv(tmp_path)
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, *args)
    one_error(code, err, needle)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["run", "backtest", "study_byo", "study_demo", "report"])
def test_read_only_or_full_output_folder_checked_first(
    no_compute, monkeypatch, tmp_path, capsys, command
):
    folder = tmp_path / "ro"
    folder.mkdir()
    if command == "report":
        run_dir = _fake_run(tmp_path / "runs")
        args, folder = ["report", "build", str(run_dir), "--no-pdf"], run_dir
    else:
        args = {
            "run": ["run", "--demo", "--no-pdf"],
            "backtest": ["backtest", "run", "--demo"],
            "study_byo": byo_files(tmp_path / "in"),
            "study_demo": ["study", "run", "--demo"],
        }[command]
        args = [*args, "--out", str(folder / "out")]
    before = snapshot(tmp_path)
    _make_readonly(folder)
    try:
        code, _, err = run_cli(capsys, *args)
    finally:
        _undo_readonly(folder)
    one_error(code, err, "cannot write in")
    assert snapshot(tmp_path) == before
    monkeypatch.setattr(
        runio.shutil, "disk_usage", lambda p: SimpleNamespace(total=10**9, used=10**9, free=10**5)
    )
    code, _, err = run_cli(capsys, *args)
    one_error(code, err, "not enough free space (got '0.1 MB free in")
    assert snapshot(tmp_path) == before


def test_bad_dates_and_seeds_in_a_run_spec():
    from backtest.pipeline import RunSpec, parse_day

    for kw, needle in (
        (dict(start="2025-13-01"), "start: not a date (got '2025-13-01'"),
        (dict(end="2017-01-01"), "end: the price history ends before"),
        (dict(start="2025-1-1"), "expected YYYY-MM-DD"),
    ):
        with pytest.raises(SpecError, match=needle.replace("(", r"\(")):
            RunSpec(**kw)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        RunSpec(seed=-1)
    assert str(parse_day("2025-02-28", "--start")) == "2025-02-28"


# -- 2. disk full part-way: a complete folder or nothing -------------------------------


def _disk_full_case(command: str, tmp: Path) -> tuple[list[str], Path]:
    out = tmp / "out"
    if command == "run":
        return ["run", "--demo", "--no-pdf", "--placebo", "0", "--out", str(out)], out
    if command == "backtest":
        return ["backtest", "run", "--demo", "--no-robustness", "--out", str(out)], out
    if command == "study_demo":
        return ["study", "run", "--demo", "--placebo", "0", "--out", str(out)], out
    return [*byo_files(tmp / "in"), "--out", str(out)], out


@pytest.mark.parametrize("command", ["run", "backtest", "study_byo", "study_demo"])
@pytest.mark.parametrize("n_ok", [0, 3])
@pytest.mark.slow
def test_disk_full_leaves_earlier_outputs_intact(
    fast_steps, monkeypatch, tmp_path, capsys, command, n_ok
):
    args, out = _disk_full_case(command, tmp_path)
    code, _, err = run_cli(capsys, *args)  # a first, complete run
    assert code == 0, err
    before = snapshot(tmp_path)
    _full_disk_after(monkeypatch, n_ok)
    code, _, err = run_cli(capsys, *args)
    line = one_error(
        code, err, "writing the outputs failed: No space left on device [ENOSPC]", only=False
    )
    assert "nothing was written" in line and str(out) in line
    assert snapshot(tmp_path) == before  # no partial folder, no truncated file


def test_disk_full_on_a_fresh_target_leaves_nothing(monkeypatch, tmp_path, capsys):
    _full_disk_after(monkeypatch, 4)
    args = [*byo_files(tmp_path / "in"), "--out", str(tmp_path / "a" / "b" / "out")]
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, *args)
    one_error(code, err, "No space left on device")
    assert snapshot(tmp_path) == before  # not even the parents it would have created


def test_disk_full_while_rebuilding_a_report_keeps_the_old_one(monkeypatch, tmp_path, capsys):
    run_dir = _fake_run(tmp_path)
    code, _, err = run_cli(capsys, "report", "build", str(run_dir), "--no-pdf")
    assert code == 0, err
    before = snapshot(tmp_path)

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runio.os, "fsync", fsync)
    code, _, err = run_cli(capsys, "report", "build", str(run_dir), "--no-pdf")
    one_error(code, err, "writing the report failed: No space left on device")
    assert snapshot(tmp_path) == before


# -- 3. a damaged run folder is refused, naming the table ------------------------------


def _drop_three(run: Path) -> None:
    for name in ("car", "pooled", "paths"):
        (run / "tables" / f"{name}.parquet").unlink()


def _truncate(run: Path) -> None:
    p = run / "tables" / "ar.parquet"
    p.write_bytes(p.read_bytes()[:100])


def _edit_csv(run: Path) -> None:
    p = run / "tables" / "car.csv"
    p.write_text(p.read_text().replace("e1", "e9"))


def _old_format(run: Path) -> None:
    import json

    m = json.loads((run / "run.json").read_text())
    del m["tables"]
    (run / "run.json").write_text(json.dumps(m))


def _old_and_truncated(run: Path) -> None:
    _old_format(run)
    _truncate(run)


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (_drop_three, "tables/car.parquet: table missing from the run folder"),
        (_truncate, "tables/ar.parquet: table changed since the run was written (got 'sha256 "),
        (_edit_csv, "tables/car.csv: table changed since the run was written"),
        (_old_and_truncated, "tables/ar.parquet: cannot read table"),
    ],
)
def test_damaged_run_folder_is_refused(tmp_path, capsys, damage, needle):
    run_dir = _fake_run(tmp_path)
    damage(run_dir)
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, "report", "build", str(run_dir), "--no-pdf")
    one_error(code, err, needle)
    assert snapshot(tmp_path) == before  # no report built from a damaged folder


def test_old_run_folder_without_hashes_builds_with_a_warning(tmp_path, capsys):
    run_dir = _fake_run(tmp_path)
    _old_format(run_dir)
    code, out, err = run_cli(capsys, "report", "build", str(run_dir), "--no-pdf")
    assert code == 0 and "report:" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mib: warning:")
    assert "lists no table hashes" in lines[0]


# -- 4. bring-your-own series that are not returns; nothing survives -------------------


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        (
            "prices",
            "R.csv: A: looks like price levels, not decimal returns (got 'all 160 values positive",
        ),
        (
            "percent",
            "R.csv: B: looks like percent returns, not decimal returns (got 'median |value|",
        ),
        ("percent_benchmark", "M.csv: SPX: looks like percent returns"),
        (
            "none_survive",
            "instances: no event instance survived; nothing was written (got '0 of 3 "
            "used, dropped: estimation_too_short 3; e.g. ev/A: required=100 available=10'",
        ),
    ],
)
def test_byo_inputs_that_are_not_returns(tmp_path, capsys, kind, needle):
    args = [*byo_files(tmp_path / "in", kind), "--out", str(tmp_path / "out")]
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, *args)
    line = one_error(code, err, needle)
    if kind in ("prices", "percent"):
        assert "median |value| <= 0.2" in line  # the thresholds are in the message
    assert snapshot(tmp_path) == before


# -- 5. every output file of a run has the same mode (0666 & ~umask) -------------------


@pytest.mark.parametrize("command", ["run", "backtest", "study_byo", "study_demo"])
@pytest.mark.slow
def test_output_modes_follow_the_umask(fast_steps, tmp_path, capsys, command):
    args, _ = _disk_full_case(command, tmp_path)
    if command == "run":
        args.remove("--no-pdf")
        pytest.importorskip("weasyprint")
    old = os.umask(0o027)
    try:
        code, _, err = run_cli(capsys, *args)
    finally:
        os.umask(old)
    assert code == 0, err
    out = tmp_path / "out"
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "run.json" in names
    if command == "run":
        assert {"report.html", "report.pdf"} <= names
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o640)}
    assert {oct(p.stat().st_mode & 0o777) for p in [out, *out.rglob("*")] if p.is_dir()} <= {
        oct(0o750)
    }


# -- 6. default run folders, progress and summary -------------------------------------


@pytest.mark.parametrize("command", ["backtest", "study_demo"])
@pytest.mark.slow
def test_default_run_folder_progress_and_summary(
    fast_steps, monkeypatch, tmp_path, capsys, command
):
    monkeypatch.chdir(tmp_path)
    args = (
        ["backtest", "run", "--demo", "--no-robustness"]
        if command == "backtest"
        else ["study", "run", "--demo", "--placebo", "0"]
    )
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    runs = sorted((tmp_path / "reports").iterdir())
    assert len(runs) == 1 and (runs[0] / "run.json").is_file()
    kind = "backtest" if command == "backtest" else "study"
    assert runs[0].name.endswith(f"-{kind}-demo-s7")  # one default seed for every command
    assert "tables: reports/" in out
    assert not [ln for ln in err.splitlines() if ln.startswith("[")]  # no terminal: no progress
    code, _, err = run_cli(capsys, *args)  # a second run gets its own folder
    assert code == 0, err
    assert len(list((tmp_path / "reports").iterdir())) == 2


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["data", "import", "DIR", "--start", "2025-13-01"], "--start"),
        (["data", "import", "DIR", "--end", "2025-02-30"], "--end"),
        (["data", "import", "DIR", "--start", "2025-03-01", "--end", "2025-01-01"], "--start"),
        (["data", "fetch", "NVDA", "--start", "yesterday"], "--start"),
    ],
)
def test_bad_dates_of_data_commands_are_one_line(args, field, tmp_path, capsys):
    src = tmp_path / "px"
    src.mkdir()
    (src / "NVDA.csv").write_text("Date,Close\n2024-01-02,10\n2024-01-03,11\n")
    cache = tmp_path / "cache"
    argv = [str(src) if a == "DIR" else a for a in args] + ["--cache-dir", str(cache)]
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"mib: error: {field}:")
    assert not cache.exists()  # checked before any work: nothing written


def test_tables_encoded_ahead_are_written_as_encoding_them_then_would(tmp_path):
    """write_run_folder writes a pre-encoded table's bytes only when they were made from
    the very frame it is given; a table replaced since is encoded again."""
    a = pd.DataFrame({"x": [1.5, np.nan], "s": ["a", None], "m": [1, "mixed"]})
    b = pd.DataFrame({"y": [3, 4]})
    stale = runio.encode_table(pd.DataFrame({"y": [0]}))  # made from another frame
    manifest = {"kind": "run"}
    runio.write_run_folder(tmp_path / "plain", {"a": a, "b": b}, manifest)
    runio.write_run_folder(
        tmp_path / "ahead",
        {"a": a, "b": b},
        manifest,
        encoded={"a": runio.encode_table(a), "b": stale},
    )
    for name in ("a.parquet", "a.csv", "b.parquet", "b.csv"):
        plain = (tmp_path / "plain" / "tables" / name).read_bytes()
        assert (tmp_path / "ahead" / "tables" / name).read_bytes() == plain, name
    assert pd.read_csv(tmp_path / "ahead" / "tables" / "b.csv")["y"].tolist() == [3, 4]
    assert (tmp_path / "plain" / "run.json").read_bytes() == (
        tmp_path / "ahead" / "run.json"
    ).read_bytes()
