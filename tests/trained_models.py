"""Tiny checkpoints trained through train.py on shard_factory data, once per test session.

Evaluation, ensemble, prediction, export and serving tests need real ``.ckpt`` files of
``EmotionClassifier`` (the production loading path), not stand-ins. Training runs through the
same ``train.main`` a user calls, for a couple of epochs on a few dozen one-second clips. Each is
built once per test run (tests/session_cache.py's ``built_once``: a file lock, so xdist workers share it
too) and memoised in this process, so every test module that asks shares them.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.session_cache import built_once, session_root
from tests.shard_factory import make_dataset
from tests.tiny_models import save_tiny_encoder
from tests.tiny_train_config import DEBUG_CPU
from training.resume import best_checkpoint

NUM_CLASSES = 4
_CACHE: dict[str, Path] = {}

NETWORKS = {
    "wavlm": {"class_path": "lightning_modules.components.speech_encoder.SpeechEncoderClassifier",
              "init_args": {"head_hidden": 32}},
    "small_cnn": {"class_path": "lightning_modules.components.small_cnn.SmallCNN",
                  "init_args": {"channels": [8, 16]}},
}


def session_base(tmp_path_factory) -> Path:
    """The run's folder shared by every worker, where the data and checkpoints are built once."""
    return session_root(tmp_path_factory)


def shared_dataset(base: Path) -> Path:
    """The prepared dataset every tiny checkpoint is trained and evaluated on."""
    if "data" not in _CACHE:
        _CACHE["data"], _ = built_once(base, "trained_models-data", _make_shared_dataset)
    return _CACHE["data"]


def _make_shared_dataset(root: Path) -> None:
    make_dataset(root, num_classes=NUM_CLASSES, per_class={"train": 8, "val": 5, "test": 5}, seconds=(0.8, 1.2))


def trained_checkpoint(base: Path, name: str, epochs: int = 3) -> Path:
    """A checkpoint of network ``name`` (see NETWORKS) trained by train.py for ``epochs``; built once per run."""
    key = f"trained_models-{name}-{epochs}"
    if key not in _CACHE:
        data = shared_dataset(base)
        _, checkpoint = built_once(base, key, lambda folder: str(_train(folder, data, name, epochs)))
        _CACHE[key] = Path(checkpoint)
    return _CACHE[key]


def _train(folder: Path, data: Path, name: str, epochs: int) -> Path:
    from training import command as train

    net = json.loads(json.dumps(NETWORKS[name]))
    if name == "wavlm":
        net["init_args"]["model_name"] = str(save_tiny_encoder(name, folder / "encoders"))
    run_root = folder / "runs"
    train.main([
        "--config", str(DEBUG_CPU),  # configs/debug/cpu.yaml: CPU, quiet, test reports only
        f"--data.data_root={data}", "--data.batch_size=8", "--data.clip_seconds=1.2",
        "--data.pin_memory=false", f"--model.net={json.dumps(net)}", "--model.lr=3e-3", "--model.scheduler=constant",
        f"--trainer.max_epochs={epochs}", "--trainer.logger=false", "--early_stopping.patience=1000",
        f"--run.root={run_root}", f"--run.name={name}",
    ])
    return best_checkpoint(run_root / name / "checkpoints")
