"""Samples per second through Lightning's ThroughputMonitor, told how to count a batch dict."""
from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import ThroughputMonitor


def batch_size(batch: dict[str, Any]) -> int:
    """Rows in a batch from ShardDataModule (its "label" tensor)."""
    return int(batch["label"].shape[0])


def audio_samples(batch: dict[str, Any]) -> int:
    """Valid audio samples (or frames) in a batch, so throughput also reads as audio seconds per second."""
    return int(batch["lengths"].sum())


class Throughput(ThroughputMonitor):
    """ThroughputMonitor for ShardDataModule batches: logs ``train|device/samples_per_sec`` and friends.

    ``window_size``: batches averaged over (it logs at the trainer's ``log_every_n_steps``).
    """

    def __init__(self, window_size: int = 20) -> None:
        super().__init__(batch_size_fn=batch_size, length_fn=audio_samples, window_size=window_size)
