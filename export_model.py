"""Export a trained checkpoint (a transformers folder and/or ONNX): ``python export_model.py --help``; the command lives in export/command.py.

Kept so ``python export_model.py ...`` works from the clone; after ``pip install -e .`` the same command is
``ser-export``. Packages never import this module (an installed distribution does not ship it).
"""
from export.command import main, run  # noqa: F401  (the command's public names, for callers of this module)

if __name__ == "__main__":
    run()
