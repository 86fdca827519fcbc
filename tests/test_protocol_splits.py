"""Benchmark-protocol splits on fixture trees: speaker splits within each corpus of a merge, pins,
folds over one set of shard groups (speaker disjointness, every clip in exactly one test fold),
and EmoBox partition files matched to a corpus's records with the leftovers reported."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from data_preparation.config import CorpusSpec, FoldSpec, PrepareConfig, SplitSpec, validate
from data_preparation.split.corpus_splits import split_within_corpora
from data_preparation.split.emobox import match_partition, read_partition
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import SPLITS, load_dataset_info
from data_preparation.shards.tar_writer import read_samples
from data_preparation.split.splits import speaker_split
from data_preparation.verify import verify
from datamodules import shard_data_module
from tests.corpus_fixtures import write_mixed_fixture

pytestmark = pytest.mark.xdist_group("test_protocol_splits")  # one worker builds the module fixtures once

MIXED = ("crema_d", "ravdess", "tess", "emodb")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> dict[str, Path]:
    return write_mixed_fixture(tmp_path_factory.mktemp("mixed"))


def config(roots: dict[str, Path], out: Path, split: SplitSpec, names=MIXED) -> PrepareConfig:
    corpora = [CorpusSpec(name, str(roots[name])) for name in names]
    return validate(PrepareConfig(corpora=corpora, output=str(out), taxonomy="seven", split=split,
                                  shard_max_samples=5, workers=2, progress=False))


def samples_of(root: Path, shards: list[str]) -> list[dict]:
    return [json.loads(s["json"]) for s in read_samples([root / p for p in shards])]


@pytest.fixture(scope="module")
def speaker_prepared(mixed, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("speaker") / "ds"
    prepare(config(mixed, out, SplitSpec(mode="speaker", pin={"test": ["ravdess/Actor_04"]})))
    return out


def test_speaker_split_is_decided_within_each_corpus_of_a_merge(speaker_prepared: Path) -> None:
    info = load_dataset_info(str(speaker_prepared))
    where: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # corpus -> split -> speakers
    for split in SPLITS:
        for meta in samples_of(speaker_prepared, info.splits[split].shards):
            where[meta["corpus"]][split].add(meta["speaker"])
    for corpus in ("crema_d", "ravdess", "emodb"):  # 4 speakers each: in all three splits
        assert set(where[corpus]) == set(SPLITS), (corpus, dict(where[corpus]))
    assert set(where["tess"]) == {"train"}  # 2 speakers < 3 splits: the default few_speakers rule
    speakers = [(c, s) for c in where for split in where[c] for s in where[c][split]]
    assert len(speakers) == len(set(speakers)), "a speaker is in two splits"
    assert "Actor_04" in where["ravdess"]["test"]  # pinned
    table = info.extra["split_by_corpus"]
    assert table["tess"]["rule"].startswith("2 speaker(s) < 3 splits: all in train")
    assert table["crema_d"]["speakers_per_split"] == {"test": 1, "train": 2, "val": 1}


def test_the_old_split_over_the_whole_merge_leaves_corpora_out_of_splits() -> None:
    """The measured failure: one speaker split over the merge starves whole corpora of splits."""
    rows = [(c, f"s{n}", label) for c, count in (("big", 24), ("small", 4)) for n in range(count)
            for label in ("a", "b")]
    labels, corpora, speakers = [r[2] for r in rows], [r[0] for r in rows], [r[1] for r in rows]
    merged = speaker_split(labels, [f"{c}/{s}" for c, s in zip(corpora, speakers)], [0.7, 0.15, 0.15], seed=0)
    assert {s for s, c in zip(merged, corpora) if c == "small"} != set(SPLITS)
    within, rules = split_within_corpora(labels, corpora, speakers, [0.7, 0.15, 0.15], seed=0)
    assert {s for s, c in zip(within, corpora) if c == "small"} == set(SPLITS)
    assert rules == {"big": "speaker-independent", "small": "speaker-independent"}


def test_few_speaker_rule_and_pins_fail_clearly() -> None:
    labels, corpora, speakers = ["a", "b"] * 2, ["t"] * 4, ["x", "x", "y", "y"]
    splits, rules = split_within_corpora(labels, corpora, speakers, [0.7, 0.15, 0.15], 0, few_speakers="test")
    assert set(splits) == {"test"} and "all in test" in rules["t"]
    with pytest.raises(ValueError, match="corpus 't' has 2 unpinned speaker"):
        split_within_corpora(labels, corpora, speakers, [0.7, 0.15, 0.15], 0, few_speakers="error")
    with pytest.raises(ValueError, match="'t/zz' matches no kept clip"):
        split_within_corpora(labels, corpora, speakers, [0.7, 0.15, 0.15], 0, pin={"test": ["t/zz"]})


@pytest.fixture(scope="module")
def folds_prepared(mixed, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("folds") / "ds"
    prepare(config(mixed, out, SplitSpec(mode="folds", folds=FoldSpec(by="speaker", k=3))))
    return out


def test_speaker_folds_are_disjoint_and_test_every_clip_exactly_once(folds_prepared: Path) -> None:
    info = load_dataset_info(str(folds_prepared))
    assert len(info.folds) == 3 and all(name.startswith("g") for name in info.splits)
    everything = {m["key"] for g in info.splits.values() for m in samples_of(folds_prepared, g.shards)}
    tested: list[str] = []
    for fold in range(3):
        data = shard_data_module(str(folds_prepared), fold=fold, batch_size=4, num_workers=0)
        speakers = {}
        for role in SPLITS:
            metas = samples_of(folds_prepared, data.info.splits[role].shards)
            assert metas, (fold, role)
            speakers[role] = {(m["corpus"], m["speaker"]) for m in metas}
        assert not (speakers["train"] & speakers["val"] or speakers["train"] & speakers["test"]
                    or speakers["val"] & speakers["test"]), f"fold {fold} shares a speaker between roles"
        data.setup("test")
        tested += [key for batch in data.test_dataloader() for key in batch["key"]]  # the datamodule's own stream
    assert sorted(tested) == sorted(everything), "a clip is tested in no fold or in two"
    assert len(tested) == len(set(tested)) == 108
    with pytest.raises(ValueError, match="prepared as 3 folds: set data.fold"):
        shard_data_module(str(folds_prepared))
    assert verify(folds_prepared).problems == []  # shard groups read back against the manifest


def test_fold_class_weights_come_from_the_folds_training_counts(folds_prepared: Path) -> None:
    data = shard_data_module(str(folds_prepared), fold=1)
    counts = data.info.splits["train"].per_class
    total = sum(counts.values())
    expected = [round(total / (len(data.classes) * counts[c]), 4) for c in data.classes]
    assert data.class_weights == expected


EMOBOX_DIR = "downloads/ravdess/audio/Audio_Speech_Actors_01-24"


def write_emobox(folder: Path, ravdess_root: Path) -> None:
    """Two folds in EmoBox's exact format: fold_1 tests Actors 01-02, fold_2 Actors 03-04.

    One test entry names a clip that does not exist, and Actor_04's first clip is left out of
    every file, so both kinds of leftover must be reported.
    """
    clips = sorted(ravdess_root.glob("Actor_*/*.wav"))
    for number, test_actors in ((1, {"01", "02"}), (2, {"03", "04"})):
        parts = {"train": [], "test": []}
        for clip in clips:
            actor = clip.parent.name.split("_")[1]
            if clip.name == "03-01-01-01-01-01-04.wav":
                continue
            emotion = {"01": "Neutral", "02": "Calm", "03": "Happy", "04": "Sad", "05": "Angry", "06": "Fearful",
                       "07": "Disgust", "08": "Surprised"}[clip.name.split("-")[2]]
            parts["test" if actor in test_actors else "train"].append({
                "key": f"ravdess-{clip.stem}", "wav": f"{EMOBOX_DIR}/{clip.parent.name}/{clip.name}", "emo": emotion,
                "length": 2.5, "sample_rate": 48000, "channel": 1})
        if number == 1:
            parts["test"].append({"key": "ravdess-03-01-05-02-02-02-31", "wav": f"{EMOBOX_DIR}/Actor_31/03-01-05-02-02-02-31.wav",
                                  "emo": "Angry", "length": 3.1, "sample_rate": 48000, "channel": 1})
        for part, rows in parts.items():
            path = folder / f"fold_{number}" / f"ravdess_{part}_fold_{number}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "label_map.json").write_text(json.dumps({"Neutral": 0, "Calm": 1, "Happy": 2, "Sad": 3, "Angry": 4,
                                                       "Fearful": 5, "Disgust": 6, "Surprised": 7}))


def test_emobox_partition_files_are_parsed_and_leftovers_reported(mixed, tmp_path: Path) -> None:
    write_emobox(tmp_path / "emobox" / "ravdess", mixed["ravdess"])
    entries = read_partition(tmp_path / "emobox" / "ravdess")
    assert len(entries) == 2 * 31 + 1 and {e.fold for e in entries} == {"fold_1", "fold_2"}
    out = tmp_path / "ds"
    split = SplitSpec(mode="folds", folds=FoldSpec(by="partition", partition_dir=str(tmp_path / "emobox" / "ravdess"),
                                                   val_fraction=0.5))
    info = prepare(config(mixed, out, split, names=("ravdess",)))
    report = info.extra["partition"]
    assert report["matched"] == 62 and report["unmatched_entries"]["count"] == 1
    assert "Actor_31/03-01-05-02-02-02-31.wav" in report["unmatched_entries"]["examples"][0]
    assert "ravdess_test_fold_1.jsonl:" in report["unmatched_entries"]["examples"][0]  # file:line of the entry
    assert report["records_in_no_entry"] == {"count": 1, "examples": ["Actor_04/03-01-01-01-01-01-04.wav"]}
    for fold, actors in ((0, {"Actor_01", "Actor_02"}), (1, {"Actor_03", "Actor_04"})):
        test = shard_data_module(str(out), fold=fold).info.splits["test"]
        assert {m["speaker"] for m in samples_of(out, test.shards)} == actors
        assert test.num_samples == (16 if fold == 0 else 15)


def test_partition_matching_uses_trailing_folders_for_shared_stems() -> None:
    entries = read_partition_rows([("fold_1", "test", "x/A/clip.wav"), ("fold_1", "train", "x/B/clip.wav"),
                                   ("fold_1", "train", "y/clip2.wav")])
    match = match_partition(entries, ["A/clip.wav", "B/clip.wav", "C/clip2.wav", "D/clip3.wav"], [None, None, None, None])
    assert match.test_fold == [0, -1, -1, -1] and match.train_folds[1] == {0} and match.train_folds[2] == {0}
    assert match.report["records_in_no_entry"]["examples"] == ["D/clip3.wav"]


def test_partition_matching_prefers_the_kept_copy_of_a_corpus_nested_twice() -> None:
    """Kaggle's TESS holds its tree twice (``data/OAF_Fear/x.wav`` and ``data/data/OAF_Fear/x.wav``,
    byte-identical); preparation keeps one copy and sets the other aside as a duplicate. EmoBox's
    ``downloads/tess/x.wav`` names both equally well: it must match the kept one, not be ambiguous."""
    entries = read_partition_rows([("fold_1", "test", "downloads/tess/OAF_back_fear.wav"),
                                   ("fold_1", "train", "downloads/tess/OAF_bar_fear.wav")])
    sources = ["data/OAF_Fear/OAF_back_fear.wav", "data/OAF_Fear/OAF_bar_fear.wav",
               "data/data/OAF_Fear/OAF_back_fear.wav", "data/data/OAF_Fear/OAF_bar_fear.wav"]
    match = match_partition(entries, sources, [None, None, "duplicate", "duplicate"])
    assert match.report["ambiguous_entries"]["count"] == 0 and match.report["matched"] == 2, match.report
    assert match.test_fold == [0, -1, -1, -1] and match.train_folds[1] == {0}


def test_partition_matching_finds_a_speaker_folder_flattened_into_the_name() -> None:
    """EmoBox's SAVEE lines name ``downloads/savee/JE_n23.wav``; the release has ``AudioData/JE/n23.wav``
    (and DC/n23.wav, another recording with the same stem)."""
    entries = read_partition_rows([("fold_1", "test", "downloads/savee/JE_n23.wav"),
                                   ("fold_1", "train", "downloads/savee/DC_n23.wav")])
    match = match_partition(entries, ["DC/n23.wav", "JE/n23.wav"], [None, None])
    assert match.report["unmatched_entries"]["count"] == 0 and match.report["matched"] == 2, match.report
    assert match.test_fold == [-1, 0] and match.train_folds[0] == {0}


def read_partition_rows(rows: list[tuple[str, str, str]]):
    from data_preparation.split.emobox import PartitionEntry

    return [PartitionEntry(key="", wav=wav, emo="", fold=fold, part=part, where=f"row{n}") for n, (fold, part, wav) in enumerate(rows)]


def test_emobox_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "fold_1" / "ds_test_fold_1.jsonl"
    path.parent.mkdir()
    path.write_text('{"key": "a", "wav": "a.wav"}\n{"key": "b"\n')
    with pytest.raises(ValueError, match=r"ds_test_fold_1.jsonl:2: not a JSON object"):
        read_partition(tmp_path)
    with pytest.raises(FileNotFoundError, match="no fold_<k>"):
        read_partition(tmp_path / "fold_1")


def test_editing_a_partition_file_changes_the_preparation_fingerprint(tmp_path: Path) -> None:
    from data_preparation.config import fingerprint

    path = tmp_path / "fold_1" / "ds_test_fold_1.jsonl"
    path.parent.mkdir()
    path.write_text('{"key": "a", "wav": "a.wav"}\n')
    split = SplitSpec(mode="folds", folds=FoldSpec(by="partition", partition_dir=str(tmp_path)))
    prepared = validate(PrepareConfig(corpora=[CorpusSpec("csv", "x")], output="out", split=split))
    before = fingerprint(prepared)
    path.write_text('{"key": "b", "wav": "b.wav"}\n')
    assert fingerprint(prepared) != before  # the old shards no longer count as this preparation
