"""What a run does when its loss stops being a number: skip that step, or stop with a clear error.

A single NaN/inf loss (a corrupt clip, an fp16 overflow, a bad learning rate spike) would
otherwise poison the weights through the optimiser step. Lightning's automatic optimisation
skips backward and the optimiser step when ``training_step`` returns ``None``, so the module
asks :func:`guard_loss` and returns what it gets back. Under DDP every rank must skip the same
step (a rank that skips its backward would leave the others waiting in all-reduce), so the
decision is reduced over ranks. Skipped steps are counted, logged as ``train/nonfinite_losses``
and kept in the checkpoint, so a resumed run keeps its count.

Configure as a callback (``trainer.callbacks`` in a config)::

    - class_path: lightning_modules.nonfinite_loss.NonFiniteLossGuard
      init_args: {policy: skip, max_consecutive: 20}   # or policy: stop
"""
from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn

Policy = Literal["skip", "stop"]
POLICIES = ("skip", "stop")
METRIC = "train/nonfinite_losses"


class NonFiniteLoss(FloatingPointError):
    """Raised when a non-finite loss stops the run (policy ``stop``, or too many skips in a row)."""


class NonFiniteLossGuard(Callback):
    """Holds the policy and the count of non-finite losses; :func:`guard_loss` consults it.

    Args:
        policy: ``skip`` drops the step (no backward, no optimiser step); ``stop`` raises
            :class:`NonFiniteLoss` naming the step and epoch.
        max_consecutive: under ``skip``, stop anyway after this many non-finite steps in a row,
            because then the run has diverged rather than hit one bad batch. ``None``: never.
    """

    def __init__(self, policy: Policy = "skip", max_consecutive: int | None = 20) -> None:
        if policy not in POLICIES:
            raise ValueError(f"NonFiniteLossGuard.policy: {policy!r}, expected one of {POLICIES}")
        if max_consecutive is not None and max_consecutive < 1:
            raise ValueError(f"NonFiniteLossGuard.max_consecutive: {max_consecutive!r}, expected >= 1 or None")
        self.policy = policy
        self.max_consecutive = max_consecutive
        self.count = 0
        self.consecutive = 0

    def check(self, module: pl.LightningModule, loss: torch.Tensor) -> torch.Tensor | None:
        """``loss`` when it is finite on every rank, else ``None`` (skip) or raise (stop)."""
        finite = bool(torch.isfinite(loss.detach()).all())
        trainer = module._trainer  # None when the module runs outside a Trainer
        if trainer is not None and trainer.world_size > 1:
            finite = trainer.strategy.reduce_boolean_decision(finite, all=True)
        if finite:
            self.consecutive = 0
            return loss
        self.count += 1
        self.consecutive += 1
        where = f"global step {trainer.global_step}, epoch {trainer.current_epoch}" if trainer is not None else "step"
        if trainer is not None:
            module.log(METRIC, float(self.count), on_step=True, on_epoch=False, reduce_fx="max", sync_dist=False)
        if self.policy == "stop":
            raise NonFiniteLoss(f"non-finite training loss ({loss.detach().float().mean().item()}) at {where}; "
                                "set the NonFiniteLossGuard policy to 'skip' to drop such steps instead")
        if self.max_consecutive is not None and self.consecutive >= self.max_consecutive:
            raise NonFiniteLoss(f"{self.consecutive} non-finite training losses in a row (last at {where}): "
                                "the run has diverged; lower the learning rate or check the data")
        rank_zero_warn(f"non-finite training loss at {where}: step skipped ({self.count} so far)")
        return None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # equal on every rank (the decision is reduced), so the max over ranks is just that count
        pl_module.log(METRIC, float(self.count), on_step=False, on_epoch=True, reduce_fx="max", sync_dist=True)

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "consecutive": self.consecutive}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.count = int(state_dict.get("count", 0))
        self.consecutive = int(state_dict.get("consecutive", 0))


_DEFAULT_GUARD = NonFiniteLossGuard(policy="stop")


def find_guard(module: pl.LightningModule) -> NonFiniteLossGuard:
    """The guard among the trainer's callbacks; without one, a non-finite loss stops the run."""
    trainer = module._trainer
    if trainer is not None:
        for callback in trainer.callbacks:
            if isinstance(callback, NonFiniteLossGuard):
                return callback
    return _DEFAULT_GUARD


def guard_loss(module: pl.LightningModule, loss: torch.Tensor) -> torch.Tensor | None:
    """Call in ``training_step`` as ``return guard_loss(self, loss)``: the loss, or ``None`` to skip.

    >>> import torch, lightning.pytorch as pl
    >>> guard_loss(pl.LightningModule(), torch.tensor(0.5))
    tensor(0.5000)
    """
    return find_guard(module).check(module, loss)
