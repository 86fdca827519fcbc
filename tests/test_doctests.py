"""Every docstring example in the project runs, so none of them goes stale.

Modules are found by walking the project's packages for a ``>>>`` in their source, so a module
that gains an example is covered without editing this list.
"""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"tests", ".venv", "runs", "data", "outputs", "wandb", "lightning_logs", "build", "dist"}  # build/: pip install . copies every package there


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in SKIP_DIRS or any(part.startswith(".") for part in parts):
            continue
        if ">>> " in path.read_text(encoding="utf-8"):
            names.append(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    return names


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert len(MODULES) >= 20, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
