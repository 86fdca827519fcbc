"""Seed 000's meta-learner: a small feed-forward network over the base models' concatenated logits,
trained with K-fold cross-validation and weighted cross-entropy on validation logits.

Seed 000 kept the fold with the best *test* F1, which lets the test set pick the model. Here the
best fold is the one with the best macro F1 on its own held-out validation fold, so the test set
stays untouched until the final report; ``select="average"`` averages the K fold models instead.
The networks themselves are prediction/combiners.py's, which loads them from a saved ensemble.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from prediction.combiners import SELECTIONS, FoldAverage, MetaLearner


@dataclass(frozen=True)
class MetaLearnerConfig:
    """Hyperparameters of the meta-learner and its K-fold training (configs/after_training/ensemble.yaml)."""

    hidden: int = 64
    dropout: float = 0.2
    folds: int = 5
    select: str = "best"  # "best" held-out fold, or "average" of all folds
    epochs: int = 300  # full-batch steps; validation logits are small
    lr: float = 1e-2
    weight_decay: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.select not in SELECTIONS:
            raise ValueError(f"meta_learner.select={self.select!r}: expected one of {SELECTIONS}")
        if self.folds < 2:
            raise ValueError(f"meta_learner.folds={self.folds}: K-fold needs at least 2 folds")


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """n / (C * count_c), as the training weights; classes absent from ``labels`` get weight 0.

    >>> balanced_class_weights(np.array([0, 0, 0, 1]), 2).tolist()
    [0.6666666666666666, 2.0]
    """
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return np.divide(len(labels), num_classes * counts, out=np.zeros_like(counts), where=counts > 0)


def _train_one(features: Tensor, labels: Tensor, num_classes: int, config: MetaLearnerConfig,
               weights: Tensor, seed: int) -> MetaLearner:
    # nn.Linear's initialisation and dropout draw from torch's global generator (neither takes a
    # generator argument): fork it, so the fit is seeded without changing the caller's random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        learner = MetaLearner(features.shape[1], num_classes, config.hidden, config.dropout)
        learner.mean.copy_(features.mean(dim=0))
        learner.std.copy_(features.std(dim=0).clamp_min(1e-6) if len(features) > 1 else torch.ones(features.shape[1]))
        optimizer = torch.optim.AdamW(learner.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        criterion = nn.CrossEntropyLoss(weight=weights)
        learner.train()
        for _ in range(config.epochs):
            optimizer.zero_grad()
            criterion(learner(features), labels).backward()
            optimizer.step()
        return learner.eval()


@contextmanager
def _single_thread() -> Iterator[None]:
    """Run tiny full-batch steps on one thread: on a busy 2-core machine two threads made the
    K-fold fit 13x slower (4.8 s vs 0.38 s for 150 steps), the cost being synchronisation."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _macro_f1(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> float:
    from sklearn.metrics import f1_score

    present = sorted(set(labels.tolist()))  # folds may miss rare classes; score the classes they hold
    return float(f1_score(labels, predictions, labels=present, average="macro", zero_division=0)) if present else 0.0


def fit_meta_learner(
    stacked_logits: np.ndarray, labels: np.ndarray, num_classes: int, config: MetaLearnerConfig,
    class_weights: Sequence[float] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """K-fold training on [N, M*C] validation logits; returns the chosen model and the fold scores.

    Folds are stratified when every class has at least ``folds`` samples, plain shuffled K-fold
    otherwise. ``class_weights`` default to balanced weights from ``labels``.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if len(labels) < config.folds:
        raise ValueError(f"{len(labels)} validation samples cannot be split into {config.folds} folds")
    counts = np.bincount(labels, minlength=num_classes)
    stratified = counts[counts > 0].min() >= config.folds
    splitter = (StratifiedKFold if stratified else KFold)(config.folds, shuffle=True, random_state=config.seed)
    weights = torch.tensor(
        balanced_class_weights(labels, num_classes) if class_weights is None else class_weights, dtype=torch.float32
    )
    features = torch.as_tensor(stacked_logits, dtype=torch.float32)
    targets = torch.as_tensor(labels, dtype=torch.long)
    learners, scores = [], []
    with _single_thread():
        fitted = [
            (_train_one(features[train], targets[train], num_classes, config, weights, config.seed + fold), held)
            for fold, (train, held) in enumerate(splitter.split(stacked_logits, labels))
        ]
    for learner, held_index in fitted:
        with torch.no_grad():
            predicted = learner(features[held_index]).argmax(dim=1).numpy()
        scores.append(_macro_f1(labels[held_index], predicted, num_classes))
        learners.append(learner)
    best = int(np.argmax(scores))
    model: nn.Module = learners[best] if config.select == "best" else FoldAverage(learners)
    summary = {"fold_macro_f1": scores, "best_fold": best, "stratified": bool(stratified), **asdict(config)}
    return model, summary
