"""URDU emotional speech (Latif et al., "Cross Lingual Speech Emotion Recognition: Urdu vs. Western
Languages", FIT 2018, arXiv:1812.10411; github.com/siddiquelatif/URDU-Dataset).

400 clips cut from Urdu television talk shows, 100 per emotion, one folder per emotion:
``Angry/``, ``Happy/``, ``Neutral/``, ``Sad/`` (README.md beside them). A name is
``S<G><X>_F<n>_<E><m>``: speaker (G the gender, M or F, and X the speaker's number), the file's
number for that speaker, and the emotion letter (A angry, H happy, N neutral, S sad) with the
clip's number within that emotion, e.g. ``Angry/SM1_F10_A010.wav``. The release writes the
emotion number with a leading zero (``A01``, ``A010``, ``A0100``) and the file number without
(``F1``); both are read as numbers, so a copy that pads differently names the same clip. A
speaker's file numbers restart in each emotion folder. The README counts 38 speakers (27 male,
11 female); the release's names hold 29 (SM1-SM7, SM17-SM27, SF1-SF11), 26 of them in one
emotion only. A letter that contradicts its emotion folder is reported, not guessed.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ConventionError, ListingBuilder, audio_files, parsed_files
from corpora.record import CorpusListing
from corpora.registry import register_corpus

NAME = re.compile(r"^S(?P<gender>[MF])(?P<speaker>\d+)_F(?P<file>\d+)_(?P<emotion>[AHNS])(?P<number>\d+)$", re.IGNORECASE)
FOLDERS = {"angry": "A", "happy": "H", "neutral": "N", "sad": "S"}
GENDERS = {"M": "male", "F": "female"}
CLIPS_PER_EMOTION = 100


@register_corpus("urdu")
def read_urdu(root: Path) -> CorpusListing:
    builder = ListingBuilder("urdu", root)
    for path, (speaker, file, emotion, number) in parsed_files(builder, audio_files(builder, root), _parse):
        attributes = {"gender": GENDERS[speaker[1]], "speaker_file": file, "clip_number": number}
        builder.add(path, emotion, speaker, attributes, identity=(speaker, file, emotion, number))
    return builder.build()


def _parse(path: Path) -> tuple[str, int, str, int]:
    """(speaker, file number, emotion letter, number within the emotion); ConventionError says why not."""
    match = NAME.match(path.stem)
    if match is None:
        raise ConventionError("name does not match S<M|F><speaker>_F<file>_<A|H|N|S><number> (e.g. SM1_F10_A010.wav)")
    speaker = f"S{match['gender'].upper()}{int(match['speaker'])}"
    emotion, number = match["emotion"].upper(), int(match["number"])
    folder = FOLDERS.get(path.parent.name.casefold())
    if folder and folder != emotion:
        raise ConventionError(f"emotion {emotion!r} in the name but the file is in emotion folder {path.parent.name}")
    if not 1 <= number <= CLIPS_PER_EMOTION:
        raise ConventionError(f"clip number {number} out of range for emotion {emotion!r} (1-{CLIPS_PER_EMOTION})")
    return speaker, int(match["file"]), emotion, number
