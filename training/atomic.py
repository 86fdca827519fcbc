"""Atomic file replacement for torch.save, without importing Lightning (kill-test subprocesses stay light).

The reason it exists is in training/checkpoint_io.py.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

TEMP_PREFIX = ".tmp-"  # leftovers of killed saves start with this; they never match *.ckpt globs


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` such that ``path`` is always absent, the old file or the new file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(obj, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (the directory entry), so a node crash cannot undo it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some filesystems do not allow opening directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files left by saves that were killed; returns what was removed."""
    folder = Path(folder)
    stale = sorted(folder.glob(f"{TEMP_PREFIX}*")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
