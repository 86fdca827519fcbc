"""Run a benchmark protocol (train and test every fold, aggregate): ``python cross_validate.py --help``; the command lives in protocols/command.py.

Kept so ``python cross_validate.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-cross-validate``. Packages never import this module (an installed distribution does not ship it).
"""
from protocols.command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
