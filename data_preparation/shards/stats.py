"""stats.json (DatasetInfo): classes, class weights for weighted cross-entropy, per-split counts."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from data_preparation.shards.shard_format import SplitInfo


def split_info(shards: list[str], labels: Sequence[str], corpora: Sequence[str], durations: Sequence[float]) -> SplitInfo:
    """Counts per class and corpus and duration summary (seconds) of one split."""
    values = np.asarray(durations, dtype=float)
    duration = (
        {"total": round(float(values.sum()), 3), "mean": round(float(values.mean()), 3),
         "min": round(float(values.min()), 3), "max": round(float(values.max()), 3)}
        if values.size else {"total": 0.0, "mean": 0.0, "min": 0.0, "max": 0.0}
    )
    return SplitInfo(
        shards=shards, num_samples=len(labels), per_class=dict(sorted(Counter(labels).items())),
        per_corpus=dict(sorted(Counter(corpora).items())), duration=duration,
    )


def class_weights(classes: Sequence[str], train_labels: Sequence[str]) -> list[float]:
    """n / (num_classes x count) from the training counts (sklearn's "balanced" weights).

    >>> class_weights(["a", "b"], ["a", "a", "a", "b"])
    [0.6667, 2.0]
    """
    counts = Counter(train_labels)
    missing = [c for c in classes if counts[c] == 0]
    if missing:
        raise ValueError(
            f"class(es) {', '.join(missing)} have no training clip after the split; add data, raise "
            "min_class_share to drop them, or use split.mode=stratified"
        )
    total = len(train_labels)
    return [round(total / (len(classes) * counts[c]), 4) for c in classes]
