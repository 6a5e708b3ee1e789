"""Errors of the primary-source readers (one line each at the CLI boundary)."""

from __future__ import annotations

from backtest.errors import MibError


class SourceError(MibError):
    """A source document is malformed, truncated, of the wrong kind, or contradicts itself."""


class SourceUnavailable(MibError):
    """A source cannot be reached within the deadline (offline, refused, stalled, blocked)."""
