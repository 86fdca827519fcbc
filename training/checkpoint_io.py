"""Checkpoint writes that a kill can interrupt without leaving a corrupt file behind.

Lightning 2.6's ``TorchCheckpointIO`` (``_atomic_save``) serialises to memory and writes through
an fsspec transaction, which for local paths writes a temporary file in the *system* temp folder
and then ``shutil.move``\\ s it into place. On a cluster the checkpoint folder is on shared storage
and ``/tmp`` is node-local, so that move is a copy into the destination: a job killed during the
copy (time limit, preemption, ``kill -9``) leaves a truncated ``last.ckpt`` that fails to load.
It also never fsyncs. Here the temporary file lives next to the target (same filesystem), is
fsynced, and replaces the target with ``os.replace``, which POSIX makes atomic: readers see the
old complete file or the new complete file, never a partial one.

Loads (``Trainer.fit/validate/test(ckpt_path=...)``) always unpickle with ``weights_only=True``,
whatever the caller or ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says (training/safe_load.py explains why).
"""
from __future__ import annotations

from typing import Any, Callable

from lightning.pytorch.plugins.io import TorchCheckpointIO

from training.atomic import atomic_torch_save
from training.safe_load import refuse_unsafe


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose local saves are atomic (remote URLs keep Lightning's own path) and whose
    loads are ``weights_only`` (a checkpoint holding code is refused with UnsafeCheckpointError).

    Use it as a Trainer plugin (``trainer.plugins: [{class_path: training.checkpoint_io.AtomicCheckpointIO}]``).
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options (got {storage_options!r})")
        text = str(path)
        if "://" in text and not text.startswith("file://"):
            super().save_checkpoint(checkpoint, path)  # object stores replace whole objects already
            return
        atomic_torch_save(checkpoint, text.removeprefix("file://"))

    def load_checkpoint(
        self, path: Any, map_location: Callable | None = lambda storage, loc: storage, weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Lightning's load, with ``weights_only=True`` forced: Lightning passes None unless told."""
        with refuse_unsafe(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
