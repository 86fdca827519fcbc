"""Berlin Database of Emotional Speech, EmoDB (Burkhardt et al. 2005, emodb.bilderbar.info).

Layout: ``wav/03a01Wa.wav`` beside ``lablaut/``, ``silb/`` and documentation. A name is
speaker (2 digits), text code (a01 ... b10), emotion letter (German initial: W Wut/anger,
L Langeweile/boredom, E Ekel/disgust, A Angst/fear, F Freude/happiness, T Trauer/sadness,
N neutral) and a version letter (a, b, ...). Speakers and their sex and age, per the
documentation: 03 m 31, 08 f 34, 09 f 21, 10 m 32, 11 m 26, 12 m 30, 13 f 32, 14 f 35,
15 m 25, 16 f 31. Only ``wav/`` folders are read when they exist (any case).
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora._common import ListingBuilder, audio_files, by_preference, find_dirs
from corpora.record import CorpusListing
from corpora.registry import register_corpus

NAME = re.compile(r"^(?P<speaker>\d{2})(?P<text>[ab]\d{2})(?P<emotion>[A-Z])(?P<version>[a-z])$")
SPEAKERS = {
    "03": ("male", 31), "08": ("female", 34), "09": ("female", 21), "10": ("male", 32), "11": ("male", 26),
    "12": ("male", 30), "13": ("female", 32), "14": ("female", 35), "15": ("male", 25), "16": ("female", 31),
}
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
EMOTIONS = "WLEAFTN"


@register_corpus("emodb")
def read_emodb(root: Path) -> CorpusListing:
    builder = ListingBuilder("emodb", root)
    tops = find_dirs(root, "wav") or [root]
    for path in by_preference(p for top in tops for p in audio_files(builder, top)):
        match = NAME.match(path.stem)
        if match is None:
            builder.problem(path, "name does not match EmoDB's speaker-text-emotion-version code (e.g. 03a01Wa.wav)")
            continue
        speaker, text, emotion, version = match.group("speaker", "text", "emotion", "version")
        bad = [
            f"{field} {value!r}"
            for field, value, known in (("speaker", speaker, SPEAKERS), ("text", text, TEXTS), ("emotion", emotion, EMOTIONS))
            if value not in known
        ]
        if bad:
            builder.problem(path, f"unknown EmoDB code(s): {', '.join(bad)}")
            continue
        gender, age = SPEAKERS[speaker]
        attributes = {"text": text, "version": version, "gender": gender, "age": age}
        builder.add(path, emotion, speaker, attributes, identity=path.stem)
    return builder.build()
