"""Helpers for the tests of `mib events sources` (no test functions here)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backtest.eventlog import add_event, empty_log_text

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "sources"
UNIVERSE = str(ROOT / "events" / "universe.yaml")
LOG = ROOT / "events" / "export_controls.yaml"


def new_log(path: Path, *events: dict[str, Any]) -> Path:
    """A fresh log at ``path`` holding ``events`` (announce records, recorded 2026-11-01)."""
    path.write_text(empty_log_text(), encoding="utf-8")
    for ev in events:
        add_event(path, ev, recorded="2026-11-01")
    return path


def event(
    ident: str, stages: list[dict[str, Any]], *, authority: str = "NVIDIA", **extra: Any
) -> dict[str, Any]:
    """A minimal valid event (company disclosure unless ``type`` is given)."""
    body: dict[str, Any] = {
        "id": ident,
        "title": f"test event {ident}",
        "authority": authority,
        "jurisdiction": "private",
        "type": "company_disclosure",
        "direction": "tightening",
        "stages": stages,
        "affected": [{"target": "NVDA", "sign": -1}],
        "sources": [{"url": "https://example.org/report", "title": "a press report"}],
        "confidence": "medium",
    }
    body.update(extra)
    return body


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)  # keep it open, say nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for c in held:
            c.close()
        srv.close()


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
