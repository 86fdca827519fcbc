"""Readers for data in no published corpus's layout: the user's own, and the embedded demo.

* ``csv``: ``<root>/<csv_file>`` with columns ``path`` (relative to root), ``label`` and
  ``speaker``; every other column becomes a record attribute.
* ``folder``: ``<root>/<label>/**/<file>.{wav,flac,mp3,aiff,aif}``; the speaker is the folder
  just below the label folder (``<root>/happy/spk01/a.wav`` -> ``spk01``), else "unknown",
  or a regular expression on the file name (option ``speaker_pattern``).

Labels are taken as written; their label table is the identity over the canonical emotions
(corpora.taxonomy), so non-canonical names need overrides rather than being guessed.
Option ``name`` sets the records' corpus name (default: the reader name), so two datasets
read by the same reader stay apart in statistics and splits.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ListingBuilder, audio_files, is_audio, read_csv_rows
from corpora.record import AttributeValue, CorpusListing
from corpora.registry import register_corpus

CSV_COLUMNS = ("path", "label", "speaker")
# Documentation a user keeps at the top of their own corpus folder; not an audio problem.
DOC_SUFFIXES = frozenset({".md", ".txt", ".csv", ".json", ".yaml", ".yml", ".pdf"})


@register_corpus("csv")
def read_csv_corpus(root: Path, csv_file: str = "metadata.csv", name: str = "csv") -> CorpusListing:
    """Records from a metadata CSV; bad rows are problems naming the line and the file."""
    table = root / csv_file
    if not table.is_file():
        raise FileNotFoundError(f"corpus {name!r}: metadata file {table} does not exist (option csv_file)")
    builder = ListingBuilder(name, root)
    for line, row in read_csv_rows(table, required=CSV_COLUMNS):
        where = f"{csv_file} line {line}"
        if not row["path"]:
            builder.problem(table, f"{where}: empty path")
            continue
        path = Path(row["path"]) if Path(row["path"]).is_absolute() else root / row["path"]
        if not row["label"]:
            builder.problem(path, f"{where}: empty label for {row['path']}")
        elif not path.is_file():
            builder.problem(path, f"{where}: file {row['path']} does not exist")
        elif not is_audio(path):
            builder.problem(path, f"{where}: {row['path']} is not an audio file (extension {path.suffix or 'none'!r})")
        else:
            attributes: dict[str, AttributeValue] = {k: (v or None) for k, v in row.items() if k not in CSV_COLUMNS}
            builder.add(path, row["label"], row["speaker"] or "unknown", attributes, identity=path.resolve(), where=where)
    return builder.build()


@register_corpus("folder")
def read_folder_corpus(root: Path, speaker_pattern: str | None = None, name: str = "folder") -> CorpusListing:
    """Records from label folders; audio outside a label folder is a problem, never guessed."""
    pattern = _compile_speaker_pattern(speaker_pattern)
    builder = ListingBuilder(name, root)
    for path in audio_files(builder, root, companion=lambda p: p.parent == root and p.suffix.lower() in DOC_SUFFIXES):
        parts = path.relative_to(root).parts
        if len(parts) == 1:
            builder.problem(path, "audio file directly in the corpus root, not inside a <label>/ folder")
            continue
        speaker = _speaker(path.name, parts, pattern)
        if speaker is None:
            builder.problem(path, f"file name does not match speaker_pattern {speaker_pattern!r}")
            continue
        # Case-variant copies of one folder (Happy/ and happy/) hold the same recording twice.
        identity = tuple(part.casefold() for part in parts[:-1]) + (path.stem.casefold(),)
        builder.add(path, parts[0], speaker, {}, identity=identity)
    return builder.build()


def _compile_speaker_pattern(speaker_pattern: str | None) -> re.Pattern[str] | None:
    if speaker_pattern is None:
        return None
    try:
        return re.compile(speaker_pattern)
    except re.error as error:
        raise ValueError(f"option speaker_pattern {speaker_pattern!r} is not a valid regular expression: {error}") from error


def _speaker(file_name: str, parts: tuple[str, ...], pattern: re.Pattern[str] | None) -> str | None:
    """Speaker from the pattern's ``speaker`` group (or first group, or whole match), else the folder."""
    if pattern is None:
        return parts[1] if len(parts) > 2 else "unknown"
    match = pattern.search(file_name)
    if match is None:
        return None
    if "speaker" in pattern.groupindex:
        return match.group("speaker")
    return match.group(1) if pattern.groups else match.group(0)
