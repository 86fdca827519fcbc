"""Published partitions in EmoBox's format (Ma et al., Interspeech 2024, github.com/emo-box/EmoBox).

EmoBox ships, per dataset, ``data/<dataset>/fold_<k>/<dataset>_{train,test}_fold_<k>.jsonl``:
one JSON object per line, e.g.::

    {"key": "ravdess-03-01-07-02-02-02-11",
     "wav": "downloads/ravdess/audio/Audio_Speech_Actors_01-24/Actor_11/03-01-07-02-02-02-11.wav",
     "emo": "Disgust", "length": 3.97, "sample_rate": 48000, "channel": 1}

plus ``label_map.json``. The ``wav`` path is where EmoBox's authors downloaded the corpus, not
where the user did, so clips are matched to the reader's records by file name (stem, case
folded) within the corpus; when several records share a stem, the one whose trailing folders
match the ``wav`` path best wins, and of equally good ones the single clip preparation kept (a
copy that nests the corpus twice, as Kaggle's TESS does, holds every name twice: one copy is kept,
the other set aside as a duplicate). EmoBox also flattens speaker folders into the name
(SAVEE's ``downloads/savee/JE_n23.wav`` is the release's ``AudioData/JE/n23.wav``), so a record is
also found as ``<folder>_<stem>`` when no record has the entry's stem; and it names a misnamed file
by its conventional name (TESS's ``OA_bite_neutral.wav`` is ``OAF_bite_neutral``), which a reader
gives as the record's ``canonical_name`` and the matcher accepts as a second stem. Every entry that matches no
record, and every record no entry names, is counted and reported with examples, never silently dropped.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Sequence

FILE_NAME = re.compile(r"^(?P<dataset>.+)_(?P<part>train|test)_fold_(?P<fold>\d+)\.jsonl$")
EXAMPLES = 5


@dataclass(frozen=True)
class PartitionEntry:
    """One line of a partition file."""

    key: str
    wav: str
    emo: str
    fold: str  # the folder name, e.g. "fold_1"
    part: str  # "train" or "test"
    where: str  # file:line, for messages


def read_partition(folder: str | Path) -> list[PartitionEntry]:
    """Every entry of every ``fold_<k>/<dataset>_{train,test}_fold_<k>.jsonl`` under ``folder``."""
    folder = Path(folder)
    files = sorted(p for p in folder.glob("fold_*/*.jsonl") if FILE_NAME.match(p.name))
    if not files:
        raise FileNotFoundError(f"split.folds.partition_dir={folder}: no fold_<k>/<dataset>_{{train,test}}_fold_<k>.jsonl "
                                "files (EmoBox's data/<dataset> layout)")
    entries: list[PartitionEntry] = []
    for path in files:
        match = FILE_NAME.match(path.name)
        if path.parent.name != f"fold_{match['fold']}":
            raise ValueError(f"{path}: file of fold {match['fold']} inside folder {path.parent.name}")
        entries += _read_file(path, path.parent.name, match["part"])
    return entries


def _read_file(path: Path, fold: str, part: str) -> list[PartitionEntry]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not a JSON object: {error}") from error
        if not isinstance(row, dict) or not isinstance(row.get("wav"), str):
            raise ValueError(f"{where}: expected an object with a string 'wav' path, got {line[:120]!r}")
        entries.append(PartitionEntry(str(row.get("key", "")), row["wav"], str(row.get("emo", "")), fold, part, where))
    return entries


@dataclass
class PartitionMatch:
    """Partition entries matched to records (indices into the ``sources`` given to ``match_partition``)."""

    fold_names: list[str]
    test_fold: list[int]  # per record: index into fold_names, -1 when in no test file
    train_folds: list[set[int]]  # per record: folds whose train file names it
    report: dict = field(default_factory=dict)


def _stem(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).stem.casefold()


def _parts(path: str) -> list[str]:
    return [p.casefold() for p in PurePosixPath(path.replace("\\", "/")).parts]


def _folder_stem(path: str) -> str:
    """``<folder>_<stem>``, case folded: the name EmoBox gives a clip of a speaker folder (``JE/n23`` -> ``je_n23``)."""
    parts = _parts(path)
    return f"{parts[-2]}_{_stem(path)}" if len(parts) > 1 else _stem(path)


def _best(candidates: list[int], wav: str, sources: Sequence[str], kept: Sequence[bool]) -> int | None:
    """The candidate whose path shares the most trailing components with ``wav``, a kept clip before
    a set-aside one; None on a tie."""
    target = _parts(wav)[::-1]

    def shared(index: int) -> int:
        count = 0
        for a, b in zip(target, _parts(sources[index])[::-1]):
            if a != b:
                break
            count += 1
        return count

    scores = sorted(((shared(i), kept[i], i) for i in candidates), reverse=True)
    return scores[0][2] if len(scores) == 1 or scores[0][:2] > scores[1][:2] else None


def match_partition(entries: Sequence[PartitionEntry], sources: Sequence[str],
                    reasons: Sequence[object | None], aliases: Sequence[str | None] | None = None) -> PartitionMatch:
    """Match entries to a corpus's records (``sources``: paths relative to the corpus root;
    ``aliases``: per record its conventional name where the file's own name breaks the convention).

    ``reasons``: why preparation set a record aside (None: kept). An entry whose clip was set
    aside is reported with that reason; an entry that names no record is reported as unmatched.
    A kept record in two test files breaks "every clip in exactly one test fold" and is an error.
    """
    by_stem: dict[str, list[int]] = defaultdict(list)
    by_folder_stem: dict[str, list[int]] = defaultdict(list)
    for index, source in enumerate(sources):
        by_stem[_stem(source)].append(index)
        by_folder_stem[_folder_stem(source)].append(index)
        alias = aliases[index] if aliases else None
        if alias and alias.casefold() != _stem(source):
            by_stem[alias.casefold()].append(index)
    kept_flags = [r is None for r in reasons]
    fold_names = sorted({e.fold for e in entries}, key=lambda n: (len(n), n))
    test_fold, train_folds = [-1] * len(sources), [set() for _ in sources]
    unmatched, set_aside, ambiguous = [], [], []
    for entry in entries:
        candidates = by_stem.get(_stem(entry.wav)) or by_folder_stem.get(_stem(entry.wav), [])
        index = _best(candidates, entry.wav, sources, kept_flags) if candidates else None
        if index is None:
            (ambiguous if candidates else unmatched).append(entry)
            continue
        if reasons[index] is not None:
            set_aside.append((entry, reasons[index]))
            continue
        fold = fold_names.index(entry.fold)
        if entry.part == "train":
            train_folds[index].add(fold)
        elif test_fold[index] not in (-1, fold):
            raise ValueError(f"{entry.where}: {sources[index]} is already in the test file of "
                             f"{fold_names[test_fold[index]]}; a clip may be tested in one fold only")
        else:
            test_fold[index] = fold
    kept = [i for i, r in enumerate(reasons) if r is None]
    unnamed = [i for i in kept if test_fold[i] == -1 and not train_folds[i]]
    report = {
        "entries": len(entries), "folds": fold_names,
        "matched": len(entries) - len(unmatched) - len(ambiguous) - len(set_aside),
        "unmatched_entries": _examples([f"{e.where}: {e.wav}" for e in unmatched]),
        "ambiguous_entries": _examples([f"{e.where}: {e.wav}" for e in ambiguous]),
        "entries_of_set_aside_clips": _examples([f"{e.where}: {e.wav} ({why})" for e, why in set_aside]),
        "records_in_no_entry": _examples([sources[i] for i in unnamed]),
        "records_never_tested": _examples([sources[i] for i in kept if test_fold[i] == -1 and train_folds[i]]),
    }
    return PartitionMatch(fold_names, test_fold, train_folds, report)


def _examples(items: list[str]) -> dict:
    return {"count": len(items), "examples": items[:EXAMPLES]}


def format_partition_report(report: dict) -> str:
    """The printed summary: how many entries matched, and counts with examples of what did not."""
    lines = [f"partition: {report['matched']} of {report['entries']} entries matched over {len(report['folds'])} folds"]
    for name in ("unmatched_entries", "ambiguous_entries", "entries_of_set_aside_clips", "records_in_no_entry",
                 "records_never_tested"):
        block = report[name]
        if block["count"]:
            lines.append(f"  {name.replace('_', ' ')}: {block['count']}, e.g. " + "; ".join(block["examples"]))
    return "\n".join(lines)
