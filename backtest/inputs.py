"""What every command starts from: catalog, universe, alignment, prices and factors.

Each loader reads the source a :class:`~backtest.runspec.RunSpec` names and
nothing else: a real run never falls back to synthetic prices.  ``mib run``,
``mib study run``, ``mib backtest run`` and the API all load through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from backtest.alignment.instances import Alignment
    from backtest.eventlog.catalog import Catalog
    from backtest.market.panel import PricePanel
    from backtest.runspec import RunSpec
    from backtest.universe import Universe


@dataclass(frozen=True)
class Inputs:
    """What every analysis step starts from: catalog, universe, alignment and prices."""

    catalog: Catalog
    universe: Universe
    alignment: Alignment
    panel: PricePanel
    planted: pd.DataFrame

    @property
    def instances(self) -> pd.DataFrame:
        return self.alignment.instances


def load_catalog(spec: RunSpec) -> tuple[Catalog, Universe]:
    """The catalog at the requested log version, checked against the universe."""
    from backtest.eventlog.catalog import load_catalog as load
    from backtest.universe import load_universe

    universe = load_universe(spec.universe_path)
    catalog = load(spec.log_path, version=spec.log_version, universe=universe)
    return catalog, universe


def align_events(catalog: Catalog, universe: Universe, spec: RunSpec) -> Alignment:
    """Day 0 of the chosen stage on each affected security's exchange."""
    from backtest.align import align

    return align(catalog.events, universe, spec.align_spec())


def load_prices_for(
    spec: RunSpec, universe: Universe, instances: pd.DataFrame
) -> tuple[PricePanel, pd.DataFrame]:
    """Prices from the source the spec names, and the planted table (empty unless demo)."""
    import pandas as pd

    if spec.source == "demo":
        from backtest.synth import SynthSpec, make_market

        end = spec.end or SynthSpec().end
        market = make_market(
            universe,
            instances,
            SynthSpec(seed=spec.seed, start=spec.start, end=end, plants=spec.plants),
        )
        return market.panel, market.planted
    from backtest.market import load_prices

    panel = load_prices(
        spec.source,
        list(universe.symbols),
        universe=universe,
        prices_dir=spec.prices_dir,
        start=spec.start,
        end=spec.end,
    )
    return panel, pd.DataFrame()


def load_factors(spec: RunSpec) -> pd.DataFrame | None:
    """Fama-French daily factors from ``spec.factors_dir`` (every Ken French CSV in it)."""
    if spec.factors_dir is None:
        return None
    from backtest.errors import InputFileError
    from backtest.market import load_ff_factors

    files = sorted(Path(spec.factors_dir).glob("F-F_*daily*.csv"))
    if not files:
        raise InputFileError(
            "no Ken French daily factor files (F-F_*daily*.csv)",
            file=spec.factors_dir,
            expected="the files from Ken French's "
            "data library, e.g. F-F_Research_Data_Factors_daily.csv",
        )
    three = [f for f in files if "5_Factors" not in f.name] or files
    return load_ff_factors(three)


def prepare_inputs(spec: RunSpec) -> Inputs:
    """Catalog at the spec's log version, its alignment, and prices from the spec's source."""
    catalog, universe = load_catalog(spec)
    alignment = align_events(catalog, universe, spec)
    panel, planted = load_prices_for(spec, universe, alignment.instances)
    return Inputs(catalog, universe, alignment, panel, planted)
