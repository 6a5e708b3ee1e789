"""Networking of `mib events sources`: deadline, offline, User-Agent, rate limit, cache.

Everything runs against servers on 127.0.0.1: one that accepts and never answers
(the stalled case), a closed port (offline), and a small HTTP server that serves
the fixtures and records what it was asked.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    from cli_support import one_error_line
    from cli_support import run_cli as run
    from sources_support import FIX, UNIVERSE, closed_port, silent_server
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.cli_support import one_error_line
    from tests.cli_support import run_cli as run
    from tests.sources_support import FIX, UNIVERSE, closed_port, silent_server

from backtest.sources import http as net
from backtest.sources.errors import SourceError, SourceUnavailable


@contextmanager
def fixture_server(routes: dict[str, tuple[int, bytes, str]]) -> Iterator[tuple[str, list]]:
    """Serve ``routes`` (path -> status, body, content type); yields (base URL, requests)."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            seen.append({"path": self.path, "agent": self.headers.get("User-Agent", "")})
            status, body, ctype = routes.get(path, (404, b'{"status":404}', "application/json"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("command", ["edgar", "federal-register"])
def test_stalled_server_gives_one_line_within_the_deadline(tmp_path, capsys, command):
    out = tmp_path / "out"
    with silent_server() as port:
        args = ["events", "sources", command, "--base-url", f"http://127.0.0.1:{port}"]
        if command == "edgar":
            args += ["--symbol", "NVDA", "--contact", "test@example.org"]
        started = time.monotonic()
        code, _, err = run(
            capsys,
            *args,
            "--timeout",
            "1",
            "--match",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--universe",
            UNIVERSE,
        )
        took = time.monotonic() - started
    one_error_line(code, err, "127.0.0.1: no answer within the 1 s deadline")
    assert took < 4, took
    assert not out.exists()


def test_offline_gives_one_line(tmp_path, capsys):
    port = closed_port()
    started = time.monotonic()
    code, _, err = run(
        capsys,
        "events",
        "sources",
        "federal-register",
        "--base-url",
        f"http://127.0.0.1:{port}",
        "--timeout",
        "5",
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "c"),
        "--universe",
        UNIVERSE,
    )
    one_error_line(code, err, "connection refused", "--from-file")
    assert time.monotonic() - started < 5
    assert not (tmp_path / "out").exists()


def test_fetch_sends_the_contact_caches_and_checks_the_hash(tmp_path):
    body = (FIX / "edgar_small.json").read_bytes()
    with fixture_server({"/submissions/CIK0001045810.json": (200, body, "application/json")}) as (
        base,
        seen,
    ):
        url = f"{base}/submissions/CIK0001045810.json"
        cache = net.SourceCache(tmp_path)
        agent = net.user_agent("Jane Analyst jane@example.org")
        first = net.fetch(url, agent=agent, timeout=5, cache=cache)
        again = net.fetch(url, agent=agent, timeout=5, cache=cache)
        assert (first.via, again.via) == ("network", "cache")
        assert len(seen) == 1
        assert seen[0]["agent"].startswith("mib/") and "jane@example.org" in seen[0]["agent"]
        meta_file = next((tmp_path / "sources").glob("*.json"))
        meta = json.loads(meta_file.read_text())
        assert meta["url"] == url and meta["sha256"] == first.sha256 == again.sha256
        assert meta["fetched_at"].endswith("Z") and meta["bytes"] == len(body)
        refetched = net.fetch(url, agent=agent, timeout=5, cache=cache, max_age=0)
        assert refetched.via == "network" and len(seen) == 2
        body_file = meta_file.with_suffix(".body")
        body_file.write_bytes(body.replace(b"NVIDIA", b"NVIDlA"))
        with pytest.raises(SourceError, match="changed after it was fetched"):
            net.fetch(url, agent=agent, timeout=5, cache=cache)
        with pytest.raises(SourceError, match="not found"):
            net.fetch(f"{base}/submissions/CIK0000000001.json", agent=agent, timeout=5)


def test_requests_to_one_host_are_spaced(monkeypatch):
    monkeypatch.setitem(net.MIN_INTERVAL, "127.0.0.1", 0.3)
    with fixture_server({"/a": (200, b"{}", "application/json")}) as (base, seen):
        started = time.monotonic()
        for _ in range(3):
            net.fetch(f"{base}/a", agent="t", timeout=5)
        assert time.monotonic() - started >= 0.6
        assert len(seen) == 3


def test_edgar_over_the_network(tmp_path, capsys):
    body = (FIX / "edgar_small.json").read_bytes()
    with fixture_server({"/submissions/CIK0001045810.json": (200, body, "application/json")}) as (
        base,
        seen,
    ):
        code, out, err = run(
            capsys,
            "events",
            "sources",
            "edgar",
            "--symbol",
            "NVDA",
            "--base-url",
            base,
            "--contact",
            "ops@example.org",
            "--cache-dir",
            str(tmp_path),
            "--universe",
            UNIVERSE,
        )
    assert code == 0, err
    assert "0001045810-22-000146" in out and "(cached)" not in out
    assert "ops@example.org" in seen[0]["agent"]


def test_an_html_answer_is_refused(tmp_path, capsys):
    page = (FIX / "fr_error_page.json").read_bytes()
    with fixture_server({"/api/v1/documents.json": (200, page, "text/html")}) as (base, _):
        code, _, err = run(
            capsys,
            "events",
            "sources",
            "federal-register",
            "--base-url",
            f"{base}/api/v1",
            "--since",
            "2027-01-01",
            "--candidates",
            "--out",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "c"),
            "--universe",
            UNIVERSE,
        )
    one_error_line(code, err, "got an HTML page, not JSON")
    assert not (tmp_path / "out").exists()


def test_federal_register_over_the_network_with_public_inspection(tmp_path, capsys):
    docs = (FIX / "fr_documents.json").read_bytes()
    pi = json.loads((FIX / "fr_public_inspection.json").read_text())["results"][0]
    routes = {
        "/api/v1/documents.json": (200, docs, "application/json"),
        "/api/v1/public-inspection-documents/2027-01001.json": (
            200,
            json.dumps(pi).encode(),
            "application/json",
        ),
    }
    with fixture_server(routes) as (base, seen):
        code, out, err = run(
            capsys,
            "events",
            "sources",
            "federal-register",
            "--base-url",
            f"{base}/api/v1",
            "--since",
            "2027-01-01",
            "--cache-dir",
            str(tmp_path),
            "--universe",
            UNIVERSE,
        )
    assert code == 0, err
    assert "2027-01001  Rule    2027-01-15  2027-01-13 16:15 EST" in out
    paths = [s["path"] for s in seen]
    assert "conditions%5Bpublication_date%5D%5Bgte%5D=2027-01-01" in paths[0]
    assert any(p.endswith("/public-inspection-documents/2027-01001.json") for p in paths)


def test_read_file_errors_are_one_line(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "events",
        "sources",
        "federal-register",
        "--from-file",
        str(tmp_path / "nope.json"),
        "--universe",
        UNIVERSE,
    )
    one_error_line(code, err, "file not found", "nope.json")


def test_source_unavailable_is_a_mib_error():
    from backtest.errors import MibError

    assert issubclass(SourceUnavailable, MibError) and issubclass(SourceError, MibError)
    assert Path(net.__file__).name == "http.py"
