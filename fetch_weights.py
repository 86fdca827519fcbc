"""Download the pretrained weights a config needs: ``python fetch_weights.py --help``; the command lives in protocols/fetch_weights_command.py.

Kept so ``python fetch_weights.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-fetch-weights``. Packages never import this module (an installed distribution does not ship it).
"""
from protocols.fetch_weights_command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
