"""The local SLURM cluster and slurm/train.sh's plumbing, with a stand-in train.py (seconds, no training).

slurm/train.sh must start one task per requested slot with srun, hand train.py the config, the
allocation (devices per node, nodes), resume and W&B grouping flags, then the user's overrides
last; and refuse a missing config with a message naming it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.slurm_cluster import SlurmCluster, slurm_cluster  # noqa: F401 (session fixture)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
STAND_IN = """
import json, os, sys
print("RANK " + json.dumps({"procid": os.environ["SLURM_PROCID"], "ntasks": os.environ["SLURM_NTASKS"],
                            "argv": sys.argv[1:], "venv": os.environ.get("VIRTUAL_ENV")}), flush=True)
"""
CHECK_STAND_IN = """
import json, sys
print("CHECK " + json.dumps(sys.argv[1:]), flush=True)
"""


def submit(cluster: SlurmCluster, root: Path, *args: str) -> tuple[str, Path]:
    (root / "slurm").mkdir(exist_ok=True)  # the stand-in root holds the job scripts' shared setup, as a clone does
    (root / "slurm" / "job_setup.sh").write_text((REPO / "slurm" / "job_setup.sh").read_text())
    (root / "fetch_weights.py").write_text(CHECK_STAND_IN)  # offline nodes: train.sh checks the weights first
    export = f"--export=ALL,SER_ROOT={root},SER_VENV={REPO / '.venv'},HF_HUB_OFFLINE=1"
    job = cluster.sbatch("--gres=none", "--ntasks-per-node=2", "--cpus-per-task=1", "--mem=500M",
                         "--time=00:05:00", export, f"--output={root}/%x-%j.out", str(REPO / "slurm" / "train.sh"),
                         *args, cwd=root)
    cluster.wait_for(job, set(), timeout=120)
    return job, root / f"ser-train-{job}.out"


def test_train_sh_runs_one_task_per_slot_with_allocation_and_overrides(slurm_cluster: SlurmCluster,
                                                                      tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(STAND_IN)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "exp.yaml").write_text("trainer: {max_epochs: 1}\n")
    job, log = submit(slurm_cluster, tmp_path, "configs/exp.yaml", "--trainer.max_epochs=3")
    assert slurm_cluster.job_state(job) == "COMPLETED", log.read_text()
    ranks = [json.loads(line[5:]) for line in log.read_text().splitlines() if line.startswith("RANK ")]
    assert sorted(r["procid"] for r in ranks) == ["0", "1"] and {r["ntasks"] for r in ranks} == {"2"}
    # the clone's environment; activate reports its real path when .venv links to a shared one
    assert Path(ranks[0]["venv"]).resolve() == (REPO / ".venv").resolve()
    assert ranks[0]["argv"] == ["--config", "configs/exp.yaml", "--trainer.num_nodes=1", "--trainer.devices=2",
                                "--ckpt_path=last", f"--wandb.group={job}", "--trainer.max_epochs=3"]
    # offline (HF_HUB_OFFLINE=1): the weights are checked once for the job, before srun, not once per rank
    checks = [json.loads(line[6:]) for line in log.read_text().splitlines() if line.startswith("CHECK ")]
    assert checks == [["--check", "--config", "configs/exp.yaml", "--trainer.max_epochs=3"]]


def test_train_sh_names_a_missing_config(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(STAND_IN)
    job, log = submit(slurm_cluster, tmp_path, "configs/nope.yaml")
    assert slurm_cluster.job_state(job) == "FAILED"
    assert "config file not found: configs/nope.yaml" in log.read_text()
