"""Fixtures for corpora labelled by metadata files or folders: MELD, MLEnd, ESD, IEMOCAP."""
from __future__ import annotations

import shutil

from pathlib import Path
from typing import Any

from tests.corpus_fixtures._files import FixtureExpectation, encode_mp4, ffmpeg_available, write_audio, write_csv, write_text


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
