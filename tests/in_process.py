"""A command's ``run(argv)`` called in the test's own process, read back like a finished subprocess.

WHY: every ``python train.py ...`` subprocess pays an interpreter start and the torch, Lightning and
transformers imports (5-10 s on 2 cores); the top-level scripts only call their package's ``run``,
so a test of what the command prints and its exit status calls ``run`` here instead. A few tests
keep the real script (``python train.py`` in tests/test_user_errors.py, ``serve.py`` in
tests/test_security.py, the installed console scripts in tests/test_packaging.py).
"""
from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def _stream_handlers() -> list[logging.StreamHandler]:
    """Every plain stream handler of every logger (Lightning's own among them)."""
    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    return [handler for logger in loggers for handler in logger.handlers if type(handler) is logging.StreamHandler]


def run_command(run: Callable[[list[str]], object], args: list[str], capture: pytest.CaptureFixture,
                monkeypatch: pytest.MonkeyPatch, cwd: Path | None = None, env: dict[str, str] | None = None,
                log_to_stderr: bool = False) -> subprocess.CompletedProcess:
    """``run(args)`` from ``cwd`` with ``env`` added (``SER_DEBUG`` removed); its exit status and output.

    ``capture``: the test's ``capfd`` (what reaches file descriptors 1 and 2, as a subprocess would
    show), or ``capsys`` in a test that uses that already.

    Log handlers made before the test (Lightning's, made at import) hold the stderr of that moment,
    often pytest's session capture, so they write to this test's stderr for the call, as in a
    process of its own. ``log_to_stderr``: a root log handler on stderr, standing in for the
    ``logging.basicConfig`` the command calls, which pytest's own log handlers make a no-op here.
    """
    with monkeypatch.context() as patch:
        if cwd is not None:
            patch.chdir(cwd)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.delenv("SER_DEBUG", raising=False)
        if log_to_stderr:
            root = logging.getLogger()
            patch.setattr(root, "handlers", [*root.handlers, logging.StreamHandler(sys.stderr)])
        capture.readouterr()
        for handler in _stream_handlers():
            patch.setattr(handler, "stream", sys.stderr)
        status = 0
        try:
            run(list(args))
        except SystemExit as stop:
            status = 0 if stop.code is None else stop.code
        out, err = capture.readouterr()
    return subprocess.CompletedProcess(list(args), status, out, err)
