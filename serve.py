"""The web page: upload a recording and watch the emotions of each segment: ``python serve.py --help``; the command lives in serving/command.py.

Kept so ``python serve.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-serve``. Packages never import this module (an installed distribution does not ship it).
"""
from serving.command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
