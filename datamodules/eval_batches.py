"""How many batches one rank's evaluation loader yields, so its progress bar has a total.

An evaluation pass sees every sample exactly once (datamodules/shard_datamodule.py, ``_eval_loader``):
shards are split by rank (or, with fewer shards than ranks, every rank keeps every world_size-th
sample of each shard), then by loader worker, and each worker batches its own samples with a
partial last batch. A rank's batch count is therefore a sum of per-worker ceilings that depends on
how many samples each shard holds, which stats.json does not list (only each split's total). For
local shards the count per shard is read here from the tar headers (one 512-byte read per member,
no audio read); remote and ``pipe:`` shards are not listed up front, so their loaders stay without
a length, as before.

Lightning stops an evaluation loader after ``len()`` batches, so the count must never be lower
than what the loader yields: it is computed by the same split rules the pipeline applies, and a
skipped corrupt sample only makes the loader yield fewer (a bar that ends short of its total, with
the skip counted and reported as always).
"""
from __future__ import annotations

import math
import re
import tarfile
from pathlib import Path
from typing import Sequence

from webdataset.tariterators import base_plus_ext

_SKIP = re.compile(r"__[^/]*__($|/)")  # as datamodules/tar_samples.py: members named __x__ are not data


def shard_sample_count(path: str | Path) -> int:
    """Samples in one local tar shard, grouped by key as WebDataset's ``group_by_keys`` does.

    A shard tarfile cannot parse raises ``tarfile.ReadError``; the caller then leaves the loader without a length.
    """
    count, previous = 0, None
    with tarfile.open(path, mode="r:") as archive:
        for info in archive:
            archive.members = []  # headers only, memory flat however long the shard
            if not info.isreg() or _SKIP.match(info.name):
                continue
            key, _ = base_plus_ext(info.name)
            if key is not None and key != previous:
                count, previous = count + 1, key
    return count


def rank_eval_batches(shard_counts: Sequence[int], rank: int, world_size: int, workers: int, batch_size: int) -> int:
    """Batches that ``rank``'s evaluation loader yields over shards holding ``shard_counts`` samples.

    ``workers``: loader processes (0 and 1 both mean one stream). The rules are ``_eval_loader``'s:
    with at least ``world_size`` shards, rank r takes shards r, r + world_size, ...; with fewer, it
    keeps positions r, r + world_size, ... of every shard. Then worker w takes every ``workers``-th
    of those shards, starting at w, and batches them with a partial last batch.

    >>> rank_eval_batches([8, 8, 3], rank=0, world_size=1, workers=2, batch_size=4)  # worker 0: 11, worker 1: 8
    5
    >>> rank_eval_batches([8, 8, 3], rank=1, world_size=2, workers=1, batch_size=4)  # rank 1 reads shard 1
    2
    >>> rank_eval_batches([5], rank=1, world_size=2, workers=1, batch_size=4)  # positions 1 and 3
    1
    """
    if len(shard_counts) >= world_size:
        mine = list(shard_counts[rank::world_size])
    else:
        mine = [len(range(rank, count, world_size)) for count in shard_counts]
    workers = max(workers, 1)
    return sum(math.ceil(sum(mine[worker::workers]) / batch_size) for worker in range(workers))
