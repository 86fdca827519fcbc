"""EMOVO, an Italian emotional speech database (Costantini et al., LREC 2014; Fondazione Ugo Bordoni).

Six actors (f1, f2, f3 female; m1, m2, m3 male) read 14 sentences in the neutral state and six
emotions. Layout: one folder per actor, ``f1/dis-f1-b1.wav``; a name is the emotion (Italian:
dis disgusto, gio gioia, neu neutrale, pau paura, rab rabbia, sor sorpresa, tri tristezza), the
actor and the sentence: b1-b3 and l1-l4 short and long sentences, d1-d2 questions, n1-n5 nonsense
sentences. 98 clips per actor, 588 in all, at 48 kHz (the release's are stereo but one). The
actor's folder supplies nothing the name lacks; a name that contradicts its folder is reported.
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ConventionError, ListingBuilder, audio_files, parsed_files
from corpora.record import CorpusListing
from corpora.registry import register_corpus

NAME = re.compile(r"^(?P<emotion>[a-z]{3})-(?P<speaker>[fm][1-3])-(?P<sentence>[bdln]\d)$", re.IGNORECASE)
EMOTIONS = ("dis", "gio", "neu", "pau", "rab", "sor", "tri")
SPEAKERS = ("f1", "f2", "f3", "m1", "m2", "m3")
SENTENCES = ("b1", "b2", "b3", "d1", "d2", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5")
GENDERS = {"f": "female", "m": "male"}


@register_corpus("emovo")
def read_emovo(root: Path) -> CorpusListing:
    builder = ListingBuilder("emovo", root)
    for path, (speaker, emotion, sentence) in parsed_files(builder, audio_files(builder, root), _parse):
        attributes = {"sentence": sentence, "gender": GENDERS[speaker[0]]}
        builder.add(path, emotion, speaker, attributes, identity=(speaker, emotion, sentence))
    return builder.build()


def _parse(path: Path) -> tuple[str, str, str]:
    """(speaker, emotion, sentence) of an EMOVO file; ConventionError says why it does not fit."""
    match = NAME.match(path.stem)
    if match is None:
        raise ConventionError("name does not match <emotion>-<actor>-<sentence> (e.g. f1/dis-f1-b1.wav)")
    emotion, speaker, sentence = (match[k].lower() for k in ("emotion", "speaker", "sentence"))
    if emotion not in EMOTIONS:
        raise ConventionError(f"unknown EMOVO emotion {match['emotion']!r} (expected one of {', '.join(EMOTIONS)})")
    if sentence not in SENTENCES:
        raise ConventionError(f"unknown EMOVO sentence {match['sentence']!r} (b1-b3, d1-d2, l1-l4, n1-n5)")
    folder = path.parent.name.lower()
    if folder in SPEAKERS and folder != speaker:
        raise ConventionError(f"actor {speaker} in the name but the file is in actor folder {path.parent.name}")
    return speaker, emotion, sentence
