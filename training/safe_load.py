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
"""
from __future__ import annotations

import os
import pickle
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


class UnsafeCheckpointError(ValueError):
    """A checkpoint that holds Python objects beyond tensors and plain data; it was not loaded."""


def unsafe_reason(path: str | os.PathLike, error: BaseException) -> UnsafeCheckpointError:
    """One readable line for torch's multi-paragraph ``weights_only`` refusal."""
    found = _GLOBAL.search(str(error))
    what = f"a Python object ({found.group(1)})" if found else "Python objects beyond tensors and plain data"
    return UnsafeCheckpointError(
        f"{path}: refused to load: the checkpoint holds {what}, which could run code when unpickled; "
        "checkpoints are loaded with torch.load(weights_only=True)"
    )


@contextmanager
def refuse_unsafe(path: str | os.PathLike) -> Iterator[None]:
    """Turn a ``weights_only`` refusal raised inside the block (e.g. by Lightning) into UnsafeCheckpointError."""
    try:
        yield
    except pickle.UnpicklingError as error:
        raise unsafe_reason(path, error) from None


def load_checkpoint_file(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; UnsafeCheckpointError when it holds more than data."""
    with refuse_unsafe(path):
        checkpoint = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict):
        raise UnsafeCheckpointError(f"{path}: not a checkpoint (a {type(checkpoint).__name__}, expected a dict)")
    return checkpoint
