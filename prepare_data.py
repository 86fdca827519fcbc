"""Prepare corpora into WebDataset shards: ``python prepare_data.py --help``; the command lives in data_preparation/command.py.

Kept so ``python prepare_data.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-prepare``. Packages never import this module (an installed distribution does not ship it).
"""
from data_preparation.command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
