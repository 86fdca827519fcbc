"""configs/recipes/scratch_cpu.yaml, the from-scratch recipe for real speech: its pieces compose as
documented, and it learns emotions of speakers it never heard (a generated corpus, slow).

Its figures on real corpora are in docs/results.md (python -m protocols.report); this test keeps the
recipe honest without them: trained by train.py exactly as shipped except for fewer epochs and CPU
test switches, it must beat chance by a clear margin on held-out speakers.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from data_preparation import demo_corpus
from data_preparation.config import parse_config
from data_preparation.pipeline import prepare
from training.cli import SERLightningCLI

RECIPE = "configs/recipes/scratch_cpu.yaml"
CHANCE = 0.25  # four balanced demo classes
MARGIN = 0.20


class ParseOnly(SERLightningCLI):
    def instantiate_classes(self) -> None:
        """Parsing and validation only."""


def _args(spec: Any) -> Any:
    return spec["init_args"] if isinstance(spec, dict) else spec.init_args


def _path(spec: Any) -> str:
    return spec["class_path"] if isinstance(spec, dict) else spec.class_path


def test_the_recipe_composes_its_shared_pieces() -> None:
    config = ParseOnly(args=["--config", RECIPE]).config
    # the CPU trainer piece survived composition beside the recipe's own trainer.max_epochs
    assert config.trainer.accelerator == "cpu" and config.trainer.max_epochs == 40
    assert any("LearningRateMonitor" in _path(c) for c in config.trainer.callbacks or [])
    net = config.model.net
    assert _path(net).endswith("SmallCNN") and _args(_args(net)["frontend"])["n_mels"] == 64
    assert _args(_args(net)["spec_augment"])["prob"] == 1.0  # net/scratch_cnn.yaml
    assert _args(net)["speaker_norm"] is True
    assert _args(config.model.augment)["speed_prob"] == 0.5  # augment/scratch.yaml
    assert config.checkpoint.monitor == "val/ua" == config.early_stopping.monitor
    assert config.data.clip_seconds == 3.0 and config.model.label_smoothing == 0.1


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scratch_recipe")
    corpus = demo_corpus.generate(root / "corpus", speakers=10, clips_per_class=6, progress=False).parent
    config = parse_config(["--config", "configs/prepare/demo.yaml", "--output", str(root / "prepared"),
                           "--shard_max_samples", "16"])
    prepare(dataclasses.replace(config, corpora=[dataclasses.replace(config.corpora[0], root=str(corpus))]))
    return root / "prepared"


@pytest.mark.slow
def test_the_recipe_beats_chance_on_held_out_speakers(prepared: Path, tmp_path: Path) -> None:
    from training import command as train

    scores = train.main([
        "--config", RECIPE, f"--data.data_root={prepared}", "--trainer.max_epochs=8", "--data.num_workers=0",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--wandb.mode=disabled",
        "--report.every_n_val_epochs=1000", f"--run.root={tmp_path}", "--run.name=run"])
    print(f"scratch_cpu: test UA {scores['test/ua']:.3f}, macro F1 {scores['test/macro_f1']:.3f}")
    assert scores["test/ua"] > CHANCE + MARGIN, scores
