"""One fold of a dataset prepared with ``split.mode: folds``, seen as an ordinary train/val/test set.

Such a dataset's stats.json lists shard groups (``g000``, ``g001``, ...) as its splits and a
``folds`` plan naming, per fold, the groups of its train, val and test sets. ``fold_view``
returns a DatasetInfo whose train/val/test are those unions (shard lists concatenated, counts
summed) and whose class weights come from that fold's training counts, so the datamodule and
everything after it work unchanged, and evaluation still reads whole shards: every test clip
once per fold, every clip in exactly one fold's test set.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Sequence

from data_preparation.shards.shard_format import SPLITS, STATS_FILE, DatasetInfo, SplitInfo


def merge_splits(parts: Sequence[SplitInfo]) -> SplitInfo:
    """The union of shard groups: shards concatenated, counts and total duration summed."""
    per_class: Counter = Counter()
    per_corpus: Counter = Counter()
    for part in parts:
        per_class.update(part.per_class)
        per_corpus.update(part.per_corpus)
    nonempty = [p for p in parts if p.num_samples]
    total = sum(p.num_samples for p in parts)
    seconds = sum(p.duration.get("total", 0.0) for p in parts)
    duration = {"total": round(seconds, 3), "mean": round(seconds / total, 3) if total else 0.0,
                "min": min((p.duration["min"] for p in nonempty), default=0.0),
                "max": max((p.duration["max"] for p in nonempty), default=0.0)}
    return SplitInfo(shards=[s for p in parts for s in p.shards], num_samples=total,
                     per_class=dict(sorted(per_class.items())), per_corpus=dict(sorted(per_corpus.items())),
                     duration=duration)


def fold_class_weights(classes: Sequence[str], train: SplitInfo, fold: str) -> list[float]:
    """n / (num_classes x count) from the fold's training counts (as data_preparation.shards.stats)."""
    missing = [c for c in classes if not train.per_class.get(c)]
    if missing:
        raise ValueError(f"fold {fold}: class(es) {', '.join(missing)} have no training clip")
    return [round(train.num_samples / (len(classes) * train.per_class[c]), 4) for c in classes]


def fold_view(info: DatasetInfo, fold: int) -> DatasetInfo:
    """The dataset as fold ``fold`` sees it: train/val/test unions of its groups (log-mel too)."""
    if not info.folds:
        raise ValueError(f"data.fold={fold}: the dataset's {STATS_FILE} has no fold plan (prepared with split.mode=folds?)")
    if not 0 <= fold < len(info.folds):
        raise ValueError(f"data.fold={fold}: the dataset has folds 0..{len(info.folds) - 1}")
    plan = info.folds[fold]
    splits = {role: merge_splits([_group(info.splits, g) for g in plan[role]]) for role in SPLITS}
    logmel = info.logmel
    if logmel and logmel.get("splits"):
        logmel = {**logmel, "splits": {role: merge_splits([_group(logmel["splits"], g) for g in plan[role]])
                                       for role in SPLITS}}
    weights = fold_class_weights(info.classes, splits["train"], plan["name"])
    extra = {**info.extra, "fold": {"index": fold, "name": plan["name"]}}
    return dataclasses.replace(info, splits=splits, logmel=logmel, class_weights=weights, extra=extra, folds=None)


def _group(splits: dict[str, SplitInfo], name: str) -> SplitInfo:
    if name not in splits:
        raise ValueError(f"{STATS_FILE}: the fold plan names shard group {name!r}, which it does not list")
    return splits[name]
