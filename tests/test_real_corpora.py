"""The shipped protocols on real corpus copies, when environment variables name them (docs/corpora.md).

CI has no corpora: each test is skipped, saying which variable it needs. Pointed at real copies, it
runs what a user types (``cross_validate.py --config configs/protocols/<p>.yaml --corpus_root NAME=FOLDER
[--partition_dir EMOBOX/<ds>] --prepare_only``) and checks the counts the corpora are known to have:

- ``SER_CORPUS_TESS``: TESS (2,800 distinct clips; Kaggle's copy holds each twice, one is kept),
- ``SER_CORPUS_SAVEE``: SAVEE (480 clips, 4 speakers),
- ``SER_CORPUS_EMODB``: EmoDB (535 clips, 10 speakers),
- ``SER_CORPUS_EMOVO``: EMOVO (the folder holding its six actor folders, or one above it: 588 clips, 6 speakers),
- ``SER_CORPUS_URDU``: URDU (a clone of github.com/siddiquelatif/URDU-Dataset: 400 clips, 29 speakers, 4 classes),
- ``SER_EMOBOX_DATA``: a clone's ``EmoBox/data`` folder: every entry of the corpus's EmoBox files matched
  (TESS 2,800 over 1 fold, SAVEE 1,920 over 4, EmoDB 2,675 over 5, EMOVO 3,528 over 6, URDU 400 over 1).

Nothing of the corpora is written into the repository: shards go to pytest's tmp_path.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from data_preparation.shards.shard_format import load_dataset_info
from protocols import command as cross_validate

REPO = Path(__file__).resolve().parents[1]
VARIABLES = {"tess": "SER_CORPUS_TESS", "savee": "SER_CORPUS_SAVEE", "emodb": "SER_CORPUS_EMODB", "urdu": "SER_CORPUS_URDU",
             "emovo": "SER_CORPUS_EMOVO"}
CLIPS = {"tess": 2800, "savee": 480, "emodb": 535, "urdu": 400, "emovo": 588}
SPEAKERS = {"tess": 2, "savee": 4, "emodb": 10, "urdu": 29, "emovo": 6}
CLASSES = {"tess": 7, "savee": 7, "emodb": 7, "urdu": 4, "emovo": 7}
LOSO = {"savee": ("savee_loso", 4), "emodb": ("emodb_loso", 10)}
# (EmoBox dataset folder, folds, entries: each clip in one test file and every other fold's train file)
EMOBOX = {"tess": ("tess", 1, 2800), "savee": ("savee", 4, 4 * 480), "emodb": ("emodb", 5, 5 * 535),
          "urdu": ("urdu", 1, 400), "emovo": ("emovo", 6, 6 * 588)}
# Clips each fold's EmoBox test file names, per fold (TESS: a stratified quarter; URDU: 25 of each emotion)
EMOBOX_TEST = {"tess": [700], "savee": [120] * 4, "emodb": [107] * 5, "urdu": [100], "emovo": [98] * 6}


def corpus_folder(name: str) -> Path:
    value = os.environ.get(VARIABLES[name])
    if not value:
        pytest.skip(f"{VARIABLES[name]} is not set (point it at a real {name} copy to run this test)")
    if not Path(value).is_dir():
        pytest.fail(f"{VARIABLES[name]}={value}: not a folder")
    return Path(value)


def emobox_folder(dataset: str) -> Path:
    value = os.environ.get("SER_EMOBOX_DATA")
    if not value:
        pytest.skip("SER_EMOBOX_DATA is not set (point it at a clone's EmoBox/data folder to run this test)")
    folder = Path(value) / dataset
    if not folder.is_dir():
        pytest.fail(f"SER_EMOBOX_DATA={value}: no {dataset}/ folder in it")
    return folder


@pytest.fixture(autouse=True)
def _from_repo_root(monkeypatch) -> None:
    monkeypatch.chdir(REPO)


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch) -> None:
    from data_preparation import pipeline

    monkeypatch.setattr(pipeline, "_plot", lambda *args, **kwargs: None)


def prepare(stem: str, name: str, root: Path, out: Path, partition: Path | None = None) -> dict:
    argv = ["--config", f"configs/protocols/{stem}.yaml", "--corpus_root", f"{name}={root}",
            "--prepared_dir", str(out), "--prepare_only"]
    if partition is not None:
        argv += ["--partition_dir", str(partition)]
    assert cross_validate.main(argv) == 0
    return load_dataset_info(str(out))


def check_every_clip(info, name: str) -> None:
    """Every distinct clip written once; nothing set aside but second copies of a recording."""
    written = sum(split.num_samples for split in info.splits.values())
    dropped = dict(info.extra["dropped_by_reason"])
    twice = dropped.pop("duplicate", 0)
    assert written == CLIPS[name], info.extra["dropped_by_reason"]
    assert dropped == {}, dropped
    assert written + twice == info.extra["input_files"]
    assert len(info.classes) == CLASSES[name]
    assert info.extra["split_by_corpus"][name]["speakers"] == SPEAKERS[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LOSO))
def test_real_copy_prepares_its_leave_one_speaker_out_protocol(name: str, tmp_path: Path) -> None:
    root = corpus_folder(name)
    stem, folds = LOSO[name]
    info = prepare(stem, name, root, tmp_path / stem)
    check_every_clip(info, name)
    assert len(info.folds) == folds == SPEAKERS[name]
    assert sum(fold["clips"]["test"] for fold in info.folds) == CLIPS[name]  # every clip tested once


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EMOBOX))
def test_real_copy_matches_every_entry_of_its_emobox_partition(name: str, tmp_path: Path, capsys) -> None:
    root = corpus_folder(name)
    dataset, folds, entries = EMOBOX[name]
    info = prepare(f"{name}_emobox", name, root, tmp_path / f"{name}_emobox", emobox_folder(dataset))
    check_every_clip(info, name)
    report = info.extra["partition"]
    assert (report["entries"], report["matched"]) == (entries, entries), report
    for kind in ("unmatched_entries", "ambiguous_entries", "entries_of_set_aside_clips", "records_in_no_entry"):
        assert report[kind]["count"] == 0, (kind, report[kind])
    assert len(info.folds) == folds
    assert [fold["clips"]["test"] for fold in info.folds] == EMOBOX_TEST[name]
    assert f"partition: {entries} of {entries} entries matched over {folds} folds" in capsys.readouterr().out
