"""Bring-your-own mode: an event study on the analyst's own CSV files.

R.csv   wide returns, one row per date (first column, YYYY-MM-DD), one column per
        security; empty or NA = missing.  Each security's sessions are the rows
        of R.csv (a missing value is a session without a return).
M.csv   benchmark (market) returns: one column shared by every security, or one
        column per security (named like R.csv's columns).
E.csv   events: event_id, security, day0 (YYYY-MM-DD, a row of R.csv), and
        optionally group and event_type.

Outputs (stable column names, first columns as listed):
ar.csv        event_id, security, rel_day, date, ar, group
car.csv       event_id, security, window, car, car_se, group, bhar, days, t_stat, t_pvalue
tests.csv     level, group, window, rel_day, test, statistic, pvalue, n, event, null,
              distribution, valid, reason
attrition.csv event_id, security, day0, group, reason, detail
overlaps.csv  security-days shared by several events and the overlap policy's decision
run.json      the study spec, inputs and every file above with its SHA-256

Returns must be simple (or, with --log-returns, log) returns as decimals: 0.012 for
+1.2 %.  :func:`check_return_columns` refuses columns that look like price levels or
percent returns, with the evidence; the thresholds are stated there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import DataError, InputFileError
from backtest.study.results import StudyResult

AR_CSV = ("event_id", "security", "rel_day", "date", "ar", "group")
CAR_CSV = (
    "event_id",
    "security",
    "window",
    "car",
    "car_se",
    "group",
    "bhar",
    "days",
    "t_stat",
    "t_pvalue",
)
TESTS_CSV = (
    "level",
    "group",
    "window",
    "rel_day",
    "test",
    "statistic",
    "pvalue",
    "n",
    "event",
    "null",
    "distribution",
    "valid",
    "reason",
)
ATTRITION_CSV = ("event_id", "security", "day0", "group", "reason", "detail")

# What decimal returns look like (check_return_columns).  A daily, weekly or monthly
# simple return series has a median |r| of a few percent at most; a price can never
# be negative; a move beyond +-100 % is a once-in-a-history event.
MAX_MEDIAN_ABS = 0.2  # median |value| above this: not decimal returns
MIN_OBS_ALL_POSITIVE = 20  # this many values, none <= 0: price levels
MAX_SHARE_BEYOND_ONE = 0.01  # more than 1 % of values beyond +-1 (and at least 3)...
MIN_BEYOND_ONE = 3
MAX_RATIO_TO_OTHERS = 25.0  # typical |value| this many times the other columns'...
MIN_TYPICAL_FOR_RATIO = 0.05  # ...and above 0.05 (needs at least 2 other columns)
RETURNS_EXPECTED = (
    "decimal returns, e.g. 0.012 for +1.2 %: median |value| <= 0.2, at most 1 % of values "
    "beyond +-1, typical |value| under 25x the other columns', some values <= 0"
)


@dataclass(frozen=True, slots=True)
class ByoInputs:
    """The parsed files, ready for :func:`backtest.study.engine.run_study`."""

    instances: pd.DataFrame
    returns: dict[str, pd.Series]
    market: pd.Series | dict[str, pd.DataFrame]


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError("file not found", file=path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot parse CSV: {str(exc).splitlines()[0]}", file=path) from None


def _dates(values: pd.Series, path: Path, field: str) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise InputFileError(
            "not a date",
            file=path,
            line=i + 2,
            field=field,
            value=values.iloc[i],
            expected="YYYY-MM-DD",
        )
    return pd.DatetimeIndex(parsed)


def read_wide(path: Path) -> pd.DataFrame:
    """A wide date x security return file as floats (NaN = missing)."""
    raw = _read_csv(path)
    if raw.shape[1] < 2 or not len(raw):
        raise InputFileError(
            "needs a date column and at least one return column and row",
            file=path,
            value=list(raw.columns),
            expected="date,SEC1,...",
        )
    date_col = raw.columns[0]
    index = _dates(raw[date_col], path, str(date_col))
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        raise InputFileError(
            "duplicate date",
            file=path,
            field=str(date_col),
            value=str(dup.date()),
            expected="one row per date",
        )
    out = {}
    for col in raw.columns[1:]:
        text = raw[col].str.strip()
        missing = text.isin(["", "NA", "NaN", "nan", "null", "NULL"])
        num = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = np.flatnonzero((num.isna() & ~missing).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise InputFileError(
                "not a number",
                file=path,
                line=i + 2,
                field=str(col),
                value=raw[col].iloc[i],
                expected="a decimal return or NA",
            )
        out[str(col)] = num.to_numpy(dtype=float, na_value=np.nan)
    frame = pd.DataFrame(out, index=index)
    return frame.sort_index()


def read_events(path: Path, securities: set[str], returns_path: Path) -> pd.DataFrame:
    """E.csv as instances; every security must be a column of R.csv."""
    raw = _read_csv(path)
    missing = [c for c in ("event_id", "security", "day0") if c not in raw.columns]
    if missing:
        raise InputFileError(
            "missing columns",
            file=path,
            field=",".join(missing),
            value=list(raw.columns),
            expected="event_id,security,day0",
        )
    for i, sec in enumerate(raw["security"]):
        if sec not in securities:
            raise InputFileError(
                "unknown security",
                file=path,
                line=i + 2,
                field="security",
                value=sec,
                expected=f"a column of {returns_path}",
            )
    df = raw.copy()
    df["day0"] = _dates(raw["day0"], path, "day0")
    return df


def _shape(values: np.ndarray) -> tuple[int, float, int, bool]:
    """Observations, median |value|, values beyond +-1, and whether all are positive."""
    x = values[np.isfinite(values)]
    if not x.size:
        return 0, 0.0, 0, False
    return x.size, float(np.median(np.abs(x))), int((np.abs(x) > 1.0).sum()), bool(x.min() > 0)


def check_return_columns(columns: Mapping[tuple[Path, str], np.ndarray]) -> None:
    """Refuse a column that does not look like decimal simple (or log) returns.

    Each column (keyed by file and name) is judged on its finite values:

    * price levels: at least 20 values and none <= 0 (a return series always has
      down days), or a median |value| above 0.2 with no value <= 0;
    * percent returns: a median |value| above 0.2 with some values <= 0; or more
      than 1 % of values (and at least 3) beyond +-1, i.e. daily moves over 100 %;
      or a typical (median) |value| above 0.05 and at least 25 times the median of
      the other columns' typical |value| (with at least two other columns).

    Raises :class:`DataError` naming the file, the column, the evidence and these
    thresholds.
    """
    shapes = {k: _shape(v) for k, v in columns.items()}
    typical = {k: s[1] for k, s in shapes.items() if s[0]}
    for (path, col), (n, med, beyond, positive) in shapes.items():
        if not n:
            continue
        kind, evidence = "", ""
        if positive and (n >= MIN_OBS_ALL_POSITIVE or med > MAX_MEDIAN_ABS):
            kind = "price levels"
            evidence = f"all {n} values positive, median |value| {med:.4g}"
        elif med > MAX_MEDIAN_ABS:
            kind, evidence = "percent returns", f"median |value| {med:.4g} > {MAX_MEDIAN_ABS}"
        elif beyond >= MIN_BEYOND_ONE and beyond > MAX_SHARE_BEYOND_ONE * n:
            kind = "percent returns"
            evidence = f"{beyond} of {n} values beyond +-1 (moves over 100 %)"
        else:
            others = [t for k, t in typical.items() if k != (path, col)]
            ref = float(np.median(others)) if len(others) >= 2 else 0.0
            if med > MIN_TYPICAL_FOR_RATIO and ref > 0 and med >= MAX_RATIO_TO_OTHERS * ref:
                kind = "percent returns"
                evidence = (
                    f"median |value| {med:.4g}, {med / ref:.0f}x the other columns' {ref:.4g}"
                )
        if kind:
            raise DataError(
                f"looks like {kind}, not decimal returns",
                file=path,
                field=col,
                value=evidence,
                expected=RETURNS_EXPECTED,
            )


def read_inputs(returns_path: Path, benchmark_path: Path, events_path: Path) -> ByoInputs:
    """Parse and cross-check the three files; the returns must look like returns."""
    r = read_wide(returns_path)
    m = read_wide(benchmark_path)
    inst = read_events(events_path, set(r.columns), returns_path)
    returns = {c: r[c] for c in dict.fromkeys(inst["security"])}
    check_return_columns(
        {
            **{(returns_path, c): s.to_numpy() for c, s in returns.items()},
            **{(benchmark_path, str(c)): m[c].to_numpy() for c in m.columns},
        }
    )
    if m.shape[1] == 1:
        market: pd.Series | dict[str, pd.DataFrame] = m.iloc[:, 0].rename("market")
    else:
        lacking = [s for s in returns if s not in m.columns]
        if lacking:
            raise InputFileError(
                "no benchmark column for a security",
                file=benchmark_path,
                field="columns",
                value=lacking[0],
                expected="one shared column or one column per security",
            )
        market = {s: m[[s]].rename(columns={s: "market"}) for s in returns}
    return ByoInputs(inst, returns, market)


def require_survivors(result: StudyResult) -> None:
    """Raise :class:`DataError` when no event instance survived, naming the reasons."""
    if result.n_used:
        return
    att = result.attrition
    if not result.n_input:
        raise DataError(
            "no event instances to study",
            field="events",
            expected="at least one row in the events file",
        )
    counts = att["reason"].value_counts() if len(att) else pd.Series(dtype=int)
    reasons = ", ".join(f"{r} {n}" for r, n in counts.items()) or "none recorded"
    example = ""
    if len(att) and "detail" in att.columns:
        first = att.iloc[0]
        example = f"; e.g. {first['event_id']}/{first['security']}: {first['detail']}"
    raise DataError(
        "no event instance survived; nothing was written",
        field="instances",
        value=f"0 of {result.n_input} used, dropped: {reasons}{example}",
        expected="at least one instance with enough estimation-window returns "
        "(see --estimation, --min-obs) and a day 0 among the returns' dates",
    )


def output_frames(result: StudyResult) -> dict[str, pd.DataFrame]:
    """The output CSV files by name, with their stable columns."""
    ar = result.ar.assign(date=result.ar["date"].dt.strftime("%Y-%m-%d"))
    att = result.attrition.copy()
    if len(att):
        att["day0"] = pd.to_datetime(att["day0"]).dt.strftime("%Y-%m-%d")
    frames = {
        "ar.csv": ar.loc[:, list(AR_CSV)],
        "car.csv": result.car.loc[:, list(CAR_CSV)],
        "tests.csv": result.tests.loc[:, list(TESTS_CSV)],
        "attrition.csv": att.loc[:, list(ATTRITION_CSV)],
    }
    if result.overlaps is not None:  # security-days shared by several events, and why
        ov = result.overlaps.copy()
        if len(ov):
            ov["day0"] = pd.to_datetime(ov["day0"]).dt.strftime("%Y-%m-%d")
        frames["overlaps.csv"] = ov
    return frames


def write_outputs(
    result: StudyResult, out: Path, provenance: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write ar.csv, car.csv, tests.csv, attrition.csv, overlaps.csv and run.json into ``out``.

    ``run.json`` holds ``provenance``, the study spec and every CSV with its SHA-256.
    Callers write into a staged folder (:func:`backtest.runio.staged_folder`), so a
    failure part-way leaves no truncated file behind.
    """
    import datetime as dt

    from backtest import __version__
    from backtest.runio import file_list, write_file, write_manifest

    out.mkdir(parents=True, exist_ok=True)
    paths, hashes = [], {}
    for name, frame in output_frames(result).items():
        p = out / name
        hashes[name] = write_file(p, frame.to_csv(index=False, float_format="%.17g").encode())
        paths.append(p)
    write_manifest(
        out,
        {
            "kind": "study",
            "version": __version__,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **(provenance or {}),
            "spec": result.spec.model_dump(mode="json"),
            "instances": {"input": result.n_input, "used": result.n_used},
            "tables": file_list(hashes),
        },
    )
    return [*paths, out / "run.json"]
