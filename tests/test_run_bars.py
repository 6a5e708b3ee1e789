"""``mib run --bars DIR``: the intraday tables and the report's "minutes after the news".

One hand-made folder of 5-minute NVDA bars (exchange time with UTC offsets) around
Nvidia's H20 8-K (filed 2025-04-15 17:22:59 ET, after the close): the price sits
at 100 (+-0.02) and drops to 94 from the 17:25 bar on, so the first-session move
after the news is -6 % (up to the wiggle) and all of it is in by 30 minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from cli_support import one_error_line, run_cli
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line, run_cli

ET = "America/New_York"
EVENT = "nvda-2025-04-15-h20-licence-8k"
DROP_AT = pd.Timestamp("2025-04-15 17:25", tz=ET)


def _write_bars(folder: Path) -> None:
    idx = pd.date_range("2025-04-14 04:00", "2025-04-16 20:00", freq="5min", tz=ET)
    idx = idx[(idx.hour >= 4) & (idx.hour < 20)]
    wiggle = np.where(np.arange(len(idx)) % 2 == 0, 0.02, -0.02)
    close = np.where(idx >= DROP_AT, 94.0, 100.0) + wiggle
    stamps = [t.isoformat() for t in idx]
    folder.mkdir()
    pd.DataFrame(
        {
            "Datetime": stamps,
            "Open": close,
            "High": close + 0.01,
            "Low": close - 0.01,
            "Close": close,
            "Volume": 1000,
        }
    ).to_csv(folder / "NVDA.csv", index=False)


@pytest.mark.slow
def test_run_with_bars_writes_both_tables_and_the_report_section(capsys, tmp_path):
    bars = tmp_path / "bars"
    _write_bars(bars)
    code, _, err = run_cli(
        capsys,
        "run",
        "--demo",
        "--no-pdf",
        "--placebo",
        "0",
        "--bars",
        str(bars),
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    (run_dir,) = (tmp_path / "out").iterdir()
    tables = run_dir / "tables"
    reaction = pd.read_csv(tables / "intraday_reaction.csv")
    paths = pd.read_csv(tables / "intraday_paths.csv")
    row = reaction[(reaction["event_id"] == EVENT) & (reaction["security"] == "NVDA")].iloc[0]
    # 100 -> 94 with a +-0.02 wiggle: the move is -6 % to within 0.05 points.
    assert row["first_session_move"] == pytest.approx(-0.06, abs=5e-4)
    assert row["share_30m"] == pytest.approx(1.0, abs=0.01)
    assert pd.Timestamp(row["reaction_after_utc"]) == DROP_AT.tz_convert("UTC")
    assert (paths["event_id"] == EVENT).sum() > 0
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["spec"]["bars_dirs"] == [str(bars)]
    html = (run_dir / "report.html").read_text()
    assert "Minutes after the news (intraday bars)" in html
    section = html[html.index('id="minutes"') : html.index('id="significance"')]
    assert EVENT in section and "NVDA" in section and "-6.0" in section


def test_run_without_bars_has_no_intraday_tables():
    from backtest import steps
    from backtest.runspec import RunSpec

    spec = RunSpec()
    assert spec.bars_dirs == () and spec.bars_tz is None
    assert steps.intraday(None, None, spec) == {}  # type: ignore[arg-type]  # not read without bars


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--bars", "/nonexistent/bars"), "--bars"),
        (("--tz", "America/New_York"), "--tz needs --bars"),
    ],
)
def test_bars_mistakes_are_one_line(capsys, tmp_path, args, needle):
    code, _, err = run_cli(capsys, "run", "--demo", "--out", str(tmp_path), *args)
    one_error_line(code, err, needle)
