"""How many batches each rank and loader worker yields in a training epoch.

DDP needs every rank to run the same number of optimiser steps, or the gradient all-reduce of
the rank with more batches waits forever. A streamed epoch has no natural length per rank (shards
are split by rank and worker), so it is fixed here, in whole global batches, and enforced per
worker with ``with_epoch``: a worker whose shards run out starts another pass over them instead
of stopping early.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EpochPlan:
    """A training epoch: ``worker_batches`` per loader worker, ``rank_batches`` per rank."""

    worker_batches: int
    workers: int
    batch_size: int
    world_size: int

    @property
    def rank_batches(self) -> int:
        return self.worker_batches * self.workers

    @property
    def samples(self) -> int:
        """Samples per epoch over all ranks."""
        return self.rank_batches * self.batch_size * self.world_size


def worker_capacity(num_shards: int, samples_per_shard: int, world_size: int, workers: int) -> int:
    """Samples that the worker with the fewest shards can read in one pass, for balanced shards.

    >>> worker_capacity(num_shards=10, samples_per_shard=100, world_size=2, workers=2)  # 2 or 3 shards each
    200
    """
    return (num_shards // (world_size * workers)) * samples_per_shard


def plan_epoch(
    samples_per_epoch: int,
    batch_size: int,
    world_size: int,
    workers: int,
    capacity: int | None = None,
) -> EpochPlan:
    """Round ``samples_per_epoch`` down to whole global batches split evenly over workers.

    ``capacity`` (samples one worker can read without repeating) caps the epoch, so that in the
    default, non-resampled mode no sample is seen twice in an epoch. Raises ValueError when not
    even one batch per worker fits.

    >>> plan_epoch(samples_per_epoch=1000, batch_size=8, world_size=2, workers=2)
    EpochPlan(worker_batches=31, workers=2, batch_size=8, world_size=2)
    >>> plan_epoch(1000, 8, 2, 2, capacity=200).rank_batches
    50
    """
    workers = max(workers, 1)
    worker_batches = samples_per_epoch // (world_size * batch_size * workers)
    if capacity is not None:
        worker_batches = min(worker_batches, capacity // batch_size)
    if worker_batches < 1:
        raise ValueError(
            f"samples_per_epoch={samples_per_epoch} (capacity per worker {capacity}) gives no full batch of "
            f"batch_size={batch_size} to each of world_size={world_size} x num_workers={workers} loaders: "
            "lower batch_size or num_workers, or write more or smaller shards"
        )
    return EpochPlan(worker_batches, workers, batch_size, world_size)
