"""A preparation worker must not copy the parent's heap: forked workers share the parent's pages
copy-on-write, and a worker's first full garbage collection used to write to every object the
parent held (the clip list), copying each of those pages (data_preparation/parallel.py)."""
from __future__ import annotations

import gc
from pathlib import Path

import pytest

from data_preparation.parallel import WorkerPool, ordered_map

ROLLUP = Path("/proc/self/smaps_rollup")
MADE_LATER: list[int] = []  # what the main process builds once a run's pool is up (the clip list)


class Clip:  # an object the collector tracks, as each data_preparation.inputs.entries.Entry is
    def __init__(self, number: int) -> None:
        self.source, self.label, self.attributes = f"corpus/speaker{number % 97}/clip{number}.wav", "anger", {}


def private_dirty_after_collect(_: int) -> int:
    """In the worker: a full collection, then this process's private dirty KiB."""
    gc.collect()
    for line in ROLLUP.read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    raise AssertionError("no Private_Dirty in smaps_rollup")


@pytest.mark.skipif(not ROLLUP.exists(), reason="needs Linux's /proc/<pid>/smaps_rollup")
def test_a_full_collection_in_a_worker_does_not_copy_the_parents_objects() -> None:
    held = [Clip(i) for i in range(300_000)]  # about 150 MB of tracked objects
    gc.collect()
    private = list(ordered_map(private_dirty_after_collect, [0, 1], workers=2, desc="probe", progress=False))
    assert len(held) == 300_000
    assert max(private) < 16 * 1024, f"worker private dirty KiB after gc: {private}"  # 47 MB before the fix, 2 MB after


def made_later_in_worker(_: int) -> int:
    return len(MADE_LATER)


def test_a_run_pool_is_forked_before_the_clip_list_and_serves_every_stage() -> None:
    """pipeline.prepare forks its workers before listing any input, so they never share (and copy) its pages."""
    try:
        with WorkerPool(2) as workers:
            MADE_LATER.extend(range(1000))
            assert list(ordered_map(made_later_in_worker, [0, 1, 2], workers, "decode", progress=False)) == [0, 0, 0]
            assert list(ordered_map(abs, [-1, -2, -3], workers, "shards", progress=False)) == [1, 2, 3]  # same workers
            assert gc.get_freeze_count() > 0  # what was imported stays out of the main process's collections
            workers.close()
            assert list(ordered_map(made_later_in_worker, [0, 1], workers, "plots", progress=False)) == [1000, 1000]
        assert gc.get_freeze_count() == 0
    finally:
        MADE_LATER.clear()
