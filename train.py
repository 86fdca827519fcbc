"""Train, then test the best checkpoint: ``python train.py --help``; the command lives in training/command.py.

Kept so ``python train.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-train``. Packages never import this module (an installed distribution does not ship it).
"""
from training.command import USER_ERRORS, main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
