"""Surrey Audio-Visual Expressed Emotion, SAVEE (Haq & Jackson 2009, kahlan.eps.surrey.ac.uk/savee).

Four male speakers (DC, JE, JK, KL), seven emotions coded in the file name: a anger,
d disgust, f fear, h happiness, n neutral, sa sadness, su surprise, followed by a two-digit
sentence number (01-15; neutral 01-30). The original release keeps one folder per speaker
(``AudioData/DC/a01.wav``); the widely used Kaggle copy flattens it with the speaker as a
prefix (``ALL/DC_a01.wav``). Both are read; the folder supplies the speaker when the
prefix is absent, and a prefix that contradicts its folder is reported.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ConventionError, ListingBuilder, audio_files, parsed_files
from corpora.record import CorpusListing
from corpora.registry import register_corpus

SPEAKERS = ("DC", "JE", "JK", "KL")
PREFIXED = re.compile(r"^(?P<speaker>[A-Za-z]{2})_(?P<code>sa|su|a|d|f|h|n)(?P<number>\d{2})$", re.IGNORECASE)
BARE = re.compile(r"^(?P<speaker>)(?P<code>sa|su|a|d|f|h|n)(?P<number>\d{2})$", re.IGNORECASE)
SENTENCES_PER_EMOTION = {"n": 30}  # every other emotion has 15


@register_corpus("savee")
def read_savee(root: Path) -> CorpusListing:
    builder = ListingBuilder("savee", root)
    for path, (speaker, code, number) in parsed_files(builder, audio_files(builder, root), _parse):
        builder.add(path, code, speaker, {"sentence": number, "gender": "male"}, identity=(speaker, code, number))
    return builder.build()


def _parse(path: Path) -> tuple[str, str, int]:
    """(speaker, emotion code, sentence number); ConventionError says why a file does not fit."""
    match = PREFIXED.match(path.stem) or BARE.match(path.stem)
    if match is None:
        raise ConventionError("name does not match [<speaker>_]<emotion code><2 digits> (e.g. DC_a01.wav or DC/a01.wav)")
    folder = path.parent.name.upper() if path.parent.name.upper() in SPEAKERS else None
    speaker = match["speaker"].upper() or folder
    if speaker is None:
        raise ConventionError("no speaker: the name has no DC_/JE_/JK_/KL_ prefix and its folder is not a speaker folder")
    if speaker not in SPEAKERS:
        raise ConventionError(f"unknown SAVEE speaker {speaker!r} (expected one of {', '.join(SPEAKERS)})")
    if folder and folder != speaker:
        raise ConventionError(f"speaker {speaker} in the name but the file is in speaker folder {path.parent.name}")
    code, number = match["code"].lower(), int(match["number"])
    if not 1 <= number <= SENTENCES_PER_EMOTION.get(code, 15):
        raise ConventionError(f"sentence number {number:02d} out of range for emotion {code!r} (1-{SENTENCES_PER_EMOTION.get(code, 15)})")
    return speaker, code, number
