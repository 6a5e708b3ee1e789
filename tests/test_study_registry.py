"""The registry of test properties: complete, derived from the simulated sizes, one decision."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtest.errors import InputFileError
from backtest.study import properties as props
from backtest.study.registry import CLUSTER_ROBUST, TESTS, make_tests
from backtest.study.stats import null_text

EVENT_LEVEL = {"event_t", "placebo_caar", "placebo_bmp"}


def _doc() -> dict[str, Any]:
    text = resources.files("backtest.study").joinpath(props.DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "sizes.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _judged(reg: props.PropertyRegistry, name: str) -> tuple[str, ...]:
    keys = reg.judged_scenarios(name)
    p = reg.get(name)
    layouts = ["one_date"] * (p.min_clusters <= 1) + ["dates15"] * (p.min_clusters <= 15)
    assert keys == tuple(f"{a}/{v}" for a in layouts for v in props.LEAD_VARIANTS), name
    return keys


# --------------------------------------------------------------------------- completeness


def test_every_registry_test_and_event_level_test_has_properties() -> None:
    assert set(TESTS) | EVENT_LEVEL == set(props.PROPERTIES.tests)
    assert [p.name for p in props.DECLARED] == list(props.PROPERTIES.tests)
    assert len({p.name for p in props.DECLARED}) == len(props.DECLARED)
    for name in TESTS:
        assert props.properties(name).computed_by == "backtest.study.registry.TESTS"
    with pytest.raises(KeyError, match="no properties for test 'nope'"):
        props.properties("nope")


def test_shipped_data_has_a_rate_for_every_test_and_scenario() -> None:
    sim = props.PROPERTIES.simulation
    assert sim.generator == "benchmarks/bench_rejection.py"
    assert sim.studies >= 1000 and sim.level == 0.05
    assert {
        "one_date/normal",
        "one_date/t4",
        "one_date/var2",
        "dates15/normal",
        "dates15/duplicate",
        "one_date/power1",
        "one_date/power3",
    } <= set(sim.scenarios)
    for p in props.PROPERTIES.tests.values():
        assert set(p.rates) == set(sim.scenarios), p.name
        for key, r in p.rates.items():
            sc = sim.scenarios[key]
            assert r.studies == sim.studies and 0 <= r.rejections <= r.valid <= r.studies
            if r.valid:
                assert r.rate == pytest.approx(r.rejections / r.valid, abs=5e-5)
                assert r.se == pytest.approx(math.sqrt(r.rate * (1 - r.rate) / r.valid), abs=5e-5)
            else:  # only where the test needs more clusters than the design has
                assert math.isnan(r.rate) and sc.dates < p.min_clusters, (p.name, key)


def test_declared_properties_are_consistent() -> None:
    for p in props.PROPERTIES.tests.values():
        assert p.level in ("instance", "cluster", "event")
        assert p.min_clusters >= 1 and p.min_instances >= 1
        if p.assumes_independent_instances:
            assert not p.valid_under_cross_correlation, p.name
        assert "{window}" in p.null and p.label and p.distribution and p.reference
    assert CLUSTER_ROBUST == {n for n in TESTS if props.properties(n).valid_under_cross_correlation}


def test_null_text_matches_what_each_test_returns() -> None:
    rng = np.random.default_rng(3)
    n_est, clusters, per = 60, 6, 4
    n = clusters * per
    est = 0.01 * rng.standard_normal((n, n_est))
    event = 0.01 * rng.standard_normal((n, 5))
    from backtest.study.arrays import AbnormalReturns, WindowCAR

    ar = AbnormalReturns(
        est,
        event,
        np.arange(-70, -10),
        np.arange(-2, 3),
        np.full(n, n_est),
        np.full(n, 2),
        est.std(axis=1, ddof=2),
        np.ones((n, 5)),
        np.repeat(np.arange(clusters), per),
    )
    w = WindowCAR(
        0, 1, event[:, 2:4].sum(axis=1), 2 * ar.sigma**2, np.full(n, 2), np.full(n, np.nan)
    )
    assert w.label == "[0,+1]"
    for name, fn in make_tests(1, n_boot=99).items():
        res = fn(ar, w, None)
        assert res.valid, (name, res.reason)
        assert res.null == props.properties(name).null_text(w.label), name
    assert (
        props.properties("placebo_caar").null_text("[0,+1]")
        == null_text(w) + " (pseudo-event dates)"
    )


# --------------------------------------------------------------------------- the decision


def test_lead_and_comparison_are_disjoint_and_cover_every_test() -> None:
    lead, comp = props.lead_tests(), props.comparison_tests()
    assert lead, "no lead test: the report would lead with nothing"
    assert not set(lead) & set(comp)
    assert set(lead) | set(comp) == set(props.PROPERTIES.tests)
    assert props.ordered_tests() == lead + comp
    assert len(set(lead)) == len(lead)


def test_lead_tests_satisfy_the_rule_and_comparison_tests_break_it() -> None:
    reg = props.PROPERTIES
    lo, hi = props.LEAD_BAND
    for name in reg.lead_tests():
        p = reg.get(name)
        assert p.valid_under_cross_correlation
        for key in _judged(reg, name):
            assert lo <= p.rate(key) <= hi, (name, key)
        if p.min_clusters == 1:  # the brief's scenarios: one date, normal / t4 / var2
            for v in props.LEAD_VARIANTS:
                assert lo <= p.rate(f"one_date/{v}") <= hi, (name, v)
    for name in reg.comparison_tests():
        p = reg.get(name)
        assert not p.valid_under_cross_correlation or any(
            not lo <= p.rate(k) <= hi for k in _judged(reg, name)
        ), name


def test_lead_order_follows_the_documented_rule() -> None:
    reg = props.PROPERTIES
    lead = reg.lead_tests()

    def key(n: str) -> tuple[int, float, str]:
        p = reg.get(n)
        # distances rounded to the data file's 4 decimals, so equal ones tie on the name
        return p.min_clusters, round(max(abs(p.rate(k) - 0.05) for k in _judged(reg, n)), 4), n

    assert list(lead) == sorted(lead, key=key)


def test_a_changed_simulated_size_flips_membership(tmp_path: Path) -> None:
    doc = _doc()
    reg = props.load_registry(_write(tmp_path, doc))
    assert reg.lead_tests() == props.lead_tests()

    # A lead test that over-rejected with event-day variance x2 would be demoted.
    first = reg.lead_tests()[0]
    bad = copy.deepcopy(doc)
    for key in reg.judged_scenarios(first):
        if key.endswith("/var2"):
            bad["rates"][first][key]["rate"] = 0.163
    demoted = props.load_registry(_write(tmp_path, bad))
    assert first not in demoted.lead_tests() and first in demoted.comparison_tests()
    assert "reported for comparison" in demoted.method_note(first)
    assert "16.3 %" in demoted.method_note(first)

    # A comparison test valid under cross-correlation by construction is promoted when
    # its simulated sizes are all 5 %; one that assumes independent instances is not.
    cand = next(n for n in reg.comparison_tests() if reg.get(n).valid_under_cross_correlation)
    naive = "cross_sectional_t"
    good = copy.deepcopy(doc)
    for name in (cand, naive):
        for key in reg.judged_scenarios(name):
            good["rates"][name][key]["rate"] = 0.05
    promoted = props.load_registry(_write(tmp_path, good))
    assert cand in promoted.lead_tests()
    assert naive in promoted.comparison_tests()


def test_band_edges_and_missing_rates(tmp_path: Path) -> None:
    doc = _doc()
    reg = props.load_registry(_write(tmp_path, doc))
    name = reg.lead_tests()[0]
    key = reg.judged_scenarios(name)[0]
    for rate, lead in ((0.08, True), (0.0801, False), (0.03, True), (0.0299, False), (None, False)):
        d = copy.deepcopy(doc)
        d["rates"][name][key]["rate"] = rate
        assert (name in props.load_registry(_write(tmp_path, d)).lead_tests()) is lead, rate
    d = copy.deepcopy(doc)  # a variant that was never simulated disqualifies
    del d["scenarios"][key]
    for rates in d["rates"].values():
        rates.pop(key, None)
    assert name not in props.load_registry(_write(tmp_path, d)).lead_tests()


def test_method_note_is_one_sentence_with_the_sizes() -> None:
    reg = props.PROPERTIES
    for name in reg.tests:
        note = props.method_note(name)
        assert note.count(". ") == 0 and note.endswith(".")
        p = reg.get(name)
        r = p.rates["dates15/normal" if p.min_clusters > 1 else "one_date/normal"]
        assert f"{100 * r.rate:.1f} %" in note, name
        assert ("it leads" in note) is (name in reg.lead_tests())
        assert reg.simulation.generator in note


def test_malformed_data_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad\.json"):
        props.load_registry(path)
    doc = _doc()
    del doc["scenarios"]
    with pytest.raises(InputFileError, match="malformed simulated-size file"):
        props.load_registry(_write(tmp_path, doc))
    doc = _doc()
    doc["scenarios"]["one_date/var2"]["dates"] = 15
    with pytest.raises(InputFileError, match="lead scenario with another design"):
        props.load_registry(_write(tmp_path, doc))
    doc = _doc()
    doc["level"] = 0.1
    with pytest.raises(InputFileError, match="level"):
        props.load_registry(_write(tmp_path, doc))


def test_readme_lists_the_registry_lead_tests():
    """The README's lead-test line is the registry's (STYLE 16: one registry decides)."""
    import re
    from pathlib import Path

    from backtest.study.registry import lead_tests

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- lead-tests:.*?-->\s*(.*?)\s*<!-- /lead-tests -->", text, re.S)
    assert block is not None
    assert block.group(1).strip() == "lead: " + ", ".join(lead_tests())


def test_the_default_tests_are_exactly_the_registry_in_the_declared_order() -> None:
    from typing import get_args

    from backtest.study.spec import DEFAULT_TESTS, TestName

    assert DEFAULT_TESTS == get_args(TestName)
    assert list(DEFAULT_TESTS) == list(TESTS)  # one list of names, the registry's order
