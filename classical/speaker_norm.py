"""Speaker normalisation of utterance features: each speaker's features z-scored with that speaker's
own mean and standard deviation.

Acted corpora have few speakers, and functionals such as mean pitch or loudness differ more between
speakers than between emotions: with features standardised over the training speakers only, an
unseen speaker's clips all land in one region and the SVM gives them one class (SAVEE's KL and JK
under EmoBox's folds: UA 12.9% and 16.2%, below the 14.3% of chance). The classic baseline
(Schuller et al., "Acoustic emotion recognition: a benchmark comparison of performances", ASRU 2009)
normalises per speaker. The test speaker's statistics come from their clips' features only, never
their labels, so no label of the test set is used; the option is off unless a config turns it on
(``speaker_norm: true``), and results name the config.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from classical.features import SplitFeatures


def normalise_per_speaker(features: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
    """``features`` [N, D] with every speaker's rows z-scored by their own mean and std (std 0 -> 1).

    >>> normalise_per_speaker(np.array([[1.0], [3.0], [10.0], [10.0]]), ["a", "a", "b", "b"]).ravel().tolist()
    [-1.0, 1.0, 0.0, 0.0]
    """
    if len(speakers) != len(features):
        raise ValueError(f"{len(speakers)} speakers for {len(features)} feature rows")
    rows: dict[str, list[int]] = defaultdict(list)
    for index, speaker in enumerate(speakers):
        rows[speaker].append(index)
    out = np.empty_like(features, dtype=np.float64)
    for indices in rows.values():
        block = features[indices].astype(np.float64)
        std = block.std(axis=0)
        out[indices] = (block - block.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return out.astype(features.dtype)


def speaker_normalised(data: SplitFeatures, speaker_of: dict[str, str]) -> SplitFeatures:
    """``data`` with its features normalised per speaker (``speaker_of``: sample key -> speaker)."""
    import dataclasses

    missing = [k for k in data.keys if k not in speaker_of]
    if missing:
        raise ValueError(f"no speaker for {len(missing)} sample(s), e.g. {missing[0]}")
    return dataclasses.replace(data, features=normalise_per_speaker(data.features, [speaker_of[k] for k in data.keys]))
