"""slurm/train.sh's own checks, run as a plain script with the environment SLURM would give it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("script,config", [("slurm/train.sh", "configs/demo.yaml"),
                                           ("slurm/cross_validate.sh", "configs/protocols/demo_speaker_folds.yaml")])
def test_gpu_job_without_cuda_fails_fast(script: str, config: str, tmp_path: Path) -> None:
    """A job that SLURM gave a GPU must not fall back to hours of CPU training (slurm/job_setup.sh)."""
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "SLURM_JOB_ID": "77", "SLURM_GPUS_ON_NODE": "1", "SER_ROOT": str(ROOT), "SER_VENV": str(venv)}
    done = subprocess.run(["bash", script, config], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(script) and "sees no CUDA" in lines[0] and "(1)" in lines[0], done.stderr
    assert "srun" not in done.stdout
