"""Keep Python's cyclic garbage collector off a run's long-lived objects.

A run holds several hundred thousand objects that live until it ends (imported
modules, the price panel, the study's results), and each full pass of the
collector walks every one of them again.  The report's libraries (WeasyPrint,
matplotlib) allocate so much that those passes come often: freezing what is
already alive before the report cut a real run's CPU by about 2.5 s (4 paired
runs).  Objects created inside are collected as usual; frozen ones go back to the
collector when the outermost block ends, so nothing stays uncollectable after a
run (a notebook calling the pipeline keeps a normal collector).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["long_lived", "settle"]

_depth = 0


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Within the block, the objects alive at its start (and at each :func:`settle`)
    are frozen (:func:`gc.freeze`); leaving the outermost block unfreezes them all."""
    global _depth
    gc.freeze()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth:
            gc.unfreeze()


def settle() -> None:
    """Inside :func:`long_lived`: freeze what is alive now (a finished step's results,
    which live to the end of the run).  Outside it: nothing."""
    if _depth:
        gc.freeze()
