"""Unit tests of the preparation pieces: splits, keys, filters, config, augmentation, log-mel."""
from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

import corpora
from corpora.taxonomy import load_taxonomy

from data_preparation import config
from data_preparation.derived import augment
from data_preparation.shards import tar_writer
from data_preparation.derived.augment import AugmentTask, augment_clip
from data_preparation.config import AugmentationSpec, GaussianNoiseSpec, LogmelSpec, PitchShiftSpec, parse_config
from data_preparation.decode.decode import AudioFilter, DecodeTask, check_wave, decode_file
from data_preparation.derived.logmel import LogmelSettings, logmel_image
from data_preparation.shards.shard_format import SAMPLE_RATE, decode_audio, encode_audio
from data_preparation.split.splits import speaker_split, stratified_split
from tests.corpus_fixtures import encode_mp4, write_audio


def test_stratified_split_keeps_class_proportions_and_is_seeded() -> None:
    labels = ["anger"] * 100 + ["sad"] * 40 + ["happy"] * 20
    result = stratified_split(labels, [0.7, 0.15, 0.15], seed=3)
    per = Counter(zip(labels, result))
    assert (per["anger", "train"], per["anger", "val"], per["anger", "test"]) == (70, 15, 15)
    assert (per["sad", "train"], per["sad", "val"], per["sad", "test"]) == (28, 6, 6)
    assert (per["happy", "train"], per["happy", "val"], per["happy", "test"]) == (14, 3, 3)
    assert stratified_split(labels, [0.7, 0.15, 0.15], seed=3) == result
    assert stratified_split(labels, [0.7, 0.15, 0.15], seed=4) != result


def _speaker_data(speakers: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    labels, owners = [], []
    for s in range(speakers):
        for label in ("anger", "happy", "neutral", "sad"):
            count = int(rng.integers(2, 15))
            labels += [label] * count
            owners += [f"c/spk{s}"] * count
    return labels, owners


def test_speaker_split_never_shares_a_speaker_and_balances_classes() -> None:
    labels, owners = _speaker_data(20, seed=1)
    result = speaker_split(labels, owners, [0.7, 0.15, 0.15], seed=0)
    split_of_speaker = defaultdict(set)
    for owner, split in zip(owners, result):
        split_of_speaker[owner].add(split)
    assert all(len(s) == 1 for s in split_of_speaker.values())
    totals = Counter(result)
    assert set(totals) == {"train", "val", "test"}
    assert 0.6 < totals["train"] / len(labels) < 0.8
    for label in ("anger", "happy", "neutral", "sad"):
        share = sum(1 for l, s in zip(labels, result) if l == label and s == "train") / labels.count(label)
        assert 0.5 < share < 0.9, (label, share)
    assert speaker_split(labels, owners, [0.7, 0.15, 0.15], seed=0) == result


def test_speaker_split_fills_every_split_with_few_speakers_and_rejects_too_few() -> None:
    labels, owners = _speaker_data(3, seed=2)
    assert set(speaker_split(labels, owners, [0.7, 0.15, 0.15], seed=0)) == {"train", "val", "test"}
    with pytest.raises(ValueError, match="at least 3 speakers"):
        speaker_split(labels[:10], ["a"] * 5 + ["b"] * 5, [0.7, 0.15, 0.15], seed=0)
    with pytest.raises(ValueError, match="summing to 1"):
        stratified_split(labels, [0.7, 0.2, 0.2], seed=0)


def test_keys_are_unique_tar_safe_and_short() -> None:
    sources = ["a/b.c.wav", "a/b_c.wav", "a/b_c.flac", "x" * 300 + ".wav"]
    keys = tar_writer.make_keys(["corpus"] * 4, sources)
    assert len(set(keys)) == 4
    assert all("." not in k and "/" not in k and len(k) <= tar_writer.KEY_MAX_CHARS for k in keys)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (scripts/setup_system.sh)")
def test_ffmpeg_decodes_containers_soundfile_cannot(tmp_path: Path) -> None:
    wav = write_audio(tmp_path / "clip.wav", 2.0, 44_100)
    encode_mp4(wav, tmp_path / "clip.mp4")  # MELD ships its utterances as mp4
    result = decode_file(DecodeTask(0, tmp_path / "clip.mp4", tmp_path / "spool.flac", AudioFilter()))
    assert result.reason is None and result.native_rate == 44_100
    assert result.duration == pytest.approx(2.0, abs=0.05)
    wave, rate = decode_audio((tmp_path / "spool.flac").read_bytes())
    assert rate == SAMPLE_RATE and wave.size == pytest.approx(2.0 * SAMPLE_RATE, abs=800)


def test_check_wave_reasons() -> None:
    limits = AudioFilter(min_duration=1.0, max_duration=4.0, silence_threshold_db=-60)
    tone = 0.1 * np.sin(np.arange(2 * SAMPLE_RATE) / 10).astype(np.float32)
    assert check_wave(tone, limits) is None
    assert check_wave(np.zeros(0, np.float32), limits).category == "empty"
    nan = tone.copy()
    nan[5] = np.nan
    assert check_wave(nan, limits).category == "non-finite samples"
    assert check_wave(tone[: SAMPLE_RATE // 2], limits).category == "too short"
    too_long = check_wave(np.tile(tone, 3), limits)
    assert (too_long.category, too_long.value, too_long.detail) == ("too long", 6.0, "> 4 s")
    assert check_wave(tone * 1e-4, limits).category == "silent"


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prep.yaml"
    path.write_text(text)
    return path


def test_config_rejects_unknown_keys_naming_them(tmp_path: Path, capsys) -> None:
    base = f"corpora:\n  - {{name: csv, root: {tmp_path}}}\noutput: {tmp_path / 'out'}\n"
    good = parse_config(["--config", str(_write_config(tmp_path, base + "split: {mode: stratified}\n"))])
    assert good.split.mode == "stratified" and good.corpora[0].name == "csv" and good.filter.max_duration == 4.0
    for bad, named in (("bogus_key: 1\n", "bogus_key"), ("filter: {max_dur: 3}\n", "max_dur"),
                       ("split: {mode: random}\n", "mode")):
        with pytest.raises(SystemExit):
            parse_config(["--config", str(_write_config(tmp_path, base + bad))])
        assert named in capsys.readouterr().err
    with pytest.raises(ValueError, match="split.fractions"):
        parse_config(["--config", str(_write_config(tmp_path, base + "split: {fractions: [0.5, 0.1, 0.1]}\n"))])
    with pytest.raises(ValueError, match="min_duration < max_duration"):
        parse_config(["--config", str(_write_config(tmp_path, base)), "--filter.min_duration", "5"])


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "configs/prepare").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_data_config_parses_and_names_known_parts(path: Path) -> None:
    parsed = parse_config(["--config", str(path)])
    assert set(c.name for c in parsed.corpora) <= set(corpora.list_corpora())
    load_taxonomy(parsed.taxonomy)


def test_config_overrides_and_nested_augmentation(tmp_path: Path) -> None:
    text = (f"corpora:\n  - {{name: csv, root: {tmp_path}, label_overrides: {{angry: anger}}}}\n"
            f"output: out\naugmentation:\n  gaussian_noise: {{copies: 2}}\nlogmel: {{n_mels: 64}}\n")
    parsed = parse_config(["--config", str(_write_config(tmp_path, text)), "--workers", "3"])
    assert parsed.workers == 3 and parsed.corpora[0].label_overrides == {"angry": "anger"}
    assert isinstance(parsed.augmentation, AugmentationSpec) and parsed.augmentation.gaussian_noise.copies == 2
    assert parsed.augmentation.time_stretch is None and isinstance(parsed.logmel, LogmelSpec)
    assert config.fingerprint(parsed) != config.fingerprint(config.validate(
        config.PrepareConfig(corpora=parsed.corpora, output="out")))


def test_augmentation_is_seeded_per_sample_and_draws_factors_in_range(tmp_path: Path) -> None:
    wave = (0.2 * np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE)).astype(np.float32)
    spooled = tmp_path / "clip.flac"
    spooled.write_bytes(encode_audio(wave))
    results = {}
    for technique, low, high in (("gaussian_noise", 0.01, 0.02), ("time_stretch", 0.8, 0.9), ("pitch_shift", 2, 3)):
        outs = [tmp_path / f"{technique}{n}.flac" for n in range(3)]
        tasks = [AugmentTask(7, spooled, outs[0], technique, 0, low, high, seed=1),
                 AugmentTask(7, spooled, outs[1], technique, 0, low, high, seed=1),
                 AugmentTask(8, spooled, outs[2], technique, 0, low, high, seed=1)]
        first, again, other = (augment_clip(t) for t in tasks)
        assert low <= first.factor <= high and first.factor == again.factor != other.factor
        assert outs[0].read_bytes() == outs[1].read_bytes() != outs[2].read_bytes()
        results[technique] = (first, decode_audio(outs[0].read_bytes())[0])
    stretched = results["time_stretch"][0]
    assert stretched.duration == pytest.approx(2.0 / stretched.factor, rel=0.02)  # slower rate -> longer clip
    assert not np.allclose(results["gaussian_noise"][1], wave, atol=1e-3)
    jobs = augment.plan(AugmentationSpec(gaussian_noise=GaussianNoiseSpec(copies=2), pitch_shift=PitchShiftSpec()))
    assert [(j[0], j[1]) for j in jobs] == [("gaussian_noise", 0), ("gaussian_noise", 1), ("pitch_shift", 0)]


def test_logmel_is_repeat_padded_to_a_fixed_square_image() -> None:
    settings = LogmelSettings.resolve(LogmelSpec(n_mels=64, n_fft=512), max_duration=2.0)
    assert settings.hop_length == SAMPLE_RATE * 2 // 64
    short = (0.3 * np.sin(np.arange(SAMPLE_RATE // 2) / 5)).astype(np.float32)
    image = logmel_image(short, settings)
    assert image.shape == (64, settings.frames) and image.dtype == np.float16
    # Repetition, not zero padding: the last quarter has the energy of the first.
    quarter = image.shape[1] // 4
    assert abs(float(image[:, :quarter].mean()) - float(image[:, -quarter:].mean())) < 3.0


def _fold_entries(corpora_speakers: dict[str, int], clips_per_speaker: int) -> list:
    from data_preparation.inputs.entries import Entry
    entries = []
    for corpus, speakers in corpora_speakers.items():
        for speaker in range(speakers):
            for clip in range(clips_per_speaker):
                entry = Entry(corpus, Path(corpus), f"s{speaker}_{clip}.wav", "x", f"s{speaker}")
                entry.label = ("anger", "happy", "neutral", "sad")[(clip + speaker) % 4]
                entries.append(entry)
    return entries


def test_leave_one_speaker_out_tests_each_speaker_once_and_never_shares_one_between_roles() -> None:
    """The fold planner decides per speaker (folds.Unit): LOSO over a merge of three corpora."""
    from data_preparation.config import FoldSpec, SplitSpec
    from data_preparation.split.split_assignment import assign
    entries = _fold_entries({"a": 5, "b": 4, "c": 1}, clips_per_speaker=6)
    outcome = assign(entries, SplitSpec(mode="folds", folds=FoldSpec(by="speaker", k=None, val_fraction=0.25)))
    owners = [f"{e.corpus}/{e.speaker}" for e in entries]
    assert [fold["name"] for fold in outcome.folds] == sorted(set(owners))  # one fold per speaker
    group_of = dict(zip(range(len(entries)), outcome.splits))
    tested = Counter()
    for fold in outcome.folds:
        role_of = {g: role for role in ("train", "val", "test") for g in fold[role]}
        by_speaker = defaultdict(set)
        for index, owner in enumerate(owners):
            by_speaker[owner].add(role_of.get(group_of[index], ""))
        assert all(len(roles) == 1 for roles in by_speaker.values()), fold  # a speaker has one role per fold
        test = [o for o, roles in by_speaker.items() if roles == {"test"}]
        assert test == [fold["name"]] and fold["clips"]["test"] == 6
        assert fold["clips"]["train"] + fold["clips"]["val"] + fold["clips"]["test"] == len(entries)
        assert by_speaker["c/s0"] == {"train"} or fold["name"] == "c/s0"  # a lone speaker cannot give one to val
        assert fold["clips"]["val"] > 0 and fold["speakers"]["val"] == len({o for o, r in by_speaker.items() if r == {"val"}})
        tested.update(test)
    assert set(tested.values()) == {1}
    assert sum(info["clips"] for info in outcome.by_corpus.values()) == len(entries)


def _roles_by_speaker(entries, outcome, fold) -> dict[str, Counter]:
    role_of = {g: role for role in ("train", "val", "test") for g in fold[role]}
    roles: dict[str, Counter] = defaultdict(Counter)
    for entry, group in zip(entries, outcome.splits):
        roles[f"{entry.corpus}/{entry.speaker}"][role_of.get(group, "")] += 1
    return roles


def test_validation_by_clip_keeps_every_training_speaker_training_and_the_test_speaker_unseen() -> None:
    """``val_by: clip`` (SAVEE's 4 speakers): each fold's training speakers all train and give the same
    share of each class to validation; the held-out speaker is in no other role."""
    from data_preparation.config import FoldSpec, SplitSpec
    from data_preparation.split.split_assignment import assign
    entries = _fold_entries({"a": 4}, clips_per_speaker=40)  # 10 clips per class and speaker
    outcome = assign(entries, SplitSpec(mode="folds", folds=FoldSpec(by="speaker", k=None, val_fraction=0.2,
                                                                     val_by="clip")))
    assert len(outcome.folds) == 4
    for fold in outcome.folds:
        roles = _roles_by_speaker(entries, outcome, fold)
        assert roles[fold["name"]] == Counter(test=40), fold["name"]
        for speaker, counts in roles.items():
            if speaker != fold["name"]:
                assert counts == Counter(train=32, val=8), (fold["name"], speaker, counts)
        val = [e.label for e, g in zip(entries, outcome.splits) if g in fold["val"]]
        assert Counter(val) == Counter({label: 6 for label in ("anger", "happy", "neutral", "sad")})


def test_validation_by_clip_picks_the_same_clips_whatever_the_order_of_the_manifest() -> None:
    from data_preparation.split.folds import validation_clips
    owners = [f"s{i % 3}" for i in range(60)]
    labels = [("anger", "sad")[i % 2] for i in range(60)]
    names = [f"clip{i}.wav" for i in range(60)]
    chosen = validation_clips(owners, labels, names, 0.3, seed=0)
    backwards = validation_clips(owners[::-1], labels[::-1], names[::-1], 0.3, seed=0)[::-1]
    assert chosen == backwards and sum(chosen) == 6 * 3  # 0.3 of 10 per speaker and class
    assert validation_clips(owners, labels, names, 0.3, seed=1) != chosen


def test_validation_by_clip_takes_one_clip_from_a_speaker_too_small_to_give_a_share() -> None:
    """A download-sized fixture (one clip per class and speaker): 15% of one clip rounds to none."""
    from data_preparation.split.folds import validation_clips
    owners = [f"s{i // 4}" for i in range(12)]
    labels = [("anger", "happy", "neutral", "sad")[i % 4] for i in range(12)]
    chosen = validation_clips(owners, labels, [f"c{i}.wav" for i in range(12)], 0.15, seed=0)
    assert Counter(o for o, c in zip(owners, chosen) if c) == Counter(s0=1, s1=1, s2=1)
    assert validation_clips(["s0", "s1"], ["anger", "anger"], ["a.wav", "b.wav"], 0.15, seed=0) == [False, False]


def test_validation_by_clip_leaves_the_fingerprint_of_a_speaker_carve_as_it_was() -> None:
    """Adding ``val_by`` must not redo every existing fold preparation; choosing 'clip' must."""
    from data_preparation.config import CorpusSpec, FoldSpec, PrepareConfig, SplitSpec
    def stamp(**folds) -> str:
        return config.fingerprint(PrepareConfig(corpora=[CorpusSpec("savee", "/x")], output="/o",
                                                split=SplitSpec(mode="folds", folds=FoldSpec(**folds))))
    assert stamp(val_by="speaker") == "49777ea73ce656d2" != stamp(val_by="clip")  # the stamp before val_by existed


def test_a_journal_line_torn_by_a_kill_is_dropped_and_the_file_cut_back(tmp_path: Path) -> None:
    from data_preparation.resume import Journal
    path = tmp_path / "decoded.jsonl"
    with Journal(path) as journal:
        journal.append({"index": 0, "duration": 1.5})
        journal.append({"index": 3, "duration": 2.0})
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"index": 4, "dur')  # killed mid-write
    assert Journal(path).load() == {0: {"index": 0, "duration": 1.5}, 3: {"index": 3, "duration": 2.0}}
    assert path.read_bytes() == whole  # the next append starts on a line of its own
    with Journal(path) as journal:
        journal.append({"index": 4, "duration": 1.0})
    assert sorted(Journal(path).load()) == [0, 3, 4]
