"""The stacked ensemble's meta-learner is seeded by its config without touching global RNG state."""
from __future__ import annotations

import numpy as np
import torch

from ensemble.meta_learner import MetaLearnerConfig, fit_meta_learner


def _fit() -> list[float]:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    logits = rng.normal(size=(30, 6)) + np.eye(3)[labels].repeat(2, axis=1)
    model, _ = fit_meta_learner(logits, labels, 3, MetaLearnerConfig(folds=3, epochs=20, seed=5))
    return [float(p.sum()) for p in model.parameters()]


def test_fit_is_seeded_and_leaves_global_state_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = _fit()
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream continues as if no fit ran
    torch.manual_seed(999)
    assert _fit() == first  # the config's seed alone decides the fit
