"""`mib events`: reading, appending, one-line errors that leave the log untouched."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

try:
    from cli_support import run_cli as run
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import run_cli as run
from backtest.eventlog import empty_log_text, load_catalog

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "eventlog"
UNIVERSE = str(ROOT / "events" / "universe.yaml")
NVDA_8K = "nvda-8k-2022-08-31"
BIS = "bis-2022-10-07-advanced-computing"


@pytest.fixture
def log(tmp_path, capsys) -> Path:
    path = tmp_path / "log.yaml"
    path.write_text(empty_log_text(), encoding="utf-8")
    code, out, err = run(
        capsys,
        "events",
        "add",
        str(FIX / "bis_2022.yaml"),
        "--log",
        str(path),
        "--universe",
        UNIVERSE,
        "--recorded",
        "2026-11-01",
    )
    assert code == 0, err
    assert "log now v2:" in out
    return path


def test_validate_passes_on_the_shipped_log(capsys):
    code, out, err = run(
        capsys,
        "events",
        "validate",
        str(ROOT / "events" / "export_controls.yaml"),
        "--universe",
        UNIVERSE,
    )
    assert code == 0, err
    assert out.startswith("ok: ")


def test_list_csv_one_row_per_event_with_utc_time(log, capsys):
    code, out, _ = run(capsys, "events", "list", "--format", "csv", "--log", str(log))
    assert code == 0
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {BIS, NVDA_8K}
    assert rows[BIS]["announced_at_utc"] == "2022-10-07T17:00:00Z"
    assert rows[BIS]["time_known"] == "True"
    assert rows[NVDA_8K]["announced_at_utc"] == "2022-08-31T20:28:00Z"
    code, out, _ = run(
        capsys, "events", "list", "--format", "csv", "--log", str(log), "--log-version", "1"
    )
    assert [r["id"] for r in csv.DictReader(io.StringIO(out))] == [BIS]


def test_list_filters_table_and_json(log, capsys):
    code, out, _ = run(capsys, "events", "list", "--log", str(log), "--type", "company_disclosure")
    assert code == 0 and NVDA_8K in out and BIS not in out
    assert out.rstrip().endswith(f"1 events at log {load_catalog(log).version}")
    code, out, _ = run(
        capsys,
        "events",
        "list",
        "--log",
        str(log),
        "--format",
        "json",
        "--since",
        "2022-09-01",
        "--authority",
        "US-BIS",
    )
    body = json.loads(out)
    assert [e["id"] for e in body["events"]] == [BIS]
    assert body["log_version"] == str(load_catalog(log).version)
    code, _, err = run(capsys, "events", "list", "--log", str(log), "--type", "sanction")
    assert code == 1 and "expected restriction, tightening" in err
    code, _, err = run(capsys, "events", "list", "--log", str(log), "--since", "2022/01/01")
    assert code == 1 and "--since: invalid date (got '2022/01/01'; expected YYYY-MM-DD)" in err


def test_amend_changes_show_and_log_version_shows_the_old_value(log, capsys):
    code, out, _ = run(capsys, "events", "show", NVDA_8K, "--log", str(log))
    assert code == 0 and "confidence: high" in out
    code, out, err = run(
        capsys,
        "events",
        "amend",
        NVDA_8K,
        "--set",
        "confidence=medium",
        "--set",
        "notes=Acceptance time from the EDGAR index page.",
        "--reason",
        "time checked against EDGAR",
        "--log",
        str(log),
        "--universe",
        UNIVERSE,
    )
    assert code == 0, err
    code, out, _ = run(capsys, "events", "show", NVDA_8K, "--log", str(log))
    assert "confidence: medium" in out and "notes: Acceptance time" in out
    assert "(records: 2 announce, 3 amend)" in out
    code, out, _ = run(capsys, "events", "show", NVDA_8K, "--log", str(log), "--log-version", "2")
    assert "confidence: high" in out and "notes:" not in out
    code, out, _ = run(capsys, "events", "history", NVDA_8K, "--log", str(log))
    lines = [ln.split() for ln in out.splitlines()[2:-1]]
    assert [(ln[0], ln[3]) for ln in lines] == [("2", "announce"), ("3", "amend")]
    assert "set confidence, notes: time checked against EDGAR" in out


def test_retract_removes_the_event(log, capsys):
    code, out, _ = run(
        capsys, "events", "retract", BIS, "--reason", "superseded", "--log", str(log)
    )
    assert code == 0 and "log now v3:" in out
    code, out, _ = run(capsys, "events", "list", "--log", str(log))
    assert BIS not in out
    code, _, err = run(capsys, "events", "show", BIS, "--log", str(log))
    assert code == 1 and "retracted" in err
    code, out, _ = run(capsys, "events", "history", "--log", str(log))
    assert "retracted: superseded" in out


def test_validate_names_seq_and_line_of_a_hand_edited_record(log, capsys):
    text = log.read_text()
    log.write_text(text.replace("title: BIS interim final rule", "title: BIS final rule"))
    line = next(i for i, ln in enumerate(log.read_text().splitlines(), 1) if ln == "- seq: 1")
    code, out, err = run(capsys, "events", "validate", str(log), "--universe", UNIVERSE)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"mib: error: {log}:{line}: digest: record seq 1: record was edited")


def _bad_files() -> dict[str, tuple[str, str, str, str]]:
    """name -> (old text, new text, needle of the expected line, expected field)."""
    return {
        "malformed_yaml": (
            "title: BIS updates",
            "title: BIS: updates",
            "title: BIS:",
            "malformed YAML: mapping values are not allowed",
        ),
        "duplicate_id": (
            "id: bis-2023-10-17-advanced-computing-update",
            f"id: {BIS}",
            f"id: {BIS}",
            "event.id: duplicate event id",
        ),
        "naive_timestamp": (
            'at: "2023-10-17T10:00:00-04:00"',
            'at: "2023-10-17T10:00:00"',
            'at: "2023-10-17T10:00:00"',
            "stages.0.at: naive timestamp",
        ),
        "unknown_zone": (
            "timezone: America/New_York\n    time_known: true",
            "timezone: America/NewYork\n    time_known: true",
            "America/NewYork",
            "stages.0.timezone: unknown time zone",
        ),
        "missing_source": (
            "sources:\n",
            "links:\n",
            "id: bis-2023",
            "sources: required field is missing",
        ),
        "unknown_security": (
            "{target: NVDA,",
            "{target: NVDAX,",
            "NVDAX",
            "affected.0.target: unknown security or group",
        ),
        "unknown_group": (
            "{target: cn_substitute,",
            "{target: cn_substitutes,",
            "cn_substitutes",
            "affected.1.target: unknown security or group",
        ),
        "invalid_type": (
            "type: tightening",
            "type: sanction",
            "type: sanction",
            "type: invalid value (got 'sanction'; expected 'restriction'",
        ),
    }


@pytest.mark.parametrize("case", sorted(_bad_files()))
def test_add_errors_are_one_line_exit_1_and_leave_the_log_byte_identical(
    case, log, tmp_path, capsys
):
    old, new, needle, field_msg = _bad_files()[case]
    text = (FIX / "one_event.yaml").read_text()
    assert old in text
    if case == "missing_source":
        text = text[: text.index("sources:")]
    bad = tmp_path / f"{case}.yaml"
    bad.write_text(text.replace(old, new))
    line = next(i for i, ln in enumerate(bad.read_text().splitlines(), 1) if needle in ln)
    before = log.read_bytes()
    code, out, err = run(
        capsys, "events", "add", str(bad), "--log", str(log), "--universe", UNIVERSE
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"mib: error: {bad}:{line}:"), err
    assert field_msg in err and "expected" in err, err
    assert log.read_bytes() == before


@pytest.mark.parametrize("command", ["amend", "retract"])
def test_amend_or_retract_of_unknown_id(command, log, capsys):
    before = log.read_bytes()
    extra = ["--set", "confidence=low", "--universe", UNIVERSE] if command == "amend" else []
    code, out, err = run(
        capsys, "events", command, "no-such-event", *extra, "--reason", "x", "--log", str(log)
    )
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(
        f"mib: error: {log}: id: no such event in the log "
        "(got 'no-such-event'; expected an announced id (e.g. "
    )
    assert log.read_bytes() == before


def test_amend_with_invalid_value_or_field(log, capsys):
    before = log.read_bytes()
    code, _, err = run(
        capsys,
        "events",
        "amend",
        BIS,
        "--set",
        "direction=sideways",
        "--reason",
        "x",
        "--log",
        str(log),
        "--universe",
        UNIVERSE,
    )
    assert code == 1 and "changes.direction" in err and "expected 'tightening'" in err
    code, _, err = run(
        capsys,
        "events",
        "amend",
        BIS,
        "--set",
        "colour=red",
        "--reason",
        "x",
        "--log",
        str(log),
        "--universe",
        UNIVERSE,
    )
    assert code == 1 and "cannot amend field(s) ['colour']" in err
    code, _, err = run(
        capsys, "events", "amend", BIS, "--set", "confidence", "--reason", "x", "--log", str(log)
    )
    assert code == 1 and "--set: expected FIELD=VALUE" in err
    assert log.read_bytes() == before


def test_malformed_log_is_refused_and_untouched(log, capsys):
    log.write_text(log.read_text() + "- seq: [\n")
    before = log.read_bytes()
    code, _, err = run(
        capsys,
        "events",
        "add",
        str(FIX / "one_event.yaml"),
        "--log",
        str(log),
        "--universe",
        UNIVERSE,
    )
    assert code == 1 and err.startswith(f"mib: error: {log}:") and "malformed YAML" in err
    assert log.read_bytes() == before


def test_validate_a_curation_file_and_an_unknown_version(log, capsys):
    code, out, _ = run(
        capsys, "events", "validate", str(FIX / "bis_2022.yaml"), "--universe", UNIVERSE
    )
    assert code == 0 and "2 valid events" in out
    code, _, err = run(capsys, "events", "validate", str(log), "--log-version", "9")
    assert code == 1 and "log_version: log version beyond the end" in err


def test_two_concurrent_adds_both_land(log, tmp_path):
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backtest",
                "events",
                "add",
                str(FIX / name),
                "--log",
                str(log),
                "--universe",
                UNIVERSE,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one_event.yaml", "other_event.yaml")
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    cat = load_catalog(log)
    assert cat.version.seq == 4
    assert {
        "bis-2023-10-17-advanced-computing-update",
        "mofcom-2023-07-03-gallium-germanium",
    } <= set(cat.ids)


def test_timeline_writes_a_figure(log, tmp_path, capsys):
    out_file = tmp_path / "fig" / "timeline.svg"
    code, _, err = run(
        capsys,
        "events",
        "timeline",
        "--out",
        str(out_file),
        "--log",
        str(log),
        "--log-version",
        "v2",
    )
    assert code == 0, err
    assert "<svg" in out_file.read_text()[:500]
    code, _, err = run(
        capsys, "events", "timeline", "--out", str(tmp_path / "t.txt"), "--log", str(log)
    )
    assert code == 1 and "--out suffix: invalid choice" in err


def _readme_commands() -> list[str]:
    text = (ROOT / "events" / "README.md").read_text(encoding="utf-8")
    blocks = text.split("```bash\n")[1:]
    commands = []
    for block in blocks:
        body = block.split("```", 1)[0].replace("\\\n", " ")
        commands += [ln.strip() for ln in body.splitlines() if ln.strip().startswith("mib ")]
    return commands


def test_readme_commands_parse():
    """Every `mib events` example of events/README.md names real commands and options."""
    import shlex

    from typer.main import get_command

    from backtest.cli.events import app

    group = get_command(app)
    commands = _readme_commands()
    assert len(commands) >= 8
    for line in commands:
        args = shlex.split(line, comments=True)
        assert args[:2] == ["mib", "events"], line
        sub = group.get_command(None, args[2])  # type: ignore[attr-defined]
        assert sub is not None, line
        sub.make_context(args[2], args[3:])
