"""Preemption checkpoints restore everything, and non-finite losses are skipped or stop the run.

In-process Trainer runs of a tiny model with dropout, shuffled data, AdamW, a step scheduler,
validation, best-checkpointing and early stopping, so every piece of state a resume must carry
is exercised; the end-to-end versions through train.py and SLURM are in test_slurm_train.py and
test_resume_kill.py.
"""
from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from training.checkpoint_io import AtomicCheckpointIO
from lightning_modules.nonfinite_loss import METRIC, NonFiniteLoss, NonFiniteLossGuard, guard_loss
from training.csv_log import ResumableCSVLogger
from training.last_checkpoint import LastCheckpoint
from training.preemption import Requeued, RequeueOnSignal
from training.resume import RngStateCheckpoint

EPOCHS, BATCHES = 4, 6


class TinyClassifier(pl.LightningModule):
    """Dropout + AdamW + StepLR: state that differs unless RNG, optimiser and scheduler are restored."""

    def __init__(self, nan_at_step: int | None = None) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
        self.nan_at_step = nan_at_step

    def training_step(self, batch, batch_idx):
        loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
        window = self.trainer.accumulate_grad_batches
        if self.global_step == self.nan_at_step and batch_idx == (self.nan_at_step + 1) * window - 1:
            loss = loss * float("nan")
        return guard_loss(self, loss)

    def validation_step(self, batch, batch_idx):
        accuracy = (self.net(batch[0]).argmax(-1) == batch[1]).float().mean()
        self.log("val/f1_weighted", accuracy)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=0.05)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.7)}


def loaders() -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(BATCHES * 4, 8, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True), DataLoader(TensorDataset(x, y), batch_size=8)


class SignalAt(pl.Callback):
    """Sends this process ``signal`` after training batch ``step`` (what ``scancel -s USR1`` does)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGUSR1)


def make_trainer(root: Path, *extra: pl.Callback, rng: bool = True) -> pl.Trainer:
    callbacks = [RequeueOnSignal(), ModelCheckpoint(dirpath=root / "checkpoints", monitor="val/f1_weighted",
                                                    mode="max", save_last=True),
                 EarlyStopping(monitor="val/f1_weighted", mode="max", patience=50), *extra]
    if rng:
        callbacks.append(RngStateCheckpoint())
    return pl.Trainer(default_root_dir=root, max_epochs=EPOCHS, callbacks=callbacks, plugins=[AtomicCheckpointIO()],
                      logger=CSVLogger(root, name="", version="csv"), accelerator="cpu", devices=1,
                      enable_progress_bar=False, enable_model_summary=False)


def run(root: Path, *extra: pl.Callback, ckpt_path: str | None = None, rng: bool = True) -> tuple[pl.Trainer, nn.Module]:
    pl.seed_everything(7, verbose=False)
    model, trainer = TinyClassifier(), make_trainer(root, *extra, rng=rng)
    trainer.fit(model, *loaders(), ckpt_path=ckpt_path, weights_only=True)
    return trainer, model


def preempted_then_resumed(root: Path, step: int, rng: bool = True) -> tuple[pl.Trainer, nn.Module, Path]:
    with pytest.raises(Requeued) as stopped:
        run(root, SignalAt(step), rng=rng)
    assert stopped.value.code == 0
    saved = sorted(root.glob("hpc_ckpt_*.ckpt"))
    assert [p.name for p in saved] == ["hpc_ckpt_1.ckpt"]
    trainer, model = run(root, ckpt_path=str(saved[0]), rng=rng)
    return trainer, model, saved[0]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[pl.Trainer, nn.Module]:
    return run(tmp_path_factory.mktemp("uninterrupted"))


def test_preemption_at_epoch_end_resumes_exactly(tmp_path: Path, uninterrupted) -> None:
    """Signal in the last batch of epoch 1: the resumed run ends bit-identical to the uninterrupted one.

    (Mid-epoch the data loader restarts its shuffled epoch on resume, so only counts can match there.)"""
    reference_trainer, reference = uninterrupted
    trainer, model, saved = preempted_then_resumed(tmp_path, step=2 * BATCHES)
    state = torch.load(saved, weights_only=True)
    assert state["epoch"] == 1 and state["global_step"] == 2 * BATCHES
    assert trainer.global_step == reference_trainer.global_step == EPOCHS * BATCHES
    assert trainer.current_epoch == reference_trainer.current_epoch
    for ours, theirs in zip(model.state_dict().values(), reference.state_dict().values()):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert trainer.lr_scheduler_configs[0].scheduler.get_last_lr() == \
        reference_trainer.lr_scheduler_configs[0].scheduler.get_last_lr()
    assert trainer.checkpoint_callback.best_model_score == reference_trainer.checkpoint_callback.best_model_score
    assert trainer.early_stopping_callback.wait_count == reference_trainer.early_stopping_callback.wait_count


def test_without_rng_restore_the_resume_diverges(tmp_path: Path, uninterrupted) -> None:
    """The control for the test above: dropout and shuffling differ unless RngStateCheckpoint restores them."""
    _, reference = uninterrupted
    _, model, _ = preempted_then_resumed(tmp_path, step=2 * BATCHES, rng=False)
    assert not torch.equal(model.net[0].weight, reference.net[0].weight)


def test_preemption_mid_epoch_keeps_step_and_epoch_counts(tmp_path: Path, uninterrupted) -> None:
    reference_trainer, _ = uninterrupted
    trainer, _, saved = preempted_then_resumed(tmp_path, step=BATCHES + 2)
    assert torch.load(saved, weights_only=True)["global_step"] == BATCHES + 2
    assert trainer.global_step == reference_trainer.global_step
    assert trainer.current_epoch == reference_trainer.current_epoch


class WeightChanges(pl.Callback):
    """Records, per training batch, whether the batch changed the weights."""

    def __init__(self) -> None:
        self.changed: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.before = [p.detach().clone() for p in pl_module.parameters()]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.changed.append(any(not torch.equal(a, b) for a, b in zip(self.before, pl_module.parameters())))


def test_nonfinite_loss_skip_counts_and_continues(tmp_path: Path) -> None:
    guard, changes = NonFiniteLossGuard(policy="skip"), WeightChanges()
    pl.seed_everything(7, verbose=False)
    trainer = make_trainer(tmp_path, guard, changes)
    model = TinyClassifier(nan_at_step=3)
    with pytest.warns(UserWarning, match="non-finite training loss at global step 3"):
        trainer.fit(model, *loaders())
    assert guard.count == 1
    # exactly the NaN batch left the weights alone (Lightning still counts it as a global step)
    assert [i for i, changed in enumerate(changes.changed) if not changed] == [3]
    assert len(changes.changed) == EPOCHS * BATCHES
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert trainer.callback_metrics[METRIC] == 1
    metrics = (tmp_path / "csv" / "metrics.csv").read_text()
    assert METRIC in metrics.splitlines()[0]


def test_nonfinite_loss_stop_raises_clear_error(tmp_path: Path) -> None:
    pl.seed_everything(7, verbose=False)
    trainer = make_trainer(tmp_path, NonFiniteLossGuard(policy="stop"))
    with pytest.raises(NonFiniteLoss, match=r"non-finite training loss \(nan\) at global step 3, epoch 0"):
        trainer.fit(TinyClassifier(nan_at_step=3), *loaders())


def test_skip_gives_up_after_too_many_in_a_row(tmp_path: Path) -> None:
    guard = NonFiniteLossGuard(policy="skip", max_consecutive=2)
    module = TinyClassifier()
    assert guard.check(module, torch.tensor(float("inf"))) is None
    with pytest.raises(NonFiniteLoss, match="2 non-finite training losses in a row"):
        guard.check(module, torch.tensor(float("nan")))
    with pytest.raises(ValueError, match="'ignore'"):
        NonFiniteLossGuard(policy="ignore")


class PlateauClassifier(TinyClassifier):
    """Validation score never improves after epoch 0, so ModelCheckpoint saves top-k only once."""

    def validation_step(self, batch, batch_idx):
        self.log("val/f1_weighted", 0.5)


@pytest.mark.parametrize("keep_last_current", [False, True])
def test_last_checkpoint_follows_training_not_the_best_score(tmp_path: Path, keep_last_current: bool) -> None:
    extra = [LastCheckpoint()] if keep_last_current else []
    trainer = pl.Trainer(default_root_dir=tmp_path, max_epochs=3, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, plugins=[AtomicCheckpointIO()],
                         callbacks=[ModelCheckpoint(dirpath=tmp_path, monitor="val/f1_weighted", mode="max",
                                                    save_top_k=1, save_last=True), *extra])
    trainer.fit(PlateauClassifier(), *loaders())
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    if keep_last_current:
        assert (saved["epoch"], saved["global_step"]) == (2, 3 * BATCHES)
        assert isinstance(trainer.checkpoint_callback, ModelCheckpoint)
    else:  # Lightning 2.6 alone: last.ckpt stays at the last top-k save (why LastCheckpoint exists)
        assert (saved["epoch"], saved["global_step"]) == (0, BATCHES)


def test_csv_log_survives_a_resume_into_the_same_folder(tmp_path: Path) -> None:
    first = ResumableCSVLogger(tmp_path, name="", version="csv")
    first.log_metrics({"train/loss": 1.0}, step=0)
    first.log_metrics({"val/acc": 0.5}, step=1)
    first.save()
    resumed = ResumableCSVLogger(tmp_path, name="", version="csv")  # a new process after a requeue
    resumed.log_metrics({"train/loss": 0.5}, step=2)
    resumed.save()
    resumed.log_metrics({"test/acc": 0.75}, step=3)  # a new column: header rewritten, old rows kept
    resumed.save()
    with open(tmp_path / "csv" / "metrics.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["step"] for row in rows] == ["0", "1", "2", "3"]
    assert rows[1]["val/acc"] == "0.5" and rows[3]["test/acc"] == "0.75"


def test_nonfinite_skip_under_bf16_accumulation_and_clipping(tmp_path: Path) -> None:
    """The Trainer settings configs/trainer/gpu.yaml uses, on CPU: bf16 autocast, 2-batch
    accumulation and gradient clipping, with a NaN loss in the middle of an accumulation window."""
    guard = NonFiniteLossGuard(policy="skip")
    pl.seed_everything(7, verbose=False)
    trainer = pl.Trainer(default_root_dir=tmp_path, max_epochs=2, precision="bf16-mixed", accumulate_grad_batches=2,
                         gradient_clip_val=0.5, callbacks=[guard], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    model = TinyClassifier(nan_at_step=1)  # optimiser step 1 accumulates batches 2 and 3: NaN in batch 3
    with pytest.warns(UserWarning, match="non-finite training loss"):
        trainer.fit(model, *loaders())
    assert guard.count == 1
    assert trainer.global_step == 2 * BATCHES // 2  # one optimiser step per 2 batches, none lost
    assert all(torch.isfinite(p).all() for p in model.parameters())
