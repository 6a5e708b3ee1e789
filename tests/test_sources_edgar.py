"""`mib events sources edgar`: EDGAR submissions documents, Atom feeds, acceptance times.

Acceptance times of named filings are checked against the shared real captures
(../shared/data/sources/edgar, read by hand: the ``acceptanceDateTime`` of each
accession as it stands in the file, and the Eastern time it is).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

try:
    from cli_support import one_error_line
    from cli_support import run_cli as run
    from sources_support import FIX, LOG, UNIVERSE, event, new_log
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line
    from tests.cli_support import run_cli as run
    from tests.sources_support import FIX, LOG, UNIVERSE, event, new_log

from backtest.eventlog import load_catalog
from backtest.sources.edgar import (
    EASTERN,
    expected_filing_date,
    parse_acceptance,
)
from backtest.sources.errors import SourceError
from backtest.sources.filings import parse_filings
from backtest.sources.http import read_file
from backtest.sources.proposals import match_edgar
from backtest.universe import load_universe


@pytest.fixture(scope="module")
def edgar_dir() -> Path:
    try:
        from shared_support import SHARED, require_shared
    except ImportError:  # pragma: no cover
        from tests.shared_support import SHARED, require_shared
    return require_shared(SHARED / "data" / "sources" / "edgar")


def _parse(path: Path):
    return parse_filings(path.read_bytes(), str(path))


# -- acceptance times of the real documents ----------------------------------------------


@pytest.mark.parametrize(
    ("doc", "accession", "raw", "eastern"),
    [
        # PROVENANCE.md's list, each value read in the file itself
        (
            "CIK0001045810.json",
            "0001045810-22-000146",
            "2022-08-31T21:00:22.000Z",
            "2022-08-31T17:00:22-04:00",
        ),
        (
            "CIK0001045810.json",
            "0001045810-22-000151",
            "2022-09-01T11:05:16.000Z",
            "2022-09-01T07:05:16-04:00",
        ),
        (
            "CIK0001045810.json",
            "0001045810-23-000217",
            "2023-10-17T21:27:14.000Z",
            "2023-10-17T17:27:14-04:00",
        ),
        (
            "CIK0001045810.json",
            "0001045810-23-000221",
            "2023-10-24T13:00:18.000Z",
            "2023-10-24T09:00:18-04:00",
        ),
        (
            "CIK0001045810.json",
            "0001045810-25-000082",
            "2025-04-15T21:22:59.000Z",
            "2025-04-15T17:22:59-04:00",
        ),
        (
            "CIK0000002488.json",
            "0000002488-25-000039",
            "2025-04-16T13:03:30.000Z",
            "2025-04-16T09:03:30-04:00",
        ),
        # winter (EST, -05:00) and an after-17:30 filing dated the next day
        (
            "CIK0001045810.json",
            "0001045810-26-000024",
            "2026-03-06T21:11:25.000Z",
            "2026-03-06T16:11:25-05:00",
        ),
        (
            "CIK0001045810.json",
            "0001045810-25-000179",
            "2025-06-30T22:35:29.000Z",
            "2025-06-30T18:35:29-04:00",
        ),
    ],
)
def test_acceptance_times_of_named_filings(edgar_dir, doc, accession, raw, eastern):
    filings = _parse(edgar_dir / doc)
    f = filings.by_accession(accession)
    assert f is not None and f.form == "8-K"
    assert f.accepted_raw == raw
    assert f.accepted_eastern.isoformat() == eastern
    assert f.accepted == dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))


def test_documents_read_whole_and_the_z_is_utc(edgar_dir):
    nvda, amd = _parse(edgar_dir / "CIK0001045810.json"), _parse(edgar_dir / "CIK0000002488.json")
    assert (nvda.cik, nvda.name, len(nvda.filings)) == ("0001045810", "NVIDIA CORP", 1000)
    assert (amd.cik, len(amd.filings)) == ("0000002488", 1001)
    assert nvda.older_files[0][0] == "CIK0001045810-submissions-001.json"
    for doc in (nvda, amd):
        conv = doc.convention
        assert conv.reading == "utc"
        assert conv.utc_contradictions == 0 and conv.eastern_contradictions > 100
    assert len(nvda.select(["8-K"])) == 61


def test_filing_date_rule():
    def et(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text).replace(tzinfo=EASTERN)

    assert expected_filing_date("8-K", et("2025-06-30T18:35:29")) == dt.date(2025, 7, 1)
    assert expected_filing_date("8-K", et("2021-06-04T18:50:36")) == dt.date(2021, 6, 7)  # Fri
    assert expected_filing_date("8-K", et("2025-04-15T17:22:59")) == dt.date(2025, 4, 15)
    assert expected_filing_date("4", et("2025-04-15T21:00:00")) == dt.date(2025, 4, 15)
    assert expected_filing_date("8-K", et("2025-11-27T10:00:00")) == dt.date(2025, 11, 28)
    assert expected_filing_date("CORRESP", et("2025-11-27T10:00:00")) is None


def test_eastern_wall_clock_behind_a_z_is_detected():
    filings = _parse(FIX / "edgar_eastern_z.json")
    assert filings.convention.reading == "eastern"
    f = filings.by_accession("0000002488-24-000010")
    assert f.accepted_eastern.isoformat() == "2024-03-05T18:10:00-05:00"
    assert f.accepted.isoformat() == "2024-03-05T23:10:00+00:00"
    assert "misleading" in filings.convention.line()


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("20231017172714", "2023-10-17T21:27:14+00:00"),  # SEC header: Eastern, EDT
        ("2024-01-10 16:05:00", "2024-01-10T21:05:00+00:00"),  # index page: Eastern, EST
        ("20240310120000", "2024-03-10T16:00:00+00:00"),  # the day DST starts: EDT
        ("2024-03-09T12:00:00", "2024-03-09T17:00:00+00:00"),  # the day before: EST
        ("2026-06-12T16:05:07-04:00", "2026-06-12T20:05:07+00:00"),  # Atom: as written
        ("2023-10-17T21:27:14.000Z", "2023-10-17T21:27:14+00:00"),
    ],
)
def test_acceptance_formats(raw, utc):
    assert parse_acceptance(raw).isoformat() == utc


def test_atom_feeds(edgar_dir):
    kla = _parse(edgar_dir / "feed_8k_klac.xml")
    assert (kla.cik, kla.name, kla.kind) == ("0000319201", "KLA CORP", "atom")
    f = kla.by_accession("0001193125-26-269375")
    assert (f.form, f.items, f.filing_date) == ("8-K", ("5.03", "9.01"), dt.date(2026, 6, 12))
    assert f.accepted.isoformat() == "2026-06-12T20:05:07+00:00"
    assert f.index_url.endswith("0001193125-26-269375-index.htm")
    asml = _parse(edgar_dir / "feed_6k_asml.xml")
    g = asml.by_accession("0001628280-26-026703")
    assert g.form == "6-K" and g.accepted_eastern.isoformat() == "2026-04-23T08:47:08-04:00"


# -- damaged input: one clear error, nothing written ----------------------------------------


def _bad_file(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("cut.json", None, "truncated JSON"),
        (
            "page.json",
            b"<!DOCTYPE html><html><head><title>Access Denied</title></head></html>",
            "HTML page",
        ),
        ("empty.json", b"", "empty answer"),
        ("fr.json", (FIX / "fr_documents.json").read_bytes(), "not an EDGAR submissions document"),
        ("arrays.json", (FIX / "edgar_mismatched.json").read_bytes(), "differ in length"),
        (
            "dtd.xml",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><feed/>',
            "DOCTYPE",
        ),
        (
            "feed.xml",
            b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>',
            "truncated XML",
        ),
    ],
)
def test_damaged_documents_are_refused_and_nothing_is_written(
    edgar_dir, tmp_path, capsys, name, data, needle
):
    if data is None:
        data = (edgar_dir / "CIK0001045810.json").read_bytes()[:5000]
    path = _bad_file(tmp_path, name, data)
    with pytest.raises(SourceError, match=needle):
        parse_filings(path.read_bytes(), str(path))
    out = tmp_path / "out"
    code, _, err = run(
        capsys,
        "events",
        "sources",
        "edgar",
        "--from-file",
        str(path),
        "--symbol",
        "NVDA",
        "--match",
        "--out",
        str(out),
        "--universe",
        UNIVERSE,
    )
    one_error_line(code, err, needle, str(path))
    assert not out.exists()


def test_wrong_company_for_the_symbol(edgar_dir, tmp_path, capsys):
    code, _, err = run(
        capsys,
        "events",
        "sources",
        "edgar",
        "--from-file",
        str(edgar_dir / "CIK0001045810.json"),
        "--symbol",
        "AMD",
        "--universe",
        UNIVERSE,
    )
    one_error_line(code, err, "CIK 0001045810 (NVIDIA CORP)", "not AMD's CIK 0000002488")


def test_network_needs_a_cik_and_a_contact(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MIB_CONTACT", raising=False)
    code, _, err = run(
        capsys, "events", "sources", "edgar", "--symbol", "0981.HK", "--universe", UNIVERSE
    )
    one_error_line(code, err, "0981.HK has no cik")
    code, _, err = run(
        capsys, "events", "sources", "edgar", "--symbol", "NVDA", "--universe", UNIVERSE
    )
    one_error_line(code, err, "User-Agent that names a contact", "--contact")
    code, _, err = run(capsys, "events", "sources", "edgar", "--universe", UNIVERSE)
    one_error_line(code, err, "nothing to read")


# -- listing and matching ------------------------------------------------------------------


def _from_saved(capsys, *args: str) -> tuple[int, str, str]:
    """`mib events sources edgar` on the saved NVIDIA document, with ``args``."""
    return run(
        capsys,
        "events",
        "sources",
        "edgar",
        "--from-file",
        str(FIX / "edgar_small.json"),
        *args,
        "--universe",
        UNIVERSE,
    )


def test_listing_from_a_saved_document(capsys):
    code, out, err = _from_saved(capsys)
    assert code == 0, err
    assert "NVIDIA CORP (CIK 0001045810, NVDA): 3" in out
    assert "0001045810-22-000146  2022-08-31  2022-08-31T21:00:22Z  17:00:22 EDT  8.01" in out
    assert "sha256" in out and "read as UTC" in out


def _match(capsys, log: Path, out: Path) -> tuple[int, str, str]:
    """`mib events sources edgar --match` on the saved NVIDIA document against ``log``."""
    return _from_saved(capsys, "--match", "--log", str(log), "--out", str(out))


def _disclosure_log(tmp_path: Path) -> Path:
    return new_log(
        tmp_path / "log.yaml",
        event(
            "nvda-test-2022-08-31-8k",
            [
                {
                    "stage": "filing",
                    "timezone": "America/New_York",
                    "time_known": False,
                    "date": "2022-08-31",
                    "not_before": "2022-08-31T16:00:00-04:00",
                    "note": "8-K filed after the close",
                }
            ],
        ),
        event(
            "nvda-test-2022-09-01-8k",
            [
                {
                    "stage": "announcement",
                    "timezone": "America/New_York",
                    "time_known": False,
                    "date": "2022-09-01",
                }
            ],
            type="licence_grant",
            direction="easing",
        ),
        event(
            "nvda-test-2022-09-01-disclosure",
            [
                {
                    "stage": "announcement",
                    "timezone": "America/New_York",
                    "time_known": False,
                    "date": "2022-09-01",
                }
            ],
        ),
    )


def test_match_proposes_exact_filing_stages_and_the_amends_apply(tmp_path, capsys):
    log = _disclosure_log(tmp_path)
    out = tmp_path / "review"
    code, stdout, err = _match(capsys, log, out)
    assert code == 0, err
    assert "2 propose" in stdout
    folder = out / "edgar-NVDA"
    assert {p.name for p in folder.iterdir()} == {"proposals.yaml", "amend.sh", "raw"}
    raw = sorted((folder / "raw").iterdir())
    assert raw[0].read_bytes() == (FIX / "edgar_small.json").read_bytes()
    meta = json.loads(raw[1].read_text())
    assert meta["sha256"] == read_file(FIX / "edgar_small.json").sha256
    assert (out / "amend.sh").exists()

    import yaml

    proposals = yaml.safe_load((folder / "proposals.yaml").read_text())
    assert proposals["log"]["version"].startswith("v3:")
    by_id = {p["event_id"]: p for p in proposals["proposals"]}
    # the date-only filing stage: the 8-K, not the 10-Q accepted 73 s later the same day
    first = by_id["nvda-test-2022-08-31-8k"]
    assert first["evidence"]["accession"] == "0001045810-22-000146"
    stage = first["changes"]["stages"][0]
    assert stage["at"] == "2022-08-31T17:00:22-04:00" and stage["time_known"] is True
    assert "not_before" not in stage and "0001045810-22-000146" in first["reason"]
    assert first["changes"]["confidence"] == "high"
    assert any("000104581022000146" in s["url"] for s in first["changes"]["sources"])
    # a company disclosure without a filing stage gets one
    added = by_id["nvda-test-2022-09-01-disclosure"]["changes"]["stages"]
    assert added[-1]["stage"] == "filing" and added[-1]["at"] == "2022-09-01T07:05:16-04:00"
    # a licence grant without a filing stage is not a disclosure to pin
    assert "nvda-test-2022-09-01-8k" not in by_id

    for p in proposals["proposals"]:  # what amend.sh runs, through the CLI
        argv = p["command"].split(" ", 1)[1]
        import shlex

        code, _, err = run(capsys, *shlex.split(argv), "--universe", UNIVERSE)
        assert code == 0, err
    cat = load_catalog(log)
    assert cat.get("nvda-test-2022-08-31-8k").stage("filing").at_utc.isoformat() == (
        "2022-08-31T21:00:22+00:00"
    )
    code, stdout, _ = run(capsys, "events", "audit", "--log", str(log))
    assert "exact 2" in stdout

    # a second match finds them pinned and proposes nothing
    code, stdout, err = _match(capsys, log, out)
    assert code == 0, err
    assert "match: 2 stages compared: 2 pinned" in stdout
    assert "0 amend proposal(s)" in stdout


@pytest.mark.slow
def test_amend_script_runs_once(tmp_path, capsys):
    log = _disclosure_log(tmp_path)
    out = tmp_path / "review"
    code, _, err = _match(capsys, log, out)
    assert code == 0, err
    wrapper = tmp_path / "mib"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m backtest "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "MIB": str(wrapper)}
    for _ in range(2):  # the second run skips what the first applied
        done = subprocess.run(
            ["sh", str(out / "amend.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert done.returncode == 0, done.stderr
    assert len(load_catalog(log).records) == 3 + 2


def test_conflicting_exact_time_is_reported_not_proposed(tmp_path, capsys):
    log = new_log(
        tmp_path / "log.yaml",
        event(
            "nvda-test-wrong-time",
            [
                {
                    "stage": "filing",
                    "timezone": "America/New_York",
                    "time_known": True,
                    "at": "2022-08-31T16:30:00-04:00",
                }
            ],
        ),
    )
    code, stdout, err = _match(capsys, log, tmp_path / "o")
    assert code == 0, err
    assert "1 conflict" in stdout
    script = (tmp_path / "o" / "edgar-NVDA" / "amend.sh").read_text()
    assert "# CONFLICT (not proposed) nvda-test-wrong-time" in script
    assert "events amend" not in script


# -- the curated log ------------------------------------------------------------------------


def test_curated_nvidia_and_amd_filings_carry_the_edgar_acceptance_time(edgar_dir):
    """Issue 18: every NVIDIA/AMD filing stage in the log whose filing is in the shared
    documents is exact and equal to its EDGAR acceptance time."""
    uni = load_universe(UNIVERSE)
    cat = load_catalog(LOG, universe=uni)
    seen = []
    for symbol, doc in (("NVDA", "CIK0001045810.json"), ("AMD", "CIK0000002488.json")):
        answer = read_file(edgar_dir / doc)
        filings = parse_filings(answer.data, answer.origin)
        for f in match_edgar(cat, uni[symbol], filings, answer, ["8-K", "10-Q", "10-K"]):
            if f.status in ("not-covered", "no-filing"):
                continue
            assert f.status == "pinned", (f.event_id, f.detail)
            seen.append(f.event_id)
    disclosures = {
        e.id
        for e in cat.events
        if e.type == "company_disclosure" and e.authority in ("NVIDIA", "AMD")
    }
    assert disclosures <= set(seen)
