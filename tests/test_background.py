"""The second-core helper of a run: same value as in-process, and a stuck child is abandoned."""

from __future__ import annotations

import os
import threading
import time

import pytest

import backtest.background as background


def test_value_from_the_child_equals_the_value_computed_here(monkeypatch):
    monkeypatch.delenv("MIB_SERIAL", raising=False)
    with background.Background(lambda: (os.getpid(), sum(range(10_000)))) as job:
        pid, total = job.result()
    assert total == 49_995_000
    if (os.cpu_count() or 1) >= 2:
        assert pid != os.getpid()  # it really ran elsewhere


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_a_child_deadlocked_on_an_inherited_lock_is_abandoned_and_the_work_done_here(
    monkeypatch,
):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("runs in-process on one core")
    monkeypatch.delenv("MIB_SERIAL", raising=False)
    monkeypatch.setattr(background, "STUCK_AFTER", 1.0)
    monkeypatch.setattr(background, "POLL_EVERY", 0.2)
    lock = threading.Lock()
    release = threading.Event()

    def hold() -> None:
        with lock:
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)  # the lock is held when the child is forked: the child can never take it

    def work() -> int:
        with lock:
            return os.getpid()

    start = time.monotonic()
    job = background.Background(work)
    threading.Timer(2.5, release.set).start()  # the parent's lock frees up later
    assert job.result() == os.getpid()  # computed in the parent after the child was given up
    assert time.monotonic() - start < 8
    holder.join()
