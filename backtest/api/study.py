"""``event_study``: an event study on DataFrames, the function behind ``mib study run --returns``.

Validation happens here, once, at the boundary (STYLE 4): the frames are checked
and turned into the engine's inputs, the options into a frozen
:class:`backtest.study.spec.StudySpec`; :func:`backtest.study.engine.run_study`
does the numbers.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from backtest.errors import DataError, SpecError

if TYPE_CHECKING:
    import pandas as pd

    from backtest.study.results import StudyResult
    from backtest.study.spec import Conventions, MissingPolicy, ModelName, StudySpec

Overlap = Literal["merge", "first", "drop"]

MODEL_ALIASES: dict[str, ModelName] = {
    "market": "market",
    "sim": "market",
    "constant_mean": "constant_mean",
    "mean_adj": "constant_mean",
    "market_adjusted": "market_adjusted",
    "mrkt_adj": "market_adjusted",
    "factor": "factor",
}
"""Model names accepted by :func:`event_study` and ``mib study run --model``: mib's own
and estudy2's exact equivalents (``sim``, ``mean_adj``, ``mrkt_adj``)."""

NEEDS_BENCHMARK = frozenset({"market", "market_adjusted"})


def model_name(value: str, field: str = "model") -> ModelName:
    """The model ``value`` names (an alias resolved), or a one-line :class:`SpecError`.

    ``benchmark`` is refused with a pointer to ``market_adjusted``: AR = R minus the
    benchmark given for the security, which is what a benchmark model would compute.
    """
    if value == "benchmark":
        raise SpecError(
            "there is no 'benchmark' model: use market_adjusted (AR = return minus the "
            "security's own benchmark column)",
            field=field,
            value=value,
            expected="market_adjusted",
        )
    if value not in MODEL_ALIASES:
        raise SpecError(
            "unknown model", field=field, value=value, expected=" | ".join(MODEL_ALIASES)
        )
    return MODEL_ALIASES[value]


LONG_COLUMNS = ("date", "security", "ret")
EVENT_COLUMNS = ("event_id", "security", "day0")


def event_study(
    returns: pd.DataFrame,
    benchmark: pd.Series | pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    estimation: tuple[int, int] = (-250, -11),
    windows: Sequence[tuple[int, int]] = ((0, 0), (0, 1)),
    model: str = "market",
    conventions: Conventions = "textbook",
    overlap: Overlap = "merge",
    factors: pd.DataFrame | None = None,
    placebo: int = 1000,
    seed: int = 0,
    min_obs: int | None = None,
    missing: MissingPolicy = "require_day0",
    log_returns: bool = False,
    benchmark_map: Mapping[str, str] | None = None,
    spec: StudySpec | None = None,
) -> StudyResult:
    """Run an event study on DataFrames and return its frozen :class:`StudyResult`.

    Parameters
    ----------
    returns:
        Decimal returns (0.012 for +1.2 %), wide (a DatetimeIndex x one column per
        security; NaN = missing) or long (columns ``date, security, ret``).  A
        security's sessions are the rows of the frame.
    benchmark:
        The market: a Series shared by every security, a one-column frame (shared),
        a wide frame with one column per security (or per ``benchmark_map`` value),
        or None for models that need none (``constant_mean``, ``factor``).
    events:
        One row per instance: ``event_id, security, day0`` (a date among the
        returns' rows), optionally ``group``, ``event_type``, ``direction``
        (e.g. tightening) and ``expected_sign`` (-1, 0, +1; signed pools).
    estimation, windows:
        Inclusive relative-day ranges (rows of ``returns``; day 0 = ``day0``).
    model:
        ``market``, ``constant_mean``, ``market_adjusted`` (AR = return minus
        the benchmark) or ``factor`` (with ``factors``); estudy2's ``sim``,
        ``mean_adj``, ``mrkt_adj`` also work.
    conventions:
        ``textbook`` (Campbell, Lo and MacKinlay) or ``estudy2`` (estudy2 0.10's
        choices and tests, reproduced to 1e-10).
    overlap, missing, min_obs, log_returns:
        The named policies of :class:`backtest.study.spec.StudySpec`.
    factors:
        Factor returns (DatetimeIndex x factor columns) for ``model="factor"``.
    placebo, seed:
        Pseudo-event draws for placebo inference (0 = none) and their seed.
    benchmark_map:
        Security -> benchmark column of a wide ``benchmark`` frame.
    spec:
        A ready :class:`StudySpec` instead of the option keywords (leave those at
        their defaults); ``mib study run`` passes the spec it parsed.

    Returns
    -------
    StudyResult
        Tidy ``ar``, ``car``, ``bhar``, ``caar``, ``tests``; labelled ``pvalues``
        and ``tstats``; ``summary()``; ``plot_caar()``.

    Raises
    ------
    SpecError, DataError
        A bad option or frame, named with the value and what was expected; also
        when no instance survives the attrition.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import backtest
    >>> rng = np.random.default_rng(1)
    >>> days = pd.bdate_range("2024-01-01", periods=140)
    >>> market = pd.Series(rng.normal(0, 0.01, 140), index=days)
    >>> returns = pd.DataFrame(
    ...     {s: market + rng.normal(0, 0.01, 140) for s in ("A", "B")}, index=days
    ... )
    >>> returns.loc[days[130], "A"] += 0.05
    >>> events = pd.DataFrame({"event_id": "e1", "security": ["A", "B"], "day0": days[130]})
    >>> res = backtest.event_study(
    ...     returns, market, events, estimation=(-120, -11), min_obs=100, placebo=0
    ... )
    >>> res.n_used, round(float(res.ar.query("security == 'A' and rel_day == 0").ar.iloc[0]), 2)
    (2, 0.05)
    """
    from backtest.study.byo import check_return_columns, require_survivors
    from backtest.study.engine import run_study

    if events is None:
        raise SpecError(
            "events are required",
            field="events",
            expected="a DataFrame with columns event_id, security, day0",
        )
    if spec is None:
        spec = study_spec(
            estimation=estimation,
            windows=windows,
            model=model,
            conventions=conventions,
            overlap=overlap,
            factors=tuple(str(c) for c in factors.columns) if factors is not None else (),
            placebo=placebo,
            seed=seed,
            min_obs=min_obs,
            missing=missing,
            log_returns=log_returns,
        )
    else:
        _only_spec(
            estimation=estimation,
            windows=tuple(windows),
            model=model,
            conventions=conventions,
            overlap=overlap,
            placebo=placebo,
            seed=seed,
            min_obs=min_obs,
            missing=missing,
            log_returns=log_returns,
        )
    if spec.lagged_us:
        raise SpecError(
            "lagged_us is not available here: event_study builds no US-lag column",
            field="spec.lagged_us",
            value=True,
            expected="False; or run_study with regressors carrying spec.us_lag_column "
            "(backtest.returns.previous_us_return builds it)",
        )
    wide = wide_returns(returns)
    inst = instances(events, wide)
    studied = list(dict.fromkeys(inst["security"]))
    bench = benchmark_frame(benchmark, spec.model)
    check_return_columns(
        {
            **{("returns", c): wide[c].to_numpy() for c in studied},
            **{("benchmark", c): bench[c].to_numpy() for c in bench.columns},
        }
    )
    market = regressors(bench, factors, studied, benchmark_map)
    result = run_study(inst, {c: wide[c] for c in studied}, market, spec)
    require_survivors(result)
    return result


def study_spec(
    *,
    estimation: tuple[int, int],
    windows: Sequence[tuple[int, int]],
    model: str,
    conventions: str,
    overlap: str,
    factors: tuple[str, ...],
    placebo: int,
    seed: int,
    min_obs: int | None,
    missing: str,
    log_returns: bool,
) -> StudySpec:
    """The frozen spec of :func:`event_study`'s options; a bad option is a :class:`SpecError`."""
    from pydantic import ValidationError

    from backtest.study.spec import StudySpec

    name = model_name(model)
    if factors and name != "factor":
        raise SpecError(
            "factors given to a model that does not use them",
            field="model",
            value=model,
            expected="model='factor' with factors, or no factors",
        )
    if seed < 0:
        raise SpecError("seed must not be negative", field="seed", value=seed, expected=">= 0")
    try:
        return StudySpec(
            model=name,
            conventions=conventions,  # type: ignore[arg-type]  # pydantic validates the Literal
            estimation=tuple(estimation),  # type: ignore[arg-type]  # validated by pydantic
            windows=tuple((int(a), int(b)) for a, b in windows),
            min_estimation_obs=min_obs,  # type: ignore[arg-type]  # None: the preset's minimum
            returns="log" if log_returns else "simple",
            missing=missing,  # type: ignore[arg-type]  # pydantic validates the Literal
            overlap=overlap,  # type: ignore[arg-type]  # pydantic validates the Literal
            placebo_draws=placebo,
            seed=seed,
            factors=factors,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "spec"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        got = err.get("input")
        raise SpecError(msg, field=where, value=None if isinstance(got, dict) else got) from None


def _only_spec(**given: object) -> None:
    """Refuse option keywords next to ``spec=`` (the spec would silently win)."""
    import inspect

    defaults = inspect.signature(event_study).parameters
    changed = [k for k, v in given.items() if v != defaults[k].default]
    if changed:
        raise SpecError(
            "options given together with spec",
            field=changed[0],
            value=given[changed[0]],
            expected="either spec=StudySpec(...) or the option keywords, not both",
        )


def wide_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """Wide float returns on a sorted, unique DatetimeIndex (a long frame is pivoted)."""
    import numpy as np
    import pandas as pd

    if not isinstance(returns, pd.DataFrame):
        raise SpecError(
            "returns must be a DataFrame",
            field="returns",
            value=type(returns).__name__,
            expected="wide (dates x securities) or long (date, security, ret)",
        )
    frame = returns
    if set(LONG_COLUMNS) <= set(frame.columns) and not isinstance(frame.index, pd.DatetimeIndex):
        dup = frame.duplicated(["date", "security"])
        if dup.any():
            row = frame[dup].iloc[0]
            raise DataError(
                "duplicate (date, security) in long returns",
                field="returns",
                value=f"{row['date']}, {row['security']}",
                expected="one row per date and security",
            )
        frame = frame.pivot(index="date", columns="security", values="ret")
    try:
        if pd.api.types.is_numeric_dtype(frame.index):
            raise TypeError("numbers are not dates")
        index = pd.DatetimeIndex(pd.to_datetime(frame.index, format="ISO8601"))
    except (ValueError, TypeError):
        raise SpecError(
            "returns index is not dates",
            field="returns.index",
            value=str(frame.index[0]) if len(frame.index) else None,
            expected="a DatetimeIndex (or YYYY-MM-DD labels), or long columns date, security, ret",
        ) from None
    if not index.is_unique:
        raise DataError(
            "duplicate date",
            field="returns.index",
            value=str(index[index.duplicated()][0].date()),
            expected="one row per date",
        )
    out = {}
    for col in frame.columns:
        num = pd.to_numeric(frame[col], errors="coerce")
        bad = num.isna() & frame[col].notna()
        if bad.any():
            raise DataError(
                "not a number",
                field=f"returns[{col}]",
                value=frame[col][bad].iloc[0],
                expected="a decimal return or NaN",
            )
        out[str(col)] = num.to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=index).sort_index()


def instances(events: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
    """The events frame checked: required columns, known securities, day0 as Timestamps."""
    import pandas as pd

    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise SpecError(
            "missing columns",
            field="events",
            value=",".join(missing),
            expected="event_id, security, day0 (optional group, event_type, direction, "
            "expected_sign)",
        )
    df = events.reset_index(drop=True).copy()
    df["event_id"] = df["event_id"].astype(str)
    df["security"] = df["security"].astype(str)
    unknown = ~df["security"].isin(list(returns.columns))
    if unknown.any():
        raise SpecError(
            "unknown security",
            field=f"events.security (row {int(unknown.to_numpy().argmax())})",
            value=df.loc[unknown, "security"].iloc[0],
            expected="a column of the returns",
        )
    day0 = pd.to_datetime(df["day0"], errors="coerce", format="ISO8601")
    if day0.isna().any():
        i = int(day0.isna().to_numpy().argmax())
        raise SpecError("not a date", field=f"events.day0 (row {i})", value=df["day0"].iloc[i])
    df["day0"] = day0
    return df


def benchmark_frame(benchmark: pd.Series | pd.DataFrame | None, model: str) -> pd.DataFrame:
    """The benchmark as a wide float frame (no columns when there is none)."""
    import pandas as pd

    if benchmark is None:
        if model in NEEDS_BENCHMARK:
            raise SpecError(
                "this model needs a benchmark",
                field="benchmark",
                value=model,
                expected="a Series or frame of benchmark returns, or model='constant_mean'",
            )
        return pd.DataFrame()
    frame = benchmark.to_frame() if isinstance(benchmark, pd.Series) else benchmark
    if not isinstance(frame, pd.DataFrame):
        raise SpecError(
            "benchmark must be a Series or DataFrame",
            field="benchmark",
            value=type(benchmark).__name__,
        )
    wide = wide_returns(frame)
    if isinstance(benchmark, pd.Series) and isinstance(benchmark.name, str):
        wide.columns = [benchmark.name]
    return wide


def regressors(
    bench: pd.DataFrame,
    factors: pd.DataFrame | None,
    studied: list[str],
    mapping: Mapping[str, str] | None,
) -> pd.Series | dict[str, pd.DataFrame] | pd.DataFrame | None:
    """The engine's regressors: one shared ``market`` Series, one frame per security
    (a column per security, or through ``mapping``), or the factor frame."""
    if factors is not None:
        fac = wide_returns(factors)
        if bench.shape[1] == 1:
            fac = fac.assign(market=bench.iloc[:, 0].reindex(fac.index))
        return fac
    if bench.empty:
        return None
    if bench.shape[1] == 1 and mapping is None:
        series: pd.Series = bench.iloc[:, 0].rename("market")
        return series
    out: dict[str, pd.DataFrame] = {}
    for sec in studied:
        col: Hashable = (mapping or {}).get(sec, sec)
        if col not in bench.columns:
            raise SpecError(
                "no benchmark column for a security",
                field="benchmark",
                value=sec if mapping is None else f"{sec} -> {col}",
                expected="one shared column, one column per security, or benchmark_map "
                "naming a column for each security",
            )
        out[sec] = bench[[col]].rename(columns={col: "market"})
    return out
