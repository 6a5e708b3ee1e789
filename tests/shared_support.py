"""``../shared`` for tests: present, or a failure under CI=true, or a skip elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def require_shared(path: Path = SHARED) -> Path:
    """``path`` (under ``../shared``) if present; when absent, fail under CI=true, else skip.

    CI always has ``../shared`` beside the clone, so its absence there is a broken
    setup, never a reason to pass with fewer tests.
    """
    if not Path(path).exists():
        msg = f"{path} is not available"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true: shared test data must be present)")
        pytest.skip(msg)
    return Path(path)
