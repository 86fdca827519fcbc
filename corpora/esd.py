"""Emotional Speech Dataset, ESD (Zhou et al. 2021/2022, hltsingapore.github.io/ESD).

Ten Mandarin speakers (0001-0010) and ten English speakers (0011-0020), 350 parallel
utterances in each of five emotions. Layout: ``<speaker>/<Emotion>/<speaker>_<utterance>.wav``,
sometimes with ``train/``, ``evaluation/`` or ``test/`` below the emotion folder, and a
transcript ``<speaker>/<speaker>.txt``. Utterance numbers encode the emotion: 000001-000350
Neutral, 000351-000700 Angry, 000701-001050 Happy, 001051-001400 Sad, 001401-001750 Surprise;
a file whose folder disagrees with its number is reported, not relabelled.

Option ``speakers``: "english" (default, 0011-0020, as seed 000 used), "mandarin", "all", or a
list of speaker ids. Other speakers are counted as skipped.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from corpora._common import ConventionError, ListingBuilder, audio_files, by_preference
from corpora.record import CorpusListing
from corpora.registry import register_corpus

NAME = re.compile(r"^(?P<speaker>\d{4})_(?P<utterance>\d{6})$")
EMOTIONS = ("Neutral", "Angry", "Happy", "Sad", "Surprise")  # in utterance-number order
PER_EMOTION = 350
ESD_SPLITS = ("train", "evaluation", "test")
SPEAKER_SETS = {
    "english": {f"{i:04d}" for i in range(11, 21)},
    "mandarin": {f"{i:04d}" for i in range(1, 11)},
    "all": {f"{i:04d}" for i in range(1, 21)},
}


@register_corpus("esd")
def read_esd(root: Path, speakers: str | Sequence[str | int] = "english") -> CorpusListing:
    selected = _selected(speakers)
    builder = ListingBuilder("esd", root)
    for path in by_preference(audio_files(builder, root)):
        match = NAME.match(path.stem)
        if match is None:
            builder.problem(path, "name does not match <speaker>_<utterance> (e.g. 0011_000351.wav)")
            continue
        speaker, utterance = match["speaker"], int(match["utterance"])
        if speaker not in selected:
            builder.skip(f"ESD speaker not selected (option speakers={speakers!r})")
            continue
        try:
            emotion = _emotion(path.relative_to(root).parts[:-1], speaker, utterance)
        except ConventionError as error:
            builder.problem(path, str(error))
            continue
        attributes = {
            "utterance": utterance,
            "language": "english" if speaker in SPEAKER_SETS["english"] else "mandarin",
            "esd_split": next((p.casefold() for p in path.relative_to(root).parts[:-1] if p.casefold() in ESD_SPLITS), None),
        }
        builder.add(path, emotion, speaker, attributes, identity=(speaker, utterance))
    return builder.build()


def _selected(speakers: str | Sequence[str | int]) -> set[str]:
    if isinstance(speakers, str):
        if speakers.casefold() not in SPEAKER_SETS:
            raise ValueError(f"option speakers={speakers!r}: expected one of {', '.join(SPEAKER_SETS)} or a list of speaker ids")
        return SPEAKER_SETS[speakers.casefold()]
    return {f"{int(s):04d}" for s in speakers}


def _emotion(folders: tuple[str, ...], speaker: str, utterance: int) -> str:
    """The emotion folder's name (title case); ConventionError says why a file breaks the convention."""
    speaker_folders = [p for p in folders if re.fullmatch(r"\d{4}", p)]
    if speaker_folders and speaker_folders[-1] != speaker:
        raise ConventionError(f"file of speaker {speaker} inside speaker folder {speaker_folders[-1]}")
    emotions = [e for p in folders for e in EMOTIONS if p.casefold() == e.casefold()]
    if len(emotions) != 1:
        raise ConventionError(f"expected one emotion folder ({', '.join(EMOTIONS)}) above the file, found {len(emotions)}")
    if not 1 <= utterance <= PER_EMOTION * len(EMOTIONS):
        raise ConventionError(f"utterance number {utterance:06d} outside 000001-{PER_EMOTION * len(EMOTIONS):06d}")
    expected = EMOTIONS[(utterance - 1) // PER_EMOTION]
    if expected != emotions[0]:
        raise ConventionError(f"utterance {utterance:06d} is {expected} by its number but sits in folder {emotions[0]}")
    return emotions[0]
