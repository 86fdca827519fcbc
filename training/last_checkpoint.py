"""Keep ``last.ckpt`` current, so a crashed run resumes from its last epoch, not its last best epoch.

Lightning 2.6's ``ModelCheckpoint(save_last=True)`` writes ``last.ckpt`` only when it also wrote a
top-k checkpoint at that step ("Only save last checkpoint if a checkpoint was actually saved",
callbacks/model_checkpoint.py). A run whose validation F1 plateaus therefore keeps a ``last.ckpt``
from its last improvement, and ``--ckpt_path last`` after a ``kill -9`` silently repeats every
epoch since. This callback rewrites ``last.ckpt`` at the end of every training epoch (after early
stopping and ModelCheckpoint have updated their state, so the file holds it) and, for long
epochs, every ``every_n_train_steps`` optimiser steps. Writes go through the trainer's checkpoint
IO, which train.py makes atomic (training/checkpoint_io.py). Once it has written a newer
``last.ckpt``, it deletes the run's preemption checkpoints (``hpc_ckpt_N.ckpt``), which would
otherwise pile up, one full checkpoint per requeue.
"""
from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info

from training.atomic import remove_stale_temps

LAST_NAME = "last.ckpt"


class LastCheckpoint(Checkpoint):
    """Rewrites ``<ModelCheckpoint dirpath>/last.ckpt`` every epoch and every N training steps.

    A ``Checkpoint`` subclass so Lightning calls its epoch-end hook with the monitoring callbacks;
    it moves itself to the end of the callback list so it runs after them and so
    ``trainer.checkpoint_callback`` stays the ModelCheckpoint.

    Args:
        every_n_train_steps: also save mid-epoch after this many optimiser steps (None: epochs only).
    """

    def __init__(self, every_n_train_steps: int | None = None) -> None:
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(f"LastCheckpoint.every_n_train_steps: {every_n_train_steps!r}, expected >= 1 or None")
        self.every_n_train_steps = every_n_train_steps
        self._saved_at_step = -1

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        trainer.callbacks.remove(self)
        trainer.callbacks.append(self)
        if stage == "fit" and trainer.is_global_zero:  # half-written temporaries of saves a kill interrupted
            for folder in {self.path(trainer).parent, Path(trainer.default_root_dir)}:
                for stale in remove_stale_temps(folder):
                    rank_zero_info(f"removed {stale}: left by a checkpoint save that was killed")

    def path(self, trainer: pl.Trainer) -> Path:
        """last.ckpt beside the ModelCheckpoint's files, or in ``default_root_dir/checkpoints``."""
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath:
                return Path(callback.dirpath) / LAST_NAME
        return Path(trainer.default_root_dir) / "checkpoints" / LAST_NAME

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run or self._saved_at_step == trainer.global_step:
            return
        trainer.save_checkpoint(self.path(trainer), weights_only=False)  # the full state a resume needs; all ranks: rank zero writes, sharded strategies gather
        self._saved_at_step = trainer.global_step
        if trainer.is_global_zero:  # preemption checkpoints are now older than last.ckpt: free their space
            for stale in Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"):
                stale.unlink(missing_ok=True)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        every = self.every_n_train_steps
        last = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        stepped = (batch_idx + 1) % trainer.accumulate_grad_batches == 0
        if every and stepped and not last and trainer.global_step % every == 0:
            self._save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)
