"""train.py with 2 CPU DDP processes (gloo) on generated shards: its validation metrics equal those
of 1 process validating the same checkpoint, so distributed evaluation sees every sample exactly once."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.cli import SERLightningCLI
from tests.tiny_train_config import make_tiny_run

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 2


def last_validation_row(metrics_csv: Path) -> dict[str, float]:
    with open(metrics_csv) as stream:
        rows = [row for row in csv.DictReader(stream) if row.get("val/wa")]
    return {key: float(value) for key, value in rows[-1].items() if key.startswith("val/") and value}


def test_ddp_validation_equals_single_process(tmp_path: Path) -> None:
    config = make_tiny_run(tmp_path, epochs=EPOCHS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    done = subprocess.run(
        [sys.executable, "train.py", "--config", str(config), "--trainer.accelerator=cpu", "--trainer.devices=2",
         "--trainer.strategy=ddp", "--wandb.mode=disabled"],
        cwd=REPO, env={**env, "WANDB_MODE": "disabled"}, capture_output=True, text=True, timeout=400,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "MEMBER: 2/2" in output and "distributed_backend=gloo" in output
    run_dir = tmp_path / "runs" / "tiny"
    distributed = last_validation_row(run_dir / "csv" / "metrics.csv")
    assert {"val/wa", "val/ua", "val/macro_f1", "val/weighted_f1", "val/loss"} <= set(distributed)

    cli = SERLightningCLI(args=["--config", str(config), "--trainer.devices=1", "--trainer.logger=false",
                                "--wandb.mode=disabled", "--run.name=single"])
    checkpoint = run_dir / "checkpoints" / "last.ckpt"  # the weights the last validation above ran with
    single = cli.trainer.validate(cli.model, datamodule=cli.datamodule, ckpt_path=str(checkpoint), verbose=False)[0]
    for key, value in distributed.items():
        # torchmetrics states are summed over ranks: equal up to float rounding. val/loss is a mean of
        # per-rank means, equal here because the two val shards hold the same number of clips; it
        # depends on every clip's logits, so a clip seen twice or never would show even when the
        # tiny model predicts one class for everything.
        assert single[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
