"""Streaming throughput and memory of ShardDataModule over generated shards.

1. clips/s of one training epoch with 0, 1 and 2 loader workers (the baseline is 0 workers:
   decoding in the training process).
2. Peak resident memory (RSS) of streaming one epoch, and of a short training run (Lightning
   fit, one epoch, a tiny model), with 2 workers, over N shards and over 10 x N shards of the
   same size: the training process alone, and summed with its loader workers (a worker's RSS
   counts pages it shares with its parent, so the sum overstates the total; its trend is the point). Streaming keeps memory flat:
   only the shuffle buffer and a few batches are ever held, whatever the dataset size.

Each measurement runs in a fresh subprocess so its peak RSS is its own.

    python -m benchmarks.bench_loading [--shards 8] [--per-shard 64] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import nn

from datamodules import shard_data_module
from tests.shard_factory import make_dataset

NUM_CLASSES = 4


class TinyModel(LightningModule):
    """Mean log-energy per 10 ms frame -> linear: just enough to make fit() a real training run."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(1, NUM_CLASSES)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        energy = torch.log1p(batch["audio"].square().mean(1, keepdim=True))
        return nn.functional.cross_entropy(self.head(energy), batch["label"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def build(root: Path, shards: int, per_shard: int) -> Path:
    """A dataset of ``shards`` training shards of ``per_shard`` clips (1-3 s), made once."""
    if not (root / "stats.json").exists():
        per_class = per_shard * shards // NUM_CLASSES
        make_dataset(root, num_classes=NUM_CLASSES, per_class={"train": per_class, "val": 1, "test": 1},
                     shards_per_split={"train": shards, "val": 1, "test": 1}, seconds=(1.0, 3.0))
    return root


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0  # the process ended between listing and reading


def _children(pid: int) -> list[int]:
    pids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as children:
                pids += [int(child) for child in children.read().split()]
        except OSError:
            continue
    return pids


class TreeRSS(threading.Thread):
    """Polls (Linux /proc) the summed RSS of this process and its loader workers; keeps the peak."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak_kib, self.running = interval, 0, True

    def run(self) -> None:
        while self.running:
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in [os.getpid(), *_children(os.getpid())]))
            time.sleep(self.interval)

    def stop(self) -> float:
        self.running = False
        self.join()
        return self.peak_kib / 1024


def peak_rss_mib(tree: TreeRSS) -> dict:
    """Peak RSS in MiB: this process alone (getrusage; Linux reports KiB) and with its workers."""
    return {"rss_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_tree_mib": tree.stop()}


def stream(root: str, workers: int) -> dict:
    datamodule = shard_data_module(root, batch_size=32, num_workers=workers, clip_seconds=4.0, pin_memory=False)
    loader = datamodule.train_dataloader()
    tree = TreeRSS()
    tree.start()
    start = time.perf_counter()
    clips = sum(len(batch["key"]) for batch in loader)
    rate = clips / (time.perf_counter() - start)
    return {"clips": clips, "clips_per_s": rate, **peak_rss_mib(tree)}


def fit(root: str, workers: int) -> dict:
    datamodule = shard_data_module(root, batch_size=32, num_workers=workers, clip_seconds=4.0, pin_memory=False)
    trainer = Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    tree = TreeRSS()
    tree.start()
    start = time.perf_counter()
    trainer.fit(TinyModel(), datamodule=datamodule)
    seconds = time.perf_counter() - start
    return {"steps": trainer.global_step, "seconds": seconds, **peak_rss_mib(tree)}


def measure(mode: str, root: Path, workers: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_loading", "--child", mode, str(root), str(workers)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--per-shard", type=int, default=64)
    parser.add_argument("--work", type=Path, default=None, help="where to generate (kept for reuse)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ROOT", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, root, workers = args.child
        print(json.dumps((stream if mode == "stream" else fit)(root, int(workers))))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_loading_"))
    small = build(work / f"x1_{args.shards}", args.shards, args.per_shard)
    large = build(work / f"x10_{args.shards}", 10 * args.shards, args.per_shard)
    print(f"data: {work}; {args.shards} and {10 * args.shards} shards of {args.per_shard} clips (1-3 s, FLAC), "
          "4 s crops, batch 32")
    baseline = None
    for workers in (0, 1, 2):
        rate = measure("stream", small, workers)["clips_per_s"]
        baseline = baseline or rate
        print(f"stream one epoch, {workers} workers: {rate:8.1f} clips/s   ratio vs 0 workers: {rate / baseline:4.2f}x")
    for mode in ("stream", "fit"):
        for name, root in (("1x", small), ("10x", large)):
            result = measure(mode, root, 2)
            done = f"{result['clips']:5d} clips" if mode == "stream" else f"{result['steps']:4d} steps in {result['seconds']:5.1f} s"
            print(f"{mode} one epoch over {name} shards (2 workers): {done}, peak RSS main {result['rss_main_mib']:7.1f} MiB, "
                  f"with workers {result['rss_tree_mib']:7.1f} MiB")


if __name__ == "__main__":
    main()
