"""The fault catalogue: one parametrised test per class of fault.

Classes: bad CSV files, bad event logs, cache faults, output faults, bad options.
Every case runs the real command line in-process against a small world in
``tmp_path`` (CSV files, a seeded cache, a copy of the shipped log, a run
folder) and asserts the three promises of issue 16:

* the exit code (1 for a user mistake);
* exactly one ``mib: error:`` line, naming the file or option, the value and
  what was expected (each case lists the words it must contain);
* every file of the world byte-identical afterwards (nothing stored is lost).

``test_catalogue_counts`` states the size of the catalogue; the kill-during-write
loops for the log and the cache are in test_faults_eventlog.py and
test_faults_market.py (a larger count: ``benchmarks/bench_kill.py``).
"""

# ruff: noqa: E501  (the case tables read best one case per line)
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    from cli_support import one_error_line, run_cli
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line, run_cli

from backtest.eventlog import empty_log_text
from backtest.market import PriceCache, load_prices
from backtest.universe import load_universe

REPO = Path(__file__).resolve().parent.parent
UNIVERSE = str(REPO / "events" / "universe.yaml")
FIX = REPO / "tests" / "fixtures" / "eventlog"
DAYS = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]


@dataclass(frozen=True)
class World:
    """The files a case may damage; every one is checked byte for byte afterwards."""

    root: Path

    @property
    def src(self) -> Path:  # good CSV files
        return self.root / "src"

    @property
    def bad(self) -> Path:  # the damaged CSV file(s) of a case
        return self.root / "bad"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def log(self) -> Path:
        return self.root / "log.yaml"

    @property
    def run(self) -> Path:  # a complete run folder (tables + run.json)
        return self.root / "run"

    def csv(self, name: str, body: str) -> Path:
        self.bad.mkdir(exist_ok=True)
        path = self.bad / name
        path.write_bytes(body.encode("utf-8"))
        return path


def _rows(closes: list[str]) -> str:
    return "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in zip(DAYS, closes, strict=True))


@pytest.fixture
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> World:
    w = World(tmp_path)
    w.src.mkdir()
    (w.src / "NVDA.csv").write_text(_rows(["10", "11", "12", "13", "14"]), encoding="utf-8")
    (w.src / "AMD.csv").write_text(_rows(["50", "49", "48", "47", "46"]), encoding="utf-8")
    load_prices(
        "csv",
        ["NVDA", "AMD"],
        universe=load_universe(UNIVERSE),
        prices_dir=w.src,
        cache_dir=w.cache,
        write_cache=True,
    )
    w.log.write_text(empty_log_text(), encoding="utf-8")
    code, _, err = run_cli(
        capsys, "events", "add", str(FIX / "bis_2022.yaml"), "--log", str(w.log),
        "--universe-file", UNIVERSE, "--recorded", "2026-11-01",
    )  # fmt: skip
    assert code == 0, err
    _fake_run_folder(w.run)
    return w


def _fake_run_folder(path: Path) -> None:
    """A small run folder whose run.json lists its tables with their SHA-256."""
    tables = path / "tables"
    tables.mkdir(parents=True)
    files = []
    for name in ("car", "tests"):
        data = b"a,b\n1,2\n"
        (tables / f"{name}.csv").write_bytes(data)
        files.append({"file": f"tables/{name}.csv", "sha256": hashlib.sha256(data).hexdigest()})
    (path / "run.json").write_text(json.dumps({"tables": files}), encoding="utf-8")


def _snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file and the target of every link under ``root`` (lock files aside)."""
    out = {}
    for p in sorted(root.rglob("*")):
        key = str(p.relative_to(root))
        if p.is_symlink():
            out[key] = "-> " + os.readlink(p)
        elif p.is_file() and not p.name.endswith(".lock") and p.name != ".lock":
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[key] = "dir"
    return out


Setup = Callable[[World], list[str]]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Setup  # damages the world, returns the mib arguments
    needles: tuple[str, ...]  # words the error line must contain
    exit_code: int = 1


def _check(case: Case, world: World, capsys: pytest.CaptureFixture[str]) -> str:
    args = case.setup(world)
    before = _snapshot(world.root)
    code, _, err = run_cli(capsys, *args)
    needles = tuple(n.replace("{root}", str(world.root)) for n in case.needles)
    line = one_error_line(code, err, *needles, exit_code=case.exit_code)
    assert _snapshot(world.root) == before, "a file changed"
    return line


# ---------------------------------------------------------------- 1. bad CSV files


def _import(w: World, *extra: str) -> list[str]:
    return ["data", "import", str(w.bad), "--cache-dir", str(w.cache), "--universe-file",
            UNIVERSE, *extra]  # fmt: skip


def _bad_csv(name: str, body: str) -> Setup:
    def setup(w: World) -> list[str]:
        w.csv(name, body)
        return _import(w)

    return setup


def _symlink_loop(w: World) -> list[str]:
    w.bad.mkdir()
    (w.bad / "NVDA.csv").symlink_to(w.bad / "NVDA.csv")
    return _import(w)


def _no_symbol_file(w: World) -> list[str]:
    w.csv("notes.txt", "nothing here\n")
    return _import(w)


BAD_CSV = [
    Case("decimal comma", _bad_csv("NVDA.csv", _rows(['"3,98"'] * 5)), ("NVDA.csv", "3,98", "--decimal")),
    Case("thousands separator", _bad_csv("NVDA.csv", _rows(['"1,234.5"'] * 5)), ("NVDA.csv", "1,234.5", "--thousands")),
    Case("impossible date", _bad_csv("NVDA.csv", "Date,Close\n2024-13-01,10\n2024-03-05,11\n"), ("NVDA.csv", "2024-13-01")),
    Case("unknown layout", _bad_csv("NVDA.csv", "When,Price\n2024-03-04,10\n"), ("NVDA.csv", "When", "--columns")),
    Case("empty file", _bad_csv("NVDA.csv", ""), ("NVDA.csv", "empty")),
    Case("header only", _bad_csv("NVDA.csv", "Date,Close\n"), ("NVDA.csv",)),
    Case("not UTF-8 text", _bad_csv("NVDA.csv", "Date,Close\n2024-03-04,1\x00\x00\n"), ("NVDA.csv",)),
    Case("symlink loop", _symlink_loop, ("NVDA.csv", "symbolic link loop")),
    Case("no file for any symbol", _no_symbol_file, ("{root}/bad", "no <SYMBOL>.csv file")),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_CSV, ids=[c.name for c in BAD_CSV])
def test_bad_csv_files(case: Case, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _check(case, world, capsys)


# ---------------------------------------------------------------- 2. bad event logs


def _tamper(old: str, new: str) -> Setup:
    def setup(w: World) -> list[str]:
        text = w.log.read_text(encoding="utf-8")
        assert old in text, old
        w.log.write_text(text.replace(old, new, 1), encoding="utf-8")
        return ["events", "validate", str(w.log), "--universe-file", UNIVERSE]

    return setup


def _truncated_log(w: World) -> list[str]:
    data = w.log.read_bytes()
    w.log.write_bytes(data[: len(data) * 2 // 3])
    return ["events", "list", "--log", str(w.log)]


def _cut_tail(w: World) -> list[str]:
    from backtest.eventlog.catalog import load_catalog

    version = str(load_catalog(w.log).version)
    first = w.log.read_text(encoding="utf-8").split("\n- ")
    w.log.write_text("\n- ".join(first[:-1]) + "\n", encoding="utf-8")
    return ["events", "validate", str(w.log), "--expect", version, "--universe-file", UNIVERSE]


def _add_event(mutate: Callable[[str], str]) -> Setup:
    def setup(w: World) -> list[str]:
        text = mutate((FIX / "one_event.yaml").read_text(encoding="utf-8"))
        (w.root / "new.yaml").write_text(text, encoding="utf-8")
        return ["events", "add", str(w.root / "new.yaml"), "--log", str(w.log),
                "--universe-file", UNIVERSE]  # fmt: skip

    return setup


def _no_at(text: str) -> str:
    return text.replace('    at: "2023-10-17T10:00:00-04:00"\n', "")


def _bounds_swapped(text: str) -> str:
    return text.replace(
        "    date: 2023-11-17\n",
        "    date: 2023-11-17\n    not_before: '2023-11-17T18:00:00-05:00'\n"
        "    not_after: '2023-11-17T09:00:00-05:00'\n",
    )


def _alias_bomb(text: str) -> str:
    bomb = "x0: &a0 [z,z,z,z,z,z,z,z,z]\n" + "".join(
        f"x{i}: &a{i} [*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},"
        f"*a{i - 1},*a{i - 1}]\n"
        for i in range(1, 9)
    )
    return bomb + text


def _log_is_a_folder(w: World) -> list[str]:
    (w.root / "logdir").mkdir()
    return ["events", "list", "--log", str(w.root / "logdir")]


BAD_LOG = [
    Case("edited record", _tamper("authority: US-BIS", "authority: US-BlS"), ("log.yaml",)),
    Case("truncated mid-record", _truncated_log, ("log.yaml",)),
    Case("records cut off the end", _cut_tail, ("--expect", "missing")),
    Case("time_known without at", _add_event(_no_at), ("new.yaml", "at", "time_known is true but 'at' is missing")),
    Case("not_before after not_after", _add_event(_bounds_swapped), ("new.yaml", "not_before is after not_after")),
    Case("control character in a title", _add_event(lambda t: t.replace("BIS updates", "BIS\x1b[31m updates")), ("new.yaml", "#x001b", "control characters")),
    Case("YAML alias bomb", _add_event(_alias_bomb), ("new.yaml", "alias")),
    Case("log is a folder", _log_is_a_folder, ("logdir",)),
    Case("unknown version", lambda w: ["events", "list", "--log", str(w.log), "--log-version", "v99"], ("99",)),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_LOG, ids=[c.name for c in BAD_LOG])
def test_bad_event_logs(case: Case, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _check(case, world, capsys)


# ---------------------------------------------------------------- 3. cache faults


def _verify(w: World) -> list[str]:
    return ["data", "verify", "--cache-dir", str(w.cache), "--universe-file", UNIVERSE]


def _edited_parquet(w: World) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = w.cache / PriceCache.open(w.cache).entries()["NVDA"].file
    frame = pq.read_table(path).to_pandas()
    frame.iloc[2, frame.columns.get_loc("close")] = 12.5  # one close, edited in place
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=True), path)
    return _verify(w)


def _manifest_gone(w: World) -> list[str]:
    (w.cache / "manifest.json").unlink()
    return ["data", "status", "--cache-dir", str(w.cache)]


def _manifest_list(w: World) -> list[str]:
    path = w.cache / "manifest.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    body["entries"] = list(body.get("entries", {}).values())
    path.write_text(json.dumps(body), encoding="utf-8")
    return _verify(w)


def _manifest_garbage(w: World) -> list[str]:
    (w.cache / "manifest.json").write_text("{not json", encoding="utf-8")
    return _verify(w)


def _cache_is_a_file(w: World) -> list[str]:
    (w.root / "cachefile").write_text("x", encoding="utf-8")
    return ["data", "status", "--cache-dir", str(w.root / "cachefile")]


CACHE = [
    Case("parquet edited in place", _edited_parquet, ("NVDA", "sha256")),
    Case("manifest deleted", _manifest_gone, ("not accounted for", "manifest.json is missing")),
    Case("manifest entries a list", _manifest_list, ("manifest.json",)),
    Case("manifest not JSON", _manifest_garbage, ("manifest.json",)),
    Case("cache dir is a file", _cache_is_a_file, ("cachefile",)),
]  # fmt: skip


@pytest.mark.parametrize("case", CACHE, ids=[c.name for c in CACHE])
def test_cache_faults(case: Case, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _check(case, world, capsys)


# ---------------------------------------------------------------- 4. output faults


def _a_file(w: World) -> str:
    path = w.root / "taken.txt"
    path.write_text("keep me\n", encoding="utf-8")
    return str(path)


def _missing_table(w: World) -> list[str]:
    (w.run / "tables" / "tests.csv").unlink()
    return ["report", "build", str(w.run), "--no-pdf"]


def _changed_table(w: World) -> list[str]:
    (w.run / "tables" / "car.csv").write_bytes(b"a,b\n1,3\n")
    return ["report", "build", str(w.run), "--no-pdf"]


OUTPUT = [
    Case("run --out a file", lambda w: ["run", "--demo", "--no-pdf", "--out", _a_file(w)], ("--out", "taken.txt")),
    Case("backtest --out a file", lambda w: ["backtest", "run", "--demo", "--out", _a_file(w)], ("--out", "taken.txt")),
    Case("study --out a file", lambda w: ["study", "run", "--demo", "--out", _a_file(w)], ("--out", "taken.txt")),
    Case("run folder missing a table", _missing_table, ("tests.csv",)),
    Case("run folder with a changed table", _changed_table, ("car.csv",)),
    Case("report of no run folder", lambda w: ["report", "build", str(w.root / "nope")], ("nope",)),
    Case("timeline to a .txt", lambda w: ["events", "timeline", "--log", str(w.log), "--out", str(w.root / "t.txt")], ("--out", ".txt")),
]  # fmt: skip


@pytest.mark.parametrize("case", OUTPUT, ids=[c.name for c in OUTPUT])
def test_output_faults(case: Case, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _check(case, world, capsys)


# ---------------------------------------------------------------- 5. bad options


def _opts(*args: str) -> Setup:
    def setup(w: World) -> list[str]:
        return [a.replace("{root}", str(w.root)) for a in args]

    return setup


OPTIONS = [
    Case("--placebo -5", _opts("study", "run", "--demo", "--placebo", "-5"), ("--placebo", "-5", ">= 0")),
    Case("--min-obs 0", _opts("study", "run", "--demo", "--min-obs", "0"), ("--min-obs", "0", ">= 3")),
    Case("run --seed -1", _opts("run", "--demo", "--seed", "-1"), ("--seed", "-1", ">= 0")),
    Case("backtest --seed -1", _opts("backtest", "run", "--demo", "--seed", "-1"), ("--seed", "-1")),
    Case("study --seed -1", _opts("study", "run", "--demo", "--seed", "-1"), ("--seed", "-1")),
    Case("--start 2025-13-01", _opts("data", "fetch", "NVDA", "--start", "2025-13-01"), ("--start", "2025-13-01", "YYYY-MM-DD")),
    Case("--start after --end", _opts("data", "fetch", "NVDA", "--start", "2025-02-01", "--end", "2025-01-01"), ("--start", "2025-02-01")),
    Case("study --demo --prices-dir", _opts("study", "run", "--demo", "--prices-dir", "{root}/src"), ("--demo --prices-dir", "at most one")),
    Case("run --demo --from-cache", _opts("run", "--demo", "--from-cache"), ("--demo --from-cache", "at most one")),
    Case("backtest two sources", _opts("backtest", "run", "--prices-dir", "{root}/src", "--from-cache"), ("at most one",)),
    Case("--prices-dir missing", _opts("run", "--prices-dir", "{root}/nope"), ("--prices-dir", "nope", "existing directory")),
    Case("--stage rumour", _opts("run", "--demo", "--stage", "rumour"), ("--stage", "rumour", "official")),
    Case("align --stage rumour", _opts("events", "align", "--stage", "rumour"), ("--stage", "rumour")),
    Case("--log-version x3", _opts("study", "run", "--demo", "--log-version", "x3"), ("--log-version", "x3", "vN:DIGEST")),
    Case("--log-version wrong digest", _opts("run", "--demo", "--log", "{root}/log.yaml", "--log-version", "v1:abcdef"), ("abcdef",)),
    Case("--hold 0", _opts("backtest", "run", "--demo", "--hold", "0"), ("--hold", "0", "1 to 60")),
    Case("run --hold 99", _opts("run", "--demo", "--hold", "99"), ("--hold", "99")),
    Case("--window 3:1", _opts("run", "--demo", "--window", "3:1"), ("--window", "3:1")),
    Case("--overlap sideways", _opts("run", "--demo", "--overlap", "sideways"), ("--overlap", "sideways", "merge")),
    Case("--min-confidence top", _opts("run", "--demo", "--min-confidence", "top"), ("--min-confidence", "top")),
    Case("--timeout 0", _opts("data", "fetch", "NVDA", "--timeout", "0"), ("--timeout", "0")),
    Case("--since 2024-02-30", _opts("events", "list", "--since", "2024-02-30"), ("--since", "2024-02-30")),
    Case("--log missing", _opts("run", "--demo", "--log", "{root}/nope.yaml"), ("--log", "nope.yaml")),
    Case("--seed not a number", _opts("run", "--demo", "--seed", "abc"), ("--seed", "valid integer"), exit_code=2),
    Case("unknown option", _opts("study", "run", "--bogus"), ("--bogus", "mib study run --help"), exit_code=2),
]  # fmt: skip


@pytest.mark.parametrize("case", OPTIONS, ids=[c.name for c in OPTIONS])
def test_bad_options(case: Case, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _check(case, world, capsys)


# ---------------------------------------------------------------- 6. warnings, not errors

WARNINGS = [
    ("infinite close", ["10", "inf", "12", "13", "14"], "NVDA.csv:3 Close 'inf': expected a finite"),
    ("negative close", ["10", "11", "-12", "13", "14"], "NVDA.csv:4 Close '-12': expected a price > 0"),
    ("absurd close", ["10", "11", "12", "1e308", "14"], "NVDA.csv:5 Close '1e308': expected a finite"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "closes", "needle"), WARNINGS, ids=[w[0] for w in WARNINGS])
def test_rows_dropped_on_import_are_said_aloud(
    name: str, closes: list[str], needle: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad row is dropped, never stored; the import says so in a warning line."""
    w = world
    w.csv("NVDA.csv", _rows(closes))
    code, _, err = run_cli(capsys, *_import(w))
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(lines) == 1 and needle in lines[0] and "row dropped" in lines[0], err
    back = load_prices("cache", ["NVDA"], universe=load_universe(UNIVERSE), cache_dir=w.cache)
    assert len(back.bars["NVDA"]) == 4 and back.bars["NVDA"]["close"].between(1, 100).all()


def test_catalogue_counts() -> None:
    """The catalogue's size, quoted in issue 16's report: every case is a clear error."""
    counts = {
        "bad CSV": len(BAD_CSV),
        "bad log": len(BAD_LOG),
        "cache": len(CACHE),
        "output": len(OUTPUT),
        "options": len(OPTIONS),
        "warnings": len(WARNINGS),
    }
    assert sum(counts.values()) == 55 + len(WARNINGS), counts
    names = [c.name for group in (BAD_CSV, BAD_LOG, CACHE, OUTPUT, OPTIONS) for c in group]
    assert len(set(names)) == len(names)


def test_snapshot_sees_a_changed_byte(tmp_path: Path) -> None:
    """The byte-identical check can fail: one flipped byte changes the snapshot."""
    (tmp_path / "a").write_bytes(b"abc")
    before = _snapshot(tmp_path)
    (tmp_path / "a").write_bytes(b"abd")
    assert _snapshot(tmp_path) != before
