"""Fault injection in the event log: every fault ends in one clear line, nothing is lost.

One parametrised test per fault class of the hardening pass, each running the
``mib`` command in-process and asserting the exit code, the one-line message
(``file:line field: message (got ...; expected ...)`` with the parts that are
known), no traceback, and the log byte-identical afterwards (or, where the
command succeeds, the old bytes kept as they were and only records added):

1. write semantics: a read-only log, a CRLF log, a temp file orphaned by a
   killed writer, records cut off the end (``validate --expect``);
2. YAML alias bombs in ``--set`` values, curation files and the log;
3. the fast record reader agrees with PyYAML (or hands the record to it), and
   an append reads back only its own records;
4. stage times and text: ``time_known`` without ``at``, inverted bounds, an
   offset that is not the zone's, control characters, spreadsheet formulas in
   CSV exports;
5. ``mib events add`` processes killed at random moments.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.errors import EventLogError
from backtest.eventlog import (
    GENESIS,
    chain_digest,
    empty_log_text,
    load_catalog,
    parse_log,
    read_log,
)
from backtest.eventlog import append as append_mod
from backtest.eventlog.blockyaml import UNSUPPORTED, ChunkReader, scalar_constructor, split_records
from backtest.eventlog.log import log_from_doc
from backtest.eventlog.yamlio import NoTimestampLoader, dump_records, load_yaml

try:
    from cli_support import one_error_line
    from cli_support import run_cli as run
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line
    from tests.cli_support import run_cli as run

REPO = Path(__file__).resolve().parent.parent
FIX = REPO / "tests" / "fixtures" / "eventlog"
UNIVERSE = str(REPO / "events" / "universe.yaml")
U = ("--universe", UNIVERSE)
NVDA_8K = "nvda-8k-2022-08-31"
BOMB = (
    "[&a [lol,lol,lol,lol,lol,lol,lol,lol,lol], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], "
    "&c [*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], "
    "&e [*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e], "
    "&g [*f,*f,*f,*f,*f,*f,*f,*f,*f], &h [*g,*g,*g,*g,*g,*g,*g,*g,*g], "
    "&i [*h,*h,*h,*h,*h,*h,*h,*h,*h]]"
)  # ~300 bytes, 10^9 nodes expanded


@pytest.fixture
def log(tmp_path: Path, capsys) -> Path:
    """A two-record log (the BIS rule and Nvidia's 8-K) in tmp_path/log/."""
    path = tmp_path / "log" / "log.yaml"
    path.parent.mkdir()
    path.write_text(empty_log_text(), encoding="utf-8")
    code, _, err = run(
        capsys,
        "events",
        "add",
        str(FIX / "bis_2022.yaml"),
        "--log",
        str(path),
        *U,
        "--recorded",
        "2026-11-01",
    )
    assert code == 0, err
    return path


def _one_line(code: int, err: str, *needles: str, exit_code: int = 1) -> str:
    line = one_error_line(code, err, *needles, exit_code=exit_code)
    assert "\x1b" not in line and "\x00" not in line  # nothing echoed raw
    return line


def _where(line: str, file: Path | str, lineno: int | None, field: str | None) -> None:
    """``line`` starts with ``file:line field:`` and ends with ``(got ...; expected ...)``."""
    head = f"mib: error: {file}" + (f":{lineno}" if lineno else "") + ":"
    head += f" {field}:" if field else ""
    assert line.startswith(head + " "), (head, line)
    assert re.search(r" \((got .+; )?expected .+\)$", line), line


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def _event_file(tmp: Path, name: str, old: str, new: str) -> Path:
    text = (FIX / "one_event.yaml").read_text()
    assert old in text, old
    out = tmp / f"{name}.yaml"
    out.write_text(text.replace(old, new), encoding="utf-8")
    return out


# ---------------------------------------------------------------- 1. write semantics


def _read_only(log: Path, tmp: Path) -> tuple[list[str], Path | None]:
    log.chmod(0o444)
    return ["events", "add", str(FIX / "one_event.yaml"), "--log", str(log), *U], None


def _crlf(log: Path, tmp: Path) -> tuple[list[str], Path | None]:
    log.write_bytes(log.read_bytes().replace(b"\n", b"\r\n"))
    return ["events", "add", str(FIX / "one_event.yaml"), "--log", str(log), *U], None


KILLER = r"""
import os, signal, sys
from backtest.eventlog import add_event, read_event_file
from backtest.eventlog import yamlio
from backtest.universe import load_universe
yamlio.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)   # dies in the write window
event = read_event_file(sys.argv[2])[0][0]
add_event(sys.argv[1], event, universe=load_universe(sys.argv[3]))
"""


def _orphan_temp(log: Path, tmp: Path) -> tuple[list[str], Path | None]:
    before = log.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(log), str(FIX / "one_event.yaml"), UNIVERSE],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    orphans = [p for p in log.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(orphans) == 1 and log.read_bytes() == before  # old version, plus debris
    return ["events", "add", str(FIX / "other_event.yaml"), "--log", str(log), *U], orphans[0]


def _cut_tail(log: Path, tmp: Path) -> tuple[list[str], Path | None]:
    version = str(load_catalog(log).version)
    text = log.read_text()
    log.write_text(text[: text.index("\n- seq: 2") + 1])
    return ["events", "validate", str(log), *U, "--expect", version], None


def _rewritten_tail(log: Path, tmp: Path) -> tuple[list[str], Path | None]:
    version = str(load_catalog(log).version)
    text = log.read_text()
    log.write_text(text[: text.index("\n- seq: 2") + 1])
    raw = {
        "seq": 2,
        "recorded": "2026-11-02",
        "kind": "retract",
        "id": "bis-2022-10-07-advanced-computing",
        "reason": "rewritten",
        "prev_digest": load_catalog(log).version.digest,
    }
    raw["digest"] = chain_digest(raw["prev_digest"], raw)
    log.write_text(log.read_text() + dump_records([raw]))
    return ["events", "validate", str(log), *U, "--expect", version], None


WRITE_FAULTS = {
    # name: (setup, exit code, needles of the one line or of stdout, kept)
    "read_only_log_is_refused": (
        _read_only,
        1,
        ["the log is read-only, so nothing was appended", "got '-r--r--r--'", "chmod u+w"],
        "identical",
    ),
    "crlf_log_keeps_crlf": (_crlf, 0, ["appended 1 announce record(s)"], "prefix"),
    "orphan_temp_removed_by_next_write": (
        _orphan_temp,
        0,
        ["appended 1 announce record(s)"],
        "prefix",
    ),
    "records_cut_off_the_end": (
        _cut_tail,
        1,
        ["--expect: record 2 is missing: the log ends at record 1", "got 'v1:"],
        "identical",
    ),
    "tail_rewritten_with_a_valid_chain": (
        _rewritten_tail,
        1,
        ["--expect: record 2 differs from the expected version"],
        "identical",
    ),
}


@pytest.mark.parametrize("case", list(WRITE_FAULTS))
def test_write_faults_end_in_one_line_and_keep_every_byte(case, log, tmp_path, capsys):
    setup, exit_code, needles, kept = WRITE_FAULTS[case]
    args, orphan = setup(log, tmp_path)
    before, mode = log.read_bytes(), stat.S_IMODE(log.stat().st_mode)
    code, out, err = run(capsys, *args)
    if exit_code:
        line = _one_line(code, err, *needles)
        assert out == ""
        _where(
            line,
            log,
            _line_of(log, "- seq: 2") if "differs" in line else None,
            None if "read-only" in line else "--expect",
        )
    else:
        assert code == 0 and err == "", err
        assert len(out.strip().splitlines()) == 1 and all(n in out for n in needles), out
    after = log.read_bytes()
    if kept == "identical":
        assert after == before
    else:
        assert after.startswith(before) and len(after) > len(before)
        assert load_catalog(log).version.seq == 3  # validates, one record more
    assert stat.S_IMODE(log.stat().st_mode) == mode  # never replaced by rename
    if case == "crlf_log_keeps_crlf":
        assert after.count(b"\n") == after.count(b"\r\n")
    if orphan is not None:
        assert not orphan.exists()
    assert [p.name for p in log.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_validate_without_expect_cannot_see_a_cut_tail_but_with_it_can(log, capsys):
    version = str(load_catalog(log).version)
    code, out, _ = run(capsys, "events", "validate", str(log), *U, "--expect", version)
    assert code == 0 and out.startswith("ok: ")
    text = log.read_text()
    log.write_text(text[: text.index("\n- seq: 2") + 1])
    code, out, _ = run(capsys, "events", "validate", str(log), *U)
    assert code == 0 and "log v1:" in out  # a valid, shorter chain
    code, _, err = run(capsys, "events", "validate", str(log), *U, "--expect", "v2")
    _one_line(code, err, "--expect: a version to expect needs its digest")


# ---------------------------------------------------------------- 2. alias bombs


def _bomb_set(log: Path, tmp: Path) -> tuple[list[str], str, int | None]:
    return (
        [
            "events",
            "amend",
            NVDA_8K,
            "--set",
            f"notes={BOMB}",
            "--reason",
            "x",
            "--log",
            str(log),
            *U,
        ],
        "--set notes",
        1,
    )


def _bomb_file(log: Path, tmp: Path) -> tuple[list[str], str, int | None]:
    bad = _event_file(
        tmp,
        "bomb",
        "title: BIS updates the advanced computing and semiconductor manufacturing rules",
        f"title: x\nnotes: {BOMB}",
    )
    return ["events", "add", str(bad), "--log", str(log), *U], str(bad), _line_of(bad, "notes:")


def _bomb_in_log(log: Path, tmp: Path) -> tuple[list[str], str, int | None]:
    raw = {
        "seq": 3,
        "recorded": "2026-11-02",
        "kind": "amend",
        "id": NVDA_8K,
        "changes": {"notes": "PLACEHOLDER"},
        "reason": "x",
        "prev_digest": load_catalog(log).version.digest,
    }
    raw["digest"] = chain_digest(raw["prev_digest"], raw)
    log.write_text(log.read_text() + dump_records([raw]).replace("PLACEHOLDER", BOMB))
    return (["events", "validate", str(log), *U], str(log), _line_of(log, "notes: [&a"))


def _recursive_set(log: Path, tmp: Path) -> tuple[list[str], str, int | None]:
    return (
        [
            "events",
            "amend",
            NVDA_8K,
            "--set",
            "notes=&a [x, *a]",
            "--reason",
            "x",
            "--log",
            str(log),
            *U,
        ],
        "--set notes",
        1,
    )


ALIAS_FAULTS = {
    "bomb_in_set_value": _bomb_set,
    "bomb_in_curation_file": _bomb_file,
    "bomb_in_the_log": _bomb_in_log,
    "recursive_alias_in_set": _recursive_set,
}


@pytest.mark.parametrize("case", list(ALIAS_FAULTS))
def test_alias_bombs_are_refused_before_expansion(case, log, tmp_path, capsys):
    args, file, lineno = ALIAS_FAULTS[case](log, tmp_path)
    before = log.read_bytes()
    t = time.perf_counter()
    code, out, err = run(capsys, *args)
    assert time.perf_counter() - t < 30  # was: hangs (10^9 nodes)
    needle = "recursive YAML alias" if "recursive" in case else "YAML aliases would expand"
    line = _one_line(code, err, needle)
    assert out == ""
    _where(line, file, lineno, None)
    assert log.read_bytes() == before


def test_a_few_aliases_are_still_fine(tmp_path):
    from backtest.eventlog.yamlio import load_yaml

    data = load_yaml("a: &x [1, 2]\nb: *x\nc: *x\n", "f").data
    assert data == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


# ---------------------------------------------------------------- 3. the fast reader


def _same(a: object, b: object) -> bool:
    """Equal as the digest sees them (``True`` is not ``1``)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _pyyaml_records(text: str) -> list[object]:
    return yaml.load(text, Loader=NoTimestampLoader)["records"]


def _fast_records(text: str) -> list[object]:
    layout = split_records(text)
    assert layout is not None
    reader = ChunkReader(
        NoTimestampLoader.yaml_implicit_resolvers, scalar_constructor(NoTimestampLoader)
    )
    return [reader.parse(text[c.start : c.end]) for c in layout.chunks]


def _shipped() -> str:
    return (REPO / "events" / "export_controls.yaml").read_text(encoding="utf-8")


HAND_EDITED = {
    # name: (replace this in a dumped two-record log, by this)
    "comments_and_quotes": ("  kind: announce\n", "  # a comment\n  kind: 'announce'  # c\n"),
    "double_quoted": (
        "title: BIS interim final rule on advanced computing and semiconductor manufacturing items",
        'title: "BIS \\u00e9 interim rule"',
    ),
    "flow_list": ("affected:\n", "tags: [a, b]\n    affected:\n"),
    "indentless_sequence": (
        "    affected:\n      - target: NVDA\n        sign: -1\n"
        "      - target: AMD\n        sign: -1\n    sources:",
        "    affected:\n    - target: NVDA\n      sign: -1\n"
        "    - target: AMD\n      sign: -1\n    sources:",
    ),
    "anchor_and_alias": ("    title: BIS", "    title: &t BIS"),
    "plain_over_lines": (
        "    title: BIS interim final rule on",
        "    title: BIS interim final rule\n      on",
    ),
    "quoted_with_blank_line": (
        "title: BIS interim final rule on advanced computing and semiconductor manufacturing items",
        "title: 'BIS  \n\n      interim ''rule''\n      on items'",
    ),
    "tagged_value": ("  kind: announce", "  kind: !!str announce"),
    "crlf": ("\n", "\r\n"),
    "quote_cut_at_column_0": (
        "title: BIS interim final rule on advanced computing and semiconductor manufacturing items",
        "title: 'BIS interim\n- seq: 9\n  rule'",
    ),
    "records_line_with_comment": ("records:\n", "records:  # all of them\n"),
    "edited_value_names_its_line": ("    authority: US-BIS", "    authority: US-DOC"),
    "invalid_record_names_its_line": ("    type: restriction", "    type: sanction"),
    "bool_and_null_keys": ("    confidence: high\n", "    confidence: high\n    'on': ~\n"),
}


@pytest.mark.parametrize("case", ["shipped_log", *HAND_EDITED])
def test_fast_reader_agrees_with_pyyaml_or_hands_over(case, tmp_path, capsys):
    """Performance must not change what is read: the fast reader's records equal PyYAML's."""
    if case == "shipped_log":
        text = _shipped()
    else:
        path = tmp_path / "l.yaml"
        path.write_text(empty_log_text())
        from backtest.eventlog import import_events
        from backtest.universe import load_universe

        import_events(path, FIX / "bis_2022.yaml", "2026-11-01", universe=load_universe(UNIVERSE))
        old, new = HAND_EDITED[case]
        text = path.read_text()
        assert old in text, case
        text = text.replace(old, new) if case == "crlf" else text.replace(old, new, 1)
    try:
        want = _pyyaml_records(text)
    except yaml.YAMLError:
        want = None
    layout = split_records(text)
    if layout is not None and want is not None and len(layout.chunks) == len(want):
        for g, w in zip(_fast_records(text), want, strict=True):
            assert g is UNSUPPORTED or _same(g, w)
    # Whatever path it takes, parse_log ends where PyYAML alone ends: same digests, or the
    # same one-line error naming the same line.
    assert _outcome(lambda: parse_log(text, "x.yaml")) == _outcome(
        lambda: log_from_doc(load_yaml(text, "x.yaml"), text, "x.yaml")
    )


def _outcome(read) -> list[str] | str:
    try:
        return [e.record.digest for e in read().entries]
    except EventLogError as exc:
        return str(exc)


_piece = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(
    [
        *"\n '\"#:-[]{}&*!|>%@`,?",
        "''",
        ": ",
        " #",
        "- ",
        "---",
        "...",
        "word ",
        "中文 ",
        "long words to wrap ",
        "  ",
        "\n\n",
    ]
)
_text = st.lists(_piece, max_size=60).map("".join)
_scalar = st.one_of(
    _text,
    st.integers(-(10**9), 10**9),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["true", "no", "~", "1e3", "0x1f", "1:20", "0981.HK", "2025-04-15", "-1", "=", "<<", ".inf"]
    ),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=4),
    ),
    max_leaves=12,
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(
        st.dictionaries(
            st.from_regex(r"[a-z_]{1,10}", fullmatch=True), _value, min_size=1, max_size=6
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fast_reader_equals_pyyaml_on_whatever_the_writer_dumps(records):
    text = "records:\n" + dump_records(records).lstrip("\n")
    want = _pyyaml_records(text)
    assert want == records
    layout = split_records(text)
    if layout is None:
        return
    for got, w in zip(_fast_records(text), want, strict=True):
        assert got is UNSUPPORTED or _same(got, w)


def test_an_append_reads_back_only_its_own_records(log, capsys, monkeypatch):
    """Under the lock the log is compared, not re-parsed; the new text is not parsed whole."""
    calls = {"read_log": 0}
    real_read_log = append_mod.read_log

    def counting(path):
        calls["read_log"] += 1
        return real_read_log(path)

    def whole_parse(*a, **k):
        raise AssertionError("the whole new log was parsed again")

    monkeypatch.setattr(append_mod, "read_log", counting)
    monkeypatch.setattr(append_mod, "parse_log", whole_parse)
    before = log.read_bytes()
    code, _, err = run(capsys, "events", "add", str(FIX / "one_event.yaml"), "--log", str(log), *U)
    assert code == 0, err
    assert calls["read_log"] == 1 and log.read_bytes().startswith(before)
    monkeypatch.undo()
    assert read_log(log).version.seq == 3


# ---------------------------------------------------------------- 4. times and text

_ONE = "title: BIS updates the advanced computing and semiconductor manufacturing rules"
STAGE_AND_TEXT_FAULTS = {
    # name: (old, new, needle of the line, field, message needles)
    "time_known_without_at": (
        '    at: "2023-10-17T10:00:00-04:00"\n',
        "",
        "- stage: announcement",
        "stages.0.at",
        [
            "time_known is true but 'at' is missing",
            'e.g. at: "2025-04-15T16:10:00-04:00"',
            "time_known: false with date: YYYY-MM-DD",
        ],
    ),
    "not_before_after_not_after": (
        "    date: 2023-11-17",
        '    date: 2023-11-17\n    not_before: "2023-11-17T18:00:00-05:00"\n'
        '    not_after: "2023-11-17T09:00:00-05:00"',
        "not_before:",
        "stages.1.not_before",
        [
            "not_before is after not_after",
            "got 'not_before 2023-11-17T18:00:00-05:00 > not_after 2023-11-17T09:00:00-05:00'",
            "swap them",
        ],
    ),
    "offset_not_the_zones": (
        "2023-10-17T10:00:00-04:00",
        "2023-10-17T10:00:00+09:00",
        "at:",
        "stages.0.at",
        [
            "UTC offset +09:00 of 'at' does not match timezone America/New_York, which is at "
            "-04:00",
            "got '2023-10-17T10:00:00+09:00'",
            "2023-10-16T21:00:00-04:00",
        ],
    ),
    "esc_in_title": (
        _ONE,
        'title: "BIS \\e[2J updates"',
        "title:",
        "title",
        [
            "control character U+001B (ESC) at position 4",
            "got 'BIS \\x1b[2J updates'",
            "newline and tab are allowed",
        ],
    ),
    "nul_in_source_title": (
        "    title: Commerce strengthens restrictions on advanced computing semiconductors",
        '    title: "Commerce\\0 strengthens"',
        "Commerce",
        "sources.0.title",
        ["control character U+0000 (NUL) at position 8"],
    ),
    "del_in_note": (
        "    date: 2023-11-17",
        '    date: 2023-11-17\n    note: "a\\x7f"',
        "note:",
        "stages.1.note",
        ["control character U+007F (DEL)"],
    ),
}


@pytest.mark.parametrize("case", list(STAGE_AND_TEXT_FAULTS))
def test_stage_and_text_faults_say_exactly_what_is_wrong(case, log, tmp_path, capsys):
    old, new, needle, field, needles = STAGE_AND_TEXT_FAULTS[case]
    bad = _event_file(tmp_path, case, old, new)
    before = log.read_bytes()
    code, out, err = run(capsys, "events", "add", str(bad), "--log", str(log), *U)
    line = _one_line(code, err, *needles)
    assert out == "" and "expected at least one stage" not in line  # the old, wrong hint
    _where(line, bad, _line_of(bad, needle), field)
    assert log.read_bytes() == before


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--set", 'title="NVDA \\e]0;pwned\\a 8-K"', "changes.title"),
        ("--set", 'notes="a\\0b"', "changes.notes"),
        ("--reason", "checked\x1b[31m", "reason"),
    ],
)
def test_control_characters_in_amend_values_are_refused(option, value, field, log, capsys):
    before = log.read_bytes()
    extra = ["--reason", "x"] if option == "--set" else ["--set", "confidence=low"]
    code, _, err = run(
        capsys, "events", "amend", NVDA_8K, option, value, *extra, "--log", str(log), *U
    )
    line = _one_line(code, err, f"{field}: control character U+00")
    _where(line, log, None, field)
    assert log.read_bytes() == before


@pytest.mark.parametrize(
    "title",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tx=1",
    ],
)
def test_csv_export_neutralises_formulas(title, log, tmp_path, capsys):
    quoted = title.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    bad = _event_file(tmp_path, "formula", _ONE, f'title: "{quoted}"')
    code, _, err = run(capsys, "events", "add", str(bad), "--log", str(log), *U)
    assert code == 0, err
    before = log.read_bytes()
    code, out, err = run(capsys, "events", "list", "--format", "csv", "--log", str(log))
    assert code == 0 and "Traceback" not in err
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["bis-2023-10-17-advanced-computing-update"]["title"] == "'" + title
    assert rows[NVDA_8K]["title"].startswith("Nvidia 8-K")  # plain text unchanged
    assert rows[NVDA_8K]["affected"] == "NVDA:- AMD:-"
    assert log.read_bytes() == before


# ---------------------------------------------------------------- 5. killed writers


@pytest.mark.slow
def test_adds_killed_at_random_moments_leave_the_old_or_the_new_log(log, tmp_path):
    rng = random.Random(11)
    add = [
        sys.executable,
        "-m",
        "backtest",
        "events",
        "add",
        str(FIX / "one_event.yaml"),
        "--log",
        str(log),
        *U,
        "--recorded",
        "2026-12-01",
    ]
    old = log.read_bytes()
    shutil.copy(log, tmp_path / "ref.yaml")
    t = time.perf_counter()
    subprocess.run(
        [*add[:7], str(tmp_path / "ref.yaml"), *add[8:]],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    full = time.perf_counter() - t
    new = (tmp_path / "ref.yaml").read_bytes()
    for _ in range(4):
        log.write_bytes(old)
        proc = subprocess.Popen(add, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2 * full, 1.1 * full))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert log.read_bytes() in (old, new)
        assert load_catalog(log).version.seq in (2, 3)  # chain and fold valid
    log.write_bytes(old)
    subprocess.run(add, cwd=REPO, check=True, capture_output=True, timeout=120)
    assert log.read_bytes() == new
    assert sorted(p.name for p in log.parent.iterdir()) == ["log.yaml", "log.yaml.lock"]


def test_digest_chain_of_a_shipped_log_is_unchanged_by_the_fast_reader():
    text = _shipped()
    want = _pyyaml_records(text)
    prev = GENESIS
    for raw in want:
        prev = chain_digest(prev, raw)
    assert parse_log(text, "x").version.digest == prev
