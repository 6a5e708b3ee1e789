"""Writing proposals for review: a folder per command, written whole or not at all.

``OUT/<name>/`` holds ``proposals.yaml`` (every finding with its evidence, the
proposed changes and the exact command), ``amend.sh`` (the ``mib events amend``
commands of the proposals, conflicts as comments), ``candidates.yaml`` (draft
``announce`` records, Federal Register only) and ``raw/`` (each answer as
received, with ``<file>.json`` provenance: URL or file, fetch time, SHA-256).
``OUT/amend.sh`` runs every ``*/amend.sh`` beside it.  The folder is written
through :func:`backtest.runio.staged_folder`: an error leaves ``OUT`` as it was.

``amend.sh`` is idempotent: each command leaves a marker ``.applied-N`` in its
folder when it succeeds and is skipped when run again, so a script stopped by a
refused amend can be fixed and rerun without appending anything twice.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backtest.sources.http import Answer, utc_stamp
from backtest.sources.proposals import Finding

RUNNER = """#!/bin/sh
# Runs every amend.sh in the folders beside this one, as written by
# `mib events sources edgar|federal-register --match`.  Review each folder's
# proposals.yaml and amend.sh first (delete the commands you do not accept).
# Each command runs once: a marker file records it, so rerunning is safe.
# Set MIB to the mib to use (default: mib on PATH), e.g. MIB=.venv/bin/mib.
set -e
here=$(dirname "$0")
for script in "$here"/*/amend.sh; do
  [ -f "$script" ] || continue
  echo "== $script"
  sh "$script"
done
"""


def raw_name(index: int, answer: Answer) -> str:
    """``raw/01-<what>.<ext>``: a safe file name for an answer."""
    tail = answer.origin.rstrip("/").split("/")[-1].split("?")[0] or "answer"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", tail)[:60]
    if not re.search(r"\.(json|xml|atom)$", stem):
        stem += ".xml" if answer.data.lstrip()[:1] == b"<" else ".json"
    return f"raw/{index:02d}-{stem}"


def raw_files(answers: Sequence[Answer]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for i, a in enumerate(answers, 1):
        name = raw_name(i, a)
        out[name] = a.data
        meta = {**a.provenance(), "saved_as": name}
        out[f"{name}.provenance.json"] = (json.dumps(meta, indent=2) + "\n").encode()
    return out


def amend_script(findings: Sequence[Finding], header: Sequence[str], log: str | None) -> bytes:
    lines = ["#!/bin/sh", *(f"# {h}" for h in header)]
    lines += [
        "# Review each command (proposals.yaml holds the evidence) and delete those you do",
        "# not accept, then run: sh amend.sh   (MIB=.venv/bin/mib sh amend.sh for a checkout).",
        "# Each command leaves a marker .applied-N beside this script and is skipped when",
        "# the script is run again.",
        "set -e",
        'MIB="${MIB:-mib}"',
        'here=$(dirname "$0")',
        "",
    ]
    n = 0
    for f in findings:
        if f.amendment is not None:
            n += 1
            argv = shlex.join(f.amendment.argv(log))
            lines += [
                f"# {f.event_id}: {_one_line(f.detail)}",
                f'[ -e "$here/.applied-{n}" ] || '
                f'{{ "$MIB" {argv} && touch "$here/.applied-{n}"; }}',
                "",
            ]
        elif f.status == "conflict":
            lines += [f"# CONFLICT (not proposed) {f.event_id}: {_one_line(f.detail)}", ""]
    if not n:
        lines += ["# no amendments proposed", ""]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def proposals_yaml(header: Sequence[str], body: Mapping[str, Any]) -> bytes:
    from backtest.eventlog.yamlio import dump_mapping

    head = "".join(f"# {h}\n" for h in header)
    return (head + dump_mapping(dict(body))).encode("utf-8")


def candidates_yaml(header: Sequence[str], drafts: Sequence[Mapping[str, Any]]) -> bytes:
    from backtest.eventlog.yamlio import dump_mapping

    head = "".join(f"# {h}\n" for h in header)
    return (head + dump_mapping({"events": [dict(d) for d in drafts]})).encode("utf-8")


def write_folder(out: Path, name: str, files: Mapping[str, bytes]) -> Path:
    """Write ``OUT/<name>/<files>`` and ``OUT/amend.sh`` at once (all or nothing)."""
    from backtest.runio import check_output_folder, staged_folder, write_file

    check_output_folder(out, need_bytes=1_000_000, what="the proposals")
    with staged_folder(out) as stage:
        sub = stage / name
        for rel, data in files.items():
            path = sub / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, data)
        write_file(stage / "amend.sh", RUNNER.encode())
    return out / name


def written_at() -> str:
    return utc_stamp()
