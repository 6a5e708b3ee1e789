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


def one_error_line(code: int, err: str, *needles: str, exit_code: int = 1) -> str:
    """The single 'mib: error:' line of a failed command, checked for ``needles``."""
    assert code == exit_code, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("mib: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]
