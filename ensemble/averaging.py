"""Logit averaging: the baselines a stacked meta-learner has to beat."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def average_logits(logits: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted mean of [N, C] logit arrays; equal weights when ``weights`` is None.

    >>> average_logits([np.array([[0.0, 2.0]]), np.array([[2.0, 0.0]])], [3, 1]).tolist()
    [[0.5, 1.5]]
    """
    w = normalized_weights(len(logits), weights)
    return sum(wi * np.asarray(li, dtype=np.float64) for wi, li in zip(w, logits))


def normalized_weights(count: int, weights: Sequence[float] | None) -> list[float]:
    """``weights`` scaled to sum to 1 (equal when None); negative or all-zero weights are an error."""
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} averaging weights for {count} models")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"averaging weights must be >= 0 and not all 0, got {list(weights)}")
    total = float(sum(weights))
    return [float(w) / total for w in weights]
