"""The modules an ensemble combines its members' logits with at prediction time.

Seed 000's meta-learner (a small network over the members' concatenated logits), the mean of
several of them, and the weights of a logit average. Fitting them is ensemble/'s work
(ensemble/meta_learner.py); loading a saved ensemble needs only these classes, so they live here
and prediction/ never imports ensemble/.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

SELECTIONS = ("best", "average")


class MetaLearner(nn.Module):
    """[B, M*C] concatenated logits -> standardised -> Linear -> ReLU -> Dropout -> Linear -> [B, C].

    The per-feature mean and std of the training logits are buffers, so logit scales that differ
    between base models do not decide which model the network listens to first.
    """

    def __init__(self, in_features: int, num_classes: int, hidden: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("std", torch.ones(in_features))
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def forward(self, stacked_logits: Tensor) -> Tensor:
        return self.net((stacked_logits - self.mean) / self.std)


class FoldAverage(nn.Module):
    """The mean logits of several meta-learners (``select="average"``)."""

    def __init__(self, learners: Sequence[MetaLearner]) -> None:
        super().__init__()
        self.learners = nn.ModuleList(learners)

    def forward(self, stacked_logits: Tensor) -> Tensor:
        return torch.stack([learner(stacked_logits) for learner in self.learners]).mean(dim=0)


def build_combiner(select: str, num_models: int, num_classes: int, hidden: int, dropout: float,
                   folds: int) -> nn.Module:
    """An untrained meta-learner of the saved shape, for loading its state dict.

    >>> type(build_combiner("average", 2, 3, hidden=4, dropout=0.0, folds=5)).__name__
    'FoldAverage'
    """
    if select not in SELECTIONS:
        raise ValueError(f"meta_learner.select={select!r}: expected one of {SELECTIONS}")
    in_features = num_models * num_classes
    if select == "best":
        return MetaLearner(in_features, num_classes, hidden, dropout)
    return FoldAverage([MetaLearner(in_features, num_classes, hidden, dropout) for _ in range(folds)])


def normalized_weights(count: int, weights: Sequence[float] | None) -> list[float]:
    """``weights`` scaled to sum to 1 (equal when None); negative or all-zero weights are an error.

    >>> normalized_weights(2, [3, 1])
    [0.75, 0.25]
    """
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} averaging weights for {count} models")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"averaging weights must be >= 0 and not all 0, got {list(weights)}")
    total = float(sum(weights))
    return [float(w) / total for w in weights]
