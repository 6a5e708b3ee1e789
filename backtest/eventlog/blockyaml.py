"""A fast reader for the block YAML that the log writer emits, with PyYAML as the judge.

PyYAML, even on libyaml, builds a Python node with two marks for every scalar
and resolves each one in Python: about 2.5 s per 5 MB of log and ~40 bytes of
RAM per byte of YAML, twice over when a command parsed the file twice (50 MB
took 49-100 s and 2 GB to validate).  The log, though, is written by
:func:`backtest.eventlog.yamlio.dump_records` and has one shape::

    # comments
    records:
    - seq: 1            # one chunk per record, each starting with "- " at column 0
      key: plain scalar
      key: 'single-quoted scalar, folded
        over lines'
      key:
        nested: mapping
        list:
          - item
      key: []

:func:`split_records` cuts the file into one chunk per record when (and only
when) every column-0 line after ``records:`` starts a record (``- ``), is a
comment or is blank; otherwise it returns None and the caller parses the whole
file with PyYAML.  :meth:`ChunkReader.parse` reads one chunk with the grammar
above -- block mappings and sequences, plain scalars resolved with the same
implicit resolvers and constructors as the loader, single-quoted scalars folded
as YAML folds them, ``[]`` and ``{}`` -- and returns :data:`UNSUPPORTED` for
anything else (double quotes, aliases, tags, flow collections, block scalars,
tabs, trailing spaces, duplicate keys ...), so that chunk is parsed by PyYAML.
Records are independent YAML once the file has this shape: a column-0 ``- ``
always starts a new item unless it is inside a quoted scalar or a flow
collection, and a chunk cut inside one of those does not parse on its own, so
the caller falls back to the whole file.  ``tests/test_faults_eventlog.py``
checks that this reader and PyYAML agree on the shipped log and on random
records.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from yaml.nodes import ScalarNode

UNSUPPORTED: Final = object()

_STR = "tag:yaml.org,2002:str"
_CONSTRUCTED = (
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
)
# What the fast reader cannot take from a stream: lone CRs, ASCII controls (YAML refuses
# them), and in UTF-8, C1 controls, NEL / LS / PS (line breaks to YAML), BOM, U+FFFE/FFFF
# and surrogates.
_LONE_CR = re.compile(r"\r(?!\n)")
_ASCII_OK = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_HIGH = bytes(range(0x80, 0x100))
_BAD_UTF8 = re.compile(
    rb"\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]|\xef\xbb\xbf|\xef\xbf[\xbe\xbf]"
    rb"|\xed[\xa0-\xbf]"
)
_HEAD = re.compile(r"\A(?:[ ]*(?:#[^\n]*)?\r?\n)*records:[ ]*\r?\n")
_BAD_COLUMN0 = re.compile(r"\n(?:[^ #\r\n-]|-(?! ))")
_END = ("", "", "", "", "")
# One line: (indent, content, "- " or "", key or "", the rest after "key: " or the content).
_LINE = re.compile(r"^( *)((- )?(?:([A-Za-z_][A-Za-z0-9_]*):(?: +|$))?(.*))$", re.M)
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)$")
_PLAIN_FIRST_BAD = frozenset("[]{}&*!|>'\"%@`#,?:")
_COMMENT_AFTER = re.compile(r"(?: +#.*)?$")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One record's text: ``text[start:end]``, starting on 1-based ``line``."""

    start: int
    end: int
    line: int


@dataclass(frozen=True, slots=True)
class Layout:
    """A log file cut into records: the ``records:`` line and one chunk per record."""

    records_line: int
    chunks: tuple[Chunk, ...]
    crlf: bool


def split_records(text: str) -> Layout | None:
    """Cut a log into record chunks, or None when it is not in the writer's shape."""
    if not _plain_stream(text):
        return None
    head = _HEAD.match(text)
    if head is None:
        return None
    body = head.end()
    if _BAD_COLUMN0.search(text, body - 1):
        return None
    records_line = text.count("\n", 0, body)
    starts = [body] if text.startswith("- ", body) else []
    find = text.find
    pos = find("\n- ", body)
    while pos >= 0:
        starts.append(pos + 1)
        pos = find("\n- ", pos + 2)
    if not starts:
        return None
    before = text[body : starts[0]]
    if any(ln.strip() and not ln.lstrip().startswith("#") for ln in before.split("\n")):
        return None
    chunks, line, pos = [], records_line + 1, body
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        line += text.count("\n", pos, start)
        pos = start
        chunks.append(Chunk(start, end, line))
    return Layout(records_line=records_line, chunks=tuple(chunks), crlf="\r" in text)


def _plain_stream(text: str) -> bool:
    """No character that YAML refuses or reads as a line break other than \\n, \\r\\n."""
    if "\r" in text and _LONE_CR.search(text):
        return False
    rest = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_OK)
    if not rest:
        return True
    return not rest.translate(None, _HIGH) and _BAD_UTF8.search(rest) is None


class _Unsupported(Exception):
    """Raised inside the reader; :meth:`ChunkReader.parse` turns it into UNSUPPORTED."""


class ChunkReader:
    """Reads record chunks; plain scalars are resolved once per distinct value.

    One flat loop over the lines with a stack of open containers (a mapping's
    key column or a sequence's dash column): the log has ~50 lines per
    record, so per-line work is what costs.
    """

    def __init__(
        self,
        resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]],
        construct: Callable[[str, str], Any],
    ) -> None:
        self._resolvers = resolvers
        self._construct = construct
        self._plain: dict[str, Any] = {}
        self._str_keys: set[str] = set()
        # First characters some implicit resolver looks at ("" for the empty string).
        self._first = frozenset(resolvers) | {""}
        self._wildcard = None in resolvers

    def parse(self, chunk: str) -> Any:
        """The record mapping of one chunk (``- key: ...``), or :data:`UNSUPPORTED`."""
        if "\t" in chunk or not chunk.startswith("- "):
            return UNSUPPORTED
        if "\r" in chunk:
            chunk = chunk.replace("\r\n", "\n")
            if "\r" in chunk:
                return UNSUPPORTED
        try:
            return self._parse(_LINE.findall("  " + chunk[2:]))
        except _Unsupported:
            return UNSUPPORTED

    def _parse(self, lines: list[tuple[str, str, str, str, str]]) -> dict[str, Any]:
        """Build the record from (indent, content, dash, key, rest) per line.

        Deliberately one loop with the common case (``key: value`` at the
        current indentation) inline: it runs a million times for a 50 MB log,
        and a helper call per line would cost more than the rest of the line.
        """
        root: dict[str, Any] = {}
        stack: list[tuple[int, Any, bool]] = [(2, root, False)]  # (column, container, is_seq)
        pending: tuple[Any, str, int] | None = None  # "key:" waiting for its block
        scalar: list[Any] | None = None  # [container, key, parent column, parts]
        quoted: list[Any] | None = None  # [container, key, parent column, parts]
        resolve, str_keys = self._resolve, self._str_keys
        plain_str = None if self._wildcard else self._first  # first chars that may not be str
        lines.append(_END)
        for (ind, s, dash, key, rest), (nind, ns, _, _, _) in pairwise(lines):
            if quoted is not None:
                if _quoted_line(quoted, len(ind), s):
                    quoted = None
                continue
            if scalar is not None:  # a continuation line of a plain scalar
                if ": " in s or " #" in s or s[-1] in ": ":
                    raise _Unsupported  # a mapping or a comment inside a plain scalar
                scalar[3].append(s)
                if not (ns and len(nind) > scalar[2] and ns[0] != "#"):
                    _put(scalar[0], scalar[1], resolve(" ".join(scalar[3])))
                    scalar = None
                continue
            if not s or s[0] == "#":
                continue
            n = len(ind)
            if pending is not None:
                container, pkey, parent = pending
                pending = None
                if n <= parent:
                    raise _Unsupported  # a null value or an indentless sequence
                is_seq = bool(dash)
                new: Any = [] if is_seq else {}
                container[pkey] = new
                stack.append((n, new, is_seq))
            elif stack[-1][0] != n:
                while stack and stack[-1][0] > n:
                    stack.pop()
                if not stack or stack[-1][0] != n:
                    raise _Unsupported
            _, container, is_seq = stack[-1]
            parent = n
            if is_seq:
                if not dash:
                    raise _Unsupported
                if key:
                    item: dict[str, Any] = {}
                    container.append(item)
                    parent = n + 2
                    stack.append((parent, item, False))
                    container = item
            elif dash or not key:
                raise _Unsupported
            if key:
                if key in container:
                    raise _Unsupported
                if key not in str_keys:
                    if not isinstance(resolve(key), str):
                        raise _Unsupported
                    str_keys.add(key)
                if not rest:
                    if s[-1] != ":":
                        raise _Unsupported
                    pending = (container, key, parent)
                    continue
            else:
                key = None  # type: ignore[assignment]
            first = rest[0]
            if first == "'":
                end = _closing_quote(rest, 1)
                if end < 0:
                    quoted = [container, key, parent, [rest[1:]]]
                    continue
                if end + 1 != len(rest) and not _COMMENT_AFTER.match(rest, end + 1):
                    raise _Unsupported
                value: Any = rest[1:end].replace("''", "'")
            elif rest == "[]":
                value = []
            elif rest == "{}":
                value = {}
            elif (
                first in _PLAIN_FIRST_BAD
                or rest == "-"
                or ": " in rest
                or " #" in rest
                or rest[-1] in ": "
                or rest.startswith(("- ", "---", "..."))
            ):
                raise _Unsupported
            elif ns and len(nind) > parent and ns[0] != "#":
                scalar = [container, key, parent, [rest]]  # continues on the next line
                continue
            elif plain_str is not None and first not in plain_str:
                value = rest
            else:
                value = resolve(rest)
            if key is None:
                container.append(value)
            else:
                container[key] = value
        if quoted is not None or pending is not None or scalar is not None:
            raise _Unsupported
        return root

    def _resolve(self, value: str) -> Any:
        """A plain scalar as the loader constructs it (memoised per value)."""
        if value[:1] not in self._first and not self._wildcard:
            return value  # no implicit resolver starts with this character: a string
        cached = self._plain.get(value, self)
        if cached is not self:
            return cached
        tag = _STR
        for t, rx in self._resolvers.get(value[:1], []) + self._resolvers.get(None, []):
            if rx.match(value):
                tag = t
                break
        if tag == _STR:
            result: Any = value
        elif tag == _CONSTRUCTED[0] and _DECIMAL.match(value):
            result = int(value)
        elif tag in _CONSTRUCTED:
            result = self._construct(tag, value)
        else:
            raise _Unsupported  # merge keys, value keys: leave them to PyYAML
        self._plain[value] = result
        return result


def _quoted_line(quoted: list[Any], n: int, s: str) -> bool:
    """One more line (indent ``n``, text ``s``) of an open single-quoted scalar; True if closed."""
    if s and (n <= quoted[2] or (not n and s.startswith(("---", "...")))):
        raise _Unsupported
    end = _closing_quote(s)
    if end < 0:
        quoted[3].append(s)
        return False
    quoted[3].append(s[:end])
    if not _COMMENT_AFTER.match(s, end + 1):
        raise _Unsupported
    _put(quoted[0], quoted[1], _fold_quoted([p.replace("''", "'") for p in quoted[3]]))
    return True


def _put(container: Any, key: str | None, value: Any) -> None:
    if key is None:
        container.append(value)
    else:
        container[key] = value


def _closing_quote(s: str, start: int = 0) -> int:
    """Index of the closing ``'`` of a single-quoted scalar in ``s`` ('' escapes), or -1."""
    i = s.find("'", start)
    while i >= 0:
        if s.startswith("''", i):
            i = s.find("'", i + 2)
            continue
        return i
    return -1


def _fold_quoted(parts: list[str]) -> str:
    """Fold the lines of a quoted scalar: one break is a space, n blank lines n newlines."""
    if len(parts) == 1:
        return parts[0]
    out = [parts[0].rstrip(" ")]
    breaks = 0
    for p in parts[1:-1]:
        s = p.strip(" ")
        if not s:
            breaks += 1
            continue
        out.append("\n" * breaks if breaks else " ")
        out.append(s)
        breaks = 0
    out.append("\n" * breaks if breaks else " ")
    out.append(parts[-1].lstrip(" "))
    return "".join(out)


def scalar_constructor(loader_cls: type) -> Callable[[str, str], Any]:
    """``(tag, value) -> object`` with the loader's own constructors (int, float, bool, null)."""
    loader = loader_cls("")
    try:
        table = getattr(loader_cls, "yaml_constructors")  # noqa: B009 - set by PyYAML at runtime
        return lambda tag, value: table[tag](loader, ScalarNode(tag, value))
    finally:
        loader.dispose()
