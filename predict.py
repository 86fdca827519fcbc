"""Label every segment of one or many recordings with its top emotions: ``python predict.py --help``; the command lives in prediction/command.py.

Kept so ``python predict.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-predict``. Packages never import this module (an installed distribution does not ship it).
"""
from prediction.command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
