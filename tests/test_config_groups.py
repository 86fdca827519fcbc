"""Configs composed, not copied: the speech-encoder recipe, the callback defaults in configs/callbacks/,
the debug group, and the GPU trainer config failing fast where there is no GPU."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import training.cli as cli_module
from training.cli import SERLightningCLI, check_gpu_available
from user_errors import UserError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
MINIMAL = [f"--model.net={CONFIGS / 'net' / 'small_cnn.yaml'}", "--data.data_root=data"]  # no config file
ENCODERS = {"wavlm": "microsoft/wavlm-base-plus", "wav2vec2": "facebook/wav2vec2-base",
            "hubert": "facebook/hubert-base-ls960"}


class ParseOnly(SERLightningCLI):
    def instantiate_classes(self) -> None:
        """Parsing and validation only."""


def resolved(*args: str) -> dict[str, Any]:
    """The flat ``{dotted key: value}`` of the config ``args`` resolve to (the ``config`` list left out)."""
    config = dict(ParseOnly(args=list(args)).resolved)
    config.pop("config", None)
    return flatten(config)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differing(left: dict[str, Any], right: dict[str, Any]) -> set[str]:
    return {key for key in left.keys() | right.keys() if left.get(key, "(absent)") != right.get(key, "(absent)")}


def test_each_encoder_config_is_the_recipe_with_its_model_name():
    recipe = resolved("--config", str(CONFIGS / "recipes" / "speech_encoder.yaml"))
    for name, model_name in ENCODERS.items():
        path = CONFIGS / f"{name}.yaml"
        assert len(path.read_text().strip().splitlines()) <= 5, f"{path}: a new encoder is a 5-line file"
        config = resolved("--config", str(path))
        assert config["model.net.init_args.model_name"] == model_name
        assert differing(recipe, config) <= {"model.net.init_args.model_name"}, name


def test_recipe_keeps_the_settings_the_copies_had():
    """The values configs/wavlm.yaml and configs/net/wavlm.yaml set before they were composed."""
    config = resolved("--config", str(CONFIGS / "wav2vec2.yaml"))
    expected = {
        "model.net.class_path": "lightning_modules.components.speech_encoder.SpeechEncoderClassifier",
        "model.net.init_args.pooling": "mean", "model.net.init_args.head": "linear",
        "model.net.init_args.head_hidden": 256, "model.net.init_args.dropout": 0.1,
        "model.net.init_args.weighted_layers": False, "model.net.init_args.freeze_feature_encoder": True,
        "model.net.init_args.trainable_layers": None, "model.net.init_args.gradient_checkpointing": False,
        "model.loss": "weighted_ce", "model.lr": 2e-5, "model.encoder_lr": 2e-5, "model.weight_decay": 0.01,
        "model.scheduler": "constant", "model.warmup": 0.1,
        "model.augment.class_path": "lightning_modules.components.augmentation.WaveformAugment",
        "data.data_root": "data/prepared/seed000", "data.batch_size": 16, "data.num_workers": 6,
        "data.clip_seconds": 4.0, "data.padding": "zero", "data.shuffle_buffer": 2000,
        "trainer.precision": "bf16-mixed", "trainer.max_epochs": 20, "trainer.gradient_clip_val": 1.0,
        "checkpoint.monitor": "val/weighted_f1", "checkpoint.save_top_k": 2, "early_stopping.patience": 3,
        "wandb.project": "ser",
    }
    assert {key: config.get(key) for key in expected} == expected


def test_a_row_including_an_encoder_config_overrides_only_its_keys():
    base = resolved("--config", str(CONFIGS / "wavlm.yaml"))
    row = resolved("--config", str(CONFIGS / "seeds" / "000" / "table6_8_wavlm_augmented.yaml"))
    assert row["model.net.init_args.model_name"] == ENCODERS["wavlm"]
    assert {".".join(key.split(".")[:2]) for key in differing(base, row)} == {
        "data.train_splits", "data.clip_seconds", "model.augment"}


def test_callback_settings_come_from_configs_callbacks(tmp_path, monkeypatch):
    """The parser's defaults are configs/callbacks/*.yaml's values, and another default file changes them."""
    defaults = yaml.safe_load((CONFIGS / "callbacks" / "default.yaml").read_text())
    assert set(defaults) == {"checkpoint", "early_stopping", "report", "curves", "wandb_summary"}
    config = resolved(*MINIMAL)
    for group, file in defaults.items():
        for key, value in yaml.safe_load((CONFIGS / "callbacks" / file).read_text()).items():
            assert config[f"{group}.{key}"] == value, f"{group}.{key}"
    parsed = ParseOnly(args=MINIMAL).config
    assert parsed.early_stopping.monitor == parsed.model.monitor == "val/weighted_f1"  # linked to the checkpoint's

    (tmp_path / "checkpoint.yaml").write_text("monitor: val/ua\nsave_top_k: 5\n")
    (tmp_path / "default.yaml").write_text("checkpoint: checkpoint.yaml\n")
    monkeypatch.setattr(cli_module, "CALLBACK_DEFAULTS", tmp_path / "default.yaml")
    parsed = ParseOnly(args=MINIMAL).config
    assert (parsed.checkpoint.monitor, parsed.checkpoint.save_top_k) == ("val/ua", 5)
    assert parsed.early_stopping.monitor == parsed.model.monitor == "val/ua"  # the links still follow


def test_fault_tolerance_callbacks_are_not_in_the_config_files():
    """Their keys exist in every run, whatever the config files say (training/cli.py, add_fault_tolerance)."""
    texts = "".join(path.read_text() for path in (CONFIGS / "callbacks").glob("*.yaml"))
    config = resolved("--config", str(CONFIGS / "demo.yaml"))
    for group in ("nonfinite_loss", "preemption", "last_checkpoint"):
        assert f"{group}:" not in texts
        assert any(key.startswith(f"{group}.") for key in config), group


def test_debug_configs_change_only_where_and_how_loudly_a_run_runs():
    run = resolved("--config", str(CONFIGS / "wavlm.yaml"))
    cpu = resolved("--config", str(CONFIGS / "wavlm.yaml"), "--config", str(CONFIGS / "debug" / "cpu.yaml"))
    fast = resolved("--config", str(CONFIGS / "wavlm.yaml"), "--config", "debug/fast.yaml")
    assert (cpu["trainer.accelerator"], cpu["trainer.devices"], cpu["wandb.mode"]) == ("cpu", 1, "disabled")
    assert {key for key in differing(run, cpu) if not key.startswith("trainer.")} == {
        "data.num_workers", "wandb.mode", "report.every_n_val_epochs"}
    assert (fast["trainer.fast_dev_run"], fast["trainer.logger"], fast["trainer.callbacks"]) == (True, False, [])
    assert differing(cpu, fast) == {"trainer.fast_dev_run", "trainer.logger", "trainer.callbacks"}


def test_gpu_accelerator_without_a_gpu_is_a_user_error(monkeypatch):
    assert yaml.safe_load((CONFIGS / "trainer" / "gpu.yaml").read_text())["accelerator"] == "gpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for accelerator in ("gpu", "cuda"):
        with pytest.raises(UserError, match=f"trainer.accelerator='{accelerator}'.*sees no GPU"):
            check_gpu_available(accelerator)
    for accelerator in ("cpu", "auto", None):
        check_gpu_available(accelerator)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_gpu_available("gpu")


@pytest.mark.slow  # a fresh interpreter imports torch, Lightning and transformers
def test_gpu_trainer_config_without_cuda_ends_with_one_line_and_status_2(tmp_path):
    """``python train.py --config wavlm.yaml`` where CUDA is hidden: ends with one line, exit 2, no run folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("SER_DEBUG", None)
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", "wavlm.yaml",
                           f"--run.root={tmp_path / 'runs'}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert last.startswith("train.py: error: trainer.accelerator='gpu'") and "sees no GPU" in last
    assert not (tmp_path / "runs").exists()
