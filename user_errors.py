"""User errors: a mistake in a config, a command line or a dataset that one sentence explains.

Any layer (corpora, data_preparation, datamodules, lightning_modules, training, ...) raises
:class:`UserError` with a message that names the key or file at fault, its value and what would be
valid, e.g. ``UserError("data.batch_size=0: expected an integer >= 1")``. The command-line entry
points run inside :func:`exit_on_user_error`, which prints that one line to stderr and exits with
status 2 instead of a traceback. ``SER_DEBUG=1`` in the environment re-raises, traceback and all.

This module imports nothing from the project, so every package may use it without an import circle.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

DEBUG_ENV = "SER_DEBUG"
EXIT_STATUS = 2  # what argparse and jsonargparse use for a bad command line


class UserError(ValueError):
    """A user's mistake, explained in one sentence naming the key/file, the value and what is valid.

    A ``ValueError``, so code that already catches ``ValueError`` for bad values keeps working.
    """


def debug_enabled() -> bool:
    """Whether ``SER_DEBUG`` asks for tracebacks (any value except '', '0', 'false', 'no')."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def one_line(error: BaseException) -> str:
    """The error's message on one line (continuation lines joined with '; ').

    >>> one_line(UserError("data.batch_size=0:\\n  expected an integer >= 1"))
    'data.batch_size=0: expected an integer >= 1'
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = lines[0]
    for line in lines[1:]:
        text += (" " if text.endswith(":") else "; ") + line
    return text


@contextmanager
def exit_on_user_error(program: str, also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn a :class:`UserError` (and the exception types in ``also``) into one stderr line and exit 2.

    ``also`` is for phases where every such exception is the user's, e.g. ``ValueError`` while a
    config is being turned into objects (constructors validate their arguments with it). With
    ``SER_DEBUG=1`` the exception propagates unchanged.
    """
    try:
        yield
    except (UserError, *also) as error:
        if debug_enabled():
            raise
        print(f"{program}: error: {one_line(error)} [traceback: {DEBUG_ENV}=1]", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_STATUS) from None
