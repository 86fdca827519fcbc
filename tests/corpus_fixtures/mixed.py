"""Four clean corpora side by side, for end-to-end preparation tests."""
from __future__ import annotations

from pathlib import Path

from tests.corpus_fixtures._files import durations, write_audio, write_csv


def write_mixed_fixture(root: Path) -> dict[str, Path]:
    """Four clean corpora side by side (112 clips of 1.2-3.8 s), reader name -> corpus root.

    Under the seven-class taxonomy: 16 clips each of anger, disgust, fear, happy and sad, 20
    neutral (RAVDESS calm merges in), 8 surprise, and 4 EmoDB boredom clips outside it; 14
    speakers, enough for stratified 70/15/15 and speaker-independent splits. Content is
    seeded per file, so no two clips are identical.
    """
    roots = {"crema_d": root / "CREMA-D", "ravdess": root / "RAVDESS", "tess": root / "TESS", "emodb": root / "EmoDB"}
    names: list[tuple[Path, int]] = []
    for actor in ("1001", "1002", "1003", "1004"):
        names += [(roots["crema_d"] / "AudioWAV" / f"{actor}_IEO_{e}_XX.wav", 16_000) for e in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
    write_csv(roots["crema_d"] / "VideoDemographics.csv", ["ActorID", "Age", "Sex", "Race", "Ethnicity"],
              [[1001, 51, "Male", "Caucasian", "Not Hispanic"], [1002, 21, "Female", "Asian", "Not Hispanic"],
               [1003, 30, "Male", "African American", "Not Hispanic"], [1004, 42, "Female", "Caucasian", "Hispanic"]])
    for actor in (1, 2, 3, 4):
        names += [(roots["ravdess"] / f"Actor_{actor:02d}" / f"03-01-{e:02d}-01-01-01-{actor:02d}.wav", 48_000) for e in range(1, 9)]
    for speaker in ("OAF", "YAF"):
        for emotion, folder in (("angry", "angry"), ("disgust", "disgust"), ("fear", "fear"), ("happy", "happy"),
                                ("neutral", "neutral"), ("ps", "pleasant_surprised"), ("sad", "sad")):
            names += [(roots["tess"] / f"{speaker}_{folder}" / f"{speaker}_{word}_{emotion}.wav", 24_414) for word in ("back", "dog")]
    for speaker in ("03", "08", "10", "13"):
        names += [(roots["emodb"] / "wav" / f"{speaker}a01{e}a.wav", 16_000) for e in "WLEAFTN"]
    for (path, rate), duration in zip(names, durations(len(names), seed=7)):
        write_audio(path, duration, rate, seed_name=path.relative_to(root).as_posix())
    return roots
