"""train.py end to end on generated shards: every model family, resume, learning, W&B, config errors.

The real run configs (configs/*.yaml) are used with overrides that shrink them: tiny transformers
encoders saved to a folder and loaded by path, timm's ``test_efficientnet`` unpretrained at 32 px,
one-second clips, CPU trainer, a handful of steps.
"""
from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest
import torch

from evaluation.curves import epoch_curves
from lightning_modules import EmotionClassifier
from training.cli import SERLightningCLI, fit_and_test
from tests.shard_factory import make_dataset
from tests.tiny_models import FAMILIES, save_tiny_encoder
from tests.tiny_train_config import DEBUG_CPU
from tests.wandb_records import read_wandb_records

CONFIGS = sorted(Path("configs").glob("*.yaml"))
TRAIN_PER_CLASS, BATCH = 4, 8
# configs/debug/cpu.yaml: CPU, quiet, no W&B, test reports only (validation reports: tests/test_callbacks.py)
SMALL = ["--config", str(DEBUG_CPU), f"--data.batch_size={BATCH}", "--data.clip_seconds=1.0", "--data.shuffle_buffer=16"]

FAMILY_ARGS = {
    "wavlm": ["--config", "configs/wavlm.yaml"],
    "wav2vec2": ["--config", "configs/wav2vec2.yaml", "--model.net.init_args.head=mlp",
                 "--model.net.init_args.pooling=attentive",
                 "--model.net.init_args.weighted_layers=true", "--model.scheduler=cosine"],
    "hubert": ["--config", "configs/hubert.yaml", "--model.net.init_args.trainable_layers=1",
               "--model.net.init_args.gradient_checkpointing=true", "--model.scheduler=plateau"],
    "efficientnet": ["--config", "configs/efficientnet_b5.yaml", "--model.net.init_args.model_name=test_efficientnet",
                     "--model.net.init_args.pretrained=false", "--model.net.init_args.image_size=32",
                     "--model.net.init_args.trainable_blocks=3"],
    "small_cnn": ["--config", "configs/demo.yaml", "--checkpoint.monitor=val/weighted_f1"],
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("shards")
    make_dataset(root, num_classes=4, per_class={"train": TRAIN_PER_CLASS, "val": 2, "test": 2},
                 shards_per_split=2, seconds=(0.5, 1.0))
    return str(root)


@pytest.fixture(scope="module")
def encoders(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("encoders")
    return {family: str(save_tiny_encoder(family, folder)) for family in FAMILIES}


def run(args: list[str]) -> tuple[SERLightningCLI, dict[str, float]]:
    cli = SERLightningCLI(args=args)
    return cli, fit_and_test(cli)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILY_ARGS))
def test_family_fits_checkpoints_by_f1_and_resumes(family, data_root, encoders, tmp_path):
    args = [*FAMILY_ARGS[family], *SMALL, f"--data.data_root={data_root}", f"--run.root={tmp_path}",
            "--run.name=run"]
    if family in encoders:
        args.append(f"--model.net.init_args.model_name={encoders[family]}")
    cli, scores = run([*args, "--trainer.max_epochs=1"])
    steps_per_epoch = 4 * TRAIN_PER_CLASS // BATCH
    assert cli.trainer.global_step == steps_per_epoch
    best = Path(cli.trainer.checkpoint_callback.best_model_path)
    assert best.is_file() and best.parent == tmp_path / "run" / "checkpoints"
    assert cli.trainer.checkpoint_callback.monitor == cli.config.checkpoint.monitor
    assert 0.0 <= scores["test/weighted_f1"] <= 1.0 and "test/macro_f1" in scores
    assert (tmp_path / "run" / "reports" / "test" / "confusion_counts.png").is_file()
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()

    model = EmotionClassifier.load_from_checkpoint(best, map_location="cpu", weights_only=True).eval()
    assert model.hparams.class_names == ["class0", "class1", "class2", "class3"]
    assert model.hparams.class_weights == pytest.approx([1.0] * 4)  # balanced: weights from stats.json
    with torch.no_grad():
        assert model(torch.zeros(2, 16000), torch.tensor([16000, 8000])).shape == (2, 4)

    if family in encoders:  # the checkpoint rebuilds the encoder from its stored config, no folder or hub
        checkpoint = torch.load(best, map_location="cpu", weights_only=True)
        checkpoint["hyper_parameters"]["net"]["init_args"]["model_name"] = str(tmp_path / "gone")
        torch.save(checkpoint, tmp_path / "moved.ckpt")
        assert EmotionClassifier.load_from_checkpoint(tmp_path / "moved.ckpt", map_location="cpu", weights_only=True).net is not None

    resumed = SERLightningCLI(args=[*args, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert resumed.resume_path == str(tmp_path / "run" / "checkpoints" / "last.ckpt")
    resumed.trainer.fit(resumed.model, datamodule=resumed.datamodule, ckpt_path=resumed.resume_path)
    assert resumed.trainer.current_epoch == 2
    assert resumed.trainer.global_step == 2 * steps_per_epoch  # continued, not restarted


@pytest.mark.slow
def test_small_cnn_learns_and_wandb_offline_run_holds_metrics_plots_config(tmp_path, monkeypatch):
    """The demo model on held-out synthetic shards: test macro-F1 well above chance (0.25)."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    root = tmp_path / "shards"
    make_dataset(root, num_classes=4, per_class={"train": 24, "val": 6, "test": 10}, shards_per_split=2,
                 seconds=(1.0, 1.5), seed=1)
    args = ["--config", "configs/demo.yaml", *SMALL, "--wandb.mode=auto", f"--data.data_root={root}",
            f"--run.root={tmp_path / 'runs'}", "--data.batch_size=16", "--data.clip_seconds=1.5",
            "--trainer.max_epochs=4", "--early_stopping.patience=4",
            "--wandb_summary.artifact=always"]  # offline runs skip the artifact by default
    cli, scores = run(args)
    chance = 0.25
    assert scores["test/macro_f1"] > chance + 0.4, scores

    run_folders = glob.glob(str(tmp_path / "runs" / "demo" / "wandb" / "offline-run-*"))
    assert len(run_folders) == 1, "W&B must run offline without an API key"
    folder = Path(run_folders[0])
    records = read_wandb_records(folder)
    assert {"model", "data", "trainer", "checkpoint"} <= set(records["config"])
    assert not {"data_root", "batch_size", "lr", "_instantiator"} & set(records["config"]), "hparams duplicated as flat keys"
    assert records["metrics"]["val/macro_f1"] == ["max"] and records["metrics"]["val/loss"] == ["min"]
    best = cli.trainer.checkpoint_callback
    assert records["summary"]["val/macro_f1"] == {"max": pytest.approx(float(best.best_model_score))}
    assert records["summary"]["best_checkpoint"] == str(Path(best.best_model_path).resolve())
    wandb_id = json.loads((tmp_path / "runs" / "demo" / "run.json").read_text())["wandb_id"]
    assert [name for name in records["artifacts"] if name.startswith("model-")] == [f"model-{wandb_id}"]
    assert {"train/loss_step", "val/macro_f1", "test/macro_f1", "val/ua", "val/wa", "lr-AdamW/head"} <= set(records["history"])
    assert not [k for k in records["history"] if "report_" in k or "f1_macro" in k]  # one name per metric
    assert list((folder / "files" / "media" / "images" / "test").glob("confusion_matrix*.png"))
    assert list((folder / "files" / "media" / "table" / "test").glob("per_class*.json"))
    report = json.loads((tmp_path / "runs" / "demo" / "reports" / "test" / "report.json").read_text())
    assert report["num_samples"] == 40  # every test sample exactly once
    curves = epoch_curves(tmp_path / "runs" / "demo" / "csv" / "metrics.csv")
    assert len(curves["val/macro_f1"]) == 4 and len(curves["train/loss_epoch"]) == 4
    assert curves["lr-AdamW/head"] and set(curves["lr-AdamW/head"]) <= set(curves["val/macro_f1"])  # rows without epoch
    assert (tmp_path / "runs" / "demo" / "reports" / "curves.png").stat().st_size > 10_000
    assert list((folder / "files" / "media" / "images" / "train").glob("curves*.png"))


def parse_only(args: list[str]) -> SERLightningCLI:
    class ParseOnly(SERLightningCLI):
        def instantiate_classes(self) -> None:
            """Parsing and validation only."""

    return ParseOnly(args=args)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_run_config_parses(config):
    cli = parse_only(["--config", str(config)])
    assert cli.config.model.net.class_path.startswith("lightning_modules.components.")
    assert cli.config.checkpoint.monitor == cli.config.early_stopping.monitor


def test_transformer_configs_carry_seed_000_settings():
    for name in ("wavlm", "wav2vec2", "hubert"):
        config = parse_only(["--config", f"configs/{name}.yaml"]).config
        assert (config.model.lr, config.model.loss, config.early_stopping.patience) == (2e-5, "weighted_ce", 3)
        assert (config.data.clip_seconds, config.data.padding, config.trainer.precision) == (4.0, "zero", "bf16-mixed")


def test_unknown_keys_fail_naming_them(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_only(["--config", "configs/demo.yaml", "--model.lrr=1e-4"])
    assert "model.lrr" in capsys.readouterr().err
    for text, named in (("model:\n  lrr: 3\n", "'lrr'"), ("data_typo: 1\n", "data_typo"),
                        ("trainer:\n  max_epoch: 3\n", "max_epoch")):
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(SystemExit):
            parse_only(["--config", "configs/demo.yaml", "--config", str(tmp_path / "bad.yaml")])
        assert named in capsys.readouterr().err
