"""The files of a classical run folder (no scikit-learn import, so loaders can test for one cheaply)."""
from __future__ import annotations

from pathlib import Path

MODEL_FILE, RECORD_FILE = "model.skops", "model.json"


def is_classical_run(path: str | Path) -> bool:
    """Whether ``path`` is a folder that ``python -m classical.train`` wrote."""
    return Path(path).is_dir() and (Path(path) / MODEL_FILE).is_file()
