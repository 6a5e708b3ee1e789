"""Every group-level test under one name and one signature.

Uniform signature (:data:`TestFn`)::

    fn(ar: AbnormalReturns, w: WindowCAR, idx: IntArray | None = None) -> TestResult

``ar`` and ``w`` hold all instances of a study; ``idx`` selects the instances
of one group (integer positions or a boolean mask; None = all).  A daily test
is the same call with the one-day window [t, t]
(:func:`backtest.study.stats.day_window` builds it from ``ar``).  No test raises on bad data:
it returns ``TestResult.invalid`` with a reason.

The two cluster bootstraps are random; in :data:`TESTS` they are bound to the
seed :data:`DEFAULT_SEED` (an integer: a fresh Generator per call, so results
are reproducible).  Use :func:`make_tests` for another seed or number of draws
(a Generator passed there is shared by, and advanced by, every call).

The per-instance time-series t is not a group test; see
:func:`backtest.study.stats.time_series_t` and ``time_series_t_all``.

What each test assumes, and which tests lead, is decided by one registry of
test properties, :mod:`backtest.study.properties` (re-exported here):
:func:`lead_tests`, :func:`comparison_tests`, :func:`ordered_tests`,
:func:`properties` and :func:`method_note`.  :data:`CLUSTER_ROBUST` is derived
from it: the group tests whose construction allows for cross-correlation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from backtest.study.arrays import AbnormalReturns, IntArray, TestResult, WindowCAR
from backtest.study.clustering import (
    StatsMemo,
    cluster_bootstrap_test,
    kp_bmp_t,
    kp_patell_z,
    portfolio_cs_t,
    portfolio_t,
    wild_cluster_bootstrap_test,
)
from backtest.study.properties import (
    PROPERTIES,
    comparison_tests,
    lead_tests,
    method_note,
    ordered_tests,
    properties,
)
from backtest.study.ranks import corrado_rank, generalized_sign, grank_t, wilcoxon_signed_rank
from backtest.study.spec import DEFAULT_BOOTSTRAP_DRAWS
from backtest.study.spec import DEFAULT_SEED as SPEC_SEED
from backtest.study.spec import TestName as TestName  # defined beside DEFAULT_TESTS
from backtest.study.stats import bmp_t, cross_sectional_t, patell_z

__all__ = [
    "CLUSTER_ROBUST",
    "DEFAULT_BOOT",
    "DEFAULT_SEED",
    "TESTS",
    "TestFn",
    "TestName",
    "comparison_tests",
    "lead_tests",
    "make_tests",
    "method_note",
    "ordered_tests",
    "properties",
    "run_all",
]

TestFn = Callable[[AbnormalReturns, WindowCAR, IntArray | None], TestResult]


DEFAULT_SEED = SPEC_SEED
"""The seed of :data:`TESTS`' bootstraps: :data:`backtest.study.spec.DEFAULT_SEED`."""
DEFAULT_BOOT = DEFAULT_BOOTSTRAP_DRAWS
"""The bootstrap draws of :data:`TESTS`: :data:`backtest.study.spec.DEFAULT_BOOTSTRAP_DRAWS`."""


def make_tests(
    seed: int | np.random.Generator = DEFAULT_SEED,
    n_boot: int = DEFAULT_BOOT,
    memo: StatsMemo | None = None,
) -> dict[str, TestFn]:
    """All tests, with the cluster bootstrap bound to ``seed`` and ``n_boot`` draws.

    ``memo``: a :class:`~backtest.study.clustering.StatsMemo` for tests that will all
    be called on one and the same AbnormalReturns (it keeps what does not depend on
    the window); the statistics are the same with or without it.
    """
    return {
        "cross_sectional_t": cross_sectional_t,
        "patell_z": patell_z,
        "bmp_t": bmp_t,
        "kp_patell_z": partial(kp_patell_z, memo=memo),
        "kp_bmp_t": partial(kp_bmp_t, memo=memo),
        "portfolio_t": partial(portfolio_t, memo=memo),
        "portfolio_cs_t": partial(portfolio_cs_t, memo=memo),
        "corrado_rank": partial(corrado_rank, memo=memo),
        "generalized_sign": generalized_sign,
        "grank_t": partial(grank_t, memo=memo),
        "wilcoxon": wilcoxon_signed_rank,
        "cluster_bootstrap": partial(cluster_bootstrap_test, rng=seed, n_boot=n_boot),
        "wild_cluster_bootstrap": partial(wild_cluster_bootstrap_test, rng=seed, n_boot=n_boot),
    }


TESTS: dict[str, TestFn] = make_tests()

#: Group tests whose construction allows for cross-correlation (from the properties registry;
#: which of them lead is :func:`lead_tests`, decided by their simulated size).
CLUSTER_ROBUST: frozenset[str] = frozenset(
    n for n in TESTS if PROPERTIES.get(n).valid_under_cross_correlation
)


def run_all(
    ar: AbnormalReturns,
    w: WindowCAR,
    idx: IntArray | None = None,
    tests: dict[str, TestFn] | None = None,
) -> dict[str, TestResult]:
    """Run every test of ``tests`` (default :data:`TESTS`) on one group and window."""
    return {name: fn(ar, w, idx) for name, fn in (tests or TESTS).items()}
