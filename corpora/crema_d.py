"""CREMA-D (Cao et al. 2014, github.com/CheyneyComputerScience/CREMA-D).

Layout: ``AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav`` (also ``AudioMP3/``), e.g.
``1001_DFA_ANG_XX.wav``; ``VideoDemographics.csv`` maps ActorID to Age, Sex, Race, Ethnicity.
Per the README: actors 1001-1091; twelve sentences (IEO, TIE, IOM, IWW, TAI, MTI, IWL, ITH,
DFA, ITS, TSI, WSI); emotions ANG, DIS, FEA, HAP, NEU, SAD; levels LO, MD, HI, XX (unspecified).

When an ``AudioWAV`` folder exists (any case) only it is read, so the MP3 copies of the same
clips are not listed twice; otherwise every audio file below the root is read. Gender comes
from VideoDemographics.csv when present, else it is None.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ListingBuilder, audio_files, by_preference, find_dirs, read_csv_rows
from corpora.record import AttributeValue, CorpusListing
from corpora.registry import register_corpus

NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$", re.IGNORECASE)
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}


@register_corpus("crema_d")
def read_crema_d(root: Path) -> CorpusListing:
    builder = ListingBuilder("crema_d", root)
    demographics = _demographics(root)
    tops = find_dirs(root, "AudioWAV") or [root]
    for path in by_preference(p for top in tops for p in audio_files(builder, top)):
        match = NAME.match(path.stem)
        if match is None:
            builder.problem(path, "name does not match ActorID_Sentence_Emotion_Level (e.g. 1001_DFA_ANG_XX.wav)")
            continue
        actor, sentence, emotion, level = (match[g].upper() for g in ("actor", "sentence", "emotion", "level"))
        bad = _invalid_fields(sentence, emotion, level)
        if bad:
            builder.problem(path, f"unknown CREMA-D code(s): {bad}")
            continue
        attributes: dict[str, AttributeValue] = {
            "sentence": sentence,
            "statement": SENTENCES[sentence],
            "intensity": LEVELS[level],
            "gender": None,
        }
        attributes.update(demographics.get(actor, {}))
        builder.add(path, emotion, actor, attributes, identity=f"{actor}_{sentence}_{emotion}_{level}")
    return builder.build()


def _invalid_fields(sentence: str, emotion: str, level: str) -> str:
    checks = (("sentence", sentence, SENTENCES), ("emotion", emotion, EMOTIONS), ("level", level, LEVELS))
    return ", ".join(f"{field} {value!r}" for field, value, known in checks if value not in known)


def _demographics(root: Path) -> dict[str, dict[str, AttributeValue]]:
    """ActorID -> gender, age, race, ethnicity from VideoDemographics.csv (any folder, any case)."""
    files = sorted((p for p in root.rglob("*") if p.name.casefold() == "videodemographics.csv"), key=lambda p: p.as_posix())
    if not files:
        return {}
    actors: dict[str, dict[str, AttributeValue]] = {}
    for _, row in read_csv_rows(files[0], required=("ActorID", "Sex")):
        age = row.get("Age", "")
        actors[row["ActorID"]] = {
            "gender": row["Sex"].lower() or None,
            "age": int(age) if age.isdigit() else None,
            "race": row.get("Race") or None,
            "ethnicity": row.get("Ethnicity") or None,
        }
    return actors
