"""The run's long-lived objects are kept out of the garbage collector's passes, and
handed back when the run ends."""

from __future__ import annotations

import gc

import pytest

from backtest.longlived import long_lived, settle


def test_objects_alive_at_the_start_are_frozen_until_the_block_ends():
    assert gc.get_freeze_count() == 0
    with long_lived():
        at_start = gc.get_freeze_count()
        assert at_start > 0
        later = [[k] for k in range(500)]  # a step's results
        settle()
        assert gc.get_freeze_count() >= at_start + len(later)
    assert gc.get_freeze_count() == 0  # all handed back


def test_nested_blocks_unfreeze_only_when_the_outermost_ends_even_on_error():
    with pytest.raises(RuntimeError):
        with long_lived():
            with long_lived():  # the report inside a run
                pass
            assert gc.get_freeze_count() > 0
            raise RuntimeError("a step failed")
    assert gc.get_freeze_count() == 0


def test_settle_outside_a_block_freezes_nothing():
    settle()
    assert gc.get_freeze_count() == 0


def test_garbage_frozen_inside_is_collected_after_the_block():
    import weakref

    class Node:
        pass

    with long_lived():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle only the collector can free
        gone = weakref.ref(a)
        settle()
        del a, b
        gc.collect()
        assert gone() is not None  # frozen: not collected inside the block
    gc.collect()
    assert gone() is None
