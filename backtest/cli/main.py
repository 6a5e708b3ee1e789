"""Entry point: builds the typer app and turns user errors into one-line messages."""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from backtest import __version__

GROUPS = (
    ("events", "backtest.cli.events", "The curated export-control event log."),
    ("data", "backtest.cli.data", "Prices: fetch, import, cache status, data checks."),
    ("study", "backtest.cli.study", "Event studies: abnormal returns and tests."),
    ("backtest", "backtest.cli.backtest", "Event-driven backtests (vectorbt)."),
    ("report", "backtest.cli.report", "Build HTML and PDF reports from a run folder."),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mib {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    import importlib

    app = typer.Typer(
        name="mib",
        help="mib: how export controls on AI chips move US and Chinese chip stocks.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_version, is_eager=True, help="Print the version and exit."
            ),
        ] = False,
    ) -> None:
        """mib: how export controls on AI chips move US and Chinese chip stocks."""

    for name, module, help_text in GROUPS:
        sub = importlib.import_module(module).app
        app.add_typer(sub, name=name, help=help_text)
    from backtest.cli.run import register as register_run

    register_run(app)
    return app


@functools.cache
def click_command() -> typer.core.TyperGroup:
    """The click command tree of :func:`build_app`, built once per process.

    Calling a ``typer.Typer`` rebuilds this tree from the function signatures every
    time (about 0.17 s for mib's ~70 commands); the tree holds no per-invocation
    state (click makes a fresh context for each call), so one copy serves every call
    in a process: the notebook API and the tests call :func:`main` many times.
    """
    group = typer.main.get_command(build_app())
    assert isinstance(group, typer.core.TyperGroup)
    return group


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        sys.stderr.write(f"mib: error: {line}\n")
    raise SystemExit(code)


@contextlib.contextmanager
def numeric_warnings_as_notes() -> Iterator[None]:
    """numpy's RuntimeWarnings (empty means, 0/0 in a variance...) as one note line.

    Such a warning is already handled where it arises (a test that cannot run is
    marked invalid with its reason), so a raw ``RuntimeWarning`` with a source line
    on stderr would only alarm; the note says how many there were and where the
    first one came from.  Every other warning is shown as usual, after the command.
    """
    seen: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                seen = list(caught)
    finally:
        numeric = [w for w in seen if issubclass(w.category, RuntimeWarning)]
        for w in seen:
            if not issubclass(w.category, RuntimeWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if numeric:
            first = numeric[0]
            where = Path(first.filename).name
            sys.stderr.write(
                f"mib: note: {len(numeric)} numeric warning(s) handled (first: "
                f"'{first.message}' in {where}:{first.lineno}); statistics that could "
                "not be computed are marked invalid with a reason in the tables\n"
            )


def _usage_line(exc: TyperException) -> str:
    """A typer/click parsing error as one line, pointing at the command's help."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{exc.format_message()}{hint}"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user mistakes print one clear line and exit non-zero.

    Exceptions are matched by type: :class:`MibError` (and its subclasses),
    pydantic's ``ValidationError``, typer's ``Exit``/``Abort`` and its parsing
    errors (``TyperException``, the base of the click exceptions typer vendors).
    """
    from pydantic import ValidationError

    from backtest.errors import MibError, format_validation_error

    command = click_command()
    try:
        with numeric_warnings_as_notes():
            rv = command.main(args=argv, prog_name="mib", standalone_mode=False)
    except MibError as exc:
        _fail([str(exc)], 1)
    except ValidationError as exc:
        _fail(format_validation_error(exc), 1)
    except KeyboardInterrupt:
        _fail(["interrupted"], 130)
    except typer.Abort:
        _fail(["aborted"], 130)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        if ctx is not None and exc.format_message() == ctx.get_help():  # bare `mib GROUP`
            sys.stdout.write(exc.format_message() + "\n")
            raise SystemExit(2) from None
        _fail([_usage_line(exc)], int(exc.exit_code) or 2)
    if isinstance(rv, int) and rv != 0:
        raise SystemExit(rv)


def exit_status(code: object) -> int:
    """The process status Python gives ``SystemExit(code)``: None is 0, an int is
    itself, anything else is printed to stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def entry() -> None:
    """The ``mib`` console script (and ``python -m backtest``): :func:`main`, then a
    prompt end of the process.

    A run leaves about half a gigabyte of Python objects behind, and the
    interpreter's own shutdown frees them one by one: about 1 s of a 20 s run spent
    after the last file is written.  So once :func:`main` has finished, the exit
    handlers run as usual (logging's flush, multiprocessing's cleanup, anything
    registered with :mod:`atexit`), stdout and stderr are flushed, and the process
    ends there with the status ``main`` gave.  An unexpected exception (a bug)
    still propagates with its traceback.  Calling :func:`main` directly (tests,
    notebooks) is unaffected.

    Before that, where Python writes no bytecode, the package's own is written for
    the next command (:func:`backtest.bytecode.keep_bytecode`; about 12 ms once
    every file is current).
    """
    import atexit
    import os

    try:
        main()
        status = 0
    except SystemExit as exc:
        status = exit_status(exc.code)
    try:
        from backtest.bytecode import keep_bytecode

        keep_bytecode()
    except Exception:  # never the command's failure: the next one compiles from source
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            status = status or 1  # output lost (a closed pipe): say so in the status
    os._exit(status)
