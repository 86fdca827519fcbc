"""JL-Corpus (James, Tian & Watson, Interspeech 2018, kaggle.com/datasets/tli725/jl-corpus).

New Zealand English from four actors (female1, female2, male1, male2), five primary
emotions (angry, sad, neutral, happy, excited) and five secondary ones (anxious,
apologetic, assertive, concerned, encouraging). A file is named
``<gender><speaker>_<emotion>_<sentence><variant>_<session>.wav``, e.g.
``female1_angry_10a_1.wav``, with a same-named ``.txt`` transcript beside it (read as a
companion, not reported). The raw and the checked releases can both sit below one root: the
same recording twice is reported.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ListingBuilder, audio_files, by_preference
from corpora.record import CorpusListing
from corpora.registry import register_corpus

NAME = re.compile(r"^(?P<gender>female|male)(?P<number>\d+)_(?P<emotion>[a-z]+)_(?P<sentence>\d+[a-z])_(?P<session>\d+)$", re.IGNORECASE)
PRIMARY = ("angry", "sad", "neutral", "happy", "excited")
EMOTIONS = PRIMARY + ("anxious", "apologetic", "assertive", "concerned", "encouraging")
TRANSCRIPT_SUFFIXES = frozenset({".txt", ".textgrid", ".lab"})


@register_corpus("jl_corpus")
def read_jl_corpus(root: Path) -> CorpusListing:
    builder = ListingBuilder("jl_corpus", root)
    files = audio_files(builder, root, companion=lambda p: p.suffix.lower() in TRANSCRIPT_SUFFIXES)
    for path in by_preference(files):
        match = NAME.match(path.stem)
        if match is None:
            builder.problem(path, "name does not match <gender><n>_<emotion>_<sentence>_<session> (e.g. female1_angry_10a_1.wav)")
            continue
        emotion = match["emotion"].lower()
        if emotion not in EMOTIONS:
            builder.problem(path, f"unknown JL-Corpus emotion {match['emotion']!r} (expected one of {', '.join(EMOTIONS)})")
            continue
        gender = match["gender"].lower()
        speaker = f"{gender}{int(match['number'])}"
        sentence, session = match["sentence"].lower(), int(match["session"])
        kind = "primary" if emotion in PRIMARY else "secondary"
        attributes = {"gender": gender, "sentence": sentence, "session": session, "emotion_kind": kind}
        builder.add(path, emotion, speaker, attributes, identity=(speaker, emotion, sentence, session))
    return builder.build()
