"""``kill -9`` in the middle of ``python train.py``, then the same command resumes and finishes the run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.tiny_train_config import make_tiny_run

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 20  # tiny epochs take ~0.1 s: with 5, a quiet machine finished the run between two polls


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    return {**env, "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1"}


def test_kill_9_mid_run_then_same_command_resumes(tmp_path: Path) -> None:
    config = make_tiny_run(tmp_path, epochs=EPOCHS)
    command = [sys.executable, "train.py", "--config", str(config), "--ckpt_path=last", "--wandb.mode=disabled"]
    last = tmp_path / "runs" / "tiny" / "checkpoints" / "last.ckpt"

    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, cwd=REPO, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while not last.exists():  # the first epoch is done and training goes on
                assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "no checkpoint after 240 s"
                time.sleep(0.02)
            time.sleep(0.05)  # kill early: on an idle machine 0.3 s let a 5-epoch run finish first
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    killed = torch.load(last, map_location="cpu", weights_only=True)  # complete, even if killed mid-save
    assert killed["epoch"] < EPOCHS - 1, "the first run finished before the kill: nothing to resume"
    steps_per_epoch = killed["global_step"] // (killed["epoch"] + 1)

    second = subprocess.run(command, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=300)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert f"resuming from {last}" in output
    final = torch.load(last, map_location="cpu", weights_only=True)
    assert final["epoch"] == EPOCHS - 1
    assert final["global_step"] == EPOCHS * steps_per_epoch
    assert "test/macro_f1" in output  # the resumed run went on to test its best checkpoint
