"""Decide every kept clip's split (or, with folds, its shard group) and summarise it per corpus.

``split.mode`` picks the rule: ``speaker`` and ``stratified`` give train/val/test; ``attribute``
takes a split the corpus ships (MELD's official train/dev/test); ``folds`` gives shard groups
plus a fold plan (data_preparation/split/folds.py) that stats.json carries and the datamodule follows.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from data_preparation.split import folds as F
from data_preparation.config import FoldSpec, SplitSpec
from data_preparation.split.corpus_splits import corpus_summary, pinned_splits, split_within_corpora
from data_preparation.split.emobox import match_partition, read_partition
from data_preparation.inputs.entries import Entry
from data_preparation.shards.shard_format import SPLITS
from data_preparation.split.splits import stratified_split


@dataclass
class SplitOutcome:
    """``splits``: per kept entry, its split (train/val/test) or shard group (folds mode)."""

    splits: list[str]
    by_corpus: dict[str, dict]
    folds: list[dict] | None = None
    partition: dict | None = None


def assign(entries: Sequence[Entry], spec: SplitSpec) -> SplitOutcome:
    """The outcome for the kept entries of ``entries`` (the dropped ones only inform partition matching)."""
    kept = [e for e in entries if e.kept]
    labels, corpora, speakers = [e.label or "" for e in kept], [e.corpus for e in kept], [e.speaker for e in kept]
    if spec.mode == "folds":
        return _assign_folds(entries, kept, spec)
    rules: dict[str, str] = {}
    if spec.mode == "speaker":
        splits, rules = split_within_corpora(labels, corpora, speakers, spec.fractions, spec.seed,
                                             spec.few_speakers, spec.pin)
    elif spec.mode == "attribute":
        splits = _attribute_splits(kept, spec)
    else:
        splits = stratified_split(labels, spec.fractions, spec.seed)
        pinned = pinned_splits(corpora, speakers, spec.pin)
        splits = [p or s for p, s in zip(pinned, splits)]
    return SplitOutcome(splits, corpus_summary(corpora, speakers, splits, rules))


def _attribute_splits(kept: Sequence[Entry], spec: SplitSpec) -> list[str]:
    result = []
    for entry in kept:
        if spec.attribute not in entry.attributes:
            raise ValueError(f"split.attribute={spec.attribute!r}: {entry.corpus}/{entry.source} has no such attribute "
                             f"(has {sorted(entry.attributes)})")
        value = str(entry.attributes[spec.attribute])
        split = spec.attribute_values.get(value, value)
        if split not in SPLITS:
            raise ValueError(f"split.attribute={spec.attribute!r}: value {value!r} of {entry.corpus}/{entry.source} is "
                             f"not a split; map it in split.attribute_values (e.g. {{dev: val}})")
        result.append(split)
    return result


def _assign_folds(entries: Sequence[Entry], kept: Sequence[Entry], spec: SplitSpec) -> SplitOutcome:
    """Roles are decided per unit (folds.Unit: one owner's clips with one test fold), so the plan costs
    one pass over the clips plus folds x units, however many clips each speaker has."""
    folds: FoldSpec = spec.folds
    labels, corpora, speakers = [e.label or "" for e in kept], [e.corpus for e in kept], [e.speaker for e in kept]
    owners = [f"{c}/{s}" for c, s in zip(corpora, speakers)]
    pinned = [p == "train" for p in pinned_splits(corpora, speakers, spec.pin, allowed=("train",))]
    partition = None
    validates = (F.validation_clips(owners, labels, [e.source for e in kept], folds.val_fraction, spec.seed)
                 if folds.val_by == "clip" else None)
    if folds.by == "partition":
        item_roles, names, partition = _partition_roles(entries, kept, folds)
        unit_of, units = F.make_units(owners, corpora, labels, list(zip(*item_roles)), validates)
        roles = [[u.key[fold] for u in units] for fold in range(len(names))]
    else:
        if folds.by == "speaker":
            test_fold, names = F.speaker_folds(labels, corpora, speakers, folds.k, spec.seed, pinned)
        else:
            values = corpora if folds.by == "corpus" else _attribute_values(kept, folds.attribute)
            test_fold, names = F.value_folds(values, folds.by if folds.by == "corpus" else folds.attribute)
            test_fold = [-1 if p else f for p, f in zip(pinned, test_fold)]
        unit_of, units = F.make_units(owners, corpora, labels, test_fold, validates)
        roles = F.roles_from_test_folds(units, len(names))
    roles = [F.carve_validation(r, units, folds.val_fraction, spec.seed + n, folds.val_by) for n, r in enumerate(roles)]
    F.check_folds(roles, [u.owner for u in units], speaker_disjoint=folds.by != "partition",
                  shared_val=folds.val_by == "clip")
    unit_groups, plan = F.fold_groups(roles)
    groups = [unit_groups[u] for u in unit_of]
    described = [_describe_fold(name, part, fold_roles, units) for name, part, fold_roles in zip(names, plan, roles)]
    summary = corpus_summary(corpora, speakers, groups, {c: f"{len(names)} folds by {folds.by}" for c in set(corpora)})
    return SplitOutcome(groups, summary, described, partition)


def _attribute_values(kept: Sequence[Entry], attribute: str) -> list[str]:
    missing = [e for e in kept if attribute not in e.attributes]
    if missing:
        raise ValueError(f"split.folds.attribute={attribute!r}: {len(missing)} clip(s) lack it, e.g. "
                         f"{missing[0].corpus}/{missing[0].source}")
    return [str(e.attributes[attribute]) for e in kept]


def _partition_roles(entries: Sequence[Entry], kept: Sequence[Entry], folds: FoldSpec) -> tuple[list[list[str]], list[str], dict]:
    """Per-fold roles from EmoBox partition files; other corpora train in every fold."""
    corpus_names = sorted({e.corpus for e in entries})
    corpus = folds.partition_corpus or (corpus_names[0] if len(corpus_names) == 1 else None)
    if corpus not in corpus_names:
        raise ValueError(f"split.folds.partition_corpus={folds.partition_corpus!r}: name one of the corpora {corpus_names}")
    members = [e for e in entries if e.corpus == corpus]
    match = match_partition(read_partition(Path(folds.partition_dir)), [e.source for e in members],
                            [e.reason for e in members], [_canonical_name(e) for e in members])
    position = {id(e): i for i, e in enumerate(members)}
    roles = []
    for fold in range(len(match.fold_names)):
        row = []
        for entry in kept:
            i = position.get(id(entry))
            if i is None:
                row.append(F.TRAIN)
            else:
                row.append(F.TEST if match.test_fold[i] == fold else F.TRAIN if fold in match.train_folds[i] else F.UNUSED)
        roles.append(row)
    return roles, match.fold_names, {"corpus": corpus, "dir": folds.partition_dir, **match.report}


def _canonical_name(entry: Entry) -> str | None:
    """The conventional name a reader gives a misnamed file (corpora/tess.py), which partitions use."""
    value = entry.attributes.get("canonical_name")
    return value if isinstance(value, str) else None


def _describe_fold(name: str, groups: dict[str, list[str]], roles: Sequence[str], units: Sequence[F.Unit]) -> dict:
    """One fold of stats.json's plan: its groups per role and what its test set holds."""
    test = [u for u, r in zip(units, roles) if r == F.TEST]
    per_corpus: Counter = Counter()
    for unit in test:
        per_corpus[unit.corpus] += unit.clips
    return {
        "name": name, **groups,
        "clips": {role: sum(u.clips for u, r in zip(units, roles) if r == role) for role in (F.TRAIN, F.VAL, F.TEST)},
        "speakers": {role: len({u.owner for u, r in zip(units, roles) if r == role}) for role in (F.TRAIN, F.VAL, F.TEST)},
        "test_per_corpus": dict(sorted(per_corpus.items())),
    }


def fold_split_names(outcome: SplitOutcome) -> list[str]:
    """The split (or group) names the preparation writes shards for."""
    if outcome.folds is None:
        return list(SPLITS)
    return sorted(set(outcome.splits))
