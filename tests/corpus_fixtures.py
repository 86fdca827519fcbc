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


def write_savee_fixture(root: Path) -> FixtureExpectation:
    """Both layouts: per-speaker folders (AudioData/DC/a01.wav) and Kaggle's flat ALL/DC_a01.wav."""
    for rel in ("AudioData/DC/n30.wav", "AudioData/jk/su15.wav", "ALL/DC_a01.wav", "ALL/KL_h02.wav", "ALL/JE_d03.wav", "ALL/JK_f07.wav"):
        write_audio(root / rel, 0.5, 44_100)
    write_audio(root / "AudioData/JE/sa05.wav", 0.5, 44_100, container="FLAC")
    write_audio(root / "AudioData/DC/a01.wav", 0.5, 44_100, seed_name="DC_a01.wav")  # same clip as ALL/DC_a01.wav
    write_audio(root / "ALL/XY_a01.wav", 0.3)
    write_audio(root / "AudioData/DC/a16.wav", 0.3)
    write_audio(root / "AudioData/KL/DC_h01.wav", 0.3)
    write_audio(root / "ALL/b01.wav", 0.3)
    write_text(root / "AudioData/DC/info.doc", "not audio")
    return FixtureExpectation(
        corpus="savee",
        root=root,
        records=7,
        labels={"a": 1, "n": 1, "sa": 1, "su": 1, "h": 1, "d": 1, "f": 1},
        speakers={"DC", "JE", "JK", "KL"},
        problems={
            "AudioData/DC/a01.wav": "same recording as ALL/DC_a01.wav",
            "ALL/XY_a01.wav": "unknown SAVEE speaker 'XY'",
            "AudioData/DC/a16.wav": "out of range",
            "AudioData/KL/DC_h01.wav": "speaker folder KL",
            "ALL/b01.wav": "does not match",
            "AudioData/DC/info.doc": "not an audio file",
        },
        attributes={"AudioData/jk/su15.wav": {"sentence": 15, "gender": "male"}, "AudioData/DC/n30.wav": {"sentence": 30}},
    )


def write_jl_corpus_fixture(root: Path) -> FixtureExpectation:
    raw = root / "Raw JL corpus (unchecked and unannotated)" / "JL(wav+txt)"
    for stem in ("female1_angry_1a_1", "male1_excited_10b_2", "male2_neutral_5a_2", "female1_concerned_2b_1"):
        write_audio(raw / f"{stem}.wav", 0.6, 44_100)
        write_text(raw / f"{stem}.txt", "transcript")
    write_audio(raw / "female2_apologetic_3a_1.wav", 0.6, 44_100, container="FLAC")
    write_audio(root / "Checked/female1_angry_1a_1.wav", 0.6, 44_100)  # the same recording in a second release
    write_audio(raw / "female1_bored_1a_1.wav", 0.3)
    write_audio(raw / "female1angry1a1.wav", 0.3)
    write_text(raw / "Thumbs.db", "")
    write_text(raw / "notes.docx", "not audio")
    prefix = "Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/"
    return FixtureExpectation(
        corpus="jl_corpus",
        root=root,
        records=5,
        labels={"angry": 1, "excited": 1, "neutral": 1, "concerned": 1, "apologetic": 1},
        speakers={"female1", "female2", "male1", "male2"},
        problems={
            prefix + "female1_angry_1a_1.wav": "same recording as Checked/female1_angry_1a_1.wav",
            prefix + "female1_bored_1a_1.wav": "unknown JL-Corpus emotion 'bored'",
            prefix + "female1angry1a1.wav": "does not match",
            prefix + "notes.docx": "not an audio file",
        },
        skipped={"macOS metadata": 1},
        attributes={prefix + "male1_excited_10b_2.wav": {"gender": "male", "sentence": "10b", "session": 2}},
    )


MELD_HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID", "Season", "Episode", "StartTime", "EndTime"]


def write_meld_fixture(root: Path) -> FixtureExpectation:
    """Split CSVs, extracted wavs in the clip folders, and (with ffmpeg) real mp4 clips."""
    def row(n: int, text: str, speaker: str, emotion: str, sentiment: str, dialogue: int, utterance: int) -> list[Any]:
        return [n, text, speaker, emotion, sentiment, dialogue, utterance, 8, 21, "00:16:16,059", "00:16:21,731"]

    write_csv(root / "train_sent_emo.csv", MELD_HEADER, [
        row(1, "also I was the point person on my company\u2019s transition", "Chandler", "neutral", "neutral", 0, 0),
        row(2, "You must\u2019ve had your hands full.", "The Interviewer", "joy", "positive", 0, 1),
        row(3, "My duties?  All right.", "Chandler", "surprise", "positive", 0, 2),
        row(4, "Oh, no.", "Joey", "sadness", "negative", 1, 0),
        row(5, "Stop it!", "Ross", "anger", "negative", 1, 1),
    ])
    write_csv(root / "dev_sent_emo.csv", MELD_HEADER, [
        row(1, "Oh my God!", "Rachel", "fear", "negative", 0, 0),
        row(2, "Ew.", "Monica", "disgust", "negative", 0, 1),
    ])
    write_csv(root / "test_sent_emo.csv", MELD_HEADER, [row(1, "Yay!", "Phoebe", "joy", "positive", 0, 0)])
    for rel in ("train_splits/dia0_utt0.wav", "train_splits/dia0_utt2.wav", "train_splits/dia1_utt0.wav",
                "dev_splits_complete/dia0_utt0.wav", "dev_splits_complete/dia0_utt1.wav"):
        write_audio(root / rel, 0.8, 16_000)
    write_audio(root / "train_splits/dia0_utt1.wav", 0.8, container="FLAC")
    write_audio(root / "train_splits/dia5_utt9.wav", 0.3)
    write_audio(root / "train_splits/dia0.wav", 0.3)
    write_audio(root / "extra/dia0_utt0.wav", 0.3)
    write_text(root / "train_splits/._dia0_utt0.mp4", "AppleDouble")
    write_text(root / "train_splits/notes.txt", "not audio")
    expected = FixtureExpectation(
        corpus="meld",
        root=root,
        records=6,
        labels={"neutral": 1, "joy": 1, "surprise": 1, "sadness": 1, "fear": 1, "disgust": 1},
        speakers={"Chandler", "The Interviewer", "Joey", "Rachel", "Monica"},
        problems={
            "train_sent_emo.csv": "line 6: no audio for dia1_utt1 (train split)",
            "train_splits/dia5_utt9.wav": "no row for Dialogue_ID 5, Utterance_ID 9 in train_sent_emo.csv",
            "train_splits/dia0.wav": "does not match",
            "extra/dia0_utt0.wav": "cannot tell the MELD split",
            "train_splits/notes.txt": "not an audio file",
        },
        skipped={"macOS metadata": 1},
        attributes={"train_splits/dia0_utt1.wav": {"meld_split": "train", "dialogue_id": 0, "utterance_id": 1, "sentiment": "positive",
                                                   "season": 8, "needs_ffmpeg": False}},
    )
    if not ffmpeg_available():
        expected.skipped_parts.append("mp4 clips: ffmpeg is not installed")
        return expected
    source = write_audio(root / "_source/clip.wav", 1.0)
    encode_mp4(source, root / "train_splits/dia0_utt0.mp4")  # twin of the extracted wav
    encode_mp4(source, root / "output_repeated_splits_test/dia0_utt0.mp4")
    shutil.rmtree(root / "_source")
    expected.records += 1
    expected.labels["joy"] += 1
    expected.speakers.add("Phoebe")
    expected.problems["train_splits/dia0_utt0.mp4"] = "same recording as train_splits/dia0_utt0.wav"
    expected.attributes["output_repeated_splits_test/dia0_utt0.mp4"] = {"meld_split": "test", "needs_ffmpeg": True}
    return expected


def write_mlend_fixture(root: Path) -> FixtureExpectation:
    public = root / "MLEndSND_Public"
    for number in (0, 1, 4, 5, 7):
        write_audio(public / f"{number:05d}.wav", 0.7, 44_100)
    write_audio(public / "00003.wav", 0.7, 44_100, container="FLAC")
    write_audio(public / "MLEndSND_Public/00004.wav", 0.7, 44_100)  # nested second copy
    write_audio(public / "abc.wav", 0.3)
    write_text(public / ".DS_Store", "")
    write_text(public / "list.xlsx", "not audio")
    write_csv(root / "MLEndSND_Audio_Attributes.csv", ["Public filename", "Numeral", "Intonation", "Speaker"],
              [[0, 3, "excited", 59], [1, 1000000, "question", 31], [3, 15, "bored", 107], [4, 13, "neutral", 114],
               [5, 19, "neutral", 59], [6, 2, "excited", 31]])
    write_csv(root / "MLEndSND_Speakers_Demographics.csv", ["Speaker", "Language1", "Language2", "Nationality", "Coordinates"],
              [[59, "Hindi", "English", "Indian", "(26.82, 75.62)"], [31, "English", "", "British", "(51.52, -0.04)"]])
    return FixtureExpectation(
        corpus="mlend",
        root=root,
        records=5,
        labels={"excited": 1, "question": 1, "bored": 1, "neutral": 2},
        speakers={"59", "31", "107", "114"},
        problems={
            "MLEndSND_Audio_Attributes.csv": "line 7: no audio file for public file 00006",
            "MLEndSND_Public/00007.wav": "no row for public file 7",
            "MLEndSND_Public/abc.wav": "not an MLEnd public file number",
            "MLEndSND_Public/MLEndSND_Public/00004.wav": "same recording as MLEndSND_Public/00004.wav",
            "MLEndSND_Public/list.xlsx": "not an audio file",
        },
        skipped={"macOS metadata": 1},
        attributes={"MLEndSND_Public/00000.wav": {"numeral": "3", "nationality": "Indian", "public_filename": 0},
                    "MLEndSND_Public/00003.wav": {"numeral": "15", "nationality": "<absent>"}},
    )


def write_esd_fixture(root: Path) -> FixtureExpectation:
    data = root / "Emotion Speech Dataset"
    for rel in ("0011/Angry/0011_000351.wav", "0011/Neutral/0011_000001.wav", "0012/Happy/train/0012_000701.wav",
                "0014/surprise/test/0014_001401.wav", "0001/Angry/0001_000351.wav", "0011/angry/0011_000351.wav"):
        write_audio(data / rel, 0.9, 16_000)
    write_audio(data / "0013/Sad/evaluation/0013_001051.wav", 0.9, container="FLAC")
    write_text(data / "0011/0011.txt", "0011_000001\tThe nine the eggs.\tNeutral\n")
    write_audio(data / "0011/Angry/0011_000001.wav", 0.3)
    write_audio(data / "0011/Angry/0012_000352.wav", 0.3)
    write_audio(data / "0011/Angry/0011_351.wav", 0.3)
    write_audio(data / "0015/0015_000005.wav", 0.3)
    write_text(data / "0011/Angry/0011_000352.txt", "not audio")
    prefix = "Emotion Speech Dataset/"
    return FixtureExpectation(
        corpus="esd",
        root=root,
        records=5,
        labels={"Angry": 1, "Neutral": 1, "Happy": 1, "Sad": 1, "Surprise": 1},
        speakers={"0011", "0012", "0013", "0014"},
        problems={
            prefix + "0011/angry/0011_000351.wav": "same recording as Emotion Speech Dataset/0011/Angry/0011_000351.wav",
            prefix + "0011/Angry/0011_000001.wav": "is Neutral by its number but sits in folder Angry",
            prefix + "0011/Angry/0012_000352.wav": "inside speaker folder 0011",
            prefix + "0011/Angry/0011_351.wav": "does not match",
            prefix + "0015/0015_000005.wav": "expected one emotion folder",
            prefix + "0011/Angry/0011_000352.txt": "not an audio file",
        },
        skipped={"not selected": 1},
        attributes={prefix + "0012/Happy/train/0012_000701.wav": {"esd_split": "train", "utterance": 701, "language": "english"},
                    prefix + "0011/Neutral/0011_000001.wav": {"esd_split": None}},
    )


def _iemocap_evaluation(turns: list[tuple[str, str]]) -> str:
    """An EmoEvaluation file: header, then per turn a summary line and annotator lines."""
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for i, (turn, label) in enumerate(turns):
        lines += [f"[{6.29 + 3 * i:.4f} - {8.23 + 3 * i:.4f}]\t{turn}\t{label}\t[2.5000, 3.0000, 2.0000]",
                  "C-E2:\tNeutral;\t()", "A-E1:\tval 3; act 2; dom  2;\t()", ""]
    return "\n".join(lines)


def write_iemocap_fixture(root: Path) -> FixtureExpectation:
    release = root / "IEMOCAP_full_release"
    s1 = release / "Session1"
    write_text(s1 / "dialog/EmoEvaluation/Ses01F_impro01.txt", _iemocap_evaluation(
        [("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M000", "fru"), ("Ses01F_impro01_F001", "exc"),
         ("Ses01F_impro01_M001", "xxx"), ("Ses01F_impro01_F002", "ang")]))
    write_text(s1 / "dialog/EmoEvaluation/Ses01F_script01_1.txt", _iemocap_evaluation(
        [("Ses01F_script01_1_F000", "sad"), ("Ses01F_script01_1_M000", "hap")]))
    write_text(s1 / "dialog/EmoEvaluation/Categorical/Ses01F_impro01_e1_cat.txt", ":Ses01F_impro01_F000 :Neutral state; ()")
    wav = s1 / "sentences/wav"
    for turn in ("F000", "M000", "M001", "M002"):
        write_audio(wav / "Ses01F_impro01" / f"Ses01F_impro01_{turn}.wav", 1.0)
    write_audio(wav / "Ses01F_impro01/Ses01F_impro01_F001.wav", 1.0, container="FLAC")
    write_audio(s1 / "sentences/WAV/Ses01F_impro01/Ses01F_impro01_M000.wav", 1.0)  # case-variant copy
    for turn in ("F000", "M000"):
        write_audio(wav / "Ses01F_script01_1" / f"Ses01F_script01_1_{turn}.wav", 1.0)
    write_audio(wav / "Ses01F_impro01/recording.wav", 0.3)
    write_audio(wav / "Ses01F_impro01/Ses01F_impro02_F000.wav", 0.3)
    write_text(wav / "Ses01F_impro01/Ses01F_impro01_F000.pk", "pickle, not audio")
    s2 = release / "session2"
    write_text(s2 / "dialog/EmoEvaluation/Ses02M_impro03.txt", _iemocap_evaluation([("Ses02M_impro03_M000", "sad")]))
    write_audio(s2 / "Sentences/WAV/Ses02M_impro03/Ses02M_impro03_M000.wav", 1.0)
    write_text(s1 / "dialog/avi/DivX/Ses01F_impro01.avi", "video, not read")
    w1 = "IEMOCAP_full_release/Session1/sentences/wav/Ses01F_impro01/"
    return FixtureExpectation(
        corpus="iemocap",
        root=root,
        records=5,
        labels={"neu": 1, "fru": 1, "exc": 1, "xxx": 1, "sad": 1},
        speakers={"Ses01F", "Ses01M", "Ses02M"},
        problems={
            w1 + "Ses01F_impro01_M002.wav": "has no line in Session1/dialog/EmoEvaluation/Ses01F_impro01.txt",
            w1 + "recording.wav": "not an IEMOCAP turn",
            w1 + "Ses01F_impro02_F000.wav": "not in its dialog folder",
            w1 + "Ses01F_impro01_F000.pk": "not an audio file",
            w1 + "Ses01F_impro01_M000.wav": "same recording as IEMOCAP_full_release/Session1/sentences/WAV/",
            "IEMOCAP_full_release/Session1/dialog/EmoEvaluation/Ses01F_impro01.txt": "turn Ses01F_impro01_F002 is labelled but has no wav",
        },
        skipped={"scripted dialog": 2},
        attributes={w1 + "Ses01F_impro01_F001.wav": {"gender": "female", "session": 1, "improvised": True, "valence": 2.5,
                                                     "activation": 3.0, "dominance": 2.0, "dialog": "Ses01F_impro01"}},
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
    "savee": write_savee_fixture,
    "jl_corpus": write_jl_corpus_fixture,
    "meld": write_meld_fixture,
    "mlend": write_mlend_fixture,
    "esd": write_esd_fixture,
    "iemocap": write_iemocap_fixture,
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
