"""YAML for the event log: timestamps stay strings, nodes keep their lines.

The log and the curation files are read with :class:`NoTimestampLoader`, a
safe loader without YAML's timestamp resolver, so ``2022-10-07`` and
``2022-10-07T13:00:00-04:00`` reach pydantic (and the digest) exactly as
written.  Each document is composed to a node tree first, so any field of any
record can be traced back to its line for error messages.

Every document is checked before it is constructed: duplicate keys are
refused, and so are anchors and aliases beyond :data:`MAX_ALIASES` references
or :data:`MAX_ALIAS_NODES` nodes added by expanding them (a 300-byte "billion
laughs" value expands to 10^9 nodes).  Files are read as bytes and decoded
without newline translation, so a CRLF file is appended to in CRLF.

Writes go through :func:`atomic_write`: a temporary file in the same directory,
flushed and fsynced, then ``os.replace`` -- a killed write never leaves a
truncated log, only a stale ``.<name>.XXXXXXXX.tmp`` beside it, which
:func:`remove_stale_temps` deletes at the next write (under the log's lock).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from backtest import fsio
from backtest.errors import EventLogError

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_ALIASES = 100
"""Most alias references (``*name``) one document (or one log) may hold."""
MAX_ALIAS_NODES = 10_000
"""Most nodes that expanding aliases may add to a document (or a log)."""


class LogSyntaxError(EventLogError):
    """A log or curation file is not well-formed YAML (or has duplicate keys)."""


class NoTimestampLoader(_BaseLoader):  # type: ignore[misc]  # base chosen at import time
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
    special = any(
        c in "\x85\u2028\u2029\ufeff" or (not c.isprintable() and c not in "\n ") for c in data
    )
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if special else None)


_BlockDumper.add_representer(str, _represent_str)


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A parsed YAML document: plain data plus the node tree it came from."""

    file: str
    data: Any
    node: Node | None


@dataclass(slots=True)
class AliasBudget:
    """Alias references and alias-added nodes used so far (shared by a log's records)."""

    aliases: int = 0
    added_nodes: int = 0


def load_yaml(text: str, file: str | Path, budget: AliasBudget | None = None) -> YamlDoc:
    """Parse one YAML document; malformed input raises :class:`LogSyntaxError`.

    Before anything is constructed the node graph is checked: no duplicate
    keys, no recursive aliases, and at most :data:`MAX_ALIASES` alias
    references adding at most :data:`MAX_ALIAS_NODES` nodes (counted in
    ``budget`` when one is shared by several documents).
    """
    loader = NoTimestampLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            check_graph(node, str(file), budget if budget is not None else AliasBudget())
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark is not None and mark is not None and cmark.line != mark.line:
            problem += f" ({context} started on line {cmark.line + 1})"
        raise LogSyntaxError(
            f"malformed YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark is not None else None,
            expected="well-formed YAML (see events/README.md)",
        ) from None
    finally:
        loader.dispose()
    return YamlDoc(file=str(file), data=data, node=node)


def read_text(
    path: str | Path, missing: str = "file not found", expected: str = "an existing YAML file"
) -> str:
    """A UTF-8 file's text exactly as stored (CRLF stays CRLF), naming it in errors."""
    p = Path(path)
    try:
        return p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise EventLogError(missing, file=p, expected=expected) from None
    except UnicodeDecodeError as exc:
        raise EventLogError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})",
            file=p,
            expected="a UTF-8 encoded YAML file",
        ) from None
    except OSError as exc:
        raise EventLogError(f"cannot read file: {exc.strerror or exc}", file=p) from None


def read_yaml(path: str | Path) -> YamlDoc:
    """Read and parse a UTF-8 YAML file, naming it in every error."""
    return load_yaml(read_text(path), Path(path))


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def check_graph(root: Node, file: str, budget: AliasBudget) -> None:
    """Refuse duplicate keys, recursive aliases and alias expansion beyond the limits.

    Aliases make the composed tree a graph; its expanded size is counted with
    one visit per node (sizes of shared subtrees are memoised), so a billion
    laughs is refused in microseconds instead of being expanded.
    """
    size: dict[int, int] = {}
    entered: set[int] = set()
    refs: dict[int, int] = {}
    shared: Node | None = None
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        nid = id(node)
        if leaving:
            size[nid] = 1 + sum(size[id(k)] for k in _children(node))
            continue
        if nid in size or nid in entered:
            continue  # pushed twice before it was reached
        entered.add(nid)
        if isinstance(node, MappingNode):
            _check_keys(node, file)
        stack.append((node, True))
        for kid in _children(node):
            kid_id = id(kid)
            refs[kid_id] = refs.get(kid_id, 0) + 1
            if refs[kid_id] == 2 and shared is None:
                shared = kid
            if kid_id in entered and kid_id not in size:
                raise LogSyntaxError(
                    "recursive YAML alias (a node that contains itself)",
                    file=file,
                    line=kid.start_mark.line + 1,
                    expected="plain data without anchors and aliases",
                )
            if kid_id not in size:
                stack.append((kid, False))
    budget.aliases += sum(refs.values()) - (len(size) - 1)
    budget.added_nodes += size[id(root)] - len(size)
    if budget.aliases > MAX_ALIASES or budget.added_nodes > MAX_ALIAS_NODES:
        line = shared.start_mark.line + 1 if shared is not None else None
        raise LogSyntaxError(
            f"YAML aliases would expand to {budget.added_nodes} more nodes",
            file=file,
            line=line,
            value=f"{budget.aliases} aliases",
            expected=f"at most {MAX_ALIASES} aliases adding at most "
            f"{MAX_ALIAS_NODES} nodes; write the values out instead of "
            "using anchors (&) and aliases (*)",
        )


def _check_keys(node: MappingNode, file: str) -> None:
    seen: set[str] = set()
    for key, _ in node.value:
        if isinstance(key, ScalarNode):
            if key.value in seen:
                raise LogSyntaxError(
                    "duplicate key in a mapping",
                    file=file,
                    line=key.start_mark.line + 1,
                    field=key.value,
                    expected="each key once per mapping",
                )
            seen.add(key.value)


def child(node: Node | None, key: str | int) -> Node | None:
    """The value node under a mapping key or sequence index, or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == str(key):
                return cast(Node, v)
    elif isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return cast(Node, node.value[key])
    return None


def line_of(node: Node | None, loc: Sequence[str | int] = ()) -> int | None:
    """1-based line of the deepest node along ``loc`` (a key's own line for mappings)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    cur: Node | None = node
    for part in loc:
        if isinstance(cur, MappingNode):
            key_line = next(
                (
                    k.start_mark.line + 1
                    for k, _ in cur.value
                    if isinstance(k, ScalarNode) and k.value == str(part)
                ),
                None,
            )
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
        body = yaml.dump(
            [rec],
            Dumper=_BlockDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=100,
        )
        parts.append("\n" + body)
    return "".join(parts)


def dump_mapping(data: dict[str, Any]) -> str:
    """A mapping as block-style YAML (for ``mib events show``)."""
    return yaml.dump(
        data,
        Dumper=_BlockDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` via a fsynced temp file in the same directory.

    :func:`backtest.fsio.atomic_write`: the log keeps its mode, the bytes (and so
    the line endings) are written as given.
    """
    fsio.atomic_write(path, data)


def _temp_name(path: Path) -> re.Pattern[str]:
    return fsio.temp_pattern(path)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files that a killed :func:`atomic_write` of ``path`` left behind.

    Call it only while holding the log's lock: every writer takes the lock
    before it creates its temp file, so any temp file seen under the lock
    belongs to a writer that died.  Returns the files removed.
    """
    pattern = _temp_name(path)
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path.parent):
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def newline_of(text: str) -> str:
    """The line ending of a text's first line (``\\r\\n`` or ``\\n``), kept on append."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"
