"""Toronto Emotional Speech Set, TESS (Dupuis & Pichora-Fuller 2010, doi:10.5683/SP2/E8H2MF).

Two actresses, OAF (older, aged 64) and YAF (younger, aged 26), say "Say the word _" with 200
target words in seven emotions. Layout: ``<SPK>_<emotion>/<SPK>_<word>_<emotion>.wav``, e.g.
``OAF_angry/OAF_back_angry.wav``; pleasant surprise is ``ps`` in file names. Copies differ in
folder spelling (``OAF_Fear``, ``YAF_fear``, ``OAF_Pleasant_surprise``,
``YAF_pleasant_surprised``), may nest a second copy of the whole tree, and some drop the
speaker prefix from file names (``OAF_angry/back_angry.wav``): the folder then names the
speaker. The release itself misnames one clip, ``OAF_neutral/OA_bite_neutral.wav``: a prefix that
is its folder's speaker without the final F (``OA_``, ``YA_``) is read as that speaker, and the
record carries the conventional name (attribute ``canonical_name``, ``OAF_bite_neutral``) that
published partitions such as EmoBox's use for it. A file whose name disagrees with its folder is
reported, not guessed.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ConventionError, ListingBuilder, audio_files, parsed_files
from corpora.record import CorpusListing
from corpora.registry import register_corpus

FILE = re.compile(r"^(?P<speaker>OAF|YAF|OA|YA)_(?P<word>[A-Za-z]+)_(?P<emotion>[A-Za-z]+)$", re.IGNORECASE)
SHORT_FILE = re.compile(r"^(?!(?:OAF|YAF)_)(?P<speaker>)(?P<word>[A-Za-z]+)_(?P<emotion>[A-Za-z]+)$", re.IGNORECASE)
FOLDER = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<emotion>[A-Za-z_ ]+)$", re.IGNORECASE)
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")
FOLDER_EMOTIONS = {e: e for e in EMOTIONS} | {"pleasant_surprise": "ps", "pleasant_surprised": "ps", "pleasant surprise": "ps"}
SPEAKERS = {"OAF": ("older", 64), "YAF": ("younger", 26)}


@register_corpus("tess")
def read_tess(root: Path) -> CorpusListing:
    builder = ListingBuilder("tess", root)
    for path, (speaker, word, emotion) in parsed_files(builder, audio_files(builder, root), _parse):
        age_group, age = SPEAKERS[speaker]
        attributes = {"word": word, "age_group": age_group, "age": age, "gender": "female"}
        canonical = f"{speaker}_{word}_{emotion}"
        if not path.stem.upper().startswith(f"{speaker}_"):  # OA_bite_neutral, back_angry: the conventional name
            attributes["canonical_name"] = canonical
        builder.add(path, emotion, speaker, attributes, identity=(speaker, word, emotion))
    return builder.build()


def _parse(path: Path) -> tuple[str, str, str]:
    """(speaker, word, emotion) of a TESS file; ConventionError says why it does not fit."""
    match = FILE.match(path.stem) or SHORT_FILE.match(path.stem)
    if match is None:
        raise ConventionError("name does not match <OAF|YAF>_<word>_<emotion> (e.g. OAF_back_angry.wav)")
    emotion = match["emotion"].lower()
    if emotion not in EMOTIONS:
        raise ConventionError(f"unknown TESS emotion {match['emotion']!r} (expected one of {', '.join(EMOTIONS)})")
    folder = FOLDER.match(path.parent.name)
    folder_speaker = folder["speaker"].upper() if folder else None
    folder_emotion = FOLDER_EMOTIONS.get(folder["emotion"].lower()) if folder else None
    speaker = match["speaker"].upper() if match["speaker"] else folder_speaker
    if speaker is None:
        raise ConventionError("no speaker: neither the file name nor its folder starts with OAF_ or YAF_")
    if speaker in ("OA", "YA"):  # the release's OA_bite_neutral.wav: the speaker lost its F
        if folder_speaker != f"{speaker}F":
            raise ConventionError(f"prefix {match['speaker']}_ is neither OAF_ nor YAF_, and the folder "
                                  f"{path.parent.name} does not name {speaker}F")
        speaker = folder_speaker
    if folder_speaker and folder_speaker != speaker:
        raise ConventionError(f"speaker {speaker} in the name but folder {path.parent.name} belongs to {folder_speaker}")
    if folder_emotion and folder_emotion != emotion:
        raise ConventionError(f"emotion {emotion!r} in the name but folder {path.parent.name} holds {folder_emotion!r}")
    return speaker, match["word"].lower(), emotion
