"""MELD, the Multimodal EmotionLines Dataset (Poria et al. 2019, affective-meld.github.io).

Utterances from the series Friends. Labels and speakers come from the split CSVs
``train_sent_emo.csv``, ``dev_sent_emo.csv`` and ``test_sent_emo.csv`` (columns Sr No.,
Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID, Season, Episode,
StartTime, EndTime). Audio is the clip ``dia{Dialogue_ID}_utt{Utterance_ID}.mp4`` in
``train_splits/``, ``dev_splits_complete/`` or ``output_repeated_splits_test/``, or a wav
(flac, ...) already extracted from it under the same stem. Dialogue ids restart in every
split, so the split is read from the folder names (a part naming train, dev or test); MELD's
own split is kept in the ``meld_split`` attribute.

MP4 clips need ffmpeg to decode: their records carry ``needs_ffmpeg=True``. When both a clip
and its extracted audio exist, the extracted audio is listed and the clip reported as the same
recording twice. CSV rows with no audio in a split that has audio are reported (the release
lacks a few clips); macOS ``._dia*`` files in the release are counted as skipped.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ListingBuilder, audio_files, by_preference, read_csv_rows
from corpora.audio_suffixes import CORPUS_AUDIO_SUFFIXES, LOSSLESS_FIRST
from corpora.record import AttributeValue, CorpusListing
from corpora.registry import register_corpus

SPLITS = ("train", "dev", "test")
CLIP = re.compile(r"^dia(?P<dialogue>\d+)_utt(?P<utterance>\d+)$", re.IGNORECASE)
SPLIT_WORD = re.compile(r"(?:^|[^a-z])(train|dev|test)(?:[^a-z]|$)")
VIDEO_SUFFIX = ".mp4"
REQUIRED = ("Dialogue_ID", "Utterance_ID", "Emotion", "Speaker")
Key = tuple[str, int, int]


@register_corpus("meld")
def read_meld(root: Path) -> CorpusListing:
    builder = ListingBuilder("meld", root)
    rows = _label_rows(root)
    seen: set[Key] = set()
    files = audio_files(builder, root, suffixes=CORPUS_AUDIO_SUFFIXES | {VIDEO_SUFFIX})
    for path in by_preference(files, order=(*LOSSLESS_FIRST, VIDEO_SUFFIX)):
        key = _clip_key(path, root)
        if isinstance(key, str):
            builder.problem(path, key)
            continue
        split, dialogue, utterance = key
        if key not in rows:
            builder.problem(path, f"no row for Dialogue_ID {dialogue}, Utterance_ID {utterance} in {split}_sent_emo.csv")
            continue
        seen.add(key)
        row = rows[key]
        builder.add(path, row["Emotion"].lower(), row["Speaker"] or "unknown", _attributes(key, row, path), identity=key)
    _report_missing_audio(builder, rows, seen)
    return builder.build()


def _label_rows(root: Path) -> dict[Key, dict[str, str]]:
    """(split, dialogue, utterance) -> CSV row, from every split CSV found below the root."""
    rows: dict[Key, dict[str, str]] = {}
    found = False
    for split in SPLITS:
        name = f"{split}_sent_emo.csv"
        candidates = sorted((p for p in root.rglob("*.csv") if p.name.casefold() == name), key=lambda p: p.as_posix())
        if not candidates:
            continue
        found = True
        for line, row in read_csv_rows(candidates[0], required=REQUIRED):
            if not (row["Dialogue_ID"].isdigit() and row["Utterance_ID"].isdigit()):
                raise ValueError(f"{candidates[0]} line {line}: Dialogue_ID/Utterance_ID must be integers")
            row["_csv"], row["_line"] = str(candidates[0]), str(line)
            rows[(split, int(row["Dialogue_ID"]), int(row["Utterance_ID"]))] = row
    if not found:
        raise FileNotFoundError(f"corpus 'meld': none of {', '.join(f'{s}_sent_emo.csv' for s in SPLITS)} below {root}")
    return rows


def _clip_key(path: Path, root: Path) -> Key | str:
    """(split, dialogue, utterance) of a clip, or why it does not fit MELD's names."""
    match = CLIP.match(path.stem)
    if match is None:
        return "name does not match dia<Dialogue_ID>_utt<Utterance_ID> (e.g. dia0_utt3.mp4)"
    splits = {word for part in path.relative_to(root).parts[:-1] for word in SPLIT_WORD.findall(part.casefold())}
    if len(splits) != 1:
        found = ", ".join(sorted(splits)) or "none"
        return f"cannot tell the MELD split from the folder names (train/dev/test; found: {found})"
    return splits.pop(), int(match["dialogue"]), int(match["utterance"])


def _attributes(key: Key, row: dict[str, str], path: Path) -> dict[str, AttributeValue]:
    split, dialogue, utterance = key
    return {
        "meld_split": split,
        "dialogue_id": dialogue,
        "utterance_id": utterance,
        "sentiment": row.get("Sentiment") or None,
        "utterance": row.get("Utterance") or None,
        "season": int(row["Season"]) if row.get("Season", "").isdigit() else None,
        "episode": int(row["Episode"]) if row.get("Episode", "").isdigit() else None,
        "start_time": row.get("StartTime") or None,
        "end_time": row.get("EndTime") or None,
        "needs_ffmpeg": path.suffix.lower() == VIDEO_SUFFIX,
    }


def _report_missing_audio(builder: ListingBuilder, rows: dict[Key, dict[str, str]], seen: set[Key]) -> None:
    """CSV rows whose clip is absent, in splits that have audio at all (a split not downloaded is not a problem)."""
    splits_with_audio = {split for split, _, _ in seen}
    for key in sorted(rows):
        split, dialogue, utterance = key
        if split in splits_with_audio and key not in seen:
            row = rows[key]
            builder.problem(Path(row["_csv"]), f"line {row['_line']}: no audio for dia{dialogue}_utt{utterance} ({split} split)")
