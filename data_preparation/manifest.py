"""manifest.csv: one row per input file with its fate, so nothing vanishes between corpus and shard.

Fate is the split (train/val/test) or "dropped", and a dropped row says why. Rows plus the
files readers skipped on purpose (stats.json extra.skipped_by_readers) add up to the input files.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Sequence

from data_preparation.inputs import Entry

COLUMNS = ("corpus", "path", "native_label", "label", "speaker", "fate", "reason", "duration",
           "native_rate", "native_channels", "key")


def write_manifest(entries: Sequence[Entry], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for e in entries:
            writer.writerow([
                e.corpus, e.source, e.native_label, e.label or "", e.speaker, e.fate, e.reason or "",
                "" if e.duration is None else f"{e.duration:.3f}", e.native_rate or "", e.native_channels or "",
                e.key if e.kept else "",
            ])


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def reason_kind(reason: str) -> str:
    """The reason's category, the text before its first colon: 'too long: 2400 s' -> 'too long'."""
    return reason.split(":", 1)[0].strip()


def summarize(entries: Sequence[Entry]) -> dict[str, object]:
    """Counts for stats.json: inputs, kept per split, dropped per reason category."""
    fates = Counter(e.fate for e in entries)
    dropped = Counter(reason_kind(e.reason) for e in entries if e.reason is not None)
    return {"input_files": len(entries), "fates": dict(sorted(fates.items())), "dropped_by_reason": dict(sorted(dropped.items()))}
