"""The universe's EDGAR CIKs, and its YAML read with the event log's limits."""

from __future__ import annotations

import json

import pytest

try:
    from sources_support import UNIVERSE
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.sources_support import UNIVERSE

from backtest.errors import UniverseError
from backtest.universe import Security, load_universe


def test_us_stocks_and_adrs_carry_a_cik():
    uni = load_universe(UNIVERSE)
    for s in uni.securities:
        us_line = s.mic in ("XNAS", "XNYS") and s.kind in ("stock", "adr")
        assert bool(s.cik) == us_line, s.symbol
        if s.cik:
            assert len(s.cik) == 10 and s.cik.isdigit()
    assert [s.symbol for s in uni.by_cik("1045810")] == ["NVDA"]


def test_ciks_agree_with_the_shared_edgar_documents():
    try:
        from shared_support import SHARED, require_shared
    except ImportError:  # pragma: no cover
        from tests.shared_support import SHARED, require_shared
    edgar = require_shared(SHARED / "data" / "sources" / "edgar")
    uni = load_universe(UNIVERSE)
    for symbol, name in (("NVDA", "CIK0001045810.json"), ("AMD", "CIK0000002488.json")):
        doc = json.loads((edgar / name).read_text())
        assert uni[symbol].cik == doc["cik"] and symbol in doc["tickers"]
    for symbol, feed in (("KLAC", "feed_8k_klac.xml"), ("ASML", "feed_6k_asml.xml")):
        assert f"<cik>{uni[symbol].cik}</cik>" in (edgar / feed).read_text(encoding="latin-1")


def test_cik_is_normalised_and_checked():
    base = {"symbol": "X", "name": "X", "mic": "XNAS", "currency": "USD", "group": "us_semis"}
    assert Security(**base, cik="2488").cik == "0000002488"
    assert Security(**base, cik=2488).cik == "0000002488"
    with pytest.raises(ValueError, match="not up to 10 digits"):
        Security(**base, cik="12ab")


def _write(tmp_path, text: str):
    p = tmp_path / "universe.yaml"
    p.write_text(text, encoding="utf-8")
    return p


LINE = "{symbol: NVDA, name: N, mic: XNAS, currency: USD, group: us_incumbent}"


def test_billion_laughs_is_refused_before_expansion(tmp_path):
    lol = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lol.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    text = "\n".join(lol) + f"\nsecurities:\n  - {LINE}\n"
    with pytest.raises(UniverseError, match="YAML aliases would expand") as exc:
        load_universe(_write(tmp_path, text))
    assert "universe.yaml" in str(exc.value) and "\n" not in str(exc.value)


def test_duplicate_keys_and_small_anchors(tmp_path):
    with pytest.raises(UniverseError, match="duplicate key"):
        load_universe(_write(tmp_path, f"securities:\n  - {LINE}\nsecurities: []\n"))
    ok = (
        "securities:\n"
        "  - {symbol: SPY, name: S, mic: ARCX, currency: USD, group: benchmark, kind: etf}\n"
        "  - {symbol: NVDA, name: N, mic: XNAS, currency: USD, group: us_incumbent, "
        'benchmarks: &b [SPY], listed: 1999-01-22, cik: "0001045810"}\n'
        "  - {symbol: AMD, name: A, mic: XNAS, currency: USD, group: us_incumbent, "
        "benchmarks: *b}\n"
    )
    uni = load_universe(_write(tmp_path, ok))  # a few aliases are fine
    assert uni["AMD"].benchmarks == ("SPY",)
    assert uni["NVDA"].listed == "1999-01-22"  # dates stay strings, as in the event log
