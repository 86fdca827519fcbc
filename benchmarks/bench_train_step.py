"""Training-step overhead of EmotionClassifier under the Lightning Trainer vs a bare PyTorch loop.

Both run the same network on the same fixed batch with AdamW and weighted cross-entropy; the
Lightning side adds what a real run has: torchmetrics updates, self.log, the LR scheduler, the
loop machinery. Each step is timed from its start to the next step's start (so everything the
loop does in between counts); the median step time after warm-up is reported, because a shared
machine's load comes in bursts that a total time would charge to whichever side ran then.

    python -m benchmarks.bench_train_step                   # the demo's small CNN, 4 s clips
    python -m benchmarks.bench_train_step --net test_timm_image --batch 16 --steps 30
"""
from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader, IterableDataset

from lightning_modules import EmotionClassifier
from lightning_modules.components import create_network

NUM_CLASSES = 4


def make_batch(batch: int, seconds: float, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    samples = int(seconds * 16_000)
    return {
        "audio": torch.randn(batch, samples, generator=generator) * 0.1,
        "lengths": torch.randint(samples // 2, samples + 1, (batch,), generator=generator),
        "label": torch.randint(0, NUM_CLASSES, (batch,), generator=generator),
    }


class RepeatBatch(IterableDataset):
    """The same batch ``count`` times (batching done already: the loader gets batch_size=None)."""

    def __init__(self, batch: dict, count: int) -> None:
        self.batch, self.count = batch, count

    def __iter__(self):
        for _ in range(self.count):
            yield self.batch


def bare_loop(net_name: str, batch: dict, steps: int, warmup: int) -> float:
    """Median steps per second of a hand-written loop: forward, weighted CE, backward, AdamW step."""
    torch.manual_seed(0)
    net = create_network(net_name, NUM_CLASSES).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss(weight=torch.ones(NUM_CLASSES))
    starts = []
    for _ in range(warmup + steps + 1):
        starts.append(time.perf_counter())
        loss = criterion(net(batch["audio"], batch["lengths"]), batch["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return 1.0 / statistics.median(b - a for a, b in zip(starts[warmup:], starts[warmup + 1:]))


class StepTimer(Callback):
    """The start time of every training step."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.starts.append(time.perf_counter())


def lightning_loop(net_name: str, batch: dict, steps: int, warmup: int) -> float:
    """Median steps per second of EmotionClassifier.training_step driven by the Trainer."""
    torch.manual_seed(0)
    model = EmotionClassifier(net=partial(create_network, net_name), class_names=[f"c{i}" for i in range(NUM_CLASSES)],
                              class_weights=[1.0] * NUM_CLASSES, lr=1e-3, scheduler="cosine", warmup=0.1)
    timer = StepTimer()
    trainer = Trainer(accelerator="cpu", max_steps=warmup + steps + 1, limit_val_batches=0, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[timer], num_sanity_val_steps=0)
    trainer.fit(model, train_dataloaders=DataLoader(RepeatBatch(batch, warmup + steps + 1), batch_size=None))
    starts = timer.starts
    return 1.0 / statistics.median(b - a for a, b in zip(starts[warmup:], starts[warmup + 1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", default="small_cnn", help="registered network name (lightning_modules.components)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each; the best median counts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = make_batch(args.batch, args.seconds)
    bare, lightning = 0.0, 0.0
    for _ in range(args.repeats):  # alternate, so load from other processes hits both sides alike
        bare = max(bare, bare_loop(args.net, batch, args.steps, args.warmup))
        lightning = max(lightning, lightning_loop(args.net, batch, args.steps, args.warmup))
    print(f"network {args.net}, batch {args.batch} x {args.seconds:g} s, {args.steps} timed steps, "
          f"{args.threads} threads, best median of {args.repeats} runs, torch {torch.__version__}")
    print(f"bare PyTorch loop (baseline): {bare:8.2f} steps/s  ({bare * args.batch:8.1f} clips/s)")
    print(f"Lightning EmotionClassifier:  {lightning:8.2f} steps/s  ({lightning * args.batch:8.1f} clips/s)")
    print(f"ratio Lightning / bare:       {lightning / bare:8.3f}")


if __name__ == "__main__":
    main()
