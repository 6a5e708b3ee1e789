"""Entry point: builds the typer app and turns user errors into one-line messages."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

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


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        sys.stderr.write(f"mib: error: {line}\n")
    raise SystemExit(code)


def _is_cli_exception(exc: BaseException) -> bool:
    """A click/typer parsing exception (typer >= 0.20 vendors click)."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user mistakes print one clear line and exit non-zero."""
    from backtest.errors import MibError, format_validation_error

    app = build_app()
    try:
        rv = app(args=argv, prog_name="mib", standalone_mode=False)
    except MibError as exc:
        _fail([str(exc)], 1)
    except KeyboardInterrupt:
        _fail(["interrupted"], 130)
    except Exception as exc:
        name = type(exc).__name__
        if name == "ValidationError" and type(exc).__module__.startswith("pydantic"):
            _fail(format_validation_error(exc), 1)
        if name == "Abort":
            _fail(["aborted"], 130)
        if name == "Exit" and hasattr(exc, "exit_code"):
            raise SystemExit(exc.exit_code) from None
        if _is_cli_exception(exc):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _fail([f"{exc.format_message()}{hint}"], int(getattr(exc, "exit_code", 2)) or 2)
        raise
    if isinstance(rv, int) and rv != 0:
        raise SystemExit(rv)
