"""``sbatch --nodes=2 --ntasks-per-node=1 slurm/train.sh configs/demo.yaml`` on a real two-node cluster.

tests/slurm_two_nodes.py runs two slurmds in two network namespaces, so SLURM, Lightning's
SLURMEnvironment (node rank, MASTER_ADDR from the node list, world size) and DDP over gloo work
across two hosts with their own addresses. The demo config is shrunk by overrides only (tiny
shards, 1 s clips, 3 short epochs, CPU). Checked from what each rank actually read
(``data.read_log``): disjoint halves of the training shards every epoch; every validation/test
sample scored once, to the same scores one process gives; nothing written by node 2's rank (the
run folder is read-only there); and a ``scontrol requeue`` of the whole job resumes to the same
weights and scores as the uninterrupted job. Last, a 2-fold protocol as a SLURM array runs one
fold per node (``--exclusive``) and is aggregated once.
"""
from __future__ import annotations

import csv
import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from datamodules import shard_data_module
from datamodules.read_record import read_records
from lightning_modules.classifier import EmotionClassifier
from tests.shard_factory import make_dataset
from tests.slurm_two_nodes import NODES, TwoNodeCluster, slurm_two_nodes  # noqa: F401 (session fixture)
from training.run_identity import read_record

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 3
SHARDS = {"train": 4, "val": 2, "test": 3}  # test: 3 shards over 2 ranks, so ranks score unequal counts
JOB = ["--nodes=2", "--ntasks-per-node=1", "--gres=none", "--cpus-per-task=1", "--mem=2G", "--time=00:10:00"]
SCORES = ("test/ua", "test/wa", "test/macro_f1", "test/weighted_f1", "test/loss")


@dataclass
class Job:
    id: str
    name: str
    cluster: TwoNodeCluster

    @property
    def log(self) -> str:
        path = self.cluster.work / f"ser-train-{self.id}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def run_dir(self) -> Path:
        return self.cluster.primary / "runs" / self.name

    @property
    def reads(self) -> list[dict]:
        return read_records(self.cluster.work / "reads" / self.name)

    def last_checkpoint(self) -> dict:
        return torch.load(self.run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)

    def metrics(self) -> list[dict[str, str]]:
        with open(self.run_dir / "csv" / "metrics.csv") as stream:
            return list(csv.DictReader(stream))

    def logged(self, name: str) -> float:
        """The last value of ``name`` in the run's CSV log."""
        values = [float(row[name]) for row in self.metrics() if row.get(name)]
        assert values, f"{name} never logged"
        return values[-1]


def submit(cluster: TwoNodeCluster, data: Path, name: str) -> Job:
    overrides = [f"--data.data_root={data}", "--data.clip_seconds=1.0", "--data.batch_size=8", "--data.num_workers=0",
                 "--data.shuffle_buffer=16", f"--data.read_log={cluster.work / 'reads' / name}",
                 f"--run.root={cluster.primary / 'runs'}", f"--run.name={name}", f"--trainer.max_epochs={EPOCHS}",
                 "--trainer.log_every_n_steps=1", "--trainer.enable_progress_bar=false", "--wandb.mode=offline",
                 "--wandb.project=ser-tests", "--report.mistakes=0", "--early_stopping.patience=50"]
    job_id = cluster.sbatch(*JOB, f"--output={cluster.work}/%x-%j.out", "slurm/train.sh", "configs/demo.yaml",
                            *overrides, cwd=REPO)
    return Job(job_id, name, cluster)


def wait_completed(job: Job, timeout: float = 420) -> None:
    state = job.cluster.wait_for(job.id, {"COMPLETED"}, timeout=timeout)
    assert state == "COMPLETED", f"job {job.id} ended {state}:\n{job.log[-4000:]}\n{job.cluster.logs()}"


def shard_of_keys(data: Path, split: str) -> dict[str, str]:
    """Sample key -> shard file name, read from the tars themselves."""
    owner = {}
    for shard in json.loads((data / "stats.json").read_text())["splits"][split]["shards"]:
        with tarfile.open(data / shard) as archive:
            for member in archive.getnames():
                owner[member.split(".", 1)[0]] = shard
    return owner


@pytest.fixture(scope="module")
def demo_data(slurm_two_nodes: TwoNodeCluster) -> Path:
    data = slurm_two_nodes.work / "data"
    make_dataset(data, num_classes=4, per_class={"train": 8, "val": 3, "test": 3}, shards_per_split=SHARDS,
                 seconds=(0.6, 1.2))
    return data


@pytest.fixture(scope="module")
def uninterrupted(slurm_two_nodes: TwoNodeCluster, demo_data: Path) -> Job:
    started = time.monotonic()
    job = submit(slurm_two_nodes, demo_data, "uninterrupted")
    wait_completed(job)
    print(f"\n2-node job {job.id}: {time.monotonic() - started:.1f} s wall")
    return job


def test_cluster_has_two_nodes_and_only_the_first_writes_primary(slurm_two_nodes: TwoNodeCluster) -> None:
    """The fixture's own promises: two idle nodes with their own addresses; node 2 cannot write ``primary``."""
    assert slurm_two_nodes.node_states() == {node: "idle" for node in NODES}
    script = slurm_two_nodes.work / "probe.sh"
    script.write_text("#!/bin/bash\nsrun bash -c 'echo $SLURM_PROCID $SLURMD_NODENAME "
                      "$(ip -o -4 addr show ser0 | cut -d\" \" -f7); touch %s/probe$SLURM_PROCID'\n"
                      % slurm_two_nodes.primary)
    job = slurm_two_nodes.sbatch("--nodes=2", "--ntasks-per-node=1", f"--output={slurm_two_nodes.work}/probe.out",
                                 str(script))
    assert slurm_two_nodes.wait_for(job, set(), timeout=60) == "FAILED"
    lines = sorted(line for line in (slurm_two_nodes.work / "probe.out").read_text().splitlines() if line[:2] in ("0 ", "1 "))
    assert lines == ["0 sernode1 10.213.77.1/24", "1 sernode2 10.213.77.2/24"]
    assert (slurm_two_nodes.primary / "probe0").exists() and not (slurm_two_nodes.primary / "probe1").exists()
    (slurm_two_nodes.primary / "probe0").unlink()


def test_two_node_ranks_train_on_disjoint_halves_of_the_shards(uninterrupted: Job, demo_data: Path) -> None:
    log = uninterrupted.log
    assert "2 node(s) x 1 task(s)" in log and "MEMBER: 1/2" in log and "MEMBER: 2/2" in log, log[-3000:]
    train = [r for r in uninterrupted.reads if r["stage"] == "train"]
    assert {(r["rank"], r["node"], r["world_size"]) for r in train} == {(0, NODES[0], 2), (1, NODES[1], 2)}
    owner = shard_of_keys(demo_data, "train")
    for epoch in range(EPOCHS):
        shards = {rank: {owner[k] for r in train if r["epoch"] == epoch and r["rank"] == rank for k in r["keys"]}
                  for rank in (0, 1)}
        assert len(shards[0]) == len(shards[1]) == SHARDS["train"] // 2, (epoch, shards)
        assert not shards[0] & shards[1] and shards[0] | shards[1] == set(owner.values()), (epoch, shards)
    orders = [[k for r in train if r["rank"] == 0 and r["epoch"] == e for k in r["keys"]] for e in range(EPOCHS)]
    assert len({tuple(order) for order in orders}) == EPOCHS  # reshuffled every epoch


def test_two_node_evaluation_scores_every_sample_once_as_one_process_does(uninterrupted: Job, demo_data: Path) -> None:
    reads = uninterrupted.reads
    for split in ("val", "test"):
        owner = shard_of_keys(demo_data, split)
        last = max(r["epoch"] for r in reads if r["stage"] == split)
        scored = {rank: [k for r in reads if r["stage"] == split and r["epoch"] == last and r["rank"] == rank
                         for k in r["keys"]] for rank in (0, 1)}
        assert scored[0] and scored[1]
        assert sorted(scored[0] + scored[1]) == sorted(owner), f"{split}: not every sample exactly once"
    run = uninterrupted.run_dir / "checkpoints"
    callbacks = uninterrupted.last_checkpoint()["callbacks"]
    best = Path(next(v["best_model_path"] for k, v in callbacks.items() if k.startswith("ModelCheckpoint")))
    data = shard_data_module(str(demo_data), batch_size=8, num_workers=0, clip_seconds=1.0)
    trainer = Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                      enable_model_summary=False)
    # last.ckpt holds the weights the last epoch validated; the job tested its best checkpoint
    for stage, checkpoint in (("val", run / "last.ckpt"), ("test", best)):
        model = EmotionClassifier.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True)
        one_process = (trainer.validate if stage == "val" else trainer.test)(model, datamodule=data, verbose=False)[0]
        for name in SCORES:
            name = name.replace("test/", f"{stage}/")
            assert one_process[name] == pytest.approx(uninterrupted.logged(name), rel=1e-5, abs=1e-6), name


def test_only_global_rank_zero_writes_the_run(uninterrupted: Job) -> None:
    """Node 2 sees the run root read-only, so any write by rank 1 there would have failed the job;
    rank 1 did run there (its read record) and rank 0 wrote the whole run."""
    assert any(r["rank"] == 1 and r["node"] == NODES[1] for r in uninterrupted.reads)
    run = uninterrupted.run_dir
    assert (run / "checkpoints" / "last.ckpt").exists() and list((run / "checkpoints").glob("*.ckpt"))
    assert list((run / "reports").rglob("*")) and (run / "csv" / "metrics.csv").exists()
    wandb_id = read_record(run).wandb_id
    assert [p.name for p in (run / "wandb").glob("offline-run-*")] == [p.name for p in
                                                                       (run / "wandb").glob(f"offline-run-*-{wandb_id}")]
    assert len(list((run / "wandb").glob("offline-run-*"))) == 1


def test_requeue_of_the_whole_job_resumes_to_the_uninterrupted_scores(
    slurm_two_nodes: TwoNodeCluster, demo_data: Path, uninterrupted: Job
) -> None:
    job = submit(slurm_two_nodes, demo_data, "requeued")
    last = job.run_dir / "checkpoints" / "last.ckpt"
    slurm_two_nodes.wait_for_file(job.id, last, 300, lambda: job.log)  # the first epoch is done, the second runs
    slurm_two_nodes.run("scontrol", "requeue", job.id)
    # SLURM holds a requeued job for a while (BeginTime); an admin may release it now.
    slurm_two_nodes.wait_for(job.id, {"PENDING"}, timeout=90)
    slurm_two_nodes.run("scontrol", "update", f"JobId={job.id}", "StartTime=now")
    wait_completed(job)

    assert int(slurm_two_nodes.job_info(job.id)["Restarts"]) == 1
    log = job.log
    assert f"job {job.id} restart 1 on" in log and f"resuming from {last}" in log, log[-3000:]
    second = [r for r in job.reads if r["stage"] == "train" and r["restart"] == 1]
    assert second and 0 < min(r["epoch"] for r in second), "the requeued job trained from scratch"
    assert {r["rank"] for r in second} == {0, 1}
    for record in second:  # the resumed epochs read what the uninterrupted job's same epochs read
        assert record["keys"] in [r["keys"] for r in uninterrupted.reads if r["stage"] == "train"
                                  and (r["epoch"], r["rank"]) == (record["epoch"], record["rank"])]
    final, reference = job.last_checkpoint(), uninterrupted.last_checkpoint()
    assert final["global_step"] == reference["global_step"] and final["epoch"] == reference["epoch"] == EPOCHS - 1
    for name, tensor in reference["state_dict"].items():
        assert torch.allclose(final["state_dict"][name].float(), tensor.float(), rtol=1e-5, atol=1e-7), name
    for name in SCORES:
        assert job.logged(name) == pytest.approx(uninterrupted.logged(name), rel=1e-5, abs=1e-6), name


def test_protocol_array_runs_one_fold_per_node_and_aggregates_once(
    slurm_two_nodes: TwoNodeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sbatch --array=0-1 --exclusive slurm/cross_validate.sh``: one fold per task, each on its own node, and
    one aggregation (the last task to finish). The single-node array is this with both tasks on one node."""
    from protocols import command as cross_validate
    from tests.test_cross_validate import check_results, write_protocol

    monkeypatch.chdir(REPO)
    root = slurm_two_nodes.work / "protocol"
    root.mkdir()
    config = write_protocol(root, "two-node-array")
    assert cross_validate.main(["--config", str(config), "--prepare_only"]) == 0
    job = slurm_two_nodes.sbatch("--array=0-1", "--exclusive", "--gres=none", "--ntasks-per-node=1", "--cpus-per-task=1",
                                 "--mem=2G", "--time=00:10:00", f"--output={root}/%x-%A_%a.out",
                                 "slurm/cross_validate.sh", str(config), cwd=REPO)
    logs = []
    for task in (0, 1):
        state = slurm_two_nodes.wait_for(f"{job}_{task}", {"COMPLETED"}, timeout=300)
        log = root / f"ser-cv-{job}_{task}.out"
        logs.append(log.read_text(errors="replace") if log.exists() else f"(no log {log})")
        assert state == "COMPLETED", f"task {task} ended {state}:\n{logs[-1][-4000:]}"
    nodes = {slurm_two_nodes.job_info(f"{job}_{task}")["NodeList"] for task in (0, 1)}
    assert nodes == set(NODES), nodes
    text = "".join(logs)
    assert f"array job {job} task 0" in text and f"array job {job} task 1" in text
    assert "srun --kill-on-bad-exit=1" in text and "--data.fold=0" in text and "--data.fold=1" in text
    check_results(root, "two-node-array")
    aggregated = [log.count("results: ") for log in logs]
    assert sum(aggregated) == 1, f"aggregated {aggregated} times per task"
    assert len(list((root / "runs" / "two-node-array" / "wandb").glob("offline-run-*-two-node-array-summary"))) == 1
