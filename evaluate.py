"""Score a checkpoint or an ensemble on one split and write its report folder: ``python evaluate.py --help``; the command lives in prediction/evaluate_command.py.

Kept so ``python evaluate.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-evaluate``. Packages never import this module (an installed distribution does not ship it).
"""
from prediction.evaluate_command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
