"""Train, then test the best checkpoint: ``python train.py --config configs/wavlm.yaml [--key=value ...]``.

Composition only; the command line, run folders and loggers live in lightning_modules/cli.py.
"""
from __future__ import annotations

from lightning_modules.cli import SERLightningCLI, fit_and_test


def main(args: list[str] | None = None) -> dict[str, float]:
    """Parse ``args`` (default: sys.argv), fit, test; returns the test metrics."""
    return fit_and_test(SERLightningCLI(args=args))


if __name__ == "__main__":
    main()
