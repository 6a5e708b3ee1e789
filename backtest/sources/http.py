"""Fetching source documents: User-Agent, rate limit, one total deadline, a hashed cache.

Every call of :func:`fetch` has one **total deadline** (``timeout`` seconds,
``--timeout``) that covers the wait for the rate limiter, name resolution,
connecting and reading the whole answer.  The download runs in a daemon thread
that is abandoned when the deadline passes, so a host that accepts the
connection and never answers (or trickles bytes) still ends the command with
one line within the deadline -- ``urllib``'s own timeout applies per socket
operation, not per call, and name resolution has none.

**User-Agent.**  EDGAR's fair-access policy asks every automated client to
declare itself with a contact ("Sample Company Name AdminContact@<sample
company domain>.com") and to stay at or under 10 requests per second
(https://www.sec.gov/os/accessing-edgar-data); requests without it are
answered ``403``.  :func:`user_agent` builds ``mib/<version> (event-log
curation; <contact>)``; EDGAR calls refuse to start without a contact.

**Rate limit.**  Requests to one host are spaced by :data:`MIN_INTERVAL`
(0.1 s for the SEC's hosts, i.e. at most 10 per second; 0.2 s elsewhere).

**Cache.**  Each answer is stored under ``<cache>/sources/`` as the body
(``<key>.body``) and a manifest (``<key>.json``: URL, fetch time in UTC,
SHA-256, size, content type), like the price cache's manifest.  A cached
answer younger than ``max_age`` is reused after its SHA-256 is checked; one
edited in place is refused with the fix.  ``max_age=0`` always fetches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from backtest.errors import InputFileError
from backtest.sources.errors import SourceError, SourceUnavailable

DEFAULT_TIMEOUT = 30.0
"""Seconds for one whole call (rate-limit wait, DNS, connect, read)."""
DEFAULT_MAX_AGE = 3600.0
"""Seconds a cached answer is reused before it is fetched again."""
MAX_BYTES = 64 * 1024 * 1024
"""Largest answer read (EDGAR submissions documents are well under 5 MB)."""
MIN_INTERVAL: dict[str, float] = {
    "data.sec.gov": 0.1,
    "www.sec.gov": 0.1,
    "efts.sec.gov": 0.1,
}
"""Seconds between two requests to one host; SEC hosts: at most 10 per second."""
DEFAULT_INTERVAL = 0.2
CACHE_ENV = "MIB_CACHE_DIR"
CONTACT_ENV = "MIB_CONTACT"

_last_request: dict[str, float] = {}
_rate_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Answer:
    """The raw bytes of one source answer and where and when they came from."""

    data: bytes
    origin: str  # URL, or the path of a saved file
    fetched_at: str  # UTC, e.g. 2026-11-30T10:15:02Z (a saved file: its modification time)
    sha256: str
    via: Literal["network", "cache", "file"]
    content_type: str = ""
    note: str = ""  # e.g. why the answer could not be cached

    def provenance(self) -> dict[str, object]:
        """The fields a reviewer needs to trust the evidence (written beside proposals)."""
        key = "url" if self.via != "file" else "file"
        out: dict[str, object] = {
            key: self.origin,
            "fetched_at" if self.via != "file" else "modified_at": self.fetched_at,
            "sha256": self.sha256,
            "bytes": len(self.data),
            "via": self.via,
        }
        if self.content_type:
            out["content_type"] = self.content_type
        return out


def utc_stamp(when: dt.datetime | None = None) -> str:
    w = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    return w.isoformat().replace("+00:00", "Z")


def user_agent(contact: str | None) -> str:
    """``mib/<version> (event-log curation; <contact>)``, the contact EDGAR asks for."""
    from backtest import __version__

    who = f"; {contact.strip()}" if contact and contact.strip() else ""
    return f"mib/{__version__} (event-log curation{who})"


def contact_from(option: str | None) -> str | None:
    """The contact from ``--contact`` or ``$MIB_CONTACT`` (None if neither is set)."""
    value = option if option is not None else os.environ.get(CONTACT_ENV)
    return value.strip() if value and value.strip() else None


def read_file(path: str | Path) -> Answer:
    """A saved answer (``--from-file``): its bytes, modification time and SHA-256."""
    p = Path(path)
    try:
        data = p.read_bytes()
        mtime = dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)
    except FileNotFoundError:
        raise InputFileError("file not found", file=p, expected="a saved API answer") from None
    except IsADirectoryError:
        raise InputFileError("is a folder", file=p, expected="a saved API answer file") from None
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror or exc}", file=p) from None
    return Answer(data, str(p), utc_stamp(mtime), hashlib.sha256(data).hexdigest(), "file")


# -- the cache -------------------------------------------------------------------------


def default_cache_root() -> Path:
    """``$MIB_CACHE_DIR`` when set, else ``platformdirs.user_cache_dir('mib')`` (as for prices)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("mib"))


class SourceCache:
    """Answers by URL under ``<root>/sources/``: body plus manifest (fetch time, SHA-256)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.dir = Path(root if root is not None else default_cache_root()) / "sources"

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]

    def _paths(self, url: str) -> tuple[Path, Path]:
        k = self.key(url)
        return self.dir / f"{k}.json", self.dir / f"{k}.body"

    def get(self, url: str, max_age: float, now: float | None = None) -> Answer | None:
        """A cached answer for ``url`` no older than ``max_age`` seconds, hash-checked."""
        if max_age <= 0:
            return None
        meta_path, body_path = self._paths(url)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            body = body_path.read_bytes()
        except (OSError, ValueError):
            return None  # nothing cached (or a half-written entry): fetch again
        if not isinstance(meta, dict) or meta.get("url") != url:
            return None
        try:
            fetched = dt.datetime.fromisoformat(str(meta["fetched_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return None
        age = (now if now is not None else time.time()) - fetched.timestamp()
        if age > max_age:
            return None
        digest = hashlib.sha256(body).hexdigest()
        if digest != meta.get("sha256"):
            raise SourceError(
                f"cached answer changed after it was fetched (sha256 {digest[:12]}..., "
                f"the manifest recorded {str(meta.get('sha256'))[:12]}...)",
                file=body_path,
                expected="an untouched cache entry: delete both files of the entry, or rerun "
                "with --max-age 0 to fetch the answer again",
            )
        return Answer(
            body, url, str(meta["fetched_at"]), digest, "cache", str(meta.get("content_type", ""))
        )

    def put(self, answer: Answer) -> None:
        """Store ``answer`` (body first, manifest last, each through a renamed temp file)."""
        meta_path, body_path = self._paths(answer.origin)
        self.dir.mkdir(parents=True, exist_ok=True)
        _atomic(body_path, answer.data)
        meta = {
            "url": answer.origin,
            "fetched_at": answer.fetched_at,
            "sha256": answer.sha256,
            "bytes": len(answer.data),
            "content_type": answer.content_type,
        }
        _atomic(meta_path, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())


def _atomic(path: Path, data: bytes) -> None:
    from backtest.fsio import atomic_write

    atomic_write(path, data)


# -- the fetch -------------------------------------------------------------------------


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def _wait_turn(host: str, deadline: float, timeout: float) -> None:
    interval = MIN_INTERVAL.get(host, DEFAULT_INTERVAL)
    with _rate_lock:
        now = time.monotonic()
        start = max(now, _last_request.get(host, float("-inf")) + interval)
        _last_request[host] = start
    delay = start - now
    if delay > 0:
        if now + delay > deadline:
            raise _late(host, timeout)
        time.sleep(delay)


def _late(host: str, timeout: float) -> SourceUnavailable:
    return SourceUnavailable(
        f"{host}: no answer within the {timeout:g} s deadline (offline, or the server stalled); "
        "nothing was written",
        expected="a reachable host (check the network or --timeout), or --from-file with an "
        "answer saved by a browser or curl",
    )


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host name (offline, or no DNS)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({getattr(reason, 'reason', None) or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__


def _http_error(host: str, url: str, code: int) -> SourceError | SourceUnavailable:
    hint = {
        403: "refused (HTTP 403)"
        + (
            ": EDGAR refuses clients without a User-Agent naming a contact (--contact or "
            "$MIB_CONTACT) and clients above 10 requests per second"
            if host.endswith("sec.gov")
            else ""
        ),
        404: "not found (HTTP 404): check the CIK, document number or agency slug",
        429: "rate limited (HTTP 429): wait a minute and retry",
    }.get(code, f"HTTP {code}" + (" (server error; retry later)" if code >= 500 else ""))
    cls = SourceError if code == 404 else SourceUnavailable
    return cls(f"{host}: {hint}; nothing was written", value=url)


class _HttpStatus(Exception):
    """An HTTP error status, kept without the response (which is closed at once)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fetch(
    url: str,
    *,
    agent: str,
    timeout: float = DEFAULT_TIMEOUT,
    cache: SourceCache | None = None,
    max_age: float = DEFAULT_MAX_AGE,
    accept: str = "application/json",
) -> Answer:
    """GET ``url`` within ``timeout`` seconds in total (or reuse a fresh cached answer).

    Unreachable, stalled, refused or blocked: :class:`SourceUnavailable` (one line,
    within the deadline).  The answer is cached with its fetch time and SHA-256.
    """
    if cache is not None:
        hit = cache.get(url, max_age)
        if hit is not None:
            return hit
    host = _host(url)
    deadline = time.monotonic() + timeout
    _wait_turn(host, deadline, timeout)
    outcome: dict[str, Any] = {}
    headers = {"User-Agent": agent, "Accept": accept}

    def work() -> None:
        try:
            request = urllib.request.Request(url, headers=headers)
            budget = max(deadline - time.monotonic(), 0.05)
            with urllib.request.urlopen(request, timeout=budget) as resp:
                chunks: list[bytes] = []
                total = 0
                while True:
                    if time.monotonic() > deadline:
                        raise TimeoutError("deadline")
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > MAX_BYTES:
                        raise SourceError(
                            f"answer larger than {MAX_BYTES // 1_000_000} MB; refused",
                            value=url,
                        )
                    chunks.append(chunk)
                outcome["ok"] = (b"".join(chunks), resp.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            outcome["error"] = _HttpStatus(exc.code)
            exc.close()  # an HTTPError holds the connection open
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="mib-source-fetch", daemon=True)
    worker.start()
    worker.join(max(deadline - time.monotonic(), 0.0))
    if worker.is_alive() or ("ok" not in outcome and "error" not in outcome):
        raise _late(host, timeout)
    err = outcome.get("error")
    if err is not None:
        if isinstance(err, SourceError | SourceUnavailable):
            raise err
        if isinstance(err, _HttpStatus):
            raise _http_error(host, url, err.code) from None
        if isinstance(err, TimeoutError | socket.timeout) or isinstance(
            getattr(err, "reason", None), TimeoutError | socket.timeout
        ):
            raise _late(host, timeout)
        if isinstance(err, urllib.error.URLError | OSError | ValueError):
            raise SourceUnavailable(
                f"{host or url}: {_why(err)}; nothing was written",
                expected="a reachable host (check the network), or --from-file with an answer "
                "saved by a browser or curl",
            ) from None
        raise err
    data: bytes = outcome["ok"][0]
    ctype: str = outcome["ok"][1]
    answer = Answer(data, url, utc_stamp(), hashlib.sha256(data).hexdigest(), "network", str(ctype))
    if cache is not None:
        try:
            cache.put(answer)
        except OSError as exc:
            answer = replace(answer, note=f"not cached in {cache.dir}: {exc.strerror or exc}")
    return answer
