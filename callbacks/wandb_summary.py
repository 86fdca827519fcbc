"""WandbSummary: best values, the best checkpoint and its score in the W&B run summary.

W&B's summary keeps the *last* logged value of a metric by default, so a dashboard's run table
would show the final epoch's validation F1, not the best one the checkpoint was chosen by. This
callback declares which metrics summarise as their maximum or minimum (``define_metric``, by
name pattern), and after fit writes where the best
checkpoint is and its monitored score. Online runs also get that checkpoint as a ``model``
artifact (alias ``best``); offline runs keep only its path, so an offline folder is not a second
copy of every checkpoint.
"""
from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger

ARTIFACT_MODES = ("auto", "always", "never")
STEP_METRIC = "trainer/global_step"  # WandbLogger's x-axis for every metric


class WandbSummary(Callback):
    """Args:
        maximize: metric names or globs whose summary is their maximum (scores).
        minimize: metric names or globs whose summary is their minimum (losses); win over ``maximize``.
        artifact: upload the best checkpoint as an artifact: 'auto' (online runs only), 'always', 'never'.
    """

    def __init__(self, maximize: list[str] | None = None, minimize: list[str] | None = None,
                 artifact: str = "auto") -> None:
        if artifact not in ARTIFACT_MODES:
            raise ValueError(f"wandb_summary.artifact={artifact!r}: expected one of {list(ARTIFACT_MODES)}")
        self.maximize = list(maximize if maximize is not None else ["val/*", "test/*"])
        self.minimize = list(minimize if minimize is not None else ["val/loss", "test/loss", "train/loss_epoch"])
        self.artifact = artifact
        self._defined: set[str] = set()

    @staticmethod
    def _runs(trainer: Trainer) -> list:
        return [logger.experiment for logger in trainer.loggers if isinstance(logger, WandbLogger)]

    def _summary_of(self, name: str) -> str | None:
        if any(fnmatch(name, pattern) for pattern in self.minimize):
            return "min"
        return "max" if any(fnmatch(name, pattern) for pattern in self.maximize) else None

    def _define_new_metrics(self, trainer: Trainer) -> None:
        """Declare each metric once, right after it was first logged (W&B counts that value too).

        Exact names, because W&B applies only the first matching glob and WandbLogger has already
        defined ``*`` (its step axis); the same step axis is repeated here for that reason.
        """
        if not trainer.is_global_zero:
            return
        new = [name for name in trainer.logged_metrics if name not in self._defined]
        self._defined.update(new)
        for run in self._runs(trainer):
            for name in new:
                summary = self._summary_of(name)
                if summary:
                    run.define_metric(name, summary=summary, step_metric=STEP_METRIC, step_sync=True)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._define_new_metrics(trainer)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._define_new_metrics(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._define_new_metrics(trainer)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        checkpoint = trainer.checkpoint_callback
        best = getattr(checkpoint, "best_model_path", "") or ""
        if not (trainer.is_global_zero and best):
            return
        score = getattr(checkpoint, "best_model_score", None)
        for run in self._runs(trainer):
            run.summary["best_checkpoint"] = str(Path(best).resolve())
            run.summary["best_checkpoint_monitor"] = checkpoint.monitor
            if score is not None:
                run.summary["best_checkpoint_score"] = float(score)
            if self.artifact == "always" or (self.artifact == "auto" and not run.offline):
                run.log_artifact(best, name=f"model-{run.id}", type="model", aliases=["best"])
