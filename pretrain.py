"""Greedy autoencoder pretraining (seed 001's CNN-3): ``python pretrain.py --help``; the command lives in
training/pretrain_command.py.

Kept so ``python pretrain.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-pretrain``. Packages never import this module (an installed distribution does not ship it).
"""
from training.pretrain_command import USER_ERRORS, main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
