"""Run a step on the second core: a forked child computes ``fn()`` while the caller goes on.

Process plumbing only (no numerics, no I/O of results): :class:`Background` is used by the
pipeline (robustness grid and backtest beside the main study) and by the report (charts
beside the rest of the report).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class Background(Generic[T]):
    """``fn()`` computed in a forked child process while the caller goes on; :meth:`result`
    waits for it.

    Used to put independent steps of a run on a second core (the robustness grid and
    the backtest while the main study runs; some report charts while the rest of the
    report is prepared).  The child computes exactly what the caller would have, on
    a copy of the caller's memory (same inputs, same code, same seeds), and sends the
    value back pickled, so the numbers do not depend on it.  Warnings the child
    raises are raised again in the caller.  If the child fails or dies, ``fn()`` is
    run again in the caller, so an error surfaces as it would have without a child.
    Without ``fork``, on one core, inside a daemon process or with ``MIB_SERIAL`` set,
    ``fn()`` runs at once in the caller.  :meth:`close` (also on leaving a ``with``
    block) ends a child whose result is no longer wanted.

    ``deferred=True`` starts the child before its inputs exist: it runs ``warm()``
    (imports, say) at once, then waits for :meth:`give`, whose arguments it passes
    to ``fn``.  The caller meanwhile prepares those arguments, so the warm-up costs
    no time on its side.  Without a child, ``give`` computes ``fn(*args)`` at once.
    """

    def __init__(
        self,
        fn: Callable[..., T],
        *,
        deferred: bool = False,
        warm: Callable[[], object] | None = None,
    ) -> None:
        import multiprocessing as mp
        import os
        import sys

        self._fn = fn
        self._args: tuple[Any, ...] = ()
        self._given = False
        self._sender: Any = None
        self._proc: Any = None
        self._recv: Any = None
        self._give: Any = None
        self._deferred = deferred
        self._done = False
        self._value: T | None = None
        self._serial = (
            bool(os.environ.get("MIB_SERIAL"))
            or (os.cpu_count() or 1) < 2
            or "fork" not in mp.get_all_start_methods()
            or mp.current_process().daemon
        )
        if self._serial:
            if not deferred:
                self._value, self._done = fn(), True
            return
        ctx = mp.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        args_recv, self._give = ctx.Pipe(duplex=False) if deferred else (None, None)
        for stream in (sys.stdout, sys.stderr):  # the child would flush their buffers again
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        self._proc = ctx.Process(
            target=_background_child,
            args=(fn, recv, send, args_recv, self._give, warm),
            daemon=True,
        )
        self._proc.start()
        send.close()
        if args_recv is not None:
            args_recv.close()
        self._recv = recv

    def give(self, *args: Any) -> None:
        """The arguments of a ``deferred`` job: the child (already started, and warmed
        up by ``warm()``) computes ``fn(*args)`` from here on.  They are sent pickled
        by a thread, so the caller goes on while the child still warms up."""
        import threading

        if not self._deferred or self._given:
            raise RuntimeError("give() is for a deferred job, once")
        self._args, self._given = args, True
        if self._serial:
            self._value, self._done = self._fn(*args), True
            return
        pipe, self._give = self._give, None

        def send() -> None:
            try:
                pipe.send(args)
            except Exception:  # unpicklable, or the child is gone: result() computes it here
                pass
            finally:
                pipe.close()

        self._sender = threading.Thread(target=send, daemon=True)
        self._sender.start()

    def result(self) -> T:
        """The value of ``fn()`` (waiting for the child)."""
        import warnings

        if self._done:
            return cast(T, self._value)
        if self._deferred and not self._given:
            raise RuntimeError("a deferred job needs give() before result()")
        if self._sender is not None:
            self._sender.join()
        try:
            if self._answered():
                status, value, caught = self._recv.recv()
            else:  # the child is stuck (e.g. a lock inherited through fork): do it here
                status, value, caught = "failed", None, []
        except (EOFError, OSError):
            status, value, caught = "failed", None, []
        finally:
            self.close(answered=True)
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno)
        self._value = value if status == "ok" else self._fn(*self._args)
        self._done = True
        return cast(T, self._value)

    def _answered(self) -> bool:
        """Wait for the child's answer; False when it has used no CPU for
        :data:`STUCK_AFTER` seconds without answering (a deadlock, not slow work)."""
        idle, last = 0.0, _cpu_ticks(self._proc.pid)
        while not self._recv.poll(POLL_EVERY):
            if not self._proc.is_alive():
                return bool(self._recv.poll())
            now = _cpu_ticks(self._proc.pid)
            idle = idle + POLL_EVERY if now is not None and now == last else 0.0
            last = now
            if idle >= STUCK_AFTER:
                return False
        return True

    def close(self, *, answered: bool = False) -> None:
        """Stop waiting: close the pipes and end the child if it still runs (at once
        unless it has ``answered``: nobody will read its result)."""
        for end in ("_give", "_recv"):
            pipe = getattr(self, end)
            if pipe is not None:
                pipe.close()
                setattr(self, end, None)
        if self._proc is not None:
            if answered:
                self._proc.join(timeout=0.5)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join()
            self._proc = None

    def __enter__(self) -> Background[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Claims:
    """Hands out the positions 0 .. n-1 once each, to this process and the children it
    forks after making this object: ``claim()`` returns the next unclaimed position, or
    None when all are taken.

    Lets the caller share a list of independent jobs with a :class:`Background` child:
    the child works through them, and the caller takes those still unclaimed when it
    has nothing else to do.  Whoever claims a job computes it, so the caller must
    compute any job a failed child claimed but never returned.  Without ``fork`` (where
    :class:`Background` runs its job in the caller) a plain counter does.
    """

    def __init__(self, n: int) -> None:
        import multiprocessing as mp

        self._n = n
        self._local = 0
        self._shared: Any = (
            mp.get_context("fork").Value("i", 0) if "fork" in mp.get_all_start_methods() else None
        )

    def __call__(self) -> int | None:
        if self._shared is None:
            k, self._local = self._local, self._local + 1
        else:
            with self._shared.get_lock():
                k = int(self._shared.value)
                self._shared.value = k + 1
        return k if k < self._n else None


POLL_EVERY = 1.0  # seconds between looks at a background child
STUCK_AFTER = 30.0  # seconds without CPU use after which a silent child counts as stuck


def _cpu_ticks(pid: int) -> int | None:
    """User + system CPU ticks of process ``pid`` (Linux ``/proc``), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    except (OSError, IndexError, ValueError):
        return None


def _background_child(
    fn: Callable[..., Any],
    recv: Any,
    send: Any,
    args_recv: Any = None,
    give: Any = None,
    warm: Callable[[], object] | None = None,
) -> None:
    """In the child: warm up, wait for the arguments of a deferred job, run ``fn``
    recording warnings, send (status, value, warnings).

    Everything inherited from the caller is first moved out of the garbage
    collector's sight (:func:`gc.freeze`): the child is short-lived, and each full
    collection would otherwise walk the caller's several hundred thousand objects
    again, writing to their headers and so copying their memory pages (a forked PDF
    part renders in 2.7-3.5 s instead of 3.8-4.2 s).  What ``warm()`` loads is
    frozen in turn.  Only objects that become garbage inside a reference cycle
    before a freeze stay uncollected, until the child exits.
    """
    import gc
    import warnings

    gc.freeze()
    recv.close()
    if give is not None:
        give.close()
    try:
        args: tuple[Any, ...] = ()
        if args_recv is not None:
            if warm is not None:
                warm()
                gc.freeze()  # what the warm-up loaded (modules, mostly) is long-lived too
            try:
                args = args_recv.recv()
            except EOFError:  # the caller gave up before giving the arguments
                return
            finally:
                args_recv.close()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = fn(*args)
        notes = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
        send.send(("ok", value, notes))
    except BaseException:  # the caller runs fn again and raises the error itself
        try:
            send.send(("failed", None, []))
        except Exception:  # the caller sees EOF and runs fn again
            pass
    finally:
        send.close()
