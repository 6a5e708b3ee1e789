"""Event-log benchmark: a 50 MB log validated and appended to, and writers killed mid-write.

Run from the repository root::

    .venv/bin/python benchmarks/bench_eventlog.py                  # 50 MB, 40 kills
    .venv/bin/python benchmarks/bench_eventlog.py --size-mb 10 --kills 10

1. A log of ``--size-mb`` MB is generated in a temporary folder (nothing is
   written to the repository): the announce records of the shipped log
   (``events/export_controls.yaml``), copied again and again under new ids
   (``<id>-c<k>``) with every fourth followed by an ``amend`` record, all
   chained with valid digests.  Then, each in a fresh ``mib`` process whose
   wall time and peak RSS (``ru_maxrss`` from ``wait4``) are printed:

   * ``validate``: ``mib events validate LOG`` (chain, records, fold, universe);
   * ``add``: ``mib events add`` of one new event (lock held while it runs).

   Before the hardening pass a 50 MB log took 49 s and 2.3 GB to validate and
   46 s per add on the issue's machine (104 s / 1.9 GB and 87 s / 2.1 GB here, a
   2-core box shared with CI): PyYAML builds and resolves a Python node per
   scalar (~2.5 s per 5 MB even on libyaml), ``validate`` parsed the file twice,
   and ``add`` parsed it twice (read, then the whole new text) while holding the
   lock, with the cyclic GC walking millions of live objects throughout.  After
   (same box): validate 8.2 s / 483 MB, add 9.6 s / 633 MB with the lock held
   0.6 s -- records are read by :mod:`backtest.eventlog.blockyaml` one chunk at
   a time (PyYAML for any record it does not take), the file is parsed once,
   the GC is paused while records are built, and an append reads back only its
   own records, chained from the old tail digest.  The target is validate < 10 s.

2. ``mib events add`` processes on a small log are SIGKILLed after a random
   delay (20-110 % of an add's duration), ``--kills`` times; after each kill the
   log must be byte-identical to the old or the new version and validate.  The
   write window is too short for random kills to hit, so three more writers
   are killed exactly at the rename (each leaves an orphan temp file and removes
   the one before it); the next successful add must remove the last.  Prints
   the kills, how many landed, the orphans, and the failures (0).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
UNIVERSE = REPO / "events" / "universe.yaml"
REAL_LOG = REPO / "events" / "export_controls.yaml"
MIB = [sys.executable, "-m", "backtest"]
NEW_EVENT = REPO / "tests" / "fixtures" / "eventlog" / "one_event.yaml"


KILLED_AT_RENAME = r"""
import os, signal, sys
from backtest.eventlog import add_event, read_event_file, yamlio
from backtest.universe import load_universe
yamlio.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
add_event(sys.argv[1], read_event_file(sys.argv[2])[0][0], universe=load_universe(sys.argv[3]))
"""


def generate(path: Path, size_mb: float) -> int:
    """Write a chained log of about ``size_mb`` MB at ``path``; returns the record count.

    Each event of the shipped catalog is dumped once as a template; copies get
    a new id, sequence number and digests by text substitution (the digests are
    computed from the record mappings, so the chain is valid).
    """
    sys.path.insert(0, str(REPO))
    from backtest.eventlog import chain_digest, empty_log_text, load_catalog
    from backtest.eventlog.records import GENESIS, event_payload
    from backtest.eventlog.yamlio import dump_records

    events = [event_payload(e) for e in load_catalog(REAL_LOG).events]
    marks = {"seq": 999999999, "prev_digest": "p" * 64, "digest": "d" * 64}
    templates = []
    for payload in events:
        raw = {
            "seq": marks["seq"],
            "recorded": "2026-11-28",
            "kind": "announce",
            "event": dict(payload, id="zzid"),
            "prev_digest": marks["prev_digest"],
            "digest": marks["digest"],
        }
        templates.append(dump_records([raw]))
    amend_t = dump_records(
        [
            {
                "seq": marks["seq"],
                "recorded": "2026-11-29",
                "kind": "amend",
                "id": "zzid",
                "changes": {"confidence": "medium"},
                "reason": "benchmark amend",
                "prev_digest": marks["prev_digest"],
                "digest": marks["digest"],
            }
        ]
    )

    def fill(template: str, raw: dict[str, Any], eid: str) -> str:
        text = template.replace(f"seq: {marks['seq']}", f"seq: {raw['seq']}", 1)
        for key in ("prev_digest", "digest"):
            value = raw[key] if not raw[key].isdigit() else f"'{raw[key]}'"
            text = text.replace(f"{key}: {marks[key]}", f"{key}: {value}", 1)
        return text.replace("id: zzid", f"id: {eid}", 1)

    header = empty_log_text().replace("records: []\n", "records:\n")
    target = int(size_mb * 1024 * 1024)
    prev, seq, size, copy = GENESIS, 0, len(header), 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(header)
        while size < target:
            copy += 1
            for i, payload in enumerate(events):
                eid = f"{payload['id']}-c{copy}"
                seq += 1
                raw: dict[str, Any] = {
                    "seq": seq,
                    "recorded": "2026-11-28",
                    "kind": "announce",
                    "event": dict(payload, id=eid),
                    "prev_digest": prev,
                }
                raw["digest"] = prev = chain_digest(prev, raw)
                text = fill(templates[i], raw, eid)
                if i % 4 == 0:
                    seq += 1
                    raw = {
                        "seq": seq,
                        "recorded": "2026-11-29",
                        "kind": "amend",
                        "id": eid,
                        "changes": {"confidence": "medium"},
                        "reason": "benchmark amend",
                        "prev_digest": prev,
                    }
                    raw["digest"] = prev = chain_digest(prev, raw)
                    text += fill(amend_t, raw, eid)
                if seq <= 2:
                    text = text.lstrip("\n")
                fh.write(text)
                size += len(text.encode("utf-8"))
    return seq


def timed(args: list[str]) -> tuple[float, float, int, str]:
    """Run a command; (wall seconds, peak RSS in MB, exit code, last stdout/stderr line)."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    out = proc.stdout.read() if proc.stdout is not None else b""
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    last = (out.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
    return secs, usage.ru_maxrss / 1024, proc.returncode, last


def bench_size(tmp: Path, size_mb: float) -> None:
    log = tmp / "big.yaml"
    t = time.perf_counter()
    n = generate(log, size_mb)
    print(
        f"generated {log.stat().st_size / 1e6:.1f} MB, {n} records "
        f"in {time.perf_counter() - t:.1f} s"
    )
    for name, args in (
        ("validate", [*MIB, "events", "validate", str(log), "--universe", str(UNIVERSE)]),
        (
            "add",
            [
                *MIB,
                "events",
                "add",
                str(NEW_EVENT),
                "--log",
                str(log),
                "--universe",
                str(UNIVERSE),
                "--recorded",
                "2026-12-01",
            ],
        ),
        ("validate after add", [*MIB, "events", "validate", str(log), "--universe", str(UNIVERSE)]),
    ):
        secs, peak, code, last = timed(args)
        print(f"{name:>18}: {secs:6.2f} s  peak RSS {peak:7.0f} MB  exit {code}  {last[:90]}")


def bench_kills(tmp: Path, kills: int, seed: int) -> None:
    """SIGKILL ``mib events add`` at random moments; the log must be old or new, and valid."""
    from backtest.eventlog import empty_log_text

    rng = random.Random(seed)
    log = tmp / "small.yaml"
    log.write_text(empty_log_text(), encoding="utf-8")
    subprocess.run(
        [
            *MIB,
            "events",
            "add",
            str(REPO / "tests" / "fixtures" / "eventlog" / "bis_2022.yaml"),
            "--log",
            str(log),
            "--universe",
            str(UNIVERSE),
            "--recorded",
            "2026-11-01",
        ],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    start = log.read_bytes()
    scratch = tmp / "scratch"
    scratch.mkdir()
    new = scratch / "new.yaml"
    shutil.copy(log, new)
    t = time.perf_counter()
    subprocess.run(
        [
            *MIB,
            "events",
            "add",
            str(NEW_EVENT),
            "--log",
            str(new),
            "--universe",
            str(UNIVERSE),
            "--recorded",
            "2026-12-01",
        ],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    full = time.perf_counter() - t
    finished = new.read_bytes()
    add = [
        *MIB,
        "events",
        "add",
        str(NEW_EVENT),
        "--log",
        str(log),
        "--universe",
        str(UNIVERSE),
        "--recorded",
        "2026-12-01",
    ]
    landed = failures = orphans = 0
    for _ in range(kills):
        log.write_bytes(start)
        proc = subprocess.Popen(add, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        time.sleep(rng.uniform(0.2 * full, 1.1 * full))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = log.read_bytes()
        landed += now == finished
        orphans += sum(p.name.endswith(".tmp") for p in tmp.iterdir())
        ok = (
            now in (start, finished)
            and subprocess.run(
                [*MIB, "events", "validate", str(log), "--universe", str(UNIVERSE)],
                capture_output=True,
                cwd=REPO,
            ).returncode
            == 0
        )
        failures += not ok
    log.write_bytes(start)
    in_window = 3  # writers killed exactly between their temp file and the rename
    orphans_made = 0
    for _ in range(in_window):
        subprocess.run(
            [sys.executable, "-c", KILLED_AT_RENAME, str(log), str(NEW_EVENT), str(UNIVERSE)],
            capture_output=True,
            cwd=REPO,
        )
        now_orphans = sum(p.name.endswith(".tmp") for p in tmp.iterdir())
        orphans_made += 1
        failures += log.read_bytes() != start or now_orphans != 1  # the last one's only
    subprocess.run(add, check=True, capture_output=True, cwd=REPO)
    left = [p.name for p in tmp.iterdir() if p.name.endswith(".tmp")]
    failures += bool(left) or log.read_bytes() != finished
    print(
        f"kills: {kills} (an add takes {full:.1f} s; killed after 20-110 % of that), "
        f"landed before the kill: {landed}, orphan temp files seen: {orphans}; killed at the "
        f"rename: {in_window}, orphans they left: {orphans_made}, left after the next add: "
        f"{len(left)}; failures: {failures}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--skip-size", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="bench-eventlog-") as tmp:
        if not args.skip_size:
            bench_size(Path(tmp), args.size_mb)
        if args.kills:
            kdir = Path(tmp) / "kills"
            kdir.mkdir()
            bench_kills(kdir, args.kills, args.seed)


if __name__ == "__main__":
    main()
