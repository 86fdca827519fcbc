"""Explain a trained model's decisions on audio files: ``python explain.py --help``; the command lives in explanations/command.py.

Kept so ``python explain.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-explain``. Packages never import this module (an installed distribution does not ship it).
"""
from explanations.command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
