"""Fixtures for the generic readers: a metadata CSV, and label folders."""
from __future__ import annotations

from pathlib import Path

from tests.corpus_fixtures._files import FixtureExpectation, write_audio, write_csv, write_text


def write_csv_fixture(root: Path) -> FixtureExpectation:
    """``metadata.csv`` with good rows, a missing file, an empty label, a repeated row, a text file."""
    write_audio(root / "clips/spk1/a.wav", 0.4)
    write_audio(root / "clips/spk1/b.wav", 0.6, container="FLAC")  # FLAC bytes named .wav
    write_audio(root / "clips/spk2/c.flac", 0.5, 22_050)
    write_audio(root / "clips/spk2/d.wav", 0.3)
    write_text(root / "clips/spk2/readme.txt", "not audio")
    write_csv(
        root / "metadata.csv",
        ["path", "label", "speaker", "session"],
        [
            ["clips/spk1/a.wav", "happy", "spk1", "1"],
            ["clips/spk1/b.wav", "sad", "spk1", "2"],
            ["clips/spk2/c.flac", "anger", "spk2", ""],
            ["clips/spk2/missing.wav", "sad", "spk2", "1"],
            ["clips/spk2/d.wav", "", "spk2", "1"],
            ["clips/spk1/a.wav", "happy", "spk1", "1"],
            ["clips/spk2/readme.txt", "sad", "spk2", "1"],
            ["clips/spk2/d.wav", "neutral", "", "3"],
        ],
    )
    return FixtureExpectation(
        corpus="csv",
        root=root,
        records=4,
        labels={"happy": 1, "sad": 1, "anger": 1, "neutral": 1},
        speakers={"spk1", "spk2", "unknown"},
        problems={
            "clips/spk2/missing.wav": "line 5: file clips/spk2/missing.wav does not exist",
            "clips/spk2/d.wav": "line 6: empty label",
            "clips/spk1/a.wav": "listed twice",
            "clips/spk2/readme.txt": "line 8: clips/spk2/readme.txt is not an audio file",
        },
        attributes={"clips/spk1/b.wav": {"session": "2"}, "clips/spk2/c.flac": {"session": None}},
    )


def write_folder_fixture(root: Path) -> FixtureExpectation:
    """Label folders with speaker subfolders, a case-variant copy, loose and non-audio files."""
    write_audio(root / "happy/spk1/x.wav", 0.5)
    write_audio(root / "Happy/spk1/x.wav", 0.5)  # same recording under a case-variant folder
    write_audio(root / "happy/spk2/y.aiff", 0.4, 22_050)
    write_audio(root / "sad/spk2/z.flac", 0.3)
    write_audio(root / "sad/spk1/w.WAV", 0.3, container="FLAC")
    write_audio(root / "anger/v.mp3", 0.6, 44_100)  # no speaker folder
    write_audio(root / "loose.wav", 0.2)  # outside any label folder
    write_text(root / "sad/spk2/notes.txt", "not audio")
    write_text(root / "README.md", "documentation beside the data")
    return FixtureExpectation(
        corpus="folder",
        root=root,
        records=5,
        labels={"Happy": 1, "happy": 1, "sad": 2, "anger": 1},  # labels match tables in any case
        speakers={"spk1", "spk2", "unknown"},
        problems={
            "happy/spk1/x.wav": "same recording as Happy/spk1/x.wav",  # "Happy/" sorts first
            "loose.wav": "not inside a <label>/ folder",
            "sad/spk2/notes.txt": "not an audio file",
        },
    )
