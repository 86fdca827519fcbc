"""Clean corpora laid out exactly as their public downloads unpack, for running shipped configs.

Unlike the edge-case fixtures beside it (odd copies, broken names), these trees hold only what a
fresh download holds, shrunk to a few speakers of very short clips (0.3 s by default, generated
audio at the corpus's own sample rate), with every speaker a protocol's published fold count needs:

- RAVDESS (Zenodo ``Audio_Speech_Actors_01-24.zip``): ``Actor_01``..``Actor_24/03-01-EE-II-SS-RR-AA.wav``, 48 kHz.
- CREMA-D (GitHub / Kaggle): ``AudioWAV/1001_DFA_ANG_XX.wav``, 16 kHz, and ``VideoDemographics.csv``.
- TESS (Kaggle): ``TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry.wav``, 24,414 Hz,
  with the release's folder spellings (``OAF_Fear``, ``OAF_Pleasant_surprise``, ``YAF_pleasant_surprised``),
  the whole tree a second time, byte for byte, inside itself
  (``TESS Toronto emotional speech set data/TESS Toronto emotional speech set data/...``), a
  ``.DS_Store``, one clip at 96 kHz (``OAF_Fear/OAF_food_fear.wav`` in the real copy) and the
  release's one misnamed clip (``OAF_neutral/OA_bite_neutral.wav``), as Kaggle's download unpacks.
- EmoDB: ``wav/03a01Fa.wav``, 16 kHz (10 speakers).
- SAVEE: ``AudioData/DC/a01.wav``, 44.1 kHz (4 speakers), with the release's ``AudioData/Info.txt``.
- JL-Corpus (Kaggle): ``Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/female1_angry_1a_1.wav``
  with its ``.txt`` transcript, 44.1 kHz.
- ESD: ``Emotion Speech Dataset/0011/Angry/0011_000351.wav`` and ``0011/0011.txt``, 16 kHz.
- IEMOCAP: ``IEMOCAP_full_release/Session1..5/sentences/wav/<dialog>/<turn>.wav`` and
  ``Session<N>/dialog/EmoEvaluation/<dialog>.txt``, 16 kHz.
- MELD (``MELD.Raw``): ``{train,dev,test}_sent_emo.csv`` and the mp4 clips in ``train_splits/``,
  ``dev_splits_complete/``, ``output_repeated_splits_test/`` (needs ffmpeg to encode them).
- MLEnd: ``MLEndSND_Public/00000.wav`` and ``MLEndSND_Audio_Attributes.csv``.
- EMOVO: ``f1/dis-f1-b1.wav`` .. ``m3/...`` (6 actors), 48 kHz stereo but the release's one mono clip
  (``f1/rab-f1-b1.wav``).
- URDU (github.com/siddiquelatif/URDU-Dataset): ``Angry/SM1_F1_A01.wav`` .. ``Sad/...``, 44.1 kHz, with the
  release's README.md; a speaker's file numbers restart in each emotion folder, clip numbers run on
  through it with the release's leading zero (``A01``, ``A010``), and some speakers speak one emotion only.

``write_emobox_partition`` writes a published partition in EmoBox's own files
(``fold_<k>/<dataset>_{train,test}_fold_<k>.jsonl`` and ``.json``, ``<dataset>.jsonl``,
``label_map.json``) with the keys its jsonl lines carry; ``write_emobox_<corpus>`` follow EmoBox's
real ``data/<corpus>`` files: their ``key`` and ``wav`` spellings (SAVEE's ``downloads/savee/JE_n23.wav``
for the release's ``AudioData/JE/n23.wav``), emotion names, label_map.json (typos kept) and how
their folds are drawn.
"""
from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from tests.corpus_fixtures._files import encode_mp4, write_audio, write_csv, write_text

CLIP = 0.3  # seconds: the protocols keep every clip (no length filter), training crops/pads


def _audio(path: Path, duration: float, rate: int) -> Path:
    """Generated speech-like audio seeded by the whole path: SAVEE's ``DC/a01.wav`` and ``JE/a01.wav``
    are different recordings, not one file twice (preparation drops byte-identical duplicates)."""
    return write_audio(path, duration, rate, seed_name=path.as_posix())

RAVDESS_EMOTIONS = {"01": "Neutral", "02": "Calm", "03": "Happy", "04": "Sad", "05": "Angry", "06": "Fearful",
                    "07": "Disgust", "08": "Surprised"}  # EmoBox's emo names for RAVDESS's codes
# EmoBox's published RAVDESS partition (data/ravdess/fold_<k>/ravdess_test_fold_<k>.jsonl): the four
# actors each fold tests, read from its files; every other actor trains in that fold.
EMOBOX_RAVDESS_TEST_ACTORS = {1: (11, 1, 20, 21), 2: (14, 4, 12, 10), 3: (8, 19, 23, 9),
                              4: (7, 3, 5, 24), 5: (18, 16, 15, 2), 6: (6, 13, 17, 22)}
EMOBOX_RAVDESS_FOLDER = "downloads/ravdess/audio/Audio_Speech_Actors_01-24"


def ravdess_names(actor: int, emotions: Sequence[str] = tuple(RAVDESS_EMOTIONS), full: bool = False) -> list[str]:
    """RAVDESS speech file names of one actor: all 60 (``full``: 2 statements x 2 repetitions x 2
    intensities per emotion, neutral at normal intensity only) or one per emotion (normal intensity,
    statement 01, repetition 01)."""
    names = []
    for emotion in emotions:
        intensities = ("01",) if emotion == "01" or not full else ("01", "02")  # neutral has no strong take
        for intensity in intensities:
            takes = [(s, r) for s in ("01", "02") for r in ("01", "02")] if full else [("01", "01")]
            names += [f"03-01-{emotion}-{intensity}-{s}-{r}-{actor:02d}.wav" for s, r in takes]
    return names


def write_ravdess(root: Path, actors: Sequence[int] = range(1, 25), emotions: Sequence[str] = ("01", "02", "03", "04", "05"),
                  full: bool = False, duration: float = CLIP) -> Path:
    """``Actor_NN/03-01-...-NN.wav`` at 48 kHz (``full``: all 60 speech files per actor, 1,440 for 24)."""
    for actor in actors:
        for name in ravdess_names(actor, emotions, full):
            _audio(root / f"Actor_{actor:02d}" / name, duration, 48_000)
    return root


def write_crema_d(root: Path, actors: int = 10, duration: float = CLIP) -> Path:
    sentences = ("IEO", "TIE", "DFA", "ITS", "MTI", "WSI")
    emotions = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
    ids = [1001 + n for n in range(actors)]
    for actor in ids:
        for sentence, emotion in zip(sentences, emotions):
            level = "XX" if emotion == "NEU" else ("HI", "MD", "LO", "XX")[actor % 4]
            _audio(root / "AudioWAV" / f"{actor}_{sentence}_{emotion}_{level}.wav", duration, 16_000)
    write_csv(root / "VideoDemographics.csv", ["ActorID", "Age", "Sex", "Race", "Ethnicity"],
              [[a, 20 + a % 40, ("Male", "Female")[a % 2], "Caucasian", "Not Hispanic"] for a in ids])
    return root


TESS_FOLDERS = {"angry": "angry", "disgust": "disgust", "fear": "Fear", "happy": "happy", "neutral": "neutral",
                "ps": "Pleasant_surprise", "sad": "Sad"}
TESS_YAF_FOLDERS = {**TESS_FOLDERS, "fear": "fear", "ps": "pleasant_surprised", "sad": "sad"}
TESS_WORDS = ("back", "bar", "base", "bath")


def tess_files(words: Sequence[str] = TESS_WORDS) -> list[str]:
    """Paths below the root, in the Kaggle release's folder spellings; OAF's neutral take of the last
    word is named as the release names ``OA_bite_neutral.wav`` (its speaker prefix lost the F)."""
    data = "TESS Toronto emotional speech set data"
    return [f"{data}/{speaker}_{folders[emotion]}/{_tess_prefix(speaker, emotion, word == words[-1])}_{word}_{emotion}.wav"
            for speaker, folders in (("OAF", TESS_FOLDERS), ("YAF", TESS_YAF_FOLDERS))
            for emotion in folders for word in words]


def _tess_prefix(speaker: str, emotion: str, last_word: bool) -> str:
    return "OA" if (speaker, emotion, last_word) == ("OAF", "neutral", True) else speaker


TESS_DATA = "TESS Toronto emotional speech set data"
TESS_96K = f"{TESS_DATA}/OAF_Fear/OAF_{TESS_WORDS[0]}_fear.wav"  # the real copy's one 96 kHz clip is OAF_food_fear


def write_tess(root: Path, words: Sequence[str] = TESS_WORDS, duration: float = CLIP, nested_copy: bool = True) -> Path:
    """Kaggle's TESS: every clip at 24,414 Hz but one at 96 kHz, and (``nested_copy``) the whole data
    folder again inside itself, byte-identical, with a ``.DS_Store`` beside it."""
    for rel in tess_files(words):
        clip = _audio(root / rel, duration, 96_000 if rel == TESS_96K else 24_414)
        if nested_copy:
            twin = root / TESS_DATA / rel
            twin.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clip, twin)
    write_text(root / TESS_DATA / ".DS_Store", "Bud1")
    return root


EMODB_SPEAKERS = ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")


def write_emodb(root: Path, speakers: Sequence[str] = EMODB_SPEAKERS, duration: float = CLIP) -> Path:
    """One clip per speaker and emotion: W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral."""
    texts = ("a01", "a02", "a04", "a05", "a07", "b01", "b02")
    for speaker in speakers:
        for text, emotion in zip(texts, "WLEAFTN"):
            _audio(root / "wav" / f"{speaker}{text}{emotion}a.wav", duration, 16_000)
    return root


SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
SAVEE_CODES = ("a", "d", "f", "h", "n", "sa", "su")


def write_savee(root: Path, duration: float = CLIP) -> Path:
    """``AudioData/<speaker>/<code><nn>.wav`` and the release's ``AudioData/Info.txt`` beside the speaker folders."""
    for speaker in SAVEE_SPEAKERS:
        for code in SAVEE_CODES:
            _audio(root / "AudioData" / speaker / f"{code}01.wav", duration, 44_100)
    write_text(root / "AudioData" / "Info.txt", "'DC', 'JE', 'JK' and 'KL' are four male speakers recorded for the "
                                               "SAVEE database\nAudio files consist of audio WAV files sampled at 44.1 kHz\n")
    return root


def write_jl_corpus(root: Path, duration: float = CLIP) -> Path:
    raw = root / "Raw JL corpus (unchecked and unannotated)" / "JL(wav+txt)"
    for speaker in ("female1", "female2", "male1", "male2"):
        for emotion, sentence in zip(("angry", "sad", "neutral", "happy", "excited"), ("1a", "2a", "3b", "4a", "5b")):
            stem = f"{speaker}_{emotion}_{sentence}_1"
            _audio(raw / f"{stem}.wav", duration, 44_100)
            write_text(raw / f"{stem}.txt", "transcript")
    return root


def write_esd(root: Path, speakers: Sequence[int] = range(11, 21), duration: float = CLIP) -> Path:
    """English speakers 0011-0020: one utterance per emotion (numbers encode it), plus each speaker's transcript."""
    data = root / "Emotion Speech Dataset"
    for number in speakers:
        speaker = f"{number:04d}"
        lines = []
        for index, emotion in enumerate(("Neutral", "Angry", "Happy", "Sad", "Surprise")):
            utterance = 350 * index + 1
            _audio(data / speaker / emotion / f"{speaker}_{utterance:06d}.wav", duration, 16_000)
            lines.append(f"{speaker}_{utterance:06d}\tThe nine the eggs.\t{emotion}")
        write_text(data / speaker / f"{speaker}.txt", "\n".join(lines) + "\n")
    return root


def _emo_evaluation(turns: Sequence[tuple[str, str]]) -> str:
    """An EmoEvaluation file: its header, then per turn a summary line and evaluator lines."""
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for n, (turn, label) in enumerate(turns):
        lines += [f"[{6.29 + 3 * n:.4f} - {8.23 + 3 * n:.4f}]\t{turn}\t{label}\t[2.5000, 3.0000, 2.0000]",
                  "C-E2:\tNeutral;\t()", "C-E3:\tNeutral;\t()", "A-E1:\tval 3; act 2; dom  2;\t()", ""]
    return "\n".join(lines)


def write_iemocap(root: Path, duration: float = CLIP) -> Path:
    """Five sessions, an improvised and a scripted dialog each, both actors speaking the four classes."""
    release = root / "IEMOCAP_full_release"
    for session in range(1, 6):
        folder = release / f"Session{session}"
        for dialog in (f"Ses0{session}F_impro01", f"Ses0{session}F_script01_1"):
            turns = [(f"{dialog}_{gender}{n:03d}", label) for gender in "FM"
                     for n, label in enumerate(("neu", "ang", "sad", "hap" if "impro" in dialog else "exc"))]
            write_text(folder / "dialog" / "EmoEvaluation" / f"{dialog}.txt", _emo_evaluation(turns))
            for turn, _ in turns:
                _audio(folder / "sentences" / "wav" / dialog / f"{turn}.wav", duration, 16_000)
    return root


MELD_HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID", "Season",
               "Episode", "StartTime", "EndTime"]
MELD_FOLDERS = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}


def write_meld(root: Path, duration: float = 0.5) -> Path:
    """MELD.Raw: the three split CSVs and one mp4 clip per row (AAC audio, as the release's clips):
    every emotion in train, two rows each in dev and test (ffmpeg encodes them, a few at a time)."""
    emotions = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
    speakers = ("Chandler", "Joey", "Monica", "Rachel", "Ross", "Phoebe")
    scratch, jobs = root / "_wav", []
    for split, rows_wanted in (("train", 7), ("dev", 2), ("test", 2)):
        rows = []
        for utterance, emotion in enumerate(emotions[:rows_wanted]):
            sentiment = "neutral" if emotion == "neutral" else "positive" if emotion == "joy" else "negative"
            rows.append([utterance + 1, f"Line {utterance}.", speakers[utterance % 6], emotion, sentiment, 0, utterance,
                         8, 21, "00:16:16,059", "00:16:21,731"])
            wav = _audio(scratch / f"{split}_dia0_utt{utterance}.wav", duration, 16_000)
            jobs.append((wav, root / MELD_FOLDERS[split] / f"dia0_utt{utterance}.mp4"))
        write_csv(root / f"{split}_sent_emo.csv", MELD_HEADER, rows)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: encode_mp4(*job), jobs))
    shutil.rmtree(scratch)
    return root


def write_mlend(root: Path, speakers: int = 6, duration: float = CLIP) -> Path:
    rows = []
    for n in range(speakers * 4):
        _audio(root / "MLEndSND_Public" / f"{n:05d}.wav", duration, 44_100)
        rows.append([n, n % 20, ("neutral", "bored", "excited", "question")[n % 4], 10 + n // 4])
    write_csv(root / "MLEndSND_Audio_Attributes.csv", ["Public filename", "Numeral", "Intonation", "Speaker"], rows)
    return root


EMOVO_SPEAKERS = ("f1", "f2", "f3", "m1", "m2", "m3")
EMOVO_EMOTIONS = ("dis", "gio", "neu", "pau", "rab", "sor", "tri")
EMOVO_MONO = "f1/rab-f1-b1.wav"  # the release's one mono clip


def write_emovo(root: Path, duration: float = CLIP) -> Path:
    """``<actor>/<emotion>-<actor>-b1.wav`` for the six actors and seven emotions, stereo but one."""
    for speaker in EMOVO_SPEAKERS:
        for emotion in EMOVO_EMOTIONS:
            rel = f"{speaker}/{emotion}-{speaker}-b1.wav"
            write_audio(root / rel, duration, 48_000, channels=1 if rel == EMOVO_MONO else 2, seed_name=rel)
    return root


URDU_FOLDERS = {"A": "Angry", "H": "Happy", "N": "Neutral", "S": "Sad"}
URDU_SPEAKERS = ("SM1", "SM2", "SM3", "SM4", "SF1", "SF2", "SF3", "SF4")


def write_urdu(root: Path, speakers: Sequence[str] = URDU_SPEAKERS, duration: float = CLIP) -> Path:
    """``<Emotion>/S<G><x>_F<n>_<E>0<m>.wav``: each speaker once per emotion, and one more speaker (``SM24``)
    in the sad folder only, as most of the release's speakers are in one or two emotions."""
    for emotion, folder in URDU_FOLDERS.items():
        voices = [*speakers, "SM24"] if emotion == "S" else list(speakers)
        for number, speaker in enumerate(voices, start=1):
            _audio(root / folder / f"{speaker}_F1_{emotion}0{number}.wav", duration, 44_100)
    write_text(root / "README.md", "# URDU-Dataset\nURDU dataset contains emotional utterances of Urdu speech "
                                   "gathered from Urdu talk shows.\n")
    return root


def _emobox_line(dataset: str, key: str, wav: str, emo: str, sample_rate: int, length: float) -> dict:
    """One line of an EmoBox jsonl file, with the keys (and their order) EmoBox writes."""
    return {"key": key, "dataset": dataset, "wav": wav, "type": "raw", "sample_rate": sample_rate,
            "num_frame": length * sample_rate, "task": "category", "length": length, "emo": emo, "channel": 1}


def write_emobox_partition(folder: Path, dataset: str, lines: Sequence[dict], test_folds: Sequence[Sequence[int]],
                           label_map: dict[str, str], legacy_names: bool = False) -> Path:
    """EmoBox's ``data/<dataset>`` folder: per fold a test and a train file (every other line), as jsonl
    and as its keyed .json twin, the whole list, and label_map.json. ``test_folds[k]``: line indices
    fold k+1 tests."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, tested in enumerate(test_folds, start=1):
        chosen = set(tested)
        parts = {"test": [lines[i] for i in tested], "train": [l for i, l in enumerate(lines) if i not in chosen]}
        for part, rows in parts.items():
            stem = folder / f"fold_{number}" / f"{dataset}_{part}_fold_{number}"
            stem.parent.mkdir(parents=True, exist_ok=True)
            stem.with_suffix(".jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
            keyed = {r["key"]: {"wav": r["wav"], "length": r["length"], "emo": r["emo"], "dataset": dataset,
                                "channel": 1} for r in rows}
            stem.with_suffix(".json").write_text(json.dumps(keyed, indent=4))
            if legacy_names:  # EmoDB's folders also hold an older ``emodb_test_fold1.jsonl`` with other keys
                legacy = [{"key": r["key"], "dataset": dataset, "audio": r["wav"], "type": "raw",
                           "sample_rate": r["sample_rate"], "num_frame": r["num_frame"], "task": "category",
                           "label": r["emo"]} for r in rows]
                old = stem.parent / f"{dataset}_{part}_fold{number}"
                old.with_suffix(".jsonl").write_text("".join(json.dumps(row) + "\n" for row in legacy))
                old.with_suffix(".json").write_text(json.dumps(keyed, indent=4))
    (folder / f"{dataset}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in lines))
    (folder / "label_map.json").write_text(json.dumps(label_map, indent=4) + "\n")
    return folder


def write_emobox_ravdess(folder: Path, ravdess_root: Path) -> Path:
    """EmoBox's data/ravdess partition over the clips under ``ravdess_root``: six folds, each testing
    the four actors EmoBox's own fold files test (``EMOBOX_RAVDESS_TEST_ACTORS``)."""
    clips = sorted(ravdess_root.glob("Actor_*/*.wav"))
    lines, actor_of = [], []
    for clip in clips:
        emo = RAVDESS_EMOTIONS[clip.stem.split("-")[2]]
        lines.append(_emobox_line("ravdess", f"ravdess-{clip.stem}", f"{EMOBOX_RAVDESS_FOLDER}/{clip.parent.name}/{clip.name}",
                                  emo, 48_000, 3.5))
        actor_of.append(int(clip.stem.split("-")[6]))
    test_folds = [[i for i, a in enumerate(actor_of) if a in actors] for _, actors in sorted(EMOBOX_RAVDESS_TEST_ACTORS.items())]
    label_map = {"Angry": "Angry", "Surprised": "Surprise", "Sad": "Sad", "Disgust": "Disgust", "Happy": "Happy",
                 "Calm": "Calm", "Neutral": "Neutral", "Fearful": "Fear"}  # EmoBox's data/ravdess/label_map.json
    return write_emobox_partition(folder, "ravdess", lines, test_folds, label_map)


def write_emobox_tess(folder: Path, tess_root: Path) -> Path:
    """EmoBox's data/tess partition: one fold (TESS has two speakers, so EmoBox drew a stratified 25% of
    each emotion as the test set, speakers mixed), ``wav`` paths flat under ``downloads/tess/``."""
    clips = sorted({clip.name: clip for clip in tess_root.rglob("*.wav")}.values(), key=lambda p: p.name)  # one per name
    stems = [("OAF" + clip.stem[2:]) if clip.stem.startswith("OA_") else clip.stem for clip in clips]  # EmoBox's name
    lines = [_emobox_line("tess", "tess-" + stem.replace("_", "-"), f"downloads/tess/{stem}.wav", stem.split("_")[2],
                          96_000 if clip.as_posix().endswith(TESS_96K) else 24_414, 2.0) for stem, clip in zip(stems, clips)]
    by_emotion: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        by_emotion.setdefault(line["emo"], []).append(index)
    tested = [i for indices in by_emotion.values() for i in indices[::4]]  # a quarter of each emotion
    label_map = {e: e for e in by_emotion}
    return write_emobox_partition(folder, "tess", lines, [tested], label_map)


def write_emobox_savee(folder: Path, savee_root: Path) -> Path:
    """EmoBox's data/savee partition: four folds, each testing one speaker (fold_1 JE, fold_2 KL, fold_3 DC,
    fold_4 JK, as its files do); ``wav`` flattens the speaker folder into the name (``downloads/savee/JE_n23.wav``),
    ``key`` is ``savee-JE-n23`` and ``emo`` the file's own code (a, d, f, h, n, sa, su)."""
    clips = sorted(savee_root.rglob("*.wav"))
    lines = [_emobox_line("savee", f"savee-{clip.parent.name}-{clip.stem}", f"downloads/savee/{clip.parent.name}_{clip.name}",
                          clip.stem.rstrip("0123456789"), 44_100, 3.5) for clip in clips]
    test_folds = [[i for i, clip in enumerate(clips) if clip.parent.name == speaker] for speaker in EMOBOX_SAVEE_TEST_SPEAKERS]
    label_map = {"a": "Angry", "d": "Disgust", "f": "Fear", "h": "Happy", "n": "Neutral", "sa": "Sad", "su": "Surprise"}
    return write_emobox_partition(folder, "savee", lines, test_folds, label_map)


EMOBOX_SAVEE_TEST_SPEAKERS = ("JE", "KL", "DC", "JK")  # data/savee/fold_1..fold_4, read from its test files
EMODB_EMOBOX_EMOTIONS = {"W": "anger", "L": "boredem", "E": "disgust", "A": "fear", "F": "happy", "N": "neutral", "T": "sad"}


def write_emobox_emodb(folder: Path, emodb_root: Path) -> Path:
    """EmoBox's data/emodb partition: five folds that are not speaker-independent (each tests about a fifth of
    every emotion with all ten speakers in it, as its files do), emotion names as EmoBox spells them
    (``boredem``), its label_map.json (with its ``Neutral`` key), and beside each fold's files the older
    ``emodb_{train,test}_fold<k>.jsonl`` twins (keys ``audio`` and ``label``) its folders also hold."""
    clips = sorted(emodb_root.rglob("*.wav"), key=lambda p: p.name)
    lines = [_emobox_line("emodb", f"emodb-{clip.stem}", f"downloads/emodb/wav/{clip.name}",
                          EMODB_EMOBOX_EMOTIONS[clip.stem[5]], 16_000, 2.0) for clip in clips]
    by_emotion: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        by_emotion.setdefault(line["emo"], []).append(index)
    test_folds = [[i for indices in by_emotion.values() for i in indices[fold::5]] for fold in range(5)]
    label_map = {"anger": "Angry", "boredem": "Boredom", "disgust": "Disgust", "fear": "Fear", "happy": "Happy",
                 "Neutral": "Neutral", "sad": "Sad"}  # EmoBox's data/emodb/label_map.json, as it is
    return write_emobox_partition(folder, "emodb", lines, test_folds, label_map, legacy_names=True)


def write_emobox_urdu(folder: Path, urdu_root: Path) -> Path:
    """EmoBox's data/urdu partition: one fold testing a quarter of each emotion (its real file tests 25 of
    each 100, speakers mixed), ``wav`` as the release names it (``downloads/urdu/Angry/SM1_F1_A01.wav``),
    ``key`` ``urdu-SM1_F1_A01`` and ``emo`` the name's letter (A, H, N, S)."""
    clips = sorted(urdu_root.rglob("*.wav"))
    lines = [_emobox_line("urdu", f"urdu-{clip.stem}", f"downloads/urdu/{clip.parent.name}/{clip.name}",
                          clip.stem.split("_")[2][0], 44_100, 2.0) for clip in clips]
    by_emotion: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        by_emotion.setdefault(line["emo"], []).append(index)
    tested = [i for indices in by_emotion.values() for i in indices[::4]]
    return write_emobox_partition(folder, "urdu", lines, [tested], dict(URDU_FOLDERS))  # its label_map.json


EMOBOX_EMOVO_TEST_SPEAKERS = ("f2", "m3", "m2", "f3", "f1", "m1")  # data/emovo/fold_1..fold_6, read from its test files
EMOVO_EMOBOX_LABELS = {"neu": "Neutral", "dis": "Disgust", "gio": "Happy", "pau": "Fear", "rab": "Angry", "sor": "Surprise",
                       "tri": "Sad"}


def write_emobox_emovo(folder: Path, emovo_root: Path) -> Path:
    """EmoBox's data/emovo partition: six folds, each testing one actor (fold_1 f2, fold_2 m3, fold_3 m2, fold_4 f3,
    fold_5 f1, fold_6 m1, as its files do); ``wav`` as the release names it (``downloads/emovo/f2/gio-f2-b2.wav``),
    ``key`` ``emovo-gio-f2-b2``, ``emo`` the name's code, and its label map as ``label_dict.json`` (this folder has
    no label_map.json)."""
    clips = sorted(emovo_root.rglob("*.wav"))
    lines = [_emobox_line("emovo", f"emovo-{clip.stem}", f"downloads/emovo/{clip.parent.name}/{clip.name}",
                          clip.stem.split("-")[0], 48_000, 3.0) for clip in clips]
    test_folds = [[i for i, clip in enumerate(clips) if clip.parent.name == speaker] for speaker in EMOBOX_EMOVO_TEST_SPEAKERS]
    write_emobox_partition(folder, "emovo", lines, test_folds, EMOVO_EMOBOX_LABELS)
    (folder / "label_map.json").rename(folder / "label_dict.json")
    return folder
