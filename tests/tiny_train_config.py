"""A tiny train.py config over generated shards, for the SLURM, resume and DDP tests.

A 2-block CNN on 16-band log-mels of 1 s clips, offline W&B, a handful of steps per epoch, on the
project's debug config for a quick CPU run (:data:`DEBUG_CPU`); nothing else from configs/, so these
tests pin the train.py interface, not a recipe. Tests that start from a real run config add
``--config`` :data:`DEBUG_CPU` (or :data:`DEBUG_FAST`) after it instead of listing overrides.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from tests.shard_factory import make_dataset

DEBUG = Path(__file__).resolve().parents[1] / "configs" / "debug"
DEBUG_CPU = DEBUG / "cpu.yaml"  # CPU, one device, 32-bit, quiet, no W&B, loaders in the main process
DEBUG_FAST = DEBUG / "fast.yaml"  # the same with fast_dev_run: one batch of each split, no logger


def make_tiny_run(root: Path, epochs: int = 3, per_class_train: int = 12, shards: int = 2,
                  classes: int = 2) -> Path:
    """Write shards under ``root/data`` and ``root/tiny.yaml``; returns the config path.

    Runs go to ``root/runs/tiny``. Train: ``classes * per_class_train`` clips in batches of 4.
    """
    make_dataset(root / "data", num_classes=classes, shards_per_split=shards, seconds=(0.6, 1.2),
                 per_class={"train": per_class_train, "val": 4, "test": 4})
    config = {
        "config": str(DEBUG_CPU),
        "seed_everything": 0,
        "trainer.max_epochs": epochs,
        "model": {
            "net": {
                "class_path": "lightning_modules.components.small_cnn.SmallCNN",
                "init_args": {
                    "channels": [4, 8], "dropout": 0.1,
                    "frontend": {"class_path": "lightning_modules.components.frontends.LogMel",
                                 "init_args": {"n_mels": 16}},
                },
            },
            "lr": 0.01, "scheduler": "cosine", "warmup": 0.1,
        },
        "data": {"data_root": str(root / "data"), "batch_size": 4, "num_workers": 0, "clip_seconds": 1.0,
                 "shuffle_buffer": 8},
        "checkpoint": {"monitor": "val/macro_f1"},
        "early_stopping": {"patience": 50},
        "report": {"every_n_val_epochs": 1000, "mistakes": 0},
        "wandb": {"mode": "offline", "project": "ser-tests"},
        "run": {"root": str(root / "runs"), "name": "tiny"},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
