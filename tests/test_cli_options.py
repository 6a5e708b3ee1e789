"""One command line: shared options, one default per concept, checks before any work."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import typer

try:
    from cli_support import one_error_line, run_cli
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line, run_cli

from backtest.cli.main import build_app, numeric_warnings_as_notes
from backtest.cli.options import DEFAULT_HOLD, DEFAULT_SEED, DEFAULT_STAGE

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CATALOG_COMMANDS = (("run",), ("backtest", "run"), ("study", "run"))


def _params(path: tuple[str, ...]) -> dict[str, object]:
    """The click parameters of ``mib PATH`` by their first option name."""
    command = typer.main.get_command(build_app())
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]  # a click Group
    return {p.opts[0]: p for p in command.params if getattr(p, "opts", None)}


@pytest.mark.parametrize("command", CATALOG_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    "sources",
    [("--demo", "--from-cache"), ("--demo", "--prices-dir"), ("--prices-dir", "--from-cache")],
    ids=lambda s: "+".join(s),
)
def test_two_price_sources_are_refused_by_every_command(command, sources, tmp_path, capsys):
    args = [a for s in sources for a in ((s, str(tmp_path)) if s == "--prices-dir" else (s,))]
    code, out, err = run_cli(capsys, *command, *args)
    one_error_line(code, err, "choose one price source", " ".join(sources), "at most one")
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "default"),
    [
        ("--seed", DEFAULT_SEED),
        ("--stage", DEFAULT_STAGE),
        ("--placebo", 1000),
        ("--log-version", None),
        ("--log", None),
        ("--universe-file", None),
        ("--demo", False),
        ("--from-cache", False),
        ("--prices-dir", None),
    ],
)
def test_one_spelling_and_one_default_per_concept(option, default):
    """Every catalog command declares the option with the same default and help."""
    seen = []
    for path in CATALOG_COMMANDS:
        params = _params(path)
        if option == "--placebo" and path[0] == "backtest":
            continue  # no placebo draws in a backtest
        assert option in params, (path, option)
        p = params[option]
        seen.append((p.default, p.help))  # type: ignore[attr-defined]
    assert {d for d, _ in seen} == {default}, seen
    assert len({h for _, h in seen}) == 1, seen


def test_hold_and_stage_defaults_agree_with_the_run_spec():
    from backtest.pipeline import RunSpec

    assert _params(("backtest", "run"))["--hold"].default == DEFAULT_HOLD == RunSpec().hold
    assert _params(("run",))["--hold"].default == DEFAULT_HOLD
    assert _params(("events", "align"))["--stage"].default == DEFAULT_STAGE == RunSpec().stage
    assert _params(("events", "align"))["--log-version"].metavar == "N|vN:DIGEST"
    assert _params(("events", "list"))["--log-version"].metavar == "N|vN:DIGEST"


def test_universe_file_has_one_spelling_everywhere():
    for path in (
        ("events", "align"),
        ("events", "add"),
        ("data", "verify"),
        ("data", "import"),
    ):
        assert "--universe-file" in _params(path), path


def test_log_version_with_a_digest_is_checked_before_the_run(tmp_path, capsys):
    from backtest.cli.options import log_version_number
    from backtest.eventlog.catalog import load_catalog

    version = load_catalog().version
    assert log_version_number(str(version), None) == version.seq
    assert log_version_number(f"v{version.seq}", None) == version.seq
    assert log_version_number(None, None) is None
    wrong = f"v{version.seq}:{'0' * 12}"
    code, _, err = run_cli(capsys, "run", "--demo", "--log-version", wrong, "--out", str(tmp_path))
    one_error_line(code, err, "0" * 12)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_align_table_keeps_day0_whole_in_a_120_column_terminal(monkeypatch, capsys):
    code, csv_out, _ = run_cli(capsys, "events", "align", "--format", "csv")
    assert code == 0
    day0s = {line.split(",")[6] for line in csv_out.splitlines()[1:]}
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = run_cli(capsys, "events", "align")
    assert code == 0
    lines = ANSI.sub("", out).splitlines()
    assert max(len(ln) for ln in lines) <= 120
    shown = set(re.findall(r"\b\d{4}-\d{2}-\d{2}\b", "\n".join(lines)))
    assert day0s <= shown, sorted(day0s - shown)[:5]
    assert "decided_by" in "\n".join(lines)


def test_progress_is_silent_when_stderr_is_not_a_terminal(capsys):
    from backtest.cli.run import step_printer

    with step_printer() as say:
        say("first step")
        say("second step")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_on_a_terminal_leaves_each_step_with_its_duration(monkeypatch, capsys):
    from backtest.cli.run import step_printer

    monkeypatch.setenv("FORCE_COLOR", "1")
    with step_printer() as say:
        say("first step")
        say("second step")
    err = ANSI.sub("", capsys.readouterr().err)
    assert re.search(r"\[1\] first step \(\d+\.\d s\)", err), err
    assert re.search(r"\[2\] second step \(\d+\.\d s\)", err), err


def test_numeric_warnings_become_one_note_and_others_pass(capsys):
    import numpy as np

    with pytest.warns(UserWarning, match="keep me"), numeric_warnings_as_notes():
        np.mean(np.array([]))  # RuntimeWarning: Mean of empty slice
        np.float64(0.0) / np.float64(0.0)
        warnings.warn("keep me", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mib: note: "), err
    assert "numeric warning(s) handled" in lines[0] and "Mean of empty slice" in lines[0]


def test_error_level_findings_of_a_run_are_printed(tmp_path):
    from backtest.cli.run import error_findings

    tables = tmp_path / "tables"
    tables.mkdir()
    rows = ["symbol,date,check,severity,detail", "NVDA,2024-03-05,gap,warning,no row"]
    rows += [f"AMD,2024-03-{d:02d},non_finite,error,AMD.csv:{d} Close 'inf'" for d in range(1, 13)]
    (tables / "findings.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    lines = error_findings(tmp_path)
    assert len(lines) == 11 and all(ln.startswith("warning: data check ") for ln in lines[:10])
    assert "non_finite: AMD 2024-03-01: AMD.csv:1 Close 'inf'" in lines[0]
    assert "2 more error-level data findings" in lines[-1]
    assert not any("gap" in ln for ln in lines)
    assert error_findings(tmp_path / "nothing") == []


def test_bare_group_prints_its_help(capsys):
    code, out, err = run_cli(capsys, "events")
    assert code == 2 and "Usage:" in out and err == ""


def test_out_root_default_is_reports():
    for path in CATALOG_COMMANDS[:2]:
        assert _params(path)["--out"].default == Path("reports")


def test_a_run_without_findings_prints_none(tmp_path):
    from backtest.cli.run import error_findings

    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "findings.csv").write_text("\n", encoding="utf-8")
    assert error_findings(tmp_path) == []
