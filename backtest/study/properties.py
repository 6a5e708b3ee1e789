"""One registry of test properties: what each test assumes, tests and rejects by simulation.

Every test the study reports has one frozen :class:`TestProperties` record:
the group tests of :data:`backtest.study.registry.TESTS` and the event-level
tests computed elsewhere (``event_t``, the t across calendar clusters of the
per-cluster mean CARs of ``backtest.summaries.pooled_car``; ``placebo_caar`` and
``placebo_bmp`` of :mod:`backtest.study.placebo`).  The record holds what the
method declares (its level, whether it assumes independent instances, whether
its construction allows for cross-correlation and for event-induced variance,
the fewest clusters it needs, its null and reference distribution) and the
rejection rates simulated by ``benchmarks/bench_rejection.py``, read from the
data file shipped next to this module (``simulated_size.json``; the script that
made it, its seed, number of studies, date and package version are in it).

Which tests lead is decided here and nowhere else (STYLE 16; DESIGN section 4):
a test is a **lead test** when

1. its construction allows for cross-correlation
   (``valid_under_cross_correlation``), and
2. its simulated 5 % rejection rate lies in [3 %, 8 %] (:data:`LEAD_BAND`) in
   each of the scenarios 'normal', 't4' and 'var2' (:data:`LEAD_VARIANTS`:
   residual correlation 0.3 with normal residuals, with t(4) residuals, and
   with the event-day variance doubled) of every simulated layout it can run
   in (:data:`LEAD_LAYOUTS`): 'one_date' (30 securities sharing day 0) when one
   cluster is enough, and 'dates15' (15 dates of 2 securities) when it needs at
   most 15.  A test that needs several clusters is thus judged on the 15-date
   layout only.  A judged scenario missing from the data file disqualifies.

Lead tests are ordered by (a) ``min_clusters``, fewest first (a test that can
judge a single event's date comes before one that needs many dates), then (b)
the largest distance of its judged rates from 5 % (rounded to the data file's
4 decimals, so equal distances tie), smallest first, then (c) name.  The other
tests are comparison tests, in declaration order (:data:`DECLARED`).

Functions: :func:`lead_tests`, :func:`comparison_tests`, :func:`ordered_tests`,
:func:`properties`, :func:`method_note`; :func:`load_registry` reads another
data file (the module-level :data:`PROPERTIES` is read once, at import).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from backtest.errors import InputFileError

Level = Literal["instance", "cluster", "event"]
"""The unit a test's variance is built from.

instance: each security x event instance is an observation (possibly with a
          correction for their correlation, as Kolari-Pynnönen).
cluster:  the calendar cluster (market, day-0 date) is the observation
          (portfolio tests, cluster bootstraps).
event:    computed outside the registry's group tests, across events or
          pseudo-event dates (pooled table, placebo).
"""

DATA_FILE = "simulated_size.json"
LEVEL = 0.05
LEAD_BAND: tuple[float, float] = (0.03, 0.08)
LEAD_VARIANTS: tuple[str, ...] = ("normal", "t4", "var2")
#: The simulated layouts that judge a test, with their number of dates (clusters).
LEAD_LAYOUTS: tuple[tuple[str, int], ...] = (("one_date", 1), ("dates15", 15))
_VARIANT_WORDS = {"normal": "normal", "t4": "t(4) tails", "var2": "event-day variance x2"}


@dataclass(frozen=True, slots=True)
class SimulatedRate:
    """Rejections at 5 % among the simulated studies where the test could run."""

    rate: float
    se: float
    rejections: int
    valid: int
    studies: int


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated design (benchmarks/bench_rejection.py's ``Scenario``)."""

    key: str
    description: str
    dates: int
    per_date: int
    rho: float
    tail_df: float
    event_var: float
    events_per_date: int
    effect: float

    @property
    def variant(self) -> str:
        """The part of the key after the layout, e.g. 'var2' of 'one_date/var2'."""
        return self.key.rsplit("/", 1)[-1]

    @property
    def is_size(self) -> bool:
        """Nothing planted and every instance given once: the rate is a size."""
        return self.effect == 0 and self.events_per_date == 1


@dataclass(frozen=True, slots=True)
class Simulation:
    """Where the simulated rates come from."""

    generator: str
    package_version: str
    date: str
    seed: int
    studies: int
    level: float
    scenarios: Mapping[str, Scenario]


@dataclass(frozen=True, slots=True)
class TestProperties:
    """What a test assumes and tests, and its simulated rejection rates.

    null:          the null hypothesis with ``{window}`` for the window label.
    distribution:  the reference distribution in words.
    min_clusters:  fewest calendar clusters (dates) for the test to run.
    min_instances: fewest instances with a CAR for the test to run.
    rates:         simulated 5 % rejection rate per scenario key (sizes, and
                   power where an effect was planted).
    """

    __test__ = False  # not a pytest class

    name: str
    label: str
    level: Level
    assumes_independent_instances: bool
    valid_under_cross_correlation: bool
    valid_under_event_induced_variance: bool
    min_clusters: int
    min_instances: int
    null: str
    distribution: str
    reference: str
    computed_by: str
    rates: Mapping[str, SimulatedRate] = field(default_factory=lambda: MappingProxyType({}))

    def null_text(self, window: str) -> str:
        """The null hypothesis for a window label, e.g. ``CAAR[0,+1] = 0``."""
        return self.null.format(window=window)

    def rate(self, scenario: str) -> float:
        """The simulated rate in ``scenario`` (NaN if not simulated or the test cannot run)."""
        r = self.rates.get(scenario)
        return r.rate if r is not None else math.nan


def _p(
    name: str,
    label: str,
    level: Level,
    independent: bool,
    xcorr: bool,
    evar: bool,
    clusters: int,
    instances: int,
    null: str,
    dist: str,
    ref: str,
    by: str,
) -> TestProperties:
    return TestProperties(
        name, label, level, independent, xcorr, evar, clusters, instances, null, dist, ref, by
    )


_REG = "backtest.study.registry.TESTS"
_CAAR = "CAAR{window} = 0"

#: What each method declares, from its construction and its source (no simulated rates).
#: Fields in order: name, label, level, assumes independent instances, valid under
#: cross-correlation, valid under event-induced variance, min clusters, min instances,
#: null, distribution, reference, computed by.
DECLARED: tuple[TestProperties, ...] = (
    _p(
        "cross_sectional_t",
        "cross-sectional t",
        "instance",
        True,
        False,
        True,
        1,
        2,
        _CAAR,
        "t(n - 1)",
        "Brown and Warner (1985)",
        _REG,
    ),
    _p(
        "patell_z",
        "Patell Z",
        "instance",
        True,
        False,
        False,
        1,
        1,
        _CAAR,
        "N(0,1)",
        "Patell (1976)",
        _REG,
    ),
    _p(
        "bmp_t",
        "BMP standardised cross-sectional t",
        "instance",
        True,
        False,
        True,
        1,
        2,
        _CAAR,
        "t(n - 1)",
        "Boehmer, Musumeci and Poulsen (1991)",
        _REG,
    ),
    _p(
        "kp_patell_z",
        "Kolari-Pynnönen adjusted Patell Z",
        "instance",
        False,
        True,
        False,
        1,
        1,
        _CAAR,
        "N(0,1)",
        "Kolari and Pynnönen (2010)",
        _REG,
    ),
    _p(
        "kp_bmp_t",
        "Kolari-Pynnönen adjusted BMP t",
        "instance",
        False,
        True,
        True,
        1,
        2,
        _CAAR,
        "t(n - 1)",
        "Kolari and Pynnönen (2010)",
        _REG,
    ),
    _p(
        "portfolio_t",
        "portfolio (clustered-date) t",
        "cluster",
        False,
        True,
        False,
        1,
        1,
        _CAAR,
        "t(L_p - k) for one date; N(0,1) across dates",
        "Brown and Warner (1980, 1985)",
        _REG,
    ),
    _p(
        "portfolio_cs_t",
        "cross-date t of the portfolio t's",
        "cluster",
        False,
        True,
        True,
        2,
        2,
        _CAAR,
        "t(C - 1)",
        "Brown and Warner (1985); Boehmer et al. (1991) across dates",
        _REG,
    ),
    _p(
        "corrado_rank",
        "Corrado rank test",
        "instance",
        False,
        True,
        False,
        1,
        1,
        _CAAR,
        "N(0,1)",
        "Corrado (1989); Campbell and Wasley (1993)",
        _REG,
    ),
    _p(
        "generalized_sign",
        "Cowan generalised sign test",
        "instance",
        True,
        False,
        True,
        1,
        2,
        _CAAR,
        "N(0,1)",
        "Cowan (1992)",
        _REG,
    ),
    _p(
        "grank_t",
        "GRANK generalised rank t",
        "instance",
        False,
        True,
        True,
        1,
        2,
        _CAAR,
        "t(T - 2)",
        "Kolari and Pynnönen (2011)",
        _REG,
    ),
    _p(
        "wilcoxon",
        "Wilcoxon signed-rank test",
        "instance",
        True,
        False,
        True,
        1,
        2,
        "median CAR{window} = 0",
        "signed-rank(n), exact up to 50",
        "Wilcoxon (1945)",
        _REG,
    ),
    _p(
        "cluster_bootstrap",
        "percentile cluster bootstrap",
        "cluster",
        False,
        True,
        True,
        5,
        5,
        _CAAR,
        "cluster bootstrap of the CAAR",
        "Cameron, Gelbach and Miller (2008)",
        _REG,
    ),
    _p(
        "wild_cluster_bootstrap",
        "wild cluster bootstrap-t",
        "cluster",
        False,
        True,
        True,
        5,
        5,
        _CAAR,
        "wild cluster bootstrap-t, Rademacher weights",
        "Cameron, Gelbach and Miller (2008, section 3.3)",
        _REG,
    ),
    _p(
        "event_t",
        "event-level t across calendar clusters",
        "event",
        False,
        True,
        True,
        2,
        2,
        "mean over calendar clusters of the cluster-mean CAR{window} = 0",
        "t(C - 1)",
        "Brown and Warner (1980), crude dependence adjustment across dates",
        "backtest.summaries.pooled_car",
    ),
    _p(
        "placebo_caar",
        "placebo (pseudo-event dates) CAAR",
        "event",
        False,
        True,
        False,
        1,
        1,
        "CAAR{window} = 0 (pseudo-event dates)",
        "permutation over pseudo-event dates",
        "Kolari and Pynnönen (2010, section 4); Good (2005, ch. 3)",
        "backtest.study.placebo (placebo_statistic='caar')",
    ),
    _p(
        "placebo_bmp",
        "placebo (pseudo-event dates) BMP t",
        "event",
        False,
        True,
        True,
        1,
        2,
        "mean SCAR{window} = 0 (pseudo-event dates)",
        "permutation over pseudo-event dates",
        "Kolari and Pynnönen (2010, section 4); Good (2005, ch. 3)",
        "backtest.study.placebo (placebo_statistic='bmp')",
    ),
)


@dataclass(frozen=True, slots=True)
class PropertyRegistry:
    """Every test's properties with their simulated rates; decides lead and comparison tests."""

    tests: Mapping[str, TestProperties]
    simulation: Simulation

    def get(self, name: str) -> TestProperties:
        try:
            return self.tests[name]
        except KeyError:
            raise KeyError(
                f"no properties for test {name!r}; known: {sorted(self.tests)}"
            ) from None

    def judged_scenarios(self, name: str) -> tuple[str, ...]:
        """The scenario keys that decide whether ``name`` leads: each of
        :data:`LEAD_VARIANTS` in each of :data:`LEAD_LAYOUTS` with at least
        ``min_clusters`` dates (whether or not the data file has them)."""
        p = self.get(name)
        return tuple(
            f"{layout}/{v}"
            for layout, dates in LEAD_LAYOUTS
            if dates >= p.min_clusters
            for v in LEAD_VARIANTS
        )

    def is_lead(self, name: str) -> bool:
        """Valid under cross-correlation by construction and in :data:`LEAD_BAND` in every
        judged scenario (a scenario missing from the data file counts as outside)."""
        p = self.get(name)
        keys = self.judged_scenarios(name)
        if not p.valid_under_cross_correlation or not keys:
            return False
        lo, hi = LEAD_BAND
        return all(lo <= p.rate(k) <= hi for k in keys)  # NaN fails both comparisons

    def _distortion(self, name: str) -> float:
        p = self.get(name)
        # rounded as stored (4 decimals), so equal distances tie and the name decides
        return round(max(abs(p.rate(k) - LEVEL) for k in self.judged_scenarios(name)), 4)

    def lead_tests(self) -> tuple[str, ...]:
        """The lead tests, in the documented order (module docstring)."""
        lead = [n for n in self.tests if self.is_lead(n)]
        return tuple(
            sorted(lead, key=lambda n: (self.tests[n].min_clusters, self._distortion(n), n))
        )

    def comparison_tests(self) -> tuple[str, ...]:
        """Every other test, in declaration order."""
        lead = set(self.lead_tests())
        return tuple(n for n in self.tests if n not in lead)

    def ordered_tests(self) -> tuple[str, ...]:
        """Lead tests, then comparison tests (the order of every table of tests)."""
        return self.lead_tests() + self.comparison_tests()

    def method_note(self, name: str) -> str:
        """One sentence: the test, its simulated sizes in the judged scenarios, its role."""
        p = self.get(name)
        sim = self.simulation
        keys = [k for k in self.judged_scenarios(name) if k in sim.scenarios]
        by_layout: dict[tuple[int, int], list[str]] = {}
        for k in keys:
            sc = sim.scenarios[k]
            by_layout.setdefault((sc.dates, sc.per_date), []).append(k)
        spans = [
            f"{_join([_pct(p.rate(k)) for k in ks])} with {_layout(*lay)} "
            f"({_join([_VARIANT_WORDS[sim.scenarios[k].variant] for k in ks])})"
            for lay, ks in by_layout.items()
        ]
        ses = [p.rates[k].se for k in keys if k in p.rates and p.rates[k].valid]
        body = (
            f"simulated rejection rates at the 5 % level of {' and '.join(spans)}"
            f" (binomial standard error at most {100 * max(ses):.1f} points; "
            f"{sim.studies:,} studies per scenario, {sim.generator} seed {sim.seed})"
            if spans and ses
            else "no simulated rate"
        )
        return f"The {p.label} ({p.level}-level, {p.distribution}): {body}, so {self._role(name)}."

    def _role(self, name: str) -> str:
        if self.is_lead(name):
            return "it leads"
        p = self.get(name)
        if not p.valid_under_cross_correlation:
            why = (
                "it assumes independent instances"
                if p.assumes_independent_instances
                else "its construction ignores cross-correlation"
            )
            return f"it is reported for comparison ({why})"
        lo, hi = LEAD_BAND
        bad = [k for k in self.judged_scenarios(name) if not lo <= p.rate(k) <= hi]
        if any(k not in self.simulation.scenarios for k in bad):
            return "it is reported for comparison (not simulated in every lead scenario)"
        words = dict.fromkeys(_VARIANT_WORDS[self.simulation.scenarios[k].variant] for k in bad)
        return (
            f"it is reported for comparison (outside {100 * lo:.0f}-{100 * hi:.0f} % "
            f"with {_join(list(words))})"
        )


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f} %"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _layout(dates: int, per_date: int) -> str:
    return (
        f"one date of {per_date} securities"
        if dates == 1
        else f"{dates} dates of {per_date} securities"
    )


# --------------------------------------------------------------------------- loading


def _int(v: object) -> int:
    """A JSON integer (TypeError otherwise, reported by :func:`parse_registry`)."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise TypeError(f"not an integer: {v!r}")
    return int(v)


def _float(v: object) -> float:
    """A JSON number (TypeError otherwise, reported by :func:`parse_registry`)."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise TypeError(f"not a number: {v!r}")
    return float(v)


def _mapping(v: object) -> Mapping[str, object]:
    if not isinstance(v, Mapping):
        raise TypeError(f"not a mapping: {v!r}")
    return v


def _scenario(key: str, d: Mapping[str, object]) -> Scenario:
    return Scenario(
        key,
        str(d["description"]),
        _int(d["dates"]),
        _int(d["per_date"]),
        _float(d["rho"]),
        _float(d["tail_df"]),
        _float(d["event_var"]),
        _int(d["events_per_date"]),
        _float(d["effect"]),
    )


def _rate(d: Mapping[str, object]) -> SimulatedRate:
    rate = d.get("rate")
    se = d.get("se")
    return SimulatedRate(
        math.nan if rate is None else _float(rate),
        math.nan if se is None else _float(se),
        _int(d["rejections"]),
        _int(d["valid"]),
        _int(d["studies"]),
    )


def parse_registry(
    doc: Mapping[str, object],
    source: str = DATA_FILE,
    declared: tuple[TestProperties, ...] = DECLARED,
) -> PropertyRegistry:
    """The registry from a parsed data file (``source`` names it in errors)."""
    try:
        scen = {k: _scenario(k, _mapping(v)) for k, v in _mapping(doc["scenarios"]).items()}
        sim = Simulation(
            str(doc["generator"]),
            str(doc["package_version"]),
            str(doc["date"]),
            _int(doc["seed"]),
            _int(doc["studies"]),
            _float(doc["level"]),
            MappingProxyType(scen),
        )
        rates = _mapping(doc["rates"])
        tests = {
            p.name: replace(
                p,
                rates=MappingProxyType(
                    {k: _rate(_mapping(v)) for k, v in _mapping(rates.get(p.name, {})).items()}
                ),
            )
            for p in declared
        }
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputFileError(
            "malformed simulated-size file",
            file=source,
            field=str(err),
            expected="the layout written by benchmarks/bench_rejection.py",
        ) from err
    for layout, dates in LEAD_LAYOUTS:
        for v in LEAD_VARIANTS:
            sc = scen.get(f"{layout}/{v}")
            if sc is not None and (sc.dates != dates or not sc.is_size):
                raise InputFileError(
                    "lead scenario with another design",
                    file=source,
                    field=f"scenarios.{layout}/{v}",
                    value=sc.description,
                    expected=f"{dates} date(s), nothing planted, no duplicates",
                )
    if sim.level != LEVEL:
        raise InputFileError(
            "simulated rates at another level",
            file=source,
            field="level",
            value=sim.level,
            expected=str(LEVEL),
        )
    return PropertyRegistry(MappingProxyType(tests), sim)


def load_registry(path: str | Path | None = None) -> PropertyRegistry:
    """Read the simulated rates (default: the file shipped in this package)."""
    if path is None:
        res = resources.files("backtest.study").joinpath(DATA_FILE)
        return parse_registry(json.loads(res.read_text(encoding="utf-8")), DATA_FILE)
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputFileError(f"cannot read simulated sizes: {err}", file=p) from err
    return parse_registry(doc, str(p))


PROPERTIES: PropertyRegistry = load_registry()


def properties(name: str) -> TestProperties:
    """The properties of one test (KeyError naming the known tests otherwise)."""
    return PROPERTIES.get(name)


def lead_tests() -> tuple[str, ...]:
    """Tests that hold their size under clustering and event-induced variance (see module doc)."""
    return PROPERTIES.lead_tests()


def comparison_tests() -> tuple[str, ...]:
    """The tests that are not lead tests, in declaration order."""
    return PROPERTIES.comparison_tests()


def ordered_tests() -> tuple[str, ...]:
    """Lead tests first, then comparison tests."""
    return PROPERTIES.ordered_tests()


def method_note(name: str) -> str:
    """One sentence on ``name`` with its simulated sizes, for the report's method notes."""
    return PROPERTIES.method_note(name)
