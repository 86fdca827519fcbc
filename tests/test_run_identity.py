"""A run folder is one experiment (training/run_identity.py): sweeps never share a folder or a W&B
run, a resume finds its own folder, and a fixed run.name made for another config is refused."""
from __future__ import annotations

import doctest
from pathlib import Path

import pytest
import torch

import training.cli
from training import command as train
import training.run_identity
from training.cli import SERLightningCLI
from training.run_identity import RECORD_FILE, claim_run_folder, read_record, write_record
from tests.in_process import run_command
from tests.tiny_train_config import make_tiny_run

REPO = Path(__file__).resolve().parents[1]


class ParseOnly(SERLightningCLI):
    """The real parsing, run naming and run-folder check of train.py, without building objects."""

    def instantiate_classes(self) -> None:
        self.check_run()


@pytest.mark.parametrize("module", [training.run_identity, training.cli], ids=lambda m: m.__name__)
def test_doctests(module) -> None:
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


@pytest.mark.slow
def test_sweep_variants_get_their_own_folder_and_wandb_run_and_a_resume_finds_its_own(tmp_path: Path) -> None:
    config = make_tiny_run(tmp_path, epochs=1, per_class_train=4)
    base = ["--config", str(config), "--run.name=null", "--trainer.enable_progress_bar=false"]
    for batch_size in (4, 2):  # two points of a sweep over data.batch_size, nothing else changed
        train.main([*base, f"--data.batch_size={batch_size}"])

    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2, folders
    records = {read_record(folder).config["data"]["batch_size"]: (folder, read_record(folder)) for folder in folders}
    assert set(records) == {4, 2}
    assert records[4][1].wandb_id != records[2][1].wandb_id
    for folder, record in records.values():
        assert folder.name.startswith("tiny-smallcnn-lr0.01-seed0-") and folder.name.endswith(record.fingerprint)
        assert [p.name for p in (folder / "wandb").glob("offline-run-*")] == \
               [p.name for p in (folder / "wandb").glob(f"offline-run-*-{record.wandb_id}")] != []

    # what slurm/train.sh changes on a requeue or resubmission: devices, nodes, W&B group, ckpt_path=last
    first, record = records[4]
    train.main([*base, "--data.batch_size=4", "--ckpt_path=last", "--trainer.max_epochs=2", "--trainer.devices=1",
                "--trainer.num_nodes=1", "--wandb.group=job-2"])
    assert sorted((tmp_path / "runs").iterdir()) == folders  # no third folder
    assert torch.load(first / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["epoch"] == 1
    wandb_runs = sorted((first / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 2 and all(p.name.endswith(f"-{record.wandb_id}") for p in wandb_runs)
    assert read_record(first) == record


def test_resume_keys_keep_the_folder_and_its_wandb_id(tmp_path: Path) -> None:
    config = make_tiny_run(tmp_path, epochs=1, per_class_train=2)
    made = ParseOnly(args=["--config", str(config)])
    write_record(made.run_dir, made.run_record)
    again = ParseOnly(args=["--config", str(config), "--trainer.devices=2", "--trainer.num_nodes=2",
                            "--trainer.max_epochs=9", "--ckpt_path=last", "--wandb.group=123", "--wandb.mode=disabled"])
    assert again.run_dir == made.run_dir == tmp_path / "runs" / "tiny"
    assert again.run_record == made.run_record  # same W&B id: the requeued job continues the same W&B run


def test_fixed_run_name_with_another_config_is_refused_naming_each_key(tmp_path: Path, capfd, monkeypatch) -> None:
    config = make_tiny_run(tmp_path, epochs=1, per_class_train=2)
    made = ParseOnly(args=["--config", str(config)])  # run.name: tiny
    write_record(made.run_dir, made.run_record)
    before = (made.run_dir / RECORD_FILE).read_text()

    done = run_command(train.run, ["--config", str(config), "--data.batch_size=2", "--model.lr=0.02", "--ckpt_path=last"],
                       capfd, monkeypatch, cwd=REPO, env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"})
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("train.py: error: run folder ") and str(made.run_dir) in message
    assert "data.batch_size: 4 there, 2 now" in message and "model.lr: 0.01 there, 0.02 now" in message
    assert "trainer" not in message and "ckpt_path" not in message  # resume keys are not differences
    assert (made.run_dir / RECORD_FILE).read_text() == before
    assert not (made.run_dir / "checkpoints").exists()


def test_folder_without_a_record_is_adopted_with_its_old_wandb_id(tmp_path: Path) -> None:
    """Runs made before run.json still resume: same folder, W&B id = the run name as before."""
    old = tmp_path / "demo"
    (old / "checkpoints").mkdir(parents=True)
    record = claim_run_folder(old, "demo", {"model": {"lr": 0.1}})
    assert record.wandb_id == "demo"
    fresh = claim_run_folder(tmp_path / "new", "new", {"model": {"lr": 0.1}})
    assert fresh.wandb_id.startswith("new-") and fresh.wandb_id != "new"
