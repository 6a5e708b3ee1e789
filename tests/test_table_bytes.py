"""Tables encoded in a child come back as bytes and are written as if encoded here."""

from __future__ import annotations

import pandas as pd

from backtest import steps
from backtest.background import Background


def test_bytes_from_a_child_are_the_files_written_without_encoding_again(tmp_path, monkeypatch):
    monkeypatch.delenv("MIB_SERIAL", raising=False)
    tables = {
        "a": pd.DataFrame({"x": [1.5, float("nan"), -2e-9], "s": ["p", None, "q,r"]}),
        "b": pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64")}),
    }
    with Background(lambda: steps.table_bytes(tables)) as job:
        files = job.result()
    encoded = steps.with_bytes(tables, files)
    here = steps.encode_tables(tables)
    assert set(encoded) == set(tables)
    for name, enc in encoded.items():
        assert enc.frame is tables[name]  # the writer uses bytes made from this very frame
        assert (enc.parquet, enc.csv) == (here[name].parquet, here[name].csv)

    import backtest.runio as runio

    calls: list[str] = []
    real = runio.encode_table
    monkeypatch.setattr(runio, "encode_table", lambda f: calls.append("x") or real(f))
    for name, frame in tables.items():
        runio.write_table(tmp_path, name, frame, encoded[name])
        assert (tmp_path / "tables" / f"{name}.csv").read_bytes() == here[name].csv
    assert calls == []
