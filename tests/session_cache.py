"""Things many tests need, built once per test run and shared by every pytest-xdist worker.

A file lock (the pattern of pytest-xdist's docs) makes the first worker that asks build the thing
while the others wait, then all reuse it; a marker file written after the build says it is complete.
tests/conftest.py's docstring says how to use it.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from filelock import FileLock


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's folder shared by every worker: the xdist run's base temp, else this session's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(root: Path, name: str, build: Callable[[Path], Any]) -> tuple[Path, Any]:
    """``(root/name, value)``: ``value = build(root/name)`` run once per run across workers (see module doc)."""
    folder, done = root / name, root / f"{name}.done.json"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            if folder.exists():  # left by a build that failed on another worker
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            done.write_text(json.dumps({"value": build(folder)}))
    return folder, json.loads(done.read_text())["value"]
