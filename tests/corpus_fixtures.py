"""Fixture trees in each corpus's real layout, with generated audio under real file names.

Each ``write_<corpus>_fixture(root)`` writes a small tree that exercises the convention's edge
cases (case-inconsistent folders, a FLAC stream named ``.wav``, a shortened speaker prefix, the
same recording twice, a file that breaks the convention, a non-audio file) and returns a
FixtureExpectation: what the reader must list and report. ``write_mixed_fixture`` writes four
clean corpora side by side for end-to-end preparation tests (1-4 s clips, 112 files).
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf


@dataclass
class FixtureExpectation:
    """What reading a fixture tree must give. Paths are relative to ``root``, POSIX style."""

    corpus: str  # registered reader name
    root: Path
    records: int
    labels: dict[str, int]  # native label -> count
    speakers: set[str]
    problems: dict[str, str] = field(default_factory=dict)  # path -> fragment of the reason
    skipped: dict[str, int] = field(default_factory=dict)  # skip reason -> count
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> expected subset
    options: dict[str, Any] = field(default_factory=dict)  # reader options to read it with
    skipped_parts: list[str] = field(default_factory=list)  # parts of the fixture not written, and why


def write_audio(
    path: Path,
    duration: float = 0.5,
    sample_rate: int = 16_000,
    *,
    container: str | None = None,
    subtype: str | None = "PCM_16",
    channels: int = 1,
    seed_name: str | None = None,
) -> Path:
    """A voiced-sounding tone (harmonics, vibrato, noise) at ``path``.

    The content is seeded by the file name (or ``seed_name``), so two copies of one recording
    under different folders are byte-identical, and different recordings differ. ``container``
    forces the format regardless of the extension (e.g. FLAC bytes under a ``.wav`` name).
    """
    rng = np.random.default_rng(zlib.crc32((seed_name or path.name).encode()))
    n = max(1, int(round(duration * sample_rate)))
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(90.0, 320.0) * (1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(3, 7) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05 + 1e-3)
    wave = 0.3 * envelope * wave / 2.3 + 0.01 * rng.standard_normal(n)
    data = np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = container or {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3", ".aiff": "AIFF", ".aif": "AIFF"}[path.suffix.lower()]
    if fmt == "MP3":
        subtype = "MPEG_LAYER_III"
    sf.write(path, data.astype(np.float32), sample_rate, format=fmt, subtype=subtype)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _durations(count: int, seed: int, low: float = 1.2, high: float = 3.8) -> list[float]:
    return [round(float(d), 3) for d in np.random.default_rng(seed).uniform(low, high, count)]


# --------------------------------------------------------------------------- generic readers


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


# --------------------------------------------------------------------------- acted corpora


def write_crema_d_fixture(root: Path) -> FixtureExpectation:
    wav = root / "AudioWAV"
    good = {
        "1001_DFA_ANG_XX.wav": {},
        "1001_IEO_HAP_HI.wav": {},
        "1002_DFA_SAD_XX.wav": {"container": "FLAC"},
        "1002_TIE_NEU_XX.wav": {},
        "1003_MTI_FEA_LO.wav": {},
        "1091_WSI_DIS_MD.wav": {},
    }
    for name, kwargs in good.items():
        write_audio(wav / name, 0.5, **kwargs)
    write_audio(root / "audiowav/1001_DFA_ANG_XX.wav", 0.5)  # case-variant second copy
    write_audio(root / "AudioMP3/1001_DFA_ANG_XX.mp3", 0.5)  # MP3 twin: not read beside AudioWAV
    write_audio(wav / "1004_DFA_ANG.wav", 0.3)
    write_audio(wav / "1005_XYZ_ANG_XX.wav", 0.3)
    write_text(wav / "notes.txt", "stray notes")
    write_text(wav / ".DS_Store", "")
    write_csv(
        root / "VideoDemographics.csv",
        ["ActorID", "Age", "Sex", "Race", "Ethnicity"],
        [[1001, 51, "Male", "Caucasian", "Not Hispanic"], [1002, 21, "Female", "Caucasian", "Not Hispanic"], [1003, 21, "Female", "Caucasian", "Not Hispanic"]],
    )
    write_text(root / "VideoFlash/1001_DFA_ANG_XX.flv", "video, not read")
    return FixtureExpectation(
        corpus="crema_d",
        root=root,
        records=6,
        labels={"ANG": 1, "HAP": 1, "SAD": 1, "NEU": 1, "FEA": 1, "DIS": 1},
        speakers={"1001", "1002", "1003", "1091"},
        problems={
            "audiowav/1001_DFA_ANG_XX.wav": "listed twice",
            "AudioWAV/1004_DFA_ANG.wav": "does not match",
            "AudioWAV/1005_XYZ_ANG_XX.wav": "sentence 'XYZ'",
            "AudioWAV/notes.txt": "not an audio file",
        },
        skipped={"macOS metadata": 1},
        attributes={
            "AudioWAV/1001_IEO_HAP_HI.wav": {"gender": "male", "age": 51, "intensity": "high", "sentence": "IEO"},
            "AudioWAV/1002_DFA_SAD_XX.wav": {"gender": "female", "intensity": "unspecified"},
            "AudioWAV/1091_WSI_DIS_MD.wav": {"gender": None, "intensity": "medium"},
        },
    )


def write_ravdess_fixture(root: Path) -> FixtureExpectation:
    speech = root / "Audio_Speech_Actors_01-24"
    write_audio(speech / "Actor_01/03-01-05-01-01-01-01.wav", 0.6, 48_000)
    write_audio(speech / "Actor_01/03-01-02-02-02-01-01.wav", 0.5, 48_000)
    write_audio(speech / "Actor_02/03-01-01-01-01-02-02.wav", 0.5, 48_000)
    write_audio(speech / "Actor_02/03-01-08-02-01-01-02.wav", 0.4, 48_000, container="FLAC")
    write_audio(speech / "actor_03/03-01-03-01-01-01-03.wav", 0.4, 48_000)  # lower-case folder
    write_audio(root / "Actor_01/03-01-05-01-01-01-01.wav", 0.6, 48_000)  # Kaggle's top-level copy
    write_audio(root / "Audio_Song_Actors_01-24/Actor_01/03-02-03-01-01-01-01.wav", 0.5, 48_000)
    write_audio(speech / "Actor_01/03-01-05-01-01-01.wav", 0.3, 48_000)
    write_audio(speech / "Actor_01/03-01-01-02-01-01-01.wav", 0.3, 48_000)
    write_audio(speech / "Actor_01/03-01-05-01-01-01-02.wav", 0.3, 48_000)
    write_audio(speech / "Actor_01/03-01-09-01-01-01-01.wav", 0.3, 48_000)
    write_text(speech / "Actor_01/01-01-05-01-01-01-01.mp4", "video, not audio")
    return FixtureExpectation(
        corpus="ravdess",
        root=root,
        records=5,
        labels={"angry": 1, "calm": 1, "neutral": 1, "surprised": 1, "happy": 1},
        speakers={"Actor_01", "Actor_02", "Actor_03"},
        problems={
            "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-01-01-01.wav": "listed twice",
            "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-01-01.wav": "seven-part",
            "Audio_Speech_Actors_01-24/Actor_01/03-01-01-02-01-01-01.wav": "neutral has no strong intensity",
            "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-01-01-02.wav": "inside folder Actor_01",
            "Audio_Speech_Actors_01-24/Actor_01/03-01-09-01-01-01-01.wav": "emotion '09'",
            "Audio_Speech_Actors_01-24/Actor_01/01-01-05-01-01-01-01.mp4": "not an audio file",
        },
        skipped={"song": 1},
        attributes={
            "Audio_Speech_Actors_01-24/Actor_01/03-01-02-02-02-01-01.wav": {
                "intensity": "strong", "statement": "Dogs are sitting by the door", "repetition": 1,
                "gender": "male", "vocal_channel": "speech", "modality": "audio-only", "actor": 1,
            },
            "Audio_Speech_Actors_01-24/Actor_02/03-01-01-01-01-02-02.wav": {"gender": "female", "repetition": 2},
        },
    )


def write_tess_fixture(root: Path) -> FixtureExpectation:
    data = root / "TESS Toronto emotional speech set data"
    for rel in ("OAF_angry/OAF_back_angry.wav", "OAF_Fear/OAF_bite_fear.wav", "OAF_Pleasant_surprise/OAF_chair_ps.wav",
                "YAF_pleasant_surprised/YAF_dog_ps.wav", "YAF_neutral/YAF_germ_neutral.wav", "YAF_disgust/YAF_dog_disgust.wav"):
        write_audio(data / rel, 0.5, 24_414)
    write_audio(data / "YAF_sad/YAF_back_sad.wav", 0.5, 24_414, container="FLAC")
    write_audio(data / "OAF_happy/bath_happy.wav", 0.5, 24_414)  # shortened: speaker from folder
    write_audio(data / "TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry.wav", 0.5, 24_414)  # nested copy
    write_audio(data / "OAF_angry/OAF_back_happy.wav", 0.3, 24_414)
    write_audio(data / "YAF_sad/YAF_sad.wav", 0.3, 24_414)
    write_audio(data / "OAF_neutral/OAF_back_calm.wav", 0.3, 24_414)
    write_text(data / "YAF_sad/desktop.ini", "[.ShellClassInfo]")
    write_text(data / "OAF_angry/cover.jpg", "not an image either")
    prefix = "TESS Toronto emotional speech set data/"
    return FixtureExpectation(
        corpus="tess",
        root=root,
        records=8,
        labels={"angry": 1, "fear": 1, "ps": 2, "neutral": 1, "disgust": 1, "sad": 1, "happy": 1},
        speakers={"OAF", "YAF"},
        problems={
            prefix + "TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry.wav": "listed twice",
            prefix + "OAF_angry/OAF_back_happy.wav": "folder OAF_angry holds 'angry'",
            prefix + "YAF_sad/YAF_sad.wav": "does not match",
            prefix + "OAF_neutral/OAF_back_calm.wav": "unknown TESS emotion 'calm'",
            prefix + "OAF_angry/cover.jpg": "not an audio file",
        },
        skipped={"macOS metadata": 1},
        attributes={
            prefix + "OAF_happy/bath_happy.wav": {"word": "bath", "age_group": "older", "age": 64},
            prefix + "YAF_pleasant_surprised/YAF_dog_ps.wav": {"word": "dog", "age": 26, "gender": "female"},
        },
    )


def write_emodb_fixture(root: Path) -> FixtureExpectation:
    for name in ("03a01Wa.wav", "03a01Nc.wav", "09a04Ea.wav", "10b10Aa.wav", "13a05Fb.wav", "16b09Ta.wav"):
        write_audio(root / "wav" / name, 0.6)
    write_audio(root / "wav/08b02Lb.wav", 0.6, container="FLAC")
    write_audio(root / "Wav/03a01Wa.wav", 0.6)  # case-variant copy of the same recording
    write_audio(root / "wav/03a01Xa.wav", 0.3)
    write_audio(root / "wav/17a01Wa.wav", 0.3)
    write_audio(root / "wav/03a01W.wav", 0.3)
    write_text(root / "wav/index.html", "<html></html>")
    write_text(root / "lablaut/03a01Wa.lablaut", "phonetic labels, not read")
    write_text(root / "erkennung.txt", "documentation")
    return FixtureExpectation(
        corpus="emodb",
        root=root,
        records=7,
        labels={"W": 1, "N": 1, "L": 1, "E": 1, "A": 1, "F": 1, "T": 1},
        speakers={"03", "08", "09", "10", "13", "16"},
        problems={
            "wav/03a01Wa.wav": "listed twice",  # "Wav/" sorts first and is kept
            "wav/03a01Xa.wav": "emotion 'X'",
            "wav/17a01Wa.wav": "speaker '17'",
            "wav/03a01W.wav": "does not match",
            "wav/index.html": "not an audio file",
        },
        attributes={"wav/08b02Lb.wav": {"gender": "female", "age": 34, "text": "b02", "version": "b"}},
    )


# --------------------------------------------------------------------------- mixed corpus


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
    for (path, rate), duration in zip(names, _durations(len(names), seed=7)):
        write_audio(path, duration, rate, seed_name=path.relative_to(root).as_posix())
    return roots


ALL_FIXTURES: dict[str, Callable[[Path], FixtureExpectation]] = {
    "csv": write_csv_fixture,
    "folder": write_folder_fixture,
    "crema_d": write_crema_d_fixture,
    "ravdess": write_ravdess_fixture,
    "tess": write_tess_fixture,
    "emodb": write_emodb_fixture,
}


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def encode_mp4(wav: Path, mp4: Path) -> None:
    """An MP4 (AAC audio, no video) made from ``wav`` with ffmpeg, as MELD ships its clips."""
    mp4.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "64k", str(mp4)],
        check=True,
    )
