"""The CSV files of a bring-your-own study: read R.csv, M.csv, E.csv; write the outputs.

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

The numbers come from :func:`backtest.event_study`, the same function a notebook
calls on DataFrames; this module only parses and writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import InputFileError
from backtest.study.byo import check_return_columns
from backtest.study.design import ATTRITION_COLUMNS
from backtest.study.results import AR_COLUMNS, CAR_COLUMNS, TEST_COLUMNS, StudyResult

# The stable columns are the study result's own (one order, the README's).
AR_CSV = AR_COLUMNS
CAR_CSV = CAR_COLUMNS
TESTS_CSV = TEST_COLUMNS
ATTRITION_CSV = ATTRITION_COLUMNS


@dataclass(frozen=True, slots=True)
class ByoInputs:
    """The three files as DataFrames, ready for :func:`backtest.event_study`.

    returns_frame: wide date x security floats (NaN = missing); benchmark: wide
    date x column floats (one shared column or one per security); events:
    event_id, security, day0 (Timestamp) and any optional columns of E.csv.
    """

    returns_frame: pd.DataFrame
    benchmark: pd.DataFrame
    events: pd.DataFrame

    @property
    def instances(self) -> pd.DataFrame:
        """The events file's rows (one per instance)."""
        return self.events

    @property
    def returns(self) -> dict[str, pd.Series]:
        """Each studied security's returns, in the events file's order."""
        return {c: self.returns_frame[c] for c in dict.fromkeys(self.events["security"])}

    @property
    def market(self) -> pd.Series | dict[str, pd.DataFrame]:
        """The regressors: one shared ``market`` Series, or one frame per security."""
        m = self.benchmark
        if m.shape[1] == 1:
            return m.iloc[:, 0].rename("market")
        return {s: m[[s]].rename(columns={s: "market"}) for s in self.returns}


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


def read_inputs(returns_path: Path, benchmark_path: Path, events_path: Path) -> ByoInputs:
    """Parse and cross-check the three files; the returns must look like returns.

    Errors name the file, line and column (:class:`InputFileError`,
    :class:`backtest.errors.DataError`).
    """
    r = read_wide(returns_path)
    m = read_wide(benchmark_path)
    inst = read_events(events_path, set(r.columns), returns_path)
    studied = list(dict.fromkeys(inst["security"]))
    check_return_columns(
        {
            **{(returns_path, c): r[c].to_numpy() for c in studied},
            **{(benchmark_path, str(c)): m[c].to_numpy() for c in m.columns},
        }
    )
    if m.shape[1] > 1:
        lacking = [s for s in studied if s not in m.columns]
        if lacking:
            raise InputFileError(
                "no benchmark column for a security",
                file=benchmark_path,
                field="columns",
                value=lacking[0],
                expected="one shared column or one column per security",
            )
    return ByoInputs(r, m, inst)


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
