"""ReportCallback: the classification report and confusion matrix of every validation and test pass.

On disk (under the run directory): ``reports/val/epoch_NNN/`` and ``reports/test/`` hold
report.json, classification_report.txt, both confusion-matrix PNGs and per_corpus.csv, written by
:mod:`evaluation.report` so training and ``evaluate.py`` compute the same numbers. In W&B (when a
WandbLogger is attached): the confusion matrices as images, the per-class scores as a table and
the audio of the most confident mistakes.

Predictions are gathered from every rank to rank zero; the datamodule guarantees each evaluation
sample is seen exactly once, so the report covers the split exactly, unless samples were skipped
as unreadable. Each report says how many of the split's samples it scored ("scored N of M", from
the datamodule's stats.json); a test that scored fewer stops the run after writing its report,
unless the datamodule allows it (``data.allow_incomplete``) or the trainer limits test batches.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from evaluation.coverage import Coverage
from evaluation.report import build_report, summary_row, write_report


@dataclass(order=True)
class Mistake:
    """A wrong prediction, ordered by the model's confidence in it."""

    confidence: float
    key: str = field(compare=False)
    true: int = field(compare=False)
    predicted: int = field(compare=False)
    audio: np.ndarray = field(compare=False, repr=False)


@dataclass
class _Collected:
    logits: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    corpora: list[str] = field(default_factory=list)
    mistakes: list[Mistake] = field(default_factory=list)  # a min-heap of the k most confident


def _gather(value: Any) -> list[Any]:
    """``value`` from every rank (list in rank order); just ``[value]`` without a process group."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


class ReportCallback(Callback):
    """Write and log the evaluation report at the end of each validation and test epoch.

    Args:
        dirpath: where reports go (None: ``<trainer.default_root_dir>/reports``).
        mistakes: how many of the most confident mistakes to log as audio to W&B (0: none).
        every_n_val_epochs: write validation reports every N epochs (test reports always).
    """

    def __init__(self, dirpath: str | None = None, mistakes: int = 8, every_n_val_epochs: int = 1) -> None:
        super().__init__()
        if every_n_val_epochs < 1 or mistakes < 0:
            raise ValueError(f"report.every_n_val_epochs={every_n_val_epochs} must be >= 1, "
                             f"report.mistakes={mistakes} >= 0")
        self.dirpath, self.mistakes, self.every_n_val_epochs = dirpath, mistakes, every_n_val_epochs
        self._state: dict[str, _Collected] = {}
        self.last_paths: dict[str, dict[str, Path]] = {}  # stage -> files of the last report written
        self.coverage: dict[str, Coverage] = {}  # stage -> how much of its split the last report scored

    def _active(self, trainer: Trainer, stage: str) -> bool:
        if trainer.sanity_checking:
            return False
        return stage == "test" or (trainer.current_epoch + 1) % self.every_n_val_epochs == 0

    def _collect(self, stage: str, outputs: Any, batch: dict[str, Any]) -> None:
        state = self._state.setdefault(stage, _Collected())
        logits = outputs["logits"].float().cpu()
        labels = batch["label"].cpu()
        state.logits.append(logits.numpy())
        state.labels.append(labels.numpy())
        state.corpora.extend(batch.get("corpus", ["?"] * len(labels)))
        if self.mistakes and "audio" in batch:
            self._keep_mistakes(state, logits, labels, batch)

    def _keep_mistakes(self, state: _Collected, logits: torch.Tensor, labels: torch.Tensor, batch: dict) -> None:
        confidence, predicted = logits.softmax(dim=-1).max(dim=-1)
        for row in torch.nonzero(predicted != labels).flatten().tolist():
            if len(state.mistakes) == self.mistakes and confidence[row] <= state.mistakes[0].confidence:
                continue
            length = int(batch["lengths"][row])
            audio = batch["audio"][row, :length].float().cpu().numpy()
            mistake = Mistake(float(confidence[row]), batch["key"][row], int(labels[row]), int(predicted[row]), audio)
            (heapq.heapreplace if len(state.mistakes) == self.mistakes else heapq.heappush)(state.mistakes, mistake)

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if self._active(trainer, "val"):
            self._collect("val", outputs, batch)

    def on_test_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collect("test", outputs, batch)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._active(trainer, "val"):
            self._finish("val", trainer, pl_module, f"val/epoch_{trainer.current_epoch:03d}")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._finish("test", trainer, pl_module, "test")

    def _finish(self, stage: str, trainer: Trainer, pl_module: LightningModule, subfolder: str) -> None:
        """Gather this stage's predictions, write the report files on rank zero and log them; then, on
        every rank alike, stop a test that scored fewer samples than its split holds."""
        state = self._state.pop(stage, _Collected())
        local = (np.concatenate(state.logits) if state.logits else np.zeros((0, len(pl_module.class_names))),
                 np.concatenate(state.labels) if state.labels else np.zeros(0, dtype=np.int64),
                 state.corpora, state.mistakes)
        parts = _gather(local)
        coverage = _coverage(stage, trainer, sum(len(p[1]) for p in parts))
        if coverage is not None:
            self.coverage[stage] = coverage
            if not coverage.complete:
                rank_zero_warn(f"{stage} report: {coverage.summary}")
        if trainer.global_rank == 0:
            self._write(stage, trainer, pl_module, subfolder, parts, coverage)
        if coverage is not None and stage == "test":
            coverage.check(allow_with="data.allow_incomplete=true")

    def _write(self, stage: str, trainer: Trainer, pl_module: LightningModule, subfolder: str,
               parts: list[Any], coverage: Coverage | None) -> None:
        logits = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if len(labels) == 0:
            return
        corpora = [c for p in parts for c in p[2]]
        mistakes = heapq.nlargest(self.mistakes, (m for p in parts for m in p[3]))
        report = build_report(labels, logits, pl_module.class_names, corpora=corpora)
        if coverage is not None:
            report["coverage"] = coverage.as_dict()
        folder = Path(self.dirpath or Path(trainer.default_root_dir) / "reports") / subfolder
        self.last_paths[stage] = write_report(report, folder)
        rank_zero_info(f"{stage} report ({coverage.summary if coverage else f'{len(labels)} samples'}) -> {folder}")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                self._log_wandb(logger, stage, report, self.last_paths[stage], mistakes, pl_module, trainer.global_step)

    @staticmethod
    def _log_wandb(logger: WandbLogger, stage: str, report: dict[str, Any], paths: dict[str, Path],
                   mistakes: list[Mistake], pl_module: LightningModule, step: int) -> None:
        import wandb

        names = pl_module.class_names
        logger.log_image(key=f"{stage}/confusion_matrix", step=step,
                         images=[str(paths["confusion_counts"]), str(paths["confusion_normalized"])],
                         caption=["counts", "row-normalised"])
        rows = report["classification_report"]
        logger.log_table(key=f"{stage}/per_class", step=step, columns=["class", "precision", "recall", "f1", "support"],
                         data=[[n, rows[n]["precision"], rows[n]["recall"], rows[n]["f1-score"], rows[n]["support"]]
                               for n in names])
        logger.log_metrics({f"{stage}/report_{k}": v for k, v in summary_row(report).items() if v is not None}, step)
        if "coverage" in report:  # "scored N of M" beside the scores, in the run's summary too
            coverage = report["coverage"]
            logger.log_metrics({f"{stage}/scored_samples": coverage["scored"],
                                f"{stage}/expected_samples": coverage["expected"]}, step)
            logger.experiment.summary[f"{stage}/coverage"] = coverage["summary"]
        if mistakes:
            rate = int(pl_module.hparams["sample_rate"])
            clips = [wandb.Audio(m.audio, sample_rate=rate,
                                 caption=f"{m.key}: true {names[m.true]}, predicted {names[m.predicted]} "
                                         f"({m.confidence:.2f})") for m in mistakes]
            logger.experiment.log({f"{stage}/confident_mistakes": clips, "trainer/global_step": step})


def _coverage(stage: str, trainer: Trainer, scored: int) -> Coverage | None:
    """How much of the split the datamodule's stats.json lists was scored; None for other datamodules."""
    split_samples = getattr(getattr(trainer, "datamodule", None), "split_samples", None)
    if split_samples is None:
        return None
    split, expected = split_samples(stage)
    limit = getattr(trainer, f"limit_{stage}_batches", 1.0)
    limited = None if isinstance(limit, float) and limit == 1.0 else f"trainer.limit_{stage}_batches={limit}"
    return Coverage(split, scored, expected, allowed=bool(getattr(trainer.datamodule, "allow_incomplete", False)),
                    limit=limited)
