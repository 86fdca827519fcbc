"""manifest.csv: one row per input file with its fate, so nothing vanishes between corpus and shard.

Fate is the split (train/val/test) or "dropped", and a dropped row says why: ``reason`` is the
category ("too long"), ``reason_value`` the number that decided it (seconds, dBFS, ...) and
``reason_detail`` the rest, so counting reasons counts categories. ``header_duration`` is what
the file's header declares next to the decoded ``duration``; ``truncated`` marks data that ends
early; ``trimmed`` is the silence ``trim:`` cut (seconds; ``duration`` is what is left). Rows
plus the files readers skipped on purpose (stats.json extra.skipped_by_readers) add up to the
input files.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Sequence

from data_preparation.inputs.entries import Entry
from data_preparation.quality.reasons import Reason

COLUMNS = ("corpus", "path", "native_label", "label", "speaker", "fate", "reason", "reason_value", "reason_detail",
           "duration", "header_duration", "truncated", "native_rate", "native_channels", "key", "trimmed")


def write_manifest(entries: Sequence[Entry], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for e in entries:
            reason = e.reason or Reason("")
            writer.writerow([
                e.corpus, e.source, e.native_label, e.label or "", e.speaker, e.fate, reason.category,
                "" if reason.value is None else f"{reason.value:g}", reason.detail, _seconds(e.duration),
                _seconds(e.header_duration), "yes" if e.truncated else "", e.native_rate or "", e.native_channels or "",
                e.key if e.kept else "", _seconds(e.trimmed) if e.trimmed else "",
            ])


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def summarize(entries: Sequence[Entry]) -> dict[str, object]:
    """Counts for stats.json: inputs, kept per split, dropped per reason category."""
    fates = Counter(e.fate for e in entries)
    dropped = Counter(e.reason.category for e in entries if e.reason is not None)
    return {"input_files": len(entries), "fates": dict(sorted(fates.items())), "dropped_by_reason": dict(sorted(dropped.items()))}
