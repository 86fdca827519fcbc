"""Greedy autoencoder pretraining of a conv encoder: ``python pretrain.py --config configs/seeds/001/pretrain/cnn3_autoencoder.yaml``.

Writes the encoder weights file (``--output``) that a fine-tuning row loads as ``model.init_from``
(training/pretrain_cli.py). A user error is one stderr line and exit status 2, as for train.py;
after ``pip install -e .`` the same command is ``ser-pretrain``.
"""
from __future__ import annotations

from typing import Any

from training.pretrain_cli import PretrainCLI, pretrain
from user_errors import exit_on_user_error

USER_ERRORS = (ValueError, FileNotFoundError)  # constructors and the weights file reject bad values with these


def main(args: list[str] | None = None) -> dict[str, Any]:
    """Parse ``args`` (default: sys.argv), pretrain, write the encoder file; returns its path and the losses."""
    return pretrain(PretrainCLI(args=args))


def run(args: list[str] | None = None) -> None:
    """``python pretrain.py``: :func:`main`, with a user error as one stderr line and exit status 2."""
    with exit_on_user_error("pretrain.py", also=USER_ERRORS):
        main(args)


if __name__ == "__main__":
    run()
