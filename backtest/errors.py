"""Domain errors.

Every error a user can cause is a :class:`MibError` that carries the thing it
is about (file, line, field, value) and what was expected.  The CLI catches
these at its boundary and prints ``str(err)``: one line, no traceback.
"""

from __future__ import annotations

from pathlib import Path


class MibError(Exception):
    """Base class for all user-facing errors.

    ``str(err)`` renders as ``file:line field: message (got value; expected ...)``
    with the parts that are known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        value: object = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.value = value
        self.expected = expected

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line is not None else "")
        head = " ".join(
            p for p in (where + (":" if where else ""), self.field and f"{self.field}:") if p
        )
        tail = self.message
        if self.value is not None:
            tail += f" (got {self.value!r}"
            tail += f"; expected {self.expected})" if self.expected else ")"
        elif self.expected:
            tail += f" (expected {self.expected})"
        return f"{head} {tail}".strip()


class InputFileError(MibError):
    """A file the user pointed at is missing, unreadable or malformed."""


class EventLogError(MibError):
    """The event log is malformed, inconsistent or has been tampered with."""


class UniverseError(MibError):
    """The universe file is malformed or refers to unknown things."""


class DataSourceUnavailable(MibError):
    """A price source cannot be reached; never replaced by synthetic data."""


class DataError(MibError):
    """Prices are missing, malformed or inconsistent."""


class SpecError(MibError):
    """A study, strategy or run specification is invalid."""


def format_validation_error(exc: Exception, *, file: str | None = None) -> list[str]:
    """Render a pydantic ``ValidationError`` as ``file field: message`` lines."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return [str(exc)]
    lines = []
    for err in errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        inp = err.get("input")
        shown = "" if isinstance(inp, dict | list) else f" (got {inp!r})"
        prefix = f"{file}: " if file else ""
        lines.append(f"{prefix}{loc}: {msg}{shown}")
    return lines
