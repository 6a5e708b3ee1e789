"""Fama-French daily factors from Ken French's data library.

Two layouts are read: the classic one (text lines, a header row starting with
an empty cell, ``YYYYMMDD`` dates, a copyright footer) and the dated one of
recent vintages (``Date,...`` header, ``YYYY-MM-DD`` dates).  Values are
percent in the files and decimals in the result; ``-99.99``/``-999`` mean
missing and become NaN.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from backtest.errors import DataError, DataSourceUnavailable, InputFileError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FACTOR_ORDER: tuple[str, ...] = ("Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF", "Mom")
FF_BASE_URL = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp/"
FF_DATASETS: dict[str, str] = {
    "ff3": "F-F_Research_Data_Factors_daily",
    "ff5": "F-F_Research_Data_5_Factors_2x3_daily",
    "mom": "F-F_Momentum_Factor_daily",
}
MISSING_CODES = (-99.99, -999.0)
_DATE = re.compile(r"^\s*(\d{8}|\d{4}-\d{2}-\d{2})\s*$")


def parse_ff_text(text: str, *, name: str = "<text>") -> pd.DataFrame:
    """Parse one Ken French daily CSV (either layout) into decimals indexed by date."""
    import numpy as np
    import pandas as pd

    lines = text.splitlines()
    start = _find_first_data(lines, name)
    header = [h.strip() for h in lines[start - 1].split(",")]
    names = ["Mom" if h.lower() == "mom" else h for h in header[1:]]
    end = start
    while end < len(lines) and _DATE.match(lines[end].split(",", 1)[0]):
        end += 1  # the data stop at the blank line before the footer
    width = len(header) - 1
    rows = lines[start:end]
    values = _fast_values(rows, width)
    if values is None:  # the row by row path: the same numbers, or the first bad row named
        cells = [line.split(",") for line in rows]
        if any(len(row) != len(header) for row in cells):
            _raise_first_bad_row(cells, len(header), start, name)
        try:
            flat = np.fromiter(
                (float(c) for row in cells for c in row[1:]), dtype=float, count=len(cells) * width
            )
        except ValueError:
            _raise_first_bad_row(cells, len(header), start, name)
            raise
        values = flat.reshape(len(cells), width)
    dates = [line.split(",", 1)[0].strip().replace("-", "") for line in rows]
    values[np.isin(values, MISSING_CODES)] = np.nan
    idx = pd.DatetimeIndex(pd.to_datetime(dates, format="%Y%m%d"), name="date")
    frame = pd.DataFrame(values / 100.0, index=idx, columns=names)
    if idx.has_duplicates or not idx.is_monotonic_increasing:
        raise DataError("factor dates are not strictly increasing", file=name)
    return frame


def _fast_values(rows: list[str], width: int) -> np.ndarray | None:
    """The factor values of the data rows (numpy's C reader, about 8x faster than
    splitting in Python), or None when a row has another number of fields or a value
    the reader refuses: the caller then reads row by row and names the bad row."""
    import numpy as np

    if any(line.count(",") != width for line in rows):
        return None
    try:
        values: np.ndarray = np.loadtxt(
            rows,
            delimiter=",",
            usecols=range(1, width + 1),
            dtype=np.float64,
            comments=None,
            ndmin=2,
        )
    except ValueError:
        return None
    return values


def _raise_first_bad_row(cells: list[list[str]], width: int, start: int, name: str) -> None:
    """The error of the first data row, in file order, with the wrong number of fields or
    a value that is not a number."""
    for k, row in enumerate(cells):
        if len(row) != width:
            raise DataError(f"{len(row)} fields, header has {width}", file=name, line=start + k + 1)
        try:
            for c in row[1:]:
                float(c)
        except ValueError:
            raise DataError(
                "non-numeric factor value",
                file=name,
                line=start + k + 1,
                value=",".join(row),
                expected="numbers in percent",
            ) from None


def _find_first_data(lines: list[str], name: str) -> int:
    for k, line in enumerate(lines):
        if k > 0 and _DATE.match(line.split(",")[0]) and "," in lines[k - 1]:
            return k
    raise InputFileError(
        "no Fama-French data rows found",
        file=name,
        expected="a header row then rows of YYYYMMDD or YYYY-MM-DD dates",
    )


def load_ff_factors(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Daily factors (decimals) from one or more Ken French CSV files, joined on common dates.

    Columns come in the order Mkt-RF, SMB, HML, RMW, CMA, RF, Mom (those present);
    a column in several files (e.g. RF) is taken from the first file.
    """

    plist = [paths] if isinstance(paths, str | Path) else list(paths)
    frames = []
    for p in plist:
        path = Path(p)
        if not path.is_file():
            raise InputFileError("factor file not found", file=path)
        frames.append(parse_ff_text(path.read_text(encoding="latin-1"), name=str(path)))
    out = frames[0]
    for f in frames[1:]:
        out = out.join(f[[c for c in f.columns if c not in out.columns]], how="inner")
    order = [c for c in FACTOR_ORDER if c in out] + [c for c in out if c not in FACTOR_ORDER]
    return out[order]


Opener = Callable[[str], bytes]


def _write_bytes(data: bytes, path: Path) -> None:
    path.write_bytes(data)


def _urlopen(url: str) -> bytes:
    from urllib.request import urlopen

    with urlopen(url, timeout=60) as resp:
        body: bytes = resp.read()
    return body


def fetch_ff_factors(
    datasets: Sequence[str] = ("ff3",),
    *,
    dest_dir: str | Path | None = None,
    opener: Opener | None = None,
) -> pd.DataFrame:
    """Download daily factor files (``ff3``, ``ff5``, ``mom`` or a dataset name) and load them.

    Each zip's CSV is saved under ``dest_dir`` (default: ``<cache>/factors``) with
    an atomic write, so later runs can call :func:`load_ff_factors` offline.
    """
    from backtest.market.cache import atomic_write, default_cache_dir

    get = opener or _urlopen
    dest = Path(dest_dir) if dest_dir is not None else default_cache_dir() / "factors"
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        name = FF_DATASETS.get(ds, ds)
        url = f"{FF_BASE_URL}{name}_CSV.zip"
        try:
            blob = get(url)
        except OSError as exc:
            raise DataSourceUnavailable(
                f"cannot download {url}: {exc}; pass a local file to load_ff_factors "
                "(e.g. ../shared/data/factors/)"
            ) from None
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as zf:
                member = next(n for n in zf.namelist() if n.lower().endswith(".csv"))
                data = zf.read(member)
        except (zipfile.BadZipFile, StopIteration):
            raise DataError("downloaded file is not a zip with a CSV inside", file=url) from None
        target = dest / f"{name}.csv"
        atomic_write(target, partial(_write_bytes, data))
        paths.append(target)
    return load_ff_factors(paths)
