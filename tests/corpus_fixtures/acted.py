"""Fixtures for the corpora named by their file names: the acted CREMA-D, RAVDESS, TESS, EmoDB, SAVEE,
JL-Corpus and EMOVO, and URDU (clips of talk shows)."""
from __future__ import annotations

from pathlib import Path

from tests.corpus_fixtures._files import FixtureExpectation, write_audio, write_csv, write_text


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
    write_audio(data / "OAF_neutral/OA_bite_neutral.wav", 0.5, 24_414)  # the release's own misnamed clip
    write_audio(data / "YAF_sad/OA_bite_sad.wav", 0.3, 24_414)  # OA_ in a YAF folder: not OAF's either
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
        records=9,
        labels={"angry": 1, "fear": 1, "ps": 2, "neutral": 2, "disgust": 1, "sad": 1, "happy": 1},
        speakers={"OAF", "YAF"},
        problems={
            prefix + "TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry.wav": "listed twice",
            prefix + "OAF_angry/OAF_back_happy.wav": "folder OAF_angry holds 'angry'",
            prefix + "YAF_sad/YAF_sad.wav": "does not match",
            prefix + "OAF_neutral/OAF_back_calm.wav": "unknown TESS emotion 'calm'",
            prefix + "OAF_angry/cover.jpg": "not an audio file",
            prefix + "YAF_sad/OA_bite_sad.wav": "does not name OAF",
        },
        skipped={"macOS metadata": 1},
        attributes={
            prefix + "OAF_happy/bath_happy.wav": {"word": "bath", "age_group": "older", "age": 64,
                                                  "canonical_name": "OAF_bath_happy"},
            prefix + "OAF_neutral/OA_bite_neutral.wav": {"word": "bite", "age": 64, "canonical_name": "OAF_bite_neutral"},
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
        attributes={prefix + "male1_excited_10b_2.wav": {"gender": "male", "sentence": "10b", "session": 2, "emotion_kind": "primary"},
                    prefix + "female2_apologetic_3a_1.wav": {"emotion_kind": "secondary"}},
    )


def write_urdu_fixture(root: Path) -> FixtureExpectation:
    """The release's emotion folders, its padding (``F1``, ``A01``, ``A010``, ``N0100``) and the edge cases:
    a second unpacked copy padding one name differently, a letter against its folder, a number out of range."""
    for rel in ("Angry/SM1_F1_A01.wav", "Angry/SM1_F10_A010.wav", "Happy/SF1_F1_H01.wav", "Neutral/SM5_F72_N0100.wav"):
        write_audio(root / rel, 0.5, 44_100)
    write_audio(root / "Sad/sm27_f3_s095.wav", 0.5, 44_100, container="FLAC")  # lower case, FLAC bytes
    write_audio(root / "URDU-Dataset-master/Happy/SF1_F01_H1.wav", 0.5, 44_100, seed_name="SF1_F1_H01.wav")
    write_audio(root / "Sad/SM2_F1_A023.wav", 0.3, 44_100)
    write_audio(root / "Neutral/SM5_F73_N0101.wav", 0.3, 44_100)
    write_audio(root / "Angry/SM1_A011.wav", 0.3, 44_100)
    write_text(root / "Angry/notes.txt", "not audio")
    write_text(root / "Sad/.DS_Store", "Bud1")
    write_text(root / "README.md", "# URDU-Dataset\n")
    return FixtureExpectation(
        corpus="urdu",
        root=root,
        records=5,
        labels={"A": 2, "H": 1, "N": 1, "S": 1},
        speakers={"SM1", "SF1", "SM5", "SM27"},
        problems={
            "URDU-Dataset-master/Happy/SF1_F01_H1.wav": "same recording as Happy/SF1_F1_H01.wav",
            "Sad/SM2_F1_A023.wav": "emotion folder Sad",
            "Neutral/SM5_F73_N0101.wav": "out of range",
            "Angry/SM1_A011.wav": "does not match",
            "Angry/notes.txt": "not an audio file",
        },
        skipped={"macOS metadata": 1},
        attributes={"Angry/SM1_F10_A010.wav": {"gender": "male", "speaker_file": 10, "clip_number": 10},
                    "Happy/SF1_F1_H01.wav": {"gender": "female", "speaker_file": 1, "clip_number": 1},
                    "Sad/sm27_f3_s095.wav": {"gender": "male", "clip_number": 95}},
    )


def write_emovo_fixture(root: Path) -> FixtureExpectation:
    """Actor folders ``f1/dis-f1-b1.wav`` (stereo, as the release's clips are), a mono clip, an upper-case
    folder and the edge cases: a name against its folder, an unknown emotion and sentence, a second copy."""
    for rel in ("f1/dis-f1-b1.wav", "F2/gio-f2-d2.wav", "m3/tri-m3-n5.wav", "m1/sor-m1-l4.wav"):
        write_audio(root / rel, 0.5, 48_000, channels=2)
    write_audio(root / "f1/rab-f1-b1.wav", 0.5, 48_000)  # the release's one mono clip
    write_audio(root / "m2/neu-m2-b3.wav", 0.5, 48_000, container="FLAC", channels=2)
    write_audio(root / "EMOVO/f1/dis-f1-b1.wav", 0.5, 48_000, channels=2, seed_name="dis-f1-b1.wav")
    write_audio(root / "f3/pau-f1-b2.wav", 0.3, 48_000)
    write_audio(root / "f3/col-f3-b1.wav", 0.3, 48_000)
    write_audio(root / "f3/pau-f3-b4.wav", 0.3, 48_000)
    write_audio(root / "f3/pau_f3_b1.wav", 0.3, 48_000)
    write_text(root / "f3/readme.txt", "not audio")
    write_text(root / "documents/legenda.txt", "documentation beside the audio folders, not read")
    return FixtureExpectation(
        corpus="emovo",
        root=root,
        records=6,
        labels={"dis": 1, "gio": 1, "tri": 1, "sor": 1, "rab": 1, "neu": 1},
        speakers={"f1", "f2", "m1", "m2", "m3"},
        problems={
            "f1/dis-f1-b1.wav": "same recording as EMOVO/f1/dis-f1-b1.wav",  # "EMOVO/" sorts first and is kept
            "f3/pau-f1-b2.wav": "actor folder f3",
            "f3/col-f3-b1.wav": "unknown EMOVO emotion 'col'",
            "f3/pau-f3-b4.wav": "unknown EMOVO sentence 'b4'",
            "f3/pau_f3_b1.wav": "does not match",
            "f3/readme.txt": "not an audio file",
        },
        attributes={"F2/gio-f2-d2.wav": {"sentence": "d2", "gender": "female"},
                    "m3/tri-m3-n5.wav": {"sentence": "n5", "gender": "male"}},
    )
