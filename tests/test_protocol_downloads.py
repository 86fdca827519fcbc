"""Every shipped protocol (configs/protocols/*.yaml) on its corpora laid out as downloaded.

Each protocol is run the way docs/protocols.md tells a user to: the shipped file unchanged, only
the roots given (``--corpus_root NAME=FOLDER``, ``--partition_dir`` for a published partition,
``--prepared_dir`` / ``--output`` to keep the test's files in tmp_path). ``--prepare_only`` must
succeed with the protocol's published fold count and no partition entry left unmatched; then one
fold trains shrunk (one batch on the CPU, a tiny local WavLM for configs/wavlm.yaml, in-process)
and the aggregate writes results.md naming the source, the metrics and the fold as the source does.

The fixtures (tests/corpus_fixtures/downloads.py) hold the speakers each fold count needs, of
0.3 s clips; each corpus tree is written once per module and each protocol prepared once.
"""
from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from data_preparation import demo_corpus
from data_preparation.shards.shard_format import load_dataset_info
from protocols import command as cross_validate
from tests.corpus_fixtures import ffmpeg_available
from tests.corpus_fixtures import downloads as D
from tests.tiny_models import save_tiny_encoder

REPO = Path(__file__).resolve().parents[1]
PROTOCOLS = sorted((REPO / "configs" / "protocols").glob("*.yaml"))


def _demo(root: Path) -> Path:
    demo_corpus.generate(root, speakers=8, clips_per_class=1, progress=False)
    return root


WRITERS: dict[str, Callable[[Path], Path]] = {
    "ravdess": D.write_ravdess, "crema_d": D.write_crema_d, "tess": D.write_tess, "emodb": D.write_emodb,
    "savee": D.write_savee, "jl_corpus": D.write_jl_corpus, "esd": D.write_esd, "iemocap": D.write_iemocap,
    "meld": D.write_meld, "mlend": D.write_mlend, "urdu": D.write_urdu,
    "emovo": D.write_emovo, "csv": _demo,
}
PARTITIONS = {"ravdess": D.write_emobox_ravdess, "tess": D.write_emobox_tess, "savee": D.write_emobox_savee,
              "emodb": D.write_emobox_emodb, "urdu": D.write_emobox_urdu,
              "emovo": D.write_emobox_emovo}
# Clips a download holds twice (set aside as duplicates, one copy kept): Kaggle's TESS nests its tree in itself.
LISTED_TWICE = {"tess": len(D.tess_files())}


@dataclass(frozen=True)
class Case:
    corpora: tuple[str, ...]  # reader names the protocol reads, each pointed at its download
    folds: int  # the protocol's published fold count
    partition: str | None = None  # the corpus whose EmoBox partition folder --partition_dir names


CASES = {
    "crema_d_speaker_folds": Case(("crema_d",), 5),
    "cross_corpus_emodb": Case(("ravdess", "crema_d", "emodb"), 1),
    "demo_speaker_folds": Case(("csv",), 4),
    "emodb_emobox": Case(("emodb",), 5, partition="emodb"),
    "emodb_loso": Case(("emodb",), 10),
    "emovo_emobox": Case(("emovo",), 6, partition="emovo"),
    "esd_speaker_folds": Case(("esd",), 5),
    "iemocap_loso": Case(("iemocap",), 5),
    "jl_corpus_loso": Case(("jl_corpus",), 4),
    "leave_one_corpus_out": Case(("ravdess", "crema_d", "emodb", "savee", "tess"), 5),
    "meld_official": Case(("meld",), 1),
    "ravdess_emobox": Case(("ravdess",), 6, partition="ravdess"),
    "ravdess_speaker_folds": Case(("ravdess",), 4),
    "savee_emobox": Case(("savee",), 4, partition="savee"),
    "savee_loso": Case(("savee",), 4),
    "tess_emobox": Case(("tess",), 1, partition="tess"),
    "urdu_emobox": Case(("urdu",), 1, partition="urdu"),
}
FIRST_FOLD = {"ravdess_emobox": "fold_1", "tess_emobox": "fold_1", "savee_emobox": "fold_1", "emodb_emobox": "fold_1",
              "urdu_emobox": "fold_1", "emovo_emobox": "fold_1", "iemocap_loso": "session=1",
              "emodb_loso": "emodb/03", "savee_loso": "savee/DC", "jl_corpus_loso": "jl_corpus/female1",
              "leave_one_corpus_out": "corpus=crema_d", "crema_d_speaker_folds": "fold0",
              "cross_corpus_emodb": "test split", "meld_official": "test split"}


class Downloads:
    """Corpus trees and partition folders, each written on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.prepared: dict[str, list[str]] = {}

    def corpus(self, name: str) -> Path:
        folder = self.root / "corpora" / name
        if not folder.exists():
            if name == "meld" and not ffmpeg_available():
                pytest.skip("MELD ships mp4 clips: ffmpeg is needed to write (and read) them")
            WRITERS[name](folder)
        return folder

    def partition(self, name: str) -> Path:
        folder = self.root / "EmoBox" / "data" / name
        if not folder.exists():
            PARTITIONS[name](folder, self.corpus(name))
        return folder

    def argv(self, stem: str) -> list[str]:
        """The user's command for protocol ``stem``: the shipped file, then only locations."""
        case = CASES[stem]
        argv = ["--config", f"configs/protocols/{stem}.yaml"]
        for name in case.corpora:
            argv += ["--corpus_root", f"{name}={self.corpus(name)}"]
        if case.partition:
            argv += ["--partition_dir", str(self.partition(case.partition))]
        return argv + ["--prepared_dir", str(self.root / "prepared" / stem), "--output", str(self.root / "runs")]

    def prepare(self, stem: str) -> list[str]:
        """``--prepare_only`` once per protocol; the argv (preparation is idempotent, later runs reuse it)."""
        if stem not in self.prepared:
            argv = self.argv(stem)
            assert cross_validate.main([*argv, "--prepare_only"]) == 0
            self.prepared[stem] = argv
        return self.prepared[stem]


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Downloads:
    return Downloads(tmp_path_factory.mktemp("downloads"))


@pytest.fixture(autouse=True)
def _from_repo_root(monkeypatch) -> None:
    monkeypatch.chdir(REPO)  # the protocols name configs/... relative to the repository root


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch) -> None:
    """Skip the preparation's PNG plots: ~2 s of matplotlib layout per preparation, 80% of a tiny
    fixture's preparation time, and nothing these tests look at (test_prepare_pipeline.py checks them)."""
    from data_preparation import pipeline

    monkeypatch.setattr(pipeline, "_plot", lambda *args, **kwargs: None)


def test_every_shipped_protocol_has_a_download_case() -> None:
    assert sorted(CASES) == [p.stem for p in PROTOCOLS]


@pytest.mark.parametrize("stem", sorted(CASES))
def test_shipped_protocol_prepares_its_download(stem: str, downloads: Downloads, capsys) -> None:
    argv = downloads.prepare(stem)
    out = capsys.readouterr().out
    info = load_dataset_info(argv[argv.index("--prepared_dir") + 1])
    case = CASES[stem]
    assert (len(info.folds) if info.folds else 1) == case.folds, out
    assert f"{case.folds} fold(s) over" in out
    written = sum(split.num_samples for split in info.splits.values())
    outside = info.extra["dropped_by_reason"].pop("not in taxonomy", 0)  # e.g. calm under the four classes
    twice = info.extra["dropped_by_reason"].pop("duplicate", 0)
    assert twice == sum(LISTED_TWICE.get(name, 0) for name in case.corpora), info.extra["fates"]
    assert info.extra["dropped_by_reason"] == {}, f"{stem}: clips of the download set aside"
    assert written + outside + twice == info.extra["input_files"], info.extra["fates"]
    if case.partition:
        report = info.extra["partition"]
        assert report["unmatched_entries"]["count"] == 0 and report["ambiguous_entries"]["count"] == 0, report
        assert report["records_in_no_entry"]["count"] == 0 and report["matched"] == report["entries"], report
        assert f"partition: {report['matched']} of {report['entries']} entries matched" in out


@pytest.fixture(scope="module")
def tiny_wavlm(tmp_path_factory) -> str:
    return str(save_tiny_encoder("wavlm", tmp_path_factory.mktemp("encoder")))


def shrunk_train_args(stem: str, tiny_encoder: str) -> list[str]:
    """configs/debug/cpu.yaml with one epoch of one training and one validation batch, the whole test
    fold scored (fast_dev_run would test one batch), and the tiny local encoder in place of
    microsoft/wavlm-base-plus."""
    args = ["--config=configs/debug/cpu.yaml", "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
            "--trainer.limit_val_batches=1", "--data.batch_size=4", "--data.clip_seconds=0.5", "--data.shuffle_buffer=8"]
    train = Path("configs/protocols", f"{stem}.yaml").read_text()
    if "train: configs/wavlm.yaml" in train:
        args.append(f"--model.net.init_args.model_name={tiny_encoder}")
    return args


def train_in_process(command: list[str], log: Path) -> tuple[int, str]:
    """Run the fold's train.py command in this interpreter (no fresh process to import torch again)."""
    assert command[:3] == [sys.executable, "-m", "training.command"], command
    from training.command import main

    main(command[3:])
    return 0, ""


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(CASES))
def test_shipped_protocol_trains_one_fold_and_aggregates(stem: str, downloads: Downloads, tiny_wavlm: str,
                                                         monkeypatch) -> None:
    logged = []
    monkeypatch.setattr(cross_validate, "log_wandb_summary", lambda *args: logged.append(args))
    argv = [*downloads.prepare(stem), "--limit_folds", "1", "--extra_train_args",
            json.dumps(shrunk_train_args(stem, tiny_wavlm))]
    assert cross_validate.main(argv, start=train_in_process) == 0
    folder = _folder(downloads.root / "runs", stem)
    results = json.loads((folder / "results.json").read_text())
    assert results["protocol_folds"] == CASES[stem].folds and len(results["folds"]) == 1
    fold = results["folds"][0]
    expected = FIRST_FOLD.get(stem)
    if expected is not None:
        assert fold["fold"] == expected, fold["fold"]
    assert fold["index"] == 0 and fold["num_samples"] > 0
    table = (folder / "results.md").read_text()
    assert "Source: " in table and results["source"] in table and "UA = unweighted average recall" in table
    assert "WA = weighted accuracy (plain accuracy" in table and "sample standard deviation" in table
    assert f"the first 1 of its {CASES[stem].folds} folds" in table or CASES[stem].folds == 1
    assert f"| {fold['fold']} |" in table and logged


def _folder(runs: Path, stem: str) -> Path:
    """The result folder of protocol ``stem`` (named by the protocol's ``name``)."""
    from protocols.config import parse_args

    return runs / parse_args(["--config", f"configs/protocols/{stem}.yaml"]).protocol.name


def documented_command(flag: str) -> str:
    """The command docs/protocols.md shows with ``flag`` (continuation lines joined), as typed."""
    from tests.test_docs_commands import code_lines

    lines = [code for _, code in code_lines((REPO / "docs" / "protocols.md").read_text()) if flag in code]
    assert lines, f"docs/protocols.md shows no command with {flag}"
    return next((line for line in lines if "--prepare_only" in line), lines[0])


@pytest.mark.slow
def test_documented_override_prepares_emobox_ravdess_on_a_full_copy(tmp_path: Path, monkeypatch, capsys) -> None:
    """The docs' command, typed as written (only /data/... replaced by the fixture's folders), on all
    1,440 RAVDESS speech files and EmoBox's six RAVDESS folds."""
    command = documented_command("--corpus_root ravdess=")
    ravdess = D.write_ravdess(tmp_path / "RAVDESS", emotions=tuple(D.RAVDESS_EMOTIONS), full=True, duration=0.1)
    emobox = D.write_emobox_ravdess(tmp_path / "EmoBox" / "data" / "ravdess", ravdess)
    clone = tmp_path / "clone"  # a checkout's configs/, so the protocol's relative outputs land in tmp_path
    clone.mkdir()
    (clone / "configs").symlink_to(REPO / "configs")
    monkeypatch.chdir(clone)
    argv = shlex.split(command.replace("/data/RAVDESS", str(ravdess)).replace("/data/EmoBox", str(emobox.parents[1])))
    assert argv[:2] == ["python", "cross_validate.py"], command
    assert cross_validate.main(argv[2:]) == 0
    out = capsys.readouterr().out
    info = load_dataset_info(str(clone / "data" / "prepared" / "protocols" / "ravdess_emobox"))
    assert [fold["name"] for fold in info.folds] == [f"fold_{k}" for k in range(1, 7)]
    report = info.extra["partition"]
    # six folds x (240 test + 1,200 train lines): every clip in one test file and five train files
    assert (report["entries"], report["matched"]) == (6 * 1440, 6 * 1440), report
    for kind in ("unmatched_entries", "ambiguous_entries", "entries_of_set_aside_clips", "records_in_no_entry",
                 "records_never_tested"):
        assert report[kind]["count"] == 0, (kind, report[kind])
    assert "partition: 8640 of 8640 entries matched over 6 folds" in out
    assert "ravdess-emobox: 6 fold(s) over" in out and "fold_1, fold_2, fold_3, fold_4, fold_5, fold_6" in out
    for fold in info.folds:  # EmoBox's fold_k tests its four actors' 60 clips each
        assert fold["clips"]["test"] == 240 and fold["speakers"]["test"] == 4, fold
    assert sum(split.num_samples for split in info.splits.values()) == 1440  # all 1,440 files, each written once


def test_a_duplicate_recording_in_ones_copy_is_reported_against_its_partition_entries(
        downloads: Downloads, tmp_path: Path, capsys) -> None:
    """Two file names, one recording (byte-identical): preparation keeps one, and each EmoBox line of
    the other (its test file and five train files) is reported with the reason, not silently lost."""
    import shutil

    copy = tmp_path / "RAVDESS"
    shutil.copytree(downloads.corpus("ravdess"), copy)
    twin = copy / "Actor_02" / "03-01-03-01-01-01-02.wav"
    shutil.copyfile(copy / "Actor_01" / "03-01-03-01-01-01-01.wav", twin)
    emobox = D.write_emobox_ravdess(tmp_path / "EmoBox" / "data" / "ravdess", copy)
    argv = ["--config", "configs/protocols/ravdess_emobox.yaml", "--corpus_root", f"ravdess={copy}",
            "--partition_dir", str(emobox), "--prepared_dir", str(tmp_path / "prepared"), "--prepare_only"]
    assert cross_validate.main(argv) == 0
    out = capsys.readouterr().out
    report = load_dataset_info(str(tmp_path / "prepared")).extra["partition"]
    set_aside = report["entries_of_set_aside_clips"]
    assert set_aside["count"] == 6 and report["matched"] == report["entries"] - 6, report
    assert all("duplicate" in example for example in set_aside["examples"]), set_aside
    assert "entries of set aside clips: 6" in out
