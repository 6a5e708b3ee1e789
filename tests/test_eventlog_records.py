"""Records, canonical form and digests of the event log."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.errors import EventLogError
from backtest.eventlog import (
    GENESIS,
    LogVersion,
    RecordError,
    canonical_bytes,
    chain_digest,
    empty_log_text,
    import_events,
    log_digest,
    parse_log,
)
from backtest.eventlog.records import Locator, parse_version, validate_record
from backtest.eventlog.yamlio import dump_records, load_yaml
from backtest.universe import load_universe

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "eventlog"


@pytest.fixture(scope="module")
def universe():
    return load_universe(ROOT / "events" / "universe.yaml")


def _build(tmp: Path, universe) -> Path:
    log = tmp / "log.yaml"
    log.write_text(empty_log_text(), encoding="utf-8")
    import_events(log, FIX / "bis_2022.yaml", "2026-11-28", universe=universe)
    return log


def test_canonical_form_is_sorted_compact_json_without_digests():
    raw = {
        "seq": 1,
        "kind": "retract",
        "recorded": "2025-01-02",
        "id": "x-é",
        "reason": "r",
        "prev_digest": GENESIS,
        "digest": "f" * 64,
    }
    expected = '{"id":"x-é","kind":"retract","reason":"r","recorded":"2025-01-02","seq":1}'
    assert canonical_bytes(raw) == expected.encode("utf-8")
    assert canonical_bytes(dict(reversed(list(raw.items())))) == canonical_bytes(raw)


def test_chain_digest_follows_the_documented_formula():
    raw = {"seq": 1, "recorded": "2025-01-02", "kind": "retract", "id": "x", "reason": "r"}
    body = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    want = hashlib.sha256(GENESIS.encode() + b"\n" + body).hexdigest()
    assert chain_digest(GENESIS, raw) == want
    assert log_digest([]) == GENESIS
    assert log_digest([raw, raw]) == chain_digest(want, raw)


def test_same_records_give_the_same_bytes_and_version(tmp_path, universe):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = _build(tmp_path / "a", universe), _build(tmp_path / "b", universe)
    assert a.read_bytes() == b.read_bytes()
    va = parse_log(a.read_text(), a).version
    assert va == parse_log(b.read_text(), b).version
    assert va.seq == 2 and va.digest != GENESIS


def test_one_changed_byte_changes_the_digest():
    raw = {"seq": 1, "recorded": "2025-01-02", "kind": "retract", "id": "x", "reason": "abc"}
    other = dict(raw, reason="abd")
    assert chain_digest(GENESIS, raw) != chain_digest(GENESIS, other)
    assert chain_digest(GENESIS, raw) != chain_digest("1" + GENESIS[1:], raw)


def test_cosmetic_yaml_changes_keep_the_version(tmp_path, universe):
    log = _build(tmp_path, universe)
    text = log.read_text()
    cosmetic = text.replace("  kind: announce\n", "  kind: 'announce'  # quoted\n")
    assert cosmetic != text
    assert parse_log(cosmetic, log).version == parse_log(text, log).version


def test_log_version_renders_and_parses():
    v = LogVersion(42, "1a2b3c4d5e6f" + "0" * 52)
    assert str(v) == "v42:1a2b3c4d5e6f"
    assert parse_version("v42:1a2b3c4d5e6f") == (42, "1a2b3c4d5e6f")
    assert parse_version("7") == (7, None)
    with pytest.raises(EventLogError, match="expected N, vN or vN:DIGEST"):
        parse_version("latest")


def test_loader_keeps_dates_and_timestamps_as_strings():
    data = load_yaml("a: 2022-10-07\nb: 2022-10-07T13:00:00-04:00\nc: 3\nd: true\n", "x").data
    assert data == {"a": "2022-10-07", "b": "2022-10-07T13:00:00-04:00", "c": 3, "d": True}


@pytest.mark.parametrize(
    ("recorded", "ok"),
    [
        ("2026-11-28", True),
        ("2026-11-28T23:05:00Z", True),
        ("2026-11-28T23:05:00+00:00", True),
        ("2026-11-28T23:05:00", False),
        ("2026-11-28T18:05:00-05:00", False),
        ("28/11/2026", False),
    ],
)
def test_recorded_is_a_date_or_a_utc_timestamp(recorded, ok):
    raw = {
        "seq": 1,
        "recorded": recorded,
        "kind": "retract",
        "id": "x",
        "reason": "r",
        "prev_digest": GENESIS,
        "digest": GENESIS,
    }
    if ok:
        assert validate_record(raw, Locator("f.yaml")).recorded == recorded
    else:
        with pytest.raises(RecordError, match="recorded"):
            validate_record(raw, Locator("f.yaml"))


def test_amend_may_not_change_the_id_or_unknown_fields():
    base = {
        "seq": 1,
        "recorded": "2026-01-01",
        "kind": "amend",
        "id": "x",
        "reason": "r",
        "prev_digest": GENESIS,
        "digest": GENESIS,
    }
    for changes in ({"id": "y"}, {"colour": "red"}):
        with pytest.raises(RecordError, match="cannot amend field"):
            validate_record(dict(base, changes=changes), Locator("f.yaml"))
    with pytest.raises(RecordError, match="unknown record kind"):
        validate_record(dict(base, kind="delete"), Locator("f.yaml"))


_scalars = st.one_of(
    st.text(max_size=30), st.integers(-(10**6), 10**6), st.booleans(), st.dates().map(str)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from(["notes", "title", "confidence"]), _values, min_size=1),
    reason=st.text(min_size=1, max_size=40),
)
def test_what_is_written_is_what_is_hashed(changes, reason):
    raw = {
        "seq": 1,
        "recorded": "2026-01-01",
        "kind": "amend",
        "id": "x",
        "changes": changes,
        "reason": reason,
        "prev_digest": GENESIS,
    }
    raw["digest"] = chain_digest(GENESIS, raw)
    loaded = load_yaml("records:\n" + dump_records([raw]).lstrip("\n"), "x").data
    assert loaded["records"] == [raw]
    assert chain_digest(GENESIS, loaded["records"][0]) == raw["digest"]
