"""Logit averaging: the baselines a stacked meta-learner has to beat."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from prediction.combiners import normalized_weights


def average_logits(logits: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted mean of [N, C] logit arrays; equal weights when ``weights`` is None.

    >>> average_logits([np.array([[0.0, 2.0]]), np.array([[2.0, 0.0]])], [3, 1]).tolist()
    [[0.5, 1.5]]
    """
    w = normalized_weights(len(logits), weights)
    return sum(wi * np.asarray(li, dtype=np.float64) for wi, li in zip(w, logits))
