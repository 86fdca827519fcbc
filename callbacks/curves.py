"""TrainingCurves: ``reports/curves.png`` (loss, scores, learning rate per epoch) at the end of fit.

Offline users get the picture a W&B dashboard would show; with a WandbLogger attached the PNG is
logged there too. Drawn from the run's CSV log (:mod:`evaluation.curves`), so a resumed run's
picture covers every attempt.
"""
from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, WandbLogger

from evaluation.curves import write_run_curves


class TrainingCurves(Callback):
    """Args: enabled: draw the PNG (rank zero only, after the last epoch)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not (self.enabled and trainer.is_global_zero):
            return
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                logger.save()  # flush the last epoch's rows before reading the file
        written = write_run_curves(Path(trainer.default_root_dir))
        if written is None:
            return
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("train/curves", [str(written)])
