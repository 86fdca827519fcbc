"""Classification losses: (weighted) cross-entropy with label smoothing, and focal loss.

Seed 000 trained every model with class-weighted cross-entropy because its nine classes are
imbalanced (MELD floods 'neutral'); focal loss is the alternative it proposed as future work.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOSSES = ("weighted_ce", "ce", "focal")


class FocalLoss(nn.Module):
    """Focal loss (Lin et al., 2017): cross-entropy scaled by (1 - p_true)^gamma.

    ``weight`` [C] plays the role of alpha per class. ``label_smoothing`` smooths the target the
    same way as ``nn.CrossEntropyLoss`` does before the focal factor is applied.
    """

    def __init__(self, weight: Tensor | None = None, gamma: float = 2.0, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.gamma = gamma
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_probs = F.log_softmax(logits.float(), dim=-1)
        ce = F.nll_loss(log_probs, target, reduction="none")
        if self.label_smoothing > 0:
            ce = (1 - self.label_smoothing) * ce - self.label_smoothing * log_probs.mean(dim=-1)
        p_true = log_probs.gather(1, target[:, None]).squeeze(1).exp()
        loss = (1 - p_true).pow(self.gamma) * ce
        if self.weight is None:
            return loss.mean()
        weights = self.weight[target]
        return (weights * loss).sum() / weights.sum()


def build_loss(
    name: str, class_weights: Sequence[float] | None, label_smoothing: float = 0.0, focal_gamma: float = 2.0
) -> nn.Module:
    """The loss called ``name``; 'weighted_ce' and 'focal' use ``class_weights`` when given.

    'weighted_ce' without class weights is a configuration error: the weights come from the
    training split's counts in stats.json (the datamodule links them into the model).
    """
    if name not in LOSSES:
        raise ValueError(f"model.loss={name!r}: expected one of {list(LOSSES)}")
    weight = None if class_weights is None else torch.tensor(list(class_weights), dtype=torch.float32)
    if name == "weighted_ce" and weight is None:
        raise ValueError("model.loss='weighted_ce' needs model.class_weights (linked from data.class_weights)")
    if name == "focal":
        return FocalLoss(weight, gamma=focal_gamma, label_smoothing=label_smoothing)
    return nn.CrossEntropyLoss(weight=weight if name == "weighted_ce" else None, label_smoothing=label_smoothing)
