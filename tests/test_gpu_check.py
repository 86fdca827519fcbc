"""benchmarks/gpu_check.sh --tiny: every step of the GPU check runs on the CPU and ends in the table.

The GPU run itself (bench_gpu.py at full size, a WavLM-base-sized epoch, 2-GPU DDP) needs a GPU
machine; this checks the script's plumbing end to end: the bench, the demo corpus and shards, an
encoder saved locally and loaded through model_name by configs/wavlm.yaml, one training run on one
device and one as 2-process DDP (gloo), and the table with a row per step.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
STEPS = ("bench_gpu.py", "demo corpus", "demo shards", "WavLM-base-sized encoder", "wavlm.yaml, 1 epoch, 1 device",
         "wavlm.yaml, 1 epoch, 2-proc DDP")


@pytest.mark.slow  # about 40 s on 2 quiet cores (8 interpreters start)
def test_gpu_check_tiny_runs_every_step_and_prints_one_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    env |= {"SER_PYTHON": sys.executable, "GPU_CHECK_WORK": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--tiny"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout[done.stdout.index("check "):].splitlines()[1:]
    assert [line[:31].strip() for line in table] == list(STEPS), done.stdout
    assert all(line[31:47].strip() == "ok" for line in table), done.stdout
    assert all("fast_dev_run" in line for line in table[4:])  # its throughput reader ran on both runs
    assert "WavLM-base (tiny)" in table[0] and "EfficientNet-B5 (tiny)" in table[0] and "clips/s" in table[0]
    assert (tmp_path / "wavlm-base" / "config.json").exists()
    ddp_log = (tmp_path / "ddp_epoch.log").read_text()
    assert "MEMBER: 2/2" in ddp_log, ddp_log[-2000:]  # really two processes
    for run in ("one-device", "ddp-2"):  # configs/wavlm.yaml's encoder came from the local folder
        config = json.loads((tmp_path / "runs" / run / "run.json").read_text())["config"]
        assert config["model"]["net"]["init_args"]["model_name"] == str(tmp_path / "wavlm-base")


def test_gpu_check_refuses_an_unknown_option() -> None:
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--fast"], cwd=REPO, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2 and "usage: bash benchmarks/gpu_check.sh [--tiny]" in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_check_without_a_gpu_says_so_and_points_at_tiny(tmp_path: Path) -> None:
    env = {**os.environ, "SER_PYTHON": sys.executable, "GPU_CHECK_WORK": str(tmp_path)}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "sees no CUDA device; run with --tiny" in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())  # stopped before any step
