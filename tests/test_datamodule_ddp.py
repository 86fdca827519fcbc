"""Real DDP (2 CPU processes, gloo, 2 loader workers each) against 1 process with no workers.

On the same weights, validation and test metrics must be equal, the union of keys the ranks score
must be every sample exactly once (with uneven batch counts across ranks), and a training epoch
must give both ranks the same number of batches without any sample twice.

The DDP run is a script the test starts (``python -m tests.test_datamodule_ddp OUT DATA DEVICES WORKERS``),
so Lightning's DDP launcher can re-run it for rank 1. The one-process reference is the same
:func:`run` in the test's own process: it needs no launcher, and a second interpreter would only
pay the torch and Lightning imports again (several seconds on 2 cores).
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from torch import nn
from torchmetrics import MetricCollection, SumMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from datamodules import shard_data_module
from tests.shard_factory import make_dataset, read_keys

NUM_CLASSES = 4
FRAME = 160


class FrameClassifier(LightningModule):
    """Log spectrum of 160-sample frames -> linear -> BatchNorm (buffers DDP broadcasts) -> linear,
    averaged over valid frames. Random weights on spectra already give varied predictions, so equal
    metrics cannot come from a constant classifier."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out
        self.net = nn.Sequential(nn.Linear(FRAME // 2 + 1, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, NUM_CLASSES))
        self.metrics = nn.ModuleDict({stage: self._metrics() for stage in ("val", "test")})
        self.keys: dict[str, list[str]] = {"train": [], "val": [], "test": []}

    @staticmethod
    def _metrics() -> MetricCollection:
        return MetricCollection({
            "acc": MulticlassAccuracy(NUM_CLASSES, average="micro"),
            "macro_f1": MulticlassF1Score(NUM_CLASSES, average="macro"),
            "logit_sum": SumMetric(),
            "count": SumMetric(),
        })

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        frames = audio[:, : audio.shape[1] // FRAME * FRAME].reshape(audio.shape[0], -1, FRAME)
        valid = (torch.arange(frames.shape[1]) < (lengths // FRAME).clamp(min=1)[:, None]).float()
        hidden = self.net[0](torch.log1p(torch.fft.rfft(frames).abs()))
        hidden = self.net[1](hidden.transpose(1, 2)).transpose(1, 2)
        logits = self.net[3](self.net[2](hidden))
        return (logits * valid[..., None]).sum(1) / valid.sum(1, keepdim=True)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        self.keys["train"] += batch["key"]
        return nn.functional.cross_entropy(self(batch["audio"], batch["lengths"]), batch["label"])

    def _eval_step(self, stage: str, batch: dict) -> None:
        logits = self(batch["audio"], batch["lengths"])
        self.keys[stage] += batch["key"]
        metrics = self.metrics[stage]
        for name, metric in metrics.items():
            if name in ("acc", "macro_f1"):
                metric.update(logits, batch["label"])
        metrics["logit_sum"].update(logits.double().sum())
        metrics["count"].update(torch.tensor(float(len(batch["key"]))))

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_end(self, stage: str) -> None:
        values = {name: float(value) for name, value in self.metrics[stage].compute().items()}  # syncs ranks
        self.metrics[stage].reset()
        self._dump(stage, {"metrics": values, "keys": self.keys[stage]})

    def on_validation_epoch_end(self) -> None:
        self._eval_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_end("test")

    def on_train_epoch_end(self) -> None:
        self._dump("train", {"keys": self.keys["train"], "batches": self.trainer.num_training_batches})

    def _dump(self, stage: str, payload: dict) -> None:
        (self.out / f"{stage}-rank{self.global_rank}.json").write_text(json.dumps(payload))
        self.keys[stage] = []

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run(out: Path, data: Path, devices: int, workers: int) -> None:
    """Score the saved weights on val and test, then train one epoch, writing JSON per rank."""
    seed_everything(0)
    model = FrameClassifier(out)
    model.load_state_dict(torch.load(out.parent / "weights.pt", weights_only=True))
    datamodule = shard_data_module(str(data), batch_size=2, num_workers=workers, clip_seconds=1.0)
    settings = dict(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", max_epochs=1,
                    logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer = Trainer(**settings)
    trainer.validate(model, datamodule=datamodule, verbose=False)
    trainer.test(model, datamodule=datamodule, verbose=False)
    Trainer(**settings, limit_val_batches=0).fit(model, datamodule=datamodule)


def launch(out: Path, data: Path, devices: int, workers: int) -> None:
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "tests.test_datamodule_ddp", str(out), str(data), str(devices), str(workers)],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"run failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def read(out: Path, stage: str, ranks: int) -> list[dict]:
    return [json.loads((out / f"{stage}-rank{rank}.json").read_text()) for rank in range(ranks)]


@pytest.mark.slow
def test_two_ddp_processes_with_workers_match_one_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # val: 3 shards -> ranks get 2 and 1 shards (uneven batch counts); test: 1 shard -> split by sample.
    make_dataset(data, num_classes=NUM_CLASSES, per_class={"train": 8, "val": 5, "test": 3},
                 shards_per_split={"train": 4, "val": 3, "test": 1}, seconds=(0.5, 1.5))
    torch.manual_seed(1)
    torch.save(FrameClassifier(tmp_path).state_dict(), tmp_path / "weights.pt")
    (tmp_path / "single").mkdir()
    run(tmp_path / "single", data, devices=1, workers=0)  # the reference: this process, no loader workers
    launch(tmp_path / "ddp", data, devices=2, workers=2)

    for stage in ("val", "test"):
        single, = read(tmp_path / "single", stage, 1)
        ranks = read(tmp_path / "ddp", stage, 2)
        everyone = Counter(single["keys"])
        assert everyone == Counter(read_keys(data, stage))
        assert Counter(ranks[0]["keys"]) + Counter(ranks[1]["keys"]) == everyone, f"{stage}: not exactly once"
        assert single["metrics"]["count"] == len(everyone)
        for rank in ranks:
            assert rank["metrics"] == pytest.approx(single["metrics"], rel=1e-6)  # float32 sums in another order
    val_counts = [len(rank["keys"]) for rank in read(tmp_path / "ddp", "val", 2)]
    assert val_counts[0] != val_counts[1], "the uneven case was not exercised"

    train = read(tmp_path / "ddp", "train", 2)
    assert train[0]["batches"] == train[1]["batches"] == len(train[0]["keys"]) // 2 > 0
    assert len(train[0]["keys"]) == len(train[1]["keys"])
    seen = train[0]["keys"] + train[1]["keys"]
    assert len(seen) == len(set(seen)) == 32, "a training sample was seen twice, or missed, in one epoch"


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
