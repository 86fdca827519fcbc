"""Checkpoints are data, never code: every checkpoint load goes through ``torch.load(weights_only=True)``.

A ``.ckpt`` is a pickle. Unpickled in full, a checkpoint someone else made (a downloaded model, a
shared run folder, an upload) runs whatever it wants. torch's ``weights_only`` unpickler accepts
tensors, plain containers and the types registered with ``torch.serialization.add_safe_globals``,
and nothing else. torch's own default is ``weights_only=True``, but ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
turns every call that does not pass it explicitly back into a full unpickle, Lightning's included
(``Trainer.fit(ckpt_path=...)`` and ``LightningModule.load_from_checkpoint`` pass ``weights_only=None``
by default). So the project passes ``weights_only=True`` itself, everywhere: here for plain loads,
in ``training.checkpoint_io.AtomicCheckpointIO.load_checkpoint`` for the Trainer, and to
``load_from_checkpoint`` in prediction/predictor.py.

Checkpoints written by train.py hold only tensors, dicts, lists, strings and numbers (the network is
stored as its ``class_path``/``init_args`` config, the RNG states as lists, training/resume.py), so
no extra type needs allow-listing. A checkpoint that holds anything else is refused with
:class:`UnsafeCheckpointError`, one line naming the file and the refused global.

Every load runs inside :func:`refuse_unsafe`, so it is also the one place where a damaged file is
told apart: a checkpoint cut short (an interrupted copy, ``head -c``, a full disk) makes torch's
reader fail deep inside fsspec (``OSError: [Errno 22] Invalid argument`` from a seek past the end)
or in its zip reader. When the load fails and the file's zip container is not whole, the failure is
a :class:`CorruptCheckpointError` naming the file and what is wrong with it; a failure on a whole
file (a model that does not match its weights, a missing file) propagates unchanged.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since torch 1.6: a zip archive
PICKLE_MAGIC = 0x80  # the legacy format: a bare pickle (protocol 2+)
INTERRUPTED = "an interrupted copy or save leaves such a file: use a complete copy"


class UnsafeCheckpointError(ValueError):
    """A checkpoint that holds Python objects beyond tensors and plain data; it was not loaded."""


class CorruptCheckpointError(ValueError):
    """A checkpoint file that is cut short or damaged (not a whole zip archive); it was not loaded."""


def unsafe_reason(path: str | os.PathLike, error: BaseException) -> UnsafeCheckpointError:
    """One readable line for torch's multi-paragraph ``weights_only`` refusal."""
    found = _GLOBAL.search(str(error))
    what = f"a Python object ({found.group(1)})" if found else "Python objects beyond tensors and plain data"
    return UnsafeCheckpointError(
        f"{path}: refused to load: the checkpoint holds {what}, which could run code when unpickled; "
        "checkpoints are loaded with torch.load(weights_only=True)"
    )


def damage_of(path: str | os.PathLike) -> str | None:
    """What is wrong with the checkpoint file's container, or None when it is whole (or not a local file).

    Called only after a load failed, so reading the whole archive to check its CRCs costs nothing
    on the normal path.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        with file.open("rb") as handle:
            head = handle.read(4)
    except (OSError, ValueError):  # missing, unreadable or a URL: the original error says it better
        return None
    if size == 0:
        return f"the file is empty (0 bytes); {INTERRUPTED}"
    if head != ZIP_MAGIC:
        return None if head[:1] == bytes([PICKLE_MAGIC]) else (
            f"not a PyTorch checkpoint (one starts with {ZIP_MAGIC!r}, this file with {head!r})")
    try:
        with zipfile.ZipFile(file) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return f"truncated or damaged ({size:,} bytes): the zip archive torch.save writes is incomplete ({error}); {INTERRUPTED}"
    return None if broken is None else f"damaged: its member {broken} fails the CRC check"


@contextmanager
def refuse_unsafe(path: str | os.PathLike) -> Iterator[None]:
    """Load ``path`` inside the block (e.g. through Lightning): a ``weights_only`` refusal becomes
    UnsafeCheckpointError, a failure on a cut-short or damaged file CorruptCheckpointError."""
    try:
        yield
    except pickle.UnpicklingError as error:
        damage = damage_of(path)
        raise (unsafe_reason(path, error) if damage is None else corrupt_checkpoint(path, damage)) from None
    except (OSError, EOFError, RuntimeError, KeyError, zipfile.BadZipFile):  # what torch's readers raise on a bad file
        damage = damage_of(path)
        if damage is None:
            raise
        raise corrupt_checkpoint(path, damage) from None


def corrupt_checkpoint(path: str | os.PathLike, damage: str) -> CorruptCheckpointError:
    return CorruptCheckpointError(f"{path}: cannot load the checkpoint: {damage}")


def check_checkpoint_file(path: str | os.PathLike) -> None:
    """Refuse a checkpoint before anything is built from it (train.py checks ``--ckpt_path`` before it
    makes a run folder): CorruptCheckpointError for a cut-short or damaged file, UnsafeCheckpointError
    for one that holds code. ``mmap=True`` reads and checks the pickle but not the tensors' bytes, so
    a checkpoint of gigabytes is checked in well under a second; the CRCs of the tensors are checked
    when the run loads them. A legacy (non-zip) checkpoint is left to that load.
    """
    with Path(path).open("rb") as handle:
        head = handle.read(len(ZIP_MAGIC))
    if head != ZIP_MAGIC:
        damage = damage_of(path)
        if damage is not None:
            raise corrupt_checkpoint(path, damage)
        return
    with refuse_unsafe(path):
        torch.load(Path(path), map_location="cpu", weights_only=True, mmap=True)


def load_checkpoint_file(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; UnsafeCheckpointError when it holds more than data."""
    with refuse_unsafe(path):
        checkpoint = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict):
        raise UnsafeCheckpointError(f"{path}: not a checkpoint (a {type(checkpoint).__name__}, expected a dict)")
    return checkpoint
