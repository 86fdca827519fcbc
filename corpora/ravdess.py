"""RAVDESS (Livingstone & Russo 2018, zenodo.org/record/1188976).

Layout: ``Actor_NN/MM-VV-EE-II-SS-RR-AA.wav`` (the Kaggle copy nests them under
``audio_speech_actors_01-24/`` and sometimes also at the top level: the same clip twice).
The seven two-digit fields, per the corpus's README:

* modality: 01 full-AV, 02 video-only, 03 audio-only
* vocal channel: 01 speech, 02 song (song is skipped unless ``include_song=True``)
* emotion: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised
* intensity: 01 normal, 02 strong (no strong intensity for neutral)
* statement: 01 "Kids are talking by the door", 02 "Dogs are sitting by the door"
* repetition: 01 or 02
* actor: 01-24; odd actors are male, even actors female
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ListingBuilder, audio_files, by_preference
from corpora.record import CorpusListing
from corpora.registry import register_corpus

NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
ACTOR_FOLDER = re.compile(r"^actor_(\d{2})$", re.IGNORECASE)
MODALITIES = {"01": "full-AV", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised"}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REPETITIONS = {"01": 1, "02": 2}
SONG_SKIPPED = "RAVDESS song (vocal channel 02; include_song=True lists it)"


@register_corpus("ravdess")
def read_ravdess(root: Path, include_song: bool = False) -> CorpusListing:
    builder = ListingBuilder("ravdess", root)
    for path in by_preference(audio_files(builder, root)):
        match = NAME.match(path.stem)
        if match is None:
            builder.problem(path, "name does not match the seven-part RAVDESS code (e.g. 03-01-06-01-02-01-12.wav)")
            continue
        modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
        reason = _inconsistency(path, modality, channel, emotion, intensity, statement, repetition, actor)
        if reason:
            builder.problem(path, reason)
            continue
        if channel == "02" and not include_song:
            builder.skip(SONG_SKIPPED)
            continue
        attributes = {
            "modality": MODALITIES[modality],
            "vocal_channel": CHANNELS[channel],
            "intensity": INTENSITIES[intensity],
            "statement": STATEMENTS[statement],
            "repetition": REPETITIONS[repetition],
            "actor": int(actor),
            "gender": "male" if int(actor) % 2 else "female",
        }
        builder.add(path, EMOTIONS[emotion], f"Actor_{actor}", attributes, identity=path.stem)
    return builder.build()


def _inconsistency(path: Path, modality: str, channel: str, emotion: str, intensity: str, statement: str, repetition: str, actor: str) -> str | None:
    """Why a well-formed name still breaks the convention, or None."""
    fields = (
        ("modality", modality, MODALITIES),
        ("vocal channel", channel, CHANNELS),
        ("emotion", emotion, EMOTIONS),
        ("intensity", intensity, INTENSITIES),
        ("statement", statement, STATEMENTS),
        ("repetition", repetition, REPETITIONS),
    )
    bad = [f"{name} {value!r}" for name, value, known in fields if value not in known]
    if not 1 <= int(actor) <= 24:
        bad.append(f"actor {actor!r}")
    if bad:
        return f"unknown RAVDESS code(s): {', '.join(bad)}"
    if emotion == "01" and intensity == "02":
        return "neutral has no strong intensity in RAVDESS (emotion 01 with intensity 02)"
    folder = ACTOR_FOLDER.match(path.parent.name)
    if folder and folder.group(1) != actor:
        return f"file of actor {actor} inside folder {path.parent.name}"
    return None
