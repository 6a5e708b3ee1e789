"""`mib events sources federal-register`: answers, qualification, drafts, exact publication.

Fixtures are hand-written from the published API documentation
(https://www.federalregister.gov/developers/documentation/api/v1; see
tests/fixtures/sources/README.md); the shared trimmed real answer is used as is.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
import yaml

try:
    from cli_support import one_error_line
    from cli_support import run_cli as run
    from sources_support import FIX, LOG, UNIVERSE, event, new_log
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line
    from tests.cli_support import run_cli as run
    from tests.sources_support import FIX, LOG, UNIVERSE, event, new_log

from backtest.eventlog import load_catalog, read_event_file
from backtest.sources.errors import SourceError
from backtest.sources.federal_register import (
    documents_url,
    merge,
    parse_answer,
    qualification,
)
from backtest.universe import load_universe

FOLDER = "federal-register-industry-and-security-bureau"


def _answer(name: str):
    path = FIX / name
    return parse_answer(path.read_bytes(), str(path))


def _from_saved(capsys, *args: str) -> tuple[int, str, str]:
    """`mib events sources federal-register` on the saved documents and public-inspection
    answers, with ``args``."""
    return run(
        capsys,
        "events",
        "sources",
        "federal-register",
        "--from-file",
        str(FIX / "fr_documents.json"),
        "--from-file",
        str(FIX / "fr_public_inspection.json"),
        *args,
    )


def test_documents_answer():
    answer = _answer("fr_documents.json")
    assert answer.count == 5 and not answer.next_page_url
    docs = {d.document_number: d for d in answer.documents}
    rule = docs["2027-01001"]
    assert (rule.type, str(rule.publication_date), str(rule.effective_on)) == (
        "Rule",
        "2027-01-15",
        "2027-01-15",
    )
    assert rule.authority == "US-BIS" and rule.citation == "92 FR 1001"
    assert rule.filed_at is None  # documents.json carries no public-inspection time


def test_public_inspection_times_join_by_document_number():
    merged = {
        d.document_number: d
        for d in merge(
            [_answer("fr_documents.json").documents, _answer("fr_public_inspection.json").documents]
        )
    }
    rule = merged["2027-01001"]
    assert rule.filed_at.isoformat() == "2027-01-13T16:15:00-05:00"
    assert rule.filed_at_eastern.tzname() == "EST"
    assert rule.abstract and rule.pdf_url  # kept from documents.json
    single = _answer("fr_single_document.json").documents
    assert [d.document_number for d in single] == ["2027-01001"]


def test_qualification_follows_the_readme():
    docs = {d.document_number: d for d in _answer("fr_documents.json").documents}
    assert qualification(docs["2027-01001"]).strong[:1] == ("advanced computing",)
    weak = qualification(docs["2027-01002"])
    assert weak.qualifies and weak.weak == ("Entity List",) and not weak.strong
    assert not qualification(docs["2027-01003"]).qualifies  # information collection
    assert not qualification(docs["2027-01004"]).qualifies  # meeting notice


def test_search_url_follows_the_documentation():
    import datetime as dt

    url = documents_url("industry-and-security-bureau", dt.date(2026, 11, 23))
    assert url.startswith("https://www.federalregister.gov/api/v1/documents.json?")
    assert "conditions%5Bagencies%5D%5B%5D=industry-and-security-bureau" in url
    assert "conditions%5Bpublication_date%5D%5Bgte%5D=2026-11-23" in url
    assert "fields%5B%5D=publication_date" in url and "order=oldest" in url


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("fr_truncated.json", "truncated JSON"),
        (
            "fr_error_page.json",
            "got an HTML page, not JSON (title 'Federal Register :: Request Access')",
        ),
        ("fr_malformed.json", "malformed JSON"),
        ("fr_bad_date.json", "publication_date '15/01/2027' is not a date"),
        ("edgar_small.json", "EDGAR submissions document, not a Federal Register answer"),
    ],
)
def test_damaged_answers_are_refused_and_nothing_is_written(tmp_path, capsys, name, needle):
    with pytest.raises(SourceError):
        parse_answer((FIX / name).read_bytes(), name)
    out = tmp_path / "out"
    code, _, err = run(
        capsys,
        "events",
        "sources",
        "federal-register",
        "--from-file",
        str(FIX / name),
        "--candidates",
        "--match",
        "--out",
        str(out),
        "--universe",
        UNIVERSE,
    )
    one_error_line(code, err, needle, name)
    assert not out.exists()


def test_candidates_round_trip_through_events_add(tmp_path, capsys):
    """Drafts from a saved answer are accepted by `mib events add` unchanged (on a copy)."""
    log = tmp_path / "export_controls.yaml"
    shutil.copyfile(LOG, log)
    before = load_catalog(log)
    out = tmp_path / "review"
    code, stdout, err = _from_saved(
        capsys,
        "--candidates",
        "--log",
        str(log),
        "--out",
        str(out),
        "--universe",
        UNIVERSE,
    )
    assert code == 0, err
    assert "candidates: 3 draft announce record(s)" in stdout
    assert (
        "skipped FR Doc. 2027-01003: does not qualify: routine (information collection)" in stdout
    )
    drafts = out / FOLDER / "candidates.yaml"
    events = {ev.id: ev for ev, _ in read_event_file(drafts, load_universe(UNIVERSE))}
    exact = events["bis-2027-01-13-export-controls-advanced-computing-items-semiconductor"]
    pub = exact.stage("publication")
    assert pub.at.isoformat() == "2027-01-13T16:15:00-05:00" and exact.confidence == "high"
    assert exact.stage("effective").date.isoformat() == "2027-01-15"
    assert all(s.primary for s in exact.sources) and len(exact.sources) == 3
    weak = events["bis-2027-01-20-additions-entity-list"]
    assert weak.type == "entity_listing" and weak.confidence == "low"
    assert "Only 'Entity List' matched" in weak.notes
    assert weak.stage("publication").time_known is False

    text_before = drafts.read_bytes()
    code, stdout, err = run(
        capsys, "events", "add", str(drafts), "--log", str(log), "--universe", UNIVERSE
    )
    assert code == 0, err
    assert drafts.read_bytes() == text_before
    after = load_catalog(log)
    assert len(after) == len(before) + 3 and set(events) <= set(after.ids)

    # drafted documents are in the log now: no new drafts, and the raw answers are kept
    code, stdout, err = run(
        capsys,
        "events",
        "sources",
        "federal-register",
        "--from-file",
        str(FIX / "fr_documents.json"),
        "--candidates",
        "--log",
        str(log),
        "--out",
        str(out),
        "--universe",
        UNIVERSE,
    )
    assert code == 0, err
    assert "candidates: 0 draft" in stdout
    assert not (out / FOLDER / "candidates.yaml").exists()
    assert (out / FOLDER / "raw" / "01-fr_documents.json").read_bytes() == (
        FIX / "fr_documents.json"
    ).read_bytes()


def _publication_log(tmp_path: Path) -> Path:
    return new_log(
        tmp_path / "log.yaml",
        event(
            "bis-test-2027-02-integrated-circuits",
            [
                {
                    "stage": "announcement",
                    "timezone": "America/New_York",
                    "time_known": False,
                    "date": "2027-02-03",
                },
                {
                    "stage": "publication",
                    "timezone": "America/New_York",
                    "time_known": False,
                    "date": "2027-02-03",
                    "note": "92 FR 5005",
                },
            ],
            authority="US-BIS",
            type="tightening",
            jurisdiction="US",
            sources=[
                {
                    "url": "https://www.federalregister.gov/d/2027-01005",
                    "title": "FR Doc. 2027-01005",
                    "primary": True,
                }
            ],
        ),
    )


def test_match_proposes_exact_publication_from_public_inspection(tmp_path, capsys):
    log = _publication_log(tmp_path)
    out = tmp_path / "review"
    code, stdout, err = _from_saved(
        capsys,
        "--match",
        "--log",
        str(log),
        "--out",
        str(out),
        "--universe",
        UNIVERSE,
    )
    assert code == 0, err
    assert "1 propose" in stdout
    proposals = yaml.safe_load((out / FOLDER / "proposals.yaml").read_text())["proposals"]
    (p,) = proposals
    stage = p["changes"]["stages"][1]
    assert stage == {
        "stage": "publication",
        "timezone": "America/New_York",
        "time_known": True,
        "at": "2027-02-02T08:45:00-05:00",
        "note": stage["note"],
    }
    assert "92 FR 5005" in stage["note"] and "published 2027-02-03" in stage["note"]
    code, _, err = run(capsys, *shlex.split(p["command"])[1:], "--universe", UNIVERSE)
    assert code == 0, err
    ev = load_catalog(log).get("bis-test-2027-02-integrated-circuits")
    assert ev.official_stage().stage == "publication"
    code, stdout, _ = run(capsys, "events", "audit", "--log", str(log))
    assert "exact 1" in stdout


def test_shared_answer_against_the_curated_log(capsys, tmp_path):
    """The trimmed real answer has no public-inspection times: its three rules are in the
    log, and their date-only publication stages agree with the publication dates."""
    try:
        from shared_support import SHARED, require_shared
    except ImportError:  # pragma: no cover
        from tests.shared_support import SHARED, require_shared
    path = require_shared(SHARED / "data" / "sources" / "federal_register") / (
        "documents_bis_semiconductor.json"
    )
    log = tmp_path / "export_controls.yaml"
    shutil.copyfile(LOG, log)
    code, stdout, err = run(
        capsys,
        "events",
        "sources",
        "federal-register",
        "--from-file",
        str(path),
        "--match",
        "--candidates",
        "--log",
        str(log),
        "--out",
        str(tmp_path / "o"),
        "--universe",
        UNIVERSE,
    )
    assert code == 0, err
    summary = stdout.split("match: ")[1].splitlines()[0]
    assert summary.startswith("3 stages compared") and "conflict" not in summary
    assert "no public-inspection times in these answers" in stdout
    assert "candidates: 0 draft" in stdout
