"""Cross-validation folds over one prepared dataset: speaker K-fold / LOSO, by attribute, by corpus.

A fold is a role per clip: ``test`` (the held-out part), ``train``, ``val`` (carved from that
fold's training speakers, corpus by corpus, or from every training speaker's clips) or ``""``
(not used in that fold). Audio is decoded and written once: ``fold_groups`` cuts the clips into
the groups of clips that play the same role in every fold, the preparation writes one set of
shards per group, and each fold's train/val/test is a union of whole groups
(``data_preparation/split/fold_plan.py``), so every evaluation still reads whole shards and sees
every clip exactly once.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Hashable, Sequence

import numpy as np

from data_preparation.split.splits import balanced_groups, speaker_split_counts

TRAIN, VAL, TEST, UNUSED = "train", "val", "test", ""


def speaker_folds(labels: Sequence[str], corpora: Sequence[str], speakers: Sequence[str], k: int | None,
                  seed: int, pinned_train: Sequence[bool] | None = None) -> tuple[list[int], list[str]]:
    """(test fold per item, fold names): no speaker in two test folds.

    ``k`` None is leave-one-speaker-out over the whole merge (one fold per corpus/speaker).
    Otherwise each corpus's speakers are dealt to the K folds on their own, balancing classes
    (``balanced_groups``), so every fold's test set holds about 1/K of every corpus; a corpus
    with fewer than K speakers is tested in as many folds as it has speakers. Items pinned to
    train get fold -1 (never tested).
    """
    pinned = list(pinned_train or [False] * len(labels))
    owners = [f"{c}/{s}" for c, s in zip(corpora, speakers)]
    if k is None:
        names = sorted({o for o, p in zip(owners, pinned) if not p})
        position = {name: n for n, name in enumerate(names)}
        return [-1 if p else position[o] for o, p in zip(owners, pinned)], names
    if k < 2:
        raise ValueError(f"split.folds.k={k}: need at least 2 folds (null = leave one speaker out)")
    fold_of: dict[str, int] = {}
    sizes = np.zeros(k)  # test clips per fold so far, over the corpora already dealt
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, corpus in enumerate(corpora):
        if not pinned[i]:
            rows_of[corpus].append(i)
    for corpus in sorted(set(corpora)):
        rows = rows_of[corpus]
        names = sorted({owners[i] for i in rows})
        if not names:
            continue
        classes = sorted({labels[i] for i in rows})
        counts = Counter((owners[i], labels[i]) for i in rows)
        matrix = np.array([[counts[(n, c)] for c in classes] for n in names], float)
        folds = np.array(balanced_groups(matrix, [1.0 / k] * k, seed))
        per_fold = np.bincount(folds, weights=matrix.sum(axis=1), minlength=k)
        # rotate this corpus's folds so its bigger folds land where the merge's folds are small
        shift = min(range(k), key=lambda r: (float(np.square(sizes + np.roll(per_fold, r)).sum()), r))
        sizes += np.roll(per_fold, shift)
        for name, fold in zip(names, folds):
            fold_of[name] = int((fold + shift) % k)
    return [-1 if p else fold_of[o] for o, p in zip(owners, pinned)], [f"fold{f}" for f in range(k)]


def value_folds(values: Sequence[str], what: str) -> tuple[list[int], list[str]]:
    """(test fold per item, fold names): one fold per distinct value, in sorted order.

    For leave-one-session-out (``attributes.session`` of IEMOCAP) and leave-one-corpus-out.

    >>> value_folds(["s2", "s1", "s2"], "session")
    ([1, 0, 1], ['session=s1', 'session=s2'])
    """
    names = sorted(set(values))
    if len(names) < 2:
        raise ValueError(f"folds by {what}: need at least 2 distinct values, found {names}")
    return [names.index(v) for v in values], [f"{what}={v}" for v in names]


@dataclass
class Unit:
    """The clips of one owner (corpus/speaker) that share a key (their test fold, or their roles in
    a published partition): they play the same role in every fold, so the planner decides roles per
    unit, never per clip and fold. Leave-one-speaker-out over 100,000 clips of 1,000 speakers is
    then 1,000 x 1,000 decisions, not 1,000 lists of 100,000 roles."""

    corpus: str
    owner: str
    key: Hashable
    labels: Counter = field(default_factory=Counter)
    validates: bool = False   # split.folds.val_by 'clip': these clips validate wherever they would train

    @property
    def clips(self) -> int:
        return sum(self.labels.values())


def make_units(owners: Sequence[str], corpora: Sequence[str], labels: Sequence[str],
               keys: Sequence[Hashable], validates: Sequence[bool] | None = None) -> tuple[list[int], list[Unit]]:
    """(unit index per clip, units in order of their first clip)."""
    index: dict[tuple[str, Hashable, bool], int] = {}
    units: list[Unit] = []
    unit_of = []
    flags = validates if validates is not None else [False] * len(owners)
    for owner, corpus, label, key, flag in zip(owners, corpora, labels, keys, flags):
        number = index.setdefault((owner, key, flag), len(units))
        if number == len(units):
            units.append(Unit(corpus, owner, key, validates=flag))
        units[number].labels[label] += 1
        unit_of.append(number)
    return unit_of, units


def roles_from_test_folds(units: Sequence[Unit], count: int) -> list[list[str]]:
    """Per fold, the role per unit (keyed by test fold) before validation is carved: test in its own fold, train elsewhere."""
    return [[TEST if u.key == fold else TRAIN for u in units] for fold in range(count)]


def validation_clips(owners: Sequence[str], labels: Sequence[str], names: Sequence[str], fraction: float,
                     seed: int) -> list[bool]:
    """Per clip, whether it is one of the ``fraction`` of its speaker's clips of its class that validate
    (``val_by: clip``). Chosen by a seeded hash of the clip's name, so the choice does not depend on
    the order of the manifest; one pass over the clips and a sort per speaker and class. A speaker
    whose classes are each too small to give a clip (a handful of clips) still gives its first
    clip by that hash, if it has two or more.
    """
    check_val_fraction(fraction)
    ranked: dict[tuple[str, str], list[tuple[bytes, int]]] = defaultdict(list)
    for number, (owner, label, name) in enumerate(zip(owners, labels, names)):
        ranked[(owner, label)].append((hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest(), number))
    chosen = [False] * len(owners)
    first: dict[str, tuple[bytes, int]] = {}
    counts: Counter = Counter()
    giving: set[str] = set()
    for (owner, _), clips in ranked.items():
        clips.sort()
        first[owner] = min(first.get(owner, clips[0]), clips[0])
        counts[owner] += len(clips)
        for _, number in clips[:round(fraction * len(clips))]:
            chosen[number] = True
            giving.add(owner)
    for owner, (_, number) in first.items():
        if counts[owner] >= 2 and owner not in giving:
            chosen[number] = True
    return chosen


def check_val_fraction(fraction: float) -> None:
    if not 0 < fraction < 1:
        raise ValueError(f"split.folds.val_fraction={fraction}: must be in (0, 1)")


def carve_validation(roles: list[str], units: Sequence[Unit], fraction: float, seed: int,
                     by: str = "speaker") -> list[str]:
    """Move about ``fraction`` of each corpus's training speakers of one fold (roles per unit) to ``val``;
    ``by`` 'clip': move the units chosen by ``validation_clips`` instead, so every speaker still trains.

    A corpus with a single training speaker keeps it in train (it cannot give a speaker away).
    """
    check_val_fraction(fraction)
    if by == "clip":
        return [VAL if role == TRAIN and u.validates else role for u, role in zip(units, roles)]
    counts: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))  # corpus -> owner -> labels
    for unit, role in zip(units, roles):
        if role == TRAIN:
            counts[unit.corpus][unit.owner].update(unit.labels)
    split_of: dict[str, str] = {}
    for corpus in sorted(counts):
        if len(counts[corpus]) >= 2:
            split_of.update(speaker_split_counts(counts[corpus], [1 - fraction, fraction, 0.0], seed))
    return [split_of.get(u.owner, role) if role == TRAIN else role for u, role in zip(units, roles)]


def fold_groups(roles: Sequence[Sequence[str]]) -> tuple[list[str], list[dict[str, list[str]]]]:
    """(group name per item, per fold the groups of each role) from per-fold roles.

    Items with the same role in every fold form one group; a fold's train/val/test is then a
    union of groups. Groups are named ``g000``.. in sorted order of their role signatures.

    >>> fold_groups([["test", "train", "train"], ["train", "test", "test"]])
    (['g000', 'g001', 'g001'], [{'train': ['g001'], 'val': [], 'test': ['g000']}, {'train': ['g000'], 'val': [], 'test': ['g001']}])
    """
    count = len(roles[0]) if roles else 0
    signatures = [tuple(fold[i] for fold in roles) for i in range(count)]
    names = {sig: f"g{n:03d}" for n, sig in enumerate(sorted(set(signatures)))}
    plan = []
    for position in range(len(roles)):
        plan.append({role: sorted(name for sig, name in names.items() if sig[position] == role)
                     for role in (TRAIN, VAL, TEST)})
    return [names[s] for s in signatures], plan


def check_folds(roles: Sequence[Sequence[str]], speakers: Sequence[str], speaker_disjoint: bool = True,
                shared_val: bool = False) -> None:
    """Raise unless every fold has train, val and test clips and (``speaker_disjoint``) no speaker
    in two roles of a fold; a published partition file may mix speakers, so it skips that check.
    ``shared_val`` (``val_by: clip``): a speaker may train and validate, never also test."""
    for number, fold in enumerate(roles):
        present = set(fold)
        for role in (TRAIN, VAL, TEST):
            if role not in present:
                raise ValueError(f"fold {number} has no {role} clips: too few speakers for this protocol "
                                 "(lower split.folds.k or split.folds.val_fraction)")
        owner: dict[str, str] = {}
        for speaker, role in zip(speakers, fold):
            role = TRAIN if shared_val and role == VAL else role
            if speaker_disjoint and role and owner.setdefault(speaker, role) != role:
                raise ValueError(f"fold {number}: speaker {speaker} is in both {owner[speaker]} and {role}")


def format_fold_plan(plan: Sequence[dict]) -> str:
    """The printed fold summary: clips / speakers per role and the test set per corpus."""
    lines = [f"{len(plan)} folds (clips / speakers):"]
    for fold in plan:
        roles = ", ".join(f"{r} {fold['clips'][r]}/{fold['speakers'][r]}" for r in (TRAIN, VAL, TEST))
        corpora = ", ".join(f"{c} {n}" for c, n in fold["test_per_corpus"].items())
        lines.append(f"  {fold['name']}: {roles}; test per corpus: {corpora}")
    return "\n".join(lines)
