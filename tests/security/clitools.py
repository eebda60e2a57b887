"""The ``framefleet`` command run in the test's own process, the way a user runs it but fast enough to
call hundreds of times (the fuzz tests)."""

from __future__ import annotations

import signal

import pytest

from framefleet.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``framefleet ARGV``: (exit code, stdout + stderr). ``main`` turns SIGTERM into an interrupt for
    its own run; the test process gets its handler back."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        code = main(list(argv))
    finally:
        signal.signal(signal.SIGTERM, handler)
    out = capsys.readouterr()
    return code, out.out + out.err


def assert_no_crash(code: int, text: str) -> None:
    """What every input must end in: a known exit code and a message, never a stack trace."""
    assert code in (0, 1, 2), (code, text)
    assert "Traceback" not in text, text
    assert "internal error" not in text, text  # the CLI's last resort: a bug, not an answer
