"""Train, then test the best checkpoint: ``python train.py --config configs/wavlm.yaml [--key=value ...]``.

Composition only; the command line, run folders and loggers live in training/cli.py.
On the command line a user error (a bad value, a missing dataset, a run folder made for another
config) ends with one line on stderr and exit status 2; ``SER_DEBUG=1`` shows the traceback
instead (user_errors.py). Called from Python, :func:`main` raises the error itself.
"""
from __future__ import annotations

from training.cli import SERLightningCLI, discarded_on_refusal, fit_and_test
from training.console import quiet_library_noise
from user_errors import exit_on_user_error

# Besides UserError: the project's constructors, datamodule and schedules reject a bad value with a
# ValueError naming its key, and a missing file is the user's to fix.
USER_ERRORS = (ValueError, FileNotFoundError)


def main(args: list[str] | None = None) -> dict[str, float]:
    """Parse ``args`` (default: sys.argv), fit, test; returns the test metrics.

    A run refused before its first step leaves no run folder behind (training/cli.py, discarded_on_refusal).
    """
    quiet_library_noise()
    cli = SERLightningCLI(args=args)
    with discarded_on_refusal(cli, USER_ERRORS):
        return fit_and_test(cli)


def run(args: list[str] | None = None) -> None:
    """``python train.py``: :func:`main`, with a user error as one stderr line and exit status 2."""
    with exit_on_user_error("train.py", also=USER_ERRORS):
        main(args)


if __name__ == "__main__":
    run()
