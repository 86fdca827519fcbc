"""Train/val/test assignment: stratified by class (seed 000's 70/15/15) or speaker-independent.

The seeds split clips at random, so the same actor sat in train and test and their scores are
inflated; the speaker mode keeps every speaker in one split and balances the classes as far as
the speakers allow. Both are deterministic given the seed.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Mapping, Sequence

import numpy as np

from data_preparation.shards.shard_format import SPLITS


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """Three non-negative fractions (train, val, test) summing to 1."""
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"split.fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    return tuple(float(f) for f in fractions)


def stratified_split(labels: Sequence[str], fractions: Sequence[float], seed: int) -> list[str]:
    """Split name per item: each class is shuffled and cut at the cumulative fractions.

    >>> stratified_split(["a"] * 20, [0.7, 0.15, 0.15], seed=0).count("train")
    14
    """
    fractions = check_fractions(fractions)
    rng = np.random.default_rng(seed)
    result = [""] * len(labels)
    by_class: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_class[label].append(index)
    cuts = np.cumsum(fractions)
    for label in sorted(by_class):
        members = np.array(by_class[label])[rng.permutation(len(by_class[label]))]
        bounds = np.round(cuts * len(members)).astype(int)
        for split, part in zip(SPLITS, np.split(members, bounds[:-1])):
            for index in part:
                result[index] = split
    return result


def speaker_split(
    labels: Sequence[str], speakers: Sequence[str], fractions: Sequence[float], seed: int
) -> list[str]:
    """Split name per item with no speaker in two splits (``balanced_groups`` over the splits)."""
    counts_by_speaker: dict[str, Counter] = defaultdict(Counter)
    for label, speaker in zip(labels, speakers):
        counts_by_speaker[speaker][label] += 1
    split_of = speaker_split_counts(counts_by_speaker, fractions, seed)
    return [split_of[speaker] for speaker in speakers]


def speaker_split_counts(counts_by_speaker: Mapping[str, Counter], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """Split name per speaker from each speaker's clip count per class (``speaker_split`` on counts).

    The fold planner calls it with counts per speaker, never a list per clip (folds.py).
    """
    fractions = check_fractions(fractions)
    wanted = [s for s, f in zip(SPLITS, fractions) if f > 0]
    if len(counts_by_speaker) < len(wanted):
        raise ValueError(
            f"split.mode=speaker needs at least {len(wanted)} speakers, found {len(counts_by_speaker)}; "
            "use split.mode=stratified"
        )
    names = sorted(counts_by_speaker)
    classes = sorted({c for counts in counts_by_speaker.values() for c, n in counts.items() if n > 0})
    matrix = np.array([[counts_by_speaker[s][c] for c in classes] for s in names], float)
    wanted_index = [SPLITS.index(n) for n in wanted]
    owner = balanced_groups(matrix, [fractions[i] for i in wanted_index], seed)
    return {names[i]: SPLITS[wanted_index[g]] for i, g in enumerate(owner)}


def balanced_groups(matrix: np.ndarray, fractions: Sequence[float], seed: int) -> list[int]:
    """Group index per speaker (row of ``matrix`` [speaker, class] counts), no speaker split.

    Speakers go, largest first (ties in seeded random order), to the group whose per-class
    counts move closest to their targets (fraction x class total); a group still empty when
    only as many speakers remain as there are empty groups gets one of them, so every group
    is used when there are at least as many speakers as groups. Serves both the 70/15/15
    splits and K speaker folds (K equal fractions).

    >>> balanced_groups(np.array([[2, 0], [0, 2], [2, 0], [0, 2]], float), [0.5, 0.5], seed=0)  # one a, one b each
    [1, 0, 0, 1]
    """
    order = _speaker_order(matrix, seed)
    targets = np.outer(fractions, matrix.sum(axis=0))  # [group, class]
    assigned = np.zeros_like(targets)
    owner = [0] * len(matrix)
    groups = list(range(len(fractions)))
    for position, speaker in enumerate(order):
        empty = [g for g in groups if not assigned[g].any()]
        candidates = empty if len(order) - position <= len(empty) else groups
        owner[speaker] = min(candidates, key=lambda g: _cost(assigned, targets, g, matrix[speaker]))
        assigned[owner[speaker]] += matrix[speaker]
    return owner


def _speaker_order(matrix: np.ndarray, seed: int) -> list[int]:
    shuffled = np.random.default_rng(seed).permutation(len(matrix))
    sizes = matrix.sum(axis=1)
    return sorted(shuffled.tolist(), key=lambda i: -sizes[i])  # stable: seeded order among equal sizes


def _cost(assigned: np.ndarray, targets: np.ndarray, split: int, speaker_counts: np.ndarray) -> float:
    """Squared relative distance of all split x class counts from their targets after the move."""
    trial = assigned.copy()
    trial[split] += speaker_counts
    scale = np.maximum(targets.sum(axis=0, keepdims=True), 1.0)
    return float((((trial - targets) / scale) ** 2).sum())
