"""Optimiser and learning-rate schedule binding: AdamW, warm-up + cosine per step, or plateau.

The pretrained encoder and the freshly initialised head get separate learning rates (seed 000
fine-tuned Wav2Vec2/WavLM at 2e-5; a random head learns faster at a larger rate).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from user_errors import UserError

SCHEDULERS = ("cosine", "plateau", "constant")


def check_optimizer_settings(lr: float, encoder_lr: float | None, weight_decay: float) -> None:
    """Reject values AdamW would only refuse after the trainer started, naming the config key.

    >>> check_optimizer_settings(-1e-3, None, 0.01)
    Traceback (most recent call last):
    user_errors.UserError: model.lr=-0.001: expected a learning rate > 0 (e.g. 1e-3; 2e-5 to fine-tune a pretrained encoder)
    """
    for key, value in (("model.lr", lr), ("model.encoder_lr", encoder_lr)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UserError(f"{key}={value}: expected a learning rate > 0 (e.g. 1e-3; 2e-5 to fine-tune a pretrained encoder)")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise UserError(f"model.weight_decay={weight_decay}: expected a number >= 0 (e.g. 0.01)")


def param_groups(net: nn.Module, lr: float, encoder_lr: float | None, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters split into the encoder group (``net.encoder_parameters()``) and the rest."""
    encoder_ids = {id(p) for p in getattr(net, "encoder_parameters", list)()}
    encoder = [p for p in net.parameters() if p.requires_grad and id(p) in encoder_ids]
    head = [p for p in net.parameters() if p.requires_grad and id(p) not in encoder_ids]
    groups = [{"params": head, "lr": lr, "name": "head"}]
    if encoder:
        groups.append({"params": encoder, "lr": lr if encoder_lr is None else encoder_lr, "name": "encoder"})
    for group in groups:
        group["weight_decay"] = weight_decay
    if not encoder and not head:
        raise ValueError("the network has no trainable parameters: check trainable_layers / trainable_blocks")
    return [group for group in groups if group["params"]]


def warmup_steps_of(warmup: float, total_steps: int) -> int:
    """``warmup`` as steps: a value below 1 is a fraction of ``total_steps``, otherwise a step count.

    >>> warmup_steps_of(0.1, 1000), warmup_steps_of(50, 1000)
    (100, 50)
    """
    if warmup < 0:
        raise ValueError(f"model.warmup={warmup}: must be >= 0")
    return int(warmup * total_steps) if warmup < 1 else int(warmup)


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from 0 over ``warmup_steps``, then cosine decay to ``min_lr_ratio`` x lr."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup: float,
    min_lr_ratio: float,
    plateau_patience: int,
    plateau_factor: float,
    monitor: str,
) -> dict[str, Any] | None:
    """Lightning's lr_scheduler config for schedule ``name`` (None for 'constant')."""
    if name not in SCHEDULERS:
        raise ValueError(f"model.scheduler={name!r}: expected one of {list(SCHEDULERS)}")
    if name == "cosine":
        scheduler = warmup_cosine(optimizer, warmup_steps_of(warmup, total_steps), total_steps, min_lr_ratio)
        return {"scheduler": scheduler, "interval": "step"}
    if name == "plateau":
        mode = "min" if monitor.endswith("loss") else "max"
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=plateau_factor, patience=plateau_patience
        )
        return {"scheduler": scheduler, "interval": "epoch", "monitor": monitor}
    return None
