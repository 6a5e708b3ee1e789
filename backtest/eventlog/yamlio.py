"""YAML for the event log: timestamps stay strings, nodes keep their lines.

The log and the curation files are read with :class:`NoTimestampLoader`, a
safe loader without YAML's timestamp resolver, so ``2022-10-07`` and
``2022-10-07T13:00:00-04:00`` reach pydantic (and the digest) exactly as
written.  Each document is composed to a node tree first, so any field of any
record can be traced back to its line for error messages.

Writes go through :func:`atomic_write`: a temporary file in the same directory,
flushed and fsynced, then ``os.replace`` -- a killed write never leaves a
truncated log.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from backtest.errors import EventLogError

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LogSyntaxError(EventLogError):
    """A log or curation file is not well-formed YAML (or has duplicate keys)."""


class NoTimestampLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe YAML loader that leaves dates and timestamps as strings."""


NoTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _BlockDumper(yaml.SafeDumper):
    """Block style with nested lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Line separators and control characters only survive a round trip escaped.
    special = any(c in "\x85\u2028\u2029\ufeff" or (not c.isprintable() and c not in "\n ")
                  for c in data)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if special else None)


_BlockDumper.add_representer(str, _represent_str)


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A parsed YAML document: plain data plus the node tree it came from."""

    file: str
    data: Any
    node: Node | None


def load_yaml(text: str, file: str | Path) -> YamlDoc:
    """Parse one YAML document; malformed input raises :class:`LogSyntaxError`."""
    loader = NoTimestampLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_duplicate_keys(node, str(file))
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark is not None and mark is not None and cmark.line != mark.line:
            problem += f" ({context} started on line {cmark.line + 1})"
        raise LogSyntaxError(f"malformed YAML: {problem}", file=file,
                             line=mark.line + 1 if mark is not None else None,
                             expected="well-formed YAML (see events/README.md)") from None
    finally:
        loader.dispose()
    return YamlDoc(file=str(file), data=data, node=node)


def read_yaml(path: str | Path) -> YamlDoc:
    """Read and parse a UTF-8 YAML file, naming it in every error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventLogError("file not found", file=p, expected="an existing YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EventLogError(f"cannot read file: {exc}", file=p) from None
    return load_yaml(text, p)


def _check_duplicate_keys(node: Node, file: str) -> None:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, MappingNode):
            seen: set[str] = set()
            for key, value in cur.value:
                if isinstance(key, ScalarNode):
                    if key.value in seen:
                        raise LogSyntaxError("duplicate key in a mapping", file=file,
                                             line=key.start_mark.line + 1, field=key.value,
                                             expected="each key once per mapping")
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(cur, SequenceNode):
            stack.extend(cur.value)


def child(node: Node | None, key: str | int) -> Node | None:
    """The value node under a mapping key or sequence index, or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == str(key):
                return v
    elif isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def line_of(node: Node | None, loc: Sequence[str | int] = ()) -> int | None:
    """1-based line of the deepest node along ``loc`` (a key's own line for mappings)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    cur: Node | None = node
    for part in loc:
        if isinstance(cur, MappingNode):
            key_line = next((k.start_mark.line + 1 for k, _ in cur.value
                             if isinstance(k, ScalarNode) and k.value == str(part)), None)
            if key_line is None:
                break
            line, cur = key_line, child(cur, part)
        else:
            nxt = child(cur, part)
            if nxt is None:
                break
            line, cur = nxt.start_mark.line + 1, nxt
    return line


def dump_records(records: Sequence[dict[str, Any]]) -> str:
    """Records as a block-style YAML list, one blank line before each record."""
    parts = []
    for rec in records:
        body = yaml.dump([rec], Dumper=_BlockDumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=100)
        parts.append("\n" + body)
    return "".join(parts)


def dump_mapping(data: dict[str, Any]) -> str:
    """A mapping as block-style YAML (for ``mib events show``)."""
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` via a fsynced temp file in the same directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
