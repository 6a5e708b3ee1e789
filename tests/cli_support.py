"""Running the `mib` CLI in-process from tests (no test functions here)."""

from __future__ import annotations

from backtest.cli.main import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``mib ARGS`` in-process; returns (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err
