"""``sbatch --cpus-per-task=2 slurm/prepare.sh CONFIG`` on the local SLURM cluster, requeued mid-run.

The job must decode on the CPUs it asked for (passed as ``--workers``), and when SLURM kills and
requeues it (``scontrol requeue``: a preemption or a node failure) the requeued job must resume
the killed preparation instead of starting over, and end with shards that verify.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from data_preparation.demo_corpus import generate
from data_preparation.stages import DECODE_JOURNAL
from tests.slurm_cluster import SlurmCluster, slurm_cluster  # noqa: F401 (session fixture)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
CPU_JOB = ["--cpus-per-task=2", "--mem=2G", "--time=00:15:00"]


def test_prepare_sh_uses_its_cpus_and_resumes_when_requeued(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    generate(tmp_path / "corpus", speakers=8, clips_per_class=12, workers=2, progress=False)
    output = tmp_path / "prepared"
    config = tmp_path / "prepare.yaml"
    config.write_text(yaml.safe_dump({
        "corpora": [{"name": "csv", "root": str(tmp_path / "corpus"), "options": {"name": "demo"}}],
        "taxonomy": "four", "output": str(output), "min_class_share": 0.0, "split": {"mode": "speaker"},
        "shard_max_samples": 8, "workers": 1,
    }))
    job = slurm_cluster.sbatch(*CPU_JOB, f"--output={tmp_path}/%x-%j.out", "slurm/prepare.sh", str(config),
                               "--shard_max_samples", "4", cwd=REPO)
    log = tmp_path / f"ser-prepare-{job}.out"

    def log_text() -> str:
        return log.read_text(errors="replace") if log.exists() else ""

    journal = tmp_path / "prepared.partial" / ".spool" / DECODE_JOURNAL
    slurm_cluster.wait_for_file(job, journal, 240, log_text)
    while journal.read_bytes().count(b"\n") < 20:  # some clips decoded: the kill lands mid-decoding
        assert slurm_cluster.job_state(job) == "RUNNING", log_text()[-3000:]
        time.sleep(0.01)
    slurm_cluster.run("scontrol", "requeue", job)
    deadline = time.monotonic() + 120
    while int(slurm_cluster.job_info(job).get("Restarts", 0)) < 1:
        assert time.monotonic() < deadline, f"not requeued after 120 s:\n{log_text()[-3000:]}"
        time.sleep(0.5)
    slurm_cluster.wait_for(job, {"PENDING"}, timeout=60)  # held for BeginTime; release it now
    slurm_cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now")
    state = slurm_cluster.wait_for(job, {"COMPLETED"}, timeout=300)
    text = log_text()
    assert state == "COMPLETED", text[-3000:]

    assert f"job {job} restart 0: preparing {config} on 2 CPU(s)" in text
    assert f"job {job} restart 1: preparing {config} on 2 CPU(s)" in text
    assert text.count("on 2 worker process(es)") == 2, text  # --cpus-per-task reached prepare_data.py
    assert "resuming the killed preparation" in text and "files already decoded" in text, text
    assert len(list((output / "shards").glob("train-*.tar"))) > 50  # the override after CONFIG won: 4 per shard, not 8
    verified = subprocess.run([sys.executable, "-m", "data_preparation.verify", str(output)], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
