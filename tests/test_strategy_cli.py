"""`mib backtest run`: options reach the spec, tables reach the run folder, errors are one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtest.cli.main import main

try:
    from test_strategy_support import UNIVERSE, instances, make_panel, random_bars, utc
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.test_strategy_support import UNIVERSE, instances, make_panel, random_bars, utc


def _fake_inputs(spec):
    assert spec.source == "demo"
    bars = {
        s.symbol: random_bars(s.symbol, "2024-01-02", "2024-06-28", np.random.default_rng(k))
        for k, s in enumerate(UNIVERSE.securities)
    }
    events = [
        ("ev-a", "tightening", utc("2024-02-14 15:00")),
        ("ev-b", "easing", utc("2024-04-03 23:00")),
    ]
    inst = instances(events, ("NVDA", "AMD", "688981.SS", "0981.HK"))
    return make_panel(bars), inst, UNIVERSE


def _only_run_folder(root):
    """The one run folder ``mib backtest run --out ROOT`` wrote under ROOT."""
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    assert "-backtest-demo-s7" in folder.name
    return folder


@pytest.fixture
def fake_pipeline(monkeypatch):
    import backtest.cli.backtest as cli_backtest

    monkeypatch.setattr(cli_backtest, "load_inputs", _fake_inputs)


@pytest.mark.slow
def test_run_writes_tables_and_manifest(fake_pipeline, tmp_path, capsys):
    main(
        [
            "backtest",
            "run",
            "--demo",
            "--no-robustness",
            "--hold",
            "2",
            "--fees",
            "5",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "Backtest: substitution_spread, hold 2 sessions" in out
    assert "SYNTHETIC DATA" in out
    run_dir = _only_run_folder(tmp_path)
    assert out.rstrip().endswith(f"tables: {run_dir / 'tables'}")
    trades = pd.read_parquet(run_dir / "tables" / "backtest_trades.parquet")
    # tightening: short 2 incumbents, long 2 substitutes; easing: long 2 incumbents
    assert len(trades) == 6 and set(trades["side"]) == {"long", "short"}
    assert (run_dir / "tables" / "backtest_equity.csv").exists()
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["spec"]["hold"] == 2
    assert manifest["spec"]["costs"]["hk"]["fee_bps"] == 5.0
    assert manifest["data"]["synthetic"] is True and manifest["configurations_tried"] == 1


@pytest.mark.slow
def test_run_with_robustness_states_the_configurations(fake_pipeline, tmp_path, capsys):
    main(["backtest", "run", "--demo", "--strategy", "short_incumbents", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "Robustness: 29 configurations tried" in out  # 6 lags + 20 holds + 2 events + base
    assert "(--verbose prints the sweep)" in out and "entry lag (sessions)" not in out
    table = pd.read_csv(_only_run_folder(tmp_path) / "tables" / "backtest_robustness.csv")
    assert table["sweep"].value_counts().to_dict() == {"hold": 20, "lag": 6, "leave_one_out": 2}


def test_two_price_sources_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "run", "--demo", "--from-cache"])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--demo/--prices-dir/--from-cache" in err[0]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--hold", "0"], "--hold"),
        (["--seed", "-1"], "--seed"),
        (["--stage", "rumour"], "--stage"),
        (["--log-version", "x3"], "--log-version"),
        (["--strategy", "long_everything"], "strategy"),
        (["--stop", "1.5"], "stop_loss"),
        (["--fees", "-1"], "--fees"),
    ],
)
def test_bad_options_name_the_field(fake_pipeline, capsys, args, field):
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "run", "--demo", "--no-robustness", *args])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]


@pytest.mark.slow
def test_verbose_prints_the_robustness_sweep(fake_pipeline, tmp_path, capsys):
    main(["backtest", "run", "--demo", "--verbose", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "entry lag (sessions)" in out and "--verbose prints" not in out


@pytest.mark.slow  # calls vectorbt: its numba kernels compile on first use (~40 s cold)
def test_default_hold_is_the_one_of_mib_run(fake_pipeline, tmp_path):
    from backtest.cli.options import DEFAULT_HOLD
    from backtest.pipeline import RunSpec

    main(["backtest", "run", "--demo", "--no-robustness", "--out", str(tmp_path)])
    manifest = json.loads((_only_run_folder(tmp_path) / "run.json").read_text())
    assert manifest["spec"]["hold"] == DEFAULT_HOLD == RunSpec().hold == 5
