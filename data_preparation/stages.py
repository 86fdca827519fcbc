"""The cleaning stages between listing and writing: decode, de-duplicate, drop rare classes, split.

Each stage sets ``reason`` (set aside) or ``split`` on the entries it is given and never removes
one, so the manifest can account for every input file.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Sequence

from corpora.taxonomy import drop_rare_classes
from data_preparation.config import SplitSpec
from data_preparation.decode.decode import AudioFilter, DecodeResult, DecodeTask, decode_file
from data_preparation.inputs.entries import Entry
from data_preparation.parallel import Workers, ordered_map
from data_preparation.quality.reasons import Reason
from data_preparation.resume import Journal
from data_preparation.split.split_assignment import SplitOutcome, assign
from data_preparation.quality.trim import TrimSpec


DECODE_JOURNAL = "decoded.jsonl"
SPOOL_PER_FOLDER = 1000  # clips per spool subfolder: never 100,000 files in one directory


def spool_path(spool: Path, index: int) -> Path:
    return spool / f"{index // SPOOL_PER_FOLDER:04d}" / f"{index:07d}.flac"


def decode_entries(entries: Sequence[Entry], spool: Path, audio_filter: AudioFilter, workers: Workers, progress: bool,
                   trim: TrimSpec | None = None) -> int:
    """Decode every still-kept entry once (all cores), trimmed when ``trim`` says; set duration, digest or the reason it fails.

    Each result is journaled (data_preparation/resume.py) as it arrives, so a rerun after a kill
    decodes only the clips not yet journaled. Returns how many results came from the journal.
    """
    journal = Journal(spool / DECODE_JOURNAL)
    finished = journal.load()
    tasks = []
    for i, entry in enumerate(entries):
        if not entry.kept:
            continue
        record = finished.get(i)
        if record is not None and (record["reason"] is not None or spool_path(spool, i).is_file()):
            _apply(entry, _result_from(record))
        else:
            tasks.append(DecodeTask(i, str(entry.path), str(spool_path(spool, i)), audio_filter, trim))
    reused = sum(1 for e in entries if e.kept) - len(tasks)
    with journal:
        for result in ordered_map(decode_file, tasks, workers, "decode", progress, done=reused):
            _apply(entries[result.index], result)
            journal.append(dataclasses.asdict(result))
    return reused


def _apply(entry: Entry, result: DecodeResult) -> None:
    entry.duration, entry.digest, entry.reason = result.duration, result.digest, result.reason
    entry.native_rate, entry.native_channels = result.native_rate, result.native_channels
    entry.header_duration, entry.truncated = result.header_duration, result.truncated
    entry.trimmed = result.trimmed


def _result_from(record: dict) -> DecodeResult:
    reason = record["reason"]
    return DecodeResult(**{**record, "reason": None if reason is None else Reason(**reason)})


def mark_duplicates(entries: Sequence[Entry]) -> int:
    """Keep the first of identical decoded contents; later copies name the kept file. Returns the count.

    The same audio under two labels is a "label conflict" naming both files and both labels,
    since one of them is wrong; the dropped copy keeps its own label and speaker in the manifest.
    """
    first: dict[str, Entry] = {}
    count = 0
    for entry in entries:
        if not entry.kept or entry.digest is None:
            continue
        if entry.digest not in first:
            first[entry.digest] = entry
            continue
        kept = first[entry.digest]
        count += 1
        if kept.label == entry.label:
            entry.reason = Reason("duplicate", None, f"same audio as {kept.corpus}/{kept.source}")
        else:
            entry.reason = Reason("label conflict", None, f"same audio as {kept.corpus}/{kept.source} labelled "
                                  f"{kept.label!r}; this file is labelled {entry.label!r}; the first is kept")
    return count


def drop_rare(entries: Sequence[Entry], min_share: float) -> dict[str, int]:
    """Set aside classes below ``min_share`` of the clips that survived decoding (seed 000's order)."""
    kept = [e for e in entries if e.kept]
    counts = Counter(e.label for e in kept)
    rare = drop_rare_classes([e.label for e in kept], min_share)
    for entry in kept:
        if entry.label in rare:
            share = counts[entry.label] / len(kept)
            entry.reason = Reason("rare class", round(share, 6),
                                  f"{entry.label!r} is {share:.2%} of kept clips < min_class_share {min_share:.2%}")
    return {label: counts[label] for label in sorted(rare)}


def assign_splits(entries: Sequence[Entry], spec: SplitSpec) -> SplitOutcome | None:
    """Set ``split`` on every kept entry (a shard group with folds); speakers are namespaced by corpus
    (spk01 of two corpora differ), and every corpus is split on its own (split/split_assignment.py)."""
    kept = [e for e in entries if e.kept]
    if not kept:
        return None
    outcome = assign(entries, spec)
    for entry, split in zip(kept, outcome.splits):
        entry.split = split
    return outcome
