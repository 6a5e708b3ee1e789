"""Folding, tamper detection, atomic and locked appends, and the catalog frame."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from backtest.errors import EventLogError
from backtest.eventlog import (
    DuplicateEventError,
    TamperedLogError,
    UnknownEventError,
    add_event,
    amend_event,
    chain_digest,
    empty_log_text,
    import_events,
    load_catalog,
    read_event_file,
    retract_event,
    yamlio,
)
from backtest.eventlog import append as append_mod
from backtest.eventlog.yamlio import dump_records
from backtest.universe import load_universe

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "eventlog"
NVDA_8K = "nvda-8k-2022-08-31"
BIS = "bis-2022-10-07-advanced-computing"


@pytest.fixture(scope="module")
def universe():
    return load_universe(ROOT / "events" / "universe.yaml")


@pytest.fixture
def log(tmp_path, universe) -> Path:
    path = tmp_path / "log.yaml"
    path.write_text(empty_log_text(), encoding="utf-8")
    import_events(path, FIX / "bis_2022.yaml", "2026-11-01", universe=universe)
    return path


def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_fold_amend_retract_and_versions(log, universe):
    amend_event(
        log,
        NVDA_8K,
        {"confidence": "low"},
        "second source disagrees",
        recorded="2026-11-02",
        universe=universe,
    )
    retract_event(
        log, BIS, "duplicate of a curated entry", recorded="2026-11-03", universe=universe
    )
    latest = load_catalog(log)
    assert latest.version.seq == 4 and latest.ids == (NVDA_8K,)
    assert latest.get(NVDA_8K).confidence == "low"
    assert latest.retracted == (BIS,)
    at2 = load_catalog(log, version=2)
    assert at2.ids == (NVDA_8K, BIS)  # ordered by announcement date
    assert at2.get(NVDA_8K).confidence == "high"
    assert load_catalog(log, version=f"v2:{at2.version.digest[:12]}").version == at2.version
    assert load_catalog(log, version=0).events == ()
    assert [e.seq for e in latest.history(NVDA_8K)] == [2, 3]
    assert [e.record.kind for e in latest.history()] == ["announce"] * 2 + ["amend", "retract"]
    with pytest.raises(UnknownEventError, match="retracted"):
        latest.get(BIS)


def test_version_errors(log):
    with pytest.raises(EventLogError, match=r"expected 0\.\.2"):
        load_catalog(log, version=3)
    with pytest.raises(EventLogError, match="log digest differs"):
        load_catalog(log, version="v2:deadbeef")


def test_announce_of_existing_or_retracted_id_is_refused(log, universe):
    event = load_catalog(log).get(BIS)
    before = log.read_bytes()
    with pytest.raises(DuplicateEventError, match="already announced in record 1"):
        add_event(log, event, universe=universe)
    retract_event(log, BIS, "test", universe=universe)
    mid = log.read_bytes()
    with pytest.raises(DuplicateEventError):
        add_event(log, event, universe=universe)
    with pytest.raises(UnknownEventError, match="retracted in record 3"):
        amend_event(log, BIS, {"confidence": "low"}, "x", universe=universe)
    with pytest.raises(UnknownEventError, match="no such event"):
        retract_event(log, "no-such-event", "x", universe=universe)
    assert log.read_bytes() == mid != before


def test_amend_is_revalidated(log, universe):
    with pytest.raises(EventLogError, match=r"changes\.sources") as err:
        amend_event(log, BIS, {"sources": []}, "drop sources", universe=universe)
    assert "at least one source" in str(err.value)
    with pytest.raises(EventLogError, match="unknown security or group") as err:
        amend_event(log, BIS, {"affected": [{"target": "XXXX", "sign": 1}]}, "r", universe=universe)
    assert "changes.affected.0.target" in str(err.value)


def test_hand_edit_of_an_earlier_record_names_its_seq_and_line(log):
    text = log.read_text()
    log.write_text(text.replace("Implementation of Additional", "Implementation of Extra"))
    with pytest.raises(TamperedLogError) as err:
        load_catalog(log)
    msg = str(err.value)
    assert msg.startswith(f"{log}:{_line_of(log, '- seq: 1')}: ")
    assert "record seq 1" in msg and "edited after it was appended" in msg


def test_hand_edit_of_the_last_record_is_detected(log):
    head, tail = log.read_text().rsplit("confidence: high", 1)  # record 2's
    log.write_text(head + "confidence: low" + tail)
    with pytest.raises(TamperedLogError, match="record seq 2") as err:
        load_catalog(log)
    assert str(err.value).startswith(f"{log}:{_line_of(log, '- seq: 2')}: ")


def test_removed_record_is_detected(log, universe):
    add_event(log, read_event_file(FIX / "one_event.yaml")[0][0], universe=universe)
    text = log.read_text()
    start, end = text.index("- seq: 2"), text.index("- seq: 3")
    log.write_text(text[:start] + text[end:])
    with pytest.raises(TamperedLogError, match=r"record seq 2.*sequence number"):
        load_catalog(log)


def test_hand_appended_amend_of_unknown_id_names_the_line(log):
    v = load_catalog(log).version
    raw = {
        "seq": 3,
        "recorded": "2026-11-05",
        "kind": "amend",
        "id": "no-such-id",
        "changes": {"confidence": "low"},
        "reason": "typo",
        "prev_digest": v.digest,
    }
    raw["digest"] = chain_digest(v.digest, raw)
    log.write_text(log.read_text() + dump_records([raw]))
    with pytest.raises(UnknownEventError) as err:
        load_catalog(log)
    assert str(err.value).startswith(f"{log}:{_line_of(log, 'id: no-such-id')}: id: ")


def test_crash_during_write_leaves_the_log_unchanged(log, universe, monkeypatch):
    before = log.read_bytes()
    event = read_event_file(FIX / "one_event.yaml")[0][0]

    def killed(*args, **kwargs):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(yamlio.os, "replace", killed)
    with pytest.raises(EventLogError, match="cannot write the log: simulated crash"):
        add_event(log, event, universe=universe)
    monkeypatch.undo()
    real_write = os.write

    def half_written(fd, data):  # the process dies after writing half the bytes
        real_write(fd, bytes(data)[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(yamlio.os, "fsync", lambda fd: half_written(fd, b"xxxx"))
    with pytest.raises(KeyboardInterrupt):
        add_event(log, event, universe=universe)
    monkeypatch.undo()
    assert log.read_bytes() == before
    assert sorted(p.name for p in log.parent.iterdir()) == ["log.yaml", "log.yaml.lock"]


def test_append_waits_for_the_lock(log, universe, monkeypatch):
    before = log.read_bytes()
    monkeypatch.setattr(append_mod, "LOCK_TIMEOUT_S", 0.2)
    event = read_event_file(FIX / "one_event.yaml")[0][0]
    with FileLock(f"{log}.lock"), pytest.raises(EventLogError, match="could not lock"):
        add_event(log, event, universe=universe)
    assert log.read_bytes() == before
    assert add_event(log, event, universe=universe).seq == 3


def test_first_append_replaces_the_empty_list(tmp_path, universe):
    path = tmp_path / "log.yaml"
    path.write_text(empty_log_text())
    add_event(
        path,
        read_event_file(FIX / "one_event.yaml")[0][0],
        recorded="2026-11-01",
        universe=universe,
    )
    text = path.read_text()
    assert text.startswith(empty_log_text().split("records:")[0] + "records:\n- seq: 1\n")
    assert "recorded: '2026-11-01'" in text and "at: '2023-10-17T10:00:00-04:00'" in text


def test_to_frame_has_one_row_per_event_with_utc_instants(log):
    frame = load_catalog(log).to_frame()
    assert list(frame["id"]) == [NVDA_8K, BIS]
    assert str(frame["announced_at_utc"].dt.tz) == "UTC"
    bis = frame.set_index("id").loc[BIS]
    assert bis["announced_at_utc"] == pd.Timestamp("2022-10-07T17:00:00Z")
    assert bool(bis["time_known"]) is True
    assert pd.isna(bis["publication_at_utc"])
    assert bis["publication_date"] == pd.Timestamp("2022-10-13")
    assert bis["affected"] == "NVDA:- AMD:- us_equipment:- cn_substitute:+"
    assert frame.set_index("id").loc[NVDA_8K, "announced_stage"] == "filing"
    assert frame.attrs["log_version"] == str(load_catalog(log).version)


def test_filter(log):
    cat = load_catalog(log)
    assert cat.filter(types=["restriction"]).ids == (BIS,)
    assert cat.filter(authorities=["nvidia"]).ids == (NVDA_8K,)
    assert cat.filter(start="2022-09-01").ids == (BIS,)
    assert cat.filter(end="2022-08-31").ids == (NVDA_8K,)
    assert cat.filter(types=["restriction"]).version == cat.version
    with pytest.raises(EventLogError, match="YYYY-MM-DD"):
        cat.filter(start="Oct 2022")
