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


def test_the_child_keeps_what_it_inherited_out_of_the_garbage_collector(monkeypatch):
    import gc

    monkeypatch.delenv("MIB_SERIAL", raising=False)
    if (os.cpu_count() or 1) < 2:
        pytest.skip("no child on one core")
    inherited = [[k] for k in range(1000)]  # objects the collector tracks
    with background.Background(lambda: (gc.get_freeze_count(), len(inherited))) as job:
        frozen, n = job.result()
    assert n == 1000
    assert frozen >= len(inherited)  # every object alive at the fork, these included
    assert gc.get_freeze_count() == 0  # the caller's collector is untouched


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


def _child_only(monkeypatch):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("runs in-process on one core")
    monkeypatch.delenv("MIB_SERIAL", raising=False)


WARMED: list[int] = []


def _warm() -> None:
    WARMED.append(os.getpid())


def test_a_deferred_job_warms_up_in_the_child_then_computes_from_the_given_arguments(
    monkeypatch,
):
    _child_only(monkeypatch)
    WARMED.clear()

    def work(a: int, b: list[int]) -> tuple[int, int, list[int]]:
        return os.getpid(), a + sum(b), list(WARMED)

    with background.Background(work, deferred=True, warm=_warm) as job:
        job.give(5, list(range(100_000)))  # larger than a pipe buffer: sent by a thread
        pid, total, warmed = job.result()
    assert total == 5 + 4_999_950_000
    assert pid != os.getpid() and warmed == [pid]  # warm() ran in the child, before work
    assert WARMED == []  # and not here


def test_a_deferred_job_refuses_result_before_give_and_a_second_give(monkeypatch):
    _child_only(monkeypatch)
    with background.Background(lambda x: x, deferred=True) as job:
        with pytest.raises(RuntimeError, match="give"):
            job.result()
        job.give(1)
        with pytest.raises(RuntimeError, match="once"):
            job.give(2)
        assert job.result() == 1


def test_a_deferred_job_abandoned_before_give_ends_its_child_at_once(monkeypatch):
    _child_only(monkeypatch)
    job = background.Background(lambda: 1, deferred=True, warm=lambda: time.sleep(30))
    proc = job._proc
    start = time.monotonic()
    job.close()  # e.g. the input files were refused: nobody will give the arguments
    assert time.monotonic() - start < 2
    assert not proc.is_alive()


def test_a_deferred_job_whose_child_fails_is_computed_here(monkeypatch):
    _child_only(monkeypatch)
    parent = os.getpid()

    def work(x: int) -> tuple[int, int]:
        if os.getpid() != parent:
            raise RuntimeError("only in the child")
        return x * 2, os.getpid()

    with background.Background(work, deferred=True) as job:
        job.give(21)
        assert job.result() == (42, parent)


def test_without_a_child_give_computes_at_once(monkeypatch):
    monkeypatch.setenv("MIB_SERIAL", "1")
    calls: list[int] = []
    job = background.Background(lambda x: calls.append(x) or x + 1, deferred=True, warm=_warm)
    assert calls == []
    job.give(1)
    assert calls == [1] and job.result() == 2


def test_a_deferred_job_with_arguments_that_cannot_be_pickled_is_computed_here(monkeypatch):
    _child_only(monkeypatch)
    parent = os.getpid()
    local = lambda: 5  # noqa: E731  # a local lambda cannot be pickled

    with background.Background(lambda f: (f(), os.getpid()), deferred=True) as job:
        job.give(local)
        assert job.result() == (5, parent)


def test_claims_hand_each_position_out_once_between_a_child_and_the_caller(monkeypatch):
    """The child and the caller claim at the same time; together they get 0..n-1, each
    once, and a claim after the last position is None."""
    monkeypatch.delenv("MIB_SERIAL", raising=False)
    claims = background.Claims(400)

    def take() -> list[int]:
        got = []
        for k in iter(claims, None):
            got.append(k)
            time.sleep(0.0005)  # keep the two claiming side by side
        return got

    with background.Background(take) as job:
        mine = take()
        theirs = job.result()
    assert sorted(mine + theirs) == list(range(400))
    assert claims() is None
    if (os.cpu_count() or 1) >= 2:
        assert mine and theirs  # really shared out


def test_claims_without_fork_are_a_plain_counter(monkeypatch):
    import multiprocessing as mp

    monkeypatch.setattr(mp, "get_all_start_methods", lambda: ["spawn"])
    claims = background.Claims(3)
    assert [claims(), claims(), claims(), claims()] == [0, 1, 2, None]
